import numpy as np
import pytest

from equimol.spectra.power import power_spectrum

from .helpers import band_area, omega, peak_cm1


def _velocities(t, specs):
    """One atom per (nu, amplitude); each moves along x: v = A sin(ωt)."""
    v = np.zeros((t.size, len(specs), 3))
    for i, (nu, amp) in enumerate(specs):
        v[:, i, 0] = amp * np.sin(omega(nu) * t)
    return v


def test_harmonic_oscillator_velocity_spectrum_peaks_at_frequency_and_integrates_to_3n():
    t = np.arange(8192) * 0.5
    spec = power_spectrum(_velocities(t, [(2100.0, 0.01)]), np.array([12.0]), 0.5)
    assert abs(peak_cm1(spec) - 2100.0) < 8.0
    assert np.trapezoid(spec.intensity, spec.frequency_cm1) == pytest.approx(3.0, rel=2e-3)


def test_mass_weighting():
    t = np.arange(8192) * 0.5
    v = _velocities(t, [(1000.0, 0.01), (3000.0, 0.01)])
    spec = power_spectrum(v, np.array([1.0, 16.0]), 0.5)
    assert band_area(spec, 2800, 3200) / band_area(spec, 800, 1200) == pytest.approx(16.0, rel=0.01)


def test_rpmd_layout_and_errors():
    t = np.arange(2048) * 0.5
    v = _velocities(t, [(1500.0, 0.01)])[:, None, None].repeat(2, axis=1)  # (T, R=2, P=1, N=1, 3)
    spec = power_spectrum(v, np.array([1.0]), 0.5, depth_fs=512)
    assert abs(peak_cm1(spec) - 1500.0) < 20.0
    with pytest.raises(ValueError, match="masses"):
        power_spectrum(v, np.array([1.0, 2.0]), 0.5, depth_fs=512)
    with pytest.raises(ValueError, match="zero"):
        power_spectrum(np.zeros_like(v), np.array([1.0]), 0.5, depth_fs=512)
