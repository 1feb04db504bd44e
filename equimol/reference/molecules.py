"""Starting geometries (Å) for the reference sets: ethanol, aspirin, ferrocenes, cumulenes.

These are unrelaxed starting points; relax them with
:func:`equimol.reference.sampling.relax` before normal-mode sampling.
"""

from __future__ import annotations

import os

import numpy as np

from equimol import keys

Structure = dict[str, np.ndarray]

# Aspirin, frame 0 of rMD17 split 01 (PBE/def2-SVP; Christensen & von Lilienfeld, Mach. Learn.:
# Sci. Technol. 1, 045018, 2020): shipped so that aspirin() needs no data file.
ASPIRIN_NUMBERS = [6, 6, 6, 6, 6, 6, 6, 8, 8, 8, 6, 6, 8, 1, 1, 1, 1, 1, 1, 1, 1]
ASPIRIN_POSITIONS = [  # Å
    [2.01027426, -1.18453722, -0.02036833],
    [1.21364840, 1.29426520, -0.66417450],
    [2.94557393, -0.43489822, -0.73742429],
    [2.45401497, 0.73079857, -1.20488069],
    [-2.79762803, 2.46456104, 0.39834972],
    [0.64294004, -0.82327361, 0.28778019],
    [0.33980296, 0.52487124, 0.00695205],
    [-1.38165053, -1.61878234, 1.39406405],
    [-1.67663124, 1.39267312, -1.46346293],
    [0.21389603, -3.04989846, 0.52461353],
    [-0.29373411, -1.78542127, 0.86181240],
    [-1.71559253, 1.65633549, -0.30908013],
    [-0.82273230, 1.12130202, 0.59960669],
    [-0.17805377, -3.73259075, 1.04503223],
    [2.36724216, -2.09260339, 0.43638118],
    [0.92702049, 2.29867516, -0.92455831],
    [3.91471788, -0.86695610, -0.96616177],
    [3.13064453, 1.48769529, -1.68450791],
    [-2.61561127, 3.47421207, 0.54971280],
    [-3.75521981, 2.57036915, -0.16302439],
    [-2.76727165, 1.96117279, 1.41993539],
]

# Ferrocene geometry (gas-phase electron diffraction, rounded): Fe–ring centroid, ring C–C,
# C–H and a typical aromatic C–F bond, all in Å.
FE_CENTROID = 1.66
CP_CC = 1.43
CP_CH = 1.08
CP_CF = 1.35
# Cumulene geometry from the task specification.
CUMULENE_CC = 1.31
CUMULENE_CH = 1.09
CUMULENE_HCH_DEG = 117.0


def _structure(numbers: list[int] | np.ndarray, positions: np.ndarray) -> Structure:
    return {
        keys.POSITIONS: np.asarray(positions, dtype=np.float64),
        keys.ATOMIC_NUMBERS: np.asarray(numbers, dtype=np.int64),
    }


def ethanol() -> Structure:
    """Ethanol CH3CH2OH from ``ase.build.molecule`` (9 atoms)."""
    from ase.build import molecule

    atoms = molecule("CH3CH2OH")
    return _structure(atoms.numbers, atoms.positions)


def aspirin(path: str | os.PathLike[str] | None = None, frame: int = 0) -> Structure:
    """Aspirin (21 atoms): frame ``frame`` of an rMD17 npz (keys nuclear_charges, coords Å), or
    with ``path=None`` the shipped frame 0 of rMD17 split 01 (:data:`ASPIRIN_POSITIONS`)."""
    if path is None:
        if frame != 0:
            raise ValueError("the shipped aspirin geometry is frame 0; pass the rMD17 npz for other frames")
        return _structure(ASPIRIN_NUMBERS, np.array(ASPIRIN_POSITIONS))
    with np.load(path) as data:
        return _structure(data["nuclear_charges"], data["coords"][frame])


def ferrocene(substituent: int | None = 9, staggered: bool = False) -> Structure:
    """Ferrocene Fe(C5H5)2, or Fe(C5H4X)2 with one H per ring replaced by element ``substituent``.

    Atom order: Fe (0), ring A carbons (1–5), ring A H/X (6–10), ring B carbons (11–15),
    ring B H/X (16–20); the substituents sit on atoms 6 and 16, on the same side (syn).
    Rings are perpendicular to z at z = ±1.66 Å, eclipsed (D5h) unless ``staggered``.
    ``substituent=9`` gives 1,1'-difluoroferrocene; ``None`` plain ferrocene.
    """
    radius = CP_CC / (2.0 * np.sin(np.pi / 5))
    numbers: list[int] = [26]
    positions: list[np.ndarray] = [np.zeros(3)]
    for z_sign, offset in ((1.0, 0.0), (-1.0, np.pi / 5 if staggered else 0.0)):
        angles = offset + 2.0 * np.pi * np.arange(5) / 5
        radial = np.stack([np.cos(angles), np.sin(angles), np.zeros(5)], axis=1)
        centre = np.array([0.0, 0.0, z_sign * FE_CENTROID])
        carbons = centre + radius * radial
        outer = [CP_CH] * 5
        outer_numbers = [1] * 5
        if substituent is not None:
            from ase.data import covalent_radii

            bond = CP_CF if substituent == 9 else covalent_radii[6] + covalent_radii[substituent]
            outer[0], outer_numbers[0] = bond, substituent
        numbers += [6] * 5 + outer_numbers
        positions += list(carbons)
        positions += [c + d * r for c, d, r in zip(carbons, outer, radial, strict=True)]
    return _structure(numbers, np.array(positions))


def ferrocene_rings() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Atom indices of ring A and ring B of :func:`ferrocene`, each with its H/X atoms."""
    return tuple(range(1, 6)) + tuple(range(6, 11)), tuple(range(11, 16)) + tuple(range(16, 21))


def ferrocene_ring_carbons() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Carbon indices of ring A and ring B of :func:`ferrocene` (their centroids define the axis)."""
    return tuple(range(1, 6)), tuple(range(11, 16))


def cumulene(n_carbons: int, twist_deg: float | None = None) -> Structure:
    """Cumulene H2C=(C=)_{n-2}CH2 with ``n_carbons`` = n ≥ 2 carbons on a straight chain along z.

    C=C 1.31 Å, C–H 1.09 Å, HCH 117°. Atom order: carbons 0..n-1, then the two H of carbon
    0, then the two H of carbon n-1. ``twist_deg`` is the dihedral between the two CH2
    planes; by default the ground state: planar (0°) for an odd number of double bonds
    (even n: ethylene, butatriene, ...), perpendicular (90°) for an even number (allenes).
    """
    if n_carbons < 2:
        raise ValueError(f"a cumulene needs at least 2 carbons, got {n_carbons}")
    if twist_deg is None:
        twist_deg = 0.0 if n_carbons % 2 == 0 else 90.0
    z = CUMULENE_CC * np.arange(n_carbons)
    z -= z.mean()
    carbons = np.stack([np.zeros(n_carbons), np.zeros(n_carbons), z], axis=1)
    half = np.deg2rad(CUMULENE_HCH_DEG) / 2.0
    hydrogens = []
    for end, sign, phi in ((0, -1.0, 0.0), (n_carbons - 1, 1.0, np.deg2rad(twist_deg))):
        for side in (1.0, -1.0):
            direction = np.array(
                [side * np.sin(half) * np.cos(phi), side * np.sin(half) * np.sin(phi), sign * np.cos(half)]
            )
            hydrogens.append(carbons[end] + CUMULENE_CH * direction)
    return _structure([6] * n_carbons + [1] * 4, np.vstack([carbons, np.array(hydrogens)]))


def cumulene_end_group(n_carbons: int) -> tuple[tuple[int, int], tuple[int, ...]]:
    """(axis atoms, rotating atoms) that twist the last CH2 of :func:`cumulene` about the chain."""
    return (n_carbons - 2, n_carbons - 1), (n_carbons + 2, n_carbons + 3)
