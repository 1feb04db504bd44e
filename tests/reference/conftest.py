"""Shared fixtures of the reference-data tests: small molecules as structure dicts (Å)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import molecule

from equimol import keys

Structure = dict[str, np.ndarray]


def make_structure(name: str, jitter: float = 0.0, seed: int = 0) -> Structure:
    """``ase.build.molecule(name)`` with Gaussian noise of ``jitter`` Å on the positions."""
    atoms = molecule(name)
    rng = np.random.default_rng(seed)
    return {
        keys.POSITIONS: atoms.positions + rng.normal(0.0, jitter, atoms.positions.shape),
        keys.ATOMIC_NUMBERS: atoms.numbers.astype(np.int64),
    }


@pytest.fixture
def water() -> Structure:
    return make_structure("H2O")


@pytest.fixture
def ethanol() -> Structure:
    return make_structure("CH3CH2OH", jitter=0.03, seed=1)


@pytest.fixture
def ethanol_frames() -> list[Structure]:
    return [make_structure("CH3CH2OH", jitter=0.05, seed=s) for s in range(6)]
