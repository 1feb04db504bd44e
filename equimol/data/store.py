"""On-disk HDF5 store for large datasets: written once, read lazily.

Layout (all arrays in equimol's internal units, see :mod:`equimol.units`)::

    /offsets          (M+1,) int64   atom offset of each structure
    /atomic_numbers   (A,)   int16   A = total number of atoms
    /positions        (A, 3) float64 Å
    /forces           (A, 3) float64 eV/Å          (optional, per-atom keys)
    /energy           (M,)   float64 eV            (optional, per-structure keys)
    /dipole           (M, 3) e·Å, /polarizability (M, 3, 3) Å^3, /cell (M, 3, 3) Å, ...
    attrs: equimol_store = 1, units = JSON
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import h5py
import numpy as np

from equimol import keys as K
from equimol.errors import DataError

PER_ATOM = (K.POSITIONS, K.ATOMIC_NUMBERS, K.FORCES, K.PARTIAL_CHARGES)
UNITS = {k: v for k, v in K.TARGET_UNITS.items()} | {K.POSITIONS: "Å", K.CELL: "Å"}
FORMAT_VERSION = 1


class StoreWriter:
    """Append structures to a new HDF5 store in chunks; the file appears atomically on close.

    Memory use is bounded by one chunk of structures, independent of dataset size.
    """

    def __init__(self, path: str | os.PathLike, chunk: int = 1024):
        self.path = Path(path)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._f = h5py.File(self._tmp, "w")
        self._f.attrs["equimol_store"] = FORMAT_VERSION
        self._f.attrs["units"] = json.dumps(UNITS)
        self._buffer: list[dict[str, np.ndarray]] = []
        self._chunk = chunk
        self._n_atoms_total = 0
        self._keys: set[str] | None = None
        self._f.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=True)

    def append(self, s: dict[str, np.ndarray]) -> None:
        keys = set(s)
        if self._keys is None:
            self._keys = keys
        elif keys != self._keys:
            raise DataError(f"structure keys {sorted(keys)} differ from the first {sorted(self._keys)}", str(self.path))
        self._buffer.append(s)
        if len(self._buffer) >= self._chunk:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        f = self._f
        for key in sorted(self._keys or ()):
            if key in PER_ATOM:
                arr = np.concatenate([np.asarray(s[key]) for s in self._buffer])
            else:
                arr = np.stack([np.asarray(s[key]) for s in self._buffer])
            if key == K.ATOMIC_NUMBERS:
                arr = arr.astype(np.int16)
            if key not in f:
                f.create_dataset(key, data=arr, maxshape=(None, *arr.shape[1:]), chunks=True)
            else:
                ds = f[key]
                ds.resize(ds.shape[0] + arr.shape[0], axis=0)
                ds[-arr.shape[0] :] = arr
        sizes = np.cumsum([len(s[K.ATOMIC_NUMBERS]) for s in self._buffer]) + self._n_atoms_total
        off = f["offsets"]
        off.resize(off.shape[0] + len(sizes), axis=0)
        off[-len(sizes) :] = sizes
        self._n_atoms_total = int(sizes[-1])
        self._buffer = []

    def close(self) -> None:
        self._flush()
        self._f.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._f.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_store(path: str | os.PathLike, structures: Iterable[dict[str, np.ndarray]]) -> None:
    """Write ``structures`` to a new HDF5 store at ``path`` (atomic: temp file + rename)."""
    with StoreWriter(path) as w:
        for s in structures:
            w.append(s)


class Store(Sequence):
    """Lazy, read-only view of an HDF5 store; opens the file on first access in each process."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            with h5py.File(self.path, "r") as f:
                if "equimol_store" not in f.attrs:
                    raise DataError("not an equimol HDF5 store (attribute 'equimol_store' missing)", str(path))
                self._offsets = f["offsets"][:]
                self.keys = tuple(k for k in f.keys() if k != "offsets")
        except OSError as e:
            raise DataError(f"cannot read HDF5 file ({e})", str(path)) from None
        self._f: h5py.File | None = None
        self._pid: int | None = None

    def _file(self) -> h5py.File:
        if self._f is None or self._pid != os.getpid():
            self._f = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._f

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def n_atoms(self, i: int) -> int:
        return int(self._offsets[i + 1] - self._offsets[i])

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        f = self._file()
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        out: dict[str, np.ndarray] = {}
        for key in self.keys:
            ds = f[key]
            out[key] = ds[a:b] if key in PER_ATOM else ds[i]
        out[K.ATOMIC_NUMBERS] = out[K.ATOMIC_NUMBERS].astype(np.int64)
        return out

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_f"] = None
        return state
