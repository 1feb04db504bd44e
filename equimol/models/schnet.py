"""SchNet: continuous-filter convolutional network (Schütt, Sauceda, Kindermans, Tkatchenko,
Müller, J. Chem. Phys. 148, 241722 (2018)).

Atomwise features x_i ∈ R^F start from an embedding of Z_i and are refined by T interaction
blocks with residual connections, x_i ← x_i + v_i (Eq. 5). Each block is atomwise → cfconv →
atomwise → ssp → atomwise (Fig. 2), where the continuous-filter convolution (Eq. 4) is

    (x ∗ W)_i = Σ_j x_j ∘ W(r_ij),   W(r) = Dense(ssp(Dense(e(r)))) · f_cut(r)

with Gaussian radial features e_k(r) = exp(−(r − μ_k)²/(2w²)) (Eq. 6; μ_k evenly spaced on
[0, r_cut], w the spacing), the cosine cutoff f_cut, and the shifted softplus
ssp(x) = ln(½eˣ + ½). Distances in Å. Output: SCALAR_FEATURES (N, F).

Defaults follow SchNetPack 2 (``configs/model/representation/schnet.yaml``: F = 128,
T = 6 interactions, cosine cutoff 5 Å) with 50 Gaussians as in the SchNetPack 1 scripts
(SchNetPack 2's Gaussian config has 20: pass ``n_basis=20``). The atomwise energy MLP is the
shared energy head (SiLU), not SchNetPack's ssp MLP.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from equimol import keys as K
from equimol.errors import ConfigError
from equimol.nn.cutoff import cosine_cutoff
from equimol.nn.radial import GaussianBasis
from equimol.nn.scatter import edge_vectors, scatter_sum


def shifted_softplus(x: torch.Tensor) -> torch.Tensor:
    """ssp(x) = softplus(x) − ln 2 (zero at x = 0)."""
    return nn.functional.softplus(x) - math.log(2.0)


class ShiftedSoftplus(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return shifted_softplus(x)


@dataclass
class SchNetConfig:
    n_features: int = 128  # F, atomwise features
    n_filters: int | None = None  # filter width; None: F
    n_interactions: int = 6
    n_basis: int = 50  # Gaussians on [0, cutoff]
    cutoff: float = 5.0  # Å
    max_z: int = 100

    def __post_init__(self) -> None:
        for name in ("n_features", "n_interactions", "n_basis", "max_z"):
            if getattr(self, name) < 1:
                raise ConfigError(f"SchNet {name} must be ≥ 1, got {getattr(self, name)}")
        if self.n_filters is not None and self.n_filters < 1:
            raise ConfigError(f"SchNet n_filters must be ≥ 1, got {self.n_filters}")
        if self.cutoff <= 0:
            raise ConfigError(f"SchNet cutoff must be positive, got {self.cutoff}")


class SchNetInteraction(nn.Module):
    """Interaction block (Fig. 2): v_i = Dense(ssp(Dense(Σ_j W_in x_j ∘ W(r_ij))))."""

    def __init__(self, n_features: int, n_filters: int, n_basis: int):
        super().__init__()
        self.in2f = nn.Linear(n_features, n_filters, bias=False)
        self.filter = nn.Sequential(
            nn.Linear(n_basis, n_filters), ShiftedSoftplus(), nn.Linear(n_filters, n_filters)
        )
        self.f2out = nn.Sequential(
            nn.Linear(n_filters, n_features), ShiftedSoftplus(), nn.Linear(n_features, n_features)
        )

    def forward(self, x, rbf, fcut, i, j, pair=None):
        """``rbf``, ``fcut`` per edge, or per unordered pair with ``pair`` (E,) mapping edges to pairs."""
        w = self.filter(rbf) * fcut[:, None]
        if pair is not None:
            w = w.index_select(0, pair)  # W(r_ij) = W(r_ji): one filter per pair
        y = scatter_sum(self.in2f(x)[j] * w, i, x.shape[0])
        return self.f2out(y)


class SchNet(nn.Module):
    """SchNet representation (F = 128, 6 interactions, 50 Gaussians, cosine cutoff 5 Å)."""

    def __init__(self, **options):
        super().__init__()
        self.config = cfg = SchNetConfig(**options)
        self.cutoff = cfg.cutoff
        n_filters = cfg.n_filters or cfg.n_features
        self.embedding = nn.Embedding(cfg.max_z, cfg.n_features)
        self.rbf = GaussianBasis(cfg.n_basis, cfg.cutoff)
        self.interactions = nn.ModuleList(
            SchNetInteraction(cfg.n_features, n_filters, cfg.n_basis) for _ in range(cfg.n_interactions)
        )

    def hyperparameters(self) -> dict:
        return asdict(self.config)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        i, j = batch[K.EDGE_INDEX]
        r = torch.linalg.vector_norm(edge_vectors(batch), dim=-1)
        pair, pair_edge = batch.get(K.EDGE_PAIR), batch.get(K.PAIR_EDGE)
        if pair is None or pair_edge is None:
            pair = None
        else:  # filters once per unordered pair (collate's edge_pairs), gathered onto the edges
            r = r.index_select(0, pair_edge)
        rbf = self.rbf(r)
        fcut = cosine_cutoff(r, self.cutoff)
        x = self.embedding(batch[K.ATOMIC_NUMBERS])
        for interaction in self.interactions:
            x = x + interaction(x, rbf, fcut, i, j, pair)
        return {K.SCALAR_FEATURES: x}
