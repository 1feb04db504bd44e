"""Simulation loop and the one-call entry point :func:`run_simulation`.

Example (classical NVT of a Morse diatomic, 1000 steps of 0.5 fs)::

    from equimol.md import MDConfig, run_simulation, potentials
    from equimol.md.config import free_molecule
    fn = potentials.morse(d_e=4.7, a=1.9, r_e=0.74)
    # a free molecule: no centre-of-mass motion or rotation, which the global NHC cannot thermalise
    cfg = MDConfig(dt_fs=0.5, n_steps=1000, temperature_k=300, thermostat="nhc", tau_fs=100, **free_molecule())
    sim = run_simulation(fn, [1, 1], [[0, 0, 0], [0, 0, 0.74]], config=cfg, output="traj.h5")
    print(sim.observables()["temperature_k"])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase.data import atomic_masses
from torch import Tensor

from equimol import units
from equimol.md.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointHook, load_checkpoint
from equimol.md.config import RESTART_MUTABLE, MDConfig, build_thermostat
from equimol.md.hooks import Hook, LogHook, ProgressHook
from equimol.md.integrators import md_step
from equimol.md.observables import compute_observables
from equimol.md.ring_polymer import FreeRingPolymer
from equimol.md.state import (
    ForceFn,
    MDState,
    broadcast_positions,
    evaluate,
    kinetic_energy,
    maxwell_boltzmann,
    remove_angular_velocity,
    remove_com_velocity,
    resample_rotation,
)
from equimol.md.trajectory import TrajectoryHook
from equimol.units import MD_UNITS

#: with ``remove_rotation`` and a deterministic thermostat, the drift of the (centroid's)
#: centre-of-mass velocity and angular momentum is removed every this many steps: round-off in
#: classical MD, the exchange with the internal modes for a ring polymer
ROTATION_CHECK_EVERY = 100


class Simulation:
    """Propagates an :class:`MDState` with the integrator, thermostat and hooks of ``config``.

    Args:
        force_fn: potential, called once per step on all R·P structures (see state.py).
        state: initial state with (R, P) = (config.n_replicas, config.n_beads).
        config: run settings.
        hooks: called after set-up, after each step and at the end (see hooks.py).
        generator: source of all thermostat noise (default: seeded with config.seed).
    """

    def __init__(
        self,
        force_fn: ForceFn,
        state: MDState,
        config: MDConfig,
        *,
        hooks: Sequence[Hook] = (),
        generator: torch.Generator | None = None,
    ) -> None:
        if (state.n_replicas, state.n_beads) != (config.n_replicas, config.n_beads):
            raise ValueError(
                f"state has {state.n_replicas} replicas × {state.n_beads} beads, config "
                f"{config.n_replicas} × {config.n_beads}"
            )
        self.force_fn = force_fn
        self.state = state
        self.config = config
        self.hooks = list(hooks)
        self.ring = FreeRingPolymer(
            config.n_beads, config.temperature_k, dtype=state.dtype, device=state.device
        )
        if generator is None:
            generator = torch.Generator(device=state.device).manual_seed(config.seed)
        self.generator = generator
        self.thermostat = build_thermostat(config)
        if self.thermostat is not None:
            self.thermostat.setup(
                state,
                generator=generator,
                remove_com=config.remove_com,
                remove_rotation=config.remove_rotation,
            )
        if state.forces is None or state.energy is None:
            evaluate(force_fn, state)
        self.error: BaseException | None = None
        self._observables: tuple[int, dict[str, Tensor]] | None = None

    @property
    def time_fs(self) -> float:
        return self.state.step * self.config.dt_fs

    def observables(self) -> dict[str, Tensor]:
        """Per-replica (R,) temperature_k, energy_potential, energy_kinetic, conserved
        (see observables.py); cached for the current step."""
        if self._observables is None or self._observables[0] != self.state.step:
            obs = compute_observables(
                self.state,
                self.config.temperature_k,
                self.thermostat,
                remove_com=self.config.remove_com,
                remove_rotation=self.config.remove_rotation,
            )
            self._observables = (self.state.step, obs)
        return self._observables[1]

    def step(self) -> None:
        """One integration step of config.dt_fs."""
        md_step(self.state, self.force_fn, self.config.dt_fs, self.ring, self.thermostat)
        if (
            self.config.remove_rotation
            and self.thermostat is not None
            and (self.state.step % ROTATION_CHECK_EVERY == 0 or self.thermostat.centroid_langevin)
        ):
            self._remove_rigid_motion()
        if self.config.rotation_resample_fs is not None:
            every = max(1, round(self.config.rotation_resample_fs / self.config.dt_fs))
            if self.state.step % every == 0:
                self._resample_rotation()

    def _resample_rotation(self) -> None:
        """Redraw the (centroid's) rotation at T (config.rotation_resample_fs); the kinetic
        energy it changes counts as heat of the thermostat."""
        s = self.state
        kt = units.KB_EV_PER_K * self.config.temperature_k
        self._set_velocities_as_heat(
            resample_rotation(s.positions, s.velocities, s.masses, kt, generator=self.generator)
        )

    def _remove_rigid_motion(self) -> None:
        """Zero the centre-of-mass velocity and angular momentum again (config.remove_rotation,
        with a thermostat): in classical MD a global thermostat and the integrator keep both at
        zero up to round-off, a Langevin thermostat's noise does not, and a ring polymer's
        centroid exchanges angular momentum with its internal modes. The kinetic energy removed
        counts as heat of the thermostat, so the conserved quantity stays conserved. Without a
        thermostat (NVE, plain RPMD) the rigid motion is removed only at the start: the total
        angular momentum is then conserved."""
        s = self.state
        self._set_velocities_as_heat(
            remove_angular_velocity(s.positions, remove_com_velocity(s.velocities, s.masses), s.masses)
        )

    def _set_velocities_as_heat(self, velocities: Tensor) -> None:
        """Replace the state's velocities, booking the change of kinetic energy as heat of the
        thermostat (its ``energy_change``), so that the conserved quantity stays conserved."""
        s = self.state
        k0 = kinetic_energy(s.velocities, s.masses).sum(1)
        s.velocities = velocities
        if self.thermostat is not None:
            self.thermostat.energy_change += kinetic_energy(velocities, s.masses).sum(1) - k0

    def run(self, n_steps: int | None = None) -> MDState:
        """Run until step config.n_steps (or ``n_steps`` more steps), calling the hooks."""
        target = self.config.n_steps if n_steps is None else self.state.step + n_steps
        self.error = None
        try:
            for hook in self.hooks:
                hook.on_start(self)
            while self.state.step < target:
                self.step()
                for hook in self.hooks:
                    hook.on_step(self)
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            for hook in reversed(self.hooks):
                hook.on_end(self)
        return self.state

    def flush_hooks(self) -> None:
        for hook in self.hooks:
            hook.flush()

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint payload: tensors plus JSON-able metadata (weights_only-loadable)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": self.config.to_dict(),
            "state": self.state.state_dict(),
            "thermostat": self.thermostat.state_dict() if self.thermostat is not None else {},
            "generator": self.generator.get_state(),
            "metadata": {
                "time_fs": self.time_fs,
                "thermostat": self.thermostat.describe() if self.thermostat is not None else "nve",
                "units": dict(MD_UNITS),
                "torch": str(torch.__version__),
            },
        }

    def load_state_dict(self, payload: dict[str, Any]) -> None:
        """Restore thermostat variables and generator state (the MDState is passed to __init__)."""
        if self.thermostat is not None:
            self.thermostat.load_state_dict(payload["thermostat"])
        self.generator.set_state(payload["generator"])


def initial_state(
    atomic_numbers: Sequence[int] | np.ndarray | Tensor,
    positions: Sequence[Sequence[float]] | np.ndarray | Tensor,
    config: MDConfig,
    *,
    masses: Sequence[float] | np.ndarray | Tensor | None = None,
    velocities: np.ndarray | Tensor | None = None,
    generator: torch.Generator,
) -> MDState:
    """Build the starting (R, P, N, 3) state of ``config``.

    positions: (N, 3), (R, N, 3) or (R, P, N, 3) Å. For P > 1 and positions without a bead
    axis, beads are drawn from the free ring-polymer distribution around them
    (config.free_ring_polymer_start) or all placed on them. masses (N,) amu default to
    ASE's standard atomic masses. velocities (same forms, Å/fs) default to Maxwell–
    Boltzmann at P·config.initial_temperature_k (or temperature_k).
    """
    dtype, device = config.torch_dtype, torch.device(config.device)
    z = torch.as_tensor(np.asarray(atomic_numbers), dtype=torch.int64, device=device)
    if z.ndim != 1:
        raise ValueError(f"atomic_numbers must be (N,), got {tuple(z.shape)}")
    m = (
        torch.as_tensor(atomic_masses[z.cpu().numpy()], dtype=dtype, device=device)
        if masses is None
        else torch.as_tensor(np.asarray(masses), dtype=dtype, device=device)
    )
    x = torch.as_tensor(np.asarray(positions) if not isinstance(positions, Tensor) else positions)
    x = x.to(dtype=dtype, device=device)
    if x.shape[-2:] != (len(z), 3):
        raise ValueError(f"positions {tuple(x.shape)} do not match {len(z)} atoms")
    r, p = config.n_replicas, config.n_beads
    if p > 1 and x.ndim < 4 and config.free_ring_polymer_start:
        centroids = broadcast_positions(x, r, 1)[:, 0]
        x = FreeRingPolymer(p, config.temperature_k, dtype=dtype, device=device).sample_positions(
            centroids, m, generator=generator
        )
    else:
        x = broadcast_positions(x, r, p)
    if velocities is not None:
        v = broadcast_positions(torch.as_tensor(np.asarray(velocities), dtype=dtype, device=device), r, p)
    else:
        t0 = config.temperature_k if config.initial_temperature_k is None else config.initial_temperature_k
        v = maxwell_boltzmann(m, p * t0, (r, p), generator=generator) if t0 > 0 else torch.zeros_like(x)
    if config.remove_com:
        v = remove_com_velocity(v, m)
    if config.remove_rotation:
        v = remove_angular_velocity(x, v, m)
    return MDState(positions=x, velocities=v, masses=m, atomic_numbers=z)


def _check_restart_config(saved: MDConfig, config: MDConfig) -> None:
    diffs = [
        f"{f.name}: checkpoint {getattr(saved, f.name)!r} vs {getattr(config, f.name)!r}"
        for f in dataclasses.fields(MDConfig)
        if f.name not in RESTART_MUTABLE and getattr(saved, f.name) != getattr(config, f.name)
    ]
    if diffs:
        hint = ""
        if not saved.remove_com and any(d.startswith(("remove_com", "remove_rotation")) for d in diffs):
            hint = (
                " (a run started before equimol removed a free molecule's rigid motion by default: "
                "equimol md --keep-rigid-motion, or MDConfig(remove_com=False, remove_rotation=False), "
                "continues it)"
            )
        elif saved.remove_com and not config.remove_com:
            hint = " (the run removed the rigid motion: continue it without equimol md --keep-rigid-motion)"
        elif any(d.startswith(("remove_rotation", "rotation_resample_fs")) for d in diffs):
            if saved.rotation_resample_fs is not None:
                how = f"equimol md --rotation-resample-fs {saved.rotation_resample_fs:g}"
            elif saved.remove_rotation:
                how = "equimol md --rotation-resample-fs 0"
            else:
                how = "MDConfig(remove_com=True, remove_rotation=False)"
            hint = f" (the rotation was treated otherwise: {how} continues it)"
        raise ValueError("restart config does not match the checkpoint: " + "; ".join(diffs) + hint)


def run_simulation(
    force_fn: ForceFn,
    atomic_numbers: Sequence[int] | np.ndarray | Tensor,
    positions: Sequence[Sequence[float]] | np.ndarray | Tensor,
    masses: Sequence[float] | np.ndarray | Tensor | None = None,
    config: MDConfig | None = None,
    *,
    velocities: np.ndarray | Tensor | None = None,
    output: str | Path | None = None,
    restart: str | Path | None = None,
    log: str | Path | None = None,
    hooks: Sequence[Hook] = (),
    overwrite: bool = False,
) -> Simulation:
    """Set up and run one MD / RPMD simulation; returns the finished :class:`Simulation`.

    output: HDF5 trajectory (trajectory.py), written every config.stride steps.
    restart: checkpoint file. If it exists the run resumes from it (positions/velocities
    arguments are ignored, the trajectory is truncated to the checkpoint and continued up
    to config.n_steps); it is (re)written every config.checkpoint_every steps and at the end.
    log: text log written every config.log_every steps. hooks: extra hooks, run after the
    trajectory and log hooks. overwrite: replace an existing output of a fresh run.
    Inputs are validated and the first force call is made before any file is written.
    """
    config = MDConfig() if config is None else config
    resume = restart is not None and Path(restart).exists()
    device = torch.device(config.device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    if resume:
        assert restart is not None
        payload = load_checkpoint(restart)
        _check_restart_config(MDConfig.from_dict(payload["config"]), config)
        state = MDState.from_state_dict(payload["state"], dtype=config.torch_dtype, device=device)
        z = torch.as_tensor(np.asarray(atomic_numbers), dtype=torch.int64)
        if not torch.equal(z, state.atomic_numbers.cpu()):
            raise ValueError(f"atomic_numbers do not match the checkpoint {restart}")
    else:
        if output is not None and Path(output).exists() and not overwrite:
            raise FileExistsError(f"{output} exists; pass overwrite=True or restart from a checkpoint")
        state = initial_state(
            atomic_numbers, positions, config, masses=masses, velocities=velocities, generator=generator
        )
    all_hooks: list[Hook] = []
    if output is not None:
        all_hooks.append(TrajectoryHook(output, overwrite=overwrite))
    all_hooks.append(LogHook(config.log_every, log))
    all_hooks.extend(hooks)
    if restart is not None:
        all_hooks.append(CheckpointHook(restart, config.checkpoint_every))
    all_hooks.append(ProgressHook(disable=not config.progress, every=config.log_every))
    sim = Simulation(force_fn, state, config, hooks=all_hooks, generator=generator)
    if resume:
        sim.load_state_dict(payload)
    sim.run()
    return sim


__all__ = ["Simulation", "initial_state", "run_simulation"]
