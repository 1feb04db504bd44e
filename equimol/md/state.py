"""Batched molecular-dynamics state: replicas × beads × atoms.

Shapes: R replicas (independent trajectories), P beads (ring-polymer images; P = 1 is
classical MD), N atoms. Positions (R, P, N, 3) Å, velocities (R, P, N, 3) Å/fs,
masses (N,) amu. Kinetic energy is ``0.5 m v² / units.ACCEL_TO_A_PER_FS2`` in eV.

The potential is a callable ``force_fn(positions (S, N, 3) Å) -> dict`` with S = R·P,
returning ``"energy"`` (S,) eV and ``"forces"`` (S, N, 3) eV/Å, and optionally
``"dipole"`` (S, 3) e·Å and ``"polarizability"`` (S, 3, 3) Å³. All replicas and beads go
through one batched call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from equimol import keys, units

ForceFn = Callable[[Tensor], Mapping[str, Tensor]]

#: optional per-structure outputs of a force_fn that the MD engine carries and stores
PROPERTY_SHAPES: dict[str, tuple[int, ...]] = {
    keys.DIPOLE: (3,),
    keys.POLARIZABILITY: (3, 3),
    keys.FORCE_DISAGREEMENT: (),  # committee potentials (equimol.committee), eV/Å
}


@dataclass
class MDState:
    """Phase-space point of R replicas of a P-bead ring polymer of N atoms.

    ``energy`` (R, P) eV, ``forces`` (R, P, N, 3) eV/Å and ``properties`` (dipole (R, P, 3),
    polarizability (R, P, 3, 3)) belong to the current ``positions``; ``step`` counts
    completed integration steps.
    """

    positions: Tensor
    velocities: Tensor
    masses: Tensor
    atomic_numbers: Tensor
    step: int = 0
    energy: Tensor | None = None
    forces: Tensor | None = None
    properties: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.positions.ndim != 4 or self.positions.shape[-1] != 3:
            raise ValueError(f"positions must be (R, P, N, 3), got {tuple(self.positions.shape)}")
        if self.velocities.shape != self.positions.shape:
            raise ValueError(
                f"velocities {tuple(self.velocities.shape)} must match positions "
                f"{tuple(self.positions.shape)}"
            )
        n = self.positions.shape[2]
        if self.masses.shape != (n,):
            raise ValueError(f"masses must be ({n},), got {tuple(self.masses.shape)}")
        if self.atomic_numbers.shape != (n,):
            raise ValueError(f"atomic_numbers must be ({n},), got {tuple(self.atomic_numbers.shape)}")
        if not bool((self.masses > 0).all()):
            raise ValueError("masses must be positive (amu)")

    @property
    def n_replicas(self) -> int:
        return self.positions.shape[0]

    @property
    def n_beads(self) -> int:
        return self.positions.shape[1]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[2]

    @property
    def dtype(self) -> torch.dtype:
        return self.positions.dtype

    @property
    def device(self) -> torch.device:
        return self.positions.device

    def state_dict(self) -> dict[str, Any]:
        """Tensors and ints only (loadable with ``torch.load(weights_only=True)``)."""
        out: dict[str, Any] = {
            "positions": self.positions,
            "velocities": self.velocities,
            "masses": self.masses,
            "atomic_numbers": self.atomic_numbers,
            "step": self.step,
            "properties": dict(self.properties),
        }
        if self.energy is not None and self.forces is not None:
            out["energy"] = self.energy
            out["forces"] = self.forces
        return out

    @classmethod
    def from_state_dict(
        cls, d: Mapping[str, Any], *, dtype: torch.dtype, device: torch.device | str
    ) -> MDState:
        """Inverse of :meth:`state_dict`; float tensors are cast to ``dtype`` on ``device``."""

        def f(t: Tensor) -> Tensor:
            return t.to(device=device, dtype=dtype)

        props: Mapping[str, Tensor] = d.get("properties", {})
        return cls(
            positions=f(d["positions"]),
            velocities=f(d["velocities"]),
            masses=f(d["masses"]),
            atomic_numbers=d["atomic_numbers"].to(device=device),
            step=int(d["step"]),
            energy=f(d["energy"]) if "energy" in d else None,
            forces=f(d["forces"]) if "forces" in d else None,
            properties={k: f(v) for k, v in props.items()},
        )


def broadcast_positions(positions: Tensor, n_replicas: int, n_beads: int) -> Tensor:
    """Expand positions (N, 3), (R, N, 3) or (R, P, N, 3) Å to a contiguous (R, P, N, 3)."""
    x = positions
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(
            f"positions must be (N, 3), (R, N, 3) or (R, P, N, 3) Å, got {tuple(positions.shape)}"
        )
    if x.shape[0] not in (1, n_replicas) or x.shape[1] not in (1, n_beads):
        raise ValueError(
            f"positions {tuple(positions.shape)} do not broadcast to {n_replicas} replicas × {n_beads} beads"
        )
    return x.expand(n_replicas, n_beads, -1, -1).contiguous()


def kinetic_energy(velocities: Tensor, masses: Tensor) -> Tensor:
    """Kinetic energy of every bead, (R, P) eV, from velocities (R, P, N, 3) Å/fs."""
    mv2 = (velocities.square().sum(-1) * masses).sum(-1)
    return 0.5 * mv2 / units.ACCEL_TO_A_PER_FS2


def thermal_velocity_scale(masses: Tensor, kt_ev: float) -> Tensor:
    """sqrt(kT/m) in Å/fs for each atom, (N, 1); kT in eV, masses in amu."""
    return torch.sqrt(kt_ev * units.ACCEL_TO_A_PER_FS2 / masses)[:, None]


def maxwell_boltzmann(
    masses: Tensor, temperature_k: float, shape: tuple[int, int], *, generator: torch.Generator
) -> Tensor:
    """Velocities (R, P, N, 3) Å/fs drawn from the Maxwell–Boltzmann distribution at T.

    ``shape`` is (R, P). For a ring polymer pass the bead temperature P·T.
    """
    n = masses.shape[0]
    xi = torch.randn((*shape, n, 3), generator=generator, dtype=masses.dtype, device=masses.device)
    return xi * thermal_velocity_scale(masses, units.KB_EV_PER_K * temperature_k)


def remove_com_velocity(velocities: Tensor, masses: Tensor, *, normal_modes: bool = False) -> Tensor:
    """Subtract the centre-of-mass velocity of the centroid of each replica.

    Only the centroid mode changes; internal ring-polymer modes are untouched. Velocities
    (R, P, N, 3) Å/fs in bead coordinates, or in normal-mode coordinates (centroid mode
    ṽ_0 = √P v̄ at index 0) when ``normal_modes``; masses (N,) amu.
    """
    v_centroid = velocities[:, 0] if normal_modes else velocities.mean(1)  # (R, N, 3)
    v_com = (masses[:, None] * v_centroid).sum(1) / masses.sum()  # (R, 3)
    if normal_modes:
        out = velocities.clone()
        out[:, 0] -= v_com[:, None, :]
        return out
    return velocities - v_com[:, None, None, :]


def _centroid_frame(positions: Tensor, velocities: Tensor, masses: Tensor) -> tuple[Tensor, Tensor]:
    """(d, u): centroid positions relative to the centre of mass and centroid velocities relative
    to the centre-of-mass velocity, (R, N, 3) each."""
    m = masses[:, None]
    r, v = positions.mean(1), velocities.mean(1)
    d = r - (m * r).sum(1, keepdim=True) / masses.sum()
    u = v - (m * v).sum(1, keepdim=True) / masses.sum()
    return d, u


def _inertia(d: Tensor, masses: Tensor) -> Tensor:
    """Inertia tensors I = Σ m (|d|² 1 − d dᵀ), (R, 3, 3) amu·Å², of positions d (R, N, 3) about the COM."""
    eye = torch.eye(3, dtype=d.dtype, device=d.device)
    d2 = (masses[:, None] * d.square()).sum((-1, -2))  # (R,)
    return d2[:, None, None] * eye - torch.einsum("n,rni,rnj->rij", masses, d, d)


def _angular_velocity(d: Tensor, u: Tensor, masses: Tensor) -> tuple[Tensor, Tensor]:
    """(ω, I): the angular velocity ω = I⁺ L of the rigid rotation (I⁺: pseudo-inverse, so an
    exactly linear geometry has only two) and the inertia tensors I, (R, 3) and (R, 3, 3), of
    the centre-of-mass frame (d, u) of :func:`_centroid_frame`."""
    inertia = _inertia(d, masses)
    omega = torch.linalg.pinv(inertia, hermitian=True, rtol=1e-6) @ _angular_momentum(d, u, masses)[..., None]
    return omega[..., 0], inertia


def _angular_momentum(d: Tensor, u: Tensor, masses: Tensor) -> Tensor:
    """L = Σ m d × u, (R, 3), of the centre-of-mass frame (d, u) of :func:`_centroid_frame`."""
    return (masses[:, None] * torch.linalg.cross(d, u)).sum(1)


def rotational_degrees_of_freedom(n_atoms: int) -> int:
    """Components of the angular momentum that :func:`remove_angular_velocity` keeps at zero:
    0 for one atom, 2 for a diatomic (always linear), else 3. A molecule of three or more atoms
    that starts linear (CO₂) bends at once; its angular momentum along the axis is zero at the
    start and conserved, so it too loses three degrees of freedom (3N − 6)."""
    return 0 if n_atoms < 2 else (2 if n_atoms == 2 else 3)


def angular_momentum(positions: Tensor, velocities: Tensor, masses: Tensor) -> Tensor:
    """Angular momentum L = Σ m (r̄ − R) × (v̄ − V) of the centroid of each replica about its
    centre of mass, (R, 3) amu·Å²/fs (r̄, v̄: bead averages; R, V: centre of mass)."""
    return _angular_momentum(*_centroid_frame(positions, velocities, masses), masses)


def remove_angular_velocity(positions: Tensor, velocities: Tensor, masses: Tensor) -> Tensor:
    """Subtract the rigid rotation ω × (r̄ − R) of the centroid of each replica, ω = I⁺ L
    (I⁺: pseudo-inverse, so an exactly linear geometry loses only its two rotations), from every bead:
    afterwards L = 0 (:func:`angular_momentum`). The centre-of-mass velocity is unchanged.
    Positions and velocities (R, P, N, 3) Å and Å/fs, masses (N,) amu.

    For a free molecule under a global thermostat (one that scales all velocities, such as a
    Nosé–Hoover chain), L is conserved up to the scaling: rotation, like centre-of-mass
    motion, never reaches the temperature of the vibrations, and its kinetic energy (fixed by
    the random start) is taken from them ("flying ice cube"). Removing both at the start, and
    counting 3N − 6 degrees of freedom, samples the vibrations at T."""
    d, u = _centroid_frame(positions, velocities, masses)
    omega, _ = _angular_velocity(d, u, masses)
    return velocities - torch.linalg.cross(omega[:, None, :].expand_as(d), d)[:, None]


def resample_rotation(
    positions: Tensor, velocities: Tensor, masses: Tensor, kt_ev: float, *, generator: torch.Generator
) -> Tensor:
    """Replace the rigid rotation of the centroid of each replica by one drawn from its canonical
    distribution at kT (an Andersen step on the three rotations): ω ~ N(0, kT I⁻¹), so that
    ⟨½ ωᵀIω⟩ = 3/2 kT (2 rotations for a diatomic). The change ω_new × (r̄ − R) − ω_old ×
    (r̄ − R) is added to every bead; the centre-of-mass velocity and the internal ring-polymer
    modes are unchanged. kT of the centroid, i.e. the physical temperature, in eV."""
    d, u = _centroid_frame(positions, velocities, masses)
    omega_old, inertia = _angular_velocity(d, u, masses)
    lam, vec = torch.linalg.eigh(inertia)  # (R, 3), (R, 3, 3)
    keep = lam > 1e-6 * lam.amax(-1, keepdim=True)
    xi = torch.randn(lam.shape, generator=generator, dtype=lam.dtype, device=lam.device)
    kt = kt_ev * units.ACCEL_TO_A_PER_FS2  # amu·Å²/fs²
    scale = torch.where(keep, torch.sqrt(kt / lam.clamp_min(1e-300)), torch.zeros_like(lam))
    omega_new = (vec @ (xi * scale)[..., None])[..., 0]
    delta = torch.linalg.cross((omega_new - omega_old)[:, None, :].expand_as(d), d)
    return velocities + delta[:, None]


#: a force above this (eV/Å) on any atom or bead means the run is blowing up: bonded forces in
#: molecules stay below ~50 eV/Å even for 64-bead ring polymers at 300 K (bead temperature 64·T)
RUNAWAY_FORCE_EV_A = 1000.0


def _runaway_message(state: MDState, forces: Tensor, f_max: float) -> str:
    """Where a run blows up: the atom with the largest force and the shortest bond of its bead."""
    from ase.data import chemical_symbols

    r, p, n, _ = state.positions.shape
    flat = int(forces.norm(dim=-1).reshape(-1).argmax())
    structure, atom = divmod(flat, n)
    sym = [chemical_symbols[int(z)] for z in state.atomic_numbers]
    where = f"replica {structure // p}" + (f", bead {structure % p}" if p > 1 else "")
    when = "in the starting geometry" if state.step == 0 else f"at step {state.step}"
    bond = ""
    if n > 1:
        x = state.positions.reshape(r * p, n, 3)[structure]
        d = torch.cdist(x, x) + torch.eye(n, dtype=x.dtype, device=x.device) * 1e9
        i, j = divmod(int(d.reshape(-1).argmin()), n)
        bond = f"; the shortest bond there is {sym[i]}{i}-{sym[j]}{j} {float(d[i, j]):.2f} Å"
    return (
        f"force of {f_max:.3g} eV/Å on atom {atom} ({sym[atom]}) {when} ({where}): the run is blowing "
        f"up{bond}. A model never trained at such short distances can turn attractive there (train on "
        "such geometries, e.g. PIMD frames, or give the energy head `repulsion: zbl`); otherwise the "
        "time step may be too large"
    )


def evaluate(force_fn: ForceFn, state: MDState) -> None:
    """Call ``force_fn`` once on all R·P structures; store energy, forces, properties.

    Outputs are detached and moved to the state's dtype and device. Raises ValueError with the
    offending key and shapes when the force_fn breaks the interface, and FloatingPointError
    when energies or forces are not finite (usually: the time step is too large).
    """
    r, p, n, _ = state.positions.shape
    s = r * p
    out = force_fn(state.positions.reshape(s, n, 3))
    for key in (keys.ENERGY, keys.FORCES):
        if key not in out:
            raise ValueError(f"force_fn must return {key!r}; got keys {sorted(out)}")
    dtype, device = state.dtype, state.device
    energy = out[keys.ENERGY].detach().to(device=device, dtype=dtype)
    forces = out[keys.FORCES].detach().to(device=device, dtype=dtype)
    if energy.shape != (s,):
        raise ValueError(f"force_fn energy must be ({s},) eV, got {tuple(energy.shape)}")
    if forces.shape != (s, n, 3):
        raise ValueError(f"force_fn forces must be ({s}, {n}, 3) eV/Å, got {tuple(forces.shape)}")
    # one pass over the forces: the largest force is finite only if every component is (the
    # second pass tells an overflowing norm of finite forces from a non-finite component)
    f_max = float(forces.norm(dim=-1).max()) if forces.numel() else 0.0
    finite_forces = math.isfinite(f_max) or bool(torch.isfinite(forces).all())
    if not (bool(torch.isfinite(energy).all()) and finite_forces):
        raise FloatingPointError(
            f"non-finite energy or forces at step {state.step}; the time step may be too large"
        )
    if f_max > RUNAWAY_FORCE_EV_A:
        raise FloatingPointError(_runaway_message(state, forces, f_max))
    state.energy = energy.reshape(r, p)
    state.forces = forces.reshape(r, p, n, 3)
    props: dict[str, Tensor] = {}
    for key, tail in PROPERTY_SHAPES.items():
        if key in out:
            value = out[key].detach().to(device=device, dtype=dtype)
            if value.shape != (s, *tail):
                raise ValueError(f"force_fn {key} must be {(s, *tail)}, got {tuple(value.shape)}")
            props[key] = value.reshape(r, p, *tail)
    state.properties = props
