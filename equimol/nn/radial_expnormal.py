"""Exp-normal radial basis of PhysNet (Unke & Meuwly 2019, Eq. 7; So3krates Eq. 30)."""

from __future__ import annotations

import math

import torch
from torch import nn

from equimol.nn.cutoff import cosine_cutoff, polynomial_cutoff
from equimol.nn.numerics import zero_tiny

ENVELOPES = (None, "cosine", "polynomial")


class ExpNormalBasis(nn.Module):
    """g_k(r) = φ_cut(r) · exp(−β (exp(−r) − μ_k)²), k = 1..K, r in Å.

    Centres μ_k evenly spaced on [exp(−r_cut), 1], width β = (2 (1 − exp(−r_cut)) / K)^−2
    (PhysNet defaults).

    ``envelope`` is the cutoff factor φ_cut of PhysNet Eq. 7 and So3krates Eq. 30: ``"cosine"``
    (0.5 (cos(π r / r_cut) + 1), the φ_rcut of So3krates), ``"polynomial"`` (p = 6), or ``None``
    for the bare basis, which tends smoothly to the constants exp(−β μ_k²) beyond r_cut (the
    default of this class, for callers that apply their own cutoff).
    """

    def __init__(self, n_basis: int, cutoff: float, envelope: str | None = None):
        super().__init__()
        if envelope not in ENVELOPES:
            raise ValueError(f"ExpNormalBasis: envelope must be one of {ENVELOPES}, got {envelope!r}")
        start = math.exp(-float(cutoff))
        centers = torch.linspace(start, 1.0, n_basis, dtype=torch.float64)
        self.register_buffer("centers", centers, persistent=False)
        self.beta = (2.0 * (1.0 - start) / n_basis) ** -2
        self.cutoff = float(cutoff)
        self.envelope = envelope

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        mu = self.centers.to(r.dtype)
        g = torch.exp(-self.beta * (torch.exp(-r)[:, None] - mu) ** 2)
        if self.envelope == "cosine":
            g = g * cosine_cutoff(r, self.cutoff)[:, None]
        elif self.envelope == "polynomial":
            g = g * polynomial_cutoff(r, self.cutoff)[:, None]
        return zero_tiny(g)
