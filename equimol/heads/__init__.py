"""Output heads: turn representation features into properties.

Every head is an ``nn.Module`` with ``outputs`` (the batch keys it adds) whose ``forward``
takes the batch (with features) and returns a dict of new keys; it never mutates its input.
"""

from __future__ import annotations

import importlib
import inspect

from torch import nn

from equimol.errors import ConfigError

# name -> "module:Class"; imported lazily so that optional heads cost nothing.
HEADS: dict[str, str] = {
    "energy": "equimol.heads.energy:EnergyHead",
    "dipole": "equimol.heads.dipole:DipoleHead",
    "dipole_magnitude": "equimol.heads.dipole:DipoleMagnitudeHead",
    "polarizability": "equimol.heads.polarizability:PolarizabilityHead",
    "tensor": "equimol.heads.tensor:TensorHead",
    "spatial_extent": "equimol.heads.spatial_extent:SpatialExtentHead",
}


def head_class(name: str) -> type[nn.Module]:
    try:
        module, cls = HEADS[name].split(":")
    except KeyError:
        raise ConfigError(f"unknown head {name!r}; available: {', '.join(HEADS)}") from None
    return getattr(importlib.import_module(module), cls)


def build_head(name: str, n_features: int, n_vector_features: int | None = None, **options) -> nn.Module:
    """Head ``name`` on F scalar features; ``n_vector_features`` (the representation's vector
    channels, where they differ from F) goes to heads that read vectors."""
    cls = head_class(name)
    if n_vector_features is not None and n_vector_features != n_features:
        params = inspect.signature(cls.__init__).parameters
        if "n_vector_features" in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
            options = {**options, "n_vector_features": n_vector_features}
    try:
        return cls(n_features, **options)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"head {name!r}: {e}") from None
