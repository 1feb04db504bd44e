import torch

from equimol import keys as K
from equimol.heads.spatial_extent import SpatialExtentHead
from tests.heads.conftest import build, transformed


def test_invariant_and_positive(batch, rotation):
    head = build(SpatialExtentHead)
    ref = head(batch)[K.SPATIAL_EXTENT]
    assert ref.shape == (3,) and (ref > 0).all()
    out = head(transformed(batch, rotation, shift=(5.0, -3.0, 2.0)))[K.SPATIAL_EXTENT]
    torch.testing.assert_close(out, ref)


def test_constant_populations_give_second_moment(batch):
    """With q_i = q for every atom, ⟨R²⟩ = q Σ_i |r_i − R_com|²."""
    head = build(SpatialExtentHead)
    last = head.net[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.constant_(last.bias, 2.0)
    head.set_scale(3.0)
    q = 3.0 * torch.nn.functional.softplus(torch.tensor(2.0, dtype=torch.float64))
    r = head.com(batch)
    expected = torch.zeros(3, dtype=torch.float64).index_add(0, batch[K.BATCH], q * (r**2).sum(-1))
    torch.testing.assert_close(head(batch)[K.SPATIAL_EXTENT], expected)


def test_works_without_vector_features(batch):
    scalars_only = {k: v for k, v in batch.items() if k != K.VECTOR_FEATURES}
    assert build(SpatialExtentHead)(scalars_only)[K.SPATIAL_EXTENT].shape == (3,)
