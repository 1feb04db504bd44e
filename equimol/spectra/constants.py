"""Spectroscopic conversion factors, derived once from CODATA (via ASE) and :mod:`equimol.units`.

Only the factors that turn internal units (Å, eV, e, amu, fs, K) into spectroscopic
conventions live here (km/mol, cm⁻¹); they are candidates to move into
:mod:`equimol.units`.
"""

from __future__ import annotations

import numpy as np
from ase import units as _ase

from equimol.units import C_CM_PER_FS, HBAR_EV_FS, KB_EV_PER_K

# IR integrated intensity of a harmonic mode (Wilson, Decius & Cross; e.g. Neugebauer et al.
# J. Comput. Chem. 23, 895 (2002)):  A_k = N_A / (12 ε0 c²) |∂μ/∂Q_k|²  (natural-log
# Beer–Lambert convention used by Gaussian/ORCA/xTB).  |∂μ/∂Q|² in e²/amu -> A in km/mol.
# Check: 1 (D/Å)²/amu = 42.2561 km/mol.
KM_PER_MOL_PER_E2_PER_AMU: float = (
    _ase._Nav / (12.0 * _ase._eps0 * _ase._c**2) * _ase._e**2 / _ase._amu / 1000.0
)

# IR absorption from the dipole-derivative autocorrelation (see ir.py):
#   N_A σ(ν̃) = N_A β S_μ̇(ω) / (6 ε0 c),  S_μ̇ in e²Å²/fs, kT in eV -> N_A σ in m²/mol;
# expressed as d(A)/dν̃ in km mol⁻¹ per cm⁻¹ (factor 100 m⁻¹ per cm⁻¹ and 1/1000 m per km).
KM_PER_MOL_CM1_PER_E2A2_FS_EV: float = (
    _ase._Nav * _ase._e * 1e-20 / 1e-15 / (6.0 * _ase._eps0 * _ase._c) * 100.0 / 1000.0
)


def angular_frequency_per_fs(frequency_cm1: np.ndarray | float) -> np.ndarray:
    """ω = 2π c ν̃ in rad/fs for wavenumbers ν̃ in cm⁻¹."""
    return 2.0 * np.pi * C_CM_PER_FS * np.asarray(frequency_cm1, dtype=float)


def reduced_energy(frequency_cm1: np.ndarray | float, temperature_k: float) -> np.ndarray:
    """x = ħω / (k_B T), dimensionless."""
    if temperature_k <= 0:
        raise ValueError(f"temperature_k must be positive, got {temperature_k}")
    return HBAR_EV_FS * angular_frequency_per_fs(frequency_cm1) / (KB_EV_PER_K * temperature_k)


def harmonic_quantum_correction(frequency_cm1: np.ndarray, temperature_k: float) -> np.ndarray:
    """Harmonic quantum correction factor Q(x) = x / (1 − e^{−x}), x = ħω/k_BT (→ 1 as x → 0).

    Multiplying a classical (or RPMD Kubo-transformed) spectrum by Q gives the quantum
    Stokes-side spectrum (Ramírez et al. J. Chem. Phys. 121, 3973 (2004), "harmonic" factor).
    """
    x = reduced_energy(frequency_cm1, temperature_k)
    out = np.ones_like(x)
    nz = x != 0
    out[nz] = x[nz] / -np.expm1(-x[nz])
    return out
