"""QM9 readers: native xyz files, the extxyz variant, and the shared tarball + CSV labels.

QM9 (Ramakrishnan et al., Sci. Data 1, 140022, 2014) stores one molecule per xyz file::

    n_atoms
    gdb ID A B C mu alpha homo lumo gap r2 zpve U0 U H G Cv
    El x y z mulliken_charge          (n_atoms lines, Å, e; Fortran exponents 1.2*^-6)
    harmonic frequencies (cm⁻¹)
    SMILES (GDB, relaxed)
    InChI (GDB, relaxed)

Units are converted here, once (see :data:`QM9_PROPERTIES`): mu D → e·Å, alpha a0³ → Å³,
homo/lumo/gap/zpve/U0/U/H/G Ha → eV, r2 a0² → Å²; A, B, C stay in GHz and Cv in cal/(mol K).

The shared data (``/work/shared/data/qm9``, see its README) has geometries without
properties in a tarball and labels in CSV files joined by molecule name
(``dsgdb9nsd_000001``); :func:`read_qm9` reads both.
"""

from __future__ import annotations

import csv
import os
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

from equimol import keys as K
from equimol import units as U
from equimol.data.extxyz import read_extxyz_frames
from equimol.data.shared import shared_data
from equimol.data.validate import validate_structure
from equimol.errors import ConfigError, DataError

Structure = dict[str, np.ndarray]

QM9_HEADER: tuple[str, ...] = (
    "A",
    "B",
    "C",
    "mu",
    "alpha",
    "homo",
    "lumo",
    "gap",
    "r2",
    "zpve",
    "U0",
    "U",
    "H",
    "G",
    "Cv",
)
# name -> (factor to internal units, internal unit)
QM9_PROPERTIES: dict[str, tuple[float, str]] = {
    "A": (1.0, "GHz"),
    "B": (1.0, "GHz"),
    "C": (1.0, "GHz"),
    "mu": (U.DEBYE, "e·Å"),
    "alpha": (U.BOHR3, "Å^3"),
    "homo": (U.HARTREE, "eV"),
    "lumo": (U.HARTREE, "eV"),
    "gap": (U.HARTREE, "eV"),
    "r2": (U.BOHR**2, "Å^2"),
    "zpve": (U.HARTREE, "eV"),
    "U0": (U.HARTREE, "eV"),
    "U": (U.HARTREE, "eV"),
    "H": (U.HARTREE, "eV"),
    "G": (U.HARTREE, "eV"),
    "Cv": (1.0, "cal/(mol K)"),
}
# names used by the extxyz variant -> QM9_HEADER names
EXTXYZ_NAMES = {"epsHOMO": "homo", "epsLUMO": "lumo", "epsgap": "gap", "<R2>": "r2"}

# B3LYP/6-31G(2df,p) free-atom energies (Ha) of QM9's atomref table (figshare 1057643).
# The free atoms have no ZPVE, so the U0 column is also the electronic-energy reference.
QM9_ATOM_REFS_HARTREE: dict[str, dict[int, float]] = {
    "U0": {1: -0.500273, 6: -37.846772, 7: -54.583861, 8: -75.064579, 9: -99.718730},
    "U": {1: -0.498857, 6: -37.845355, 7: -54.582445, 8: -75.063163, 9: -99.717314},
    "H": {1: -0.497912, 6: -37.844411, 7: -54.581501, 8: -75.062219, 9: -99.716370},
    "G": {1: -0.510927, 6: -37.861317, 7: -54.598897, 8: -75.079532, 9: -99.733544},
}

TARBALL = "qm9_geometries_ppqm.tar.gz"
ENERGY_CSV = "champs_potential_energy.csv"
DIPOLE_CSV = "champs_dipole_moments.csv"
RIMP2_CSV = "ppqm_rimp2_10k.csv"
LABELS = ("energy", "dipole_magnitude", "dipole")


@dataclass
class Qm9Molecule:
    """One QM9 molecule: structure in internal units plus all parsed properties.

    ``properties`` maps QM9 names (:data:`QM9_HEADER`) to values in internal units.
    """

    name: str
    structure: Structure
    properties: dict[str, float] = field(default_factory=dict)
    smiles: str | None = None

    def to_structure(self, energy: str | None = "U0") -> Structure:
        """Structure with the standard keys: energy (property ``energy``, eV), dipole_magnitude
        (mu, e·Å), spatial_extent (r2, Å²), and partial_charges (Mulliken, e) when present."""
        s = dict(self.structure)
        p = self.properties
        if energy is not None and energy in p:
            s[K.ENERGY] = np.asarray(p[energy])
        if "mu" in p:
            s[K.DIPOLE_MAGNITUDE] = np.asarray(p["mu"])
        if "r2" in p:
            s[K.SPATIAL_EXTENT] = np.asarray(p["r2"])
        return s


def qm9_float(token: str) -> float:
    """Parse a QM9 number, including Mathematica/Fortran exponents such as ``1.2*^-6``."""
    return float(token.replace("*^", "e"))


def parse_qm9_xyz(text: str, source: str = "<qm9 xyz>") -> Qm9Molecule:
    """Parse one native QM9 xyz file (the property line may be empty, as in the ppqm tarball)."""
    lines = text.replace("*^", "e").splitlines()  # Fortran exponents appear only in numbers
    try:
        n = int(lines[0].split()[0])
        header = lines[1].split()
        atom_lines = [lines[2 + k].split() for k in range(n)]
        z = np.array([atomic_numbers[a[0]] for a in atom_lines], dtype=np.int64)
        pos = np.array([a[1:4] for a in atom_lines], dtype=np.float64)
        charges = np.array([a[4] for a in atom_lines if len(a) > 4], dtype=np.float64)
        values = np.array(header[2:], dtype=np.float64) if header else None
    except (IndexError, ValueError, KeyError) as e:
        raise DataError(f"malformed QM9 xyz file ({type(e).__name__}: {e})", source) from None
    if pos.shape != (n, 3):
        raise DataError(f"atom lines need 'El x y z', got coordinates of shape {pos.shape}", source)
    props: dict[str, float] = {}
    if values is None:
        name = Path(source).stem
    else:
        if header[0] != "gdb" or len(header) != 2 + len(QM9_HEADER):
            raise DataError(
                f"property line has {len(header)} fields, expected 'gdb ID' + 15 properties", source
            )
        name = f"dsgdb9nsd_{int(header[1]):06d}"
        props = {key: float(v) * QM9_PROPERTIES[key][0] for key, v in zip(QM9_HEADER, values, strict=False)}
    structure: Structure = {K.ATOMIC_NUMBERS: z, K.POSITIONS: pos}
    if len(charges) == n:
        structure[K.PARTIAL_CHARGES] = charges
    tail = lines[2 + n :]
    smiles = tail[1].split()[0] if len(tail) > 1 and tail[1].split() else None
    return Qm9Molecule(name, structure, props, smiles)


def read_qm9_xyz(path: str | os.PathLike, energy: str | None = "U0") -> list[Structure]:
    """Read native QM9 xyz file(s): one file, or every ``*.xyz`` in a directory (sorted)."""
    path = Path(path)
    files = sorted(path.glob("*.xyz")) if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise DataError("no QM9 xyz file found", str(path))
    out = []
    for f in files:
        s = parse_qm9_xyz(f.read_text(), str(f)).to_structure(energy)
        validate_structure(s, str(f))
        out.append(s)
    return out


def read_qm9_extxyz(path: str | os.PathLike) -> list[Qm9Molecule]:
    """Read the extxyz variant (QM9 properties in each frame's info, QM9's native units)."""
    path = Path(path)
    frames = read_extxyz_frames(path)
    out = []
    for i, atoms in enumerate(frames):
        props = {}
        for key, value in atoms.info.items():
            name = EXTXYZ_NAMES.get(key, key)
            if name in QM9_PROPERTIES:
                props[name] = float(value) * QM9_PROPERTIES[name][0]
        missing = [k for k in QM9_HEADER if k not in props]
        if missing:
            raise DataError(f"missing QM9 properties {missing}", str(path), i)
        s = {
            K.ATOMIC_NUMBERS: atoms.numbers.astype(np.int64),
            K.POSITIONS: atoms.positions.astype(np.float64),
        }
        validate_structure(s, str(path), i)
        out.append(Qm9Molecule(f"{path.stem}[{i}]", s, props))
    return out


def iter_qm9_tar(tar_path: str | os.PathLike, names: Iterable[str] | None = None) -> Iterator[Qm9Molecule]:
    """Stream molecules ``xyz/<name>.xyz`` from a QM9 tarball in archive order, without extracting it.

    With ``names``, only those molecules are parsed, and reading stops once all were seen.
    """
    for name, text, source in _iter_tar_texts(Path(tar_path), names):
        mol = parse_qm9_xyz(text, source)
        mol.name = name
        yield mol


def _iter_tar_texts(tar_path: Path, names: Iterable[str] | None) -> Iterator[tuple[str, str, str]]:
    """(molecule name, file text, source) of the QM9 members of a tarball, in archive order."""
    if not tar_path.exists():
        raise DataError("file not found", str(tar_path))
    wanted = None if names is None else set(names)
    try:
        with tarfile.open(tar_path, mode="r|*") as tf:
            for member in tf:
                if wanted is not None and not wanted:
                    return
                base = member.name.rsplit("/", 1)[-1]
                if not (member.isfile() and base.startswith("dsgdb9nsd_") and base.endswith(".xyz")):
                    continue
                name = base[: -len(".xyz")]
                if wanted is not None:
                    if name not in wanted:
                        continue
                    wanted.discard(name)
                yield name, tf.extractfile(member).read().decode(), f"{tar_path}:{member.name}"
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"cannot read tar archive ({e})", str(tar_path)) from None


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.exists():
        raise DataError("label file not found", str(path))
    with open(path, newline="") as f:
        rows = [[c.strip() for c in row] for row in csv.reader(f) if row]
    return rows[0], rows[1:]


def _column(header: list[str], name: str, path: Path) -> int:
    try:
        return header.index(name)
    except ValueError:
        raise DataError(f"column {name!r} not found in header {header}", str(path)) from None


def read_qm9_labels(csv_dir: str | os.PathLike, labels: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
    """Labels by molecule name, in internal units, for molecules that have every label.

    energy: B3LYP electronic energy (QM9 U0 − ZPVE), champs_potential_energy.csv, Ha → eV.
    dipole_magnitude: B3LYP |μ| (= QM9 mu), champs_dipole_moments.csv, D → e·Å. Its vector
        components are in a rotated frame and are not used.
    dipole: RI-MP2/def2-TZVP dipole vector in the frame of the geometries, ppqm_rimp2_10k.csv,
        e·a0 → e·Å (10,000 molecules; a different level of theory than dipole_magnitude).
    """
    unknown = [lab for lab in labels if lab not in LABELS]
    if unknown:
        raise DataError(f"unknown QM9 label(s) {unknown}; available: {list(LABELS)}", str(csv_dir))
    csv_dir = Path(csv_dir)
    tables: list[dict[str, tuple[str, np.ndarray]]] = []
    for label in labels:
        if label == "energy":
            path = csv_dir / ENERGY_CSV
            header, rows = _read_csv(path)
            c = _column(header, "potential_energy", path)
            tables.append({r[0]: (K.ENERGY, np.asarray(float(r[c]) * U.HARTREE)) for r in rows})
        elif label == "dipole_magnitude":
            path = csv_dir / DIPOLE_CSV
            header, rows = _read_csv(path)
            cols = [_column(header, a, path) for a in ("X", "Y", "Z")]
            tables.append(
                {
                    r[0]: (
                        K.DIPOLE_MAGNITUDE,
                        np.asarray(np.linalg.norm([float(r[c]) for c in cols]) * U.DEBYE),
                    )
                    for r in rows
                }
            )
        else:
            path = csv_dir / RIMP2_CSV
            header, rows = _read_csv(path)
            cols = [_column(header, f"dipole {a}", path) for a in "xyz"]
            tables.append({r[0]: (K.DIPOLE, np.array([float(r[c]) for c in cols]) * U.E_BOHR) for r in rows})
    if not tables:
        return {}
    common = set(tables[0]).intersection(*tables[1:])
    return {name: dict(t[name] for t in tables) for name in sorted(common)}


def read_qm9_records(
    tar_path: str | os.PathLike | None = None,
    labels: Sequence[str] = ("energy", "dipole_magnitude"),
    csv_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    seed: int | None = 0,
) -> list[tuple[str, Structure]]:
    """Like :func:`read_qm9`, but returns ``(molecule name, structure)`` pairs."""
    if tar_path is None:
        tar_path = shared_data("qm9", TARBALL)
    csv_dir = Path(csv_dir) if csv_dir is not None else Path(tar_path).parent
    table = read_qm9_labels(csv_dir, labels) if labels else None
    names = None if table is None else list(table)
    if limit is not None and limit < 0:
        raise DataError(f"limit must be non-negative, got {limit}", str(tar_path))
    tar_path = Path(tar_path)
    if limit is not None and seed is None:
        # archive order is name order: the first `limit` labelled molecules with a geometry
        mols = _take(iter_qm9_tar(tar_path, names), limit)
    else:
        texts = list(_iter_tar_texts(tar_path, names))
        if limit is not None:  # sample before parsing: parsing is the slow part
            pick = np.random.default_rng(seed).permutation(len(texts))[:limit]
            texts = [texts[k] for k in np.sort(pick)]
        mols = []
        for name, text, source in texts:
            mol = parse_qm9_xyz(text, source)
            mol.name = name
            mols.append(mol)
    out = []
    for mol in mols:
        s = dict(mol.structure)
        if table is not None:
            s.update(table[mol.name])
        validate_structure(s, f"{tar_path}:{mol.name}")
        out.append((mol.name, s))
    return out


def _take(it: Iterator[Qm9Molecule], limit: int) -> list[Qm9Molecule]:
    out: list[Qm9Molecule] = []
    if limit == 0:
        return out
    for mol in it:
        out.append(mol)
        if len(out) >= limit:
            break
    return out


def read_qm9(
    tar_path: str | os.PathLike | None = None,
    labels: Sequence[str] = ("energy", "dipole_magnitude"),
    csv_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    seed: int | None = 0,
) -> list[Structure]:
    """QM9 geometries from the tarball joined with CSV labels, in internal units.

    Only molecules with a geometry and every requested label are returned (see
    :func:`read_qm9_labels` for the labels: ``energy`` eV, ``dipole_magnitude`` e·Å,
    ``dipole`` e·Å). ``tar_path`` defaults to the development checkout's shared data
    (:func:`equimol.data.shared.shared_data`); ``csv_dir`` defaults to the tarball's folder. ``limit`` molecules are
    drawn at random with ``seed`` (in archive order); with ``seed=None`` the first ``limit``
    are taken, which is fast but biased towards the smallest molecules. A full pass over the
    archive takes about 10 s.
    """
    return [s for _, s in read_qm9_records(tar_path, labels, csv_dir, limit, seed)]


def qm9_atom_references(kind: str = "U0", max_z: int = 119) -> np.ndarray:
    """QM9's B3LYP free-atom energies e_Z (eV) for H, C, N, O, F, indexed by Z (others 0).

    ``kind`` is U0 (also for electronic energies: atoms have no ZPVE), U, H or G. The
    alternative is a least-squares fit, :func:`equimol.data.stats.fit_atom_references`.
    """
    try:
        table = QM9_ATOM_REFS_HARTREE[kind]
    except KeyError:
        raise ConfigError(
            f"no QM9 atom references for {kind!r}; available: {list(QM9_ATOM_REFS_HARTREE)}"
        ) from None
    refs = np.zeros(max_z)
    for z, e in table.items():
        refs[z] = e * U.HARTREE
    return refs
