"""Filters evaluated once per unordered pair (collate's edge_pair / pair_edge) give the same
energies and forces as filters evaluated on every edge."""

import pytest
import torch

import equimol
from equimol import keys as K
from equimol.testing import make_batch

OPTIONS = {
    "so3krates": {"n_features": 16, "n_layers": 2, "n_heads": 2, "l_max": 2, "n_rbf": 8},
    "schnet": {"n_features": 16, "n_interactions": 2, "n_basis": 10},
    "painn": {"n_features": 16, "n_interactions": 2},
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_pair_filters_equal_edge_filters(name, mixed_structures):
    torch.manual_seed(0)
    model = equimol.build_model(name, **OPTIONS[name]).double()
    batch = make_batch(mixed_structures, 4.0)
    assert K.EDGE_PAIR in batch and batch[K.PAIR_EDGE].shape[0] * 2 == batch[K.EDGE_INDEX].shape[1]
    without = {k: v for k, v in batch.items() if k not in (K.EDGE_PAIR, K.PAIR_EDGE)}
    a, b = model(batch), model(without)
    torch.testing.assert_close(a[K.ENERGY], b[K.ENERGY], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(a[K.FORCES], b[K.FORCES], rtol=1e-12, atol=1e-12)
