"""The spectra experiment scripts' choice of runs: only runs of today's treatment of the rigid
motion are compared, and file names tell the treatments apart (experiments/spectra)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _finished(path: Path, **record) -> None:
    """A stand-in for a finished trajectory: the file and its run_md stamp."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    Path(f"{path}.time.json").write_text(json.dumps({"wall_time_s": 1.0, **record}))


def test_runs_compare_takes_only_runs_of_todays_protocol(tmp_path, monkeypatch):
    from equimol.md.config import SPECTRA_ROTATION_RESAMPLE_FS

    rc = _load("runs_compare", ROOT / "experiments" / "spectra" / "runs_compare.py")
    monkeypatch.setattr(rc, "RUNS", tmp_path)
    today = {
        "remove_com": True,
        "remove_rotation": False,
        "rotation_resample_fs": SPECTRA_ROTATION_RESAMPLE_FS,
    }
    removed = {"remove_com": True, "remove_rotation": True}
    al = tmp_path / "spectra_active_learning"
    _finished(al / "md_rpmd16_al_round_2.h5", **removed)  # an earlier protocol: left out
    with pytest.raises(SystemExit, match="no 16-bead ML-RPMD run at today's protocol"):
        rc.model_runs(None)
    _finished(al / "md_rpmd16_al_round_2_seed1.h5", **today)
    _finished(al / "md_rpmd16_al_committed.h5", **today)
    _finished(al / "md_rpmd16_al_committed_seed1.h5", **today)
    name, runs = rc.model_runs(None)  # the committed final model before any round
    assert name == "committed" and list(runs) == ["seed 0", "seed 1"]
    assert rc.model_runs("round_2") == ("round_2", {"seed 1": al / "md_rpmd16_al_round_2_seed1.h5"})
    xtb = tmp_path / "spectra_rpmd"
    _finished(xtb / "md_xtb_rpmd16.h5", **today)
    _finished(xtb / "md_xtb_rpmd16_seed1.h5")  # a stamp of before the treatment was recorded: kept
    assert rc.xtb_runs(xtb) == {"seed 0": xtb / "md_xtb_rpmd16.h5"}
    assert not rc.todays(xtb / "absent.h5")


def test_classical_rotation_tags():
    from equimol.md.config import SPECTRA_ROTATION_RESAMPLE_FS

    cl = _load("classical", ROOT / "experiments" / "spectra" / "active_learning" / "classical.py")
    assert cl.rotation_tag(SPECTRA_ROTATION_RESAMPLE_FS) == ""
    assert cl.rotation_tag(0.0) == "_norot"
    assert cl.rotation_tag(250.0) == "_rot250"
