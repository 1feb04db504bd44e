"""Power spectrum (vibrational density of states) from the mass-weighted velocity autocorrelation."""

from __future__ import annotations

import numpy as np

from equimol.spectra.correlation import (
    RpmdAverage,
    as_trajectory_array,
    correlation_spectrum,
    ensemble_autocorrelation,
    lags_for_depth,
)
from equimol.spectra.spectrum import Spectrum
from equimol.units import C_CM_PER_FS

POWER_UNIT = "degrees of freedom (cm⁻¹)⁻¹"


def power_spectrum(
    velocities: np.ndarray,
    masses_amu: np.ndarray,
    frame_dt_fs: float,
    *,
    depth_fs: float = 2048.0,
    rpmd_average: RpmdAverage = "centroid",
    window: str | None = "hann",
    zero_pad_factor: int = 2,
    label: str = "power",
) -> Spectrum:
    """Vibrational density of states g(ν̃) from C(t) = Σ_i m_i ⟨v_i(0)·v_i(t)⟩.

    g(ν̃) = 3N · 2c · S(ν̃) / C(0), S(ω) = ∫ C(t) e^{−iωt} dt (Thomas et al. PCCP 15, 6608
    (2013); McQuarrie, Statistical Mechanics, Ch. 21).  This normalisation makes
    ∫_0^∞ g dν̃ = 3N, the number of degrees of freedom (translations and rotations included),
    independently of the temperature and velocity units; a harmonic mode contributes a band
    of area 1 in the classical limit.

    Args:
        velocities: (T, R, P, N, 3) or (T, N, 3) velocities in Å/fs.
        masses_amu: (N,) masses in amu.
        frame_dt_fs: time between frames (dt_fs × stride) in fs.
        depth_fs: correlation depth in fs.
        rpmd_average: ``"centroid"`` (centroid velocities) or ``"beads"`` (per-bead VACF).
        window, zero_pad_factor: see :func:`equimol.spectra.correlation.correlation_spectrum`.
        label: spectrum label.

    Returns:
        Spectrum with intensity in degrees of freedom per cm⁻¹.
    """
    v = as_trajectory_array(velocities, 2, "velocities")
    masses = np.asarray(masses_amu, dtype=float)
    if v.shape[-1] != 3 or masses.shape != v.shape[-2:-1]:
        raise ValueError(f"velocities {v.shape} (…, N, 3) do not match masses {masses.shape} (N,)")
    n_lags = lags_for_depth(depth_fs, frame_dt_fs, v.shape[0])
    acf = ensemble_autocorrelation(v, n_lags, rpmd_average, weights=masses[:, None])
    if acf[0] <= 0:
        raise ValueError("velocities are all zero: the power spectrum is undefined")
    frequency_cm1, s = correlation_spectrum(acf, frame_dt_fs, window, zero_pad_factor)
    n_dof = 3 * masses.shape[0]
    return Spectrum(frequency_cm1, n_dof * 2.0 * C_CM_PER_FS * s / acf[0], label, POWER_UNIT)
