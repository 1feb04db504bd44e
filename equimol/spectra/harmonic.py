"""Harmonic (normal-mode) vibrational spectra from a Hessian and property derivatives.

Inputs are plain arrays so that they work with any model or with the xTB reference:
Hessian (3N, 3N) in eV/Å², masses (N,) in amu, positions (N, 3) in Å, dipole derivatives
∂μ/∂x (3N, 3) in e (e·Å/Å) and polarizability derivatives ∂α/∂x (3N, 3, 3) in Å².  Row i of a
derivative is Cartesian coordinate i = 3·atom + axis (an (N, 3, ...) array is also accepted).
:func:`normal_modes` is also the analysis behind normal-mode sampling (:mod:`equimol.reference.sampling`).
References: Wilson, Decius & Cross, *Molecular Vibrations* (1955); Neugebauer et al.
J. Comput. Chem. 23, 895 (2002); Long, *The Raman Effect* (2002).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from equimol.spectra.constants import (
    KM_PER_MOL_PER_E2_PER_AMU,
    angular_frequency_per_fs,
)
from equimol.spectra.raman import raman_prefactor
from equimol.spectra.spectrum import Spectrum
from equimol.units import ACCEL_TO_A_PER_FS2, C_CM_PER_FS, KB_EV_PER_K


@dataclass(frozen=True, eq=False)
class NormalModes:
    """Vibrational normal modes.

    Attributes:
        frequencies_cm1: (M,) harmonic wavenumbers in cm⁻¹, ascending; imaginary ones negative.
        modes: (3N, M) orthonormal eigenvectors L of the mass-weighted Hessian.
        masses_amu: (N,) masses in amu.
    """

    frequencies_cm1: np.ndarray
    modes: np.ndarray
    masses_amu: np.ndarray

    @property
    def cartesian_displacements(self) -> np.ndarray:
        """(3N, M) ∂x_i/∂Q_k = L_ik / √m_i in amu^-½ (Q mass-weighted, amu^½·Å)."""
        return self.modes / np.sqrt(np.repeat(self.masses_amu, 3))[:, None]


def _rigid_body_svd(
    positions: np.ndarray, masses: np.ndarray, linear_tolerance: float
) -> tuple[np.ndarray, int]:
    """(U, r): the full (3N, 3N) left singular vectors of the mass-weighted translations and
    rotations and their rank r; U[:, :r] spans the rigid-body motions, U[:, r:] the vibrations."""
    pos = np.asarray(positions, dtype=float)
    n = len(masses)
    sqrt_m = np.repeat(np.sqrt(masses), 3)
    centred = pos - masses @ pos / masses.sum()
    rigid = []
    for axis in np.eye(3):
        rigid.append(np.tile(axis, n) * sqrt_m)  # translation along axis
        rigid.append(np.cross(axis, centred).reshape(-1) * sqrt_m)  # rotation about axis
    u, s, _ = np.linalg.svd(np.array(rigid).T, full_matrices=True)
    return u, int(np.sum(s > linear_tolerance * s.max()))


def rigid_body_basis(
    positions: np.ndarray, masses_amu: np.ndarray, linear_tolerance: float = 1e-3
) -> np.ndarray:
    """Orthonormal basis (3N, r) of mass-weighted translations and rotations, r = 6, 5 or 3.

    Rotations about the centre of mass whose singular value is below ``linear_tolerance``
    times the largest (the axis of a linear molecule) are dropped.
    """
    u, rank = _rigid_body_svd(positions, np.asarray(masses_amu, dtype=float), linear_tolerance)
    return u[:, :rank]


def normal_modes(
    hessian: np.ndarray,
    masses_amu: np.ndarray,
    positions: np.ndarray | None = None,
    *,
    project: bool = True,
    linear_tolerance: float = 1e-3,
) -> NormalModes:
    """Normal modes of the mass-weighted Hessian H_ij / √(m_i m_j).

    With ``project`` (default) the Hessian is restricted to the orthogonal complement of the
    rigid-body motions (:func:`rigid_body_basis`), which yields exactly 3N − 6 (3N − 5 for a
    linear molecule) vibrations even away from a perfect stationary point, with no
    small-eigenvalue threshold deciding which modes are vibrations; otherwise all 3N modes
    are returned.  ω² = λ · ACCEL_TO_A_PER_FS2 (fs⁻²), ν̃ = ω / (2π c); negative eigenvalues
    give negative (imaginary) wavenumbers.

    Args:
        hessian: (3N, 3N) second derivatives of the energy in eV/Å² (symmetrised here).
        masses_amu: (N,) atomic masses in amu.
        positions: (N, 3) Å, required when ``project`` is True.
        project: remove translations and rotations.
        linear_tolerance: see :func:`rigid_body_basis`.
    """
    masses = np.asarray(masses_amu, dtype=float)
    h = np.asarray(hessian, dtype=float)
    n3 = 3 * masses.shape[0]
    if masses.ndim != 1 or h.shape != (n3, n3):
        raise ValueError(f"hessian {h.shape} must be (3N, 3N) for masses {masses.shape} (N,)")
    if np.any(masses <= 0):
        raise ValueError("masses must be positive")
    sqrt_m = np.repeat(np.sqrt(masses), 3)
    h_mw = 0.5 * (h + h.T) / np.outer(sqrt_m, sqrt_m)
    if project:
        if positions is None or np.shape(positions) != (masses.shape[0], 3):
            raise ValueError("positions (N, 3) in Å are required to project out rotations")
        u, rank = _rigid_body_svd(positions, masses, linear_tolerance)
        basis = u[:, rank:]  # orthonormal basis of the internal (vibrational) space
    else:
        basis = np.eye(n3)
    eigenvalues, vectors = np.linalg.eigh(basis.T @ h_mw @ basis)
    omega2 = eigenvalues * ACCEL_TO_A_PER_FS2
    frequencies = np.sign(omega2) * np.sqrt(np.abs(omega2)) / (2.0 * np.pi * C_CM_PER_FS)
    return NormalModes(frequencies, basis @ vectors, masses)


def _per_coordinate(derivatives: np.ndarray, n3: int, tail: tuple[int, ...], name: str) -> np.ndarray:
    d = np.asarray(derivatives, dtype=float)
    if d.shape not in ((n3, *tail), (n3 // 3, 3, *tail)):
        raise ValueError(f"{name} must have shape {(n3, *tail)} or {(n3 // 3, 3, *tail)}, got {d.shape}")
    return d.reshape(n3, *tail)


def ir_intensities(modes: NormalModes, dipole_derivatives: np.ndarray) -> np.ndarray:
    """IR integrated intensities A_k = N_A/(12 ε₀ c²) |∂μ/∂Q_k|² in km/mol, shape (M,).

    Args:
        modes: from :func:`normal_modes`.
        dipole_derivatives: (3N, 3) ∂μ_β/∂x_i in e (e·Å per Å).
    """
    d = _per_coordinate(dipole_derivatives, modes.modes.shape[0], (3,), "dipole_derivatives")
    dmu_dq = modes.cartesian_displacements.T @ d  # (M, 3) e / amu^½
    return KM_PER_MOL_PER_E2_PER_AMU * np.sum(dmu_dq**2, axis=1)


def raman_activities(modes: NormalModes, polarizability_derivatives: np.ndarray) -> np.ndarray:
    """Raman activities S_k = 45 a'_k² + 7 γ'_k² in Å⁴/amu, shape (M,).

    a' = tr(∂α/∂Q)/3 and γ'² = (3/2) tr(β'β') with β' the traceless part of ∂α/∂Q.

    Args:
        modes: from :func:`normal_modes`.
        polarizability_derivatives: (3N, 3, 3) ∂α/∂x_i in Å² (Å³ per Å); symmetrised here.
    """
    d = _per_coordinate(
        polarizability_derivatives, modes.modes.shape[0], (3, 3), "polarizability_derivatives"
    )
    d = 0.5 * (d + np.swapaxes(d, 1, 2))
    da_dq = np.einsum("ik,iab->kab", modes.cartesian_displacements, d)
    mean = np.trace(da_dq, axis1=1, axis2=2) / 3.0
    traceless = da_dq - mean[:, None, None] * np.eye(3)
    gamma2 = 1.5 * np.sum(traceless**2, axis=(1, 2))
    return 45.0 * mean**2 + 7.0 * gamma2


def raman_intensities(
    frequencies_cm1: np.ndarray,
    activities: np.ndarray,
    laser_nm: float | None = 514.0,
    temperature_k: float = 300.0,
) -> np.ndarray:
    """Unpolarized Stokes Raman band areas in Å⁶·fs·cm⁻¹, comparable with the MD spectra.

    I_k = P(ν̃_k) · (S_k / 45) · k_B T / (2 c ω_k²), P from :func:`equimol.spectra.raman.raman_prefactor`
    (its factor x/(1 − e^{−x}) turns the classical k_B T/ω² into ħ(n_k + 1)/ω, twice the quantum
    Stokes ⟨Q²⟩; Long, *The Raman Effect*, Ch. 5).  S_k in Å⁴/amu.  This equals the area of the MD band
    ``combine_raman(iso, aniso, "unpolarized")`` of a harmonic mode.  Modes with ν̃ ≤ 0 get 0.
    """
    nu = np.asarray(frequencies_cm1, dtype=float)
    act = np.asarray(activities, dtype=float)
    out = np.zeros_like(nu)
    pos = nu > 0
    omega = angular_frequency_per_fs(nu[pos])
    classical_q2 = KB_EV_PER_K * temperature_k * ACCEL_TO_A_PER_FS2 / omega**2  # amu·Å²
    out[pos] = raman_prefactor(nu[pos], laser_nm, temperature_k) * act[pos] / 45.0 * classical_q2
    return out / (2.0 * C_CM_PER_FS)


def broaden(
    frequencies_cm1: np.ndarray,
    intensities: np.ndarray,
    grid_cm1: np.ndarray,
    *,
    fwhm_cm1: float = 10.0,
    shape: Literal["lorentzian", "gaussian"] = "lorentzian",
    label: str = "harmonic",
    unit: str = "km/mol",
) -> Spectrum:
    """Broaden a stick spectrum with unit-area line shapes: I(ν̃) = Σ_k I_k f(ν̃ − ν̃_k).

    Lorentzian f = (Γ/2π) / (x² + Γ²/4); Gaussian f = exp(−x²/2σ²)/(σ√2π), σ = Γ/(2√(2 ln 2));
    Γ = ``fwhm_cm1``.  The result is in ``unit`` per cm⁻¹, so band areas are preserved
    (e.g. km/mol sticks give km mol⁻¹ (cm⁻¹)⁻¹, the unit of the MD IR spectrum).
    """
    if fwhm_cm1 <= 0:
        raise ValueError(f"fwhm_cm1 must be positive, got {fwhm_cm1}")
    grid = np.asarray(grid_cm1, dtype=float)
    nu = np.asarray(frequencies_cm1, dtype=float)
    x = grid[:, None] - nu[None, :]
    if shape == "lorentzian":
        half = 0.5 * fwhm_cm1
        profile = half / np.pi / (x**2 + half**2)
    elif shape == "gaussian":
        sigma = fwhm_cm1 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        profile = np.exp(-0.5 * (x / sigma) ** 2) / (sigma * np.sqrt(2.0 * np.pi))
    else:
        raise ValueError(f"shape must be 'lorentzian' or 'gaussian', got {shape!r}")
    return Spectrum(grid, profile @ np.asarray(intensities, dtype=float), label, f"{unit} (cm⁻¹)⁻¹")
