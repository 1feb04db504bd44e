"""The compiled training step (equimol.train.compiled) gives the eager step's gradients."""

import pytest
import torch

import equimol
from equimol import keys as K
from equimol.benchmark import cases
from equimol.benchmark.systems import rmd17
from equimol.errors import ConfigError
from equimol.train.compiled import CompiledLoss
from equimol.train.config import load_config
from equimol.train.loop import train
from tests.conftest import FIXTURES
from tests.train.test_training import small_config


def _setup(**options):
    torch.manual_seed(0)
    model = equimol.build_model("painn", n_features=16, n_interactions=2, cutoff=4.0, **options)
    frames = rmd17("ethanol", slice(0, 20, 5), data_dir=FIXTURES)
    batch = cases.make_batch(frames, model.cutoff, torch.float32, "cpu")
    return model, batch


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_loss_gradients_equal_eager(backend):
    torch._dynamo.reset()
    model, batch = _setup()
    compiled = CompiledLoss(model, cases.LOSS_WEIGHTS, backend=backend, dynamic=False)
    loss, pred = compiled(batch)
    ref_pred = model(batch, create_graph=False)
    torch.testing.assert_close(pred[K.FORCES], ref_pred[K.FORCES], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(pred[K.ENERGY], ref_pred[K.ENERGY], rtol=1e-6, atol=1e-5)
    got = cases.loss_gradients(model, batch, compiled)
    ref = cases.loss_gradients(model, batch)
    assert len(got) == len(ref) == len(list(model.parameters()))
    scale = max(float(g.abs().max()) for g in ref)
    for a, b in zip(got, ref, strict=False):
        assert float((a - b).abs().max()) <= 1e-4 * scale


def test_compiled_loss_without_forces_uses_properties_only():
    torch._dynamo.reset()
    model, batch = _setup()
    compiled = CompiledLoss(model, {K.ENERGY: 1.0}, kind="mae", backend="aot_eager")
    loss, pred = compiled(batch)
    assert K.FORCES not in pred
    ref = (model.properties(batch)[K.ENERGY] - batch[K.ENERGY]).abs().mean()
    torch.testing.assert_close(loss.double(), ref.double().detach(), rtol=1e-6, atol=1e-6)


def test_training_with_compile_follows_eager(tmp_path):
    torch._dynamo.reset()
    cfg_path = small_config(tmp_path, epochs=2)
    eager = load_config(cfg_path, [f"output_dir={tmp_path / 'eager'}"])
    comp = load_config(cfg_path, [f"output_dir={tmp_path / 'comp'}", "training.compile=aot_eager"])
    assert comp.training.compile == "aot_eager"
    train(eager, log=lambda *_: None)
    train(comp, log=lambda *_: None)
    rows = [
        [float(x) for x in (tmp_path / d / "log.csv").read_text().splitlines()[-1].split(",")[2:4]]
        for d in ("eager", "comp")
    ]
    assert rows[0] == pytest.approx(rows[1], rel=1e-4)  # train and validation loss of the last epoch


def test_compile_option_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="training.compile"):
        load_config(small_config(tmp_path), ["training.compile=5"])
    assert load_config(small_config(tmp_path), ["training.compile=true"]).training.compile is True
