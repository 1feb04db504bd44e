"""Molecular dynamics: classical MD and ring-polymer MD (RPMD/PIMD) in PyTorch.

See :func:`equimol.md.simulate.run_simulation` for the one-call entry point.
"""

from equimol.md.config import MDConfig, build_thermostat
from equimol.md.integrators import md_step, velocity_verlet_step
from equimol.md.nose_hoover import NoseHooverChain
from equimol.md.optimize import OptimizationResult, optimize
from equimol.md.ring_polymer import FreeRingPolymer
from equimol.md.simulate import Simulation, initial_state, run_simulation
from equimol.md.state import ForceFn, MDState, evaluate
from equimol.md.thermostats import CSVR, Langevin, Thermostat
from equimol.md.trajectory import TrajectoryWriter, read_trajectory

__all__ = [
    "CSVR",
    "ForceFn",
    "FreeRingPolymer",
    "Langevin",
    "MDConfig",
    "MDState",
    "NoseHooverChain",
    "OptimizationResult",
    "Simulation",
    "Thermostat",
    "TrajectoryWriter",
    "build_thermostat",
    "evaluate",
    "initial_state",
    "md_step",
    "optimize",
    "read_trajectory",
    "run_simulation",
    "velocity_verlet_step",
]
