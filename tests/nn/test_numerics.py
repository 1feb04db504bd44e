"""Radial bases and activations emit exact zeros instead of subnormal floats."""

import pytest
import torch

from equimol.nn.numerics import zero_tiny
from equimol.nn.radial import GaussianBasis
from equimol.nn.radial_expnormal import ExpNormalBasis


def n_subnormal(y: torch.Tensor) -> int:
    return int(((y != 0) & (y.abs() < torch.finfo(y.dtype).tiny)).sum())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_tiny_threshold_is_eps_squared(dtype):
    eps2 = torch.finfo(dtype).eps ** 2
    y = torch.tensor([0.0, eps2 / 4, -eps2 / 4, 4 * eps2, -4 * eps2, 1.0], dtype=dtype)
    out = zero_tiny(y)
    assert out.tolist() == [0.0, 0.0, 0.0, 4 * eps2, -4 * eps2, 1.0]


def raw_basis(basis, r):
    """The basis without zeroing, in r's dtype."""
    if isinstance(basis, GaussianBasis):
        return torch.exp(-0.5 * ((r[:, None] - basis.centers.to(r.dtype)) / basis.width) ** 2)
    return torch.exp(-basis.beta * (torch.exp(-r)[:, None] - basis.centers.to(r.dtype)) ** 2)


@pytest.mark.parametrize(
    "basis", [GaussianBasis(50, 5.0), ExpNormalBasis(32, 5.0)], ids=["gaussian", "expnormal"]
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bases_have_no_subnormals_and_keep_values(basis, dtype):
    r = torch.linspace(0.3, 12.0, 5000, dtype=dtype)
    raw = raw_basis(basis, r)
    if dtype == torch.float32:
        assert n_subnormal(raw) > 0  # what the zeroing removes: the test is not vacuous
    y = basis(r)
    assert n_subnormal(y) == 0
    assert float((y - raw).abs().max()) < torch.finfo(dtype).eps ** 2
