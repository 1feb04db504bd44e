"""equimol: equivariant message-passing neural networks for molecules.

Internal units: Å, eV, e, amu, fs, K. See README.md for the quick start.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Calculator", "build_model", "load", "__version__"]


def __getattr__(name: str):
    # Lazy imports keep `import equimol` cheap and free of side effects.
    if name == "Calculator":
        from equimol.md.ase_calculator import Calculator

        return Calculator
    if name == "load":
        from equimol.io import load

        return load
    if name == "build_model":
        from equimol.potential import build_model

        return build_model
    raise AttributeError(f"module 'equimol' has no attribute {name!r}")
