"""Configurational sampling with xTB: relaxation, normal-mode sampling, Langevin MD, path-integral
(ring-polymer) MD, torsion scans.

Every function takes and returns structure dicts (positions Å, atomic_numbers) and returns
unlabelled geometries; label them with :func:`equimol.reference.label.label_file` (or
:func:`~equimol.reference.label.label_structures`), which is resumable and parallel.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from equimol import keys, units
from equimol.reference.xtb import DEFAULT_SETTINGS, XTBCalculator, XTBSettings, hessian

Structure = dict[str, np.ndarray]
AxisEnd = int | Sequence[int]  # an atom index, or atom indices whose centroid is used


def _atoms(structure: Structure, settings: XTBSettings | None = None):  # -> ase.Atoms
    from ase import Atoms

    atoms = Atoms(numbers=structure[keys.ATOMIC_NUMBERS], positions=structure[keys.POSITIONS])
    if settings is not None:
        atoms.calc = XTBCalculator(settings)
    return atoms


def _geometry(positions: np.ndarray, numbers: np.ndarray) -> Structure:
    return {
        keys.POSITIONS: np.array(positions, dtype=np.float64),
        keys.ATOMIC_NUMBERS: np.array(numbers, dtype=np.int64),
    }


def relax(
    structure: Structure,
    settings: XTBSettings = DEFAULT_SETTINGS,
    fmax: float = 0.005,
    steps: int = 2000,
) -> Structure:
    """Minimise the xTB energy with ASE BFGS until max |F| < ``fmax`` (eV/Å).

    Returns the relaxed geometry with its ``energy`` (eV) and ``forces`` (eV/Å); warns when
    ``steps`` optimiser steps were not enough.
    """
    from ase.optimize import BFGS

    atoms = _atoms(structure, settings)
    converged = BFGS(atoms, logfile=None).run(fmax=fmax, steps=steps)
    if not converged:
        warnings.warn(f"relaxation did not reach fmax={fmax} eV/Å in {steps} steps", stacklevel=2)
    out = _geometry(atoms.positions, atoms.numbers)
    out[keys.ENERGY] = np.asarray(atoms.get_potential_energy())
    out[keys.FORCES] = np.asarray(atoms.get_forces())
    return out


@dataclass(frozen=True)
class NormalModes:
    """Vibrational normal modes as normal-mode sampling uses them (rigid-body motions removed).

    frequencies_cm: (m,) wavenumbers in cm⁻¹, negative for imaginary modes.
    modes: (m, n, 3) Cartesian displacement directions, each of unit norm (dimensionless).
    force_constants: (m,) K_i = q_iᵀ H q_i along the unit Cartesian modes, eV/Å².
    """

    frequencies_cm: np.ndarray
    modes: np.ndarray
    force_constants: np.ndarray


def normal_modes(hessian_ev_a2: np.ndarray, positions: np.ndarray, masses_amu: np.ndarray) -> NormalModes:
    """Harmonic analysis of a Cartesian Hessian (3n, 3n) eV/Å² at ``positions`` (n, 3) Å.

    The analysis is :func:`equimol.spectra.harmonic.normal_modes`: translations and
    rotations are projected out exactly (5 rigid-body vectors for a linear molecule, 6
    otherwise, the rotation about the axis counting as absent below 1e-6 of the largest
    singular value), so no small-eigenvalue threshold decides which modes are vibrations.
    Its mass-weighted modes are returned here as unit Cartesian directions with their force
    constants, as :func:`normal_mode_displacements` needs them.
    """
    from equimol.spectra.harmonic import normal_modes as harmonic_analysis  # spectra imports SciPy

    analysis = harmonic_analysis(hessian_ev_a2, masses_amu, positions, linear_tolerance=1e-6)
    cartesian = analysis.cartesian_displacements  # (3n, m)
    cartesian /= np.linalg.norm(cartesian, axis=0)
    force_constants = np.einsum("im,ij,jm->m", cartesian, hessian_ev_a2, cartesian)
    return NormalModes(
        analysis.frequencies_cm1, cartesian.T.reshape(-1, len(analysis.masses_amu), 3), force_constants
    )


def normal_mode_displacements(
    modes: NormalModes,
    n_samples: int,
    temperature_k: float,
    rng: np.random.Generator,
    min_force_constant: float = 0.1,
) -> np.ndarray:
    """Random displacements (n_samples, n, 3) Å by ANI-1 normal-mode sampling.

    Smith, Isayev, Roitberg, Chem. Sci. 8, 3192 (2017), "Normal mode sampling": per sample,
    N_f uniform numbers c_i are scaled so that Σ c_i is uniform in [0, 1]; mode i is displaced
    by R_i = ±sqrt(3 c_i N_a k_B T / K_i) with a random sign. K_i (eV/Å²) is floored at
    ``min_force_constant`` so soft and imaginary modes do not fly apart.
    """
    n_modes, n_atoms, _ = modes.modes.shape
    k = np.maximum(np.abs(modes.force_constants), min_force_constant)
    c = rng.random((n_samples, n_modes))
    c *= (rng.random(n_samples) / c.sum(axis=1))[:, None]
    signs = rng.choice((-1.0, 1.0), size=(n_samples, n_modes))
    amplitude = signs * np.sqrt(3.0 * c * n_atoms * units.KB_EV_PER_K * temperature_k / k)
    return np.einsum("sm,mai->sai", amplitude, modes.modes)


def normal_mode_sampling(
    structure: Structure,
    n_samples: int,
    temperature_k: float = 300.0,
    settings: XTBSettings = DEFAULT_SETTINGS,
    seed: int = 0,
    relax_first: bool = True,
    min_force_constant: float = 0.1,
) -> list[Structure]:
    """Normal-mode samples around the xTB minimum (ANI-1 scheme, see
    :func:`normal_mode_displacements`). Relaxes first unless ``relax_first`` is False;
    the Hessian comes from :func:`equimol.reference.xtb.hessian`.
    """
    from ase.data import atomic_masses

    minimum = relax(structure, settings) if relax_first else structure
    numbers = minimum[keys.ATOMIC_NUMBERS]
    positions = minimum[keys.POSITIONS]
    h = hessian(positions, numbers, settings)
    modes = normal_modes(h, positions, atomic_masses[numbers])
    rng = np.random.default_rng(seed)
    shifts = normal_mode_displacements(modes, n_samples, temperature_k, rng, min_force_constant)
    return [_geometry(positions + d, numbers) for d in shifts]


def md_sampling(
    structure: Structure,
    n_frames: int,
    temperature_k: float = 300.0,
    every: int = 10,
    timestep_fs: float = 0.5,
    friction_per_fs: float = 0.01,
    equilibration_steps: int = 2000,
    settings: XTBSettings = DEFAULT_SETTINGS,
    seed: int = 0,
    progress: bool = False,
) -> list[Structure]:
    """Frames from Langevin MD on the xTB surface (ASE ``Langevin``), one every ``every`` steps.

    Velocities start from Maxwell–Boltzmann at ``temperature_k`` (K) with zero momentum and
    angular momentum; ``equilibration_steps`` are discarded first. Time step in fs, friction
    in 1/fs. Deterministic for a given ``seed``. Returns geometries only.
    """
    from ase import units as ase_units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary, ZeroRotation
    from tqdm import tqdm

    if n_frames < 1 or every < 1 or equilibration_steps < 0:
        raise ValueError("n_frames and every must be >= 1, equilibration_steps >= 0")
    rng = np.random.default_rng(seed)
    atoms = _atoms(structure, settings)
    masses = atoms.get_masses()[:, None]  # Maxwell–Boltzmann momenta, ASE units sqrt(amu·eV)
    atoms.set_momenta(
        rng.standard_normal((len(atoms), 3)) * np.sqrt(masses * units.KB_EV_PER_K * temperature_k)
    )
    Stationary(atoms)
    ZeroRotation(atoms)
    atoms.set_constraint(FixCom())  # fixed centre of mass; Langevin's own fixcm biases NVT
    dynamics = Langevin(
        atoms,
        timestep=timestep_fs * ase_units.fs,
        temperature_K=temperature_k,
        friction=friction_per_fs / ase_units.fs,
        fixcm=False,
        rng=rng,
    )
    if equilibration_steps:
        dynamics.run(equilibration_steps)
    frames = []
    for _ in tqdm(range(n_frames), desc=f"MD {temperature_k:g} K", disable=not progress):
        dynamics.run(every)
        frames.append(_geometry(atoms.positions, atoms.numbers))
    return frames


def pimd_sampling(
    structure: Structure,
    n_frames: int,
    temperature_k: float = 300.0,
    beads: int = 16,
    every: int = 20,
    timestep_fs: float = 0.5,
    equilibration_steps: int = 2000,
    thermostat: str = "nhc",
    settings: XTBSettings = DEFAULT_SETTINGS,
    seed: int = 0,
    progress: bool = False,
) -> list[Structure]:
    """Bead geometries from path-integral (ring-polymer) MD on the GFN2-xTB surface.

    Runs equimol's MD engine (:func:`equimol.md.simulate.run_simulation`) with ``beads`` beads
    at ``temperature_k`` (K), ``timestep_fs`` (fs) and the ring-polymer thermostat
    ``thermostat`` (default ``nhc``: Nose-Hoover chains on every normal mode, the PaiNN
    paper's), driven by GFN2-xTB (:class:`equimol.reference.xtb_forces.XTBForceFn`; tblite has
    no batched API, so the P single points of a step run one after the other). After
    ``equilibration_steps`` steps, every ``every``-th step contributes all P bead geometries,
    until ``n_frames`` geometries are collected. Beads spread along stiff bonds as far as
    zero-point motion takes them, far beyond any classical frame at the same temperature:
    these are the geometries a model must have seen to run RPMD. Deterministic for a seed.
    Returns geometries only (label them with :func:`equimol.reference.label.label_file`).
    """
    import torch

    from equimol.md.config import MDConfig, free_molecule
    from equimol.md.hooks import Hook
    from equimol.md.simulate import run_simulation
    from equimol.reference.xtb_forces import XTBForceFn

    if n_frames < 1 or every < 1 or equilibration_steps < 0 or beads < 1:
        raise ValueError("n_frames, every and beads must be >= 1, equilibration_steps >= 0")
    snapshots = -(-n_frames // beads)
    z = np.asarray(structure[keys.ATOMIC_NUMBERS], dtype=np.int64)
    frames: list[Structure] = []

    class Collect(Hook):
        def on_step(self, sim) -> None:
            k = sim.state.step - equilibration_steps
            if k > 0 and k % every == 0:
                pos = sim.state.positions[0].detach().cpu().double().numpy()  # (P, N, 3)
                frames.extend(_geometry(p, z) for p in pos)

    config = MDConfig(
        dt_fs=timestep_fs,
        n_steps=equilibration_steps + snapshots * every,
        temperature_k=temperature_k,
        thermostat=thermostat,
        n_beads=beads,
        seed=seed,
        progress=progress,
        dtype="float64",
        **free_molecule(),
    )
    run_simulation(
        XTBForceFn(z, settings),
        z,
        torch.as_tensor(structure[keys.POSITIONS], dtype=torch.float64),
        config=config,
        hooks=[Collect()],
    )
    return frames[:n_frames]


def rotate_group(
    positions: np.ndarray,
    group: Sequence[int],
    origin: np.ndarray,
    direction: np.ndarray,
    angle_deg: float,
) -> np.ndarray:
    """Positions (n, 3) Å with atoms ``group`` rotated by ``angle_deg`` about the axis through
    ``origin`` along ``direction`` (right-hand rule, Rodrigues' formula); others unchanged."""
    axis = np.asarray(direction, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    theta = np.deg2rad(angle_deg)
    cross = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    rotation = np.eye(3) + np.sin(theta) * cross + (1.0 - np.cos(theta)) * cross @ cross
    out = np.array(positions, dtype=np.float64)
    index = np.asarray(group, dtype=np.int64)
    out[index] = (out[index] - origin) @ rotation.T + origin
    return out


def _axis_point(positions: np.ndarray, end: AxisEnd) -> np.ndarray:
    if isinstance(end, (int, np.integer)):
        return positions[int(end)]
    return positions[np.asarray(end, dtype=np.int64)].mean(axis=0)


def torsion_scan(
    structure: Structure,
    group: Sequence[int],
    angles_deg: Sequence[float] | np.ndarray,
    axis: tuple[AxisEnd, AxisEnd],
) -> list[Structure]:
    """Rigid scan: copies of ``structure`` with atoms ``group`` rotated by each angle (degrees).

    The axis runs from ``axis[0]`` to ``axis[1]``, each an atom index (a bond axis, e.g. the
    C=C of a cumulene end) or a list of atoms whose centroid is used (e.g. Fe and a Cp ring's
    carbons). All coordinates outside ``group`` stay fixed.
    """
    positions = np.asarray(structure[keys.POSITIONS], dtype=np.float64)
    numbers = structure[keys.ATOMIC_NUMBERS]
    origin = _axis_point(positions, axis[0])
    direction = _axis_point(positions, axis[1]) - origin
    if np.linalg.norm(direction) < 1e-8:
        raise ValueError("torsion axis has zero length: its two ends coincide")
    return [_geometry(rotate_group(positions, group, origin, direction, a), numbers) for a in angles_deg]
