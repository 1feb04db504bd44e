"""Nose–Hoover chain thermostat (global, on the centroid).

Martyna, Klein & Tuckerman, J. Chem. Phys. 97, 2635 (1992) (MKT1992) for the equations
of motion; the Trotter factorisation with Suzuki–Yoshida weights and multiple time steps
follows Martyna, Tuckerman, Tobias & Klein, Mol. Phys. 87, 1117 (1996) (MTTK1996).
Thermostat masses Q_1 = N_f k_B T τ², Q_j = k_B T τ² (MKT1992, with τ the
time constant). For ring polymers the chain couples to the centroid kinetic energy at
T_P = P·T, with PILE Langevin on the internal modes (PILE-G of CPMM2010 with the SVR
replaced by a chain), which is the set-up used for the spectra in the PaiNN paper.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import Tensor

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


class NoseHooverChain(Thermostat):
    """Global Nose–Hoover chain of length M on the (centroid) kinetic energy.

    Args:
        temperature_k: physical temperature in K.
        tau_fs: chain time constant τ in fs (PaiNN spectra: 100 fs).
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

    def setup(self, state: MDState, *, generator: torch.Generator, remove_com: bool = False) -> None:
        super().setup(state, generator=generator, remove_com=remove_com)
        r, m = state.n_replicas, self.chain_length
        # The chain is a tiny sequential ODE per replica; NumPy float64 on the host costs a
        # fraction of the many small torch kernels it would otherwise take.
        self.eta = np.zeros((r, m))  # dimensionless
        self.p_eta = np.zeros((r, m))  # eV·fs
        q = np.full(m, self.kt * self.tau_fs**2)
        q[0] *= self.n_dof
        self.q = q  # eV·fs²

    def _half_momenta(self, p: list[np.ndarray], k: np.ndarray, delta: float, reverse: bool) -> None:
        """Chain momenta over δ/2: p_j ← p_j s² + (δ/2) G_j s, s = exp(−δ/4 · p_{j+1}/Q_{j+1})
        (MTTK1996), swept from the chain end (reverse) or from the particles."""
        m, q, kt = self.chain_length, self.q, self.kt
        order = range(m - 1, -1, -1) if reverse else range(m)
        for j in order:
            g = 2.0 * k - self.n_dof * kt if j == 0 else p[j - 1] * p[j - 1] / q[j - 1] - kt
            if j == m - 1:
                p[j] = p[j] + 0.5 * delta * g
            else:
                s = np.exp(-0.25 * delta / q[j + 1] * p[j + 1])
                p[j] = p[j] * s * s + 0.5 * delta * g * s

    def outer(self, state: MDState, dt_fs: float) -> None:
        """Propagate exp(iL_NHC dt_fs) and rescale the centroid velocities once."""
        k = centroid_kinetic_energy(state.velocities, self.masses).detach().cpu().double().numpy()
        p = list(self.p_eta.T.copy())
        log_scale = np.zeros_like(k)
        for _ in range(self.n_respa):
            for w in YOSHIDA_WEIGHTS[self.n_yoshida]:
                delta = w * dt_fs / self.n_respa
                self._half_momenta(p, k, delta, reverse=True)
                step_log = (-delta / self.q[0]) * p[0]
                log_scale += step_log
                k = k * np.exp(2.0 * step_log)
                self.eta += (delta / self.q) * np.stack(p, 1)
                self._half_momenta(p, k, delta, reverse=False)
        self.p_eta = np.stack(p, 1)
        scale = torch.as_tensor(np.exp(log_scale), dtype=state.dtype).to(state.device)
        state.velocities = scale_centroid(state.velocities, scale)

    def conserved(self) -> Tensor:
        """Σ p_j²/2Q_j + N_f kT η_1 + kT Σ_{j>1} η_j (MKT1992) − heat of PILE."""
        chain = (0.5 * self.p_eta**2 / self.q).sum(1)
        chain = chain + self.n_dof * self.kt * self.eta[:, 0] + self.kt * self.eta[:, 1:].sum(1)
        return torch.as_tensor(chain).to(self.energy_change) - self.energy_change

    def describe(self) -> str:
        internal = "" if self.pile_lambda is None else f", internal PILE lambda={self.pile_lambda}"
        return (
            f"nhc(T={self.temperature_k} K, tau={self.tau_fs} fs, chain={self.chain_length}, "
            f"yoshida={self.n_yoshida}, respa={self.n_respa}{internal})"
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
