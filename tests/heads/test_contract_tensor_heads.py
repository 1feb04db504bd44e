import torch

import equimol
from equimol import keys as K
from equimol.heads import HEADS
from equimol.testing import ContractTests, make_batch


class TestPaiNNTensorHeads(ContractTests):
    heads = ("energy", "dipole", "polarizability", "tensor", "spatial_extent")
    options = {"n_features": 16, "n_interactions": 2}


def test_every_registered_head_builds_and_runs(mixed_structures):
    model = equimol.build_model("painn", heads=list(HEADS), n_features=16, n_interactions=2)
    out = model(make_batch(mixed_structures, 5.0, torch.float32))
    for key in (
        K.ENERGY,
        K.FORCES,
        K.DIPOLE,
        K.DIPOLE_MAGNITUDE,
        K.POLARIZABILITY,
        "tensor",
        K.SPATIAL_EXTENT,
    ):
        assert key in out and torch.isfinite(out[key]).all()
    assert out[K.POLARIZABILITY].shape == (3, 3, 3) and out["tensor"].shape == (3, 3, 3)
