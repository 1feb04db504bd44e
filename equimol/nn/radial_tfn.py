"""Radial models of tensor field networks (Miller, Geiger, Smidt, Noé 2020, arXiv:2008.08461).

A radial model maps an interatomic distance r (Å) to the weights of a tensor-product
convolution: a fixed basis B_k(r), k = 1..K, followed by a bias-free MLP (e3nn
``FullyConnectedNet``) with shifted-softplus activations.

Bases (all vanish smoothly at r_cut, which the energy needs to be continuous with a continuous
force when an atom crosses the cutoff):

``cos2``      cos² bumps, Miller et al. Eq. 2 (e3nn's ``CosineBasisModel``):
              B_k(r) = cos²(π/2 · (r − μ_k)/Δ) for |r − μ_k| < Δ, else 0.
              Neighbouring bumps sum to one (cos² + sin² = 1), so the basis is a partition of
              unity. Centres μ_k = kΔ, k = 0..K−1, with Δ = r_cut / K: the paper's code places
              the K centres on linspace(0, r_cut, K), whose last bump is 1 at r_cut (a jump of
              the energy there); shifting the grid by one step makes the last bump end exactly
              at r_cut, where it is zero with zero slope.
``gaussian``  exp(−((r − μ_k)/σ)²) / 1.4231 with μ_k on linspace(0, r_cut, K), σ = 0.8Δ (the
              paper's ``GaussianRadialModel``, whose sum is ≈ 1), times the cosine cutoff.
``bessel``    sin(kπ r / r_cut) / r (k = 1..K; the paper's ``BesselRadialModel``), times the
              cosine cutoff.
"""

from __future__ import annotations

import math

import torch
from e3nn.nn import FullyConnectedNet
from torch import nn

from equimol.errors import ConfigError
from equimol.nn.cutoff import cosine_cutoff
from equimol.nn.radial import GaussianBasis, SineBasis

RADIAL_BASES = ("cos2", "gaussian", "bessel")
# Σ_k exp(−(x − k)²/0.8²) over integers k: ≈ 0.8 √π; dividing makes the Gaussian basis sum to ≈ 1.
GAUSSIAN_SUM = 1.423085244900308


class CosineBumpBasis(nn.Module):
    """K cos² bumps of half-width Δ = r_cut / K centred at 0, Δ, …, (K − 1)Δ (Miller et al. Eq. 2).

    Input r (E,) Å, output (E, K). Zero with zero derivative for r ≥ r_cut.
    """

    def __init__(self, n_basis: int, cutoff: float):
        super().__init__()
        if n_basis < 1:
            raise ConfigError(f"n_basis must be ≥ 1, got {n_basis}")
        self.cutoff = float(cutoff)
        self.step = self.cutoff / n_basis
        centers = torch.arange(n_basis, dtype=torch.float64) * self.step
        self.register_buffer("centers", centers, persistent=False)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        x = (r[:, None] - self.centers.to(r.dtype)) / self.step
        bump = torch.cos(0.5 * math.pi * x) ** 2
        return torch.where(x.abs() < 1.0, bump, torch.zeros_like(bump))


class EnvelopedBasis(nn.Module):
    """A basis multiplied by the cosine cutoff 0.5 (cos(π r / r_cut) + 1), so it vanishes smoothly."""

    def __init__(self, basis: nn.Module, cutoff: float, scale: float = 1.0):
        super().__init__()
        self.basis = basis
        self.cutoff = float(cutoff)
        self.scale = float(scale)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.basis(r) * (self.scale * cosine_cutoff(r, self.cutoff))[:, None]


def radial_basis(kind: str, n_basis: int, cutoff: float) -> nn.Module:
    """The basis ``kind`` ∈ {"cos2", "gaussian", "bessel"} with ``n_basis`` functions on [0, cutoff] Å."""
    if kind == "cos2":
        return CosineBumpBasis(n_basis, cutoff)
    if n_basis < 2:
        raise ConfigError(f"n_basis must be ≥ 2 for the {kind!r} basis, got {n_basis}")
    if kind == "gaussian":
        step = cutoff / (n_basis - 1)
        # GaussianBasis is exp(−(r − μ)²/(2w²)); the paper's σ = 0.8Δ in exp(−(r − μ)²/σ²) is w = σ/√2.
        gauss = GaussianBasis(n_basis, cutoff, width=0.8 * step / math.sqrt(2.0))
        return EnvelopedBasis(gauss, cutoff, scale=1.0 / GAUSSIAN_SUM)
    if kind == "bessel":
        return EnvelopedBasis(SineBasis(n_basis, cutoff), cutoff, scale=math.sqrt(2.0 / cutoff))
    raise ConfigError(f"unknown radial basis {kind!r}; available: {', '.join(RADIAL_BASES)}")


class ShiftedSoftplus(nn.Module):
    """ssp_β(x) = (softplus(βx) − ln 2)/β, zero at x = 0 (so a bias-free MLP maps 0 to 0)."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (nn.functional.softplus(self.beta * x) - math.log(2.0)) / self.beta


class RadialModel(nn.Module):
    """r (E,) Å → weights (E, n_out): basis, then a bias-free MLP ``[K, h × n_layers, n_out]``.

    The MLP is e3nn's ``FullyConnectedNet`` (weights ~ N(0, 1), each layer divided by √fan-in,
    activations normalised to unit second moment). Because the bases above sum to about one
    rather than having unit variance per component, the first layer is not divided by √K, as in
    the paper's code ("normalization assumes that the sum of the inputs is 1").

    The MLP has no biases and ssp(0) = 0, so the weights vanish where the basis does (r ≥ r_cut).
    """

    def __init__(
        self, kind: str, n_basis: int, cutoff: float, n_out: int, hidden: int, n_layers: int, beta: float
    ):
        super().__init__()
        self.basis = radial_basis(kind, n_basis, cutoff)
        sizes = [n_basis] + [hidden] * n_layers + [n_out]
        self.net = FullyConnectedNet(sizes, act=ShiftedSoftplus(beta), variance_in=1.0 / n_basis)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.net(self.basis(r))
