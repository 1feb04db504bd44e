"""Infrared absorption spectrum from the dipole-derivative autocorrelation function."""

from __future__ import annotations

import numpy as np

from equimol.spectra.constants import KM_PER_MOL_CM1_PER_E2A2_FS_EV
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
from equimol.units import KB_EV_PER_K

IR_UNIT = "km mol⁻¹ (cm⁻¹)⁻¹"


def ir_spectrum(
    dipole: np.ndarray,
    frame_dt_fs: float,
    *,
    depth_fs: float = 2048.0,
    temperature_k: float = 300.0,
    rpmd_average: RpmdAverage = "centroid",
    window: str | None = "hann",
    zero_pad_factor: int = 2,
    finite_difference_correction: bool = True,
    label: str = "IR",
) -> Spectrum:
    """IR spectrum as molar absorption per wavenumber, from ⟨μ̇(0)·μ̇(t)⟩.

    The quantum absorption cross section with the harmonic quantum correction factor
    (Ramírez et al. J. Chem. Phys. 121, 3973 (2004); Thomas et al. PCCP 15, 6608 (2013);
    Gastegger et al. Chem. Sci. 8, 6924 (2017); PaiNN SI) reduces to

        N_A σ(ν̃) = N_A β S_μ̇(ω) / (6 ε₀ c),   S_μ̇(ω) = ∫ ⟨μ̇(0)·μ̇(t)⟩ e^{−iωt} dt,

    β = 1/(k_B T).  The same expression with the RPMD Kubo-transformed correlation is the
    RPMD spectrum.  The intensity is returned in km mol⁻¹ per cm⁻¹, i.e. the area of a band
    over ν̃ in cm⁻¹ is its integrated intensity in km/mol, directly comparable with the
    harmonic intensities of :func:`equimol.spectra.harmonic.ir_intensities` broadened by
    :func:`equimol.spectra.harmonic.broaden` (a harmonic mode with |∂μ/∂Q|² = 1 e²/amu gives a
    band of area 974.9 km/mol).  μ is the dipole of the whole simulated system.

    μ̇ is obtained by central differences; with ``finite_difference_correction`` their
    response sinc² is divided out so that a band scales exactly as ω²|μ_ω|².

    Args:
        dipole: (T, R, P, 3) or (T, 3) dipole moments in e·Å.
        frame_dt_fs: time between frames (dt_fs × stride) in fs.
        depth_fs: correlation depth in fs (PaiNN: 2048 fs).
        temperature_k: temperature of the simulation in K (enters through β).
        rpmd_average: ``"centroid"`` (bead-averaged dipole, RPMD) or ``"beads"``.
        window, zero_pad_factor: see :func:`equimol.spectra.correlation.correlation_spectrum`.
        finite_difference_correction: divide out the central-difference response.
        label: spectrum label.

    Returns:
        Spectrum with intensity in km mol⁻¹ (cm⁻¹)⁻¹ on a 0 … Nyquist cm⁻¹ axis.
    """
    if temperature_k <= 0:
        raise ValueError(f"temperature_k must be positive, got {temperature_k}")
    mu_dot = central_difference(as_trajectory_array(dipole, 1, "dipole"), frame_dt_fs)
    n_lags = lags_for_depth(depth_fs, frame_dt_fs, mu_dot.shape[0])
    acf = ensemble_autocorrelation(mu_dot, n_lags, rpmd_average)
    frequency_cm1, s_mu_dot = correlation_spectrum(acf, frame_dt_fs, window, zero_pad_factor)
    if finite_difference_correction:
        s_mu_dot = s_mu_dot / central_difference_response(frequency_cm1, frame_dt_fs)
    kt_ev = KB_EV_PER_K * temperature_k
    intensity = KM_PER_MOL_CM1_PER_E2A2_FS_EV * s_mu_dot / kt_ev
    return Spectrum(frequency_cm1, intensity, label, IR_UNIT)
