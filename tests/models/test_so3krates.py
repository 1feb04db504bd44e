import contextlib

import numpy as np
import pytest
import torch
from e3nn import o3
from scipy.spatial.transform import Rotation

import equimol
from equimol import keys as K
from equimol.errors import ConfigError
from equimol.models.so3krates import LEGACY_OPTIONS
from equimol.models.so3krates_layers import intramolecular_pairs, segment_softmax
from equimol.nn.so3 import CoupledProduct, DegreeOps, irreps, l1_to_cartesian, spherical_harmonics
from equimol.testing import ContractTests, make_batch

SMALL = {"n_features": 16, "n_layers": 2, "l_max": 2, "n_heads": 4}


def _pair_of_molecules(separation: float) -> dict:
    """Two CO molecules (1.13 Å) on the x axis, the gap between them (O···C) ``separation`` Å."""
    co = np.array([[0.0, 0, 0], [1.13, 0, 0]])
    return {
        K.ATOMIC_NUMBERS: np.array([6, 8, 6, 8]),
        K.POSITIONS: np.concatenate([co, co + [1.13 + separation, 0, 0]]),
    }


class PaperSphcInitContract(ContractTests):
    """The contract for the paper's SPHC initialisation (Eq. 11, C_i = Σ_j φ_rcut(r_ij)).

    Eq. 11 averages the neighbour directions, so an atom that loses its *last* neighbour at r_cut
    jumps from χ = Y(r̂) (unit norm per degree) to χ = 0, and with it the energy: the contract's
    dimer test (two atoms crossing r_cut) cannot hold for the paper's network
    (:func:`test_paper_sphc_init_dimer_jumps_at_cutoff` measures the jump; the classes with
    ``sphc_init_offset=1`` below run the unmodified contract). This override checks continuity
    where the paper's network is continuous: two molecules separating across r_cut, every atom
    keeping a neighbour. Energy and forces tend to those of the separated molecules.
    """

    def test_smooth_at_cutoff(self):
        model = self.build()
        far = self.predict(model, [_pair_of_molecules(self.cutoff + 0.5)])
        for eps in (1e-3, 1e-4):
            near = self.predict(model, [_pair_of_molecules(self.cutoff - eps)])
            assert abs(float(near[K.ENERGY] - far[K.ENERGY])) < 1e3 * eps**2 + 1e-9
            assert float((near[K.FORCES] - far[K.FORCES]).abs().max()) < 1e2 * eps + 1e-9


class TestSo3krates(PaperSphcInitContract):
    model_name = "so3krates"
    options = SMALL


class TestSo3kratesEveryHead(PaperSphcInitContract):
    model_name = "so3krates"
    options = SMALL
    heads = ("energy", "dipole", "polarizability", "tensor", "spatial_extent")


class TestSo3kratesNonLocal(PaperSphcInitContract):
    model_name = "so3krates"
    options = {**SMALL, "non_local": True}


class TestSo3kratesLocalSlices(PaperSphcInitContract):
    model_name = "so3krates"
    options = {**SMALL, "local_slices": 3}


class TestSo3kratesL0To3(PaperSphcInitContract):
    model_name = "so3krates"
    options = {"n_features": 16, "n_layers": 1, "l_min": 0, "l_max": 3, "n_heads": 2, "radial_hidden": 16}


class TestSo3kratesSmoothSphcInit(ContractTests):
    """The full contract, dimer included, with C_i = 1 + Σ_j φ_rcut in Eq. 11."""

    model_name = "so3krates"
    options = {**SMALL, "sphc_init_offset": 1.0}


class TestSo3kratesSmoothSphcInitNonLocal(ContractTests):
    model_name = "so3krates"
    options = {**SMALL, "sphc_init_offset": 1.0, "non_local": True}


class TestSo3kratesLegacy(ContractTests):
    """equimol's earlier network (every deviating option), non-local corrections included."""

    model_name = "so3krates"
    options = {**SMALL, **LEGACY_OPTIONS, "non_local": True}


class TestSo3kratesUnparitied(PaperSphcInitContract):
    """All CG paths l2 ≥ l1 + 1 of Eq. 19 (``parity=False``), with non-zero CG weights: SE(3)
    only, mirror images differ."""

    model_name = "so3krates"
    options = {**SMALL, "l_max": 3, "n_features": 12, "n_heads": 2, "parity": False}
    parity_invariant = False

    def build(self, dtype: torch.dtype = torch.float64):
        model = super().build(dtype)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("coupled.k"):
                    p.copy_(torch.linspace(-0.5, 0.5, len(p)))
        return model


def test_paper_sphc_init_dimer_jumps_at_cutoff():
    """With Eq. 11 as the paper writes it, a dimer's energy jumps where the bond crosses r_cut
    (χ = Y(r̂) inside, 0 outside); with ``sphc_init_offset=1`` it is continuous."""
    jumps = {}
    for offset in (0.0, 1.0):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = equimol.build_model("so3krates", **SMALL, sphc_init_offset=offset).double()

        def energy(r, model=model):
            s = {K.ATOMIC_NUMBERS: np.array([6, 8]), K.POSITIONS: np.array([[0.0, 0, 0], [r, 0, 0]])}
            return float(model(make_batch([s], model.cutoff))[K.ENERGY].detach())

        jumps[offset] = abs(energy(model.cutoff - 1e-6) - energy(model.cutoff + 0.5))
    assert jumps[0.0] > 1e-3 and jumps[1.0] < 1e-9, jumps


def _representation(non_local=False, **extra):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        rep = equimol.build_model("so3krates", **{**SMALL, "non_local": non_local, **extra}).representation
    return rep.double().eval()


def _rotated(structures, R, shift=(0.4, -1.1, 0.7)):
    return [{**s, K.POSITIONS: s[K.POSITIONS] @ R.T + np.asarray(shift)} for s in structures]


@contextlib.contextmanager
def _e3nn_float64():
    """e3nn builds Wigner-D matrices with the default dtype (float32 precision otherwise)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def wigner_d(irrep, R) -> torch.Tensor:
    with _e3nn_float64():
        return irrep.D_from_matrix(torch.as_tensor(R, dtype=torch.float64))


def _block_d(degrees, R):
    """Wigner-D matrices of the SPHC blocks for the (possibly improper) 3×3 matrix R."""
    return [wigner_d(o3.Irrep(l, (-1) ** l), R) for l in degrees]


def test_l1_component_order_matches_cartesian():
    """e3nn's l = 1 basis (ordering and sign) is mapped consistently onto Cartesian x, y, z."""
    M = l1_to_cartesian()
    v = torch.randn(5, 3, dtype=torch.float64)
    unit = v / v.norm(dim=1, keepdim=True)
    torch.testing.assert_close(spherical_harmonics([1], v) @ M.T, unit)
    R = torch.as_tensor(Rotation.random(random_state=4).as_matrix())
    D = wigner_d(o3.Irrep(1, -1), R)
    torch.testing.assert_close(M @ D @ M.T, R)


@pytest.mark.parametrize("non_local", [False, True])
@pytest.mark.parametrize("improper", [False, True])
def test_sphc_transform_with_wigner_d(mixed_structures, non_local, improper):
    """SPHCs of every layer obey χ^(l)(R x) = D^(l)(R) χ^(l)(x) block by block (Eqs. 21–25), also for
    reflections (parity-respecting CG paths); norms per degree and features are invariant."""
    rep = _representation(non_local)
    R = Rotation.random(random_state=2).as_matrix() * (-1.0 if improper else 1.0)
    b0 = make_batch(mixed_structures, rep.cutoff)
    b1 = make_batch(_rotated(mixed_structures, R), rep.cutoff)
    f0, rec0 = rep(b0, return_intermediates=True)
    f1, rec1 = rep(b1, return_intermediates=True)
    Ds = _block_d(rep.degrees, R)
    for r0, r1 in zip(rec0, rec1, strict=False):
        for key in ("sphc_in", "sphc"):
            start = 0
            for l, D in zip(rep.degrees, Ds, strict=False):
                a, b = r0[key][:, start : start + 2 * l + 1], r1[key][:, start : start + 2 * l + 1]
                torch.testing.assert_close(b, a @ D.T, atol=1e-10, rtol=1e-8)
                torch.testing.assert_close(b.norm(dim=1), a.norm(dim=1), atol=1e-10, rtol=1e-8)
                start += 2 * l + 1
        torch.testing.assert_close(r1["features"], r0["features"], atol=1e-10, rtol=1e-8)
    torch.testing.assert_close(f1[K.SCALAR_FEATURES], f0[K.SCALAR_FEATURES], atol=1e-10, rtol=1e-8)
    v0, v1 = f0[K.VECTOR_FEATURES], f1[K.VECTOR_FEATURES]
    torch.testing.assert_close(v1, torch.einsum("ab,nbf->naf", torch.as_tensor(R), v0), atol=1e-10, rtol=1e-8)


def test_whole_layout_matches_irreps_d(ethanol):
    rep = _representation(l_min=0, l_max=3, n_heads=2)
    R = Rotation.random(random_state=5).as_matrix()
    chi0 = rep(make_batch([ethanol], rep.cutoff), return_intermediates=True)[1][-1]["sphc"]
    chi1 = rep(make_batch(_rotated([ethanol], R), rep.cutoff), return_intermediates=True)[1][-1]["sphc"]
    D = wigner_d(irreps(rep.degrees), R)
    torch.testing.assert_close(chi1, chi0 @ D.T, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("rule", ["paper", "symmetric"])
@pytest.mark.parametrize("parity", [True, False])
def test_coupled_product_equivariant(rule, parity):
    degrees = (1, 2, 3)
    cp = CoupledProduct(degrees, parity, rule).double()
    with torch.no_grad():
        cp.k.normal_()
    x = torch.randn(4, 15, dtype=torch.float64)
    D = wigner_d(irreps(degrees), Rotation.random(random_state=7).as_matrix())
    torch.testing.assert_close(cp(x @ D.T), cp(x) @ D.T, atol=1e-10, rtol=1e-8)
    assert cp(x).abs().sum() > 0


def test_degree_ops():
    ops = DegreeOps((1, 2))
    x = torch.arange(8.0)[None]
    torch.testing.assert_close(ops.sq_norms(x), torch.tensor([[0.0 + 1 + 4, 9 + 16 + 25 + 36 + 49]]))
    torch.testing.assert_close(ops.expand(torch.tensor([[1.0, 2.0]])), torch.tensor([[1.0] * 3 + [2.0] * 5]))


def test_intramolecular_pairs_and_segment_softmax():
    n = torch.tensor([1, 3, 2])
    pairs = intramolecular_pairs(n)
    expected = {(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2), (4, 5), (5, 4)}
    assert set(map(tuple, pairs.T.tolist())) == expected and pairs.shape[1] == len(expected)
    x = torch.randn(pairs.shape[1], dtype=torch.float64)
    s = segment_softmax(x, pairs[0], 6)
    with_self = segment_softmax(x, pairs[0], 6, self_logit=0.0)
    for i in range(6):
        sel = pairs[0] == i
        if sel.any():
            torch.testing.assert_close(s[sel], torch.softmax(x[sel], 0))
            # the row with its diagonal entry 0 (Eq. 14: χ_ii = 0), diagonal not returned
            torch.testing.assert_close(
                with_self[sel], torch.softmax(torch.cat([x[sel], x.new_zeros(1)]), 0)[:-1]
            )


@pytest.mark.parametrize("non_local", [False, True])
def test_permutation_equivariant_sphc(ethanol, non_local):
    rep = _representation(non_local)
    perm = np.random.default_rng(1).permutation(len(ethanol[K.ATOMIC_NUMBERS]))
    _, r0 = rep(make_batch([ethanol], rep.cutoff), return_intermediates=True)
    _, r1 = rep(make_batch([{k: v[perm] for k, v in ethanol.items()}], rep.cutoff), return_intermediates=True)
    torch.testing.assert_close(r1[-1]["sphc"], r0[-1]["sphc"][torch.as_tensor(perm)], atol=1e-10, rtol=1e-8)
    p = torch.as_tensor(perm)
    torch.testing.assert_close(r1[-1]["features"], r0[-1]["features"][p], atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("non_local", [False, True])
def test_molecule_alone_equals_in_batch(mixed_structures, non_local):
    """Features and SPHCs of a molecule do not depend on the other molecules of the batch."""
    rep = _representation(non_local)
    both, _ = rep(make_batch(mixed_structures, rep.cutoff), return_intermediates=True)
    n0 = 0
    for s in mixed_structures:
        n = len(s[K.ATOMIC_NUMBERS])
        alone = rep(make_batch([s], rep.cutoff))
        for key in (K.SCALAR_FEATURES, K.VECTOR_FEATURES):
            torch.testing.assert_close(both[key][n0 : n0 + n], alone[key], atol=1e-10, rtol=1e-8)
        n0 += n


def test_non_local_reaches_beyond_cutoff(water):
    """Two water molecules 20 Å apart in one structure interact only through the non-local path."""
    far = {
        K.ATOMIC_NUMBERS: np.concatenate([water[K.ATOMIC_NUMBERS]] * 2),
        K.POSITIONS: np.concatenate([water[K.POSITIONS], water[K.POSITIONS] + [20.0, 0, 0]]),
    }
    moved = {**far, K.POSITIONS: far[K.POSITIONS].copy()}
    moved[K.POSITIONS][3:] = water[K.POSITIONS] @ Rotation.random(random_state=3).as_matrix().T + [20.0, 0, 0]
    for non_local, changes in ((False, False), (True, True)):
        rep = _representation(non_local)
        a = rep(make_batch([far], rep.cutoff))[K.SCALAR_FEATURES][:3]
        b = rep(make_batch([moved], rep.cutoff))[K.SCALAR_FEATURES][:3]
        assert (not torch.allclose(a, b, atol=1e-9)) == changes


def test_non_local_rejects_periodic(water):
    rep = _representation(True)
    s = {**water, K.CELL: 10 * np.eye(3), K.PBC: np.array([True, True, True])}
    with pytest.raises(ConfigError, match="periodic"):
        rep(make_batch([s], rep.cutoff))


def test_default_hyperparameters_match_paper():
    rep = equimol.build_model("so3krates").representation
    cfg = rep.config
    assert (cfg.n_features, cfg.n_layers, cfg.cutoff, cfg.l_max, cfg.n_rbf) == (132, 6, 5.0, 3, 32)
    assert rep.degrees == (1, 2, 3) and not cfg.non_local
    assert equimol.build_model("so3krates", l_max=0).representation.degrees == (0,)
    # the paper's network: no deviating variant is on by default
    paper = {
        "rbf_envelope": "cosine",
        "sphc_norm": "norm",
        "sphc_init_offset": 0.0,
        "sphc_normalization": None,
        "non_local_features": False,
        "non_local_average": False,
        "non_local_diagonal": True,
        "coupling": "paper",
        "interaction": "paper",
        "chi_cut_kappa": 1.0,
    }
    assert {k: getattr(cfg, k) for k in paper} == paper
    assert set(LEGACY_OPTIONS) < set(paper)


@pytest.mark.parametrize(
    "options",
    [
        {"n_features": 15},
        {"l_min": 3, "l_max": 2},
        {"chi_cut_kappa": 0.0},
        {"sphc_normalization": -1.0},
        {"local_slices": 0},
        {"sphc_init_offset": -1.0},
        {"sphc_norm": "cubed"},
        {"rbf_envelope": "gaussian"},
        {"coupling": "all"},
        {"interaction": "mlp"},
    ],
)
def test_bad_config(options):
    with pytest.raises(ConfigError):
        equimol.build_model("so3krates", **options)


def test_hyperparameters_round_trip():
    model = equimol.build_model("so3krates", **SMALL, non_local=True)
    rebuilt = equimol.potential.build_potential(model.spec)
    assert rebuilt.representation.config == model.representation.config


def test_fit_energy_offset(mixed_structures):
    from equimol.train.energy_offset import fit_energy_offset, predict_energies

    model = equimol.build_model("so3krates", **SMALL).double().eval()
    true = {1: -13.6, 6: -1030.0, 8: -2040.0}
    pred = predict_energies(model, mixed_structures)
    labelled = [
        {**s, K.ENERGY: np.array(e + sum(true[int(z)] for z in s[K.ATOMIC_NUMBERS]))}
        for s, e in zip(mixed_structures, pred, strict=False)
    ]
    forces_before = model(make_batch(mixed_structures, model.cutoff))[K.FORCES]
    fitted = fit_energy_offset(model, labelled)
    assert set(fitted) == {1, 6, 8}
    after = predict_energies(model, labelled)
    np.testing.assert_allclose(after, [float(s[K.ENERGY]) for s in labelled], atol=1e-6)
    torch.testing.assert_close(model(make_batch(mixed_structures, model.cutoff))[K.FORCES], forces_before)


def test_inspect_and_plot(mixed_structures):
    from matplotlib.figure import Figure

    from equimol.inspect.so3krates import inspect_so3krates, plot_sphc_pca

    model = equimol.build_model("so3krates", **SMALL, non_local=True).double()
    batch = make_batch(mixed_structures, model.cutoff)
    info = inspect_so3krates(model, batch)
    E, N = batch[K.EDGE_INDEX].shape[1], batch[K.POSITIONS].shape[0]
    assert sorted(info) == [0, 1]
    assert info[0]["attention"].shape == (E, 4) and info[0]["sphc_attention"].shape == (E, 2)
    assert info[1]["sphc"].shape == (N, 8) and info[1]["nonlocal_weight"].ndim == 1
    fig = plot_sphc_pca(info[1]["sphc"], labels=batch[K.ATOMIC_NUMBERS])
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    with pytest.raises(ConfigError):
        inspect_so3krates(equimol.build_model("painn", n_features=8), batch)


@pytest.mark.parametrize(
    "plain, checkpointed, edge_pairs",
    [
        ({"non_local": True, "non_local_chunk": None}, {"non_local": True, "non_local_chunk": 7}, True),
        ({}, {"local_slices": 3}, True),  # filters per unordered pair, gathered in each slice
        ({}, {"local_slices": 4}, False),  # filters per edge, sliced
        ({"non_local": True}, {"non_local": True, "non_local_chunk": 7, "local_slices": 2}, True),
        # the non-local correction on features and SPHCs (four outputs per chunk)
        (
            {"non_local": True, "non_local_features": True, "non_local_chunk": None},
            {"non_local": True, "non_local_features": True, "non_local_chunk": 7},
            True,
        ),
    ],
)
def test_checkpointed_chunks_are_exact(mixed_structures, plain, checkpointed, edge_pairs):
    """Checkpointed chunks of non-local pairs or slices of local edges give the same energies,
    forces and (force-loss) weight gradients, also through the double backward of force training."""
    grads = []
    for options in (plain, checkpointed):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = equimol.build_model("so3krates", **SMALL, **options).double()
        model.train()
        batch = make_batch(mixed_structures, model.cutoff)
        if not edge_pairs:
            batch = {k: v for k, v in batch.items() if k not in (K.EDGE_PAIR, K.PAIR_EDGE)}
        out = model(batch)
        loss = out[K.ENERGY].sum() + (out[K.FORCES] ** 2).sum()
        g = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
        grads.append((out[K.ENERGY].detach(), out[K.FORCES].detach(), g))
    (e0, f0, g0), (e1, f1, g1) = grads
    torch.testing.assert_close(e1, e0)
    torch.testing.assert_close(f1, f0)
    for a, b in zip(g0, g1, strict=False):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(b, a)


@pytest.mark.parametrize("non_local", [False, True])
def test_float32_matches_float64(mixed_structures, non_local):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = equimol.build_model("so3krates", **SMALL, non_local=non_local).eval()
    out32 = model(make_batch(mixed_structures, model.cutoff, torch.float32))
    out64 = model.double()(make_batch(mixed_structures, model.cutoff, torch.float64))
    torch.testing.assert_close(out32[K.ENERGY], out64[K.ENERGY], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out32[K.FORCES].double(), out64[K.FORCES], atol=1e-4, rtol=1e-3)
