import numpy as np
import pytest

from equimol.spectra.harmonic import raman_intensities
from equimol.spectra.raman import combine_raman, raman_prefactor, raman_spectra

from .helpers import band_area, classical_amplitude, omega, peak_cm1

T = np.arange(8192) * 0.5


def _alpha(direction: np.ndarray, amplitude: float, nu: float) -> np.ndarray:
    """α(t) = 2 Å³·𝟙 + A cos(ωt) · direction, shape (T, 3, 3)."""
    return 2.0 * np.eye(3) + amplitude * np.cos(omega(nu) * T)[:, None, None] * direction


def test_isotropic_oscillation_has_no_anisotropic_intensity():
    spectra = raman_spectra(_alpha(np.eye(3), 0.1, 1200.0), 0.5)
    iso, aniso = spectra["raman_iso"], spectra["raman_aniso"]
    assert abs(peak_cm1(iso) - 1200.0) < 8.0
    assert np.abs(aniso.intensity).max() < 1e-12 * iso.intensity.max()


def test_traceless_oscillation_has_no_isotropic_intensity():
    direction = np.diag([1.0, -1.0, 0.0]) + 0.5 * (np.eye(3, k=1) + np.eye(3, k=-1))
    spectra = raman_spectra(_alpha(direction, 0.1, 800.0), 0.5)
    iso, aniso = spectra["raman_iso"], spectra["raman_aniso"]
    assert abs(peak_cm1(aniso) - 800.0) < 8.0
    assert np.abs(iso.intensity).max() < 1e-12 * aniso.intensity.max()


def test_prefactor_laser_and_bose_factors():
    nu = np.array([0.0, 1000.0, 3000.0, 30000.0])
    p = raman_prefactor(nu, laser_nm=514.0, temperature_k=None)
    nu_l = 1e7 / 514.0
    np.testing.assert_allclose(p, [1.0, ((nu_l - 1000) / nu_l) ** 4, ((nu_l - 3000) / nu_l) ** 4, 0.0])
    q = raman_prefactor(nu[:3], laser_nm=None, temperature_k=300.0)
    x = 1.4387769 * nu[1:3] / 300.0  # hc/k_B = 1.4387769 cm K
    np.testing.assert_allclose(q, [1.0, *(x / (1 - np.exp(-x)))], rtol=1e-6)


def test_unpolarized_band_area_matches_harmonic_raman_intensity():
    """α = α₀ + α'Q(t) with classical Q: MD band area = P(ν̃) (45a'² + 7γ'²)/45 · k_BT/(2cω²)."""
    rng = np.random.default_rng(3)
    d = rng.normal(size=(3, 3))
    d = 0.5 * (d + d.T)  # ∂α/∂Q in Å²/amu^½
    nu, temperature = 1500.0, 300.0
    alpha = 2.0 * np.eye(3) + classical_amplitude(nu, temperature) * np.cos(omega(nu) * T)[:, None, None] * d
    spectra = raman_spectra(alpha, 0.5, temperature_k=temperature)
    unpol = combine_raman(spectra["raman_iso"], spectra["raman_aniso"])
    a = np.trace(d) / 3
    gamma2 = 1.5 * np.sum((d - a * np.eye(3)) ** 2)
    expected = raman_intensities(np.array([nu]), np.array([45 * a**2 + 7 * gamma2]), 514.0, temperature)[0]
    assert band_area(unpol, 1300, 1700) == pytest.approx(expected, rel=0.01)


def test_combine_geometries():
    spectra = raman_spectra(_alpha(np.eye(3), 0.1, 1200.0), 0.5, depth_fs=512)
    iso, aniso = spectra["raman_iso"], spectra["raman_aniso"]
    perp = combine_raman(iso, aniso, "perpendicular")
    np.testing.assert_allclose(perp.intensity, aniso.intensity / 15)
    with pytest.raises(ValueError, match="geometry"):
        combine_raman(iso, aniso, "diagonal")
