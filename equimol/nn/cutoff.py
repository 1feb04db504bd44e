"""Cutoff functions f(r) that go smoothly to zero at r_cut (Å)."""

from __future__ import annotations

import math

import torch


def cosine_cutoff(r: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Behler cosine cutoff 0.5 (cos(π r / r_cut) + 1) for r < r_cut, else 0 (PaiNN Eq. 8)."""
    return torch.where(r < cutoff, 0.5 * (torch.cos(r * (math.pi / cutoff)) + 1.0), torch.zeros_like(r))


def polynomial_cutoff(r: torch.Tensor, cutoff: float, p: int = 6) -> torch.Tensor:
    """Smooth polynomial envelope (Klicpera et al. 2020), zero with p−1 derivatives at r_cut."""
    x = r / cutoff
    f = 1.0 - 0.5 * (p + 1) * (p + 2) * x**p + p * (p + 2) * x ** (p + 1) - 0.5 * p * (p + 1) * x ** (p + 2)
    return torch.where(x < 1.0, f, torch.zeros_like(r))
