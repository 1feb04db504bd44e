"""Adapter: an equimol Potential as an MD ``force_fn`` over all replicas × beads at once.

Neighbour lists are built with a skin (Verlet list) and rebuilt only when an atom has moved
more than half the skin since the last build, so most steps reuse them. Edges between
``cutoff`` and ``cutoff + skin`` contribute exactly zero (every model's cutoff function
vanishes there), so results equal a fresh list at ``cutoff``.
"""

from __future__ import annotations

import numpy as np
import torch

from equimol import keys as K
from equimol.data.neighbors import edge_pairs, neighbor_list
from equimol.potential import Potential


class ModelForceFn:
    """``force_fn(positions (S, N, 3) Å) -> {"energy" (S,), "forces" (S,N,3), ["dipole", "polarizability"]}``.

    One batched model call evaluates all S structures (replicas × beads) of one molecule.
    ``dtype`` is the network's precision; returned tensors match the positions' dtype.
    """

    def __init__(
        self,
        potential: Potential,
        atomic_numbers,
        skin: float = 0.5,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        cell: np.ndarray | None = None,
    ):
        self.potential = potential.eval()
        self.z = torch.as_tensor(np.asarray(atomic_numbers), dtype=torch.int64, device=device)
        self.skin, self.dtype, self.device = float(skin), dtype, torch.device(device)
        self.cell = cell
        self._ref: np.ndarray | None = None
        self._edges: torch.Tensor | None = None
        self._shifts: torch.Tensor | None = None
        self.n_builds = 0
        self.n_calls = 0

    def _needs_rebuild(self, pos: np.ndarray) -> bool:
        if self._ref is None or self._ref.shape != pos.shape:
            return True
        return bool(np.max(np.linalg.norm(pos - self._ref, axis=-1)) > 0.5 * self.skin)

    def _build(self, pos: np.ndarray) -> None:
        S, N, _ = pos.shape
        cutoff = self.potential.cutoff + self.skin
        edges, shifts = [], []
        pbc = np.ones(3, bool) if self.cell is not None else None
        for s in range(S):
            ei, sh = neighbor_list(pos[s], cutoff, self.cell, pbc)
            edges.append(ei + s * N)
            shifts.append(sh)
        edges, shifts = np.concatenate(edges, axis=1), np.concatenate(shifts)
        pair, first = edge_pairs(edges, shifts)
        self._edges = torch.from_numpy(edges).to(self.device)
        self._shifts = torch.from_numpy(shifts).to(self.device, self.dtype)
        self._pairs = (torch.from_numpy(pair).to(self.device), torch.from_numpy(first).to(self.device))
        self._ref = pos.copy()
        self.n_builds += 1

    def __call__(self, positions: torch.Tensor) -> dict[str, torch.Tensor]:
        S, N, _ = positions.shape
        pos_np = positions.detach().cpu().double().numpy()
        if self._needs_rebuild(pos_np):
            self._build(pos_np)
        self.n_calls += 1
        batch = {
            K.POSITIONS: positions.detach().reshape(S * N, 3).to(self.device, self.dtype),
            K.ATOMIC_NUMBERS: self.z.repeat(S),
            K.BATCH: torch.arange(S, device=self.device).repeat_interleave(N),
            K.N_ATOMS: torch.full((S,), N, dtype=torch.int64, device=self.device),
            K.EDGE_INDEX: self._edges,
            K.EDGE_SHIFTS: self._shifts,
            K.EDGE_PAIR: self._pairs[0],
            K.PAIR_EDGE: self._pairs[1],
        }
        out = self.potential(batch)
        dt, dev = positions.dtype, positions.device
        result = {"energy": out[K.ENERGY].to(dev, dt), "forces": out[K.FORCES].reshape(S, N, 3).to(dev, dt)}
        if K.DIPOLE in out:
            result["dipole"] = out[K.DIPOLE].to(dev, dt)
        if K.POLARIZABILITY in out:
            result["polarizability"] = out[K.POLARIZABILITY].to(dev, dt)
        return result
