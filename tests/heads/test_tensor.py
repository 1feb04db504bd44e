import itertools

import numpy as np
import pytest
import torch

from equimol import keys as K
from equimol.errors import ConfigError
from equimol.heads.polarizability import PolarizabilityHead
from equimol.heads.tensor import TensorHead, isotropic_tensor
from tests.heads.conftest import build, transformed


def rotate(t: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """T'_{a…} = R_{aa'} … T_{a'…} for a batch of tensors (B, 3, …, 3)."""
    for axis in range(1, t.dim()):
        t = torch.movedim(torch.tensordot(t, R, dims=([axis], [1])), -1, axis)
    return t


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_equivariant_and_symmetric(batch, rotation, rank):
    head = build(TensorHead, rank=rank)
    ref = head(batch)[K.TENSOR]
    assert ref.shape == (3, *([3] * rank))
    out = head(transformed(batch, rotation, shift=(1.0, 1.0, -2.0)))[K.TENSOR]
    torch.testing.assert_close(out, rotate(ref, torch.as_tensor(rotation)))
    for perm in itertools.permutations(range(1, rank + 1)):
        torch.testing.assert_close(ref.permute(0, *perm), ref, atol=1e-12, rtol=0)


def test_without_positions_is_equivariant(batch, rotation):
    head = build(TensorHead, rank=2, positions=False, n_channels=2)
    ref = head(batch)[K.TENSOR]
    out = head(transformed(batch, rotation))[K.TENSOR]
    R = torch.as_tensor(rotation)
    torch.testing.assert_close(out, R @ ref @ R.T)


@pytest.mark.parametrize("rank", [2, 4, 6])
def test_isotropic_tensor_is_rotation_invariant(rank, rotation):
    iso = torch.as_tensor(isotropic_tensor(rank))[None]
    torch.testing.assert_close(rotate(iso, torch.as_tensor(rotation)), iso)
    if rank == 4:
        d = np.eye(3)
        expected = (
            np.einsum("ab,cd->abcd", d, d) + np.einsum("ac,bd->abcd", d, d) + np.einsum("ad,bc->abcd", d, d)
        ) / 3
        np.testing.assert_allclose(isotropic_tensor(4), expected)


def test_rank2_matches_polarizability_shape(batch):
    assert (
        build(TensorHead, rank=2)(batch)[K.TENSOR].shape
        == build(PolarizabilityHead)(batch)["polarizability"].shape
    )


def test_bad_options():
    with pytest.raises(ConfigError, match="rank"):
        TensorHead(16, rank=0)
    with pytest.raises(ConfigError, match="rank"):
        TensorHead(16, rank=7)
    with pytest.raises(ConfigError, match="n_channels"):
        TensorHead(16, n_channels=0)
