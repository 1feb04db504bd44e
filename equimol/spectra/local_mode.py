"""One-dimensional local-mode analysis of a stretch: the classical and the quantum frequency of
a potential curve V(x), so that the red shift RPMD should show against classical MD can be
estimated from the very potential that drives both.

For a bond stretch X–H with the potential V(x) along the bond (x: bond length, Å; V: eV) and
the reduced mass μ = m_X m_H / (m_X + m_H) (amu):

- harmonic: ω = sqrt(V''(x_e)/μ);
- quantum fundamental ν₀₁ = (E₁ − E₀)/h from the Colbert–Miller sinc-DVR on a uniform grid
  (D. T. Colbert, W. H. Miller, J. Chem. Phys. 96, 1982 (1992)); RPMD approximates this band;
- classical frequency at energy E (above the minimum), ν(E) = 1/T(E) with the period
  T(E) = 2 ∫ dx sqrt(μ / (2(E − V))) between the turning points of the well; classical MD at T
  samples ν(E) with the 1D canonical weight P(E) ∝ T(E) exp(−E/k_BT) (density of states ×
  Boltzmann).

For a Morse oscillator, V = D(1 − e^{−a(x−x_e)})², all three are analytic (``tests``):
ν₀₁ = ν_e − 2 ν_e x_e with ν_e x_e = h ν_e² / (4D), and ν(E) = ν_e sqrt(1 − E/D).
Units: Å, eV, amu in; cm⁻¹ out.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq

from equimol.units import ACCEL_TO_A_PER_FS2, C_CM_PER_FS, HBAR_EV_FS, KB_EV_PER_K


def _mass_ev(mass_amu: float) -> float:
    """Mass in eV·fs²/Å² (kinetic energy ½ m v² in eV for v in Å/fs)."""
    if not mass_amu > 0:
        raise ValueError(f"mass must be positive, got {mass_amu} amu")
    return mass_amu / ACCEL_TO_A_PER_FS2


def _cm1_from_period(period_fs: float) -> float:
    return 1.0 / (period_fs * C_CM_PER_FS)


class _Curve(NamedTuple):
    """A checked curve: its cubic spline, shifted so that its minimum is 0, and its values on
    a fine uniform grid (built once per public call)."""

    x: np.ndarray
    spline: CubicSpline
    fine: np.ndarray
    values: np.ndarray


def _curve(x, v) -> _Curve:
    x, v = np.asarray(x, dtype=float), np.asarray(v, dtype=float)
    if x.ndim != 1 or x.shape != v.shape or len(x) < 5:
        raise ValueError("x and V must be 1D arrays of the same length (at least 5 points)")
    if not np.all(np.diff(x) > 0):
        raise ValueError("x must increase")
    fine = np.linspace(x[0], x[-1], 20001)
    values = CubicSpline(x, v)(fine)
    low = values.min()  # energies from the curve's minimum, not the grid's
    return _Curve(x, CubicSpline(x, v - low), fine, values - low)


def harmonic_frequency_cm1(x, v, mass_amu: float) -> float:
    """ν_e = sqrt(V''(x_e)/μ)/(2π c) at the minimum of the cubic spline through (x, V)."""
    c = _curve(x, v)
    k = float(c.spline(c.fine[np.argmin(c.values)], 2))
    if k <= 0:
        raise ValueError("the curve has no minimum with positive curvature inside the grid")
    omega = np.sqrt(k / _mass_ev(mass_amu))  # rad/fs
    return omega / (2 * np.pi * C_CM_PER_FS)


def dvr_levels(x, v, mass_amu: float, n_levels: int = 3, n_grid: int = 801) -> np.ndarray:
    """The lowest ``n_levels`` eigenvalues (eV, relative to the curve's minimum) of
    −ħ²/(2μ) d²/dx² + V(x), Colbert–Miller DVR on ``n_grid`` points over the range of ``x``
    (the curve is interpolated with a cubic spline; the range must enclose the states)."""
    c = _curve(x, v)
    grid = np.linspace(c.x[0], c.x[-1], n_grid)
    dx = grid[1] - grid[0]
    pot = c.spline(grid)
    idx = np.arange(n_grid)
    diff = idx[:, None] - idx[None, :]
    with np.errstate(divide="ignore"):
        t = np.where(diff == 0, np.pi**2 / 3, 2.0 / np.where(diff == 0, 1, diff) ** 2)
    t = t * np.where(diff % 2 == 0, 1.0, -1.0)
    t *= HBAR_EV_FS**2 / (2 * _mass_ev(mass_amu) * dx**2)
    h = t + np.diag(pot)
    return np.linalg.eigvalsh(h)[:n_levels]


def fundamental_cm1(x, v, mass_amu: float, **kw) -> float:
    """ν₀₁ = (E₁ − E₀)/(h c) in cm⁻¹ (:func:`dvr_levels`)."""
    e = dvr_levels(x, v, mass_amu, 2, **kw)
    return (e[1] - e[0]) / (2 * np.pi * HBAR_EV_FS * C_CM_PER_FS)


def turning_points(x, v, energy_ev: float) -> tuple[float, float]:
    """The classical turning points x₋ < x_e < x₊ of the well around the curve's minimum at
    energy E above it (first crossings walking outward from the minimum, refined with brentq)."""
    return _turning_points(_curve(x, v), energy_ev)


def _turning_points(c: _Curve, energy_ev: float) -> tuple[float, float]:
    if not energy_ev > 0:
        raise ValueError(f"the energy above the minimum must be positive, got {energy_ev} eV")
    vals = c.values - energy_ev
    m = int(np.argmin(vals))
    above = vals > 0
    right = np.flatnonzero(above[m:])
    left = np.flatnonzero(above[: m + 1][::-1])
    if not len(right) or not len(left):
        raise ValueError(f"E = {energy_ev:.3g} eV reaches the end of the grid: extend the scan")
    r, l = m + right[0], m - left[0]
    f = lambda t: float(c.spline(t)) - energy_ev  # noqa: E731
    return brentq(f, c.fine[l], c.fine[l + 1]), brentq(f, c.fine[r - 1], c.fine[r])


def period_fs(x, v, mass_amu: float, energy_ev: float, n_nodes: int = 96) -> float:
    """T(E) = 2 ∫ dx sqrt(μ / (2(E − V))) between the turning points (fs). With x = c + a sin θ
    the integrand a cos θ / sqrt(E − V) stays finite at the turning points; Gauss–Legendre in θ."""
    return _period_fs(_curve(x, v), mass_amu, energy_ev, n_nodes)


def _period_fs(c: _Curve, mass_amu: float, energy_ev: float, n_nodes: int = 96) -> float:
    lo, hi = _turning_points(c, energy_ev)
    mid, a = 0.5 * (hi + lo), 0.5 * (hi - lo)
    t, w = np.polynomial.legendre.leggauss(n_nodes)
    theta = 0.5 * np.pi * t
    kinetic = np.clip(energy_ev - c.spline(mid + a * np.sin(theta)), 1e-300, None)
    integral = 0.5 * np.pi * np.sum(w * a * np.cos(theta) / np.sqrt(kinetic))
    return float(np.sqrt(2 * _mass_ev(mass_amu)) * integral)


def classical_frequency_cm1(x, v, mass_amu: float, energy_ev: float) -> float:
    """ν(E) = 1/T(E) in cm⁻¹ (:func:`period_fs`)."""
    return _cm1_from_period(period_fs(x, v, mass_amu, energy_ev))


def thermal_classical_frequency_cm1(x, v, mass_amu: float, temperature_k: float, n_points: int = 12) -> float:
    """⟨ν⟩ over the 1D canonical distribution P(E) ∝ T(E) e^{−E/k_BT}: 1 / ∫ e^{−u} / ν(u k_BT) du
    by ``n_points``-point Gauss–Laguerre quadrature; nodes above 20 k_BT (weights < 1e-8 in all)
    are left out, so the curve needs to reach ≈ 20 k_BT (0.5 eV at 300 K) on both sides."""
    kt = KB_EV_PER_K * temperature_k
    u, w = np.polynomial.laguerre.laggauss(n_points)
    keep = u <= 20.0
    c = _curve(x, v)  # one spline for all nodes: T(E) = 1 / (c ν(E)) in fs
    inverse = sum(
        wk * _period_fs(c, mass_amu, uk * kt) * C_CM_PER_FS for uk, wk in zip(u[keep], w[keep], strict=True)
    )
    return float(w[keep].sum() / inverse)
