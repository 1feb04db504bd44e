import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from equimol.errors import ConfigError
from equimol.train.checkpoint import read_checkpoint, run_state
from equimol.train.config import load_config
from equimol.train.loop import train
from tests.conftest import rmd17_path


def small_config(tmp_path, name="cfg.yaml", **training):
    raw = {
        "data": {"train": str(rmd17_path("ethanol")), "n_train": 20, "n_val": 10, "seed": 0},
        "model": {"name": "painn", "n_features": 16, "n_interactions": 2, "cutoff": 4.0},
        "training": {"epochs": 4, "batch_size": 5, "progress": False, "ema_decay": 0.9, **training},
        "output_dir": str(tmp_path / "run"),
    }
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw))
    return p


def test_resume_after_interruption_is_exact(tmp_path):
    cfg_path = small_config(tmp_path)
    full = train(load_config(cfg_path, [f"output_dir={tmp_path / 'a'}"]), log=lambda *_: None)
    train(load_config(cfg_path, [f"output_dir={tmp_path / 'b'}", "training.epochs=2"]), log=lambda *_: None)
    half = run_state(tmp_path / "b", 4)
    assert half["epochs"] == 2 and not half["done"] and "2/4" in half["status"]
    assert run_state(tmp_path / "b", 4, minutes=0.0)["done"]  # a used-up time budget also ends a run
    assert run_state(tmp_path / "none", 4)["status"] == "not started"
    # a training state written by the unfused AdamW of earlier versions ("fused": None) resumes
    # with the fused kernel, to the same numbers
    raw = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
    for g in raw["training"]["optimizer"]["param_groups"]:
        assert g["fused"] is True
        g["fused"] = None
    torch.save(raw, tmp_path / "b" / "last.pt")
    resumed = train(load_config(cfg_path, [f"output_dir={tmp_path / 'b'}"]), resume=True, log=lambda *_: None)
    assert full["epochs"] == resumed["epochs"] == 4
    assert run_state(tmp_path / "b", 4)["done"]
    a = read_checkpoint(tmp_path / "a" / "last.pt")
    b = read_checkpoint(tmp_path / "b" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    log_a = (tmp_path / "a" / "log.csv").read_text().splitlines()
    log_b = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert len(log_a) == len(log_b) == 5
    assert [r.split(",")[3] for r in log_a] == [r.split(",")[3] for r in log_b]  # val losses identical
    assert json.loads((tmp_path / "b" / "split.json").read_text())["val"]


def test_training_reduces_loss_and_writes_self_describing_checkpoint(tmp_path):
    cfg_path = small_config(tmp_path, epochs=6)
    train(load_config(cfg_path), log=lambda *_: None)
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[3]) for r in rows]
    assert losses[-1] < losses[0]
    raw = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    meta = json.loads(raw["metadata"])
    assert meta["units"]["energy"] == "eV" and meta["spec"]["model"]["name"] == "painn"
    assert "atom_refs" in meta["statistics"] and "force_rms" in meta["statistics"]
    assert "optimizer" in raw["training"]


def test_config_errors_are_clear(tmp_path):
    p = small_config(tmp_path)
    with pytest.raises(ConfigError, match="unknown option"):
        load_config(p, ["training.learning_rate=0.1"])
    with pytest.raises(ConfigError, match="training.lr"):
        load_config(p, ["training.lr=-1"])
    with pytest.raises(ConfigError, match="unknown target"):
        load_config(p, ["data.targets=[energy, spin]"])
    (tmp_path / "bad.yaml").write_text("data: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: invalid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_missing_labels_are_reported(tmp_path):
    from ase.build import molecule
    from ase.io import write

    write(tmp_path / "nolabels.xyz", [molecule("H2O")] * 5)
    p = small_config(tmp_path)
    cfg = load_config(p, [f"data.train={tmp_path / 'nolabels.xyz'}", "data.n_train=3", "data.n_val=2"])
    with pytest.raises(Exception, match=r"nolabels.xyz\[0\]: missing label 'energy'"):
        train(cfg, log=lambda *_: None)


def test_cli_train_evaluate_predict(tmp_path):
    p = small_config(tmp_path, epochs=1)

    def run(*a):
        return subprocess.run([sys.executable, "-m", "equimol.cli.main", *a], capture_output=True, text=True)

    r = run("train", str(p), "--set", "model.n_interactions=1")
    assert r.returncode == 0, r.stderr
    ckpt = tmp_path / "run" / "best.pt"
    out = tmp_path / "m.json"
    r = run("evaluate", str(ckpt), str(rmd17_path("ethanol")), "--json", str(out))
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert result["n_structures"] == 50  # the committed fixture
    assert result["metrics"]["energy"]["unit"] == "eV" and result["metrics"]["forces"]["unit"] == "eV/Å"
    assert result["metrics"]["energy"]["mae"] > 0 and result["metrics"]["forces"]["rmse"] > 0
    r = run("predict", str(ckpt), str(tmp_path / "none.xyz"))
    assert (
        r.returncode == 2
        and r.stderr.count("\n") == 1
        and "none.xyz" in r.stderr
        and "Traceback" not in r.stderr
    )
    r = run("evaluate", str(p), str(rmd17_path("ethanol")))  # a YAML is not a checkpoint
    assert r.returncode == 2 and "cfg.yaml" in r.stderr and "Traceback" not in r.stderr


def test_train_or_resume_starts_resumes_and_skips(tmp_path, monkeypatch, capsys):
    from equimol.train import resume

    calls = []
    monkeypatch.setattr(resume.subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    cfg_path = small_config(tmp_path)
    resume.train_or_resume("x", cfg_path)  # not started: plain train
    assert calls[-1][0][-2:] == ["train", str(cfg_path)] and calls[-1][1]["check"]
    train(load_config(cfg_path, ["training.epochs=2"]), log=lambda *_: None)
    resume.train_or_resume("x", cfg_path)  # 2 of 4 epochs: resume
    assert calls[-1][0][-3:] == ["train", str(cfg_path), "--resume"]
    train(load_config(cfg_path), resume=True, log=lambda *_: None)
    resume.train_or_resume("x", cfg_path)  # finished: nothing to run
    assert len(calls) == 2 and "finished 4 epochs: skipping training" in capsys.readouterr().out


def test_exponential_schedule_halves_every_1000_epochs_by_default():
    """So3krates App. A.13: lr · 0.5^(step / (1000 epochs of steps))."""
    from equimol.train.config import TrainingConfig
    from equimol.train.loop import _decay_steps
    from equimol.train.schedule import ExponentialSchedule

    t = TrainingConfig(scheduler="exponential", batch_size=8)
    steps = _decay_steps(t, n_train=100)  # 13 steps per epoch
    assert steps == 13_000
    schedule = ExponentialSchedule(1e-3, steps, t.lr_decay_factor)
    assert schedule.lr_at_step(0) == pytest.approx(1e-3)
    assert schedule.lr_at_step(13_000) == pytest.approx(5e-4)
    assert schedule.lr_at_step(26_000) == pytest.approx(2.5e-4)
    assert _decay_steps(TrainingConfig(lr_decay_steps=500), 100) == 500


def test_qm9_atom_references_and_per_atom_scale():
    """Miller et al.'s shift and scale: QM9 free-atom energies + mean per-atom residual, std."""
    from equimol.data.qm9 import qm9_atom_references, read_qm9
    from equimol.train.data import qm9_reference_statistics
    from equimol.train.loop import energy_scale
    from tests.conftest import FIXTURES

    mols = read_qm9(FIXTURES / "qm9" / "qm9_geometries_ppqm.tar.gz", labels=("energy",))
    stats = qm9_reference_statistics(mols, list(range(len(mols))))
    refs = qm9_atom_references()
    r = np.array(
        [(float(m["energy"]) - refs[m["atomic_numbers"]].sum()) / len(m["atomic_numbers"]) for m in mols]
    )
    assert set(stats["atom_refs"]) <= {1, 6, 7, 8, 9}
    for z, e in stats["atom_refs"].items():
        assert e == pytest.approx(refs[z] + r.mean(), rel=1e-12)
    assert stats["energy_std_per_atom"] == pytest.approx(r.std(), rel=1e-12) and -6 < r.mean() < -2  # eV
    assert energy_scale(stats) == pytest.approx(r.std())
    assert energy_scale({"force_rms": 0.7, "energy_std_per_atom": 0.1}) == 0.7
    assert energy_scale({}) == 1.0


def test_init_from_starts_from_a_checkpoint_and_may_add_the_repulsion(tmp_path):
    """training.init_from (fine-tuning): the new run starts from the checkpoint's weights and
    statistics; a head option without weights (the ZBL repulsion) may change; another network
    is a clear error."""
    from equimol.io import load

    cfg_path = small_config(tmp_path, epochs=1)
    train(load_config(cfg_path, [f"output_dir={tmp_path / 'a'}"]), log=lambda *_: None)
    first = tmp_path / "a" / "best.pt"
    lines = []
    cfg = load_config(
        cfg_path,
        [
            f"output_dir={tmp_path / 'b'}",
            f"training.init_from={first}",
            "training.epochs=1",
            "training.lr=1e-12",  # one step that changes nothing measurable
            "model.heads=[{name: energy, options: {repulsion: zbl}}]",
        ],
    )
    train(cfg, log=lines.append)
    assert any("initial weights from" in str(x) for x in lines)
    a, b = read_checkpoint(first), read_checkpoint(tmp_path / "b" / "last.pt")
    assert a["metadata"]["statistics"] == b["metadata"]["statistics"]
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=1e-6)
    assert load(tmp_path / "b" / "last.pt").heads[0].repulsion is not None
    with pytest.raises(ConfigError, match="not the same network"):
        train(
            load_config(
                cfg_path,
                [f"output_dir={tmp_path / 'c'}", f"training.init_from={first}", "model.n_features=8"],
            ),
            log=lambda *_: None,
        )
    with pytest.raises(ConfigError, match="init_from: checkpoint .* not found"):
        train(load_config(cfg_path, [f"output_dir={tmp_path / 'd'}", "training.init_from=nowhere.pt"]))
    # a different cutoff has no weights of its own, but it is another network
    with pytest.raises(ConfigError, match="cutoff: 4.0 vs 3.5"):
        train(
            load_config(
                cfg_path, [f"output_dir={tmp_path / 'e'}", f"training.init_from={first}", "model.cutoff=3.5"]
            ),
            log=lambda *_: None,
        )


def test_exponents_without_a_dot_are_numbers(tmp_path):
    """PyYAML reads ``lr: 1e-4`` as a string (YAML 1.1); configs and --set mean a number."""
    cfg_path = small_config(tmp_path, lr="1e-4")
    cfg_path.write_text(cfg_path.read_text().replace("'1e-4'", "1e-4"))
    assert "lr: 1e-4" in cfg_path.read_text()
    assert load_config(cfg_path).training.lr == 1e-4
    assert load_config(cfg_path, ["training.min_lr=5e-7"]).training.min_lr == 5e-7


def test_a_non_finite_loss_stops_training_before_the_optimiser_step(tmp_path, monkeypatch):
    import equimol.train.loop as loop
    from equimol.errors import TrainingDivergedError

    real = loop.weighted_loss

    def nan_loss(*args, **kwargs):
        loss, terms = real(*args, **kwargs)
        return loss * float("nan"), terms

    monkeypatch.setattr(loop, "weighted_loss", nan_loss)
    with pytest.raises(TrainingDivergedError, match="training loss is nan at epoch 1"):
        train(load_config(small_config(tmp_path)), log=lambda *_: None)


def test_a_finite_loss_with_non_finite_gradients_stops_training(tmp_path, monkeypatch):
    import equimol.train.loop as loop
    from equimol.errors import TrainingDivergedError

    real = loop.backward_to_parameters

    def nan_grads(loss, params):
        params = list(params)
        real(loss, params)
        params[0].grad.fill_(float("nan"))

    monkeypatch.setattr(loop, "backward_to_parameters", nan_grads)
    with pytest.raises(TrainingDivergedError, match="gradient norm is nan .* at epoch 1 \\(step 0\\)"):
        train(load_config(small_config(tmp_path, grad_clip=1.0)), log=lambda *_: None)


def test_skip_loss_spikes_skips_the_outlier_batch_and_nothing_else(tmp_path, monkeypatch):
    import equimol.train.loop as loop

    real = loop.weighted_loss
    calls, steps = [0], [0]

    def one_spike(*args, **kwargs):  # the 26th batch's loss is 10⁴ times too large, the 27th NaN
        loss, terms = real(*args, **kwargs)
        calls[0] += 1
        return (loss * {26: 1e4, 27: float("nan")}.get(calls[0], 1.0)), terms

    class CountingAdamW(torch.optim.AdamW):
        def step(self, *a, **k):
            steps[0] += 1
            return super().step(*a, **k)

    monkeypatch.setattr(loop, "weighted_loss", one_spike)
    monkeypatch.setattr(loop.torch.optim, "AdamW", CountingAdamW)
    logs: list[str] = []
    cfg = load_config(small_config(tmp_path, epochs=8, skip_loss_spikes=10))
    out = train(cfg, log=logs.append)
    assert out["epochs"] == 8 and steps[0] == 8 * 4 - 2  # 32 batches, two skipped
    assert any(m.startswith("epoch 7: skipped 2 batch(es) as loss spikes (> 10×") for m in logs), logs
    state = read_checkpoint(tmp_path / "run" / "last.pt")["training"]["spike_guard"]
    assert state["accepted"] == 30 and state["consecutive"] == 0
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert all(float(row.split(",")[2]) < 10 * state["mean"] for row in log[1:])  # spikes left out
    with pytest.raises(ConfigError, match="skip_loss_spikes must be a number above 1"):
        load_config(small_config(tmp_path, skip_loss_spikes=0.5))


def test_spike_guard_rules():
    from equimol.errors import TrainingDivergedError
    from equimol.train.guard import SpikeGuard

    g = SpikeGuard(factor=5, decay=0.5, warmup=2, max_consecutive=3)
    assert g.accept(1.0, 1.0, 0, 0) and g.accept(3.0, 1.0, 1, 0)  # mean 1, then 0.5·1 + 0.5·3 = 2
    assert g.mean == 2.0
    assert not g.accept(10.5, 1.0, 2, 0)  # > 5 × 2
    assert not g.accept(1.0, float("inf"), 3, 0)  # gradients not finite
    assert g.accept(9.0, 1.0, 4, 0) and g.mean == 5.5  # ≤ 5 × 2: accepted
    assert (
        g.epoch_summary()
        == "skipped 2 batch(es) as loss spikes (> 5× the running mean 5.5; largest 10.5 at step 2)"
    )
    assert g.epoch_summary() is None
    for s in range(2):
        assert not g.accept(float("nan"), 1.0, 5 + s, 3)
    with pytest.raises(TrainingDivergedError, match="3 batches in a row skipped as loss spikes at epoch 4"):
        g.accept(1e9, 1.0, 7, 3)
    h = SpikeGuard(factor=5)
    h.load_state_dict(g.state_dict())
    assert (h.mean, h.accepted, h.consecutive) == (5.5, 3, 3)
    other = SpikeGuard(factor=5, loss_signature='[{"forces": 1.0}, "mse"]')  # another loss on resume
    other.load_state_dict(g.state_dict())
    assert (other.mean, other.accepted, other.consecutive) == (None, 0, 0)
    # non-finite losses before any accepted batch: no running mean yet
    first = SpikeGuard(factor=5, max_consecutive=2)
    assert not first.accept(float("nan"), 1.0, 0, 0)
    assert (
        first.epoch_summary()
        == "skipped 1 batch(es) as loss spikes (> 5× the running mean n/a; largest nan at step 0)"
    )
    with pytest.raises(TrainingDivergedError, match=r"running mean n/a\): the weights have diverged"):
        first.accept(float("nan"), 1.0, 1, 0)


def test_resume_takes_a_new_learning_rate_and_schedule_settings_from_the_config():
    from equimol.train.schedule import ExponentialSchedule, PlateauSchedule

    old = PlateauSchedule(1e-3, patience=2, min_lr=1e-5)
    for loss in (1.0, 2.0, 2.0):  # two epochs without improvement: lr halved
        old.step(loss)
    assert old.lr == 5e-4
    new = PlateauSchedule(3e-4, patience=7, min_lr=1e-6)  # --resume --set training.lr=3e-4 …
    new.load_state_dict(old.state_dict(), lr_scale=3e-4 / 1e-3)
    assert new.lr == pytest.approx(1.5e-4) and new.patience == 7 and new.min_lr == 1e-6
    assert (new.best_raw, new.epochs_since_best) == (1.0, 2)
    assert PlateauSchedule.from_state(old.state_dict()).min_lr == 1e-5  # a finished run's status

    exp_old = ExponentialSchedule(1e-3, decay_steps=100)
    exp_new = ExponentialSchedule(2e-4, decay_steps=100)
    exp_new.load_state_dict(exp_old.state_dict(), lr_scale=0.2)
    assert exp_new.lr_at_step(100) == pytest.approx(1e-4)  # lr0 from the config, decay kept


def test_resume_with_a_smaller_learning_rate_logs_it(tmp_path):
    # exponential decay by 0.5 every 4 steps (one epoch of 4 batches)
    cfg_path = small_config(tmp_path, epochs=1, scheduler="exponential", lr_decay_steps=4)
    train(load_config(cfg_path), log=lambda *_: None)
    logs: list[str] = []
    train(load_config(cfg_path, ["training.epochs=2"]), resume=True, log=logs.append)
    assert not any("instead of the run's" in m for m in logs), logs
    train(load_config(cfg_path, ["training.epochs=3", "training.lr=2e-4"]), resume=True, log=logs.append)
    assert any("training.lr 0.0002 instead of the run's 0.001" in m for m in logs), logs
    st = read_checkpoint(tmp_path / "run" / "last.pt")["training"]
    # the lr of the last step taken (step 11): lr0 = 2e-4, halved every 4 steps
    assert st["step"] == 12 and st["optimizer"]["param_groups"][0]["lr"] == pytest.approx(
        2e-4 * 0.5 ** (11 / 4)
    )


def test_cli_train_keeps_stdout_for_the_json_summary(tmp_path, capsys):
    from equimol.cli.main import main

    cfg_path = small_config(tmp_path, epochs=1)
    assert main(["train", str(cfg_path)]) == 0
    capsys.readouterr()
    assert main(["train", str(cfg_path), "--resume", "--set", "training.epochs=2"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["epochs"] == 2  # nothing but the summary on stdout
    assert "resuming from" in err


def test_a_resumed_run_that_should_stop_trains_no_further_epoch(tmp_path):
    cfg_path = small_config(tmp_path, epochs=2)
    train(load_config(cfg_path), log=lambda *_: None)
    logs: list[str] = []
    # min_lr above the run's lr: the schedule says stop before any new epoch
    out = train(
        load_config(cfg_path, ["training.epochs=5", "training.min_lr=0.01"]), resume=True, log=logs.append
    )
    assert out["epochs"] == 2 and "learning rate 1.00e-03 fell below 1.00e-02" in out["stop_reason"]
    assert run_state(tmp_path / "run", 5, training=load_config(cfg_path, ["training.min_lr=0.01"]).training)[
        "done"
    ]
    assert not run_state(tmp_path / "run", 5)["done"]  # with the run's own settings it goes on
