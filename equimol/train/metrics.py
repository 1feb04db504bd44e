"""Streaming MAE / RMSE accumulators per target."""

from __future__ import annotations

import math

import torch

from equimol import keys as K


class Metrics:
    """Accumulates Σ|e| and Σe² per target over batches; ``result()`` gives MAE and RMSE.

    Vector/tensor targets are averaged per component; ``dipole_magnitude`` compares norms.
    """

    def __init__(self, targets: list[str]):
        self.targets = list(targets)
        self.abs: dict[str, float] = {t: 0.0 for t in self.targets}
        self.sq: dict[str, float] = {t: 0.0 for t in self.targets}
        self.n: dict[str, int] = {t: 0 for t in self.targets}

    def update(self, pred: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> None:
        for t in self.targets:
            if t not in pred or t not in batch:
                continue
            diff = (pred[t].detach().double() - batch[t].detach().double()).reshape(-1)
            self.abs[t] += float(diff.abs().sum())
            self.sq[t] += float((diff**2).sum())
            self.n[t] += diff.numel()

    def result(self) -> dict[str, dict[str, float]]:
        out = {}
        for t in self.targets:
            if self.n[t]:
                out[t] = {
                    "mae": self.abs[t] / self.n[t],
                    "rmse": math.sqrt(self.sq[t] / self.n[t]),
                    "unit": K.TARGET_UNITS.get(t, ""),
                }
        return out
