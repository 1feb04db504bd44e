"""The fast paths equal the plain model: compiled energy + forces, frozen parameters, MD adapter."""

import numpy as np
import pytest
import torch

import equimol
from equimol import keys as K
from equimol.benchmark.cases import build, freeze, make_batch
from equimol.benchmark.fast import CompiledPotential
from equimol.benchmark.systems import ring_polymer, water_droplet


def _random_molecules(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        m = int(rng.integers(3, 25))
        s = water_droplet(m, seed=seed + k)
        s[K.ATOMIC_NUMBERS] = rng.choice([1, 6, 7, 8], size=m).astype(np.int64)
        s[K.POSITIONS] = s[K.POSITIONS] + 0.1 * rng.standard_normal((m, 3))
        out.append(s)
    return out


@pytest.mark.parametrize("name", ["painn", "schnet"])
def test_compiled_equals_plain(name):
    model = build(name, n_features=16, n_interactions=2)
    batch = make_batch(_random_molecules(4), model.cutoff, torch.float32, "cpu")
    ref = model(batch)
    fast = CompiledPotential(model, backend="aot_eager")
    for _ in range(2):  # second call reuses the compiled graph
        out = fast(batch)
        torch.testing.assert_close(out[K.ENERGY], ref[K.ENERGY], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out[K.FORCES], ref[K.FORCES], atol=1e-5, rtol=1e-5)
    assert not out[K.FORCES].requires_grad


def test_compiled_rejects_training():
    fast = CompiledPotential(build("painn", n_features=8, n_interactions=1), backend="aot_eager")
    with pytest.raises(ValueError, match="inference"):
        fast({}, create_graph=True)


def test_frozen_parameters_same_forces():
    model = build("painn", n_features=16, n_interactions=2)
    batch = make_batch(_random_molecules(3, seed=3), model.cutoff, torch.float32, "cpu")
    ref = model(batch)
    out = freeze(model)(batch)
    torch.testing.assert_close(out[K.FORCES], ref[K.FORCES], atol=1e-6, rtol=1e-6)


def test_batched_ring_polymer_equals_single_beads():
    """64-bead-style batch: each bead alone gives the same forces as in the batch (float32, 1e-5)."""
    model = build("painn", n_features=16, n_interactions=2)
    base = _random_molecules(1, seed=5)[0]
    beads = ring_polymer(base, n_beads=5)
    batched = model(make_batch(beads, model.cutoff, torch.float32, "cpu"))
    n = len(base[K.ATOMIC_NUMBERS])
    for b, s in enumerate(beads):
        alone = model(make_batch([s], model.cutoff, torch.float32, "cpu"))
        torch.testing.assert_close(
            batched[K.FORCES][b * n : (b + 1) * n], alone[K.FORCES], atol=1e-5, rtol=1e-5
        )


def test_model_force_fn_accepts_compiled_potential():
    from equimol.md.model_forces import ModelForceFn

    model = build("painn", n_features=16, n_interactions=2)
    base = _random_molecules(1, seed=9)[0]
    pos = torch.as_tensor(np.stack([s[K.POSITIONS] for s in ring_polymer(base, 3)]))
    ref = ModelForceFn(model, base[K.ATOMIC_NUMBERS])(pos)
    out = ModelForceFn(CompiledPotential(model, backend="aot_eager"), base[K.ATOMIC_NUMBERS])(pos)
    torch.testing.assert_close(out["forces"], ref["forces"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["energy"], ref["energy"], atol=1e-5, rtol=1e-5)


def test_float64_on_request():
    model = build("painn", dtype=torch.float64, n_features=16, n_interactions=2)
    batch = make_batch(_random_molecules(2), model.cutoff, torch.float64, "cpu")
    assert model(batch)[K.FORCES].dtype == torch.float64
    assert equimol  # the public API is importable alongside
