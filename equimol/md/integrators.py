"""Symmetric splitting integrators for (ring-polymer) MD.

One step of length dt is

    O(dt/2) · B(dt/2) · A(dt/2) · O'(dt) · A(dt/2) · B(dt/2) · O(dt/2)

with B the force kick, A the exact free ring-polymer propagation (a drift for P = 1; CPMM2010),
O a global thermostat (NHC, CSVR: ``Thermostat.outer``) and O' a Langevin
Ornstein–Uhlenbeck step (``Thermostat.middle``). A(dt/2)·O'(dt)·A(dt/2) is
``Thermostat.propagate_middle``; the ring-polymer NHC replaces it by n sub-steps
[A(h/2)·NHC_internal(h)·A(h/2)]^n, h = dt/n, so that its chains resolve the internal
modes (see :class:`~equimol.md.nose_hoover.RingPolymerNoseHooverChain`). Without
thermostats this is velocity Verlet (Swope, Andersen, Berens & Wilson, J. Chem. Phys. 76,
637 (1982)); with Langevin it is BAOAB (Leimkuhler & Matthews 2013); for P > 1 it is the
PILE integrator of CPMM2010. Exactly one force_fn call per step, on all R·P structures.
"""

from __future__ import annotations

from equimol import units
from equimol.md.ring_polymer import FreeRingPolymer
from equimol.md.state import ForceFn, MDState, evaluate
from equimol.md.thermostats import Thermostat


def kick(state: MDState, dt_fs: float) -> None:
    """B: v ← v + dt · F/m (Å/fs; F eV/Å, m amu converted by ACCEL_TO_A_PER_FS2)."""
    assert state.forces is not None, "evaluate forces before kicking"
    inv_m = (units.ACCEL_TO_A_PER_FS2 / state.masses)[:, None]
    state.velocities = state.velocities + dt_fs * inv_m * state.forces


def md_step(
    state: MDState,
    force_fn: ForceFn,
    dt_fs: float,
    ring: FreeRingPolymer,
    thermostat: Thermostat | None = None,
) -> None:
    """Advance ``state`` by one step of dt_fs in place (see module docstring).

    ``state.forces`` must belong to ``state.positions`` on entry (call
    :func:`~equimol.md.state.evaluate` once before the first step); they do on exit.
    """
    half = 0.5 * dt_fs
    if thermostat is not None:
        thermostat.outer(state, half)
    kick(state, half)
    if thermostat is not None and thermostat.has_middle:
        # A–O–A entirely in normal-mode coordinates: two transforms each way per step
        q, v = thermostat.propagate_middle(
            ring, ring.to_nm(state.positions), ring.to_nm(state.velocities), dt_fs
        )
        state.positions, state.velocities = ring.from_nm(q), ring.from_nm(v)
    else:
        state.positions, state.velocities = ring.propagate(state.positions, state.velocities, dt_fs)
    state.step += 1
    evaluate(force_fn, state)
    kick(state, half)
    if thermostat is not None:
        thermostat.outer(state, half)


def velocity_verlet_step(state: MDState, force_fn: ForceFn, dt_fs: float) -> None:
    """Classical NVE velocity Verlet step for a one-bead state (R, 1, N, 3)."""
    if state.n_beads != 1:
        raise ValueError("velocity_verlet_step is classical; use md_step with a FreeRingPolymer")
    md_step(state, force_fn, dt_fs, FreeRingPolymer(1, 1.0, dtype=state.dtype, device=state.device))
