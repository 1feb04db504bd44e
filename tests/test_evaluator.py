"""The one inference path: batches, the Verlet cache, dtype copies, stress and virial."""

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from ase.calculators.fd import calculate_numerical_stress

import equimol
from equimol import keys as K
from equimol.evaluator import Evaluator
from equimol.testing import ethanol, make_batch, mixed_structures


def _water_box(seed: int = 0) -> Atoms:
    """8 randomly oriented water molecules in a slightly skewed periodic cell (~6.2 Å)."""
    rng = np.random.default_rng(seed)
    atoms = Atoms()
    for x in range(2):
        for y in range(2):
            for z in range(2):
                m = molecule("H2O")
                m.rotate(rng.uniform(0, 360), rng.normal(size=3))
                m.translate(np.array([x, y, z]) * 3.1 + 1.0)
                atoms += m
    atoms.cell = np.eye(3) * 6.2 + 0.2 * rng.normal(size=(3, 3))
    atoms.pbc = True
    return atoms


def _model(name: str = "painn"):
    torch.manual_seed(0)
    options = {"n_features": 24} if name == "so3krates" else {"n_features": 16}
    return equimol.build_model(name, cutoff=4.0, **options)


@pytest.mark.parametrize("name", ["painn", "so3krates", "schnet"])
def test_ase_stress_equals_numerical_stress_of_a_water_box(name):
    atoms = _water_box()
    atoms.calc = equimol.Calculator(_model(name), dtype="float64", skin=0.0)
    stress = atoms.get_stress()
    numerical = calculate_numerical_stress(atoms, eps=1e-5)
    assert np.abs(numerical).max() > 1e-4  # a real, non-zero stress (eV/Å³)
    np.testing.assert_allclose(stress, numerical, atol=1e-8, rtol=1e-5)


def test_isolated_molecule_has_zero_stress_and_the_virial_of_its_forces():
    atoms = molecule("CH3CH2OH")
    atoms.calc = equimol.Calculator(_model(), dtype="float64")
    np.testing.assert_array_equal(atoms.get_stress(), np.zeros(6))
    ev = Evaluator(_model(), dtype=torch.float64, stress=True)
    (r,) = ev.predict([ethanol()])
    # without a cell, −∂E/∂ε = Σ_i r_i ⊗ F_i (symmetrised): the virial of the forces
    pos = ethanol()[K.POSITIONS]
    expected = pos.T @ r[K.FORCES]
    np.testing.assert_allclose(r[K.VIRIAL], 0.5 * (expected + expected.T), atol=1e-9)


def test_virial_is_minus_volume_times_stress():
    atoms = _water_box(1)
    s = {
        K.ATOMIC_NUMBERS: atoms.numbers,
        K.POSITIONS: atoms.positions,
        K.CELL: np.array(atoms.cell),
        K.PBC: atoms.pbc,
    }
    (r,) = Evaluator(_model(), dtype=torch.float64, stress=True).predict([s])
    np.testing.assert_allclose(r[K.VIRIAL], -atoms.get_volume() * r[K.STRESS], rtol=1e-10, atol=1e-12)


def test_verlet_cache_is_reused_and_exact():
    model = _model()
    ev = Evaluator(model, dtype=torch.float64, skin=0.5)
    mol = ethanol()
    pos = torch.as_tensor(mol[K.POSITIONS])[None]
    first = ev.predict_positions(pos, mol[K.ATOMIC_NUMBERS])
    moved = pos + 0.05
    second = ev.predict_positions(moved, mol[K.ATOMIC_NUMBERS])
    assert ev.n_builds == 1 and ev.n_calls == 2  # a rigid shift is within the skin
    fresh = ev.potential(make_batch([{**mol, K.POSITIONS: moved[0].numpy()}], model.cutoff))
    torch.testing.assert_close(second[K.ENERGY], fresh[K.ENERGY], atol=1e-10, rtol=0)
    torch.testing.assert_close(second[K.FORCES][0], fresh[K.FORCES], atol=1e-10, rtol=0)
    torch.testing.assert_close(first[K.ENERGY], second[K.ENERGY], atol=1e-10, rtol=0)  # a rigid shift
    ev.predict_positions(
        pos + torch.tensor([0.3, 0.0, 0.0]) * torch.arange(9)[:, None], mol[K.ATOMIC_NUMBERS]
    )
    assert ev.n_builds == 2  # atoms moved more than half the skin


def test_the_callers_model_is_never_changed():
    model = _model()
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    Evaluator(model, dtype=torch.float64).predict(mixed_structures())
    from equimol.spectra.derivatives import model_derivatives

    model_derivatives(model, ethanol(), relax=False)
    assert model.training and all(p.dtype == torch.float32 for p in model.parameters())
    for key, value in model.state_dict().items():
        assert value.dtype == before[key].dtype and torch.equal(value, before[key]), key


def test_predict_results_have_units_and_shapes():
    model = equimol.build_model("painn", n_features=16, heads=("energy", "dipole", "polarizability"))
    results = Evaluator(model).predict(mixed_structures(), batch_size=2)
    assert [r[K.FORCES].shape for r in results] == [(3, 3), (9, 3), (12, 3)]
    assert all(r[K.ENERGY].shape == () and r[K.DIPOLE].shape == (3,) for r in results)
    assert all(r[K.POLARIZABILITY].shape == (3, 3) and r[K.FORCES].dtype == np.float64 for r in results)
    with pytest.raises(ValueError, match="no structures"):
        Evaluator(model).batch([])


def test_ipi_evaluator_sends_the_virial_of_periodic_systems():
    from equimol.md.ipi import ModelEvaluator

    atoms = _water_box(2)
    model = _model()
    cells = np.array(atoms.cell)[None].repeat(2, 0)
    pos = np.stack([atoms.positions, atoms.positions + 0.01])
    periodic = ModelEvaluator(model, atoms.numbers, periodic=True, dtype=torch.float64)(cells, pos)
    s = {K.ATOMIC_NUMBERS: atoms.numbers, K.CELL: np.array(atoms.cell), K.PBC: atoms.pbc}
    ref = Evaluator(model, dtype=torch.float64, stress=True).predict([{**s, K.POSITIONS: p} for p in pos])
    for k in range(2):
        np.testing.assert_allclose(periodic[K.VIRIAL][k], ref[k][K.VIRIAL], atol=1e-10)
        np.testing.assert_allclose(periodic[K.FORCES][k], ref[k][K.FORCES], atol=1e-10)
    assert np.abs(periodic[K.VIRIAL]).max() > 1e-3
    molecule_out = ModelEvaluator(model, atoms.numbers[:3], dtype=torch.float64)(cells, pos[:, :3])
    np.testing.assert_array_equal(molecule_out[K.VIRIAL], np.zeros((2, 3, 3)))
