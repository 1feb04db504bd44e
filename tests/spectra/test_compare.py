"""Comparing spectra (equimol.workflows.compare): overlap, peaks, band maxima and centroids on
synthetic spectra with known answers."""

import numpy as np
import pytest

from equimol.spectra.spectrum import Spectrum
from equimol.workflows.compare import band_centroids, band_positions, main_peaks, match_peaks, overlap

GRID = np.arange(0.0, 4200.0, 2.0)


def lines(*peaks, width=10.0):
    """Sum of Lorentzians (position cm⁻¹, height)."""
    y = sum(h / (1.0 + ((GRID - x) / width) ** 2) for x, h in peaks)
    return Spectrum(GRID, y, "synthetic", "a.u.")


def test_band_maximum_and_centroid_of_known_bands():
    s = lines((1100.0, 1.0), (2900.0, 2.0), (3000.0, 1.0), (3650.0, 0.5))
    maxima = band_positions(s)
    assert maxima == {"fingerprint": 1100.0, "C-H stretch": 2900.0, "O-H stretch": 3650.0}
    centroids = band_centroids(s)
    # two C–H lines of heights 2 and 1: the centroid lies between, nearer the taller one
    assert 2900.0 < centroids["C-H stretch"] < 2950.0
    assert centroids["O-H stretch"] == pytest.approx(3650.0, abs=25.0)  # symmetric line, window tails
    shifted = Spectrum(GRID, np.interp(GRID + 100.0, GRID, s.intensity), "shifted", "a.u.")
    assert band_positions(shifted)["C-H stretch"] == 2800.0  # everything 100 cm⁻¹ lower


def test_empty_band_is_none_and_overlap_is_a_cosine():
    s = lines((1100.0, 1.0))
    assert band_positions(s)["C-H stretch"] is not None  # a Lorentzian tail is not zero
    zero = Spectrum(GRID, np.zeros_like(GRID), "zero", "a.u.")
    assert band_centroids(zero) == {"fingerprint": None, "C-H stretch": None, "O-H stretch": None}
    assert overlap(s, s) == pytest.approx(1.0)
    assert overlap(s, lines((3000.0, 1.0))) < 0.05


def test_peaks_are_matched_within_the_window():
    ref, other = lines((1000.0, 1.0), (3000.0, 1.0)), lines((1010.0, 1.0), (3400.0, 1.0))
    pairs = match_peaks(main_peaks(ref), main_peaks(other))
    assert pairs[0]["shift_cm1"] == pytest.approx(10.0) and pairs[1]["model_cm1"] is None
