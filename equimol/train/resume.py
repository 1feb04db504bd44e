"""Run ``equimol train`` to completion across sessions: start, resume from last.pt, or skip a
finished run (experiments that train several models call this once per model and are rerun
until every run is done)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from equimol.train.checkpoint import run_state


def equimol_command() -> list[str]:
    """The ``equimol`` command of the running interpreter (its console script, or ``-m``)."""
    exe = Path(sys.executable).with_name("equimol")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "equimol.cli.main"]


def train_or_resume(name: str, cfg_path: str | os.PathLike, cwd: str | os.PathLike | None = None) -> None:
    """``equimol train CONFIG`` (with ``--resume`` once OUTPUT_DIR/last.pt exists) unless the
    run in the config's output_dir is done (:func:`run_state`); ``name`` labels the log lines,
    ``cwd`` is the working directory of the training process. (``load_config`` has already
    resolved a relative output_dir against the config file's folder, as ``equimol train`` does.)"""
    from equimol.train.config import load_config

    cfg = load_config(cfg_path)
    run_dir = Path(cfg.output_dir)
    state = run_state(run_dir, cfg.training.epochs, training=cfg.training)
    if state["done"]:
        print(f"[{name}] {state['status']}: skipping training")
        return
    cmd = equimol_command() + ["train", str(cfg_path)]
    if (run_dir / "last.pt").exists():
        cmd.append("--resume")
    print(f"[{name}] {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True, cwd=cwd)
