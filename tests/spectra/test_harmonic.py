import numpy as np
import pytest

from equimol.spectra.constants import KM_PER_MOL_PER_E2_PER_AMU
from equimol.spectra.harmonic import broaden, ir_intensities, normal_modes, raman_activities
from equimol.units import ACCEL_TO_A_PER_FS2, C_CM_PER_FS, DEBYE


def wavenumber(k_ev_a2: float, mass_amu: float) -> float:
    """ν̃ = √(k/m) / (2πc) in cm⁻¹."""
    return np.sqrt(k_ev_a2 / mass_amu * ACCEL_TO_A_PER_FS2) / (2 * np.pi * C_CM_PER_FS)


def numerical_hessian(energy, x0: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian (3N, 3N) of energy(positions (N, 3))."""
    x0 = x0.ravel().astype(float)
    n = x0.size
    hess = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            e = []
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                x = x0.copy()
                x[i] += si * h
                x[j] += sj * h
                e.append(energy(x.reshape(-1, 3)))
            hess[i, j] = hess[j, i] = (e[0] - e[1] - e[2] + e[3]) / (4 * h * h)
    return hess


def numerical_jacobian(func, x0: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """(3N, *out) derivative of func(positions) by central differences."""
    x0 = x0.ravel().astype(float)
    rows = []
    for i in range(x0.size):
        xp, xm = x0.copy(), x0.copy()
        xp[i] += h
        xm[i] -= h
        rows.append((func(xp.reshape(-1, 3)) - func(xm.reshape(-1, 3))) / (2 * h))
    return np.array(rows)


def bond(x, i, j):
    return np.linalg.norm(x[j] - x[i])


def cos_angle(x, i, j, k):
    a, b = x[i] - x[j], x[k] - x[j]
    return a @ b / np.linalg.norm(a) / np.linalg.norm(b)


def test_km_per_mol_conversion_constant():
    # textbook factor: 1 (D/Å)²/amu = 42.2561 km/mol
    assert KM_PER_MOL_PER_E2_PER_AMU * DEBYE**2 == pytest.approx(42.2561, rel=1e-4)


def test_frequency_unit_conversion_against_textbook_value():
    """k = 1 mdyn/Å (= 6.241509 eV/Å²) and μ = 1 amu give ν̃ = 1302.79 cm⁻¹."""
    x0 = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    hess = numerical_hessian(lambda x: 0.5 * 6.241509 * (bond(x, 0, 1) - 1.0) ** 2, x0)
    modes = normal_modes(hess, np.array([2.0, 2.0]), x0)
    assert modes.frequencies_cm1[0] == pytest.approx(1302.79, rel=1e-5)


def test_diatomic_frequency_ir_and_raman_are_analytic():
    k, r0, m = 30.0, 1.27, np.array([1.008, 35.45])
    x0 = np.array([[0.0, 0.0, 0.0], r0 * np.array([0.3, -0.2, 0.9]) / np.sqrt(0.94)])
    hess = numerical_hessian(lambda x: 0.5 * k * (bond(x, 0, 1) - r0) ** 2, x0)
    modes = normal_modes(hess, m, x0)
    mu_red = m[0] * m[1] / m.sum()
    assert modes.frequencies_cm1.shape == (1,)  # 3N − 5
    assert modes.frequencies_cm1[0] == pytest.approx(wavenumber(k, mu_red), rel=1e-6)
    full = normal_modes(hess, m, project=False)
    assert np.sum(np.abs(full.frequencies_cm1) < 1.0) == 5
    assert full.frequencies_cm1[-1] == pytest.approx(modes.frequencies_cm1[0], rel=1e-6)

    q = 0.18  # point charges ±q: |∂μ/∂Q|² = q²/μ
    dmu = numerical_jacobian(lambda x: q * (x[1] - x[0]), x0)
    assert ir_intensities(modes, dmu)[0] == pytest.approx(KM_PER_MOL_PER_E2_PER_AMU * q**2 / mu_red, rel=1e-6)

    # α(d) = a(d)𝟙 + g(d)(ûû − 𝟙/3): activity = (45 a'² + 7 g'²)/μ
    a1, g0, g1 = 0.9, 0.5, 1.7

    def alpha(x):
        d = x[1] - x[0]
        r = np.linalg.norm(d)
        u = d / r
        return (2.0 + a1 * (r - r0)) * np.eye(3) + (g0 + g1 * (r - r0)) * (np.outer(u, u) - np.eye(3) / 3)

    activity = raman_activities(modes, numerical_jacobian(alpha, x0).reshape(2, 3, 3, 3))
    assert activity[0] == pytest.approx((45 * a1**2 + 7 * g1**2) / mu_red, rel=1e-5)


def _water(x):
    return (
        0.5 * 45.0 * ((bond(x, 0, 1) - 0.96) ** 2 + (bond(x, 0, 2) - 0.96) ** 2)
        + 0.5 * 3.5 * (np.arccos(cos_angle(x, 1, 0, 2)) - np.deg2rad(104.5)) ** 2
    )


def test_water_like_molecule_has_three_vibrations():
    ang = np.deg2rad(104.5) / 2
    x0 = np.array(
        [[0, 0, 0], [0.96 * np.sin(ang), 0, 0.96 * np.cos(ang)], [-0.96 * np.sin(ang), 0, 0.96 * np.cos(ang)]]
    )
    x0 = x0 @ np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0] + 1.0  # arbitrary orientation
    m = np.array([15.999, 1.008, 1.008])
    hess = numerical_hessian(_water, x0)
    modes = normal_modes(hess, m, x0)
    assert modes.frequencies_cm1.shape == (3,)
    assert np.all(modes.frequencies_cm1 > 1000)
    full = normal_modes(hess, m, project=False)
    assert np.sum(np.abs(full.frequencies_cm1) < 1.0) == 6
    np.testing.assert_allclose(full.frequencies_cm1[6:], modes.frequencies_cm1, rtol=1e-6)
    np.testing.assert_allclose(modes.modes.T @ modes.modes, np.eye(3), atol=1e-12)


def test_linear_triatomic_has_four_vibrations_with_analytic_stretches():
    k, kb, r = 100.0, 4.0, 1.16
    m = np.array([15.999, 12.011, 15.999])
    x0 = (
        np.array([[-r, 0, 0], [0, 0, 0], [r, 0, 0]])
        @ np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    )

    def energy(x):
        return 0.5 * k * ((bond(x, 0, 1) - r) ** 2 + (bond(x, 1, 2) - r) ** 2) + kb * (
            1 + cos_angle(x, 0, 1, 2)
        )

    modes = normal_modes(numerical_hessian(energy, x0), m, x0)
    nu = np.sort(modes.frequencies_cm1)
    assert nu.shape == (4,)
    assert nu[0] == pytest.approx(nu[1], rel=1e-6)  # degenerate bend
    stretches = sorted([wavenumber(k, m[0]), wavenumber(k, 1 / (1 / m[0] + 2 / m[1]))])
    np.testing.assert_allclose(nu[2:], stretches, rtol=1e-6)


def test_imaginary_frequency_is_negative():
    x0 = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    hess = numerical_hessian(lambda x: -0.5 * 5.0 * (bond(x, 0, 1) - 1.0) ** 2, x0)
    modes = normal_modes(hess, np.array([1.0, 1.0]), x0)
    assert modes.frequencies_cm1[0] == pytest.approx(-wavenumber(5.0, 0.5), rel=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="positions"):
        normal_modes(np.eye(6), np.ones(2))
    with pytest.raises(ValueError, match="hessian"):
        normal_modes(np.eye(5), np.ones(2), np.zeros((2, 3)))


@pytest.mark.parametrize("shape", ["lorentzian", "gaussian"])
def test_broadening_preserves_area_and_position(shape):
    grid = np.linspace(0, 4000, 8001)
    spec = broaden(np.array([1000.0, 3000.0]), np.array([50.0, 10.0]), grid, fwhm_cm1=8.0, shape=shape)
    band = (grid > 500) & (grid < 1500)
    assert np.trapezoid(spec.intensity[band], grid[band]) == pytest.approx(50.0, rel=0.02)
    assert grid[np.argmax(spec.intensity)] == pytest.approx(1000.0)
    half = spec.intensity[band] >= spec.intensity.max() / 2
    assert np.ptp(grid[band][half]) == pytest.approx(8.0, abs=0.51)  # FWHM on a 0.5 cm⁻¹ grid
    assert spec.unit == "km/mol (cm⁻¹)⁻¹"


def test_harmonic_spectra_have_the_units_of_the_md_spectra():
    """Broadened sticks are per cm⁻¹: km/mol sticks give the MD IR unit, Å⁶·fs·cm⁻¹ band areas
    the MD Raman unit Å⁶·fs (no unit written twice, e.g. in JCAMP-DX YUNITS)."""
    import torch

    import equimol
    from equimol.spectra.derivatives import harmonic_spectra, model_derivatives
    from equimol.spectra.ir import IR_UNIT
    from equimol.testing import ethanol

    torch.manual_seed(0)
    model = equimol.build_model(
        "painn", n_features=8, n_interactions=1, heads=("energy", "dipole", "polarizability")
    )
    mol = ethanol()
    out = harmonic_spectra(model_derivatives(model, mol), mol["atomic_numbers"], np.linspace(400, 4000, 50))
    assert out["ir"].unit == IR_UNIT
    assert out["raman"].unit == "Å⁶ fs cm⁻¹ (cm⁻¹)⁻¹"
