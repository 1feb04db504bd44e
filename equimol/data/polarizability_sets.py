"""Readers for the shared polarizability data sets (``/work/shared/data/polarizability``).

BPM sets (Sowa & Rossky, J. Chem. Theory Comput. 20, 10071, 2024; github.com/jakubks/BPM):
  ``coord_<set>.npy`` (M, n, 3) Å and ``alpha_<set>.npy`` (M, 3, 3) a0³ (DFT), MD frames of
  malonaldehyde (atom order C C O C O H H H H, ``data_MA.txt``) and biphenyl (order in
  ``data_biphenyl.txt``).
TENSOAP water sets (Grisafi et al., PRL 120, 036002, 2018; github.com/dilkins/TENSOAP):
  extxyz ``water_{monomer,dimer,zundel}_cc.xyz`` with coupled-cluster ``potential`` (Ha),
  ``mu`` (e·a0) and ``alpha`` (a0³, 9 components row-major). The zundel cation H5O2⁺ has
  total charge +1; its frames are centred on the centre of mass, the origin that
  :class:`equimol.heads.dipole.DipoleHead` uses for charged molecules.

Everything is returned in internal units: positions Å, polarizability Å³, dipole e·Å,
energy eV. Polarizabilities are symmetrised, ½(α + αᵀ); the files are symmetric to within
3·10⁻⁴ a0³ and anything more asymmetric than :data:`MAX_ASYMMETRY` is rejected.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

from equimol import keys as K
from equimol import units as U
from equimol.data.formats import read_extxyz_frames
from equimol.data.shared import shared_data
from equimol.data.validate import validate_structure
from equimol.errors import DataError

Structure = dict[str, np.ndarray]

MAX_ASYMMETRY = 1e-2  # a0³, largest |α_ab − α_ba| accepted before symmetrising
MALONALDEHYDE_ORDER = ["C", "C", "O", "C", "O", "H", "H", "H", "H"]
# name -> (coordinate file stem, alpha file stem, atom-order text file), per split
BPM_SETS: dict[str, dict[str, tuple[str, str]]] = {
    "malonaldehyde": {"train": ("coord_MDA", "alpha_MDA"), "test": ("coord_MDA_test", "alpha_MDA_test")},
    "biphenyl": {
        "train": ("coord_biphenyl_train", "alpha_biphenyl_train"),
        "test": ("coord_biphenyl_test", "alpha_biphenyl_test"),
    },
}
BPM_ORDER_FILES = {"malonaldehyde": "data_MA.txt", "biphenyl": "data_biphenyl.txt"}
WATER_SETS = {"water_monomer": 0.0, "water_dimer": 0.0, "zundel": 1.0}  # name -> total charge (e)
WATER_FILES = {
    "water_monomer": "water_monomer_cc.xyz",
    "water_dimer": "water_dimer_cc.xyz",
    "zundel": "water_zundel_cc.xyz",
}


def symmetrize(alpha: np.ndarray, source: str) -> np.ndarray:
    """½(α + αᵀ) of tensors (..., 3, 3) in a0³, after checking they are symmetric to MAX_ASYMMETRY."""
    asym = np.abs(alpha - np.swapaxes(alpha, -1, -2))
    if asym.size and asym.max() > MAX_ASYMMETRY:
        frame = int(np.unravel_index(np.argmax(asym), asym.shape)[0]) if asym.ndim > 2 else None
        raise DataError(
            f"polarizability is not symmetric (|α_ab − α_ba| = {asym.max():.3g} a0³)", source, frame
        )
    return 0.5 * (alpha + np.swapaxes(alpha, -1, -2))


def read_atom_order(path: str | os.PathLike) -> list[str]:
    """Element symbols from a BPM ``data_*.txt`` line 'The atom order in the geometry files: HCCH…'."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", str(path))
    match = re.search(r"atom order[^:]*:\s*([A-Za-z]+)", path.read_text())
    if match is None:
        raise DataError("no line 'The atom order in the geometry files: …' found", str(path))
    symbols = re.findall(r"[A-Z][a-z]?", match.group(1))
    unknown = [s for s in symbols if s not in atomic_numbers]
    if unknown:
        raise DataError(f"unknown element symbol(s) {unknown} in the atom order", str(path))
    return symbols


def read_bpm_npy(
    coord_path: str | os.PathLike, alpha_path: str | os.PathLike, symbols: list[str]
) -> list[Structure]:
    """Frames of a BPM set: positions (n, 3) Å and polarizability (3, 3) Å³ (from a0³)."""
    coord_path, alpha_path = Path(coord_path), Path(alpha_path)
    for p in (coord_path, alpha_path):
        if not p.exists():
            raise DataError("file not found", str(p))
    try:
        coords = np.load(coord_path, allow_pickle=False).astype(np.float64)
        alpha = np.load(alpha_path, allow_pickle=False).astype(np.float64)
    except (ValueError, OSError) as e:
        raise DataError(f"cannot read npy file ({e})", str(coord_path)) from None
    n = len(symbols)
    if coords.ndim != 3 or coords.shape[1:] != (n, 3):
        raise DataError(f"coordinates have shape {coords.shape}, expected (M, {n}, 3)", str(coord_path))
    if alpha.shape != (coords.shape[0], 3, 3):
        raise DataError(
            f"polarizabilities have shape {alpha.shape}, expected ({coords.shape[0]}, 3, 3)", str(alpha_path)
        )
    alpha = symmetrize(alpha, str(alpha_path)) * U.BOHR3
    z = np.array([atomic_numbers[s] for s in symbols], dtype=np.int64)
    out = []
    for m in range(coords.shape[0]):
        s = {K.ATOMIC_NUMBERS: z.copy(), K.POSITIONS: coords[m], K.POLARIZABILITY: alpha[m]}
        validate_structure(s, str(coord_path), m)
        out.append(s)
    return out


def read_tensoap_xyz(path: str | os.PathLike, total_charge: float = 0.0) -> list[Structure]:
    """TENSOAP extxyz frames: energy eV (``potential`` Ha), dipole e·Å (``mu`` e·a0) and
    polarizability Å³ (``alpha`` a0³, row-major); non-periodic (the files' zero Lattice is ignored).

    ``total_charge`` (e) is stored as ``total_charge`` when non-zero.
    """
    path = Path(path)
    frames = read_extxyz_frames(path)
    out = []
    for i, atoms in enumerate(frames):
        info = atoms.info
        missing = [k for k in ("potential", "mu", "alpha") if k not in info]
        if missing:
            raise DataError(f"frame lacks {missing}", str(path), i)
        alpha = np.asarray(info["alpha"], dtype=np.float64)
        mu = np.asarray(info["mu"], dtype=np.float64)
        if alpha.size != 9 or mu.size != 3:
            raise DataError(
                f"alpha has {alpha.size} components (expected 9), mu {mu.size} (expected 3)", str(path), i
            )
        s = {
            K.ATOMIC_NUMBERS: atoms.numbers.astype(np.int64),
            K.POSITIONS: atoms.positions.astype(np.float64),
            K.ENERGY: np.asarray(float(info["potential"]) * U.HARTREE),
            K.DIPOLE: mu.reshape(3) * U.E_BOHR,
            K.POLARIZABILITY: symmetrize(alpha.reshape(3, 3), f"{path}[{i}]") * U.BOHR3,
        }
        if total_charge:
            s[K.TOTAL_CHARGE] = np.asarray(float(total_charge))
        validate_structure(s, str(path), i)
        out.append(s)
    return out


def read_polarizability_set(
    name: str, split: str = "train", data_dir: str | os.PathLike | None = None
) -> list[Structure]:
    """One shared set by name: ``malonaldehyde`` or ``biphenyl`` (split ``train``/``test``),
    or ``water_monomer``, ``water_dimer``, ``zundel`` (one file each; ``split`` is ignored).
    ``data_dir`` defaults to the development checkout's ``shared/data/polarizability``."""
    data_dir = Path(data_dir) if data_dir is not None else shared_data("polarizability")
    if name in BPM_SETS:
        if split not in BPM_SETS[name]:
            raise DataError(
                f"unknown split {split!r} for {name}; available: {list(BPM_SETS[name])}", str(data_dir)
            )
        symbols = read_atom_order(data_dir / BPM_ORDER_FILES[name])
        coord, alpha = BPM_SETS[name][split]
        return read_bpm_npy(data_dir / f"{coord}.npy", data_dir / f"{alpha}.npy", symbols)
    if name in WATER_SETS:
        return read_tensoap_xyz(data_dir / WATER_FILES[name], WATER_SETS[name])
    raise DataError(
        f"unknown polarizability set {name!r}; available: {[*BPM_SETS, *WATER_SETS]}", str(data_dir)
    )
