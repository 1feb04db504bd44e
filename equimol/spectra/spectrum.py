"""The :class:`Spectrum` container shared by every spectrum producer and consumer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Spectrum:
    """A spectrum sampled on a wavenumber axis.

    Attributes:
        frequency_cm1: (F,) wavenumbers in cm⁻¹.
        intensity: (F,) intensities in ``unit``.
        label: legend text / column name (e.g. ``"ML-MD"``).
        unit: human-readable unit of ``intensity`` (e.g. ``"km mol⁻¹ (cm⁻¹)⁻¹"``).
    """

    frequency_cm1: np.ndarray
    intensity: np.ndarray
    label: str = ""
    unit: str = ""

    def __post_init__(self) -> None:
        freq = np.asarray(self.frequency_cm1, dtype=float)
        inten = np.asarray(self.intensity, dtype=float)
        if freq.ndim != 1 or inten.shape != freq.shape:
            raise ValueError(
                f"Spectrum {self.label!r}: frequency_cm1 {freq.shape} and intensity {inten.shape}"
                " must be 1-D arrays of equal length"
            )
        object.__setattr__(self, "frequency_cm1", freq)
        object.__setattr__(self, "intensity", inten)

    def normalised(self, lo_cm1: float | None = None, hi_cm1: float | None = None) -> Spectrum:
        """Return a copy scaled so that the maximum intensity inside [lo_cm1, hi_cm1] is 1.

        An all-zero (or empty) window leaves the intensities unchanged.
        """
        mask = np.ones(self.frequency_cm1.shape, dtype=bool)
        if lo_cm1 is not None:
            mask &= self.frequency_cm1 >= lo_cm1
        if hi_cm1 is not None:
            mask &= self.frequency_cm1 <= hi_cm1
        peak = float(np.max(self.intensity[mask])) if mask.any() else 0.0
        scale = 1.0 / peak if peak > 0 else 1.0
        return Spectrum(self.frequency_cm1, self.intensity * scale, self.label, "normalised")
