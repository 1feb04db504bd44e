"""The campaign runner of experiments/reproduce.py: order, deadline, bookkeeping, RESULTS.md.

Fake entries run tiny Python subprocesses in a tmp folder; the real entry list is built on a
copy of the experiment configs without run folders or shared data (a fresh clone)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("reproduce", ROOT / "experiments" / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["reproduce"] = module
    spec.loader.exec_module(module)
    return module


R = _load()


def fake_entry(tmp: Path, name: str, priority: int, code: str, done=lambda: False, rows=None):
    """An entry with one step: ``python -c CODE`` (run in tmp)."""
    run_dir = tmp / "runs" / name
    return R.Entry(
        name=name,
        title=f"fake {name}",
        priority=priority,
        budget_min=1.0,
        budget_note="test",
        steps=lambda ctx: [R.Step(f"step of {name}", [ctx.python, "-c", code], done)],
        progress=lambda: [],
        run_dirs=[run_dir],
        results=(lambda: rows or [R.Row(name, "p", "e", "b", "not yet", "why")]),
    )


def appender(tmp: Path, name: str) -> str:
    return f"open({str(tmp / 'order.txt')!r}, 'a').write({name!r} + '\\n')"


def test_priority_order_and_state(tmp_path):
    entries = [
        fake_entry(tmp_path, "third", 3, appender(tmp_path, "third")),
        fake_entry(tmp_path, "first", 1, appender(tmp_path, "first")),
        fake_entry(tmp_path, "second", 2, appender(tmp_path, "second")),
    ]
    campaign = R.Campaign(tmp_path)
    R.run_campaign(entries, 1.0, R.Context(), campaign, log=lambda *_: None)
    assert (tmp_path / "order.txt").read_text().split() == ["first", "second", "third"]
    state = json.loads(campaign.state_path.read_text())
    assert set(state["entries"]) == {"first", "second", "third"}
    call = state["entries"]["first"]["calls"][-1]
    assert call["outcome"] == "ok" and call["device"] == "cpu" and call["wall_s"] >= 0
    assert {"started", "ended", "host", "status"} <= set(call)
    assert state["calls"][-1]["minutes"] == 1.0 and "ended" in state["calls"][-1]
    assert not list(campaign.state_path.parent.glob(".*.tmp"))  # written atomically, nothing left behind


def test_deadline_stops_the_running_step(tmp_path):
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    entry = fake_entry(tmp_path, "slow", 1, code)
    (tmp_path / "runs" / "slow").mkdir(parents=True)  # it has a run folder: "in progress"
    later = fake_entry(tmp_path, "later", 2, appender(tmp_path, "later"))
    campaign = R.Campaign(tmp_path)
    t0 = time.monotonic()
    R.run_campaign(
        [entry, later], 0.03, R.Context(), campaign, grace=2.0, min_start_s=0.0, log=lambda *_: None
    )
    assert time.monotonic() - t0 < 20
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    state = json.loads(campaign.state_path.read_text())
    call = state["entries"]["slow"]["calls"][-1]
    assert call["outcome"] == "stopped at the deadline"
    assert call["status"].startswith("in progress")
    assert not (tmp_path / "order.txt").exists()  # nothing started after the deadline
    assert "stopped at the campaign deadline" in (campaign.logs / "slow.log").read_text()


def test_finished_entry_is_never_rerun(tmp_path):
    marker = tmp_path / "ran"
    entry = fake_entry(tmp_path, "done", 1, f"open({str(marker)!r}, 'w')", done=lambda: True)
    (tmp_path / "runs" / "done").mkdir(parents=True)
    assert entry.status()[0] == "done"
    campaign = R.Campaign(tmp_path)
    R.run_campaign([entry], 1.0, R.Context(), campaign, log=lambda *_: None)
    assert not marker.exists()
    assert "done" not in json.loads(campaign.state_path.read_text())["entries"]


def test_failed_step_is_recorded_and_the_next_entry_runs(tmp_path):
    entries = [
        fake_entry(tmp_path, "broken", 1, "raise SystemExit(3)"),
        fake_entry(tmp_path, "fine", 2, appender(tmp_path, "fine")),
    ]
    campaign = R.Campaign(tmp_path)
    state = R.run_campaign(entries, 1.0, R.Context(), campaign, log=lambda *_: None)
    assert state["entries"]["broken"]["calls"][-1]["outcome"] == "failed (exit 3)"
    assert (tmp_path / "order.txt").read_text().split() == ["fine"]


def test_dry_run_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    entry = fake_entry(tmp_path, "x", 1, f"open({str(marker)!r}, 'w')")
    lines = []
    R.run_campaign([entry], 1.0, R.Context(), R.Campaign(tmp_path), dry_run=True, log=lines.append)
    assert not marker.exists() and any("would run" in line for line in lines)
    assert not (tmp_path / "runs" / "campaign" / "state.json").exists()


def test_lock_refuses_a_second_call(tmp_path):
    campaign = R.Campaign(tmp_path)
    with campaign.lock():
        with pytest.raises(SystemExit):
            with R.Campaign(tmp_path).lock():
                pass
    (campaign.dir / "lock").write_text("999999999")  # a stale lock (no such process) is replaced
    with campaign.lock():
        pass


def test_busy_elsewhere_finds_a_marked_process(tmp_path):
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "equimol-test-marker-91"])
    try:
        time.sleep(0.2)
        assert any(str(proc.pid) in line for line in R.busy_elsewhere(["equimol-test-marker-91"]))
    finally:
        proc.kill()
        proc.wait()
    assert R.busy_elsewhere(["equimol-test-marker-91"]) == []


def fresh_clone(tmp: Path) -> Path:
    """The experiment configs and scripts' settings, without run folders or result files."""
    for path in (ROOT / "experiments").rglob("*.yaml"):
        target = tmp / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    (tmp / "experiments/spectra").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "experiments/spectra/run.py", tmp / "experiments/spectra/run.py")
    return tmp


def test_real_entries_on_a_fresh_clone(tmp_path, monkeypatch):
    monkeypatch.setenv("EQUIMOL_SHARED", str(tmp_path / "empty_shared"))
    root = fresh_clone(tmp_path / "clone")
    entries = R.build_entries(root)
    names = [e.name for e in entries]
    assert len(names) == len(set(names)) >= 10
    assert [e.priority for e in entries] == sorted(e.priority for e in entries)
    for e in entries:
        steps = e.steps(R.Context())
        assert steps and all(s.cmd and all(isinstance(a, str) for a in s.cmd) for s in steps)
        assert e.budget_min > 0 and e.markers
        assert e.status()[0] == "not started", (e.name, e.status())
        rows = e.results()
        assert rows and all(r.verdict == "not yet" for r in rows)
    text = R.render_results(entries, {"entries": {}}, root)
    assert text.count("**not yet**") >= 11
    # the device script runs this runner on CUDA and packs the runs
    script = R.device_script(9, ["painn_ethanol"], root)
    assert "reproduce.py --minutes 9 --device cuda" in script and "--only painn_ethanol" in script


def test_report_only_renders_fake_result_files(tmp_path):
    root = fresh_clone(tmp_path / "clone")
    forces = {"full": 20.0, "no_scalar_product": 22.0, "no_vector_propagation": 23.0, "no_both": 25.0}
    forces["no_vectors"] = 30.0
    t4 = {
        "rows": [
            {
                "variant": v,
                "n_features": 128,
                "n_parameters": 589057,
                "epochs_run": 900,
                "train_minutes": 300.0,
                "test_frames": 987,
                "test_forces_mae_meV_A": f,
            }
            for v, f in forces.items()
        ]
    }
    (root / "experiments/table4/results.json").write_text(json.dumps(t4))
    profile = {"mae_meV": 10.0, "range_ref_meV": 1000.0}
    cum = {
        "settings": {"n_carbons": [3, 7]},
        "largest_n": 7,
        "results": {
            "nonlocal": {
                "epochs_trained": 50,
                "train_wall_min": 120,
                "profile": {f"C{n}": {**profile, "range_pred_meV": 990.0} for n in (3, 7)},
            },
            **{
                k: {
                    "epochs_trained": 50,
                    "train_wall_min": 120,
                    "profile": {
                        f"C{n}": {**profile, "mae_meV": 400.0, "range_pred_meV": 0.001} for n in (3, 7)
                    },
                }
                for k in ("local", "painn", "schnet")
            },
        },
    }
    (root / "experiments/so3krates").mkdir(parents=True, exist_ok=True)
    (root / "experiments/so3krates/cumulene_results.json").write_text(json.dumps(cum))
    log = root / "runs/painn_aspirin/log.csv"  # a run's log: its learning curve and trend
    log.parent.mkdir(parents=True)
    rows = [f"{e},0.001,0.1,0.1,{10 * e},0.01,0.02,{0.05 / e},0.08" for e in range(1, 21)]
    log.write_text(
        "epoch,lr,train_loss,val_loss,time_s,val_energy_mae,val_energy_rmse,val_forces_mae,val_forces_rmse\n"
        + "\n".join(rows + ["21,0.001,nan,nan,220,nan,nan,nan,nan"])
        + "\n"
    )
    campaign = R.Campaign(root)
    path = R.write_results(R.build_entries(root), campaign)
    text = path.read_text()
    assert path == root / "RESULTS.md"
    assert "- Learning curves ([`experiments/learning_curves/painn_aspirin.png`]" in text
    # 20 finite epochs (the NaN row left out): best 0.05/16 → 0.05/20 eV/Å over the last 4
    assert (
        "painn_aspirin: best validation forces MAE 3.125 → 2.5 meV/Å over the last 4 of 20 logged epochs "
        "(-20.0 %, still improving)" in text
    )
    assert (root / "experiments/learning_curves/painn_aspirin.png").exists()
    assert (
        root / "experiments/learning_curves/painn_aspirin/painn_aspirin.csv"
    ).read_text() == log.read_text()
    assert "| claim | paper | equimol (held-out) | training budget | verdict | campaign command |" in text
    t4_line = next(line for line in text.splitlines() if line.startswith("| PaiNN Table IV"))
    assert "full 20.0" in t4_line and "**reproduced**" in t4_line and "900/900/900/900/900 epochs" in t4_line
    cum_line = next(line for line in text.splitlines() if line.startswith("| Cumulene"))
    assert "**reproduced**" in cum_line and "profile MAE 10 meV" in cum_line


def test_verdicts():
    assert R.verdict_rmd17(1.5, 9.0, 10.0, 2.0)[0] == "reproduced"
    assert R.verdict_rmd17(2.1, 11.0, 10.0, 2.0)[0] == "partly"
    assert R.verdict_rmd17(3.0, 20.0, 10.0, 2.0)[0] == "not yet"
    assert R.verdict_so3krates(8.0, 10.0, 600_000, 589_057)[0] == "reproduced"
    assert R.verdict_so3krates(8.0, 10.0, 200_000, 589_057)[0] == "partly"
    assert R.verdict_dipole(0.05, 0.1)[0] == "reproduced"
    assert R.verdict_dipole(0.09, 0.1)[0] == "partly"
    assert R.verdict_dipole(0.11, 0.1)[0] == "not yet"
    assert R.verdict_l0l1({"energy": -5.0, "mu": 3.0})[0] == "partly"
    assert R.verdict_l0l1({"energy": -5.0, "mu": -3.0})[0] == "reproduced"
    assert R.verdict_l0l1({"mu": -26.8}) == ("partly", "mu -26.8 %; energy not measured yet")
    bad_order = {"full": 30.0, "no_scalar_product": 20.0, "no_vector_propagation": 25.0, "no_both": 35.0}
    assert R.verdict_table4({**bad_order, "no_vectors": 40.0}, 16.1)[0] == "not yet"
    fe = {
        f"{m}_rc{rc}": {"profile_range_meV": r}
        for m, r in (("painn", 27.0), ("schnet", 0.01))
        for rc in ("2.5", "3.0")
    }
    assert R.verdict_ferrocene(fe, 28.7)[0] == "reproduced"
    assert R.verdict_spectra({"ir": 0.95, "raman": 0.97}, [5.0, -41.0])[0] == "partly"
    assert R.verdict_spectra({"ir": 0.95, "raman": 0.97}, [5.0, -12.0])[0] == "reproduced"
    # a match inside the reference's own noise (its replica halves overlap < 0.9) is only partly
    v, why = R.verdict_spectra({"ir": 0.95, "raman": 0.97}, [5.0, -12.0], {"ir": 0.57, "raman": 0.95})
    assert v == "partly" and "ir 0.570 (< 0.9)" in why and "raman 0.95" not in why
    assert (
        R.verdict_spectra({"ir": 0.95, "raman": 0.97}, [5.0], {"ir": 0.93, "raman": 0.95})[0] == "reproduced"
    )


def test_classical_row_reads_either_model_of_classical_json():
    """The classical-MD rows come from active_learning/classical.py's JSON: the model after active
    learning or the spectra model before it, with the reference's noise floor and the treatment
    of the rotation."""
    side = {
        "overlap_al_vs_xtb_md": 0.88,
        "overlap_before_vs_xtb_md": 0.93,
        "half_overlap_xtb_md": 0.95,
        "centroid_shift_al_minus_xtb": {"C-H stretch": 29.0, "O-H stretch": None},
        "centroid_shift_before_minus_xtb": {"C-H stretch": 11.0, "O-H stretch": -4.0},
    }
    cl = {
        "ir": side,
        "raman": {**side, "overlap_before_vs_xtb_md": 0.96},
        "steps": 40000,
        "replicas": 4,
        "xtb_steps": 40000,
        "xtb_replicas": 4,
        "remove_com": True,
        "remove_rotation": False,
        "rotation_resample_fs": 1000.0,
        "kinetic_temperatures_k": {"xtb_md": {"vibration": [290.0, 305.0]}},
    }
    al = R.classical_row(cl, "al", "claim", "paper", "what", ["f.json"])
    assert (
        al.verdict == "not yet"
        and "+29" in al.equimol
        and "before active learning: IR overlap 0.930" in al.equimol
    )
    before = R.classical_row(cl, "before", "claim", "paper", "what", ["f.json"])
    assert before.verdict == "reproduced" and "ir overlap 0.930, raman overlap 0.960" in before.equimol
    assert "rotation redrawn at 300 K every 1000 fs" in before.equimol and "290–305 K" in before.equimol
    assert "GFN2-xTB MD 4 × 20 ps" in before.budget and R.RIGID_NOTE not in before.why


def test_rigid_note_marks_spectra_rows_whose_md_kept_the_rigid_motion():
    """A spectra result is noted as to be rerun unless its MD removed the centre-of-mass motion
    and removed or resampled the rotation (recorded in it, its settings, or as the workflow's
    remove_rigid_motion)."""
    assert R.rigid_note({}) == R.RIGID_NOTE
    assert R.rigid_note({"remove_com": True}) == R.RIGID_NOTE
    assert R.rigid_note({"remove_com": True, "remove_rotation": True}) == ""
    assert R.rigid_note({"remove_com": True, "remove_rotation": False, "rotation_resample_fs": 1000.0}) == ""
    assert R.rigid_note({"settings": {"remove_rigid_motion": True}}) == ""
    assert R.rigid_note({"settings": {"remove_rigid_motion": False}}) == R.RIGID_NOTE


def test_todays_protocol_tells_the_spectra_results_to_rerun():
    """The spectra entry's session-14 steps are done only for results made with today's
    treatment of the rigid motion (rotation redrawn at T every SPECTRA_ROTATION_RESAMPLE_FS)."""
    from equimol.md.config import SPECTRA_ROTATION_RESAMPLE_FS

    assert not R.todays_protocol(None) and not R.todays_protocol({})
    assert not R.todays_protocol({"remove_com": True, "remove_rotation": True, "rotation_resample_fs": None})
    assert R.todays_protocol({"remove_com": True, "rotation_resample_fs": SPECTRA_ROTATION_RESAMPLE_FS})
    assert not R.todays_protocol({"remove_com": False, "rotation_resample_fs": SPECTRA_ROTATION_RESAMPLE_FS})


def test_conformer_text_and_caveat():
    """The 64-bead spectra rows name each run's hydroxyl conformer, and flag runs of the two
    potentials that sampled it differently (session 15: GFN2-xTB stayed gauche, the model 84 % trans)."""

    def group(*fractions):
        return {
            "runs": {
                f"seed {k}": {"conformers": {"trans_fraction": f, "changes": 3}}
                for k, f in enumerate(fractions)
            }
        }

    apart = {
        "groups": {"GFN2-xTB RPMD 64": group(0.0), "PaiNN RPMD 64 (active learning committed)": group(0.835)}
    }
    assert (
        R.conformer_text(apart)
        == "; trans fraction of the O–H torsion per run (changes): GFN2-xTB 0.00 (3); model 0.83 (3)"
    )
    assert "mean trans fraction GFN2-xTB 0.00, model 0.83" in R.conformer_caveat(apart)
    close = {"groups": {"GFN2-xTB RPMD 64": group(0.2, 0.4), "PaiNN RPMD 64": group(0.3, 0.5)}}
    assert R.conformer_caveat(close) == ""
    assert R.conformer_text({"groups": {}}) == ""
