"""Batches with synthetic features for testing heads without a representation.

Scalar features are random invariants; vector features are random vectors that are rotated
together with the positions, so an equivariant head must transform its outputs accordingly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from equimol import keys as K
from equimol.data.batch import collate

N_FEATURES = 16


def feature_batch(structures, n_features: int = N_FEATURES, seed: int = 0, dtype=torch.float64):
    batch = collate(structures, dtype=dtype)
    n = batch[K.POSITIONS].shape[0]
    g = torch.Generator().manual_seed(seed)
    batch[K.SCALAR_FEATURES] = torch.randn(n, n_features, generator=g, dtype=dtype)
    batch[K.VECTOR_FEATURES] = torch.randn(n, 3, n_features, generator=g, dtype=dtype)
    return batch


def transformed(batch, rotation: np.ndarray, shift=(0.0, 0.0, 0.0)):
    """The batch rotated by ``rotation`` (positions and vector features) and translated by ``shift`` Å."""
    R = torch.as_tensor(rotation, dtype=batch[K.POSITIONS].dtype)
    out = dict(batch)
    out[K.POSITIONS] = batch[K.POSITIONS] @ R.T + torch.as_tensor(shift, dtype=R.dtype)
    out[K.VECTOR_FEATURES] = torch.einsum("ab,nbf->naf", R, batch[K.VECTOR_FEATURES])
    return out


def build(head_cls, seed: int = 0, **options):
    torch.manual_seed(seed)
    return head_cls(N_FEATURES, **options).double()


@pytest.fixture
def rotation():
    return Rotation.random(random_state=7).as_matrix()


@pytest.fixture
def batch(mixed_structures):
    return feature_batch(mixed_structures)
