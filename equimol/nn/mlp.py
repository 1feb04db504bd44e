"""Small multilayer perceptrons."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.SiLU, bias_last: bool = True) -> nn.Sequential:
    """Dense layers ``sizes[0] → sizes[1] → …`` with ``activation`` between them (not after the last)."""
    layers: list[nn.Module] = []
    for k in range(len(sizes) - 1):
        last = k == len(sizes) - 2
        layers.append(nn.Linear(sizes[k], sizes[k + 1], bias=bias_last or not last))
        if not last:
            layers.append(activation())
    return nn.Sequential(*layers)
