import numpy as np
import pytest
import torch
from e3nn import o3
from scipy.spatial.transform import Rotation

import equimol
from equimol import keys as K
from equimol.errors import ConfigError
from equimol.testing import ContractTests, make_batch

SMALL = {
    "n_features": 8,
    "n_scalars": 6,
    "n_vectors": 3,
    "n_interactions": 2,
    "n_basis": 8,
    "radial_hidden": 8,
    "avg_num_neighbors": 4.0,
}
# large enough that one more scalar channel changes the count by less than 2 %
PAIR = {**SMALL, "n_scalars": 48, "n_vectors": 12, "n_interactions": 1, "radial_hidden": 4, "n_basis": 4}


class TestL0Net(ContractTests):
    model_name = "l0net"
    options = SMALL


class TestL1Net(ContractTests):
    model_name = "l1net"
    options = SMALL
    parity_invariant = False  # SO(3) convolutions as in Miller et al.; `parity: true` for O(3)


class TestL1NetEveryHead(ContractTests):
    """Every head on L1Net's vectors (u₁ channels, not F): dipole, polarizability, tensor, ⟨R²⟩."""

    model_name = "l1net"
    options = SMALL
    heads = ("energy", "dipole", "polarizability", "tensor", "spatial_extent")
    parity_invariant = False


SMALL_L2 = {**SMALL, "l_max": 2, "n_tensors": 2}


class TestL1NetLmax2(ContractTests):
    model_name = "l1net"
    options = SMALL_L2
    parity_invariant = False


GAUSSIAN_RESIDUAL = {**SMALL, "radial_basis": "gaussian", "residual": True}
BESSEL_O3 = {**SMALL, "radial_basis": "bessel", "parity": True, "radial_layers": 1}


class TestL1NetGaussianResidual(ContractTests):
    model_name = "l1net"
    options = GAUSSIAN_RESIDUAL
    parity_invariant = False


class TestL1NetBesselO3(ContractTests):
    model_name = "l1net"
    options = BESSEL_O3


def _rep_irreps(model):
    """Every irreps attribute of every (e3nn) submodule of the representation."""
    found = []
    for module in model.representation.modules():
        for attr in ("irreps_in", "irreps_out", "irreps_in1", "irreps_in2"):
            value = getattr(module, attr, None)
            if isinstance(value, o3.Irreps) and len(value) > 0:
                found.append(value)
    return found


def test_l0net_is_invariant_internally(mixed_structures):
    model = equimol.build_model("l0net", **SMALL)
    irreps = _rep_irreps(model)
    assert irreps and all(ir.lmax == 0 for ir in irreps)
    # the 3·u1 extra scalars of the paper: u0 + 3 u1 channels, as many components as L1Net's
    l1 = equimol.build_model("l1net", **SMALL).representation
    assert model.representation.irreps_hidden.dim == l1.irreps_hidden.dim == 6 + 3 * 3
    feats = model.representation(make_batch(mixed_structures, 5.0, torch.float32))
    assert set(feats) == {K.SCALAR_FEATURES} and feats[K.SCALAR_FEATURES].shape == (24, 8)


@pytest.mark.parametrize("l_max", [1, 2])
def test_l1net_irreps(l_max):
    rep = equimol.build_model("l1net", l_max=l_max, **SMALL).representation
    assert str(rep.irreps_hidden) == ("6x0e+3x1e" if l_max == 1 else "6x0e+3x1e+3x2e")
    assert max(ir.lmax for ir in _rep_irreps(equimol.build_model("l1net", l_max=l_max, **SMALL))) == l_max


@pytest.mark.parametrize("options", [{}, {"l_max": 2}, {"parity": True}])
def test_vector_features_rotate_cartesian(options, mixed_structures):
    """VECTOR_FEATURES (N, 3, u1) are Cartesian: rotating the molecule rotates them, v → R v."""
    model = equimol.build_model("l1net", **{**SMALL, **options})
    for p in model.parameters():
        p.data = p.data.double()
    R = Rotation.random(random_state=4).as_matrix()
    moved = [{**s, K.POSITIONS: s[K.POSITIONS] @ R.T} for s in mixed_structures]
    v = model.representation(make_batch(mixed_structures, 5.0))[K.VECTOR_FEATURES]
    v_rot = model.representation(make_batch(moved, 5.0))[K.VECTOR_FEATURES]
    assert v.shape == (24, 3, 3) and float(v.detach().abs().max()) > 1e-3
    torch.testing.assert_close(
        v_rot, torch.einsum("ab,nbf->naf", torch.as_tensor(R), v), atol=1e-12, rtol=1e-9
    )


def test_parity_option_uses_o3_irreps():
    rep = equimol.build_model("l1net", parity=True, l_max=2, **SMALL).representation
    assert str(rep.irreps_hidden) == "6x0e+3x1o+3x2e"


@pytest.mark.parametrize("basis", ["cos2", "gaussian", "bessel"])
def test_radial_basis_vanishes_smoothly_at_cutoff(basis):
    from equimol.nn.radial_tfn import radial_basis

    f = radial_basis(basis, 10, 4.0)
    r = torch.tensor([4.0 - 1e-3, 4.0 - 1e-4, 4.0, 4.5], dtype=torch.float64, requires_grad=True)
    b = f(r)
    (grad,) = torch.autograd.grad(b.sum(), r)
    b = b.detach()
    assert float(b[:2].abs().max()) < 1e-4 and float(b[2:].abs().max()) < 1e-20
    assert float(grad[:2].abs().max()) < 1e-1 and float(grad[2:].abs().max()) < 1e-12


def test_cos2_basis_is_partition_of_unity():
    """Miller et al. Eq. 2: neighbouring cos² bumps sum to one (until the last bump's tail)."""
    from equimol.nn.radial_tfn import CosineBumpBasis

    f = CosineBumpBasis(84, 11.1)
    r = torch.linspace(0.0, 11.1 * 83 / 84, 500, dtype=torch.float64)
    torch.testing.assert_close(f(r).sum(-1), torch.ones_like(r))


def test_float32_after_float64(water):
    """Parameters cast back and forth with p.data = …: e3nn's constant buffers follow."""
    model = equimol.build_model("l1net", **SMALL)
    e32 = model(make_batch([water], 5.0, torch.float32))[K.ENERGY]
    for dtype in (torch.float64, torch.float32):
        for p in model.parameters():
            p.data = p.data.to(dtype)
        out = model(make_batch([water], 5.0, dtype))
        assert out[K.FORCES].dtype == dtype
    torch.testing.assert_close(out[K.ENERGY], e32)


@pytest.mark.parametrize("name", ["l0net", "l1net"])
def test_rebuild_from_hyperparameters(name):
    model = equimol.build_model(name, **SMALL)
    again = equimol.build_model(name, **model.representation.hyperparameters())
    assert again.representation.config == model.representation.config


@pytest.mark.parametrize(
    "name, bad",
    [
        ("l0net", {"l_max": 1}),
        ("l1net", {"l_max": 0}),
        ("l1net", {"l_max": 3}),
        ("l1net", {"radial_basis": "foo"}),
        ("l1net", {"n_tensors": 2}),
        ("l1net", {"n_scalars": 0}),
        ("l0net", {"width": 3}),
    ],
)
def test_bad_options(name, bad):
    with pytest.raises(ConfigError):
        equimol.build_model(name, **bad)


def test_paper_defaults():
    cfg = equimol.build_model("l1net").representation.config
    assert (cfg.n_basis, cfg.cutoff, cfg.radial_basis, cfg.l_max) == (84, 11.1, "cos2", 1)


def test_l0net_l1net_parameter_match():
    """L0Net widened (u0) to the parameter count of L1Net, within 2 % (the paper's fixed-size pairs)."""
    from equimol.param_count import count_parameters, match_parameters

    for l_max in (1, 2):
        target = count_parameters(equimol.build_model("l1net", l_max=l_max, **PAIR))
        options = {**PAIR, "n_vectors": 0, "n_tensors": 0}
        options.pop("n_scalars")
        match = match_parameters("l0net", target, vary="n_scalars", low=16, **options)
        n = count_parameters(equimol.build_model("l0net", **match.options))
        assert n == match.n_parameters and abs(n - target) <= 0.02 * target


def test_painn_ablation_parameter_match():
    """PaiNN Table IV: the invariant ablation (vectors=False) widened to the full model's size."""
    from equimol.param_count import count_parameters, match_parameters

    target = count_parameters(equimol.build_model("painn"))
    match = match_parameters("painn", target, vary="n_features", vectors=False)
    assert match.value > 128 and abs(match.relative_error) <= 0.02
    assert abs(count_parameters(equimol.build_model("painn", **match.options)) - target) <= 0.02 * target


def test_match_parameters_reports_impossible_targets():
    from equimol.param_count import match_parameters

    with pytest.raises(ConfigError):
        match_parameters("painn", 10**9, vary="n_features", high=64)
    with pytest.raises(ConfigError):
        match_parameters("painn", 1000, vary="n_features", n_features=8)


@pytest.mark.parametrize("parity", [False, True])
def test_mirror_images(parity, mixed_structures):
    """parity=True (O(3)) gives a mirror image the same energy; the paper's SO(3) networks need not."""
    ethanol = mixed_structures[1]  # distorted, hence chiral
    model = equimol.build_model("l1net", parity=parity, **SMALL)
    for p in model.parameters():
        p.data = p.data.double()
    mirrored = {**ethanol, K.POSITIONS: ethanol[K.POSITIONS] * np.array([-1.0, 1.0, 1.0])}
    e = model(make_batch([ethanol], 5.0))[K.ENERGY]
    e_mirror = model(make_batch([mirrored], 5.0))[K.ENERGY]
    assert torch.allclose(e, e_mirror, atol=1e-10) == parity


def test_cos2_basis_is_stationary_at_its_centres():
    """A property of Eq. 2 worth knowing: every bump and its neighbours have zero slope at r = μ_k,
    so any radial filter built on the cos² basis is stationary there (pair forces vanish at
    r = kΔ). The Gaussian and Bessel bases do not have this property."""
    from equimol.nn.radial_tfn import CosineBumpBasis, radial_basis

    f = CosineBumpBasis(8, 4.0)
    r = (f.centers[1:] + 0.0).requires_grad_(True)
    (grad,) = torch.autograd.grad(f(r).sum(-1).square().sum() + (f(r) * torch.arange(8.0).double()).sum(), r)
    assert float(grad.abs().max()) < 1e-12
    g = radial_basis("gaussian", 8, 4.0)
    (grad_g,) = torch.autograd.grad((g(r) * torch.arange(8.0).double()).sum(), r)
    assert float(grad_g.abs().max()) > 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gated_block_emits_no_subnormals(dtype):
    """Strongly negative pre-activations give exact zeros, not subnormal floats (which slow the
    CPU's matmuls 10-40x); ordinary values pass through unchanged."""
    from equimol.models.tfn_layers import GatedBlock

    block = GatedBlock(o3.Irreps("4x0e + 2x1e"), beta=5.0).to(dtype)
    x = torch.linspace(-200.0, 5.0, 4 + 2 + 6, dtype=dtype).repeat(50, 1)
    x = x + torch.linspace(0.0, 1.0, 50, dtype=dtype)[:, None]
    y = block(x)
    tiny = torch.finfo(dtype).tiny
    assert not ((y != 0) & (y.abs() < tiny)).any()
    from equimol.models.tfn_layers import FlushTiny

    act = FlushTiny(torch.nn.Softplus(beta=5.0))
    z = torch.tensor([-300.0, -20.0, -2.0, 0.0, 2.0], dtype=dtype)
    ref = torch.nn.functional.softplus(z, beta=5.0)
    out = act(z)
    assert out[0] == 0.0  # softplus would give a subnormal (float32) or ~1e-131 (float64)
    assert out[1] == 0.0 and ref[1] > 0.0  # exp(-100)/5 ≈ 7e-45 is below ε² in both dtypes
    torch.testing.assert_close(out[2:], ref[2:], rtol=0, atol=0)


def test_paper_defaults_and_parameter_matched_l0net():
    """Miller et al.: residual connections, 2 gated + 1 output convolutions, L0Net and L1Net
    compared at equal parameter counts (printed next to each other)."""
    from equimol.param_count import count_parameters

    l1 = equimol.build_model("l1net")
    l0 = equimol.build_model("l0net")
    cfg = l1.representation.config
    assert cfg.residual and cfg.n_interactions == 2 and cfg.radial_hidden == 128
    n0, n1 = count_parameters(l0), count_parameters(l1)
    assert abs(n0 / n1 - 1) < 0.01, f"L0Net {n0:,} vs L1Net {n1:,} parameters"
