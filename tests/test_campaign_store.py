"""The campaign's committed memory (experiments/campaign_store.py, reproduce.py): run snapshots
that a fresh clone restores and resumes exactly, and recorded statuses that keep finished
entries finished and lost runs from restarting silently."""

from __future__ import annotations

import json
import shutil
import subprocess

import torch

from equimol.train.checkpoint import read_checkpoint, run_state
from equimol.train.config import load_config
from equimol.train.loop import train
from tests.test_reproduce import ROOT, R, appender, fake_entry
from tests.train.test_training import small_config

S = R.store


def _train(cfg_path, out, *sets, resume=False):
    return train(load_config(cfg_path, [f"output_dir={out}", *sets]), resume=resume, log=lambda *_: None)


def test_snapshots_are_not_ignored_by_git():
    """runs/ is ignored at the repository root only: the snapshots under experiments/ are committed."""
    path = "experiments/campaign/runs/x/last.pt"
    if (ROOT / ".git").exists() and shutil.which("git"):
        ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT)
        assert ignored.returncode == 1, f"{path} is ignored by .gitignore"
    lines = (ROOT / ".gitignore").read_text().split()
    assert "/runs/" in lines and "runs/" not in lines


def test_snapshot_restores_into_a_fresh_clone_and_resumes_exactly(tmp_path):
    cfg = small_config(tmp_path)
    _train(cfg, tmp_path / "uninterrupted")
    root = tmp_path / "clone"
    run = root / "runs" / "x"
    # stopped after 2 of 4 epochs (as at a campaign deadline): the same state as an interrupted run
    _train(cfg, run, "training.epochs=2")
    raw = torch.load(run / "last.pt", weights_only=True)
    saved = S.save_entry([run], root, entry_done=False)
    snap = root / "experiments" / "campaign" / "runs" / "x"
    assert set(saved["x"]) == {"best.pt", "config.json", "last.pt", "log.csv", "split.json"}
    kept = torch.load(snap / "last.pt", weights_only=True)["training"]
    assert set(kept) == set(raw["training"]) and "optimizer" in kept  # the full training state
    assert "training" not in torch.load(snap / "best.pt", weights_only=True)  # weights only
    manifest = json.loads((snap / "SNAPSHOT.json").read_text())["files"]
    assert len(manifest["log.csv"]["sha256"]) == 64
    assert S.save_entry([run], root, entry_done=False) == {}  # unchanged sources: nothing rewritten

    shutil.rmtree(root / "runs")  # a new checkout: runs/ is not in git
    assert S.restorable([run], root) == [run.resolve()]
    assert S.restore_entry([run], root) == [run.resolve()]
    assert S.restore_entry([run], root) == []  # a local run is never overwritten
    assert run_state(run, 4)["epochs"] == 2
    _train(cfg, run, resume=True)
    a = read_checkpoint(tmp_path / "uninterrupted" / "last.pt")["model"]
    b = read_checkpoint(run / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # once the entry is done its snapshots go (results and inference checkpoints are committed)
    S.save_entry([run], root, entry_done=True)
    assert not snap.exists()
    assert S.save_entry([tmp_path / "elsewhere"], root, entry_done=False) == {}  # not under runs/


def _record(campaign, entries: dict[str, dict]) -> dict:
    state = {"entries": {}, "calls": []}
    for name, rec in entries.items():
        state["entries"][name] = {"calls": [], "wall_s_total": 60.0, "recorded": {"at": "yesterday", **rec}}
    campaign.save_state(state)
    return state


def test_recorded_status_keeps_a_lost_run_from_restarting_silently(tmp_path):
    campaign = R.Campaign(tmp_path)
    lost = fake_entry(tmp_path, "lost", 1, appender(tmp_path, "lost"))
    finished = fake_entry(tmp_path, "finished", 2, appender(tmp_path, "finished"))
    fresh = fake_entry(tmp_path, "fresh", 3, appender(tmp_path, "fresh"))
    state = _record(
        campaign,
        {
            "lost": {"status": "in progress", "detail": "3/10 epochs", "run_dirs": ["runs/lost"]},
            "finished": {"status": "done", "detail": "3/10 epochs", "steps_done": ["step of finished"]},
            "fresh": {"status": "not started", "detail": ""},
        },
    )
    status, detail, rec = R.entry_status(lost, state, tmp_path)
    assert (status, rec["status"]) == ("in progress", "in progress") and "recorded yesterday" in detail
    lines = []
    R.run_campaign([lost, finished, fresh], 1.0, R.Context(), campaign, log=lines.append)
    assert (tmp_path / "order.txt").read_text().split() == ["fresh"]
    assert any("--restart lost" in line for line in lines)
    assert any("--restart finished" in line for line in lines)
    # the report says the same
    text = R.render_results([finished], campaign.load_state(), tmp_path)
    assert "Campaign status: done (3/10 epochs; recorded yesterday" in text
    # --restart with no time left to start it: the record stays
    R.run_campaign([lost], 0.0, R.Context(), campaign, log=lines.append, restart=["lost"])
    assert R.recorded(campaign.load_state(), lost)["status"] == "in progress"
    R.run_campaign([lost, finished], 1.0, R.Context(), campaign, log=lines.append, restart=["lost"])
    assert (tmp_path / "order.txt").read_text().split() == ["fresh", "lost"]


def test_a_step_added_to_a_recorded_done_entry_runs_alone(tmp_path):
    campaign = R.Campaign(tmp_path)
    old = R.Step("old step", [R.sys.executable, "-c", appender(tmp_path, "old")])
    new = R.Step("new step", [R.sys.executable, "-c", appender(tmp_path, "new")])
    entry = fake_entry(tmp_path, "grown", 1, "")
    entry.steps = lambda ctx: [old, new]
    state = _record(campaign, {"grown": {"status": "done", "detail": "", "steps_done": ["old step"]}})
    status, detail, _ = R.entry_status(entry, state, tmp_path)
    assert status == "in progress" and "steps added since the record: new step" in detail
    R.run_campaign([entry], 1.0, R.Context(), campaign, log=lambda *_: None)
    assert (tmp_path / "order.txt").read_text().split() == ["new"]


def test_partly_present_run_folders_do_not_override_the_record(tmp_path):
    campaign = R.Campaign(tmp_path)
    entry = fake_entry(tmp_path, "two", 1, appender(tmp_path, "two"))
    entry.run_dirs = [tmp_path / "runs" / "two" / "a", tmp_path / "runs" / "two" / "b"]
    (tmp_path / "runs" / "two" / "a").mkdir(parents=True)  # one run started by hand, the other gone
    rec = {"status": "done", "detail": "both trained", "steps_done": ["step of two"]}
    state = _record(campaign, {"two": {**rec, "run_dirs": ["runs/two/a", "runs/two/b"]}})
    assert R.entry_status(entry, state, tmp_path)[0] == "done"
    R.remember([entry], campaign, state, log=lambda *_: None)
    assert R.recorded(campaign.load_state(), entry)["detail"] == "both trained"  # not overwritten
    R.run_campaign([entry], 1.0, R.Context(), campaign, log=lambda *_: None)
    assert not (tmp_path / "order.txt").exists()


def test_dry_run_reports_a_restore_and_writes_nothing(tmp_path):
    cfg = small_config(tmp_path)
    run = tmp_path / "runs" / "trainer"
    _train(cfg, run, "training.epochs=1")
    S.save_entry([run], tmp_path, entry_done=False)
    shutil.rmtree(tmp_path / "runs")
    entry = fake_entry(tmp_path, "trainer", 1, appender(tmp_path, "trainer"))
    campaign = R.Campaign(tmp_path)
    lines = []
    R.run_campaign([entry], 1.0, R.Context(), campaign, dry_run=True, log=lines.append)
    assert any("would restore 1 run(s)" in line for line in lines)
    assert not (tmp_path / "runs").exists() and not campaign.state_path.exists()


def test_a_campaign_call_records_status_and_snapshots_in_the_committed_store(tmp_path):
    cfg = small_config(tmp_path)
    run = tmp_path / "runs" / "trainer"
    code = (
        "from equimol.train.config import load_config; from equimol.train.loop import train; "
        f"train(load_config({str(cfg)!r}, ['output_dir={run}', 'training.epochs=2']), resume=True)"
    )
    finished = {"flag": False}
    entry = fake_entry(tmp_path, "trainer", 1, code, done=lambda: finished["flag"])
    campaign = R.Campaign(tmp_path)
    R.run_campaign([entry], 2.0, R.Context(), campaign, log=lambda *_: None)
    rec = R.recorded(json.loads(campaign.state_path.read_text()), entry)
    assert rec["status"] == "in progress" and rec["run_dirs"] == ["runs/trainer"] and rec["steps_done"] == []
    snap = tmp_path / "experiments" / "campaign" / "runs" / "trainer"
    assert "optimizer" in torch.load(snap / "last.pt", weights_only=True)["training"]
    finished["flag"] = True  # the entry is done: the next record drops its snapshots
    R.remember([entry], campaign, log=lambda *_: None)
    assert R.recorded(campaign.load_state(), entry)["status"] == "done" and not snap.exists()
