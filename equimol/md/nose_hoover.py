"""Nose–Hoover chain thermostats: global (classical MD, centroid) and ring-polymer NHC.

Martyna, Klein & Tuckerman, J. Chem. Phys. 97, 2635 (1992) (MKT1992) for the equations
of motion; the Trotter factorisation with Suzuki–Yoshida weights and multiple time steps
follows Martyna, Tuckerman, Tobias & Klein, Mol. Phys. 87, 1117 (1996) (MTTK1996).

* :class:`NoseHooverChain` — one global chain on the (centroid) kinetic energy with masses
  Q_1 = N_f k_B T τ², Q_j = k_B T τ² (MKT1992, τ the time constant). Classical NVT for
  P = 1. For P > 1 it couples to the centroid at T_P = P·T with PILE Langevin on the
  internal modes (PILE-G of CPMM2010 with the SVR replaced by a chain): the thermostat
  ``nhc_pile``.
* :class:`RingPolymerNoseHooverChain` — the PaiNN paper's RPMD thermostat (``nhc`` for
  P > 1): Nose–Hoover chains in the ring polymer's normal-mode representation, as in
  SchNetPack's ``NHCRingPolymerThermostat`` (global variant) that the paper used. Every
  internal mode k > 0, atom and Cartesian direction has its own chain ("massive" NHC;
  Tuckerman, Berne, Martyna & Klein, J. Chem. Phys. 99, 2796 (1993); Tuckerman,
  Statistical Mechanics: Theory and Molecular Simulation (OUP 2010), Ch. 12) whose masses
  Q = k_B T_P / ω_k² make it resonate with the free ring-polymer frequency ω_k of its mode
  (CPMM2010's choice for the internal modes). The centroid has one global chain on its
  kinetic energy with frequency ω_0 = 1/(2τ) (SchNetPack's mapping of CPMM2010's optimal
  Langevin friction γ = 2ω onto a chain frequency), Q_1 = N_f k_B T_P/ω_0², Q_j = k_B T_P/ω_0².
  Deterministic; no Langevin noise anywhere.

CPMM2010: Ceriotti, Parrinello, Markland & Manolopoulos, J. Chem. Phys. 133, 124104 (2010).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

from equimol import units
from equimol.md.ring_polymer import FreeRingPolymer
from equimol.md.state import MDState
from equimol.md.thermostats import Thermostat, centroid_kinetic_energy, scale_centroid

_W3 = 1.0 / (2.0 - 2.0 ** (1.0 / 3.0))
_W5 = 1.0 / (4.0 - 4.0 ** (1.0 / 3.0))
#: Suzuki–Yoshida weights (Yoshida, Phys. Lett. A 150, 262 (1990); MTTK1996)
YOSHIDA_WEIGHTS: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    3: (_W3, 1.0 - 2.0 * _W3, _W3),
    5: (_W5, _W5, 1.0 - 4.0 * _W5, _W5, _W5),
    7: (
        0.784513610477560,
        0.235573213359357,
        -1.17767998417887,
        1.31518632068391,
        -1.17767998417887,
        0.235573213359357,
        0.784513610477560,
    ),
}

#: largest phase ω_max·h of the fastest internal mode per ring-polymer NHC sub-step
RPNHC_MAX_PHASE = 0.02


def _chain_half_sweep(
    p: list[np.ndarray],
    two_k: np.ndarray,
    q: list[np.ndarray] | np.ndarray,
    nf_kt: float,
    kt: float,
    delta: float,
    reverse: bool,
) -> None:
    """Chain momenta over δ/2: p_j ← p_j s² + (δ/2) G_j s, s = exp(−δ/4 · p_{j+1}/Q_{j+1}),
    G_1 = 2K − N_f kT, G_j = p_{j−1}²/Q_{j−1} − kT (MTTK1996), swept from the chain end
    (reverse) or from the particles. Works elementwise, so one call advances many chains."""
    m = len(p)
    order = range(m - 1, -1, -1) if reverse else range(m)
    for j in order:
        g = two_k - nf_kt if j == 0 else p[j - 1] * p[j - 1] / q[j - 1] - kt
        if j == m - 1:
            p[j] = p[j] + 0.5 * delta * g
        else:
            s = np.exp((-0.25 * delta / q[j + 1]) * p[j + 1])
            p[j] = p[j] * s * s + 0.5 * delta * g * s


def chain_step(
    p: list[np.ndarray],
    eta: list[np.ndarray],
    two_k: np.ndarray,
    q: list[np.ndarray] | np.ndarray,
    nf_kt: float,
    kt: float,
    delta: float,
) -> np.ndarray:
    """One symmetric Trotter step exp(iL_NHC δ) of chains with momenta p, positions eta
    (lists over the links, updated in place) coupled to the kinetic energies two_k/2
    (MTTK1996). Returns log of the velocity scale factor."""
    _chain_half_sweep(p, two_k, q, nf_kt, kt, delta, reverse=True)
    log_scale = (-delta / q[0]) * p[0]
    two_k = two_k * np.exp(2.0 * log_scale)
    for j in range(len(p)):
        eta[j] = eta[j] + (delta / q[j]) * p[j]
    _chain_half_sweep(p, two_k, q, nf_kt, kt, delta, reverse=False)
    return log_scale


class NoseHooverChain(Thermostat):
    """Global Nose–Hoover chain of length M on the (centroid) kinetic energy.

    Args:
        temperature_k: physical temperature in K.
        tau_fs: chain time constant τ in fs (PaiNN spectra: 100 fs); Q_1 = N_f k_B T_P τ².
        chain_length: M (PaiNN spectra: 3).
        pile_lambda: PILE friction factor for internal ring-polymer modes (P > 1).
        n_yoshida: Suzuki–Yoshida order, one of 1, 3, 5, 7.
        n_respa: number of multiple-time-step sub-steps n_c.
    """

    name: ClassVar[str] = "nhc"

    def __init__(
        self,
        temperature_k: float,
        tau_fs: float = 100.0,
        *,
        chain_length: int = 3,
        pile_lambda: float | None = 0.5,
        n_yoshida: int = 3,
        n_respa: int = 1,
    ) -> None:
        super().__init__(temperature_k, tau_fs, pile_lambda=pile_lambda)
        if chain_length < 1:
            raise ValueError(f"chain_length must be >= 1, got {chain_length}")
        if n_yoshida not in YOSHIDA_WEIGHTS:
            raise ValueError(f"n_yoshida must be one of {sorted(YOSHIDA_WEIGHTS)}, got {n_yoshida}")
        if n_respa < 1:
            raise ValueError(f"n_respa must be >= 1, got {n_respa}")
        self.chain_length = chain_length
        self.n_yoshida = n_yoshida
        self.n_respa = n_respa

    @property
    def centroid_omega(self) -> float:
        """Frequency ω of the centroid chain in rad/fs: Q_1 = N_f k_B T_P/ω², Q_j = k_B T_P/ω²."""
        return 1.0 / self.tau_fs

    def setup(self, state: MDState, **options) -> None:
        """:meth:`Thermostat.setup` (``generator``, ``remove_com``, ``remove_rotation``), then the chains."""
        super().setup(state, **options)
        r, m = state.n_replicas, self.chain_length
        # The chain is a tiny sequential ODE per replica; NumPy float64 on the host costs a
        # fraction of the many small torch kernels it would otherwise take.
        self.eta = np.zeros((r, m))  # dimensionless
        self.p_eta = np.zeros((r, m))  # eV·fs
        q = np.full(m, self.kt / self.centroid_omega**2)
        q[0] *= self.n_dof
        self.q = q  # eV·fs²

    def outer(self, state: MDState, dt_fs: float) -> None:
        """Propagate exp(iL_NHC dt_fs) and rescale the centroid velocities once."""
        two_k = 2.0 * centroid_kinetic_energy(state.velocities, self.masses).detach().cpu().double().numpy()
        p, eta = list(self.p_eta.T.copy()), list(self.eta.T.copy())
        log_scale = np.zeros_like(two_k)
        nf_kt = self.n_dof * self.kt
        for _ in range(self.n_respa):
            for w in YOSHIDA_WEIGHTS[self.n_yoshida]:
                step_log = chain_step(p, eta, two_k, self.q, nf_kt, self.kt, w * dt_fs / self.n_respa)
                log_scale += step_log
                two_k = two_k * np.exp(2.0 * step_log)
        self.p_eta, self.eta = np.stack(p, 1), np.stack(eta, 1)
        scale = torch.as_tensor(np.exp(log_scale), dtype=state.dtype).to(state.device)
        state.velocities = scale_centroid(state.velocities, scale)

    def _centroid_chain_energy(self) -> np.ndarray:
        """Σ p_j²/2Q_j + N_f kT η_1 + kT Σ_{j>1} η_j (MKT1992), (R,) eV."""
        chain = (0.5 * self.p_eta**2 / self.q).sum(1)
        return chain + self.n_dof * self.kt * self.eta[:, 0] + self.kt * self.eta[:, 1:].sum(1)

    def conserved(self) -> Tensor:
        """Centroid chain energy (MKT1992) − heat of PILE."""
        return torch.as_tensor(self._centroid_chain_energy()).to(self.energy_change) - self.energy_change

    def describe(self) -> str:
        pile = self.pile_lambda is not None and getattr(self, "n_beads", 1) > 1
        internal = f", internal PILE lambda={self.pile_lambda}" if pile else ""
        return (
            f"{'nhc_pile' if pile else 'nhc'}(T={self.temperature_k} K, tau={self.tau_fs} fs, "
            f"chain={self.chain_length}, yoshida={self.n_yoshida}, respa={self.n_respa}{internal})"
        )

    def state_dict(self) -> dict[str, Tensor]:
        chain = {"eta": torch.from_numpy(self.eta.copy()), "p_eta": torch.from_numpy(self.p_eta.copy())}
        return {**super().state_dict(), **chain}

    def load_state_dict(self, d: dict[str, Tensor]) -> None:
        super().load_state_dict(d)
        if tuple(d["eta"].shape) != self.eta.shape:
            raise ValueError(f"NHC state has shape {tuple(d['eta'].shape)}, expected {self.eta.shape}")
        self.eta = d["eta"].double().cpu().numpy().copy()
        self.p_eta = d["p_eta"].double().cpu().numpy().copy()


class RingPolymerNoseHooverChain(NoseHooverChain):
    """The PaiNN paper's RPMD thermostat: Nose–Hoover chains in normal-mode coordinates.

    Sampled at the bead temperature T_P = P·T (CPMM2010; kT below is k_B T_P):

    * centroid (k = 0): one global chain of length M on the centroid kinetic energy
      K_0 = ½ Σ_i m_i |ṽ_0i|², N_f = 3N (3N − 3 with centre-of-mass removal, 3N − 6 with rotation removal too),
      Q_1 = N_f kT/ω_0², Q_j = kT/ω_0², ω_0 = 1/(2τ) (SchNetPack's NHCRingPolymerThermostat;
      with τ = 100 fs the centroid chain is as slow as the paper's). Integrated by
      ``outer`` at both ends of the step with Suzuki–Yoshida weights and n_respa
      sub-steps (MTTK1996), exactly like :class:`NoseHooverChain`.
    * internal modes (k = 1 … P−1): one chain of length M per mode, atom and Cartesian
      component (massive NHC, N_f = 1), G_1 = m ṽ_kiα² − kT, all links with
      Q = kT/ω_k², ω_k = 2 ω_P sin(kπ/P) (CPMM2010, SchNetPack), so each chain resonates
      with the free vibration of its mode.

    Integration. The internal modes oscillate at up to ω_max ≈ 2 ω_P = 2P k_B T/ħ
    (2.7·10⁴ cm⁻¹ for 64 beads at 300 K: a period of 1.25 fs, ω_max·0.2 fs = 1.0), and a
    chain tuned to ω_k has ξ = p_η/Q of order ω_k and is driven at 2ω_k by the kinetic
    energy of its mode. Applied at the ends of the step, as SchNetPack does (O(dt/2) with
    Suzuki–Yoshida 3 × 2), the chains sample that kinetic energy only every dt: on a 64-bead
    oscillator at 0.2 fs such a scheme blew up within 10 steps (it is fine at 0.02 fs). The
    internal chains are therefore integrated together with the exact free ring-polymer
    propagation A in the middle of the step, with multiple time steps (MTTK1996's RESPA with
    the free ring polymer as the fast reference system):

        A(dt/2) O'(dt) A(dt/2)  →  [A(h/2) · NHC_int(h) · A(h/2)]^n,  h = dt/n,

    n = ⌈ω_max dt / max_phase⌉ (default max_phase 0.02: n = 51 for 64 beads at 0.2 fs), or
    ``n_substeps``. The composition is symmetric and time reversible; its error in the
    extended energy falls as h² (tested). Each NHC_int(h) is one symmetric Trotter step of
    MTTK1996 (at this h, Suzuki–Yoshida weights buy no more accuracy per cost than more
    sub-steps: measured). With ω_max·h = 0.06, 0.03, 0.02 the extended energy of a 64-bead
    oscillator drifted by 0.029, 0.006 and < 0.003 (the noise level) eV/ps per internal
    degree of freedom.
    The sub-steps are elementwise NumPy float64 operations on (R, P−1, N, 3) arrays, ~0.14 ms
    each for ethanol (7 ms per step, against ~120 ms for one PaiNN call on 64 beads); the
    force is still called once per step.

    Conserved quantity (added to H_P): Σ_chains [Σ_j p_ηj²/2Q_j + N_f kT η_1 + kT Σ_{j>1} η_j]
    (MKT1992), summed over the centroid chain and all internal chains.

    Args:
        temperature_k: physical temperature T in K.
        tau_fs: time constant τ of the centroid chain (ω_0 = 1/(2τ)).
        chain_length: M, for every chain (PaiNN: 3).
        n_yoshida, n_respa: Suzuki–Yoshida order and multiple-time-step count of the
            centroid chain.
        n_substeps: sub-steps n of the middle (None: from max_phase).
        max_phase: largest ω_max·h when n_substeps is None.
    """

    name: ClassVar[str] = "nhc"

    def __init__(
        self,
        temperature_k: float,
        tau_fs: float = 100.0,
        *,
        chain_length: int = 3,
        n_yoshida: int = 3,
        n_respa: int = 1,
        n_substeps: int | None = None,
        max_phase: float = RPNHC_MAX_PHASE,
    ) -> None:
        super().__init__(
            temperature_k,
            tau_fs,
            chain_length=chain_length,
            pile_lambda=None,
            n_yoshida=n_yoshida,
            n_respa=n_respa,
        )
        if n_substeps is not None and n_substeps < 1:
            raise ValueError(f"n_substeps must be >= 1 or None, got {n_substeps}")
        if not max_phase > 0:
            raise ValueError(f"max_phase must be > 0, got {max_phase}")
        self.n_substeps = n_substeps
        self.max_phase = float(max_phase)

    @property
    def centroid_omega(self) -> float:
        """ω_0 = 1/(2τ) rad/fs (SchNetPack's NHCRingPolymerThermostat)."""
        return 0.5 / self.tau_fs

    def setup(self, state: MDState, **options) -> None:
        """:meth:`Thermostat.setup` (``generator``, ``remove_com``, ``remove_rotation``), then the chains."""
        super().setup(state, **options)
        r, p, n, m = state.n_replicas, state.n_beads, state.n_atoms, self.chain_length
        ring = FreeRingPolymer(p, self.temperature_k)
        self.omega = ring.omega[1:].numpy().copy()  # (P − 1,) rad/fs
        self.q_internal = (self.kt / self.omega**2).reshape(1, p - 1, 1, 1)  # eV·fs²
        self.eta_internal = np.zeros((m, r, p - 1, n, 3))
        self.p_eta_internal = np.zeros((m, r, p - 1, n, 3))  # eV·fs
        self._m_acc = (state.masses.detach().cpu().double().numpy() / units.ACCEL_TO_A_PER_FS2).reshape(
            1, 1, n, 1
        )
        self._has_middle = p > 1
        self._rotations: dict[float, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def substeps(self, dt_fs: float) -> int:
        """Number n of middle sub-steps for a time step dt_fs."""
        if self.n_substeps is not None:
            return self.n_substeps
        w_max = float(self.omega.max()) if self.omega.size else 0.0
        return max(1, math.ceil(w_max * dt_fs / self.max_phase - 1e-9))

    def _rotation(self, dt_fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """cos ωt, sin(ωt)/ω, −ω sin ωt of the internal modes, each (1, P−1, 1, 1)."""
        if dt_fs not in self._rotations:
            wt = self.omega * dt_fs
            shape = (1, -1, 1, 1)
            self._rotations[dt_fs] = (
                np.cos(wt).reshape(shape),
                (np.sin(wt) / self.omega).reshape(shape),
                (-self.omega * np.sin(wt)).reshape(shape),
            )
        return self._rotations[dt_fs]

    def propagate_middle(
        self, ring: FreeRingPolymer, q_nm: Tensor, v_nm: Tensor, dt_fs: float
    ) -> tuple[Tensor, Tensor]:
        """[A(h/2) NHC_int(h) A(h/2)]^n on normal-mode positions/velocities (R, P, N, 3):
        the centroid drifts for dt_fs, the internal modes rotate exactly (CPMM2010) between
        massive chain steps (see the class docstring)."""
        n = self.substeps(dt_fs)
        h = dt_fs / n
        q = q_nm[:, 1:].detach().cpu().double().numpy()
        v = v_nm[:, 1:].detach().cpu().double().numpy()
        half, full = self._rotation(0.5 * h), self._rotation(h)
        p, eta = list(self.p_eta_internal), list(self.eta_internal)
        qs = [self.q_internal] * self.chain_length
        q, v = _rotate_modes(q, v, half)
        for i in range(n):
            two_k = self._m_acc * v * v
            v = v * np.exp(chain_step(p, eta, two_k, qs, self.kt, self.kt, h))
            q, v = _rotate_modes(q, v, half if i == n - 1 else full)
        self.p_eta_internal, self.eta_internal = np.stack(p), np.stack(eta)
        out_q, out_v = q_nm.clone(), v_nm.clone()
        out_q[:, 0] = q_nm[:, 0] + dt_fs * v_nm[:, 0]
        out_q[:, 1:] = torch.from_numpy(q).to(q_nm)
        out_v[:, 1:] = torch.from_numpy(v).to(v_nm)
        return out_q, out_v

    def conserved(self) -> Tensor:
        """Centroid chain energy + Σ over internal chains [Σ_j p_ηj²/2Q + kT Σ_j η_j] (MKT1992)
        − the kinetic energy removed with the rigid motion (``energy_change``)."""
        internal = (0.5 * self.p_eta_internal**2 / self.q_internal + self.kt * self.eta_internal).sum(
            (0, 2, 3, 4)
        )
        chains = torch.as_tensor(self._centroid_chain_energy() + internal).to(self.energy_change)
        return chains - self.energy_change

    def describe(self) -> str:
        sub = "auto" if self.n_substeps is None else str(self.n_substeps)
        return (
            f"nhc(ring-polymer NHC, T={self.temperature_k} K; centroid: global chain={self.chain_length}, "
            f"tau={self.tau_fs} fs (omega_0=1/(2 tau)), yoshida={self.n_yoshida}, respa={self.n_respa}; "
            f"internal modes: massive chains={self.chain_length}, Q=kT_P/omega_k^2, substeps={sub}, "
            f"max_phase={self.max_phase})"
        )

    def state_dict(self) -> dict[str, Tensor]:
        internal = {
            "eta_internal": torch.from_numpy(self.eta_internal.copy()),
            "p_eta_internal": torch.from_numpy(self.p_eta_internal.copy()),
        }
        return {**super().state_dict(), **internal}

    def load_state_dict(self, d: dict[str, Tensor]) -> None:
        super().load_state_dict(d)
        if "eta_internal" not in d or tuple(d["eta_internal"].shape) != self.eta_internal.shape:
            if "eta_internal" not in d:
                raise ValueError(
                    "ring-polymer NHC state missing: this checkpoint comes from the earlier RPMD "
                    "'nhc' (global NHC + PILE on internal modes), now thermostat 'nhc_pile'"
                )
            got = tuple(d["eta_internal"].shape)
            raise ValueError(f"ring-polymer NHC state has shape {got}, expected {self.eta_internal.shape}")
        self.eta_internal = d["eta_internal"].double().cpu().numpy().copy()
        self.p_eta_internal = d["p_eta_internal"].double().cpu().numpy().copy()


def _rotate_modes(
    q: np.ndarray, v: np.ndarray, coefficients: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Exact free harmonic evolution of internal-mode positions/velocities (CPMM2010)."""
    cos, sinc, msin = coefficients
    return cos * q + sinc * v, msin * q + cos * v
