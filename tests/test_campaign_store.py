"""The campaign's committed memory (experiments/campaign_store.py, reproduce.py): run snapshots
that a fresh clone restores and resumes exactly, slim states of finished runs, and recorded
statuses that keep finished entries finished and lost runs from restarting silently."""

from __future__ import annotations

import json
import shutil

import torch

from equimol.train.checkpoint import read_checkpoint, run_state
from equimol.train.config import load_config
from equimol.train.loop import train
from tests.test_reproduce import R, appender, fake_entry
from tests.train.test_training import small_config

S = R.store


def _train(cfg_path, out, *sets, resume=False, log=lambda *_: None):
    return train(load_config(cfg_path, [f"output_dir={out}", *sets]), resume=resume, log=log)


def test_snapshot_restores_into_a_fresh_clone_and_resumes_exactly(tmp_path):
    cfg = small_config(tmp_path)
    _train(cfg, tmp_path / "uninterrupted")
    root = tmp_path / "clone"
    run = root / "runs" / "x"
    _train(cfg, run, "training.epochs=2")  # as if stopped after 2 of 4 epochs
    still_training = lambda _: False  # noqa: E731
    saved = S.save_entry([run], root, entry_done=False, finished_run=still_training)
    snap = root / "experiments" / "campaign" / "runs" / "x"
    assert set(saved["x"]) == {"best.pt", "config.json", "last.pt", "log.csv", "split.json"}
    assert "optimizer" in torch.load(snap / "last.pt", weights_only=True)["training"]  # full state
    assert "training" not in torch.load(snap / "best.pt", weights_only=True)  # weights only
    manifest = json.loads((snap / "SNAPSHOT.json").read_text())["files"]
    assert manifest["last.pt"]["kind"] == "last" and len(manifest["log.csv"]["sha256"]) == 64
    assert S.save_entry([run], root, False, still_training) == {}  # unchanged sources: nothing rewritten

    shutil.rmtree(root / "runs")  # a new checkout: runs/ is not in git
    assert S.restore_entry([run], root) == [run.resolve()]
    assert S.restore_entry([run], root) == []  # a local run is never overwritten
    assert run_state(run, 4)["epochs"] == 2
    _train(cfg, run, resume=True)
    a = read_checkpoint(tmp_path / "uninterrupted" / "last.pt")["model"]
    b = read_checkpoint(run / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_finished_run_is_kept_slim_and_can_still_be_extended(tmp_path):
    cfg = small_config(tmp_path)
    root = tmp_path / "clone"
    run = root / "runs" / "x"
    _train(cfg, run, "training.epochs=2")
    assert S.run_finished(run)  # by its own config: 2 of 2 epochs
    S.save_entry([run], root, entry_done=False)
    snap = root / "experiments" / "campaign" / "runs" / "x"
    slim = torch.load(snap / "last.pt", weights_only=True)["training"]
    assert slim["slim"] and "optimizer" not in slim and "raw_params" not in slim
    assert (snap / "last.pt").stat().st_size < 0.6 * (run / "last.pt").stat().st_size
    shutil.rmtree(root / "runs")
    S.restore_entry([run], root)
    lines = []
    out = _train(cfg, run, "training.epochs=3", resume=True, log=lines.append)
    assert out["epochs"] == 3 and any("no optimizer state" in line for line in lines)
    # once the entry is done its snapshots go (results and inference checkpoints are committed)
    S.save_entry([run], root, entry_done=True)
    assert not snap.exists()


def test_recorded_status_keeps_a_lost_run_from_restarting_silently(tmp_path):
    campaign = R.Campaign(tmp_path)
    lost = fake_entry(tmp_path, "lost", 1, appender(tmp_path, "lost"))
    finished = fake_entry(tmp_path, "finished", 2, appender(tmp_path, "finished"))
    fresh = fake_entry(tmp_path, "fresh", 3, appender(tmp_path, "fresh"))
    state = {"entries": {}, "calls": []}
    for name, status in (("lost", "in progress"), ("finished", "done"), ("fresh", "not started")):
        state["entries"][name] = {
            "calls": [],
            "wall_s_total": 60.0,
            "recorded": {"status": status, "detail": "3/10 epochs", "at": "yesterday"},
        }
    campaign.save_state(state)
    assert R.entry_status(lost, state) == (
        "in progress",
        "3/10 epochs; recorded yesterday, its run folders are not in this checkout",
        True,
    )
    lines = []
    R.run_campaign([lost, finished, fresh], 1.0, R.Context(), campaign, log=lines.append)
    assert (tmp_path / "order.txt").read_text().split() == ["fresh"]
    assert any("--restart lost" in line for line in lines)
    # the report says the same
    assert "Campaign status: done (3/10 epochs; recorded yesterday" in R.render_results(
        [finished], campaign.load_state(), tmp_path
    )
    R.run_campaign([lost, finished], 1.0, R.Context(), campaign, log=lines.append, restart=["lost"])
    assert (tmp_path / "order.txt").read_text().split() == ["fresh", "lost"]


def test_a_campaign_call_records_status_and_snapshots_in_the_committed_store(tmp_path):
    cfg = small_config(tmp_path)
    run = tmp_path / "runs" / "trainer"
    cmd_code = (
        "from equimol.train.config import load_config; from equimol.train.loop import train; "
        f"train(load_config({str(cfg)!r}, ['output_dir={run}', 'training.epochs=2']), resume=True)"
    )
    entry = fake_entry(tmp_path, "trainer", 1, cmd_code)
    campaign = R.Campaign(tmp_path)
    R.run_campaign([entry], 2.0, R.Context(), campaign, log=lambda *_: None)
    state = json.loads((tmp_path / "experiments" / "campaign" / "state.json").read_text())
    assert state["entries"]["trainer"]["recorded"]["status"] == "in progress"
    assert (tmp_path / "experiments" / "campaign" / "runs" / "trainer" / "last.pt").exists()
