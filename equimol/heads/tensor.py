"""General symmetric Cartesian tensor head of rank R (PaiNN Eq. 11: sums of outer products).

Every atom i contributes outer powers of K equivariant vectors

    w_ik = ν_k(v_i) + λ_k(s_i) r_i          (r_i relative to the centre of mass, Å)
    T    = Σ_i Σ_k c_k(s_i) w_ik^{⊗R}  [+ Σ_i t(s_i) Sym(I^{⊗R/2}) for even R]

with ν, λ, c and t from the two-block gated equivariant output network. Each term is a
symmetric tensor that rotates as T_{a…} → R_{aa'} … T_{a'…}. Sums of R-th outer powers
span all symmetric rank-R tensors (polarization identity), so the head is not restricted:
for R = 2, PaiNN Eq. 14's ν ⊗ r + r ⊗ ν = ½[(ν + r)^{⊗2} − (ν − r)^{⊗2}] is two channels.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from equimol import keys as K
from equimol.errors import ConfigError
from equimol.heads.dipole import CentreOfMass, vector_features
from equimol.nn.gated import gated_output_network
from equimol.nn.scatter import scatter_sum

MAX_RANK = 6


def isotropic_tensor(rank: int) -> np.ndarray:
    """Sym(δ^{⊗rank/2}) (3,)*rank: the rotation-invariant symmetric tensor of even ``rank``.

    For rank 2 this is δ_ab; for rank 4 (δ_ab δ_cd + δ_ac δ_bd + δ_ad δ_bc)/3.
    """
    if rank % 2:
        raise ValueError(f"an isotropic tensor needs an even rank, got {rank}")
    base = np.ones(())
    for _ in range(rank // 2):
        base = np.multiply.outer(base, np.eye(3))
    perms = list(itertools.permutations(range(rank)))
    return sum(base.transpose(p) for p in perms) / len(perms)


def outer_power(w: torch.Tensor, rank: int) -> torch.Tensor:
    """w^{⊗rank} (..., 3, …, 3) of vectors w (..., 3)."""
    out = w
    for m in range(1, rank):
        out = out.unsqueeze(-1) * w.reshape(*w.shape[:-1], *([1] * m), 3)
    return out


class TensorHead(nn.Module):
    """Symmetric rank-R tensor (B, 3, …, 3) as a sum of atomwise outer powers (module docstring).

    Options
    -------
    rank: tensor rank R (1 … 6).
    n_channels: K vectors per atom (default 4).
    positions: include λ_k(s_i) r_i in w_ik (otherwise only predicted vectors ν_k(v_i)).
    n_hidden: width of the intermediate layer of the output network (default F/2).
    """

    outputs = (K.TENSOR,)

    def __init__(
        self,
        n_features: int,
        rank: int = 2,
        n_channels: int = 4,
        positions: bool = True,
        n_hidden: int | None = None,
        n_vector_features: int | None = None,
    ):
        super().__init__()
        if not 1 <= rank <= MAX_RANK:
            raise ConfigError(f"tensor head: rank must be between 1 and {MAX_RANK}, got {rank}")
        if n_channels < 1:
            raise ConfigError(f"tensor head: n_channels must be positive, got {n_channels}")
        self.rank, self.n_channels, self.positions = rank, n_channels, positions
        # scalar outputs: c_k, λ_k, t; vector outputs: ν_k (the surplus vector channels are unused).
        self.net = gated_output_network(n_features, 2 * n_channels + 1, n_hidden, n_vector_features)
        self.com = CentreOfMass()
        iso = torch.as_tensor(isotropic_tensor(rank) if rank % 2 == 0 else np.zeros([3] * rank))
        self.register_buffer("isotropic", iso, persistent=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        s, v = self.net(batch[K.SCALAR_FEATURES], vector_features(batch, "tensor"))
        n_k = self.n_channels
        c, lam, t = s[:, :n_k], s[:, n_k : 2 * n_k], s[:, 2 * n_k]
        w = v[..., :n_k]
        if self.positions:
            w = w + lam[:, None, :] * self.com(batch)[:, :, None]
        power = outer_power(w.transpose(1, 2), self.rank)  # (N, K, 3, …, 3)
        t_i = torch.einsum("nk,nk...->n...", c, power)
        if self.rank % 2 == 0:
            t_i = t_i + t.reshape(-1, *([1] * self.rank)) * self.isotropic.to(t_i.dtype)
        return {K.TENSOR: scatter_sum(t_i, batch[K.BATCH], batch[K.N_ATOMS].shape[0])}
