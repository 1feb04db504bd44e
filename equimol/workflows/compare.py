"""Compare spectra: peak positions and an overlap score."""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from equimol.spectra.bands import DEFAULT_BANDS, band_centroids, band_positions
from equimol.spectra.spectrum import Spectrum

__all__ = [
    "BANDS",
    "band_centroids",
    "band_positions",
    "main_peaks",
    "match_peaks",
    "on_grid",
    "overlap",
]


def on_grid(s: Spectrum, grid: np.ndarray) -> np.ndarray:
    return np.interp(grid, s.frequency_cm1, s.intensity, left=0.0, right=0.0)


def overlap(a: Spectrum, b: Spectrum, lo: float = 400.0, hi: float = 4000.0) -> float:
    """Cosine similarity ∫ab / sqrt(∫a² ∫b²) of two spectra on [lo, hi] cm⁻¹ (1 = identical shape)."""
    grid = np.linspace(lo, hi, 3601)
    x, y = on_grid(a, grid), on_grid(b, grid)
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else 0.0


def main_peaks(
    s: Spectrum, n: int = 6, lo: float = 400.0, hi: float = 4000.0, min_rel: float = 0.05
) -> list[float]:
    """Positions (cm⁻¹) of the ``n`` highest peaks in [lo, hi] above ``min_rel`` of the maximum."""
    mask = (s.frequency_cm1 >= lo) & (s.frequency_cm1 <= hi)
    f, y = s.frequency_cm1[mask], s.intensity[mask]
    if y.size == 0 or y.max() <= 0:
        return []
    idx, props = find_peaks(y, height=min_rel * y.max(), distance=max(1, int(30 / max(f[1] - f[0], 1e-9))))
    top = idx[np.argsort(props["peak_heights"])[::-1][:n]]
    return sorted(float(f[i]) for i in top)


def match_peaks(ref: list[float], other: list[float], window: float = 150.0) -> list[dict]:
    """Pair each reference peak with the nearest peak of ``other`` within ``window`` cm⁻¹."""
    out = []
    for p in ref:
        cand = [q for q in other if abs(q - p) <= window]
        q = min(cand, key=lambda q: abs(q - p)) if cand else None
        out.append(
            {
                "reference_cm1": round(p, 1),
                "model_cm1": None if q is None else round(q, 1),
                "shift_cm1": None if q is None else round(q - p, 1),
            }
        )
    return out


# band maxima and centroids live with the spectra (equimol.spectra.bands); kept here for callers
BANDS = DEFAULT_BANDS
