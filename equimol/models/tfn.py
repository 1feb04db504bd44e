"""L0Net and L1Net: tensor field networks of Miller, Geiger, Smidt, Noé (2020),
"Relevance of rotationally equivariant convolutions for predicting molecular properties",
arXiv:2008.08461.

Architecture (Fig. 1 of the paper), distances in Å:

1. atomwise embedding of Z into ``n_features`` scalars;
2. ``n_interactions`` layers of convolution (Eq. 3; radial basis of Eq. 2, see
   :mod:`equimol.nn.radial_tfn`) followed by a gated block (Softplus on l = 0, Sigmoid gates on
   l > 0), hidden irreps u0 × l=0 + u1 × l=1 (+ u2 × l=2 with ``l_max=2``);
3. an output convolution to ``n_features`` scalars with Softplus;
4. the energy head (:class:`equimol.heads.energy.EnergyHead`) supplies the final atomwise
   layers and the shift and scale with per-element references (supplement Eq. 16:
   y = σ Σ_i ŷ_i + Σ_i (μ + e_{Z_i}); the per-atom mean μ folds into the references e_Z).

L0Net uses only l = 0 (spherical harmonics Y^0 only, so the convolution depends on distances
alone) and, as in the paper, turns every l = 1 channel into 3 scalar channels (and every l = 2
channel into 5), so both networks carry the same number of feature components per atom.

Outputs: SCALAR_FEATURES (N, n_features); L1Net also VECTOR_FEATURES (N, 3, u1), the l = 1
channels of the last gated layer in Cartesian (x, y, z) order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from e3nn import o3
from torch import nn

from equimol import keys as K
from equimol.errors import ConfigError
from equimol.models.tfn_layers import (
    GatedBlock,
    TFNConvolution,
    TFNLayer,
    hidden_irreps,
    l1_to_cartesian,
    match_buffer_dtype,
    sh_irreps,
    spherical_harmonics,
)
from equimol.nn.radial_tfn import RADIAL_BASES
from equimol.nn.scatter import edge_vectors


@dataclass
class TFNConfig:
    """Hyperparameters. The radial basis (B = 84 cos² bumps up to 11.1 Å), Softplus β = 5 and the
    1/√n̄ normalisation follow the paper. The network follows the paper's fixed choices and the
    authors' named configurations (github.com/bkmi/equivariant-benchmark, ``qm9_hp_search.sh``):
    residual connections on, 2 gated convolutions + 1 output convolution, radial MLP of 2 layers
    × 128, 64 × l=0 + 21 × l=1 channels (≈ 128 components per atom). L0Net is parameter-matched
    to L1Net (see :func:`L0Net`). Options kept for other set-ups: ``residual=False``,
    ``n_interactions`` (equimol's earlier default was 4), ``radial_hidden`` (earlier 64)."""

    n_features: int = 128  # embedding width and width of the output scalars (energy-head input)
    n_scalars: int = 64  # u0, l = 0 channels per hidden layer
    n_vectors: int = 21  # u1, l = 1 channels (L0Net: 3·u1 more scalars instead)
    n_tensors: int | None = None  # u2, l = 2 channels (l_max = 2; None: u1; L0Net: 5·u2 more scalars)
    l_max: int = 1  # 0 for L0Net, 1 (paper) or 2 for L1Net
    n_interactions: int = 2  # gated convolution layers before the output convolution (paper: 2 + 1)
    cutoff: float = 11.1  # Å
    n_basis: int = 84
    radial_basis: str = "cos2"  # "cos2" (Eq. 2), "gaussian" or "bessel"
    radial_hidden: int = 128
    radial_layers: int = 2
    beta: float = 5.0  # sharpness of Softplus (gates) and shifted Softplus (radial MLP)
    avg_num_neighbors: float = 18.0  # n̄ in the 1/√n̄ normalisation (QM9: 18 atoms per molecule)
    self_connection: bool = True
    residual: bool = True  # add the input of a layer to its output where irreps agree (paper)
    parity: bool = False  # False: SO(3) only, as the paper; True: O(3) irreps (1o, 2e)
    max_z: int = 100

    def __post_init__(self) -> None:
        if self.n_tensors is None:
            self.n_tensors = self.n_vectors if self.l_max == 2 else 0

    def validate(self) -> None:
        if self.l_max == 1 and self.n_tensors:
            raise ConfigError(f"n_tensors={self.n_tensors} needs l_max=2")
        if self.l_max not in (0, 1, 2):
            raise ConfigError(f"l_max must be 0, 1 or 2, got {self.l_max}")
        if self.radial_basis not in RADIAL_BASES:
            raise ConfigError(
                f"unknown radial_basis {self.radial_basis!r}; available: {', '.join(RADIAL_BASES)}"
            )
        for name in ("n_features", "n_scalars", "n_interactions", "n_basis", "radial_hidden"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        for name in ("n_vectors", "n_tensors", "radial_layers"):
            if (getattr(self, name) or 0) < 0:
                raise ConfigError(f"{name} must be ≥ 0, got {getattr(self, name)}")
        if self.cutoff <= 0 or self.avg_num_neighbors <= 0 or self.beta <= 0:
            raise ConfigError("cutoff, avg_num_neighbors and beta must be positive")

    def multiplicities(self) -> list[int]:
        """Channels per degree of the hidden layers: [u0, u1(, u2)], or L0Net's [u0 + 3u1 + 5u2]."""
        u2 = self.n_tensors or 0
        if self.l_max == 0:
            return [self.n_scalars + 3 * self.n_vectors + 5 * u2]
        return [self.n_scalars, self.n_vectors, u2][: self.l_max + 1]


class TFN(nn.Module):
    """Tensor field network representation (build it with :func:`L0Net` or :func:`L1Net`)."""

    def __init__(self, config: TFNConfig):
        super().__init__()
        config.validate()
        self.config = cfg = config
        self.cutoff = cfg.cutoff
        self.irreps_sh = sh_irreps(cfg.l_max, cfg.parity)
        self.irreps_hidden = hidden_irreps(cfg.multiplicities(), cfg.parity)
        radial = {
            "kind": cfg.radial_basis,
            "n_basis": cfg.n_basis,
            "cutoff": cfg.cutoff,
            "hidden": cfg.radial_hidden,
            "n_layers": cfg.radial_layers,
            "beta": cfg.beta,
        }
        self.embedding = nn.Embedding(cfg.max_z, cfg.n_features)
        irreps = o3.Irreps(f"{cfg.n_features}x0e")
        layers = []
        for _ in range(cfg.n_interactions):
            layers.append(
                TFNLayer(
                    irreps,
                    self.irreps_sh,
                    self.irreps_hidden,
                    radial,
                    cfg.avg_num_neighbors,
                    cfg.beta,
                    cfg.self_connection,
                )
            )
            irreps = layers[-1].irreps_out
        self.layers = nn.ModuleList(layers)
        self.output_gate = GatedBlock(o3.Irreps(f"{cfg.n_features}x0e"), cfg.beta)
        self.output = TFNConvolution(
            irreps,
            self.irreps_sh,
            self.output_gate.irreps_in,
            radial,
            cfg.avg_num_neighbors,
            cfg.self_connection,
        )
        blocks = zip(self.irreps_hidden, self.irreps_hidden.slices(), strict=True)
        l1 = [(s, mul) for (mul, ir), s in blocks if ir.l == 1]
        self._l1_slice, self.n_vector_out = l1[0] if l1 else (slice(0, 0), 0)
        self.n_vector_features = self.n_vector_out  # vector channels the heads see (u₁)
        self.register_buffer("to_cartesian", l1_to_cartesian(), persistent=False)
        self._buffer_dtype = torch.float32

    def hyperparameters(self) -> dict:
        return asdict(self.config)

    def irreps(self) -> list[o3.Irreps]:
        """Irreps of the features after the embedding, each gated layer and the output convolution."""
        return (
            [o3.Irreps(f"{self.config.n_features}x0e")]
            + [layer.irreps_out for layer in self.layers]
            + [self.output_gate.irreps_out]
        )

    def _vectors(self, h: torch.Tensor) -> torch.Tensor:
        """The l = 1 block of the hidden irreps (N, u1·3), e3nn layout [channel][m] → (N, 3, u1) in x, y, z."""
        v = h[:, self._l1_slice].reshape(h.shape[0], self.n_vector_out, 3)
        return torch.einsum("cm,num->ncu", self.to_cartesian.to(h.dtype), v)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        dtype = self.embedding.weight.dtype
        if self._buffer_dtype != dtype:
            match_buffer_dtype(self, dtype)
            self._buffer_dtype = dtype
        z = batch[K.ATOMIC_NUMBERS]
        i, j = batch[K.EDGE_INDEX]
        vec = edge_vectors(batch)
        r = torch.linalg.vector_norm(vec, dim=-1)
        sh = spherical_harmonics(self.config.l_max, vec)
        h = self.embedding(z)
        for layer in self.layers:
            new = layer(h, sh, r, i, j)
            h = h + new if self.config.residual and layer.irreps_in == layer.irreps_out else new
        out = {K.SCALAR_FEATURES: self.output_gate(self.output(h, sh, r, i, j))}
        if self.n_vector_out:
            out[K.VECTOR_FEATURES] = self._vectors(h)
        return out


# L0Net's n_scalars at which it has L1Net's parameter count at the defaults (4.46 M vs 4.47 M):
# Miller et al. compare the two "for fixed network depth and parameter count".
L0NET_MATCHED_SCALARS = 33


def L0Net(**options) -> TFN:
    """Invariant TFN (l = 0 only): convolutions see distances, not directions (Miller et al.).

    Without an explicit ``n_scalars`` it has u0 = 33 + 3·u1 scalar channels, which matches the
    parameter count of :func:`L1Net` at the default sizes; for other sizes match the counts with
    :func:`equimol.param_count.match_parameters`."""
    options.setdefault("n_scalars", L0NET_MATCHED_SCALARS)
    if options.setdefault("l_max", 0) != 0:
        raise ConfigError(f"L0Net has l_max = 0 (use l1net for l_max ≥ 1), got l_max={options['l_max']}")
    return TFN(TFNConfig(**options))


def L1Net(**options) -> TFN:
    """Equivariant TFN with l = 0 and l = 1 features (``l_max=2`` adds l = 2) (Miller et al.)."""
    if options.setdefault("l_max", 1) not in (1, 2):
        raise ConfigError(f"L1Net needs l_max 1 or 2 (use l0net for l_max = 0), got l_max={options['l_max']}")
    return TFN(TFNConfig(**options))
