"""Weighted multi-target loss (PaiNN: (1−ρ)·E-loss + ρ·F-loss, ρ = 0.95)."""

from __future__ import annotations

import torch


def target_error(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean squared ("mse") or absolute ("mae") error over all components."""
    diff = pred - target.to(pred.dtype)
    return (diff**2).mean() if kind == "mse" else diff.abs().mean()


def loss_terms(
    pred: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    weights: dict[str, float],
    kind: str = "mse",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Σ_t w_t · error_t over targets present in both ``pred`` and ``batch``, and the per-target
    errors, all as tensors (no host synchronisation: traceable by ``torch.compile``).

    Energies enter in eV (float64 difference, then cast), forces in eV/Å per component.
    """
    total = None
    errors: dict[str, torch.Tensor] = {}
    for key, w in weights.items():
        if w == 0 or key not in pred or key not in batch:
            continue
        err = target_error(pred[key], batch[key], kind)
        errors[key] = err
        total = w * err if total is None else total + w * err
    if total is None:
        raise ValueError(f"no target of {sorted(weights)} is present in both predictions and data")
    return total, errors


def weighted_loss(
    pred: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    weights: dict[str, float],
    kind: str = "mse",
) -> tuple[torch.Tensor, dict[str, float]]:
    """:func:`loss_terms` with the per-target errors as floats."""
    total, errors = loss_terms(pred, batch, weights, kind)
    return total, {key: float(err.detach()) for key, err in errors.items()}


def backward_to_parameters(loss: torch.Tensor, parameters) -> None:
    """``loss.backward()``, restricted to the ``parameters`` that require gradients.

    In a force-training step the positions require gradients too (forces are −∂E/∂r), so a
    plain ``loss.backward()`` also computes ∂L/∂r, which no optimiser uses: for PaiNN the
    gradient of the radial basis (a matmul with a 21-wide result) and the position side of the
    second derivatives, about 2 ms of a 43 ms step on 10 ethanol frames
    (``benchmarks/ab/train_step.py``, benchmarks/README.md). The parameters' gradients are the
    same (accumulated into ``.grad`` as by ``backward()``).
    """
    inputs = [p for p in parameters if p.requires_grad]
    if inputs:
        torch.autograd.backward(loss, inputs=inputs)
