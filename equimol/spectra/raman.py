"""Raman spectra (isotropic and anisotropic) from the polarizability-derivative autocorrelation.

Invariants of a symmetric polarizability α (Long, *The Raman Effect*, Wiley 2002, Ch. 5):
mean ᾱ = tr α / 3 and anisotropy β² = (3/2) tr(β β), β = α − ᾱ 𝟙 the traceless part.
For an isotropic sample (45 ᾱ² + 7 β² convention of Raman activities):

    I_parallel = I_iso + 4/45 I_aniso,  I_perpendicular = 1/15 I_aniso,
    I_unpolarized = I_iso + 7/45 I_aniso.

(Thomas et al. PCCP 15, 6608 (2013) define their anisotropic spectrum with
(2/15) tr(ββ) = 4/45 β²; both conventions describe the same physics.)
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from equimol.spectra.constants import angular_frequency_per_fs, harmonic_quantum_correction
from equimol.spectra.correlation import (
    RpmdAverage,
    as_trajectory_array,
    central_difference,
    central_difference_response,
    correlation_spectrum,
    ensemble_autocorrelation,
    lags_for_depth,
)
from equimol.spectra.spectrum import Spectrum

RAMAN_UNIT = "Å⁶ fs"
_GEOMETRY = {
    "unpolarized": (1.0, 7.0 / 45.0),
    "parallel": (1.0, 4.0 / 45.0),
    "perpendicular": (0.0, 1.0 / 15.0),
}


def laser_wavenumber_cm1(laser_nm: float) -> float:
    """ν̃_L = 10⁷ / λ[nm] in cm⁻¹ (514 nm -> 19455 cm⁻¹)."""
    if laser_nm <= 0:
        raise ValueError(f"laser wavelength must be positive, got {laser_nm} nm")
    return 1e7 / laser_nm


def raman_prefactor(
    frequency_cm1: np.ndarray, laser_nm: float | None = 514.0, temperature_k: float | None = 300.0
) -> np.ndarray:
    """Dimensionless Stokes-Raman prefactor P(ν̃) = ((ν̃_L − ν̃)/ν̃_L)⁴ · x/(1 − e^{−x}), x = ħω/k_BT.

    The first factor is the ω_s⁴ dependence of the scattered intensity (normalised to 1 at
    ν̃ → 0, zero above the laser wavenumber); the second converts a classical (or RPMD
    Kubo-transformed) polarizability spectrum into the quantum Stokes spectrum including the
    Bose factor n(ω) + 1 (Thomas et al. PCCP 2013; McQuarrie Ch. 21; Ramírez et al. 2004).
    ``laser_nm=None`` or ``temperature_k=None`` drops the corresponding factor.
    """
    nu = np.asarray(frequency_cm1, dtype=float)
    factor = np.ones_like(nu)
    if laser_nm is not None:
        nu_l = laser_wavenumber_cm1(laser_nm)
        factor *= (np.clip(nu_l - nu, 0.0, None) / nu_l) ** 4
    if temperature_k is not None:
        factor *= harmonic_quantum_correction(nu, temperature_k)
    return factor


def raman_spectra(
    polarizability: np.ndarray,
    frame_dt_fs: float,
    *,
    depth_fs: float = 2048.0,
    laser_nm: float | None = 514.0,
    temperature_k: float | None = 300.0,
    rpmd_average: RpmdAverage = "centroid",
    window: str | None = "hann",
    zero_pad_factor: int = 2,
    finite_difference_correction: bool = True,
) -> dict[str, Spectrum]:
    """Isotropic and anisotropic Raman spectra from ⟨ᾱ̇(0) ᾱ̇(t)⟩ and ⟨(3/2) tr β̇(0)β̇(t)⟩.

        I_iso(ν̃)   = P(ν̃) S_ᾱ̇(ω) / ω²,     S_ᾱ̇ = ∫ ⟨ᾱ̇(0) ᾱ̇(t)⟩ e^{−iωt} dt
        I_aniso(ν̃) = P(ν̃) S_β̇(ω) / ω²,     S_β̇ = ∫ (3/2) ⟨tr β̇(0) β̇(t)⟩ e^{−iωt} dt

    with P from :func:`raman_prefactor`.  Dividing the derivative spectrum by ω² recovers the
    polarizability spectrum without its large static part; I(0) is set to 0.  Units: Å⁶·fs
    (times the dimensionless P).  For a harmonic mode the area of the band over ν̃ in cm⁻¹
    equals :func:`equimol.spectra.harmonic.raman_intensities` (fixed orientation, with
    I_unpolarized from :func:`combine_raman`).  The antisymmetric part of α is discarded.

    Args:
        polarizability: (T, R, P, 3, 3) or (T, 3, 3) polarizabilities in Å³.
        frame_dt_fs: time between frames (dt_fs × stride) in fs.
        depth_fs: correlation depth in fs (PaiNN: 2048 fs).
        laser_nm: excitation wavelength in nm (PaiNN: 514 nm); None drops the ν⁴ factor.
        temperature_k: temperature in K for the quantum correction; None gives the classical one.
        rpmd_average: ``"centroid"`` (bead-averaged α, RPMD) or ``"beads"``.
        window, zero_pad_factor: see :func:`equimol.spectra.correlation.correlation_spectrum`.
        finite_difference_correction: divide out the central-difference response.

    Returns:
        ``{"raman_iso": Spectrum, "raman_aniso": Spectrum}`` on a common cm⁻¹ axis.
    """
    alpha = as_trajectory_array(polarizability, 2, "polarizability")
    if alpha.shape[-2:] != (3, 3):
        raise ValueError(f"polarizability must end in (3, 3), got {alpha.shape}")
    alpha_dot = central_difference(0.5 * (alpha + np.swapaxes(alpha, -1, -2)), frame_dt_fs)
    mean_dot = np.trace(alpha_dot, axis1=-2, axis2=-1) / 3.0
    traceless_dot = alpha_dot - mean_dot[..., None, None] * np.eye(3)
    n_lags = lags_for_depth(depth_fs, frame_dt_fs, alpha_dot.shape[0])
    acfs = {
        "raman_iso": ensemble_autocorrelation(mean_dot, n_lags, rpmd_average),
        "raman_aniso": ensemble_autocorrelation(traceless_dot, n_lags, rpmd_average, weights=1.5),
    }
    out = {}
    for key, acf in acfs.items():
        frequency_cm1, s_dot = correlation_spectrum(acf, frame_dt_fs, window, zero_pad_factor)
        if finite_difference_correction:
            s_dot = s_dot / central_difference_response(frequency_cm1, frame_dt_fs)
        omega = angular_frequency_per_fs(frequency_cm1)
        s_alpha = np.zeros_like(s_dot)
        s_alpha[omega > 0] = s_dot[omega > 0] / omega[omega > 0] ** 2
        intensity = raman_prefactor(frequency_cm1, laser_nm, temperature_k) * s_alpha
        out[key] = Spectrum(frequency_cm1, intensity, key, RAMAN_UNIT)
    return out


def combine_raman(
    iso: Spectrum,
    aniso: Spectrum,
    geometry: Literal["unpolarized", "parallel", "perpendicular"] = "unpolarized",
    label: str | None = None,
) -> Spectrum:
    """Scattered intensity for a scattering geometry: a I_iso + b I_aniso (see module docstring)."""
    if geometry not in _GEOMETRY:
        raise ValueError(f"geometry must be one of {sorted(_GEOMETRY)}, got {geometry!r}")
    if not np.array_equal(iso.frequency_cm1, aniso.frequency_cm1):
        raise ValueError("isotropic and anisotropic spectra must share the frequency axis")
    a, b = _GEOMETRY[geometry]
    intensity = a * iso.intensity + b * aniso.intensity
    return Spectrum(iso.frequency_cm1, intensity, label or f"raman_{geometry}", iso.unit)
