"""The fast paths equal the plain model: compiled energy + forces, frozen parameters, MD adapter."""

import numpy as np
import pytest
import torch

import equimol
from equimol import keys as K
from equimol.benchmark.cases import build, freeze, make_batch
from equimol.benchmark.systems import ring_polymer, water_droplet
from equimol.compile import CompiledPotential


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


SMALL = {
    "painn": {"n_features": 16, "n_interactions": 2},
    "schnet": {"n_features": 16, "n_interactions": 2},
    "so3krates": {"n_features": 16, "n_layers": 2, "l_max": 2, "n_heads": 4},
}


def _small(name: str, **options):
    model = build(name, **{**SMALL[name], **options})
    with torch.no_grad():  # So3krates: non-zero CG coupling weights (zero at initialisation)
        for pname, p in model.named_parameters():
            if pname.endswith("coupled.k"):
                p.copy_(torch.linspace(-0.5, 0.5, len(p)))
    return model


@pytest.mark.parametrize("forces_by", ["func", "autograd"])
@pytest.mark.parametrize("name", ["painn", "schnet", "so3krates"])
def test_compiled_equals_plain(name, forces_by):
    model = _small(name)
    batch = make_batch(_random_molecules(4), model.cutoff, torch.float32, "cpu")
    ref = model(batch)
    fast = CompiledPotential(model, backend="aot_eager", forces_by=forces_by)
    for _ in range(2):  # second call reuses the compiled graph
        out = fast(batch)
        torch.testing.assert_close(out[K.ENERGY], ref[K.ENERGY], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out[K.FORCES], ref[K.FORCES], atol=1e-5, rtol=1e-5)
    assert not out[K.FORCES].requires_grad
    assert fast(batch, forces=False)[K.ENERGY].shape == ref[K.ENERGY].shape


def test_so3krates_inductor_equals_plain():
    """Inductor (C++ code generation) on a tiny So3krates. Without the model's restructured
    atomwise interaction and ``patch_inductor_mutation_renames``, inductor's CPU fusions dropped
    dependencies on scatter sums: forces off by 0.06 eV/Å for this model (energies by 0.1 eV for
    a similar one). About 30–45 s (compilation; the Python wrapper, cheaper than the default
    C++ one, on a loaded 2-core machine)."""
    opts = {"n_features": 12, "n_layers": 2, "l_max": 3, "n_heads": 2, "radial_hidden": 8}
    model = build("so3krates", **opts, spherical_hidden=8, n_rbf=4, parity=False)
    batch = make_batch(_random_molecules(2), model.cutoff, torch.float32, "cpu")
    ref = model(batch)
    out = CompiledPotential(model, options={"cpp_wrapper": False})(batch)
    torch.testing.assert_close(out[K.ENERGY], ref[K.ENERGY], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[K.FORCES], ref[K.FORCES], atol=1e-5, rtol=1e-5)


def test_painn_inductor_two_threads_equals_plain():
    """With more than one thread inductor generates parallel loops, and its vectorised atomic add
    of the energy head's float64 per-molecule sum failed to compile (torch 2.13); the head sums
    with a one-hot product while compiling. About 20-40 s."""
    model = _small("painn")
    batch = make_batch(_random_molecules(1), model.cutoff, torch.float32, "cpu")  # one molecule: B = 1
    ref = model(batch)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch._dynamo.reset()
        out = CompiledPotential(model, dynamic=False)(batch)
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(out[K.ENERGY], ref[K.ENERGY], atol=1e-5, rtol=1e-6)
    torch.testing.assert_close(out[K.FORCES], ref[K.FORCES], atol=1e-5, rtol=1e-5)


def test_compiled_rejects_training():
    fast = CompiledPotential(build("painn", n_features=8, n_interactions=1), backend="aot_eager")
    with pytest.raises(ValueError, match="inference"):
        fast({}, create_graph=True)
    with pytest.raises(ValueError, match="forces_by"):
        CompiledPotential(build("painn", n_features=8, n_interactions=1), forces_by="finite")


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


def test_compiled_returns_every_head_output():
    """Dipole and polarizability come out of the compiled graph with energy and forces, equal to
    the plain model's (equimol md --compile records them for spectra)."""
    model = build("painn", n_features=16, n_interactions=2, heads=("energy", "dipole", "polarizability"))
    batch = make_batch(_random_molecules(3, seed=4), model.cutoff, torch.float32, "cpu")
    ref = model(batch)
    fast = CompiledPotential(model, backend="aot_eager")
    assert set(fast.outputs) == set(model.outputs) >= {K.DIPOLE, K.POLARIZABILITY, K.FORCES}
    for forces in (True, False):
        out = fast(batch, forces=forces)
        assert set(out) == set(ref) - (set() if forces else {K.FORCES})
        for key, value in out.items():
            torch.testing.assert_close(value, ref[key], atol=1e-5, rtol=1e-5)
            assert not value.requires_grad


@pytest.mark.parametrize("fault", [None, "raises", "wrong dipole"])
def test_compile_checked_falls_back_to_eager(monkeypatch, fault):
    """equimol md --compile: a compiler error or a compiled graph whose numbers differ from the
    eager model's leaves the run eager, with the reason; a correct one is used."""
    import equimol.compile as C

    class Faulty(CompiledPotential):
        def __init__(self, potential, **kwargs):
            super().__init__(potential, backend="aot_eager")

        def forward(self, batch, forces=True, create_graph=None):
            if fault == "raises":
                raise RuntimeError("InductorError: no C++ compiler found\nmore lines")
            out = super().forward(batch, forces, create_graph)
            if fault == "wrong dipole":
                out[K.DIPOLE] = out[K.DIPOLE] * 1.5  # what a dropped scatter dependency looks like
            return out

    monkeypatch.setattr(C, "CompiledPotential", Faulty)
    model = build("painn", n_features=16, n_interactions=2, heads=("energy", "dipole"))
    base = _random_molecules(1, seed=11)[0]
    pos = torch.as_tensor(np.stack([s[K.POSITIONS] for s in ring_polymer(base, 3)]))
    chosen, why = C.compile_checked(model, base[K.ATOMIC_NUMBERS], pos)
    if fault is None:
        assert isinstance(chosen, Faulty) and why is None
    else:
        assert chosen is model
        assert (
            ("no C++ compiler" in why and "more lines" not in why) if fault == "raises" else "dipole" in why
        )


def test_float64_on_request():
    model = build("painn", dtype=torch.float64, n_features=16, n_interactions=2)
    batch = make_batch(_random_molecules(2), model.cutoff, torch.float64, "cpu")
    assert model(batch)[K.FORCES].dtype == torch.float64
    assert equimol  # the public API is importable alongside


def test_compile_checked_graph_serves_other_edge_counts(monkeypatch):
    """The graph compile_checked compiles and checks has symbolic sizes: a later call with another
    edge count (a neighbour-list rebuild in MD) runs it without compiling again."""
    import equimol.compile as C

    class AotEager(CompiledPotential):
        def __init__(self, potential, **kwargs):
            super().__init__(potential, backend="aot_eager", dynamic=kwargs.get("dynamic"))

    monkeypatch.setattr(C, "CompiledPotential", AotEager)
    torch._dynamo.reset()
    model = build("painn", n_features=16, n_interactions=2, cutoff=2.0)
    base = _random_molecules(1, seed=13)[0]
    start = torch.as_tensor(base[K.POSITIONS])[None]
    chosen, why = C.compile_checked(model, base[K.ATOMIC_NUMBERS], start)
    assert why is None and isinstance(chosen, AotEager)
    from torch._dynamo.utils import counters

    from equimol.md.model_forces import ModelForceFn

    frames = counters["stats"]["unique_graphs"]
    fn = ModelForceFn(chosen, base[K.ATOMIC_NUMBERS])
    stretched = start * 1.3  # some pairs leave the 2 Å cutoff: another edge count
    n_edges = [
        len(make_batch([s], 2.0, torch.float32, "cpu")[K.EDGE_INDEX][0])
        for s in (base, {**base, K.POSITIONS: stretched[0].numpy()})
    ]
    assert n_edges[0] != n_edges[1]
    out = fn(stretched)
    ref = ModelForceFn(model, base[K.ATOMIC_NUMBERS])(stretched)
    torch.testing.assert_close(out["forces"], ref["forces"], atol=1e-5, rtol=1e-5)
    assert counters["stats"]["unique_graphs"] == frames  # no new graph
