"""Readers and writers. Every reader converts to internal units (Å, eV, e) here, once.

A structure is a ``dict[str, np.ndarray]`` keyed by :mod:`equimol.keys`:
positions (n,3) Å, atomic_numbers (n,), and optional energy () eV, forces (n,3) eV/Å,
dipole (3,) e·Å, polarizability (3,3) Å^3, cell (3,3) Å, pbc (3,), total_charge () e.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from equimol import keys as K
from equimol import units as U
from equimol.data.extxyz import ase_error, read_extxyz_frames  # noqa: F401 (re-exported)
from equimol.data.qm9 import read_qm9
from equimol.data.validate import validate_structure, warn_if_length_unit_implausible
from equimol.errors import DataError

Structure = dict[str, np.ndarray]

RMD17_KEYS = ("nuclear_charges", "coords", "energies", "forces")


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return "qm9_tar"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith((".h5", ".hdf5")):
        return "hdf5"
    if name.endswith(".db"):
        return "db"
    if name.endswith((".xyz", ".extxyz")):
        return "extxyz"
    raise DataError("unknown file format (expected .xyz/.extxyz, .db, .npz, .h5, QM9 .tar.gz)", str(path))


def read_structures(
    path: str | os.PathLike,
    *,
    energy_unit: str | None = None,
    length_unit: str = "Å",
    validate: bool = True,
    index: slice | None = None,
    label_keys: dict[str, str] | None = None,
) -> list[Structure]:
    """Read all structures of ``path`` in internal units.

    ``energy_unit`` overrides the file's energy unit (default: kcal/mol for rMD17 npz,
    eV for extxyz/ASE db/HDF5 stores); forces are taken as energy_unit/length_unit.
    ``label_keys`` names the keys under which an extxyz or ASE db file keeps its labels, where
    they are not ASE's own (``energy``, ``forces``, ``dipole``, ``polarizability``, ``charges``,
    in the calculator results, the frame's info (an ASE db row's key-value pairs and data
    included) or the per-atom arrays), e.g. ``{"energy": "REF_energy", "forces": "REF_forces"}``.
    Files of fixed layout (rMD17 npz, HDF5 stores, QM9) ignore it, so one training config can
    read an extxyz training file and an npz validation file.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", str(path))
    fmt = detect_format(path)
    if path.is_file() and path.stat().st_size == 0:
        raise DataError("empty file: it holds no structures", str(path))
    if fmt == "npz":
        out = _read_rmd17(path, energy_unit or "kcal/mol", length_unit)
    elif fmt == "qm9_tar":
        out = read_qm9(path)
    elif fmt == "hdf5":
        from equimol.data.store import Store

        out = list(Store(path))
    else:
        out = _read_ase(path, fmt, energy_unit or "eV", length_unit, label_keys)
    if not out:
        raise DataError("the file holds no structures (empty file?)", str(path))
    if index is not None:
        out = out[index]
    if validate:
        warn_if_length_unit_implausible(out, str(path), length_unit)
        for i, s in enumerate(out):
            validate_structure(s, str(path), i)
    return out


def _read_rmd17(path: Path, energy_unit: str, length_unit: str) -> list[Structure]:
    try:
        data = np.load(path, allow_pickle=False)
        missing = [k for k in ("nuclear_charges", "coords") if k not in data.files]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise DataError(f"cannot read npz file ({e})", str(path)) from None
    if missing:
        raise DataError(f"npz file lacks key(s) {missing}; expected rMD17 keys {list(RMD17_KEYS)}", str(path))
    e_f = U.factor(U.ENERGY_UNITS, energy_unit, "energy")
    l_f = U.factor(U.LENGTH_UNITS, length_unit, "length")
    z = data["nuclear_charges"].astype(np.int64)
    coords = data["coords"].astype(np.float64) * l_f
    if coords.ndim != 3 or coords.shape[1:] != (len(z), 3):
        raise DataError(f"coords have shape {coords.shape}, expected (M, {len(z)}, 3)", str(path))
    energies = data["energies"].astype(np.float64) * e_f if "energies" in data.files else None
    forces = data["forces"].astype(np.float64) * (e_f / l_f) if "forces" in data.files else None
    out = []
    for m in range(coords.shape[0]):
        s: Structure = {K.ATOMIC_NUMBERS: z.copy(), K.POSITIONS: coords[m]}
        if energies is not None:
            s[K.ENERGY] = np.asarray(energies[m])
        if forces is not None:
            s[K.FORCES] = forces[m]
        out.append(s)
    return out


LABEL_KEYS = ("energy", "forces", "dipole", "polarizability", "charges")  # ASE's names, read by default


def _label_names(label_keys: dict[str, str] | None) -> dict[str, str]:
    """ASE's label names mapped to the file's keys (``label_keys`` overriding some)."""
    unknown = sorted(set(label_keys or {}) - set(LABEL_KEYS))
    if unknown:
        raise DataError(f"label_keys: unknown label(s) {unknown}; known: {', '.join(LABEL_KEYS)}")
    return {k: k for k in LABEL_KEYS} | {k: str(v) for k, v in (label_keys or {}).items()}


def file_label_keys(path: str | os.PathLike) -> list[str]:
    """The keys of the first frame of an extxyz or ASE db file that could hold labels (its info
    and per-atom arrays, without positions and numbers, and its calculator results): what an
    error about a missing label names as alternatives. Empty for other formats."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt not in ("xyz", "extxyz", "db"):
        return []
    try:
        if fmt == "db":
            import ase.db

            with ase.db.connect(str(path)) as db:
                atoms = next(db.select(limit=1)).toatoms(add_additional_information=True)
        else:
            import ase.io

            atoms = ase.io.read(str(path), index=0, format="extxyz")
    except Exception:  # noqa: BLE001 - only for an error message
        return []
    keys = set(_info(atoms)) | set(atoms.arrays) | set(atoms.calc.results if atoms.calc is not None else ())
    return sorted(keys - {"positions", "numbers"})


def _info(atoms) -> dict:
    """A frame's info, with an ASE db row's key-value pairs and data at the top level (where
    ``row.toatoms(add_additional_information=True)`` nests them)."""
    info = dict(atoms.info)
    for nested in ("key_value_pairs", "data"):
        if isinstance(info.get(nested), dict):
            info = {**info.pop(nested), **info}
    return info


def _read_ase(
    path: Path,
    fmt: str,
    energy_unit: str,
    length_unit: str,
    label_keys: dict[str, str] | None = None,
) -> list:
    import ase.db
    import ase.io

    try:
        if fmt == "db":
            with ase.db.connect(str(path)) as db:
                atoms_list = [row.toatoms(add_additional_information=True) for row in db.select()]
        else:
            atoms_list = ase.io.read(str(path), index=":", format="extxyz")
    except Exception as e:  # ASE raises many types for malformed files
        raise DataError(ase_error(e, fmt), str(path)) from None
    names = _label_names(label_keys)
    e_f = U.factor(U.ENERGY_UNITS, energy_unit, "energy")
    l_f = U.factor(U.LENGTH_UNITS, length_unit, "length")
    return [_from_atoms(a, e_f, l_f, names) for a in atoms_list]


def _from_atoms(atoms, e_f: float, l_f: float, names: dict[str, str] | None = None) -> Structure:
    """A structure from ``ase.Atoms``; ``names``: the file's key of each label (ASE's by default)."""
    n = names or {k: k for k in LABEL_KEYS}
    s: Structure = {
        K.ATOMIC_NUMBERS: atoms.numbers.astype(np.int64),
        K.POSITIONS: atoms.positions.astype(np.float64) * l_f,
    }
    if atoms.pbc.any():
        s[K.CELL] = np.asarray(atoms.cell, dtype=np.float64) * l_f
        s[K.PBC] = atoms.pbc.copy()
    results = dict(atoms.calc.results) if atoms.calc is not None else {}
    info = _info(atoms)
    arrays = atoms.arrays
    energy = results.get(n["energy"], info.get(n["energy"]))
    if energy is not None:
        s[K.ENERGY] = np.asarray(float(energy) * e_f)
    forces = results.get(n["forces"], arrays.get(n["forces"], info.get(n["forces"])))  # db: row data
    if forces is not None:
        s[K.FORCES] = np.asarray(forces, dtype=np.float64) * (e_f / l_f)
    dipole = results.get(n["dipole"], info.get(n["dipole"]))
    if dipole is not None:
        s[K.DIPOLE] = np.asarray(dipole, dtype=np.float64).reshape(3) * l_f
    alpha = results.get(n["polarizability"], info.get(n["polarizability"]))
    if alpha is not None:
        s[K.POLARIZABILITY] = np.asarray(alpha, dtype=np.float64).reshape(3, 3) * l_f**3
    charges = results.get(n["charges"], arrays.get(n["charges"], info.get(n["charges"])))
    if charges is not None and K.PARTIAL_CHARGES not in s:
        s[K.PARTIAL_CHARGES] = np.asarray(charges, dtype=np.float64)
    if "total_charge" in info or "charge" in info:
        s[K.TOTAL_CHARGE] = np.asarray(float(info.get("total_charge", info.get("charge"))))
    return s


def to_atoms(s: Structure):
    """Convert a structure dict (internal units) to an ``ase.Atoms`` with its labels attached."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = Atoms(numbers=s[K.ATOMIC_NUMBERS], positions=s[K.POSITIONS])
    if K.CELL in s:
        atoms.cell = s[K.CELL]
        atoms.pbc = s.get(K.PBC, True)
    results = {}
    if K.ENERGY in s:
        results["energy"] = float(s[K.ENERGY])
    if K.FORCES in s:
        results["forces"] = np.asarray(s[K.FORCES])
    if K.DIPOLE in s:
        results["dipole"] = np.asarray(s[K.DIPOLE])
    if K.POLARIZABILITY in s:
        atoms.info["polarizability"] = np.asarray(s[K.POLARIZABILITY]).reshape(9)
    if K.TOTAL_CHARGE in s:
        atoms.info["total_charge"] = float(s[K.TOTAL_CHARGE])
    if results:
        atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def write_structures(path: str | os.PathLike, structures: list[Structure]) -> None:
    """Write structures (internal units) to extxyz (.xyz/.extxyz) or an HDF5 store (.h5).

    The file appears atomically (temp file + rename), so an interrupted write loses nothing.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "hdf5":
        from equimol.data.store import write_store

        write_store(path, structures)
        return
    if fmt != "extxyz":
        raise DataError(f"writing {fmt} is not supported (use .extxyz or .h5)", str(path))
    import ase.io

    from equimol.io import atomic_write  # equimol.io imports torch: only when writing

    with atomic_write(path) as f:
        ase.io.write(f, [to_atoms(s) for s in structures], format="extxyz")
