"""Molecule builders, normal modes and normal-mode sampling, MD and PIMD sampling, torsion scans."""

from __future__ import annotations

import numpy as np
import pytest
from ase.data import atomic_masses

from equimol import keys, units
from equimol.reference import molecules
from equimol.reference.sampling import (
    NormalModes,
    md_sampling,
    normal_mode_displacements,
    normal_mode_sampling,
    normal_modes,
    pimd_sampling,
    relax,
    rotate_group,
    torsion_scan,
)
from equimol.reference.xtb import hessian


def _dihedral(p0, p1, p2, p3) -> float:
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1 = b1 / np.linalg.norm(b1)
    v = b0 - b0 @ b1 * b1
    w = b2 - b2 @ b1 * b1
    return float(np.degrees(np.arctan2(np.cross(b1, v) @ w, v @ w)))


def _modes(structure):
    minimum = relax(structure)
    pos, z = minimum[keys.POSITIONS], minimum[keys.ATOMIC_NUMBERS]
    return minimum, normal_modes(hessian(pos, z), pos, atomic_masses[z])


def test_water_and_co2_normal_modes(water):
    minimum, modes = _modes(water)
    assert np.abs(minimum[keys.FORCES]).max() < 5e-3
    assert modes.frequencies_cm.shape == (3,) and modes.modes.shape == (3, 3, 3)
    # GFN2-xTB: bend ~1540, stretches ~3640/3650 cm^-1 (experiment 1595, 3657, 3756)
    np.testing.assert_allclose(modes.frequencies_cm, [1539, 3642, 3651], atol=15)
    np.testing.assert_allclose(np.linalg.norm(modes.modes.reshape(3, -1), axis=1), 1.0)
    co2 = {
        keys.POSITIONS: np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.16], [0.0, 0.0, -1.16]]),
        keys.ATOMIC_NUMBERS: np.array([6, 8, 8]),
    }
    _, linear = _modes(co2)
    assert linear.frequencies_cm.shape == (4,)  # 3n - 5 for a linear molecule
    assert linear.frequencies_cm[0] == pytest.approx(linear.frequencies_cm[1], abs=1e-3)


def test_normal_mode_displacements_follow_the_ani1_energy_budget():
    """Σ ½ K_i R_i² = 3/2 N_a k_B T Σ c_i with E[Σ c] = 1/2 (Smith et al. 2017)."""
    n_atoms, n_modes = 4, 6
    rng = np.random.default_rng(0)
    directions = np.linalg.qr(rng.normal(size=(3 * n_atoms, n_modes)))[0].T.reshape(n_modes, n_atoms, 3)
    k = np.linspace(5.0, 40.0, n_modes)
    modes = NormalModes(np.zeros(n_modes), directions, k)
    shifts = normal_mode_displacements(modes, 20000, 300.0, np.random.default_rng(1))
    amplitudes = np.einsum("sai,mai->sm", shifts, directions)
    energy = 0.5 * (k * amplitudes**2).sum(axis=1)
    budget = 1.5 * n_atoms * units.KB_EV_PER_K * 300.0
    assert energy.max() <= budget * (1 + 1e-9)
    assert energy.mean() == pytest.approx(0.5 * budget, rel=0.02)


def test_normal_mode_sampling_is_seeded_and_local(ethanol):
    a = normal_mode_sampling(ethanol, 4, 300.0, seed=7)
    b = normal_mode_sampling(ethanol, 4, 300.0, seed=7)
    assert len(a) == 4
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[keys.POSITIONS], y[keys.POSITIONS])
    centre = relax(ethanol)[keys.POSITIONS]
    shifts = [np.abs(s[keys.POSITIONS] - centre).max() for s in a]
    assert 0.0 < min(shifts) and max(shifts) < 0.5


def test_md_sampling_is_seeded_and_moves(ethanol):
    kwargs = dict(n_frames=3, temperature_k=300.0, every=4, equilibration_steps=4, seed=3)
    a, b = md_sampling(ethanol, **kwargs), md_sampling(ethanol, **kwargs)
    assert len(a) == 3
    np.testing.assert_array_equal(a[-1][keys.POSITIONS], b[-1][keys.POSITIONS])
    assert np.abs(a[1][keys.POSITIONS] - a[0][keys.POSITIONS]).max() > 1e-3
    c = md_sampling(ethanol, **{**kwargs, "seed": 4})
    assert np.abs(c[-1][keys.POSITIONS] - a[-1][keys.POSITIONS]).max() > 1e-3


def test_ferrocene_builder_and_ring_rotation():
    fc = molecules.ferrocene()
    z, pos = fc[keys.ATOMIC_NUMBERS], fc[keys.POSITIONS]
    assert len(z) == 21 and z[0] == 26 and (z == 9).sum() == 2 and (z == 6).sum() == 10
    ring_a, ring_b = molecules.ferrocene_rings()
    carbons_a, carbons_b = molecules.ferrocene_ring_carbons()
    np.testing.assert_allclose(np.linalg.norm(pos[list(carbons_a)] - pos[0], axis=1), 2.06, atol=0.01)
    angles = [0.0, 72.0, 180.0, 360.0]
    scan = torsion_scan(fc, ring_b, angles, axis=(0, carbons_b))
    fixed = [i for i in range(21) if i not in ring_b]
    for frame in scan:
        np.testing.assert_allclose(frame[keys.POSITIONS][fixed], pos[fixed], atol=1e-12)
        d0 = np.linalg.norm(pos[list(ring_b)][:, None] - pos[list(ring_b)][None], axis=-1)
        p = frame[keys.POSITIONS][list(ring_b)]
        np.testing.assert_allclose(np.linalg.norm(p[:, None] - p[None], axis=-1), d0, atol=1e-10)
    np.testing.assert_allclose(scan[3][keys.POSITIONS], pos, atol=1e-10)
    f_a, f_b = scan[2][keys.POSITIONS][[6, 16]]
    assert _dihedral(f_a, pos[1:6].mean(0), pos[11:16].mean(0), f_b) == pytest.approx(180.0, abs=1e-6) or (
        _dihedral(f_a, pos[1:6].mean(0), pos[11:16].mean(0), f_b) == pytest.approx(-180.0, abs=1e-6)
    )
    plain = molecules.ferrocene(substituent=None)
    rotated = torsion_scan(plain, ring_b, [72.0], axis=(0, carbons_b))[0][keys.POSITIONS]
    matches = np.linalg.norm(rotated[:, None] - plain[keys.POSITIONS][None], axis=-1).min(axis=1)
    assert matches.max() < 1e-10  # C5 symmetry of the unsubstituted ring


@pytest.mark.parametrize("n_carbons", [2, 3, 4, 5])
def test_cumulene_geometry_and_end_group_twist(n_carbons):
    c = molecules.cumulene(n_carbons)
    z, pos = c[keys.ATOMIC_NUMBERS], c[keys.POSITIONS]
    assert (z == 6).sum() == n_carbons and (z == 1).sum() == 4
    np.testing.assert_allclose(np.linalg.norm(np.diff(pos[:n_carbons], axis=0), axis=1), 1.31)
    h0, h1 = pos[n_carbons], pos[n_carbons + 1]
    assert np.linalg.norm(h0 - pos[0]) == pytest.approx(1.09)
    cos = (h0 - pos[0]) @ (h1 - pos[0]) / 1.09**2
    assert np.degrees(np.arccos(cos)) == pytest.approx(117.0)
    axis, group = molecules.cumulene_end_group(n_carbons)
    twist = _dihedral(pos[n_carbons], pos[0], pos[n_carbons - 1], pos[group[0]]) % 180.0
    assert twist == pytest.approx(0.0 if n_carbons % 2 == 0 else 90.0, abs=1e-6)
    twisted = torsion_scan(c, group, [30.0], axis=axis)[0][keys.POSITIONS]
    new = _dihedral(twisted[n_carbons], twisted[0], twisted[n_carbons - 1], twisted[group[0]]) % 180.0
    assert (new - twist) % 180.0 == pytest.approx(30.0, abs=1e-6)


def test_rotate_group_about_z():
    pos = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    out = rotate_group(pos, [0], np.zeros(3), np.array([0.0, 0.0, 2.0]), 90.0)
    np.testing.assert_allclose(out, [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], atol=1e-12)


def test_aspirin_from_rmd17():
    from tests.conftest import rmd17_path

    a = molecules.aspirin()  # the shipped geometry: frame 0 of rMD17 split 01
    assert a[keys.POSITIONS].shape == (21, 3) and sorted(set(a[keys.ATOMIC_NUMBERS].tolist())) == [1, 6, 8]
    b = molecules.aspirin(rmd17_path("aspirin"))
    np.testing.assert_allclose(a[keys.POSITIONS], b[keys.POSITIONS], atol=1e-8)
    np.testing.assert_array_equal(a[keys.ATOMIC_NUMBERS], b[keys.ATOMIC_NUMBERS])
    assert not np.allclose(
        molecules.aspirin(rmd17_path("aspirin"), frame=1)[keys.POSITIONS], a[keys.POSITIONS]
    )


def test_pimd_beads_spread_along_the_oh_bond_beyond_classical_md():
    """Zero-point motion: the O–H stretch (ħω/kT ≈ 18 at 300 K) of xTB ring-polymer beads spreads
    several times wider than classical 300 K frames (harmonic quantum/classical std ratio ≈ 3 for
    converged P; 3.6 measured here with 8 beads), which is why RPMD needs PIMD training data."""
    s = molecules.ethanol()
    z = s[keys.ATOMIC_NUMBERS]
    quantum = pimd_sampling(s, 80, 300.0, beads=8, every=10, equilibration_steps=100, seed=0)
    classical = md_sampling(s, 80, 300.0, every=10, equilibration_steps=100, seed=0)
    assert len(quantum) == 80 and all(np.isfinite(f[keys.POSITIONS]).all() for f in quantum)
    np.testing.assert_array_equal(quantum[0][keys.ATOMIC_NUMBERS], z)
    assert not np.allclose(quantum[0][keys.POSITIONS], quantum[1][keys.POSITIONS])  # two beads
    o = int(np.flatnonzero(z == 8)[0])
    hs = np.flatnonzero(z == 1)
    h = int(hs[np.argmin(np.linalg.norm(s[keys.POSITIONS][hs] - s[keys.POSITIONS][o], axis=1))])

    def oh(frames):
        return np.array([np.linalg.norm(f[keys.POSITIONS][o] - f[keys.POSITIONS][h]) for f in frames])

    assert oh(quantum).std() > 2.0 * oh(classical).std()
    again = pimd_sampling(s, 8, 300.0, beads=8, every=10, equilibration_steps=100, seed=0)
    np.testing.assert_array_equal(again[3][keys.POSITIONS], quantum[3][keys.POSITIONS])  # seeded
