"""Self-describing checkpoints: a state dict plus JSON metadata, written atomically.

Layout of the file (loads with ``torch.load(path, weights_only=True)``)::

    {"metadata": str (JSON: format, units, model spec, statistics, config, metrics),
     "model": state_dict,
     "training": {optimizer, scheduler, rng, epoch, ...} (optional)}
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from equimol.errors import EquimolError
from equimol.potential import Potential, build_potential, metadata_json


def save_checkpoint(
    path: str | os.PathLike,
    potential: Potential,
    extra_metadata: dict | None = None,
    training: dict | None = None,
) -> None:
    """Write ``potential`` (and optional training state) to ``path`` via temp file + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"metadata": metadata_json(potential, extra_metadata), "model": potential.state_dict()}
    if training is not None:
        payload["training"] = training
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw checkpoint dict, loaded safely (no unpickling of arbitrary objects)."""
    path = Path(path)
    if not path.exists():
        raise EquimolError(f"{path}: checkpoint not found")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EquimolError(f"{path}: not a readable equimol checkpoint ({first})") from None
    if not isinstance(raw, dict) or "metadata" not in raw or "model" not in raw:
        raise EquimolError(f"{path}: not an equimol checkpoint (missing 'metadata'/'model')")
    raw["metadata"] = json.loads(raw["metadata"])
    return raw


def load(
    path: str | os.PathLike, device: str | torch.device = "cpu", dtype: torch.dtype | None = None
) -> Potential:
    """Load a model from a checkpoint, in eval mode, ready for inference."""
    raw = read_checkpoint(path)
    potential = build_potential(raw["metadata"]["spec"])
    potential.load_state_dict(raw["model"])
    potential.metadata = raw["metadata"]  # type: ignore[attr-defined]
    potential.eval()
    if dtype is not None:
        potential = _to_dtype(potential, dtype)
    return potential.to(device)


def _to_dtype(potential: Potential, dtype: torch.dtype) -> Potential:
    """Cast parameters to ``dtype`` but keep float64 buffers (energy references) in float64."""
    for p in potential.parameters():
        p.data = p.data.to(dtype)
    return potential


def export_inference_checkpoint(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy ``src`` to ``dst`` without its training state (optimizer, RNG, raw weights): what
    ``load``, ``equimol evaluate`` and the ASE calculator need, at about a third of the size."""
    raw = read_checkpoint(src)
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    torch.save({"metadata": json.dumps(raw["metadata"]), "model": raw["model"]}, tmp)
    os.replace(tmp, dst)
    return dst


def run_state(run_dir: str | os.PathLike, epochs: int, minutes: float | None = None) -> dict:
    """Progress of the training run in ``run_dir`` from its last.pt.

    Returns ``{"epochs", "done", "status", "wall_time_s"}``; a run is done when it stopped early
    (its schedule says so), ran ``epochs`` epochs, or used a wall-time budget of ``minutes``.
    """
    from equimol.train.schedule import PlateauSchedule

    last = Path(run_dir) / "last.pt"
    if not last.exists():
        return {"epochs": 0, "done": False, "status": "not started", "wall_time_s": 0.0}
    st = read_checkpoint(last)["training"]
    schedule = PlateauSchedule(1.0)
    schedule.load_state_dict(st["schedule"])
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
