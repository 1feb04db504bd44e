import numpy as np
import pytest

from equimol.spectra.correlation import (
    autocorrelation,
    central_difference,
    correlation_spectrum,
    ensemble_autocorrelation,
    lags_for_depth,
)

from .helpers import omega


def test_autocorrelation_matches_direct_sum():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    acf = autocorrelation(x, 50)
    for lag in (0, 1, 17, 49):
        direct = np.mean(x[: 200 - lag] * x[lag:], axis=0)
        np.testing.assert_allclose(acf[lag], direct, rtol=1e-10, atol=1e-12)


def test_central_difference_of_quadratic_is_exact():
    t = np.arange(10) * 0.5
    np.testing.assert_allclose(central_difference(t**2, 0.5), 2 * t[1:-1])


def test_spectrum_of_cosine_peaks_at_its_frequency_and_obeys_parseval():
    dt, nu0 = 0.5, 1234.0
    t = np.arange(8192) * dt
    x = np.cos(omega(nu0) * t)
    acf = autocorrelation(x, lags_for_depth(2048.0, dt, len(t)))
    freq, s = correlation_spectrum(acf, dt)
    assert abs(freq[np.argmax(s)] - nu0) < 8.0  # natural resolution 1/(2·2048 fs) ≈ 8 cm⁻¹
    # ∫_0^∞ S dν̃ = C(0) / (2c)
    from equimol.units import C_CM_PER_FS

    np.testing.assert_allclose(np.trapezoid(s, freq), acf[0] / (2 * C_CM_PER_FS), rtol=1e-3)


def test_replica_average_is_mean_of_replica_correlations():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2, 1, 3))
    avg = ensemble_autocorrelation(x, 40)
    single = [ensemble_autocorrelation(x[:, r : r + 1], 40) for r in range(2)]
    np.testing.assert_allclose(avg, 0.5 * (single[0] + single[1]))


def test_centroid_removes_internal_ring_polymer_motion_beads_keep_it():
    t = np.arange(4096) * 0.5
    centroid = np.cos(omega(1000.0) * t)
    internal = np.cos(omega(3000.0) * t)
    x = np.stack([centroid + internal, centroid - internal], axis=1)[:, None, :, None]  # (T,1,2,1)
    c_centroid = ensemble_autocorrelation(x, 1025, "centroid")
    c_beads = ensemble_autocorrelation(x, 1025, "beads")
    f, s_centroid = correlation_spectrum(c_centroid, 0.5)
    _, s_beads = correlation_spectrum(c_beads, 0.5)
    high = (f > 2800) & (f < 3200)
    assert s_centroid[high].max() < 1e-3 * s_beads[high].max()
    np.testing.assert_allclose(c_beads[0], 1.0, rtol=2e-3)  # ⟨(c ± i)²⟩ = 1/2 + 1/2


def test_weights_and_errors():
    x = np.ones((20, 1, 1, 2, 3))
    acf = ensemble_autocorrelation(x, 5, weights=np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(acf, 12.0)
    with pytest.raises(ValueError, match="rpmd_average"):
        ensemble_autocorrelation(x, 5, "ring")
    with pytest.raises(ValueError, match="depth"):
        lags_for_depth(2048.0, 1.0, 100)


def test_chunked_sum_over_many_columns_matches_unchunked(monkeypatch):
    from equimol.spectra import correlation

    monkeypatch.setattr(correlation, "_CHUNK_ELEMENTS", 2 * 200 * 7)  # 7 columns per chunk
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 1, 1, 10, 3))  # 30 columns
    expected = autocorrelation(x[:, 0, 0].reshape(200, -1), 30).sum(axis=1)
    np.testing.assert_allclose(ensemble_autocorrelation(x, 30), expected, rtol=1e-10)
