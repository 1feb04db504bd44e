import numpy as np
import pytest
import torch

from equimol import keys as K
from equimol.errors import ConfigError
from equimol.heads import build_head
from equimol.heads.dipole import DipoleHead, DipoleMagnitudeHead
from tests.heads.conftest import build, transformed

VARIANTS = [
    {"atomic_dipoles": True},
    {"atomic_dipoles": False},
    {"atomic_dipoles": False, "charge_net": "gated"},
]


@pytest.mark.parametrize("options", VARIANTS)
def test_rotation_and_translation(batch, rotation, options):
    head = build(DipoleHead, **options)
    ref = head(batch)
    out = head(transformed(batch, rotation, shift=(3.0, -1.5, 0.7)))
    R = torch.as_tensor(rotation)
    torch.testing.assert_close(out[K.DIPOLE], ref[K.DIPOLE] @ R.T)
    torch.testing.assert_close(out[K.PARTIAL_CHARGES], ref[K.PARTIAL_CHARGES])
    if options["atomic_dipoles"]:
        torch.testing.assert_close(out[K.ATOMIC_DIPOLES], ref[K.ATOMIC_DIPOLES] @ R.T)


def test_shapes_neutrality_and_no_mutation(batch):
    keys = dict(batch)
    out = build(DipoleHead)(batch)
    assert set(out) == {K.DIPOLE, K.PARTIAL_CHARGES, K.ATOMIC_DIPOLES}
    assert out[K.DIPOLE].shape == (3, 3)
    n = batch[K.POSITIONS].shape[0]
    assert out[K.PARTIAL_CHARGES].shape == (n,) and out[K.ATOMIC_DIPOLES].shape == (n, 3)
    total = torch.zeros(3, dtype=torch.float64).index_add(0, batch[K.BATCH], out[K.PARTIAL_CHARGES])
    torch.testing.assert_close(total, torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)
    assert set(batch) == set(keys) and all(batch[k] is keys[k] for k in keys)
    assert set(build(DipoleHead, atomic_dipoles=False)(batch)) == {K.DIPOLE, K.PARTIAL_CHARGES}


def test_total_charge_is_distributed(batch):
    charged = {**batch, K.TOTAL_CHARGE: torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64)}
    q = build(DipoleHead)(charged)[K.PARTIAL_CHARGES]
    total = torch.zeros(3, dtype=torch.float64).index_add(0, batch[K.BATCH], q)
    torch.testing.assert_close(total, charged[K.TOTAL_CHARGE])
    q_ignored = build(DipoleHead, total_charge=False)(charged)[K.PARTIAL_CHARGES]
    total = torch.zeros(3, dtype=torch.float64).index_add(0, batch[K.BATCH], q_ignored)
    torch.testing.assert_close(total, torch.zeros(3, dtype=torch.float64), atol=1e-12, rtol=0)


def _frozen(batch, total_charge=None):
    """Features detached from positions: the charges are fixed numbers, μ is linear in r."""
    pos = batch[K.POSITIONS].clone().requires_grad_(True)
    b = {**batch, K.POSITIONS: pos}
    if total_charge is not None:
        b[K.TOTAL_CHARGE] = torch.as_tensor(total_charge, dtype=torch.float64)
    return b, pos


@pytest.mark.parametrize("total_charge", [None, [0.0, 1.0, -1.0]])
def test_eq12_dipole_of_fixed_charges_is_exact(batch, total_charge):
    """PaiNN Eq. 12 with frozen charges: μ = Σ q_i (r_i − R_com) and ∂μ/∂r_i = (q_i − Q m_i/M) I."""
    head = build(DipoleHead, atomic_dipoles=False)
    b, pos = _frozen(batch, total_charge)
    out = head(b)
    q = out[K.PARTIAL_CHARGES].detach()
    idx = batch[K.BATCH]
    masses = head.com.masses[batch[K.ATOMIC_NUMBERS]]
    m_tot = torch.zeros(3, dtype=torch.float64).index_add(0, idx, masses)
    com = (
        torch.zeros(3, 3, dtype=torch.float64).index_add(0, idx, masses[:, None] * batch[K.POSITIONS])
        / m_tot[:, None]
    )
    expected = torch.zeros(3, 3, dtype=torch.float64).index_add(
        0, idx, q[:, None] * (batch[K.POSITIONS] - com[idx])
    )
    torch.testing.assert_close(out[K.DIPOLE].detach(), expected, atol=1e-12, rtol=1e-12)
    Q = torch.zeros(3, dtype=torch.float64) if total_charge is None else b[K.TOTAL_CHARGE]
    effective = q - Q[idx] * masses / m_tot[idx]
    eye = torch.eye(3, dtype=torch.float64)
    for graph in range(3):
        for a in range(3):
            (grad,) = torch.autograd.grad(out[K.DIPOLE][graph, a], pos, retain_graph=True)
            expected_grad = torch.where((idx == graph)[:, None], effective[:, None] * eye[a], 0.0)
            torch.testing.assert_close(grad, expected_grad, atol=1e-12, rtol=1e-10)


def test_eq12_finite_difference(batch):
    head = build(DipoleHead, atomic_dipoles=False)
    out = head(batch)
    q = out[K.PARTIAL_CHARGES]
    h = 1e-3
    for atom in (0, 4):
        for a in range(3):
            shift = torch.zeros_like(batch[K.POSITIONS])
            shift[atom, a] = h
            plus = head({**batch, K.POSITIONS: batch[K.POSITIONS] + shift})[K.DIPOLE]
            minus = head({**batch, K.POSITIONS: batch[K.POSITIONS] - shift})[K.DIPOLE]
            expected = torch.zeros(3, 3, dtype=torch.float64)
            expected[int(batch[K.BATCH][atom]), a] = q[atom]
            torch.testing.assert_close((plus - minus) / (2 * h), expected, atol=1e-9, rtol=1e-9)


def test_eq13_adds_atomic_dipoles(batch):
    out = build(DipoleHead, atomic_dipoles=True)(batch)
    from_charges = out[K.DIPOLE] - torch.zeros(3, 3, dtype=torch.float64).index_add(
        0, batch[K.BATCH], out[K.ATOMIC_DIPOLES]
    )
    # what remains is Σ q_i r_i, origin independent for neutral molecules
    idx = batch[K.BATCH]
    direct = torch.zeros(3, 3, dtype=torch.float64).index_add(
        0, idx, out[K.PARTIAL_CHARGES][:, None] * batch[K.POSITIONS]
    )
    torch.testing.assert_close(from_charges, direct, atol=1e-10, rtol=1e-10)


def test_magnitude_head(batch, rotation):
    head = build(DipoleMagnitudeHead, atomic_dipoles=False)
    out = head(batch)
    assert out[K.DIPOLE_MAGNITUDE].shape == (3,)
    torch.testing.assert_close(out[K.DIPOLE_MAGNITUDE], torch.linalg.vector_norm(out[K.DIPOLE], dim=-1))
    rotated = head(transformed(batch, rotation, shift=(1.0, 2.0, 3.0)))
    torch.testing.assert_close(rotated[K.DIPOLE_MAGNITUDE], out[K.DIPOLE_MAGNITUDE])
    assert set(head.outputs) == {K.DIPOLE_MAGNITUDE, K.DIPOLE, K.PARTIAL_CHARGES}


def test_magnitude_gradient_finite_for_zero_dipole():
    """A single atom has μ = 0 exactly; the training gradient must not be NaN."""
    from tests.heads.conftest import feature_batch

    b = feature_batch([{K.ATOMIC_NUMBERS: np.array([6]), K.POSITIONS: np.zeros((1, 3))}])
    head = build(DipoleMagnitudeHead, atomic_dipoles=False)
    mag = head(b)[K.DIPOLE_MAGNITUDE]
    assert float(mag.detach()) == 0.0
    mag.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters() if p.grad is not None)


def test_errors(batch):
    without_vectors = {k: v for k, v in batch.items() if k != K.VECTOR_FEATURES}
    with pytest.raises(ConfigError, match="vector features"):
        build(DipoleHead)(without_vectors)
    assert K.DIPOLE in build(DipoleHead, atomic_dipoles=False, charge_net="mlp")(without_vectors)
    with pytest.raises(ConfigError, match="atomic_dipoles"):
        DipoleHead(16, charge_net="mlp")
    with pytest.raises(ConfigError, match="charge_net"):
        DipoleHead(16, charge_net="linear")
    with pytest.raises(ConfigError, match="dipole"):
        build_head("dipole", 16, atomic_dipole=True)


def test_eq12_charges_come_from_scalars_only(batch):
    """PaiNN Eq. 12, μ = Σ_i q(s_i) (r_i − R_com): by hand in NumPy from the head's own MLP."""
    head = build(DipoleHead, atomic_dipoles=False)
    assert head.charge_net == "mlp"
    out = head(batch)
    zero_vectors = {**batch, K.VECTOR_FEATURES: torch.zeros_like(batch[K.VECTOR_FEATURES])}
    torch.testing.assert_close(head(zero_vectors)[K.PARTIAL_CHARGES], out[K.PARTIAL_CHARGES])
    s = batch[K.SCALAR_FEATURES].detach().numpy()
    lin1, _, lin2 = head.net
    w1, b1 = lin1.weight.detach().numpy(), lin1.bias.detach().numpy()
    w2, b2 = lin2.weight.detach().numpy(), lin2.bias.detach().numpy()
    h = s @ w1.T + b1
    q_raw = ((h / (1 + np.exp(-h))) @ w2.T + b2)[:, 0]  # SiLU MLP
    idx, n_atoms = batch[K.BATCH].numpy(), batch[K.N_ATOMS].numpy()
    q = q_raw - (np.bincount(idx, q_raw) / n_atoms)[idx]  # neutral molecules
    from ase.data import atomic_masses

    pos, m = batch[K.POSITIONS].numpy(), atomic_masses[batch[K.ATOMIC_NUMBERS].numpy()]
    com = np.stack([np.bincount(idx, m * pos[:, c]) / np.bincount(idx, m) for c in range(3)], 1)
    mu = np.stack([np.bincount(idx, q * (pos[:, c] - com[idx, c])) for c in range(3)], 1)
    np.testing.assert_allclose(out[K.PARTIAL_CHARGES].detach().numpy(), q, atol=1e-10)
    np.testing.assert_allclose(out[K.DIPOLE].detach().numpy(), mu, atol=1e-10)


def test_version1_checkpoints_keep_their_gated_eq12_charges(tmp_path):
    import equimol
    from equimol.io import load, migrate_spec, save_checkpoint

    spec = {"model": {"name": "painn"}, "heads": [{"name": "dipole", "options": {"atomic_dipoles": False}}]}
    assert migrate_spec(spec, 1)["heads"][0]["options"]["charge_net"] == "gated"
    assert "charge_net" not in migrate_spec(spec, 2)["heads"][0]["options"]
    old = equimol.build_model(
        "painn",
        n_features=8,
        heads=({"name": "dipole", "options": {"atomic_dipoles": False, "charge_net": "gated"}},),
    )
    old.spec["heads"][0]["options"].pop("charge_net")  # as version 1 wrote it
    save_checkpoint(tmp_path / "v1.pt", old)
    raw = torch.load(tmp_path / "v1.pt", weights_only=True)
    import json

    meta = json.loads(raw["metadata"])
    meta["version"] = 1
    raw["metadata"] = json.dumps(meta)
    torch.save(raw, tmp_path / "v1.pt")
    assert load(tmp_path / "v1.pt").heads[0].charge_net == "gated"
