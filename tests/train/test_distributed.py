"""Data-parallel training: two torchrun processes (gloo, CPU) reproduce one process."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from equimol import keys as K
from equimol.data.batch import collate
from equimol.data.formats import read_structures
from equimol.data.neighbors import add_neighbors
from equimol.potential import build_model
from equimol.train.checkpoint import read_checkpoint
from equimol.train.config import load_config
from equimol.train.distributed import DistContext, global_loss, target_counts
from equimol.train.loop import train
from equimol.train.loss import weighted_loss
from tests.conftest import rmd17_path


def _config(tmp_path):
    # 21 structures in global batches of 5: shares of 2 and 3 (different atom counts per
    # rank) and a last batch of 1 (one rank empty); a dipole head that gets no gradient.
    raw = {
        "data": {"train": str(rmd17_path("ethanol")), "n_train": 21, "n_val": 7, "seed": 0},
        "model": {
            "name": "painn",
            "n_features": 8,
            "n_interactions": 2,
            "cutoff": 4.0,
            "heads": [{"name": "energy"}, {"name": "dipole"}],
        },
        "training": {
            "epochs": 3,
            "batch_size": 5,
            "val_batch_size": 4,
            "progress": False,
            "ema_decay": 0.9,
            "dtype": "float64",
            "grad_clip": 10.0,
        },
        "output_dir": str(tmp_path / "run"),
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _torchrun(cfg: Path, out: Path, epochs: int, resume: bool = False, nproc: int = 2) -> None:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "equimol.cli.main",
        "train",
        str(cfg),
        "--output-dir",
        str(out),
        "--set",
        f"training.epochs={epochs}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if Path("/sys/class/net/lo").exists():
        env["GLOO_SOCKET_IFNAME"] = "lo"  # loopback only
    proc = subprocess.Popen(
        cmd + (["--resume"] if resume else []),
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:  # kill torchrun and its workers (our own process group)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, output[-3000:]


def _assert_same(a: Path, b: Path, atol=1e-10) -> None:
    ra, rb = read_checkpoint(a / "last.pt"), read_checkpoint(b / "last.pt")
    assert (
        ra["training"]["epoch"] == rb["training"]["epoch"]
        and ra["training"]["step"] == rb["training"]["step"]
    )
    for k, v in ra["model"].items():
        torch.testing.assert_close(rb["model"][k], v, atol=atol, rtol=0, msg=k)
    for p, q in zip(ra["training"]["raw_params"], rb["training"]["raw_params"], strict=False):
        torch.testing.assert_close(q, p, atol=atol, rtol=0)
    assert torch.equal(ra["training"]["generator"], rb["training"]["generator"])
    rows_a = [r.split(",") for r in (a / "log.csv").read_text().splitlines()]
    rows_b = [r.split(",") for r in (b / "log.csv").read_text().splitlines()]
    assert len(rows_a) == len(rows_b)
    for x, y in zip(rows_a[1:], rows_b[1:], strict=False):  # train/val losses and MAEs, not the times
        cols = [i for i, name in enumerate(rows_a[0]) if name != "time_s"]
        assert [float(x[i]) for i in cols] == pytest.approx([float(y[i]) for i in cols], rel=1e-7)


def test_two_processes_match_one_and_resume_with_other_world_size(tmp_path):
    cfg = _config(tmp_path)
    quiet = lambda *_: None  # noqa: E731
    one2, one3, two2, two3 = (tmp_path / n for n in ("one2", "one3", "two2", "two3"))
    train(load_config(cfg, [f"output_dir={one2}", "training.epochs=2"]), log=quiet)
    shutil.copytree(one2, one3)
    train(load_config(cfg, [f"output_dir={one3}"]), resume=True, log=quiet)

    _torchrun(cfg, two2, epochs=2)  # 2 processes from scratch == 1 process
    _assert_same(one2, two2)
    assert read_checkpoint(two2 / "last.pt")["training"]["world_size"] == 2

    shutil.copytree(two2, two3)  # 2-process checkpoint resumed by 1 process
    train(load_config(cfg, [f"output_dir={two3}"]), resume=True, log=quiet)
    _assert_same(one3, two3)

    _torchrun(cfg, one2, epochs=3, resume=True)  # 1-process checkpoint resumed by 2 processes
    _assert_same(one3, one2)


def test_rank_losses_sum_to_the_global_loss_and_gradient():
    """Per-rank losses normalised by global counts add up to the single-process loss."""
    torch.manual_seed(0)
    pot = build_model("painn", n_features=8, n_interactions=1, cutoff=4.0).double()
    data = [add_neighbors(s, 4.0) for s in read_structures(rmd17_path("ethanol"), index=slice(0, 3))]
    data[1] = {
        k: (v[:6] if k in (K.POSITIONS, K.ATOMIC_NUMBERS, K.FORCES) else v) for k, v in data[1].items()
    }
    data[1] = add_neighbors(data[1], 4.0)  # a 6-atom fragment: ranks hold different atom counts
    weights = {K.ENERGY: 0.05, K.FORCES: 0.95}
    full = collate(data, dtype=torch.float64)
    loss, _ = weighted_loss(pot(full, create_graph=True), full, weights)
    ref = torch.autograd.grad(loss, list(pot.parameters()))
    shares = [DistContext(rank=r, world_size=2).shard(list(range(3))) for r in range(2)]
    assert shares == [[0], [1, 2]]
    batches = [collate([data[i] for i in s], dtype=torch.float64) for s in shares]
    counts = [sum(c) for c in zip(*(target_counts(b, list(weights)) for b in batches), strict=False)]
    parts = [
        global_loss(pot(b, create_graph=True), b, weights, "mse", dict(zip(weights, counts, strict=True)))
        for b in batches
    ]
    grads = [torch.autograd.grad(p, list(pot.parameters())) for p in parts]
    torch.testing.assert_close(sum(parts), loss)
    for g, g0, g1 in zip(ref, *grads, strict=False):
        torch.testing.assert_close(g0 + g1, g, rtol=1e-10, atol=1e-12)
