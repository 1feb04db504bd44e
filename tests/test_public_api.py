"""The public API used by independent checks: equimol.load, equimol.Calculator, build_model."""

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.optimize import BFGS

import equimol
from equimol.train.checkpoint import export_inference_checkpoint, save_checkpoint


@pytest.fixture
def checkpoint(tmp_path):
    model = equimol.build_model("painn", n_features=16, n_interactions=2)
    model.heads[0].set_statistics(0.5, torch.tensor([0, -13.0, 0, 0, 0, 0, -1000.0, 0, -2000.0]))
    path = tmp_path / "model.pt"
    save_checkpoint(path, model)
    return path


def test_load_returns_module_for_inference(checkpoint):
    model = equimol.load(checkpoint)
    assert isinstance(model, torch.nn.Module) and not model.training
    raw = torch.load(checkpoint, weights_only=True)  # no pickled objects
    assert set(raw) >= {"metadata", "model"}


def test_exported_checkpoint_drops_training_state_and_predicts_the_same(tmp_path):
    model = equimol.build_model("painn", n_features=16, n_interactions=2)
    src = tmp_path / "train.pt"
    save_checkpoint(src, model, training={"optimizer": {"lr": torch.tensor(1e-3)}, "epoch": 3})
    dst = export_inference_checkpoint(src, tmp_path / "inference.pt")
    raw = torch.load(dst, weights_only=True)
    assert set(raw) == {"metadata", "model"}
    atoms = molecule("CH3CH2OH")
    a = equimol.Calculator(src).get_potential_energy(atoms)
    b = equimol.Calculator(dst).get_potential_energy(atoms)
    assert a == pytest.approx(b, abs=1e-9)


def test_calculator_with_ase_optimizer(checkpoint):
    atoms = molecule("CH3CH2OH")
    atoms.calc = equimol.Calculator(str(checkpoint))
    e0 = atoms.get_potential_energy()
    f = atoms.get_forces()
    assert f.shape == (9, 3) and np.isfinite(e0)
    assert e0 == pytest.approx(2 * -1000 + 6 * -13 - 2000, abs=50)
    BFGS(atoms, logfile=None).run(fmax=0.5, steps=20)
    assert atoms.get_potential_energy() <= e0 + 1e-6


def test_calculator_rejects_bad_structures(checkpoint):
    atoms = molecule("H2O")
    atoms.positions[1] = atoms.positions[0] + 0.01
    atoms.calc = equimol.Calculator(str(checkpoint))
    with pytest.raises(ValueError, match="overlapping"):
        atoms.get_potential_energy()


def test_no_global_state_changed():
    before = (torch.get_default_dtype(), torch.get_num_threads())
    equimol.build_model("painn", n_features=8)
    assert (torch.get_default_dtype(), torch.get_num_threads()) == before


def test_heads_may_be_given_by_name_in_a_spec():
    """``heads: [energy, dipole]`` in a YAML config is the same as the dict form."""
    from equimol.potential import build_potential

    a = build_potential(
        {"model": {"name": "painn", "options": {"n_features": 8}}, "heads": ["energy", "dipole"]}
    )
    assert {"energy", "dipole", "forces"} <= set(a.outputs)
    assert a.spec["heads"] == [{"name": "energy"}, {"name": "dipole"}]
