"""Representations: map a batch to atomwise features (scalars (N,F), vectors (N,3,F)).

Select by name in configs; ``build_representation(name, **options)`` returns the module.
"""

from __future__ import annotations

import importlib

from torch import nn

from equimol.errors import ConfigError

MODELS: dict[str, str] = {
    "painn": "equimol.models.painn:PaiNN",
    "schnet": "equimol.models.schnet:SchNet",
    "so3krates": "equimol.models.so3krates:So3krates",
    "l0net": "equimol.models.tfn:L0Net",
    "l1net": "equimol.models.tfn:L1Net",
}


def build_representation(name: str, **options) -> nn.Module:
    try:
        module, cls = MODELS[name.lower()].split(":")
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(MODELS)}") from None
    try:
        klass = getattr(importlib.import_module(module), cls)
    except ModuleNotFoundError:
        raise ConfigError(f"model {name!r} is not available in this version of equimol") from None
    try:
        return klass(**options)
    except TypeError as e:
        raise ConfigError(f"model {name!r}: {e}") from None
