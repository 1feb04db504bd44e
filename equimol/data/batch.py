"""Collate variable-size molecules into one flat batch dict of tensors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from equimol import keys as K
from equimol.data.neighbors import edge_pairs
from equimol.data.store import PER_ATOM

INT_KEYS = (K.ATOMIC_NUMBERS, K.EDGE_INDEX)


def collate(
    structures: Sequence[dict[str, np.ndarray]],
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> dict[str, torch.Tensor]:
    """Flatten structures (with neighbour lists, see ``add_neighbors``) into a batch.

    positions (N,3), atomic_numbers (N,), batch (N,), n_atoms (B,), edge_index (2,E) with
    per-structure indices offset into the flat atom list, edge_shifts (E,3), and targets:
    per-graph (B, ...) or per-atom (N, ...); edge_pair (E,) and pair_edge (P,) (see
    :func:`equimol.data.neighbors.edge_pairs`). Energies stay float64 to keep meV precision on
    total energies of thousands of eV; everything else floating uses ``dtype``.
    """
    n_atoms = np.array([len(s[K.ATOMIC_NUMBERS]) for s in structures], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    out: dict[str, torch.Tensor] = {
        K.N_ATOMS: torch.from_numpy(n_atoms),
        K.BATCH: torch.from_numpy(np.repeat(np.arange(len(structures)), n_atoms)),
    }
    keys = set(structures[0])
    for s in structures[1:]:
        keys &= set(s)
    for key in sorted(keys):
        if key == K.EDGE_INDEX:
            arr = np.concatenate([s[key] + o for s, o in zip(structures, offsets, strict=False)], axis=1)
        elif key in PER_ATOM or key == K.EDGE_SHIFTS:
            arr = np.concatenate([np.asarray(s[key]) for s in structures])
        else:
            arr = np.stack([np.asarray(s[key]) for s in structures])
        t = torch.from_numpy(np.ascontiguousarray(arr))
        if key in INT_KEYS:
            t = t.long()
        elif key == K.ENERGY:
            t = t.double()
        elif t.is_floating_point():
            t = t.to(dtype)
        out[key] = t
    if K.EDGE_INDEX in out:
        shifts = out.get(K.EDGE_SHIFTS)
        pair, first = edge_pairs(
            out[K.EDGE_INDEX].numpy(), None if shifts is None else shifts.double().numpy()
        )
        out[K.EDGE_PAIR], out[K.PAIR_EDGE] = torch.from_numpy(pair), torch.from_numpy(first)
    if device is not None:
        out = {k: v.to(device) for k, v in out.items()}
    return out
