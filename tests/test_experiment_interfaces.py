"""The interfaces of issue #20 that independent checks use: the committed inference checkpoints
evaluate through ``equimol evaluate CKPT DATA --json OUT`` (and load with
``torch.load(..., weights_only=True)``), and the cumulene configs train on any extxyz of
cumulenes through ``--set data.train=… --set data.val=…``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import equimol
from tests.conftest import rmd17_path

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = Path(equimol.__path__[0]) / "assets" / "rmd17_ethanol_heldout.npz"  # split 02 \ 01


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "equimol.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


# checkpoint, data, upper bound of the force MAE (eV/Å): the held-out ethanol frames are frames
# none of the models saw (RESULTS.md: 10.8 and 5.9 meV/Å on 987 of them); the aspirin fixture
# frames are training frames of split 01 (held-out 16.7 meV/Å)
CHECKPOINTS = [
    ("experiments/rmd17/painn_ethanol.pt", HELDOUT, 0.015),
    ("experiments/so3krates/so3krates_ethanol.pt", HELDOUT, 0.010),
    ("experiments/rmd17/painn_aspirin.pt", rmd17_path("aspirin"), 0.020),
]


@pytest.mark.parametrize("ckpt,data,max_force_mae", CHECKPOINTS, ids=[Path(c[0]).stem for c in CHECKPOINTS])
def test_committed_checkpoint_evaluates(tmp_path, ckpt, data, max_force_mae):
    state = torch.load(ROOT / ckpt, weights_only=True, map_location="cpu")  # no unpickling
    assert isinstance(state, dict)
    out = tmp_path / "eval.json"
    r = cli("evaluate", ROOT / ckpt, data, "--json", out)
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    n_frames = len(np.load(data)["energies"])
    assert report["n_structures"] == n_frames
    forces, energy = report["metrics"]["forces"], report["metrics"]["energy"]
    assert forces["unit"] == "eV/Å" and energy["unit"] == "eV"
    assert 0.0 < forces["mae"] < max_force_mae
    assert forces["data_unit"]["unit"] == "kcal/mol/Å"  # the data's own unit, converted back
    assert forces["data_unit"]["mae"] == pytest.approx(forces["mae"] / 0.0433641, rel=1e-3)


def _cumulene_extxyz(path: Path, n_carbons: tuple[int, ...], seed: int) -> None:
    """Twisted, distorted cumulenes with GFN2-xTB energies and forces (eV, eV/Å), written by ASE
    as any extxyz of the field is (energy in the comment line, forces per atom)."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    from equimol import keys as K
    from equimol.reference.molecules import cumulene
    from equimol.reference.xtb_forces import XTBForceFn

    rng = np.random.default_rng(seed)
    frames = []
    for n in n_carbons:
        for twist in rng.uniform(0.0, 180.0, size=2):
            s = cumulene(n, twist_deg=float(twist))
            pos = np.asarray(s[K.POSITIONS]) + rng.normal(0.0, 0.03, size=np.shape(s[K.POSITIONS]))
            z = np.asarray(s[K.ATOMIC_NUMBERS])
            res = XTBForceFn(z)(torch.tensor(pos[None]))
            atoms = Atoms(numbers=z, positions=pos)
            atoms.calc = SinglePointCalculator(
                atoms, energy=float(res["energy"][0]), forces=res["forces"][0].numpy()
            )
            frames.append(atoms)
    write(path, frames, format="extxyz")


@pytest.mark.parametrize("variant", ["local", "nonlocal"])
def test_cumulene_config_trains_on_any_extxyz(tmp_path, variant):
    train, val = tmp_path / "train.extxyz", tmp_path / "val.extxyz"
    _cumulene_extxyz(train, (3, 4, 5), seed=0)
    _cumulene_extxyz(val, (4,), seed=1)
    out = tmp_path / "run"
    config = ROOT / "experiments" / "so3krates" / f"cumulene_{variant}.yaml"
    r = cli(
        "train",
        config,
        "--set",
        f"data.train={train}",
        "--set",
        f"data.val={val}",
        "--set",
        "training.epochs=1",
        "--output-dir",
        out,
    )
    assert r.returncode == 0, r.stderr
    assert (out / "best.pt").exists()
    evaluation = tmp_path / "eval.json"
    r = cli("evaluate", out / "best.pt", val, "--json", evaluation)
    assert r.returncode == 0, r.stderr
    report = json.loads(evaluation.read_text())
    assert report["n_structures"] == 2
    assert np.isfinite(report["metrics"]["forces"]["mae"])


def test_evaluate_reads_labels_under_other_keys(tmp_path):
    """Held-out frames written as an extxyz with MACE-style keys (REF_energy, REF_forces, eV):
    ``--label-key`` names them, and the metrics equal those on the same frames' npz; without it
    the one-line error names the file's keys."""
    from ase import Atoms
    from ase.io import write

    from equimol.units import KCAL_PER_MOL as kcal  # eV per kcal/mol, as the npz reader converts

    d = np.load(HELDOUT)
    n = 5
    frames = []
    for x, e, f in zip(d["coords"][:n], d["energies"][:n], d["forces"][:n], strict=True):
        atoms = Atoms(numbers=d["nuclear_charges"], positions=x)
        atoms.info["REF_energy"] = float(e) * kcal
        atoms.new_array("REF_forces", np.asarray(f) * kcal)
        frames.append(atoms)
    xyz = tmp_path / "heldout.extxyz"
    write(xyz, frames, format="extxyz")
    npz = tmp_path / "heldout.npz"
    np.savez(
        npz,
        **{
            k: (d[k] if k == "nuclear_charges" else d[k][:n])
            for k in ("nuclear_charges", "coords", "energies", "forces")
        },
    )
    ckpt = ROOT / "experiments/rmd17/painn_ethanol.pt"
    reports = {}
    for name, data, extra in (
        ("xyz", xyz, ("--label-key", "energy=REF_energy", "--label-key", "forces=REF_forces")),
        ("npz", npz, ()),
    ):
        out = tmp_path / f"{name}.json"
        r = cli("evaluate", ckpt, data, "--json", out, *extra)
        assert r.returncode == 0, r.stderr
        reports[name] = json.loads(out.read_text())["metrics"]
    for t in ("energy", "forces"):
        assert reports["xyz"][t]["mae"] == pytest.approx(reports["npz"][t]["mae"], rel=1e-4)
    r = cli("evaluate", ckpt, xyz)
    assert r.returncode != 0
    assert "REF_energy" in r.stderr and "--label-key" in r.stderr
