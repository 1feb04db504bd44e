"""Helpers for the spectra tests: synthetic signals with known spectra."""

from __future__ import annotations

import numpy as np

from equimol.units import ACCEL_TO_A_PER_FS2, C_CM_PER_FS, KB_EV_PER_K


def omega(nu_cm1: float) -> float:
    """Angular frequency in rad/fs of a wavenumber in cm⁻¹."""
    return 2.0 * np.pi * C_CM_PER_FS * nu_cm1


def band_area(spectrum, lo: float, hi: float) -> float:
    """∫ I dν̃ over [lo, hi] cm⁻¹ (trapezoid)."""
    m = (spectrum.frequency_cm1 >= lo) & (spectrum.frequency_cm1 <= hi)
    return float(np.trapezoid(spectrum.intensity[m], spectrum.frequency_cm1[m]))


def peak_cm1(spectrum, lo: float = 1.0, hi: float = np.inf) -> float:
    m = (spectrum.frequency_cm1 >= lo) & (spectrum.frequency_cm1 <= hi)
    return float(spectrum.frequency_cm1[m][np.argmax(spectrum.intensity[m])])


def classical_amplitude(nu_cm1: float, temperature_k: float) -> float:
    """Q₀ (amu^½ Å) of Q(t) = Q₀ cos ωt with the classical ⟨Q̇²⟩ = k_B T."""
    return np.sqrt(2.0 * KB_EV_PER_K * temperature_k * ACCEL_TO_A_PER_FS2) / omega(nu_cm1)


def write_trajectory(path, wave, *, dt_fs=0.5, stride=2, dipole=True, polarizability=True, **attrs):
    """An equimol-md-like HDF5 trajectory of three atoms (O, H, H) whose velocities, dipole and
    polarizability all follow ``wave`` (T, R, P); extra keyword arguments become file attributes."""
    import h5py

    t = np.arange(wave.shape[0]) * dt_fs * stride
    velocities = 0.01 * wave[..., None, None] * np.ones((3, 3))
    with h5py.File(path, "w") as f:
        f["time_fs"] = t
        f["positions"] = np.cumsum(velocities, axis=0)
        f["velocities"] = velocities
        f["atomic_numbers"] = np.array([8, 1, 1])
        if dipole:
            f["dipole"] = 0.1 * wave[..., None] * np.array([0.0, 0.0, 1.0])
        if polarizability:
            f["polarizability"] = np.eye(3) + 0.05 * wave[..., None, None] * np.diag([1.0, 0.5, -0.2])
        f.attrs["dt_fs"] = dt_fs
        f.attrs["stride"] = stride
        for key, value in attrs.items():
            f.attrs[key] = value
    return path
