"""So3krates equations checked one by one against the paper's formulas written in plain NumPy
(Frank, Unke, Müller, NeurIPS 2022; equation numbers of the paper and its appendix).

Only the spherical harmonics of degree > 1 and the Clebsch–Gordan tensors are taken from e3nn;
for l = 1 the 'norm'-normalised Y^(1)(r̂) is the unit vector r̂ itself (in e3nn's component
order; compared in Cartesian form through ``sphc_l1_cartesian``).
"""

import numpy as np
import pytest
import torch
from e3nn import o3

import equimol
from equimol import keys as K
from equimol.models.so3krates import LEGACY_OPTIONS
from equimol.nn.radial_expnormal import ExpNormalBasis
from equimol.nn.so3 import CoupledProduct, coupling_paths
from equimol.param_count import count_parameters
from equimol.reference.molecules import cumulene
from equimol.testing import ethanol, make_batch, water

# --- the paper's functions in NumPy -------------------------------------------------------------


def np_cosine_cutoff(r, r_cut):
    """φ_rcut(r) = ½ (cos(π r / r_cut) + 1) for r < r_cut, else 0."""
    return np.where(r < r_cut, 0.5 * (np.cos(np.pi * r / r_cut) + 1.0), 0.0)


def np_polynomial_cutoff(x):
    """Eq. 29 with p = 6, in units of the cutoff: 1 − 28 x⁶ + 48 x⁷ − 21 x⁸ for x < 1, else 0."""
    return np.where(x < 1.0, 1.0 - 28.0 * x**6 + 48.0 * x**7 - 21.0 * x**8, 0.0)


def np_expnormal(r, n_rbf, r_cut):
    """Eq. 30 (PhysNet Eq. 7): φ_rcut(r) exp(−β (exp(−r) − μ_k)²), μ_k on [exp(−r_cut), 1],
    β = (2 (1 − exp(−r_cut)) / K)⁻²."""
    mu = np.linspace(np.exp(-r_cut), 1.0, n_rbf)
    beta = (2.0 * (1.0 - np.exp(-r_cut)) / n_rbf) ** -2
    return np_cosine_cutoff(r, r_cut)[..., None] * np.exp(-beta * (np.exp(-r)[..., None] - mu) ** 2)


def np_silu(x):
    return x / (1.0 + np.exp(-x))


def np_mlp2(net, x):
    """A two-layer SiLU MLP (Linear, SiLU, Linear) with the module's weights."""
    w1, b1 = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    w2, b2 = net[2].weight.detach().numpy(), net[2].bias.detach().numpy()
    return np_silu(x @ w1.T + b1) @ w2.T + b2


def np_geometry(pos):
    """d[i, j] = x_j − x_i, r[i, j], unit vectors r̂_ij (0 on the diagonal), off-diagonal mask."""
    d = pos[None, :, :] - pos[:, None, :]
    r = np.linalg.norm(d, axis=-1)
    off = ~np.eye(len(pos), dtype=bool)
    rhat = np.where(off[..., None], d / np.where(off, r, 1.0)[..., None], 0.0)
    return d, r, rhat, off


def np_sphc_init_l1(pos, r_cut, offset=0.0):
    """Eq. 11 for l = 1 (Cartesian): χ_i = Σ_j φ_rcut(r_ij) r̂_ij / (offset + Σ_j φ_rcut(r_ij)),
    0 for an atom without neighbours."""
    _, r, rhat, off = np_geometry(pos)
    w = np.where(off, np_cosine_cutoff(r, r_cut), 0.0)
    c = offset + w.sum(1)
    return np.where(c[:, None] > 0, (w[..., None] * rhat).sum(1) / np.where(c > 0, c, 1.0)[:, None], 0.0)


def np_phi_chi_cut(chi, kappa=1.0):
    """Eq. 14 with Eq. 29: χ_ij = ‖χ_i − χ_j‖ (n × n, diagonal 0), χ̃_ij = softmax_j(χ_ij) row-wise
    over all n entries, φ_χcut = polynomial cutoff of χ̃_ij at χ̃_cut = κ / n."""
    n = len(chi)
    dist = np.linalg.norm(chi[:, None, :] - chi[None, :, :], axis=-1)
    e = np.exp(dist)
    soft = e / e.sum(1, keepdims=True)
    return np_polynomial_cutoff(soft / (kappa / n))


def _build(seed=0, **options):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return equimol.build_model("so3krates", **options).double().eval()


def _dense(index, values, n):
    out = np.zeros((n, n))
    out[index[0].numpy(), index[1].numpy()] = values.detach().numpy()
    return out


# --- Eq. 14 (non-local correction) with Eq. 29 at χ̃_cut = 1/n, cumulene C9 ----------------------

CUMULENE = {"l_max": 1, "n_features": 16, "n_heads": 4, "n_layers": 2, "cutoff": 2.5, "non_local": True}


def test_eq14_nonlocal_correction_cumulene():
    """On H2C=(C=)7CH2 at initialisation (l_max = 1, r_cut = 2.5 Å as for the paper's Fig. 2):
    the SPHC neighbourhood weights φ_χcut of every layer, computed with NumPy from the model's own
    intermediate χ, equal the model's; the layer-0 correction Σ_j α_ij Y(r̂_ij) (Eq. 14, with the
    model's q, k and filter weights) equals the model's; and it is clearly non-zero.
    Mean φ_χcut over the 156 ordered pairs in layer 0: 0.2247 (with C_i = 1 + Σφ in Eq. 11
    instead: 0.0346; equimol's earlier squared-distance, diagonal-free version: 6.8e-5)."""
    model = _build(**CUMULENE)
    rep = model.representation
    s = cumulene(9)
    pos, z = s[K.POSITIONS], s[K.ATOMIC_NUMBERS]
    n = len(z)
    _, rec = rep(make_batch([s], rep.cutoff), return_intermediates=True)

    # Eq. 11 (the layer-0 input)
    chi0 = rep.sphc_l1_cartesian(rec[0]["sphc_in"]).detach().numpy()
    np.testing.assert_allclose(chi0, np_sphc_init_l1(pos, rep.cutoff), atol=1e-12)

    # Eq. 14 / 29 from the model's own intermediate χ, every layer
    for t, r in enumerate(rec):
        chi = rep.sphc_l1_cartesian(r["sphc_in"]).detach().numpy()
        expected = np_phi_chi_cut(chi)
        np.fill_diagonal(expected, 0.0)
        got = _dense(r["nonlocal_index"], r["nonlocal_weight"], n)
        np.testing.assert_allclose(got, expected, atol=1e-12, err_msg=f"layer {t}")
        assert (r["nonlocal_weight"] > 0).all()  # exactly the pairs with φ_χcut > 0 are kept

    phi0 = _dense(rec[0]["nonlocal_index"], rec[0]["nonlocal_weight"], n)
    mean_phi = phi0.sum() / (n * (n - 1))
    assert mean_phi == pytest.approx(0.22469357658400613, rel=1e-9), f"mean φ_χcut = {mean_phi}"
    assert (phi0 > 0).sum() == 108

    # the layer-0 correction: α_ij = φ_χcut,ij (W_q f_i) · diag(w_ij) (W_k f_j) / √F (one head for
    # l = 1), w_ij = φ_r(rbf(r_ij)) + φ_s(‖χ_j − χ_i‖), Δχ_i = Σ_j α_ij r̂_ij
    layer = rep.layers[0]
    f = rep.embedding.weight.detach().numpy()[z]
    q = f @ layer.sphc_attention.q.weight.detach().numpy()[0]
    k = f @ layer.sphc_attention.k.weight.detach().numpy()[0]
    _, r, rhat, off = np_geometry(pos)
    dchi = np.linalg.norm(chi0[None, :, :] - chi0[:, None, :], axis=-1)  # [i, j] = ‖χ_j − χ_i‖
    w = np_mlp2(layer.sphc_filter.radial, np_expnormal(r, rep.config.n_rbf, rep.cutoff))
    w = w + np_mlp2(layer.sphc_filter.spherical, dchi[..., None])
    alpha = phi0 * np.einsum("if,ijf,jf->ij", q, w, k) / np.sqrt(q.shape[1])
    expected = (np.where(off, alpha, 0.0)[..., None] * rhat).sum(1)
    got = rep.sphc_l1_cartesian(rec[0]["nonlocal_sphc_update"]).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-10)
    assert np.abs(expected).max() > 1e-2


def test_eq14_corrects_sphcs_only():
    """The non-local term enters the SPHC update only: the features reaching the atomwise
    interaction are those of the local model, the SPHCs differ by exactly the Eq. 14 term."""
    inputs = {}
    for non_local in (False, True):
        model = _build(**{**CUMULENE, "non_local": non_local})  # no extra parameters: same weights
        rep = model.representation
        seen: list = []

        def hook(module, args, out, seen=seen):
            seen.append(args)

        handle = rep.layers[0].interaction.register_forward_hook(hook)
        _, rec = rep(make_batch([cumulene(9)], rep.cutoff), return_intermediates=True)
        handle.remove()
        inputs[non_local] = (seen[0], rec[0])
    (f0, chi0), _ = inputs[False]
    (f1, chi1), rec1 = inputs[True]
    torch.testing.assert_close(f1, f0, rtol=0, atol=0)
    torch.testing.assert_close(chi1 - chi0, rec1["nonlocal_sphc_update"], rtol=0, atol=1e-14)
    assert float(rec1["nonlocal_sphc_update"].detach().abs().max()) > 1e-2
    assert "nonlocal_feature_update" not in rec1


def test_eq14_pairs_beyond_cutoff_carry_no_distance():
    """A non-local pair beyond r_cut sees the radial basis of Eq. 30, which is zero there: two CO
    molecules on one axis (all directions ±x, whatever the gap) have the same energy at any gap
    beyond r_cut. Without the cutoff factor (rbf_envelope=None) the distance leaks through."""
    co = np.array([[0.0, 0, 0], [1.13, 0, 0]])
    spread = {}
    for envelope in ("cosine", None):
        model = _build(n_features=16, n_heads=4, n_layers=2, l_max=2, non_local=True, rbf_envelope=envelope)
        energies = []
        for gap in (6.0, 9.0, 30.0):
            s = {
                K.ATOMIC_NUMBERS: np.array([6, 8, 6, 8]),
                K.POSITIONS: np.concatenate([co, co + [1.13 + gap, 0, 0]]),
            }
            energies.append(float(model(make_batch([s], model.cutoff))[K.ENERGY].detach()))
        spread[envelope] = max(energies) - min(energies)
    assert spread["cosine"] < 1e-12 and spread[None] > 1e-6, spread


# --- Eq. 30 (radial basis with cutoff) and Eq. 16 (filters) --------------------------------------


def test_eq30_radial_basis_has_cutoff_factor():
    r_cut, n_rbf = 5.0, 32
    r = np.linspace(0.3, 8.0, 400)
    r = np.concatenate([r, [r_cut, np.nextafter(r_cut, 0.0)]])
    expected = np_expnormal(r, n_rbf, r_cut)
    got = ExpNormalBasis(n_rbf, r_cut, envelope="cosine")(torch.as_tensor(r)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-15)
    assert np.all(got[r >= r_cut] == 0.0) and np.all(got[r < r_cut - 1e-3].sum(1) > 0)
    # the model's basis is this one (and the bare basis only with rbf_envelope=None)
    rep = _build(n_features=16, n_heads=4, l_max=1).representation
    np.testing.assert_allclose(rep.rbf(torch.as_tensor(r)).numpy(), expected, atol=1e-15)
    legacy = _build(n_features=16, n_heads=4, l_max=1, rbf_envelope=None).representation
    assert float(legacy.rbf(torch.tensor([r_cut + 1.0], dtype=torch.float64)).max()) > 0.1


def test_eq16_filter_inputs():
    """w_ij = φ_r(rbf(r_ij)) + φ_s((‖χ_j^(l) − χ_i^(l)‖)_l) with the per-degree Euclidean norms
    (‖·‖² with sphc_norm="squared")."""
    for sphc_norm, power in (("norm", 1), ("squared", 2)):
        rep = _build(n_features=16, n_heads=4, l_max=2, sphc_norm=sphc_norm).representation
        layer = rep.layers[0]
        chi = torch.randn(2, 8, dtype=torch.float64)
        i, j = torch.tensor([0, 1]), torch.tensor([1, 0])
        per_degree, total = layer.sphc_invariants(chi, i, j)
        x = chi.numpy()
        diff = x[[1, 0]] - x[[0, 1]]
        expected = (
            np.stack([np.linalg.norm(diff[:, :3], axis=1), np.linalg.norm(diff[:, 3:], axis=1)], 1) ** power
        )
        np.testing.assert_allclose(per_degree.numpy(), expected, atol=1e-14)
        np.testing.assert_allclose(total.numpy(), np.linalg.norm(diff, axis=1) ** power, atol=1e-14)


# --- Eq. 11 (SPHC initialisation) ---------------------------------------------------------------


def test_eq11_sphc_init_ethanol():
    """χ_i^(l) = Σ_j φ_rcut(r_ij) Y^(l)(r̂_ij) / Σ_j φ_rcut(r_ij), l = 1..3, weights in NumPy and
    Y^(l) from e3nn; with sphc_init_offset = 1 the denominator is 1 + Σ_j φ_rcut(r_ij)."""
    s = ethanol()
    pos = s[K.POSITIONS]
    _, r, _, off = np_geometry(pos)
    for offset in (0.0, 1.0):
        rep = _build(n_features=12, n_heads=4, l_max=3, sphc_init_offset=offset).representation
        w = np.where(off, np_cosine_cutoff(r, rep.cutoff), 0.0)
        d = torch.as_tensor(pos[None, :, :] - pos[:, None, :])
        y = np.zeros((len(pos), len(pos), 15))
        y[off] = o3.spherical_harmonics(
            [1, 2, 3], d[torch.as_tensor(off)], True, normalization="norm"
        ).numpy()
        expected = (w[..., None] * y).sum(1) / (offset + w.sum(1))[:, None]
        _, rec = rep(make_batch([s], rep.cutoff), return_intermediates=True)
        np.testing.assert_allclose(rec[0]["sphc_in"].detach().numpy(), expected, atol=1e-12)


def test_eq11_dimer_and_isolated_atom():
    """A dimer inside r_cut: χ = Y(r̂) (unit norm per degree), however weak the bond; an atom
    without neighbours: χ = 0 (empty sum; no 0/0), with finite energy and forces."""
    rep = _build(n_features=12, n_heads=4, l_max=3).representation
    for r in (1.2, rep.cutoff - 1e-3):
        s = {K.ATOMIC_NUMBERS: np.array([6, 8]), K.POSITIONS: np.array([[0.0, 0, 0], [0.0, 0, r]])}
        _, rec = rep(make_batch([s], rep.cutoff), return_intermediates=True)
        y = o3.spherical_harmonics([1, 2, 3], torch.tensor([[0.0, 0, 1]], dtype=torch.float64), True, "norm")
        torch.testing.assert_close(rec[0]["sphc_in"][0], y[0], atol=1e-12, rtol=0)
    w = water()
    lonely = {
        K.ATOMIC_NUMBERS: np.concatenate([w[K.ATOMIC_NUMBERS], [8]]),
        K.POSITIONS: np.concatenate([w[K.POSITIONS], [[0.0, 0.0, 20.0]]]),
    }
    for non_local in (False, True):
        model = _build(n_features=12, n_heads=4, l_max=3, non_local=non_local)
        batch = make_batch([lonely], model.cutoff)
        _, rec = model.representation(batch, return_intermediates=True)
        assert torch.all(rec[0]["sphc_in"][3] == 0)
        out = model(batch)
        assert torch.isfinite(out[K.ENERGY]).all() and torch.isfinite(out[K.FORCES]).all()


# --- Eqs. 17–19 (atomwise interaction, CG coupling) ---------------------------------------------


def test_eq19_path_set():
    """Eq. 19 couples χ^(l1) and χ^(l2) with l2 ≥ l1 + 1 into every l of the layout the CG
    selection rule allows; with parity (default) only l1 + l2 + l even."""
    for degrees in [(1,), (1, 2), (1, 2, 3), (0, 1, 2, 3), (2, 3, 4)]:
        for parity in (True, False):
            expected = {
                (l1, l2, l)
                for l1 in degrees
                for l2 in degrees
                for l in degrees
                if l2 >= l1 + 1 and abs(l1 - l2) <= l <= l1 + l2 and (not parity or (l1 + l2 + l) % 2 == 0)
            }
            paths = coupling_paths(degrees, parity)
            assert set(paths) == expected and len(paths) == len(expected), (degrees, parity)
    # by hand for the paper's l = 1..3
    assert coupling_paths((1, 2, 3)) == [(1, 2, 1), (1, 2, 3), (1, 3, 2), (2, 3, 1), (2, 3, 3)]
    assert len(coupling_paths((1, 2, 3), parity=False)) == 8
    # the earlier rule also had the self-products (1,1,2), (2,2,2), (3,3,2)
    assert set(coupling_paths((1, 2, 3), rule="symmetric")) - set(coupling_paths((1, 2, 3))) == {
        (1, 1, 2),
        (2, 2, 2),
        (3, 3, 2),
    }


def test_eq19_coupled_product_numpy():
    """χ̃^(l) = Σ_paths k_{l1 l2 l} Σ_{m1 m2} C^{l1 l2 l}_{m1 m2 m} χ^(l1)_m1 χ^(l2)_m2."""
    degrees = (1, 2, 3)
    cp = CoupledProduct(degrees).double()
    with torch.no_grad():
        cp.k.copy_(torch.linspace(-1.0, 1.0, len(cp.k)))
    chi = np.random.default_rng(0).standard_normal((4, 15))
    start = {1: 0, 2: 3, 3: 8}
    expected = np.zeros_like(chi)
    for k, (l1, l2, l) in zip(cp.k.detach().numpy(), cp.paths, strict=True):
        c = o3.wigner_3j(l1, l2, l, dtype=torch.float64).numpy()
        a = chi[:, start[l1] : start[l1] + 2 * l1 + 1]
        b = chi[:, start[l2] : start[l2] + 2 * l2 + 1]
        expected[:, start[l] : start[l] + 2 * l + 1] += k * np.einsum("abc,na,nb->nc", c, a, b)
    np.testing.assert_allclose(cp(torch.as_tensor(chi)).detach().numpy(), expected, atol=1e-12)


def test_eq17_18_atomwise_interaction():
    """[a, b] = φ_{1,2}(f ⊕ ‖χ‖ ⊕ ‖χ̃‖) with F + 2|L| inputs and F + |L| outputs, c = φ_3(‖χ̃‖)
    (|L| → |L|), Δf = a, Δχ^(l) = b^(l) χ^(l) + c^(l) χ̃^(l), per-degree Euclidean norms."""
    n_features, degrees = 12, (1, 2, 3)
    rep = _build(n_features=n_features, n_heads=4, l_max=3).representation
    inter = rep.layers[0].interaction
    n_deg = len(degrees)
    assert inter.phi12[0].in_features == n_features + 2 * n_deg
    assert inter.phi12[2].out_features == n_features + n_deg
    assert (inter.phi3.in_features, inter.phi3.out_features) == (n_deg, n_deg)
    with torch.no_grad():
        inter.coupled.k.copy_(torch.linspace(-0.5, 0.5, len(inter.coupled.k)))
    rng = np.random.default_rng(1)
    f, chi = rng.standard_normal((5, n_features)), rng.standard_normal((5, 15))
    chi_t = inter.coupled(torch.as_tensor(chi)).detach().numpy()
    blocks = [slice(0, 3), slice(3, 8), slice(8, 15)]

    def norms(x):
        return np.stack([np.linalg.norm(x[:, b], axis=1) for b in blocks], 1)

    h = np_mlp2(inter.phi12, np.concatenate([f, norms(chi), norms(chi_t)], 1))
    a, b = h[:, :n_features], h[:, n_features:]
    c = norms(chi_t) @ inter.phi3.weight.detach().numpy().T + inter.phi3.bias.detach().numpy()
    expand = np.repeat(np.arange(3), [3, 5, 7])
    da, dchi = inter(torch.as_tensor(f), torch.as_tensor(chi))
    np.testing.assert_allclose(da.detach().numpy(), a, atol=1e-12)
    np.testing.assert_allclose(dchi.detach().numpy(), b[:, expand] * chi + c[:, expand] * chi_t, atol=1e-12)
    # the earlier variant: φ_{1,2}(f ⊕ ‖χ‖²), c = φ_3(f)
    legacy = _build(n_features=n_features, n_heads=4, l_max=3, interaction="feature_gate").representation
    inter = legacy.layers[0].interaction
    assert inter.phi12[0].in_features == n_features + n_deg
    assert (inter.phi3.in_features, inter.phi3.out_features, inter.phi3.bias) == (n_features, n_deg, None)


# --- parameter counts at the paper's sizes ------------------------------------------------------


def _representation_count(
    n_features, n_layers, n_heads, n_rbf, degrees, radial_hidden=128, spherical_hidden=32
):
    """The representation's parameters by hand (paper variant)."""
    F, L = n_features, len(degrees)
    filt = (n_rbf * radial_hidden + radial_hidden + radial_hidden * F + F) + (
        L * spherical_hidden + spherical_hidden + spherical_hidden * F + F
    )
    attention = 3 * n_heads * (F // n_heads) ** 2 + 2 * L * (F // L) ** 2
    interaction = ((F + 2 * L) * F + F) + (F * (F + L) + F + L) + (L * L + L) + len(coupling_paths(degrees))
    return 100 * F + n_layers * (2 * filt + attention + interaction)


def test_parameter_count_at_paper_sizes():
    """equimol's So3krates at the paper's sizes. The paper's own counts could not be read here;
    the table in the message lists equimol's, and the representation's count is checked against
    the hand count of the architecture above."""
    rows = []
    for label, options, degrees in (
        ("MD17/rMD17: F 132, 6 layers, l 1..3, K 32, 4 heads", {}, (1, 2, 3)),
        (
            "cumulenes (Fig. 2): F 128, 4 layers, l 1, r_cut 2.5",
            {"n_features": 128, "n_layers": 4, "l_max": 1},
            (1,),
        ),
    ):
        with torch.random.fork_rng(devices=[]):
            model = equimol.build_model("so3krates", **options)
        cfg = model.representation.config
        by_hand = _representation_count(cfg.n_features, cfg.n_layers, cfg.n_heads, cfg.n_rbf, degrees)
        rep_count = count_parameters(model.representation)
        legacy = count_parameters(equimol.build_model("so3krates", **options, **LEGACY_OPTIONS))
        rows.append((label, count_parameters(model), rep_count, by_hand, legacy))
    table = "\n".join(
        f"{label}: potential {total:,}, representation {rep:,} (by hand {hand:,}); earlier network {old:,}"
        for label, total, rep, hand, old in rows
    )
    assert all(rep == hand for _, _, rep, hand, _ in rows), table
    assert rows[0][1] == 696_901, table
