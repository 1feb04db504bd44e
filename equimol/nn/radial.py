"""Radial basis functions of interatomic distance r (Å)."""

from __future__ import annotations

import math

import torch
from torch import nn

from equimol.nn.numerics import zero_tiny


class SineBasis(nn.Module):
    """sin(n π r / r_cut) / r for n = 1..K (PaiNN, "sinc" basis; Klicpera et al. 2020)."""

    def __init__(self, n_basis: int, cutoff: float):
        super().__init__()
        self.cutoff = float(cutoff)
        self.register_buffer("n", torch.arange(1, n_basis + 1, dtype=torch.float64), persistent=False)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        n = self.n.to(r.dtype)
        return torch.sin(r[:, None] * n * (math.pi / self.cutoff)) / r[:, None]


class GaussianBasis(nn.Module):
    """exp(−(r − μ_k)² / (2 w²)) with K centres evenly spaced on [start, cutoff] (SchNet)."""

    def __init__(self, n_basis: int, cutoff: float, start: float = 0.0, width: float | None = None):
        super().__init__()
        centers = torch.linspace(start, cutoff, n_basis, dtype=torch.float64)
        self.register_buffer("centers", centers, persistent=False)
        self.width = float(width if width is not None else (cutoff - start) / max(n_basis - 1, 1))

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        c = self.centers.to(r.dtype)
        return zero_tiny(torch.exp(-0.5 * ((r[:, None] - c) / self.width) ** 2))
