"""Parameter counts, and matching them between models (PaiNN Table IV ablations; L0Net vs L1Net).

``count_parameters(potential)``            number of trainable parameters;
``parameter_breakdown(potential)``         the same, per top-level submodule;
``match_parameters(name, target, vary=…)`` the integer value of one size option that brings a
                                           model's count closest to ``target`` (within 2 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from equimol.errors import ConfigError


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; buffers such as energy references are not counted."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def parameter_breakdown(module: nn.Module) -> dict[str, int]:
    """Trainable parameters per submodule, two levels deep (``representation.layers``, ``heads.0``, …)."""
    out: dict[str, int] = {}
    for name, p in module.named_parameters():
        if p.requires_grad:
            key = ".".join(name.split(".")[:2])
            out[key] = out.get(key, 0) + p.numel()
    return out


@dataclass
class ParameterMatch:
    """Result of :func:`match_parameters`: build the matched model with ``build_model(name, **options)``."""

    name: str
    vary: str
    value: int
    n_parameters: int
    target: int
    options: dict = field(default_factory=dict)

    @property
    def relative_error(self) -> float:
        return (self.n_parameters - self.target) / self.target


def _count(name: str, heads: Sequence, options: dict) -> int:
    from equimol.potential import build_model

    with torch.random.fork_rng(devices=[]):  # building draws random weights; leave the caller's RNG alone
        return count_parameters(build_model(name, heads=heads, **options))


def match_parameters(
    name: str,
    target: int,
    vary: str = "n_features",
    tolerance: float = 0.02,
    heads: Sequence = ("energy",),
    low: int = 1,
    high: int = 4096,
    **options,
) -> ParameterMatch:
    """The value of the integer option ``vary`` in [low, high] whose model (representation + heads)
    has the parameter count closest to ``target``: doubling from ``low``, then bisection (counts
    grow with any size option; doubling keeps the largest model built near the answer).

    Example: an invariant PaiNN (``vectors=False``) as large as the full one::

        full = count_parameters(build_model("painn"))
        m = match_parameters("painn", full, vary="n_features", vectors=False)
        build_model("painn", **m.options)

    Raises ConfigError when no value comes within ``tolerance`` (relative) of the target.
    """
    if target < 1:
        raise ConfigError(f"target parameter count must be positive, got {target}")
    if vary in options:
        raise ConfigError(f"option {vary!r} is what match_parameters varies; do not pass it")
    cache: dict[int, int] = {}

    def count(value: int) -> int:
        if value not in cache:
            cache[value] = _count(name, heads, {**options, vary: value})
        return cache[value]

    lo, hi = None, low
    while count(hi) < target:  # double until the count reaches the target
        if hi >= high:
            raise ConfigError(
                f"{name}: {vary}={hi} gives {count(hi)} parameters, fewer than the target {target}"
            )
        lo, hi = hi, min(2 * hi, high)
    if lo is None:
        lo = hi
    while hi - lo > 1:  # bisection, keeping count(lo) < target ≤ count(hi)
        mid = (lo + hi) // 2
        if count(mid) < target:
            lo = mid
        else:
            hi = mid
    best = min((lo, hi), key=lambda v: abs(count(v) - target))
    match = ParameterMatch(name, vary, best, count(best), int(target), {**options, vary: best})
    if abs(match.relative_error) > tolerance:
        raise ConfigError(
            f"{name}: closest {vary}={best} gives {match.n_parameters} parameters, "
            f"{100 * match.relative_error:+.1f} % from the target {target} (tolerance {100 * tolerance:.0f} %)"
        )
    return match
