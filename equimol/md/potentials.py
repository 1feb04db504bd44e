"""Cheap analytic force_fns (pure torch) for tests and examples.

Each factory returns ``force_fn(positions (S, N, 3) Å) -> {"energy": (S,) eV,
"forces": (S, N, 3) eV/Å}``, the interface of :mod:`equimol.md.state`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from equimol import keys, units
from equimol.md.state import ForceFn


def harmonic_force_constant(omega_per_fs: float, mass_amu: float) -> float:
    """k = m ω² in eV/Å² for an angular frequency ω (rad/fs) and a mass (amu)."""
    return mass_amu * omega_per_fs**2 / units.ACCEL_TO_A_PER_FS2


def harmonic(
    force_constants: float | Tensor,
    center: Tensor | None = None,
    *,
    quartic: float = 0.0,
) -> ForceFn:
    """Independent wells per atom and Cartesian direction.

    V = Σ_iα ½ k_iα (x_iα − c_iα)² + (quartic/4) Σ_i |x_i − c_i|⁴, with k (eV/Å²)
    broadcastable to (N, 3): a scalar gives 3D isotropic oscillators, (k, 0, 0) a 1D
    oscillator along x (free in y, z). ``center`` (N, 3) Å defaults to the origin;
    ``quartic`` (eV/Å⁴) makes the wells anharmonic and couples x, y, z of one atom.
    """

    def force_fn(positions: Tensor) -> dict[str, Tensor]:
        k = torch.as_tensor(force_constants, dtype=positions.dtype, device=positions.device)
        d = positions if center is None else positions - center.to(positions)
        energy = 0.5 * (k * d.square()).sum((1, 2))
        forces = -k * d
        if quartic:
            r2 = d.square().sum(-1, keepdim=True)
            energy = energy + 0.25 * quartic * r2.square().sum((1, 2))
            forces = forces - quartic * r2 * d
        return {keys.ENERGY: energy, keys.FORCES: forces}

    return force_fn


def all_pairs(n_atoms: int) -> Tensor:
    """(E, 2) int64 index pairs i < j."""
    return torch.triu_indices(n_atoms, n_atoms, offset=1).T.contiguous()


def morse(d_e: float, a: float, r_e: float, pairs: Tensor | None = None) -> ForceFn:
    """Morse pair potential V = Σ_pairs D_e (1 − exp(−a (r − r_e)))².

    D_e in eV, a in 1/Å, r_e in Å; ``pairs`` (E, 2) defaults to all pairs (a diatomic for
    N = 2). Harmonic frequency of a diatomic: ω = a √(2 D_e / μ) (times the unit factor).
    """

    def force_fn(positions: Tensor) -> dict[str, Tensor]:
        n = positions.shape[1]
        idx = (all_pairs(n) if pairs is None else pairs).to(positions.device)
        i, j = idx[:, 0], idx[:, 1]
        rij = positions[:, j] - positions[:, i]  # (S, E, 3)
        r = rij.norm(dim=-1)
        e = torch.exp(-a * (r - r_e))
        energy = (d_e * (1.0 - e).square()).sum(-1)
        dv_dr = 2.0 * d_e * a * e * (1.0 - e)
        f_i = (dv_dr / r)[..., None] * rij  # force on i points along r_ij when stretched
        forces = torch.zeros_like(positions)
        forces.index_add_(1, i, f_i)
        forces.index_add_(1, j, -f_i)
        return {keys.ENERGY: energy, keys.FORCES: forces}

    return force_fn


def combine(*force_fns: ForceFn) -> ForceFn:
    """Sum of energies and forces of several force_fns (other outputs of the first kept)."""
    if not force_fns:
        raise ValueError("combine needs at least one force_fn")

    def force_fn(positions: Tensor) -> dict[str, Tensor]:
        outs: list[Mapping[str, Tensor]] = [f(positions) for f in force_fns]
        total = dict(outs[0])
        for out in outs[1:]:
            total[keys.ENERGY] = total[keys.ENERGY] + out[keys.ENERGY]
            total[keys.FORCES] = total[keys.FORCES] + out[keys.FORCES]
        return total

    return force_fn


def with_linear_response(
    force_fn: ForceFn, charges: Tensor, *, alpha_iso: float = 1.0, alpha_quadratic: float = 0.1
) -> ForceFn:
    """Add a point-charge dipole μ = Σ_i q_i x_i (e·Å) and a polarizability
    α = α_iso I + α_quadratic Σ_i x_i x_iᵀ (Å³) to ``force_fn``, for testing the storage
    and the spectra of dipoles and polarizabilities."""

    def wrapped(positions: Tensor) -> dict[str, Tensor]:
        out = dict(force_fn(positions))
        q = charges.to(positions)
        out[keys.DIPOLE] = (q[None, :, None] * positions).sum(1)
        eye = torch.eye(3, dtype=positions.dtype, device=positions.device)
        outer = torch.einsum("sni,snj->sij", positions, positions)
        out[keys.POLARIZABILITY] = alpha_iso * eye + alpha_quadratic * outer
        return out

    return wrapped
