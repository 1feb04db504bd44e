import pytest
import torch

import equimol
from equimol import keys as K
from equimol.errors import ConfigError
from equimol.testing import ContractTests, make_batch

SMALL = {"n_features": 16, "n_interactions": 2, "n_basis": 12}


class TestSchNet(ContractTests):
    model_name = "schnet"
    options = SMALL


def test_default_hyperparameters():
    model = equimol.build_model("schnet")
    cfg = model.representation.config
    assert (cfg.n_features, cfg.n_interactions, cfg.n_basis, cfg.cutoff) == (128, 6, 50, 5.0)
    # embedding 12 800 + 6 × 72 448 (interactions) + energy head 8 321
    assert sum(p.numel() for p in model.parameters()) == 455_809


def test_scalar_features_only(mixed_structures):
    model = equimol.build_model("schnet", n_features=8, n_interactions=1)
    feats = model.representation(make_batch(mixed_structures, 5.0, torch.float32))
    assert set(feats) == {K.SCALAR_FEATURES}
    assert feats[K.SCALAR_FEATURES].shape == (3 + 9 + 12, 8)


def test_rebuild_from_hyperparameters():
    model = equimol.build_model("schnet", n_features=8, n_filters=12, n_interactions=1)
    again = equimol.build_model("schnet", **model.representation.hyperparameters())
    assert again.representation.config == model.representation.config


@pytest.mark.parametrize("bad", [{"n_interactions": 0}, {"cutoff": -1.0}, {"n_filter": 3}])
def test_bad_options(bad):
    with pytest.raises(ConfigError):
        equimol.build_model("schnet", **bad)
