"""The optional ZBL repulsion of the energy head (equimol.nn.repulsion)."""

import math

import numpy as np
import pytest
import torch
from ase.data import covalent_radii

import equimol
from equimol import keys as K
from equimol.nn.repulsion import polynomial_envelope, zbl_energy
from equimol.testing import ContractTests, make_batch


def zbl_numpy(r, zi, zj):
    """ZBL (Ziegler, Biersack & Littmark 1985) transcribed independently: eV, Å."""
    a = 0.46850 / (zi**0.23 + zj**0.23)  # Å (0.8854 a_0)
    x = r / a
    phi = (
        0.18175 * np.exp(-3.1998 * x)
        + 0.50986 * np.exp(-0.94229 * x)
        + 0.28022 * np.exp(-0.4029 * x)
        + 0.02817 * np.exp(-0.20162 * x)
    )
    return 14.3996454784 * zi * zj / r * phi


def envelope_numpy(x, p=6):
    return np.where(
        x < 1,
        1 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2),
        0.0,
    )


def test_zbl_pair_energy_matches_the_formula():
    r = torch.tensor([0.3, 0.6, 1.0, 2.0], dtype=torch.float64)
    for zi, zj in ((1, 1), (8, 1), (6, 6)):
        got = zbl_energy(r, torch.full((4,), zi), torch.full((4,), zj)).numpy()
        np.testing.assert_allclose(got, zbl_numpy(r.numpy(), zi, zj), rtol=1e-9)
    # a hand check: O-H at 0.6 Å, a = 0.4685/(8^0.23 + 1) = 0.17957 Å
    a = 0.4685 / (8**0.23 + 1)
    x = 0.6 / a
    phi = sum(
        c * math.exp(-e * x)
        for c, e in ((0.18175, 3.1998), (0.50986, 0.94229), (0.28022, 0.4029), (0.02817, 0.20162))
    )
    assert float(
        zbl_energy(torch.tensor([0.6], dtype=torch.float64), torch.tensor([8]), torch.tensor([1]))
    ) == pytest.approx(14.399645478 * 8 / 0.6 * phi, rel=1e-12)


def test_envelope_is_one_at_zero_and_vanishes_smoothly_at_one():
    x = torch.tensor([0.0, 0.5, 1.0 - 1e-9, 1.0, 1.3], dtype=torch.float64, requires_grad=True)
    u = polynomial_envelope(x)
    np.testing.assert_allclose(u.detach().numpy(), envelope_numpy(x.detach().numpy()), atol=1e-12)
    v = u.detach()
    assert float(v[0]) == 1.0 and float(v[3]) == 0.0 and float(v[4]) == 0.0
    (du,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), x)
    assert abs(float(du[2].detach())) < 1e-12 and abs(float(d2u[2])) < 1e-5  # C2 at x = 1


def _small_painn(**energy_options):
    head = {"name": "energy", "options": energy_options}
    return equimol.build_model("painn", heads=[head], n_features=8, n_interactions=1).double().eval()


def _oh(r):
    return {K.ATOMIC_NUMBERS: np.array([8, 1]), K.POSITIONS: np.array([[0.0, 0.0, 0.0], [0.0, 0.0, r]])}


def test_energy_head_adds_the_switched_zbl_pair_energy():
    torch.manual_seed(0)
    plain = _small_painn()
    zbl = _small_painn(repulsion="zbl")
    zbl.load_state_dict(plain.state_dict())  # no weights of its own
    r_max = covalent_radii[8] + covalent_radii[1]
    for r in (0.45, 0.7, 0.9, r_max + 1e-6, 1.5):
        batch = make_batch([_oh(r)], 5.0)
        diff = float(zbl(batch)[K.ENERGY] - plain(batch)[K.ENERGY])
        expected = zbl_numpy(r, 8, 1) * envelope_numpy(r / r_max)
        assert diff == pytest.approx(float(expected), rel=1e-9, abs=1e-12), r
    # the wall: at 0.5 Å O-H the repulsion alone is tens of eV
    assert float(zbl_numpy(0.5, 8, 1) * envelope_numpy(0.5 / r_max)) > 20


def test_repulsion_forces_are_the_energy_gradient():
    model = _small_painn(repulsion="zbl")
    h = 1e-5
    batch = make_batch([_oh(0.7)], 5.0)
    f = float(model(batch)[K.FORCES][1, 2])
    e_plus = float(model(make_batch([_oh(0.7 + h)], 5.0))[K.ENERGY])
    e_minus = float(model(make_batch([_oh(0.7 - h)], 5.0))[K.ENERGY])
    assert f == pytest.approx(-(e_plus - e_minus) / (2 * h), rel=1e-6)
    assert f > 1.0  # pushed apart


def test_unknown_repulsion_is_a_clear_error():
    with pytest.raises(ValueError, match="repulsion must be 'zbl'"):
        equimol.build_model("painn", heads=[{"name": "energy", "options": {"repulsion": "lj"}}])


class TestPaiNNWithZBL(ContractTests):
    """Symmetry, gradients, batching, float32/64 and the evaluator path with the repulsion on."""

    heads = ({"name": "energy", "options": {"repulsion": "zbl"}},)
    options = {"n_features": 16, "n_interactions": 2}


def test_cutoff_factor_confines_the_repulsion_to_compressed_bonds():
    """f = 0.8: zero at the equilibrium O-H of ethanol (0.96 Å) and at 0.8 Å, on at 0.7 Å."""
    full, short = _small_painn(repulsion="zbl"), _small_painn(repulsion="zbl", repulsion_cutoff_factor=0.8)
    plain = _small_painn()
    short.load_state_dict(plain.state_dict())
    full.load_state_dict(plain.state_dict())
    r_max = 0.8 * (covalent_radii[8] + covalent_radii[1])
    for r in (0.7, 0.8, 0.96):
        batch = make_batch([_oh(r)], 5.0)
        diff = float(short(batch)[K.ENERGY] - plain(batch)[K.ENERGY])
        assert diff == pytest.approx(
            float(zbl_numpy(r, 8, 1) * envelope_numpy(r / r_max)), rel=1e-9, abs=1e-12
        )
    batch = make_batch([_oh(0.96)], 5.0)
    assert float(short(batch)[K.ENERGY] - plain(batch)[K.ENERGY]) == 0.0
    assert float(full(batch)[K.ENERGY] - plain(batch)[K.ENERGY]) > 0.0  # f = 1 reaches equilibrium
    with pytest.raises(ValueError, match="cutoff factor"):
        _small_painn(repulsion="zbl", repulsion_cutoff_factor=0.0)
