"""Adapter: an equimol Potential as an MD ``force_fn`` over all replicas × beads at once.

A thin layer over :class:`equimol.evaluator.Evaluator` (neighbour lists with a Verlet skin,
rebuilt only when an atom has moved more than half the skin; one batched model call per step).
"""

from __future__ import annotations

import numpy as np
import torch

from equimol import keys as K
from equimol.evaluator import Evaluator


class ModelForceFn:
    """``force_fn(positions (S, N, 3) Å) -> {"energy" (S,), "forces" (S,N,3), ["dipole", "polarizability"]}``.

    One batched model call evaluates all S structures (replicas × beads) of one molecule. A
    committee (:class:`equimol.committee.Committee`) adds ``force_disagreement`` (S,) eV/Å.
    ``dtype`` is the network's precision (a cast copy of ``potential`` is used if needed; the
    caller's model is never changed); returned tensors match the positions' dtype. ``cell``
    (3, 3) Å makes the system periodic.
    """

    def __init__(
        self,
        potential,
        atomic_numbers,
        skin: float = 0.5,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        cell: np.ndarray | None = None,
    ):
        self.evaluator = Evaluator(potential, dtype=dtype, device=device, skin=skin, validate=False)
        self.potential = self.evaluator.potential
        self.z = np.asarray(atomic_numbers, dtype=np.int64)
        self.cell = None if cell is None else np.asarray(cell, dtype=np.float64)

    @property
    def n_calls(self) -> int:
        return self.evaluator.n_calls

    @property
    def n_builds(self) -> int:
        return self.evaluator.n_builds

    def __call__(self, positions: torch.Tensor) -> dict[str, torch.Tensor]:
        s_count = positions.shape[0]
        cell = None if self.cell is None else np.broadcast_to(self.cell, (s_count, 3, 3))
        out = self.evaluator.predict_positions(positions, self.z, cell)
        dt, dev = positions.dtype, positions.device
        keys = {
            K.ENERGY: "energy",
            K.FORCES: "forces",
            K.DIPOLE: "dipole",
            K.POLARIZABILITY: "polarizability",
            K.FORCE_DISAGREEMENT: K.FORCE_DISAGREEMENT,
        }
        return {name: out[key].to(dev, dt) for key, name in keys.items() if key in out}
