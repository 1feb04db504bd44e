"""Neighbour lists with vesin (cutoff in Å), non-periodic and periodic."""

from __future__ import annotations

import numpy as np
from vesin import NeighborList

from equimol import keys as K
from equimol.errors import DataError


def neighbor_list(
    positions: np.ndarray,
    cutoff: float,
    cell: np.ndarray | None = None,
    pbc: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Full (both directions) neighbour list within ``cutoff`` Å.

    Returns ``edge_index`` (2, E) int64 with [centre i, neighbour j] and ``shifts`` (E, 3) Å
    such that r_ij = r_j - r_i + shift. Periodic if ``pbc`` has any True entry.
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    periodic = pbc is not None and bool(np.any(pbc))
    if periodic:
        if not np.all(pbc):
            raise DataError("mixed periodic boundary conditions are not supported; use all or none")
        box = np.ascontiguousarray(cell, dtype=np.float64)
    else:
        box = np.zeros((3, 3))
    nl = NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, s = nl.compute(points=positions, box=box, periodic=periodic, quantities="ijS")
    edge_index = np.stack([i, j]).astype(np.int64)
    shifts = s.astype(np.float64) @ box if periodic else np.zeros((len(i), 3))
    return edge_index, shifts


def add_neighbors(s: dict[str, np.ndarray], cutoff: float) -> dict[str, np.ndarray]:
    """Return a copy of structure ``s`` with EDGE_INDEX and EDGE_SHIFTS for ``cutoff`` Å."""
    ei, sh = neighbor_list(s[K.POSITIONS], cutoff, s.get(K.CELL), s.get(K.PBC))
    return {**s, K.EDGE_INDEX: ei, K.EDGE_SHIFTS: sh}
