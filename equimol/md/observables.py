"""Per-replica observables logged and stored during (ring-polymer) MD.

All outputs are (R,) tensors. For P beads sampled at T_P = P·T:

* ``energy_potential``: bead average (1/P) Σ_j V(q_j), eV — the quantum estimator of ⟨V⟩.
* ``energy_kinetic``: the classical kinetic energy for P = 1; the centroid-virial quantum
  estimator for P > 1 (:func:`~equimol.md.ring_polymer.kinetic_energy_centroid_virial`), eV.
* ``temperature_k``: 2 K_RP / (n_dof k_B P) with K_RP the kinetic energy of all beads and
  n_dof = 3NP (− 3 with centre-of-mass removal, − 3 more, 2 for a diatomic, with
  rotation removal): the physical temperature T on average.
* ``conserved``: (K_RP + Σ_j V(q_j) + springs + thermostat term) / P, eV per bead as in
  i-PI; for P = 1 it is E_kin + E_pot + thermostat term.
"""

from __future__ import annotations

import torch
from torch import Tensor

from equimol import units
from equimol.md.ring_polymer import kinetic_energy_centroid_virial, spring_energy
from equimol.md.state import (
    MDState,
    kinetic_energy,
    remove_angular_velocity,
    remove_com_velocity,
    rotational_degrees_of_freedom,
)
from equimol.md.thermostats import Thermostat, n_degrees_of_freedom_centroid

OBSERVABLES = ("energy_potential", "energy_kinetic", "conserved", "temperature_k")


def n_degrees_of_freedom(state: MDState, remove_com: bool, remove_rotation: bool = False) -> int:
    """Degrees of freedom of all beads: 3NP, minus 3 if the centroid momentum is removed, minus
    the rotations (:func:`~equimol.md.state.rotational_degrees_of_freedom`) if its angular
    momentum is."""
    internal = 3 * state.n_atoms * (state.n_beads - 1)  # the ring polymer's internal modes
    return internal + n_degrees_of_freedom_centroid(state, remove_com, remove_rotation)


def compute_observables(
    state: MDState,
    temperature_k: float,
    thermostat: Thermostat | None = None,
    *,
    remove_com: bool = False,
    remove_rotation: bool = False,
) -> dict[str, Tensor]:
    """Observables of every replica of ``state`` (see module docstring); T in K."""
    assert state.energy is not None and state.forces is not None, "evaluate the state first"
    p = state.n_beads
    k_beads = kinetic_energy(state.velocities, state.masses).sum(1)
    v_sum = state.energy.sum(1)
    springs = spring_energy(state.positions, state.masses, temperature_k)
    extra = thermostat.conserved() if thermostat is not None else torch.zeros_like(k_beads)
    if p == 1:
        e_kin = k_beads
    else:
        e_kin = kinetic_energy_centroid_virial(state.positions, state.forces, temperature_k)
    ndof = n_degrees_of_freedom(state, remove_com, remove_rotation)
    return {
        "energy_potential": v_sum / p,
        "energy_kinetic": e_kin,
        "conserved": (k_beads + v_sum + springs + extra) / p,
        "temperature_k": 2.0 * k_beads / (ndof * units.KB_EV_PER_K * p),
    }


def rigid_and_vibrational_temperatures(
    positions: Tensor, velocities: Tensor, masses: Tensor
) -> dict[str, Tensor]:
    """Kinetic temperatures (K) of the centre-of-mass motion (3 degrees of freedom), the rigid
    rotation (3, 2 for a diatomic) and the vibrations (3N − 6) of the centroid of each
    replica, averaged over the frames: positions and velocities (T, R, P, N, 3) Å and Å/fs (or
    (R, P, N, 3) for one frame), masses (N,) amu. Equipartition makes all three T in a canonical
    run; a free molecule under a global thermostat started with rigid motion shows otherwise
    (see ``MDConfig.remove_rotation``). Returns {"translation", "rotation", "vibration"}: (R,)."""
    x = positions.reshape(-1, *positions.shape[-3:])
    v = velocities.reshape(-1, *velocities.shape[-3:])
    x_c, v_c = x.mean(1, keepdim=True), v.mean(1, keepdim=True)  # centroids, (F·R, 1, N, 3)
    k_all = kinetic_energy(v_c, masses)[:, 0]
    v_int = remove_com_velocity(v_c, masses)
    k_trans = k_all - kinetic_energy(v_int, masses)[:, 0]
    v_vib = remove_angular_velocity(x_c, v_int, masses)
    k_vib = kinetic_energy(v_vib, masses)[:, 0]
    k_rot = k_all - k_trans - k_vib
    n_rot = rotational_degrees_of_freedom(masses.shape[0])
    n_vib = 3 * masses.shape[0] - 3 - n_rot
    r = positions.shape[-4]
    kb = units.KB_EV_PER_K

    def temperature(k: Tensor, n: int) -> Tensor:
        return 2.0 * k.reshape(-1, r).mean(0) / (max(n, 1) * kb)

    return {
        "translation": temperature(k_trans, 3),
        "rotation": temperature(k_rot, n_rot),
        "vibration": temperature(k_vib, n_vib),
    }
