"""Local-mode frequencies of a Morse oscillator against its analytic levels and classical ν(E)."""

import numpy as np
import pytest
from scipy.integrate import quad

from equimol.spectra import local_mode as lm
from equimol.units import ACCEL_TO_A_PER_FS2, C_CM_PER_FS, HBAR_EV_FS, KB_EV_PER_K

D, A, XE, MU = 4.6, 2.2, 0.97, 0.9483  # eV, 1/Å, Å, amu: an O–H-like Morse (μ of O–H)


def morse(x):
    return D * (1 - np.exp(-A * (x - XE))) ** 2


def nu_e():
    """Harmonic wavenumber (cm⁻¹) of the Morse curve: a sqrt(2D/μ)/(2πc)."""
    return A * np.sqrt(2 * D * ACCEL_TO_A_PER_FS2 / MU) / (2 * np.pi * C_CM_PER_FS)


def test_morse_levels_harmonic_and_fundamental():
    x = np.linspace(0.6, 2.2, 400)
    hw = HBAR_EV_FS * 2 * np.pi * C_CM_PER_FS * nu_e()  # ħω in eV
    levels = np.array([hw * (n + 0.5) - hw**2 * (n + 0.5) ** 2 / (4 * D) for n in range(3)])
    assert 3500 < nu_e() < 4000  # the test case is a stiff X–H stretch
    np.testing.assert_allclose(lm.harmonic_frequency_cm1(x, morse(x), MU), nu_e(), rtol=1e-4)
    np.testing.assert_allclose(lm.dvr_levels(x, morse(x), MU, 3), levels, rtol=1e-5)
    # ν₀₁ = ν_e − 2 ν_e x_e with ν_e x_e = h c ν_e² / (4D): 163 cm⁻¹ below ν_e for this curve
    anharmonic = 2 * (2 * np.pi * HBAR_EV_FS * C_CM_PER_FS) * nu_e() ** 2 / (4 * D)
    assert lm.fundamental_cm1(x, morse(x), MU) == pytest.approx(nu_e() - anharmonic, abs=0.05)


@pytest.mark.parametrize("energy", [0.003, 0.016, 0.2, 1.0])
def test_morse_classical_frequency(energy):
    x = np.linspace(0.6, 2.2, 400)
    exact = nu_e() * np.sqrt(1 - energy / D)
    assert lm.classical_frequency_cm1(x, morse(x), MU, energy) == pytest.approx(exact, abs=0.05)
    # the experiment's coarse scan (76 points from r_e − 0.3 to r_e + 1.2 Å) is good to 0.5 cm⁻¹
    coarse = np.linspace(XE - 0.3, XE + 1.2, 76)
    assert lm.classical_frequency_cm1(coarse, morse(coarse), MU, energy) == pytest.approx(exact, abs=0.5)


def test_thermal_average_uses_the_canonical_weight():
    """⟨ν⟩ = 1 / ∫ e^{−u} / ν(u k_BT) du (weight T(E) e^{−E/k_BT}), not the plain Boltzmann mean;
    at 1500 K the two differ by ≈ 0.7 cm⁻¹ for this curve."""
    x = np.linspace(0.55, 3.5, 600)
    kt = KB_EV_PER_K * 1500.0

    def nu(u):
        return nu_e() * np.sqrt(1 - u * kt / D)

    exact = 1.0 / quad(lambda u: np.exp(-u) / nu(u), 0, 20)[0] * (1 - np.exp(-20))
    boltzmann = quad(lambda u: np.exp(-u) * nu(u), 0, 20)[0] / (1 - np.exp(-20))
    assert abs(exact - boltzmann) > 0.5
    assert lm.thermal_classical_frequency_cm1(x, morse(x), MU, 1500.0) == pytest.approx(exact, abs=0.1)


def test_errors_are_clear():
    x = np.linspace(0.6, 2.2, 400)
    with pytest.raises(ValueError, match="reaches the end of the grid"):
        lm.classical_frequency_cm1(x, morse(x), MU, 5.0)
    with pytest.raises(ValueError, match="must be positive"):
        lm.classical_frequency_cm1(x, morse(x), MU, 0.0)
    with pytest.raises(ValueError, match="mass must be positive"):
        lm.fundamental_cm1(x, morse(x), 0.0)
