"""PaiNN: polarizable atom interaction neural network (Schütt, Unke, Gastegger, ICML 2021).

Scalar features s_i ∈ R^F and vector features v_i ∈ R^{3×F} are updated by alternating
message (Eqs. 7–8) and update (Eqs. 9–10) blocks with residual connections. Distances are
in Å. Output: SCALAR_FEATURES (N, F) and VECTOR_FEATURES (N, 3, F).

Table IV ablations (switches):
  ``scalar_product=False``  drop the ⟨U v_i, V v_i⟩ term of the update (Eq. 10);
  ``vector_propagation=False``  W_vv = 0: neighbour vectors v_j are not propagated (Eq. 8);
  ``vectors=False``  no vector features at all (an invariant, SchNet-like PaiNN).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from equimol import keys as K
from equimol.nn.cutoff import cosine_cutoff
from equimol.nn.mlp import mlp
from equimol.nn.radial import SineBasis
from equimol.nn.scatter import edge_vectors, scatter_sum

NORM_EPS = 1e-8


@dataclass
class PaiNNConfig:
    n_features: int = 128
    n_interactions: int = 3
    n_basis: int = 20
    cutoff: float = 5.0
    max_z: int = 100
    scalar_product: bool = True
    vector_propagation: bool = True
    vectors: bool = True


class PaiNNMessage(nn.Module):
    """Message block, PaiNN Eqs. 7–8: φ(s_j) ∘ W(r_ij) split into Δs, gate of v_j, direction."""

    def __init__(self, cfg: PaiNNConfig):
        super().__init__()
        F = cfg.n_features
        self.n_split = 3 if cfg.vectors else 1
        self.vectors = cfg.vectors
        self.vector_propagation = cfg.vector_propagation
        self.phi = mlp([F, F, self.n_split * F])
        self.W = nn.Linear(cfg.n_basis, self.n_split * F)

    def forward(self, s, v, rbf, fcut, unit, i, j, n_atoms: int):
        x = self.phi(s)[j] * (self.W(rbf) * fcut[:, None])
        if not self.vectors:
            return s + scatter_sum(x, i, n_atoms), v
        ds, dvv, dvs = torch.split(x, s.shape[-1], dim=-1)
        s = s + scatter_sum(ds, i, n_atoms)
        dv = dvs[:, None, :] * unit[:, :, None]
        if self.vector_propagation:
            dv = dv + dvv[:, None, :] * v[j]
        return s, v + scatter_sum(dv, i, n_atoms)


class PaiNNUpdate(nn.Module):
    """Update block, PaiNN Eqs. 9–10: atomwise mixing of scalar and vector channels."""

    def __init__(self, cfg: PaiNNConfig):
        super().__init__()
        F = cfg.n_features
        self.scalar_product = cfg.scalar_product
        self.vectors = cfg.vectors
        if cfg.vectors:
            self.U = nn.Linear(F, F, bias=False)
            self.V = nn.Linear(F, F, bias=False)
            self.phi = mlp([2 * F, F, 3 * F])
        else:
            self.phi = mlp([F, F, F])

    def forward(self, s, v):
        if not self.vectors:
            return s + self.phi(s), v
        Uv, Vv = self.U(v), self.V(v)
        norm = torch.sqrt((Vv**2).sum(dim=1) + NORM_EPS)
        a_vv, a_sv, a_ss = torch.split(self.phi(torch.cat([s, norm], dim=-1)), s.shape[-1], dim=-1)
        ds = a_ss
        if self.scalar_product:
            ds = ds + a_sv * (Uv * Vv).sum(dim=1)
        return s + ds, v + a_vv[:, None, :] * Uv


class PaiNN(nn.Module):
    """PaiNN representation (F = 128, 3 interactions, 20 sine RBFs, cosine cutoff 5 Å)."""

    def __init__(self, **options):
        super().__init__()
        self.config = PaiNNConfig(**options)
        cfg = self.config
        self.cutoff = cfg.cutoff
        self.embedding = nn.Embedding(cfg.max_z, cfg.n_features)
        self.rbf = SineBasis(cfg.n_basis, cfg.cutoff)
        self.messages = nn.ModuleList(PaiNNMessage(cfg) for _ in range(cfg.n_interactions))
        self.updates = nn.ModuleList(PaiNNUpdate(cfg) for _ in range(cfg.n_interactions))

    def hyperparameters(self) -> dict:
        return asdict(self.config)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        z = batch[K.ATOMIC_NUMBERS]
        i, j = batch[K.EDGE_INDEX]
        vec = edge_vectors(batch)
        r = torch.linalg.vector_norm(vec, dim=-1)
        unit = vec / r[:, None]
        rbf = self.rbf(r)
        fcut = cosine_cutoff(r, self.cutoff)
        n = z.shape[0]
        s = self.embedding(z)
        v = s.new_zeros((n, 3, s.shape[-1]))
        for message, update in zip(self.messages, self.updates):
            s, v = message(s, v, rbf, fcut, unit, i, j, n)
            s, v = update(s, v)
        out = {K.SCALAR_FEATURES: s}
        if self.config.vectors:
            out[K.VECTOR_FEATURES] = v
        return out
