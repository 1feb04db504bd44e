"""Streaming access to large datasets: read inputs in chunks, convert to the HDF5 store,
and serve lazy graphs from a store.

Memory of :func:`convert` is bounded independently of the dataset size by

* one chunk of structures buffered by the :class:`~equimol.data.store.StoreWriter`
  (``chunk`` structures, default 1024),
* one input chunk: one extxyz frame (``ase.io.iread``; ASE keeps a list of frame offsets,
  about 16 bytes per frame), one ASE db row, or ``chunk`` rows of each npz array,
* the one-pass statistics (a few 119×119 float64 matrices, about 0.5 MB),

that is, about ``2 · chunk · (bytes per structure)`` plus a constant. QM9 tarballs are not
streamed (they are read through :func:`~equimol.data.formats.read_structures`).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from equimol import keys as K
from equimol import units as U
from equimol.data.formats import RMD17_KEYS, Structure, detect_format, to_atoms
from equimol.data.stats import StreamingStatistics
from equimol.data.store import Store, StoreWriter
from equimol.data.validate import validate_structure
from equimol.errors import DataError


def iter_structures(
    path: str | os.PathLike,
    *,
    energy_unit: str | None = None,
    length_unit: str = "Å",
    validate: bool = True,
    chunk: int = 1024,
    label_keys: dict[str, str] | None = None,
) -> Iterator[Structure]:
    """Yield the structures of ``path`` one by one in internal units, reading in chunks.

    Same formats, units, ``label_keys`` and validation as
    :func:`~equimol.data.formats.read_structures`, without holding the file in memory (except
    QM9 tarballs).
    """
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", str(path))
    fmt = detect_format(path)
    if fmt == "npz":
        it = _iter_rmd17(path, energy_unit or "kcal/mol", length_unit, chunk)
    elif fmt == "hdf5":
        it = Store(path).iterate()
    elif fmt in ("extxyz", "db"):
        it = _iter_ase(path, fmt, energy_unit or "eV", length_unit, label_keys)
    else:
        from equimol.data.formats import read_structures

        it = iter(
            read_structures(
                path, energy_unit=energy_unit, length_unit=length_unit, validate=False, label_keys=label_keys
            )
        )
    for i, s in enumerate(it):
        if validate:
            validate_structure(s, str(path), i)
        yield s


class _NpyRows:
    """Row-wise reader of one array inside an .npz (stored or deflated), without loading it."""

    def __init__(self, zf: zipfile.ZipFile, name: str, source: str):
        self._fh = zf.open(name + ".npy")
        version = np.lib.format.read_magic(self._fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(self._fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(self._fh)
        if fortran and len(shape) > 1:
            raise DataError(f"npz array {name!r} is Fortran-ordered and cannot be streamed", source)
        if dtype.hasobject:
            raise DataError(f"npz array {name!r} holds Python objects", source)
        self.shape, self.dtype = tuple(shape), dtype
        self._row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def read(self, n: int) -> np.ndarray:
        buf = self._fh.read(n * self._row_bytes)
        return np.frombuffer(buf, dtype=self.dtype).reshape(-1, *self.shape[1:])

    def close(self) -> None:
        self._fh.close()


def _iter_rmd17(path: Path, energy_unit: str, length_unit: str, chunk: int) -> Iterator[Structure]:
    e_f = U.factor(U.ENERGY_UNITS, energy_unit, "energy")
    l_f = U.factor(U.LENGTH_UNITS, length_unit, "length")
    try:
        zf = zipfile.ZipFile(path)
        names = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"cannot read npz file ({e})", str(path)) from None
    with zf:
        missing = [k for k in ("nuclear_charges", "coords") if k not in names]
        if missing:
            raise DataError(
                f"npz file lacks key(s) {missing}; expected rMD17 keys {list(RMD17_KEYS)}", str(path)
            )
        z_rows = _NpyRows(zf, "nuclear_charges", str(path))
        z = z_rows.read(z_rows.shape[0]).astype(np.int64)
        z_rows.close()
        readers = {"coords": _NpyRows(zf, "coords", str(path))}
        for k in ("energies", "forces"):
            if k in names:
                readers[k] = _NpyRows(zf, k, str(path))
        m = readers["coords"].shape[0]
        if readers["coords"].shape[1:] != (len(z), 3):
            shape = readers["coords"].shape
            raise DataError(f"coords have shape {shape}, expected (M, {len(z)}, 3)", str(path))
        for start in range(0, m, chunk):
            n = min(chunk, m - start)
            block = {k: r.read(n).astype(np.float64) for k, r in readers.items()}
            for j in range(n):
                s: Structure = {K.ATOMIC_NUMBERS: z.copy(), K.POSITIONS: block["coords"][j] * l_f}
                if "energies" in block:
                    s[K.ENERGY] = np.asarray(block["energies"][j] * e_f)
                if "forces" in block:
                    s[K.FORCES] = block["forces"][j] * (e_f / l_f)
                yield s
        for r in readers.values():
            r.close()


def _iter_ase(
    path: Path, fmt: str, energy_unit: str, length_unit: str, label_keys: dict[str, str] | None = None
) -> Iterator[Structure]:
    import ase.db
    import ase.io

    from equimol.data.formats import _from_atoms, _label_names

    names = _label_names(label_keys)
    e_f = U.factor(U.ENERGY_UNITS, energy_unit, "energy")
    l_f = U.factor(U.LENGTH_UNITS, length_unit, "length")
    try:
        if fmt == "db":
            with ase.db.connect(str(path)) as db:
                for row in db.select():
                    yield _from_atoms(row.toatoms(add_additional_information=True), e_f, l_f, names)
        else:
            for atoms in ase.io.iread(str(path), index=":", format="extxyz"):
                yield _from_atoms(atoms, e_f, l_f, names)
    except DataError:
        raise
    except Exception as e:  # ASE raises many types for malformed files
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"malformed {fmt} file ({msg})", str(path)) from None


def convert(
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    energy_unit: str | None = None,
    length_unit: str = "Å",
    neighbor_cutoff: float | None = None,
    chunk: int = 1024,
    validate: bool = True,
    progress: Callable[[int], None] | None = None,
    label_keys: dict[str, str] | None = None,
) -> dict:
    """Stream ``source`` into ``output`` (.h5 store or .extxyz), validating every structure.

    For a store, statistics of the whole file (atom references, force RMS; one pass) are
    saved as the ``statistics`` attribute, and with ``neighbor_cutoff`` (Å) the neighbour
    lists are precomputed and stored. The output appears atomically; on any error nothing
    is left behind. ``validate=False`` skips the per-structure checks of
    :func:`~equimol.data.validate.validate_structure` (O(n²) in the atoms of a structure).
    Returns {"n_structures", "n_atoms", "statistics"}.
    """
    output = Path(output)
    fmt = detect_format(output)
    if fmt not in ("hdf5", "extxyz"):
        raise DataError(f"writing {fmt} is not supported (use .extxyz or .h5)", str(output))
    if Path(source).resolve() == output.resolve():
        raise DataError("input and output are the same file", str(output))
    if neighbor_cutoff is not None:
        from equimol.data.neighbors import add_neighbors  # vesin imports torch: only when needed
    stats = StreamingStatistics(polarizability=True)
    n_atoms = 0
    structures = iter_structures(
        source,
        energy_unit=energy_unit,
        length_unit=length_unit,
        chunk=chunk,
        validate=validate,
        label_keys=label_keys,
    )
    if fmt == "hdf5":
        with StoreWriter(output, chunk=chunk, neighbor_cutoff=neighbor_cutoff) as w:
            for s in structures:
                stats.update(s)
                n_atoms += len(s[K.ATOMIC_NUMBERS])
                w.append(add_neighbors(s, neighbor_cutoff) if neighbor_cutoff is not None else s)
                if progress is not None:
                    progress(w.n_structures)
            w.attrs["statistics"] = stats.result()
    else:
        import ase.io

        from equimol.io import atomic_write  # equimol.io imports torch: only when writing

        with atomic_write(output) as fh:
            for s in structures:
                stats.update(s)
                n_atoms += len(s[K.ATOMIC_NUMBERS])
                ase.io.write(fh, to_atoms(s), format="extxyz")
                if progress is not None:
                    progress(stats.n_structures)
    if stats.n_structures == 0:
        output.unlink(missing_ok=True)
        raise DataError("no structures found", str(source))
    return {"n_structures": stats.n_structures, "n_atoms": n_atoms, "statistics": stats.result()}


class StoreGraphDataset:
    """Graphs served lazily from an HDF5 :class:`~equimol.data.store.Store` (a map-style
    dataset for ``torch.utils.data``; no torch import needed to convert data).

    Neighbour lists come from the store when it holds lists for ``cutoff`` (Å); otherwise
    they are computed on access with vesin and not kept, so memory stays bounded by the
    store's cache. ``dipole_magnitude`` is derived from ``dipole`` on access if requested.
    """

    def __init__(self, store: Store, cutoff: float, dipole_magnitude: bool = False):
        self.store = store
        self.cutoff = float(cutoff)
        self.stored_neighbors = store.has_neighbors(cutoff)
        self.dipole_magnitude = dipole_magnitude

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        s = self.store[i]
        if self.dipole_magnitude and K.DIPOLE_MAGNITUDE not in s and K.DIPOLE in s:
            s[K.DIPOLE_MAGNITUDE] = np.asarray(np.linalg.norm(s[K.DIPOLE]))
        if self.stored_neighbors:
            s[K.EDGE_INDEX], s[K.EDGE_SHIFTS] = self.store.neighbors(i)
            return s
        from equimol.data.neighbors import add_neighbors

        return add_neighbors(s, self.cutoff)
