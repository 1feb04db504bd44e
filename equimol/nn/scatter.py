"""Segment reductions over atoms/edges (no Python loops)."""

from __future__ import annotations

import torch


def chunks(n: int, size: int):
    """Consecutive slices of at most ``size`` items covering range(n) (the edge chunks of the
    fused message functions)."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def scatter_sum(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    """out[k] = Σ_{e: index[e] = k} src[e] along the first dimension."""
    out = src.new_zeros((dim_size, *src.shape[1:]))
    return out.index_add(0, index, src)


def edge_vectors(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """r_ij = r_j − r_i + shift_ij (E, 3) Å for edges [i, j] (differentiable in positions)."""
    from equimol import keys as K

    pos = batch[K.POSITIONS]
    i, j = batch[K.EDGE_INDEX]
    vec = pos[j] - pos[i]
    shifts = batch.get(K.EDGE_SHIFTS)
    if shifts is not None:
        vec = vec + shifts.to(vec.dtype)
    return vec
