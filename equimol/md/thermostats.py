"""Thermostats acting on the velocities of a (ring-polymer) MD state.

Every thermostat works in ring-polymer normal-mode coordinates at the bead temperature
T_P = P·T (see :mod:`equimol.md.ring_polymer`). For P = 1 the only mode is the atom
itself and each class is the classical thermostat of the same name:

* :class:`Langevin` — BAOAB Langevin (Leimkuhler & Matthews, Appl. Math. Res. Express
  2013, 34); for P > 1 it is PILE-L (CPMM2010): centroid friction 1/τ,
  internal modes γ_k = 2λω_k (λ = 1/2 is critical damping, CPMM2010).
* :class:`CSVR` — stochastic velocity rescaling of Bussi, Donadio & Parrinello, J. Chem.
  Phys. 126, 014101 (2007), Appendix; for P > 1 it acts on the centroid with PILE Langevin
  on the internal modes, i.e. PILE-G (CPMM2010).
* :class:`TRPMD` — thermostatted RPMD (Rossi, Ceriotti & Manolopoulos, J. Chem. Phys.
  140, 234116 (2014)): PILE Langevin on the internal modes only, the centroid evolves
  with plain RPMD dynamics (NVE for P = 1).
* :class:`~equimol.md.nose_hoover.NoseHooverChain` — global NHC on the centroid (with
  PILE on the internal modes for P > 1: ``nhc_pile``).
* :class:`~equimol.md.nose_hoover.RingPolymerNoseHooverChain` — Nose–Hoover chains on all
  normal modes, the PaiNN paper's RPMD thermostat (``nhc`` for P > 1).

The integrator calls ``outer(state, dt/2)`` before the first and after the last kick
(global thermostats, O–BAB–O) and ``propagate_middle(ring, q_nm, v_nm, dt)`` between the
two kicks, which by default is A(dt/2)·``middle``(dt)·A(dt/2) with ``middle`` acting on
the normal-mode velocities (local Langevin, BA–O–AB). ``conserved()`` (R,) eV, summed
over beads, is the energy the thermostat took out of the system, so H + conserved() is
constant up to integration error.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor

from equimol import units
from equimol.md.ring_polymer import FreeRingPolymer, normal_mode_frequencies
from equimol.md.state import (
    MDState,
    kinetic_energy,
    remove_com_velocity,
    rotational_degrees_of_freedom,
    thermal_velocity_scale,
)


def centroid_kinetic_energy(velocities: Tensor, masses: Tensor) -> Tensor:
    """Kinetic energy of the centroid normal mode, P·½Σ m |v̄|², (R,) eV."""
    p = velocities.shape[1]
    vbar = velocities.mean(1)
    return 0.5 * p * (vbar.square().sum(-1) * masses).sum(-1) / units.ACCEL_TO_A_PER_FS2


def scale_centroid(velocities: Tensor, factor: Tensor) -> Tensor:
    """Multiply the centroid mode by factor (R,), leaving the internal modes unchanged."""
    f = factor[:, None, None, None]
    if velocities.shape[1] == 1:
        return velocities * f
    return velocities + (f - 1.0) * velocities.mean(1, keepdim=True)


def n_degrees_of_freedom_centroid(state: MDState, remove_com: bool, remove_rotation: bool = False) -> int:
    """Degrees of freedom of the centroid: 3N, minus 3 with ``remove_com``, minus the
    rotations (3, 2 for a diatomic) with ``remove_rotation``."""
    n_rot = rotational_degrees_of_freedom(state.n_atoms) if remove_rotation else 0
    return 3 * state.n_atoms - (3 if remove_com else 0) - n_rot


class Thermostat:
    """Base class: optional PILE Langevin on internal ring-polymer modes.

    Args:
        temperature_k: physical temperature T in K.
        tau_fs: time constant of the centroid (or classical) thermostat in fs.
        pile_lambda: internal-mode friction γ_k = 2 λ ω_k for P > 1; None leaves the
            internal modes unthermostatted (plain RPMD); ignored for P = 1.
    """

    name: ClassVar[str] = "none"
    centroid_langevin: ClassVar[bool] = False

    def __init__(self, temperature_k: float, tau_fs: float, *, pile_lambda: float | None = 0.5) -> None:
        if not temperature_k > 0:
            raise ValueError(f"temperature_k must be > 0, got {temperature_k}")
        if not tau_fs > 0:
            raise ValueError(f"tau_fs must be > 0, got {tau_fs}")
        if pile_lambda is not None and not pile_lambda > 0:
            raise ValueError(f"pile_lambda must be > 0 or None, got {pile_lambda}")
        self.temperature_k = float(temperature_k)
        self.tau_fs = float(tau_fs)
        self.pile_lambda = pile_lambda
        self._ready = False

    def setup(
        self,
        state: MDState,
        *,
        generator: torch.Generator,
        remove_com: bool = False,
        remove_rotation: bool = False,
    ) -> None:
        """Allocate per-replica variables for ``state``; ``generator`` supplies all noise.
        ``remove_com`` / ``remove_rotation``: the run keeps the centroid's centre-of-mass
        velocity / angular momentum at zero, so the thermostat counts 3 / 3 (2 for a
        diatomic) fewer degrees of freedom."""
        r, p = state.n_replicas, state.n_beads
        dtype, device = state.dtype, state.device
        self.generator = generator
        self.remove_com = remove_com
        self.n_beads = p
        self.masses = state.masses
        self.kt = units.KB_EV_PER_K * self.temperature_k * p  # bead temperature T_P, eV
        self.n_dof = n_degrees_of_freedom_centroid(state, remove_com, remove_rotation)
        if self.n_dof < 1:
            raise ValueError(
                "removing the centre-of-mass motion leaves no degrees of freedom (a single atom): "
                "use remove_com=False (equimol md --keep-rigid-motion)"
            )
        self.dtype, self.device = dtype, device
        self.sigma = thermal_velocity_scale(state.masses, self.kt)  # (N, 1) Å/fs
        gamma = torch.zeros(p, dtype=torch.float64)
        if self.centroid_langevin:
            gamma[0] = 1.0 / self.tau_fs
        if p > 1 and self.pile_lambda is not None:
            gamma[1:] = 2.0 * self.pile_lambda * normal_mode_frequencies(p, self.temperature_k)[1:]
        self.gamma = gamma
        self._has_middle = bool((gamma > 0).any())
        self._langevin_cache: dict[float, tuple[Tensor, Tensor]] = {}
        self.energy_change = torch.zeros(r, dtype=dtype, device=device)
        self._ready = True

    @property
    def has_middle(self) -> bool:
        """Whether any mode has Langevin friction (then ``middle`` must be called)."""
        return self._has_middle

    def _langevin_coefficients(self, dt_fs: float) -> tuple[Tensor, Tensor]:
        if dt_fs not in self._langevin_cache:
            c1 = torch.exp(-self.gamma * dt_fs)
            c2 = torch.sqrt(1.0 - c1.square())
            shape = (1, self.n_beads, 1, 1)
            self._langevin_cache[dt_fs] = (
                c1.to(dtype=self.dtype, device=self.device).reshape(shape),
                c2.to(dtype=self.dtype, device=self.device).reshape(shape),
            )
        return self._langevin_cache[dt_fs]

    def middle(self, v_nm: Tensor, dt_fs: float) -> Tensor:
        """Exact Ornstein–Uhlenbeck step ṽ_k ← c₁ṽ_k + c₂√(kT/m) ξ on normal-mode velocities
        v_nm (R, P, N, 3) Å/fs, c₁ = exp(−γ_k dt), c₂ = √(1 − c₁²) (BAOAB "O"; CPMM2010).
        Returns the new normal-mode velocities."""
        if not self.has_middle:
            return v_nm
        c1, c2 = self._langevin_coefficients(dt_fs)
        k0 = kinetic_energy(v_nm, self.masses).sum(1)  # invariant under the orthogonal C
        xi = torch.randn(v_nm.shape, generator=self.generator, dtype=v_nm.dtype, device=v_nm.device)
        v = c1 * v_nm + c2 * self.sigma * xi
        if self.remove_com and self.centroid_langevin:
            v = remove_com_velocity(v, self.masses, normal_modes=True)
        self.energy_change += kinetic_energy(v, self.masses).sum(1) - k0
        return v

    def propagate_middle(
        self, ring: FreeRingPolymer, q_nm: Tensor, v_nm: Tensor, dt_fs: float
    ) -> tuple[Tensor, Tensor]:
        """A(dt/2)·O'(dt)·A(dt/2) on normal-mode positions/velocities (R, P, N, 3): exact
        free ring-polymer propagation around :meth:`middle`. Returns (q_nm, v_nm)."""
        q, v = ring.rotate(q_nm, v_nm, 0.5 * dt_fs)
        v = self.middle(v, dt_fs)
        return ring.rotate(q, v, 0.5 * dt_fs)

    def outer(self, state: MDState, dt_fs: float) -> None:
        """Global centroid thermostat for a time dt_fs (no-op here)."""

    def conserved(self) -> Tensor:
        """Thermostat contribution to the conserved quantity, (R,) eV summed over beads."""
        return -self.energy_change

    def describe(self) -> str:
        internal = "" if self.pile_lambda is None else f", internal PILE lambda={self.pile_lambda}"
        return f"{self.name}(T={self.temperature_k} K, tau={self.tau_fs} fs{internal})"

    def state_dict(self) -> dict[str, Tensor]:
        return {"energy_change": self.energy_change.clone()}

    def load_state_dict(self, d: dict[str, Tensor]) -> None:
        if not self._ready:
            raise RuntimeError("call setup() before load_state_dict()")
        self.energy_change = d["energy_change"].to(self.energy_change)


class Langevin(Thermostat):
    """Langevin (BAOAB) thermostat; PILE-L for ring polymers. Friction 1/tau_fs."""

    name: ClassVar[str] = "langevin"
    centroid_langevin: ClassVar[bool] = True


class CSVR(Thermostat):
    """Bussi–Donadio–Parrinello stochastic velocity rescaling on the centroid (global);
    PILE-G for ring polymers. Kinetic-energy relaxation time tau_fs."""

    name: ClassVar[str] = "csvr"

    def outer(self, state: MDState, dt_fs: float) -> None:
        """Rescale the centroid kinetic energy K by α², Bussi et al. 2007, Appendix."""
        v = state.velocities
        k = centroid_kinetic_energy(v, self.masses).clamp_min(1e-300)
        nf = self.n_dof
        kbar = 0.5 * nf * self.kt
        c = math.exp(-dt_fs / self.tau_fs)
        r1 = torch.randn(k.shape, generator=self.generator, dtype=k.dtype, device=k.device)
        if nf > 1:
            extra = torch.randn(
                (k.shape[0], nf - 1), generator=self.generator, dtype=k.dtype, device=k.device
            )
            s = extra.square().sum(-1)  # χ² with nf − 1 degrees of freedom
        else:
            s = torch.zeros_like(k)
        ratio = kbar / (nf * k)
        alpha2 = c + (1.0 - c) * (r1.square() + s) * ratio + 2.0 * r1 * torch.sqrt(c * (1.0 - c) * ratio)
        sign = torch.sign(r1 + torch.sqrt(c / ((1.0 - c) * ratio)))
        alpha = sign * torch.sqrt(alpha2.clamp_min(0.0))
        state.velocities = scale_centroid(v, alpha)
        self.energy_change += k * (alpha2 - 1.0)


class TRPMD(Thermostat):
    """Thermostatted RPMD (Rossi, Ceriotti & Manolopoulos 2014): PILE Langevin γ_k = 2λω_k on
    the internal modes (their λ = 1/2 is the default pile_lambda), no thermostat on the
    centroid (its dynamics stay RPMD). tau_fs is unused; for P = 1 this is NVE."""

    name: ClassVar[str] = "trpmd"
