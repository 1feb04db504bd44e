"""Per-replica observables logged and stored during (ring-polymer) MD.

All outputs are (R,) tensors. For P beads sampled at T_P = P·T:

* ``energy_potential``: bead average (1/P) Σ_j V(q_j), eV — the quantum estimator of ⟨V⟩.
* ``energy_kinetic``: the classical kinetic energy for P = 1; the centroid-virial quantum
  estimator for P > 1 (:func:`~equimol.md.ring_polymer.kinetic_energy_centroid_virial`), eV.
* ``temperature_k``: 2 K_RP / (n_dof k_B P) with K_RP the kinetic energy of all beads and
  n_dof = 3NP (− 3 with centre-of-mass removal): the physical temperature T on average.
* ``conserved``: (K_RP + Σ_j V(q_j) + springs + thermostat term) / P, eV per bead as in
  i-PI; for P = 1 it is E_kin + E_pot + thermostat term.
"""

from __future__ import annotations

import torch
from torch import Tensor

from equimol import units
from equimol.md.ring_polymer import kinetic_energy_centroid_virial, spring_energy
from equimol.md.state import MDState, kinetic_energy
from equimol.md.thermostats import Thermostat

OBSERVABLES = ("energy_potential", "energy_kinetic", "conserved", "temperature_k")


def n_degrees_of_freedom(state: MDState, remove_com: bool) -> int:
    """Degrees of freedom of all beads: 3NP, minus 3 if the centroid momentum is removed."""
    return 3 * state.n_atoms * state.n_beads - (3 if remove_com else 0)


def compute_observables(
    state: MDState,
    temperature_k: float,
    thermostat: Thermostat | None = None,
    *,
    remove_com: bool = False,
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
    ndof = n_degrees_of_freedom(state, remove_com)
    return {
        "energy_potential": v_sum / p,
        "energy_kinetic": e_kin,
        "conserved": (k_beads + v_sum + springs + extra) / p,
        "temperature_k": 2.0 * k_beads / (ndof * units.KB_EV_PER_K * p),
    }
