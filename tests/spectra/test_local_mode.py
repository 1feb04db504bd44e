"""Local-mode frequencies of a Morse oscillator against its analytic levels and classical ν(E)."""

import numpy as np
import pytest

from equimol.spectra import local_mode as lm
from equimol.units import ACCEL_TO_A_PER_FS2, C_CM_PER_FS, HBAR_EV_FS, KB_EV_PER_K

D, A, XE, MU = 4.6, 2.2, 0.97, 0.9483  # eV, 1/Å, Å, amu: an O–H-like Morse (μ of O–H)


def morse(x):
    return D * (1 - np.exp(-A * (x - XE))) ** 2


def analytic():
    omega = A * np.sqrt(2 * D * ACCEL_TO_A_PER_FS2 / MU)  # rad/fs
    nu_e = omega / (2 * np.pi * C_CM_PER_FS)
    hw = HBAR_EV_FS * omega
    levels = [hw * (n + 0.5) - hw**2 * (n + 0.5) ** 2 / (4 * D) for n in range(3)]
    return nu_e, np.array(levels)


def test_morse_levels_harmonic_and_fundamental():
    x = np.linspace(0.6, 2.2, 400)
    nu_e, levels = analytic()
    assert 3500 < nu_e < 4000  # the test case is a stiff X–H stretch
    np.testing.assert_allclose(lm.harmonic_frequency_cm1(x, morse(x), MU), nu_e, rtol=1e-4)
    np.testing.assert_allclose(lm.dvr_levels(x, morse(x), MU, 3), levels, rtol=1e-5)
    nu01 = (levels[1] - levels[0]) / (2 * np.pi * HBAR_EV_FS * C_CM_PER_FS)
    assert lm.fundamental_cm1(x, morse(x), MU) == pytest.approx(nu01, rel=1e-5)
    # ν₀₁ = ν_e − 2 ν_e x_e: about 160 cm⁻¹ below ν_e for this curve
    assert nu_e - nu01 == pytest.approx(
        2 * (HBAR_EV_FS * 2 * np.pi * C_CM_PER_FS) * nu_e**2 / (4 * D), rel=1e-4
    )


def test_morse_classical_frequency_and_thermal_average():
    x = np.linspace(0.6, 2.2, 400)
    nu_e, _ = analytic()
    for e in (0.026, 0.2, 1.0):
        assert lm.classical_frequency_cm1(x, morse(x), MU, e) == pytest.approx(
            nu_e * np.sqrt(1 - e / D), rel=2e-4
        )
    # at 300 K the classical band sits a few cm⁻¹ below ν_e: ⟨ν⟩ ≈ ν_e (1 − k_BT/(2D))
    thermal = lm.thermal_classical_frequency_cm1(x, morse(x), MU, 300.0)
    assert thermal == pytest.approx(nu_e * (1 - KB_EV_PER_K * 300 / (2 * D)), rel=2e-4)
    with pytest.raises(ValueError, match="reaches the end of the grid"):
        lm.classical_frequency_cm1(x, morse(x), MU, 5.0)
