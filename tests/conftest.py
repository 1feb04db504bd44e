"""Shared fixtures: small molecules (water, ethanol), a mixed batch, dtypes, and data files.

Tests read the small committed fixtures in ``tests/data/fixtures/`` (same layout and file names as
``shared/data``, fewer frames; provenance beside each). Tests that need the full reference sets
carry the ``shared_data`` marker: they run when the full data are present (``EQUIMOL_SHARED``, or
``../shared`` beside the checkout) and are deselected, with one summary line, when not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from equimol import testing

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "fixtures"  # mirrors shared/data, small
SHARED = Path(os.environ.get("EQUIMOL_SHARED") or ROOT.parent / "shared")
SHARED_DATA = SHARED / "data"  # the full sets, present in development checkouts only


def shared_data_present() -> bool:
    return (SHARED_DATA / "rmd17").is_dir() and (SHARED_DATA / "qm9").is_dir()


def pytest_configure(config):
    config.addinivalue_line("markers", "shared_data: needs the full reference data in ../shared/data")


def pytest_collection_modifyitems(config, items):
    if shared_data_present():
        return
    keep, skipped = [], []
    for item in items:
        (skipped if item.get_closest_marker("shared_data") else keep).append(item)
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = keep
        config._equimol_shared_deselected = len(skipped)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    n = getattr(config, "_equimol_shared_deselected", 0)
    if n:
        terminalreporter.write_line(
            f"{n} tests deselected: they need the full reference data, not found at {SHARED_DATA} "
            "(set EQUIMOL_SHARED to the folder holding data/); the fixtures in tests/data/fixtures cover the rest"
        )


@pytest.fixture
def water():
    return testing.water()


@pytest.fixture
def ethanol():
    return testing.ethanol()


@pytest.fixture
def mixed_structures():
    """Water, ethanol and benzene, slightly distorted: a batch of mixed sizes."""
    return testing.mixed_structures()


@pytest.fixture(params=["float32", "float64"])
def dtype_name(request):
    return request.param


def rmd17_path(molecule: str) -> Path:
    """The committed rMD17 fixture (split 01; ethanol 50 frames, aspirin 20)."""
    return FIXTURES / "rmd17" / f"rmd17_{molecule}_train_01.npz"


def shared_path(*parts: str) -> Path:
    """A file of the full reference data (only in tests marked ``shared_data``)."""
    return SHARED_DATA.joinpath(*parts)
