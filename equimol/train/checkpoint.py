"""Training-run state on top of the checkpoint format of :mod:`equimol.io`.

Checkpoint I/O itself (save, load, read, export) lives in :mod:`equimol.io`, beside the model,
so that MD, spectra and the ASE calculator need nothing from training; it is re-exported here
for training code.
"""

from __future__ import annotations

import os
from pathlib import Path

from equimol.io import export_inference_checkpoint, load, read_checkpoint, save_checkpoint

__all__ = [
    "export_inference_checkpoint",
    "load",
    "read_checkpoint",
    "run_state",
    "save_checkpoint",
    "saved_lr",
]


def saved_lr(raw: dict, default: float) -> float:
    """The ``training.lr`` of the config a checkpoint (as read by ``read_checkpoint``) was trained
    with; ``default`` where its metadata has none."""
    return raw["metadata"].get("config", {}).get("training", {}).get("lr", default)


def run_state(run_dir: str | os.PathLike, epochs: int, minutes: float | None = None, training=None) -> dict:
    """Progress of the training run in ``run_dir`` from its last.pt.

    Returns ``{"epochs", "done", "status", "wall_time_s"}``; a run is done when it stopped early
    (its schedule says so), ran ``epochs`` epochs, or used a wall-time budget of ``minutes``.
    ``training`` (a :class:`~equimol.train.config.TrainingConfig`): judge early stopping with its
    ``lr``, ``min_lr`` and ``early_stopping_patience``, as a resumed run would (else the run's own).
    """
    from equimol.train.schedule import PlateauSchedule

    last = Path(run_dir) / "last.pt"
    if not last.exists():
        return {"epochs": 0, "done": False, "status": "not started", "wall_time_s": 0.0}
    raw = read_checkpoint(last)
    st = raw["training"]
    if training is None:
        schedule = PlateauSchedule.from_state(st["schedule"])
    else:  # as the training loop restores it on resume
        schedule = PlateauSchedule(
            training.lr, min_lr=training.min_lr, stop_patience=training.early_stopping_patience
        )
        schedule.load_state_dict(st["schedule"], training.lr / saved_lr(raw, training.lr))
    reason = schedule.should_stop()
    if reason is None and st["epoch"] >= epochs:
        reason = f"finished {epochs} epochs"
    if reason is None and minutes is not None and st["wall_time_s"] > 60 * minutes:
        reason = f"used its {minutes:g} min budget"
    return {
        "epochs": int(st["epoch"]),
        "done": reason is not None,
        "status": reason or f"in progress ({st['epoch']}/{epochs} epochs; rerun to resume)",
        "wall_time_s": float(st["wall_time_s"]),
    }
