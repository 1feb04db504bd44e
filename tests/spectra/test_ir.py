import numpy as np
import pytest

from equimol.spectra.constants import KM_PER_MOL_PER_E2_PER_AMU
from equimol.spectra.ir import ir_spectrum

from .helpers import band_area, classical_amplitude, omega, peak_cm1


def _dipole(t, components):
    mu = np.zeros((t.size, 3))
    for nu, amplitude, axis in components:
        mu[:, axis] += amplitude * np.cos(omega(nu) * t)
    return mu


def test_harmonic_dipole_peaks_at_its_frequency():
    t = np.arange(8192) * 0.5
    spec = ir_spectrum(_dipole(t, [(1650.0, 0.1, 2)]), 0.5)
    assert abs(peak_cm1(spec) - 1650.0) < 8.0
    assert spec.unit == "km mol⁻¹ (cm⁻¹)⁻¹"


@pytest.mark.parametrize("dt", [0.5, 2.0])
def test_two_oscillators_intensity_ratio_is_omega2_a2(dt):
    """μ = A₁cos ω₁t + A₂cos ω₂t: C_μ̇(τ) = Σ A_k²ω_k²/2 cos ω_kτ, so band areas ∝ ω_k² A_k²."""
    t = np.arange(int(4096 / dt) * 2) * dt
    (nu1, a1), (nu2, a2) = (1000.0, 0.3), (3000.0, 0.05)
    mu = _dipole(t, [(nu1, a1, 2), (nu2, a2, 2)])
    ratio = band_area(ir_spectrum(mu, dt), 800, 1200) / band_area(ir_spectrum(mu, dt), 2800, 3200)
    expected = (nu1 * a1) ** 2 / (nu2 * a2) ** 2
    assert ratio == pytest.approx(expected, rel=0.01)
    raw = ir_spectrum(mu, dt, finite_difference_correction=False)
    raw_ratio = band_area(raw, 800, 1200) / band_area(raw, 2800, 3200)

    def sinc2(nu):
        return np.sinc(2 * nu * 2.99792458e-5 * dt) ** 2

    assert raw_ratio == pytest.approx(expected * sinc2(nu1) / sinc2(nu2), rel=0.01)


def test_band_area_equals_harmonic_intensity_in_km_per_mol():
    """Classical harmonic mode with ∂μ/∂Q = 0.5 e/amu^½ at 300 K -> 0.25 · 974.9 km/mol."""
    t = np.arange(8192) * 0.5
    nu, dmu_dq, temperature = 1500.0, 0.5, 300.0
    q0 = classical_amplitude(nu, temperature)
    spec = ir_spectrum(_dipole(t, [(nu, dmu_dq * q0, 0)]), 0.5, temperature_k=temperature)
    assert band_area(spec, 1300, 1700) == pytest.approx(dmu_dq**2 * KM_PER_MOL_PER_E2_PER_AMU, rel=0.01)


def test_replicas_and_beads_are_averaged():
    t = np.arange(4096) * 0.5
    a, b = _dipole(t, [(1000.0, 0.1, 0)]), _dipole(t, [(2000.0, 0.1, 1)])
    both = np.stack([a, b], axis=1)[:, :, None]  # (T, R=2, P=1, 3)
    avg = ir_spectrum(both, 0.5, depth_fs=1024)
    expected = 0.5 * (
        ir_spectrum(a, 0.5, depth_fs=1024).intensity + ir_spectrum(b, 0.5, depth_fs=1024).intensity
    )
    np.testing.assert_allclose(avg.intensity, expected, rtol=1e-8, atol=1e-10 * expected.max())
    # identical beads: centroid and bead averages coincide
    beads = np.repeat(a[:, None, None], 4, axis=2)
    np.testing.assert_allclose(
        ir_spectrum(beads, 0.5, depth_fs=1024, rpmd_average="beads").intensity,
        ir_spectrum(beads, 0.5, depth_fs=1024, rpmd_average="centroid").intensity,
    )


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="dipole"):
        ir_spectrum(np.zeros((100, 2, 3, 3, 3)), 0.5)
    with pytest.raises(ValueError, match="depth"):
        ir_spectrum(np.zeros((100, 3)), 0.5)
