"""Checks that a structure is physically meaningful before it reaches a model."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from equimol import keys as K
from equimol import units as U
from equimol.errors import DataError, DataWarning

MAX_Z = 118
MIN_DISTANCE_ANGSTROM = 0.1
# Nearest-neighbour distances of molecules in Å: an atom's closest partner is 0.7–3 Å away
# (H–H 0.74, C–H 1.09, C–C 1.54, Fe–C 2.0). Outside these, the length unit is likely wrong.
PLAUSIBLE_NEIGHBOUR_ANGSTROM = (0.3, 3.0)
LENGTH_UNIT_GUESSES = {"pm": U.PM, "nm": U.NM, "bohr": U.BOHR}


def validate_structure(
    s: dict[str, np.ndarray],
    source: str | None = None,
    index: int | None = None,
    required: tuple[str, ...] = (),
    min_distance: float = MIN_DISTANCE_ANGSTROM,
) -> None:
    """Raise :class:`DataError` if ``s`` is unusable.

    Checks: atomic numbers in 1..118, finite coordinates (Å), no two atoms closer than
    ``min_distance`` Å (minimum image is not applied; periodic images are checked by the
    neighbour list), finite labels, and presence of every key in ``required``.
    """
    z = np.asarray(s[K.ATOMIC_NUMBERS])
    pos = np.asarray(s[K.POSITIONS])
    if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] != z.shape[0]:
        raise DataError(f"positions have shape {pos.shape}, expected ({z.shape[0]}, 3)", source, index)
    if z.size == 0:
        raise DataError("structure has no atoms", source, index)
    bad = (z < 1) | (z > MAX_Z)
    if bad.any():
        raise DataError(f"unknown element with atomic number {int(z[bad][0])}", source, index)
    if not np.all(np.isfinite(pos)):
        atom = int(np.argwhere(~np.isfinite(pos))[0, 0])
        raise DataError(f"non-finite (NaN/inf) coordinates for atom {atom}", source, index)
    if z.size > 1 and z.size <= 5000:
        d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
        d[np.diag_indices_from(d)] = np.inf
        if d.min() < min_distance:
            i, j = np.unravel_index(np.argmin(d), d.shape)
            raise DataError(
                f"atoms {i} and {j} are {d[i, j]:.3f} Å apart (< {min_distance} Å): overlapping atoms",
                source,
                index,
            )
    for key in required:
        if key not in s:
            raise DataError(f"missing label {key!r}", source, index)
    for key, value in s.items():
        if key in (K.ATOMIC_NUMBERS, K.POSITIONS, K.PBC):
            continue
        arr = np.asarray(value)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise DataError(f"label {key!r} contains NaN or inf", source, index)


def nearest_neighbour_distances(positions: np.ndarray, max_atoms: int = 2000) -> np.ndarray:
    """(n,) distance of each atom to its closest partner, no periodic images (first ``max_atoms``)."""
    pos = np.asarray(positions, dtype=float)[:max_atoms]
    d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    d[np.diag_indices_from(d)] = np.inf
    return d.min(axis=1)


def guess_length_unit(structures: Sequence[dict[str, np.ndarray]], max_structures: int = 10) -> str | None:
    """The length unit the positions seem to be in, if it is not Å; ``None`` if they look like Å.

    Looks at up to ``max_structures`` non-periodic structures of 2+ atoms: if no atom has a
    neighbour within 3 Å, or the median nearest-neighbour distance is below 0.3 Å, the
    positions are implausible in Å, and the unit (pm, nm, bohr) that brings the median
    nearest-neighbour distance closest to a bond length (1.2 Å) is returned ("unknown" if none
    lands in 0.7–2.2 Å).
    """
    lo, hi = PLAUSIBLE_NEIGHBOUR_ANGSTROM
    medians = []
    for s in structures[:max_structures]:
        if K.CELL in s or len(s[K.ATOMIC_NUMBERS]) < 2:
            continue
        nn = nearest_neighbour_distances(s[K.POSITIONS])
        if not np.all(np.isfinite(nn)):
            return None
        if nn.min() <= hi and np.median(nn) >= lo:
            return None
        medians.append(float(np.median(nn)))
    if not medians:
        return None
    median = float(np.median(medians))
    fits = {
        u: abs(np.log(median * f / 1.2)) for u, f in LENGTH_UNIT_GUESSES.items() if 0.7 <= median * f <= 2.2
    }
    return min(fits, key=fits.get) if fits else "unknown"


def warn_if_length_unit_implausible(
    structures: Sequence[dict[str, np.ndarray]], source: str | None, length_unit: str = "Å"
) -> str | None:
    """Issue one :class:`DataWarning` naming the likely unit when positions look wrong in Å.

    ``length_unit`` is the unit the positions were converted from (shown in the message).
    Returns the guess (or ``None``).
    """
    guess = guess_length_unit(structures)
    if guess is None:
        return None
    nn = np.median(nearest_neighbour_distances(structures[0][K.POSITIONS]))
    hint = (
        f"they look like {guess}: pass --length-unit {guess} (or data.length_unit: {guess})"
        if guess != "unknown"
        else "check the file's length unit (--length-unit / data.length_unit)"
    )
    warnings.warn(
        f"{source or '<data>'}: positions read as {length_unit} have a median nearest-neighbour distance "
        f"of {nn:.3g} Å, implausible for molecules (0.7–3 Å); {hint}",
        DataWarning,
        stacklevel=3,
    )
    return guess
