"""Shared fixtures: small molecules (water, ethanol), a mixed batch, dtypes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from equimol import keys as K

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EQUIMOL_SHARED", ROOT.parent / "shared"))
RMD17 = SHARED / "data" / "rmd17"


def _molecule(name: str) -> dict[str, np.ndarray]:
    from ase.build import molecule

    a = molecule(name)
    return {K.ATOMIC_NUMBERS: a.numbers.astype(np.int64), K.POSITIONS: a.positions.astype(np.float64)}


@pytest.fixture
def water():
    return _molecule("H2O")


@pytest.fixture
def ethanol():
    return _molecule("CH3CH2OH")


@pytest.fixture
def mixed_structures():
    """Water, ethanol and benzene, slightly distorted: a batch of mixed sizes."""
    rng = np.random.default_rng(0)
    out = []
    for name in ("H2O", "CH3CH2OH", "C6H6"):
        s = _molecule(name)
        s[K.POSITIONS] = s[K.POSITIONS] + 0.05 * rng.standard_normal(s[K.POSITIONS].shape)
        out.append(s)
    return out


@pytest.fixture(params=["float32", "float64"])
def dtype_name(request):
    return request.param


def rmd17_path(molecule: str, split: str = "01") -> Path:
    path = RMD17 / f"rmd17_{molecule}_train_{split}.npz"
    if not path.exists():
        pytest.fail(f"shared data missing: {path}")
    return path
