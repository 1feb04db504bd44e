"""Vibrational spectra: IR, Raman and power spectra from (RPMD) trajectories, harmonic spectra,
plots and JCAMP-DX experimental spectra.  Pure NumPy/SciPy; internal units (Å, eV, e, amu, fs, K)."""

from equimol.spectra.correlation import autocorrelation, correlation_spectrum, ensemble_autocorrelation
from equimol.spectra.harmonic import (
    NormalModes,
    broaden,
    ir_intensities,
    normal_modes,
    raman_activities,
    raman_intensities,
)
from equimol.spectra.ir import ir_spectrum
from equimol.spectra.jcamp import read_jcamp, write_jcamp
from equimol.spectra.plot import plot_spectra
from equimol.spectra.power import power_spectrum
from equimol.spectra.raman import combine_raman, raman_prefactor, raman_spectra
from equimol.spectra.spectrum import Spectrum
from equimol.spectra.trajectory import load_trajectory, spectra_from_trajectory, write_csv

__all__ = [
    "NormalModes",
    "Spectrum",
    "autocorrelation",
    "broaden",
    "combine_raman",
    "correlation_spectrum",
    "ensemble_autocorrelation",
    "ir_intensities",
    "ir_spectrum",
    "load_trajectory",
    "normal_modes",
    "plot_spectra",
    "power_spectrum",
    "raman_activities",
    "raman_intensities",
    "raman_prefactor",
    "raman_spectra",
    "read_jcamp",
    "spectra_from_trajectory",
    "write_csv",
    "write_jcamp",
]
