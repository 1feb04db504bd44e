"""Exp-normal radial basis of PhysNet (Unke & Meuwly 2019, Eq. 7; So3krates Eq. 30)."""

from __future__ import annotations

import math

import torch
from torch import nn

from equimol.nn.numerics import zero_tiny


class ExpNormalBasis(nn.Module):
    """g_k(r) = exp(−β (exp(−r) − μ_k)²), k = 1..K, r in Å.

    Centres μ_k evenly spaced on [exp(−r_cut), 1], width β = (2 (1 − exp(−r_cut)) / K)^−2
    (PhysNet defaults). No cutoff is applied here: So3krates multiplies the attention
    coefficients, not the basis, by the cutoff function, and the non-local corrections evaluate
    the basis beyond r_cut, where it tends smoothly to the constants exp(−β μ_k²).
    """

    def __init__(self, n_basis: int, cutoff: float):
        super().__init__()
        start = math.exp(-float(cutoff))
        centers = torch.linspace(start, 1.0, n_basis, dtype=torch.float64)
        self.register_buffer("centers", centers, persistent=False)
        self.beta = (2.0 * (1.0 - start) / n_basis) ** -2

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        mu = self.centers.to(r.dtype)
        return zero_tiny(torch.exp(-self.beta * (torch.exp(-r)[:, None] - mu) ** 2))
