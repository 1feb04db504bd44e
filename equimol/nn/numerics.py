"""Numerical hygiene shared by the models."""

from __future__ import annotations

import torch


def zero_tiny(y: torch.Tensor) -> torch.Tensor:
    """``y`` with entries smaller in magnitude than ε² of its dtype set to exactly zero
    (float32: 1.4e-14, float64: 4.9e-32).

    Gaussian and exp-normal radial bases and Softplus/Sigmoid of strongly negative inputs
    produce values far below float32's smallest normal number (1.2e-38): subnormal floats. CPUs
    process subnormal operands 10-100x slower, and matrix multiplications that read them (the
    filter networks and their backward) slow down with them: with them zeroed, SchNet energy +
    forces on 50 QM9 molecules took 49 instead of 62 ms (benchmarks/ab/subnormal_ab.py), an
    L0Net training step 0.54 instead of 2.3 s (benchmarks/ab/tfn_step.py). Entries below ε² are
    far below the precision of values of order one, so zeroing them
    changes nothing measurable, and it needs no process-wide flush-to-zero flag.
    """
    tiny = torch.finfo(y.dtype).eps ** 2
    return torch.where(y.abs() < tiny, torch.zeros_like(y), y)
