"""Weighted multi-target loss (PaiNN: (1−ρ)·E-loss + ρ·F-loss, ρ = 0.95)."""

from __future__ import annotations

import torch


def target_error(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean squared ("mse") or absolute ("mae") error over all components."""
    diff = pred - target.to(pred.dtype)
    return (diff**2).mean() if kind == "mse" else diff.abs().mean()


def weighted_loss(
    pred: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], weights: dict[str, float], kind: str = "mse"
) -> tuple[torch.Tensor, dict[str, float]]:
    """Σ_t w_t · error_t over targets present in both ``pred`` and ``batch``.

    Energies enter in eV (float64 difference, then cast), forces in eV/Å per component.
    Returns the loss and the per-target errors as floats.
    """
    total = None
    parts: dict[str, float] = {}
    for key, w in weights.items():
        if w == 0 or key not in pred or key not in batch:
            continue
        err = target_error(pred[key], batch[key], kind)
        parts[key] = float(err.detach())
        total = w * err if total is None else total + w * err
    if total is None:
        raise ValueError(f"no target of {sorted(weights)} is present in both predictions and data")
    return total, parts
