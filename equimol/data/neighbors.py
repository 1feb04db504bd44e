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


def edge_pairs(edge_index: np.ndarray, shifts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unordered pairs of a neighbour list: ``edge_pair`` (E,), the pair of each edge, and
    ``pair_edge`` (P,), the first edge of each pair.

    Edge (i, j, S) and edge (j, i, −S) are one pair: they have the same distance, so any function
    symmetric in i and j (a radial filter) needs evaluating once per pair, then gathering with
    ``edge_pair``. Works for any list, full or not; shifts (Å) are compared on a 1e-6 Å grid.
    """
    i, j = np.asarray(edge_index, dtype=np.int64)
    periodic = shifts is not None and len(i) > 0 and bool(np.any(shifts))
    if not periodic:
        n = int(max(i.max(initial=-1), j.max(initial=-1))) + 1
        keys = np.minimum(i, j) * n + np.maximum(i, j)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    else:
        s = np.round(np.asarray(shifts, dtype=np.float64) * 1e6).astype(np.int64)
        sign = np.sign(s)
        first_sign = sign[np.arange(len(s)), np.argmax(sign != 0, axis=1)]  # 0 for S = 0
        flip = (i > j) | ((i == j) & (first_sign < 0))
        a, b = np.where(flip, j, i), np.where(flip, i, j)
        rows = np.concatenate([a[:, None], b[:, None], np.where(flip[:, None], -s, s)], axis=1)
        _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), first.astype(np.int64)
