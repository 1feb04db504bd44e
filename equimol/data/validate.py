"""Checks that a structure is physically meaningful before it reaches a model."""

from __future__ import annotations

import numpy as np

from equimol import keys as K
from equimol.errors import DataError

MAX_Z = 118
MIN_DISTANCE_ANGSTROM = 0.1


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
        raise DataError(
            f"positions have shape {pos.shape}, expected ({z.shape[0]}, 3)", source, index
        )
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
