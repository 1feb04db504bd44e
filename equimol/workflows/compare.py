"""Compare spectra: peak positions and an overlap score."""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from equimol.spectra.spectrum import Spectrum


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


# ethanol's bands (cm⁻¹): fingerprint (C-O, C-C stretches, bends), C-H stretches, O-H stretch
BANDS: dict[str, tuple[float, float]] = {
    "fingerprint": (400.0, 1600.0),
    "C-H stretch": (2500.0, 3250.0),
    "O-H stretch": (3250.0, 4000.0),
}


def band_positions(s: Spectrum, bands: dict[str, tuple[float, float]] = BANDS) -> dict[str, float | None]:
    """Position (cm⁻¹) of the maximum of ``s`` inside each band window; None where the window is
    empty or the spectrum is zero there."""
    out: dict[str, float | None] = {}
    for name, (lo, hi) in bands.items():
        mask = (s.frequency_cm1 >= lo) & (s.frequency_cm1 <= hi)
        y = s.intensity[mask]
        out[name] = round(float(s.frequency_cm1[mask][np.argmax(y)]), 1) if y.size and y.max() > 0 else None
    return out


def band_centroids(s: Spectrum, bands: dict[str, tuple[float, float]] = BANDS) -> dict[str, float | None]:
    """Intensity-weighted mean wavenumber (cm⁻¹) of ``s`` inside each band window: robust where a
    band has several peaks (the C–H stretches) whose heights change between methods; None where
    the spectrum is zero there."""
    out: dict[str, float | None] = {}
    for name, (lo, hi) in bands.items():
        mask = (s.frequency_cm1 >= lo) & (s.frequency_cm1 <= hi)
        y = np.clip(s.intensity[mask], 0.0, None)
        total = float(y.sum())
        out[name] = round(float((s.frequency_cm1[mask] * y).sum() / total), 1) if total > 0 else None
    return out
