"""Electronic spatial extent head: ⟨R²⟩ = Σ_i q_i |r_i − R_com|² (QM9's r2 target).

q_i ≥ 0 are latent electron populations (softplus of an atomwise MLP on the scalar
features, so invariant representations work too), and r_i − R_com is the position relative
to the molecule's centre of mass (Å). The result is invariant to rotations and
translations and in Å² (QM9 reports bohr²; the QM9 reader converts).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.functional import softplus

from equimol import keys as K
from equimol.heads.dipole import CentreOfMass
from equimol.nn.mlp import mlp
from equimol.nn.scatter import scatter_sum


class SpatialExtentHead(nn.Module):
    """⟨R²⟩ (B,) Å² = Σ_i scale · softplus(a(s_i)) |r_i − R_com|², a from an MLP F → F/2 → 1.

    ``scale`` (electrons per unit output, default 1) is a buffer, set with :meth:`set_scale`.
    """

    outputs = (K.SPATIAL_EXTENT,)

    def __init__(self, n_features: int, n_hidden: int | None = None):
        super().__init__()
        self.net = mlp([n_features, n_hidden or max(n_features // 2, 1), 1])
        self.com = CentreOfMass()
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))

    def set_scale(self, scale: float) -> None:
        self.scale.fill_(float(scale))

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        a = self.net(batch[K.SCALAR_FEATURES])[:, 0]
        q = softplus(a) * self.scale.to(a.dtype)
        r2 = (self.com(batch) ** 2).sum(-1)
        return {K.SPATIAL_EXTENT: scatter_sum(q * r2, batch[K.BATCH], batch[K.N_ATOMS].shape[0])}
