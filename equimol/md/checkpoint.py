"""MD restart files: ``torch.save`` of a dict of tensors and JSON-able metadata.

Loadable with ``torch.load(path, weights_only=True)``. Written atomically (temporary file
in the same folder, fsync, rename: :func:`equimol.io.atomic_write`) so an interrupted write never leaves a broken
restart file. A checkpoint holds the config, the state (positions, velocities, forces,
energies, properties), the thermostat variables and the random-generator state, so that a
resumed run continues with exactly the trajectory of an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from equimol.md.hooks import Hook

if TYPE_CHECKING:
    from equimol.md.simulate import Simulation

CHECKPOINT_FORMAT = "equimol.md.checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Atomically write ``payload`` (tensors, ints, floats, str, None, nested dicts/lists)."""
    from equimol.io import atomic_write  # equimol.io imports the model stack: only when writing

    with atomic_write(path, "wb") as f:
        torch.save(payload, f)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load an MD checkpoint on the CPU with ``weights_only=True`` and check its format."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an equimol MD checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path}: unsupported checkpoint version {payload.get('version')}")
    return payload


class CheckpointHook(Hook):
    """Write ``sim.state_dict()`` to ``path`` at the start of a fresh run, every ``every``
    steps and at the end of a successful run; other hooks are flushed first so that their
    files on disk are consistent with the checkpoint."""

    def __init__(self, path: str | Path, every: int) -> None:
        self.path = Path(path)
        self.every = every
        self._last_step = -1

    def _save(self, sim: Simulation) -> None:
        sim.flush_hooks()
        save_checkpoint(self.path, sim.state_dict())
        self._last_step = sim.state.step

    def on_start(self, sim: Simulation) -> None:
        if sim.state.step == 0:
            self._save(sim)

    def on_step(self, sim: Simulation) -> None:
        if sim.state.step % self.every == 0:
            self._save(sim)

    def on_end(self, sim: Simulation) -> None:
        if sim.error is None and sim.state.step != self._last_step:
            self._save(sim)
