"""Ring-polymer normal modes, exact free propagation and quantum estimators.

Convention of i-PI and Ceriotti, Parrinello, Markland & Manolopoulos, J. Chem. Phys. 133,
124104 (2010) (CPMM2010): P beads with physical masses m are sampled at the bead
temperature T_P = P·T with the ring-polymer Hamiltonian (CPMM2010)

    H_P = Σ_j [ p_j²/2m + V(q_j) ] + Σ_j ½ m ω_P² (q_j − q_{j+1})²,   ω_P = P k_B T / ħ.

The orthogonal normal-mode matrix C (CPMM2010) diagonalises the springs with
frequencies ω_k = 2 ω_P sin(kπ/P); the centroid mode is q̃_0 = √P q̄.
Positions and velocities are (R, P, N, 3); modes are stored in the bead dimension.
With P = 1 every function reduces exactly to classical MD.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from equimol import units


def ring_polymer_frequency(n_beads: int, temperature_k: float) -> float:
    """ω_P = P k_B T / ħ in rad/fs."""
    return n_beads * units.KB_EV_PER_K * temperature_k / units.HBAR_EV_FS


def normal_mode_matrix(
    n_beads: int, *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu"
) -> Tensor:
    """Orthogonal (P, P) matrix C[j, k] (bead j, mode k) as in CPMM2010 and i-PI.

    C[j,0] = 1/√P; C[j,k] = √(2/P) cos(2πjk/P) for 1 ≤ k < P/2; C[j,P/2] = (−1)^j/√P;
    C[j,k] = √(2/P) sin(2πjk/P) for P/2 < k < P. Modes: q̃_k = Σ_j C[j,k] q_j.
    """
    p = n_beads
    j = torch.arange(p, dtype=torch.float64)[:, None]
    k = torch.arange(p, dtype=torch.float64)[None, :]
    arg = 2.0 * math.pi * j * k / p
    c = torch.where(k < p / 2, math.sqrt(2.0 / p) * torch.cos(arg), math.sqrt(2.0 / p) * torch.sin(arg))
    c[:, 0] = 1.0 / math.sqrt(p)
    if p % 2 == 0:
        c[:, p // 2] = (-1.0) ** torch.arange(p, dtype=torch.float64) / math.sqrt(p)
    return c.to(dtype=dtype, device=device)


def normal_mode_frequencies(
    n_beads: int,
    temperature_k: float,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> Tensor:
    """ω_k = 2 ω_P sin(kπ/P), (P,) rad/fs (CPMM2010); ω_0 = 0 is the centroid."""
    k = torch.arange(n_beads, dtype=torch.float64)
    w = 2.0 * ring_polymer_frequency(n_beads, temperature_k) * torch.sin(k * math.pi / n_beads)
    w[0] = 0.0
    return w.to(dtype=dtype, device=device)


def to_normal_modes(x: Tensor, c: Tensor) -> Tensor:
    """Bead coordinates (R, P, N, 3) -> normal-mode coordinates (R, P, N, 3)."""
    r, p, n, _ = x.shape
    return (c.T @ x.transpose(0, 1).reshape(p, -1)).reshape(p, r, n, 3).transpose(0, 1)


def from_normal_modes(x: Tensor, c: Tensor) -> Tensor:
    """Normal-mode coordinates (R, P, N, 3) -> bead coordinates (R, P, N, 3)."""
    r, p, n, _ = x.shape
    return (c @ x.transpose(0, 1).reshape(p, -1)).reshape(p, r, n, 3).transpose(0, 1)


def centroid(x: Tensor) -> Tensor:
    """Bead average of any per-bead quantity (R, P, ...) -> (R, ...): the centroid q̄."""
    return x.mean(1)


bead_average = centroid


def spring_energy(positions: Tensor, masses: Tensor, temperature_k: float) -> Tensor:
    """Σ_j ½ m ω_P² |q_j − q_{j+1}|², (R,) eV, for positions (R, P, N, 3) Å and T in K."""
    p = positions.shape[1]
    if p == 1:
        return positions.new_zeros(positions.shape[0])
    d = positions - torch.roll(positions, shifts=-1, dims=1)
    w2 = ring_polymer_frequency(p, temperature_k) ** 2
    return 0.5 * w2 * (d.square().sum(-1) * masses).sum((1, 2)) / units.ACCEL_TO_A_PER_FS2


def kinetic_energy_primitive(positions: Tensor, masses: Tensor, temperature_k: float) -> Tensor:
    """Primitive quantum kinetic-energy estimator (R,) eV.

    K_prim = 3NP/(2β) − (1/P) Σ_j ½ m ω_P² |q_j − q_{j+1}|² (Tuckerman, Statistical
    Mechanics: Theory and Molecular Simulation, Ch. 12, in the convention above).
    """
    _, p, n, _ = positions.shape
    kt = units.KB_EV_PER_K * temperature_k
    return 1.5 * n * p * kt - spring_energy(positions, masses, temperature_k) / p


def kinetic_energy_centroid_virial(positions: Tensor, forces: Tensor, temperature_k: float) -> Tensor:
    """Centroid-virial quantum kinetic-energy estimator (R,) eV.

    K_cv = 3N/(2β) − (1/2P) Σ_j (q_j − q̄)·F_j (Herman, Bruskin & Berne 1982; CPMM2010).
    Forces (R, P, N, 3) eV/Å are the physical forces −∇V(q_j).
    """
    _, p, n, _ = positions.shape
    kt = units.KB_EV_PER_K * temperature_k
    dq = positions - positions.mean(1, keepdim=True)
    return 1.5 * n * kt - 0.5 * (dq * forces).sum((1, 2, 3)) / p


class FreeRingPolymer:
    """Exact propagation of the free ring polymer (springs only) in normal modes.

    Each mode k > 0 is a harmonic oscillator of frequency ω_k, rotated exactly in phase
    space (CPMM2010); the centroid drifts freely. Velocities are used instead of
    momenta, so the rotation does not depend on the masses. For P = 1 this is a plain
    drift x ← x + v·dt.
    """

    def __init__(
        self,
        n_beads: int,
        temperature_k: float,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ) -> None:
        self.n_beads = n_beads
        self.temperature_k = temperature_k
        self.c = normal_mode_matrix(n_beads, dtype=dtype, device=device)
        self.omega = normal_mode_frequencies(n_beads, temperature_k, dtype=dtype, device=device)
        self._cache: dict[float, tuple[Tensor, Tensor, Tensor]] = {}

    def _coefficients(self, dt_fs: float) -> tuple[Tensor, Tensor, Tensor]:
        if dt_fs not in self._cache:
            w = self.omega.to(torch.float64)
            wt = w * dt_fs
            cos = torch.cos(wt)
            # sin(ωt)/ω -> t for the centroid (ω = 0)
            sinc = torch.where(w > 0, torch.sin(wt) / torch.where(w > 0, w, 1.0), dt_fs)
            msin = -w * torch.sin(wt)
            shape = (1, self.n_beads, 1, 1)
            self._cache[dt_fs] = tuple(  # type: ignore[assignment]
                t.to(self.c.dtype).to(self.c.device).reshape(shape) for t in (cos, sinc, msin)
            )
        return self._cache[dt_fs]

    def to_nm(self, x: Tensor) -> Tensor:
        """Bead -> normal-mode coordinates (identity for P = 1)."""
        return x if self.n_beads == 1 else to_normal_modes(x, self.c)

    def from_nm(self, x: Tensor) -> Tensor:
        """Normal-mode -> bead coordinates (identity for P = 1)."""
        return x if self.n_beads == 1 else from_normal_modes(x, self.c)

    def rotate(self, q_nm: Tensor, v_nm: Tensor, dt_fs: float) -> tuple[Tensor, Tensor]:
        """Exact free evolution of normal-mode positions/velocities (R, P, N, 3) by dt_fs."""
        if self.n_beads == 1:
            return q_nm + dt_fs * v_nm, v_nm
        cos, sinc, msin = self._coefficients(dt_fs)
        return cos * q_nm + sinc * v_nm, msin * q_nm + cos * v_nm

    def propagate(self, positions: Tensor, velocities: Tensor, dt_fs: float) -> tuple[Tensor, Tensor]:
        """Advance (positions Å, velocities Å/fs), both (R, P, N, 3), by dt_fs under the springs."""
        if self.n_beads == 1:
            return positions + dt_fs * velocities, velocities
        q, v = self.rotate(self.to_nm(positions), self.to_nm(velocities), dt_fs)
        return self.from_nm(q), self.from_nm(v)

    def sample_positions(self, centroids: Tensor, masses: Tensor, *, generator: torch.Generator) -> Tensor:
        """Beads (R, P, N, 3) around centroids (R, N, 3) Å from the free ring-polymer
        distribution at T_P: q̃_k ~ N(0, k_B T_P/(m ω_k²)) for k > 0.

        A good start for path-integral runs: the internal modes begin equilibrated.
        """
        r, n, _ = centroids.shape
        p = self.n_beads
        modes = torch.zeros((r, p, n, 3), dtype=centroids.dtype, device=centroids.device)
        modes[:, 0] = math.sqrt(p) * centroids
        if p > 1:
            kt = units.KB_EV_PER_K * self.temperature_k * p
            w = self.omega[1:].reshape(1, p - 1, 1, 1)
            std = torch.sqrt(kt * units.ACCEL_TO_A_PER_FS2 / masses)[None, None, :, None] / w
            xi = torch.randn(
                (r, p - 1, n, 3), generator=generator, dtype=centroids.dtype, device=centroids.device
            )
            modes[:, 1:] = std * xi
        return from_normal_modes(modes, self.c)
