"""On-disk HDF5 store for large datasets: written once, read lazily.

Layout (all arrays in equimol's internal units, see :mod:`equimol.units`)::

    /offsets          (M+1,) int64   atom offset of each structure
    /atomic_numbers   (A,)   int16   A = total number of atoms
    /positions        (A, 3) float64 Å
    /forces           (A, 3) float64 eV/Å          (optional, per-atom keys)
    /energy           (M,)   float64 eV            (optional, per-structure keys)
    /dipole           (M, 3) e·Å, /polarizability (M, 3, 3) Å^3, /cell (M, 3, 3) Å, ...
    /neighbors        (optional group, attrs: cutoff in Å) precomputed neighbour lists:
        offsets (M+1,) int64, index (E, 2) int32 [centre i, neighbour j] local to the
        structure, shifts (E, 3) float64 Å (only when the store has cells)
    attrs: equimol_store = 1, units = JSON, statistics = JSON (optional, whole file)

Datasets are chunked along the first axis (4096 rows), so reading one structure touches
one chunk per key. :class:`Store` reads lazily; when the whole file fits into its cache
(``cache_bytes``, default 256 MiB) it loads contiguous blocks of structures on first touch
and keeps them, so shuffled batches cost one disk read per block instead of one per
structure and key. Larger files are read structure by structure (about 50 µs per
structure on a local disk) and memory stays bounded by the cache size.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from equimol import keys as K
from equimol.errors import DataError
from equimol.units import unit_table

PER_ATOM = (K.POSITIONS, K.ATOMIC_NUMBERS, K.FORCES, K.PARTIAL_CHARGES)
PER_EDGE = (K.EDGE_INDEX, K.EDGE_SHIFTS)
UNITS = unit_table(*K.TARGET_UNITS, K.POSITIONS, K.CELL)  # the file's "units" attribute
FORMAT_VERSION = 1
CHUNK_ROWS = 4096  # HDF5 chunk length along the first axis (per-atom, per-structure, per-edge)
DEFAULT_CACHE_BYTES = 256 * 2**20
BLOCK_ATOMS = 16384  # a cache block holds about this many atoms
NEIGHBORS = "neighbors"
HDF5_CHUNK_CACHE_BYTES = 2**20  # per open dataset


def _append(group: h5py.Group, name: str, arr: np.ndarray) -> None:
    if name not in group:
        group.create_dataset(
            name, data=arr, maxshape=(None, *arr.shape[1:]), chunks=(CHUNK_ROWS, *arr.shape[1:])
        )
    else:
        ds = group[name]
        ds.resize(ds.shape[0] + arr.shape[0], axis=0)
        ds[-arr.shape[0] :] = arr


class StoreWriter:
    """Append structures to a new HDF5 store in chunks; the file appears atomically on close.

    Memory use is bounded by one chunk of structures, independent of dataset size.
    With ``neighbor_cutoff`` (Å) every structure must carry EDGE_INDEX and EDGE_SHIFTS
    computed for that cutoff (see :func:`equimol.data.neighbors.add_neighbors`); they are
    stored so that training with the same cutoff does not recompute them.
    ``attrs`` (JSON-serialisable) are written as file attributes on close.
    """

    def __init__(self, path: str | os.PathLike, chunk: int = 1024, neighbor_cutoff: float | None = None):
        from equimol.io import atomic_write

        self.path = Path(path)
        with contextlib.ExitStack() as stack:  # removes the temporary file if h5py fails
            tmp = stack.enter_context(atomic_write(self.path, "wb"))
            self._f = h5py.File(tmp.name, "w")
            # held open until close() renames the file over path or abort() removes it
            self._output = stack.pop_all()
        self._f.attrs["equimol_store"] = FORMAT_VERSION
        self._f.attrs["units"] = json.dumps(UNITS)
        self.attrs: dict[str, Any] = {}
        self._buffer: list[dict[str, np.ndarray]] = []
        self._chunk = chunk
        self._n_atoms_total = 0
        self._n_edges_total = 0
        self._keys: set[str] | None = None
        self.n_structures = 0
        self.neighbor_cutoff = None if neighbor_cutoff is None else float(neighbor_cutoff)
        self._f.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(CHUNK_ROWS,))
        if self.neighbor_cutoff is not None:
            g = self._f.create_group(NEIGHBORS)
            g.attrs["cutoff"] = self.neighbor_cutoff
            g.create_dataset("offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(CHUNK_ROWS,))

    def append(self, s: dict[str, np.ndarray]) -> None:
        keys = set(s) - set(PER_EDGE)
        if self._keys is None:
            self._keys = keys
        elif keys != self._keys:
            raise DataError(
                f"structure keys {sorted(keys)} differ from the first {sorted(self._keys)}",
                str(self.path),
                self.n_structures,
            )
        if self.neighbor_cutoff is not None and K.EDGE_INDEX not in s:
            raise DataError(
                "neighbour list missing (writer was opened with neighbor_cutoff)",
                str(self.path),
                self.n_structures,
            )
        self._buffer.append(s)
        self.n_structures += 1
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
            _append(f, key, arr)
        sizes = np.cumsum([len(s[K.ATOMIC_NUMBERS]) for s in self._buffer]) + self._n_atoms_total
        off = f["offsets"]
        off.resize(off.shape[0] + len(sizes), axis=0)
        off[-len(sizes) :] = sizes
        self._n_atoms_total = int(sizes[-1])
        if self.neighbor_cutoff is not None:
            self._flush_neighbors()
        self._buffer = []

    def _flush_neighbors(self) -> None:
        g = self._f[NEIGHBORS]
        index = np.concatenate([np.asarray(s[K.EDGE_INDEX]).T for s in self._buffer]).astype(np.int32)
        _append(g, "index", index.reshape(-1, 2))
        if K.CELL in (self._keys or ()):
            shifts = np.concatenate([np.asarray(s[K.EDGE_SHIFTS]).reshape(-1, 3) for s in self._buffer])
            _append(g, "shifts", shifts.astype(np.float64))
        sizes = np.cumsum([np.asarray(s[K.EDGE_INDEX]).shape[1] for s in self._buffer]) + self._n_edges_total
        off = g["offsets"]
        off.resize(off.shape[0] + len(sizes), axis=0)
        off[-len(sizes) :] = sizes
        self._n_edges_total = int(sizes[-1])

    def close(self) -> None:
        self._flush()
        for name, value in self.attrs.items():
            self._f.attrs[name] = json.dumps(value)
        self._f.close()
        self._output.close()  # fsync and rename over self.path

    def abort(self) -> None:
        """Close and delete the temporary file; ``path`` is left as it was."""
        self._f.close()
        aborted = DataError("store write aborted", str(self.path))
        self._output.__exit__(DataError, aborted, None)  # atomic_write removes the file

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_store(
    path: str | os.PathLike, structures: Iterable[dict[str, np.ndarray]], neighbor_cutoff: float | None = None
) -> None:
    """Write ``structures`` to a new HDF5 store at ``path`` (atomic: temp file + rename)."""
    with StoreWriter(path, neighbor_cutoff=neighbor_cutoff) as w:
        for s in structures:
            w.append(s)


class Store(Sequence):
    """Lazy, read-only view of an HDF5 store; opens the file on first access in each process.

    ``store[i]`` is a structure dict (fresh arrays, safe to modify). Memory: the offsets
    (16 bytes per structure, 8 more with neighbour lists), at most ``cache_bytes`` of cached
    blocks (only when the whole file fits), and HDF5's chunk cache of 1 MiB per dataset.
    """

    def __init__(self, path: str | os.PathLike, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.path = Path(path)
        try:
            with h5py.File(self.path, "r") as f:
                if "equimol_store" not in f.attrs:
                    raise DataError(
                        "not an equimol HDF5 store (attribute 'equimol_store' missing)", str(path)
                    )
                self._offsets = f["offsets"][:]
                self.keys = tuple(k for k in f.keys() if k not in ("offsets", NEIGHBORS))
                nbytes = sum(f[k].size * f[k].dtype.itemsize for k in self.keys)
                self.neighbor_cutoff: float | None = None
                self._edge_offsets: np.ndarray | None = None
                self._has_shifts = False
                if NEIGHBORS in f:
                    g = f[NEIGHBORS]
                    self.neighbor_cutoff = float(g.attrs["cutoff"])
                    self._edge_offsets = g["offsets"][:]
                    self._has_shifts = "shifts" in g
                    nbytes += sum(g[k].size * g[k].dtype.itemsize for k in g if k != "offsets")
                self.attrs = {k: json.loads(v) for k, v in f.attrs.items() if k in ("units", "statistics")}
        except OSError as e:
            raise DataError(f"cannot read HDF5 file ({e})", str(path)) from None
        self.nbytes = int(nbytes)
        self.cache_bytes = int(cache_bytes)
        self.cached = self.nbytes <= self.cache_bytes
        mean_atoms = max(1, int(self._offsets[-1]) // max(1, len(self)))
        self.block = int(np.clip(BLOCK_ATOMS // mean_atoms, 16, 4096))
        self._blocks: dict[int, dict[str, np.ndarray]] = {}
        self._f: h5py.File | None = None
        self._ds: dict[str, h5py.Dataset] = {}
        self._pid: int | None = None

    def _file(self) -> h5py.File:
        if self._f is None or self._pid != os.getpid():
            # explicit HDF5 chunk cache per dataset (library defaults vary between versions)
            self._f = h5py.File(self.path, "r", rdcc_nbytes=HDF5_CHUNK_CACHE_BYTES)
            self._pid = os.getpid()
            self._blocks = {}
            # dataset handles looked up once: a group lookup costs as much as a small read
            self._ds = {key: self._f[key] for key in self.keys}
            if NEIGHBORS in self._f:
                self._ds.update({f"{NEIGHBORS}/{k}": self._f[NEIGHBORS][k] for k in self._f[NEIGHBORS]})
        return self._f

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def n_atoms(self, i: int) -> int:
        return int(self._offsets[i + 1] - self._offsets[i])

    @property
    def n_atoms_all(self) -> np.ndarray:
        """Atoms per structure (M,), from the offsets (no data read)."""
        return np.diff(self._offsets)

    def has_neighbors(self, cutoff: float) -> bool:
        """True if the store holds neighbour lists computed for ``cutoff`` Å."""
        return self.neighbor_cutoff is not None and abs(self.neighbor_cutoff - float(cutoff)) < 1e-9

    def _check(self, i: int) -> int:
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return i

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = self._check(i)
        if self.cached:
            blk = self._load_block(i // self.block, keep=True)
            return _structure_from_block(blk, i - blk["_start"], self.keys)
        self._file()
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        out: dict[str, np.ndarray] = {}
        for key in self.keys:
            ds = self._ds[key]
            out[key] = ds[a:b] if key in PER_ATOM else ds[i]
        out[K.ATOMIC_NUMBERS] = out[K.ATOMIC_NUMBERS].astype(np.int64)
        return out

    def neighbors(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Stored neighbour list of structure ``i``: edge_index (2, E) int64, shifts (E, 3) Å."""
        if self._edge_offsets is None:
            raise DataError("store has no precomputed neighbour lists", str(self.path))
        i = self._check(i)
        if self.cached:
            blk = self._load_block(i // self.block, keep=True)
            return _neighbors_from_block(blk, i - blk["_start"])
        self._file()
        a, b = int(self._edge_offsets[i]), int(self._edge_offsets[i + 1])
        index = self._ds[f"{NEIGHBORS}/index"][a:b].T.astype(np.int64)
        shifts = self._ds[f"{NEIGHBORS}/shifts"][a:b] if self._has_shifts else np.zeros((b - a, 3))
        return index, shifts

    def _load_block(self, b: int, keep: bool) -> dict[str, np.ndarray]:
        """Structures [b·block, (b+1)·block) of every key, read with one slice per dataset."""
        blk = self._blocks.get(b)
        if blk is not None:
            return blk
        f = self._file()
        s0, s1 = b * self.block, min((b + 1) * self.block, len(self))
        a0, a1 = int(self._offsets[s0]), int(self._offsets[s1])
        blk = {"_start": s0, "_offsets": self._offsets[s0 : s1 + 1] - a0}  # type: ignore[dict-item]
        for key in self.keys:
            blk[key] = f[key][a0:a1] if key in PER_ATOM else f[key][s0:s1]
        if self._edge_offsets is not None:
            g = f[NEIGHBORS]
            e0, e1 = int(self._edge_offsets[s0]), int(self._edge_offsets[s1])
            blk["_edge_offsets"] = self._edge_offsets[s0 : s1 + 1] - e0
            blk["_edge_index"] = g["index"][e0:e1]
            if self._has_shifts:
                blk["_edge_shifts"] = g["shifts"][e0:e1]
        if keep:
            self._blocks[b] = blk
        return blk

    def iterate(
        self, indices: Sequence[int] | None = None, neighbors: bool = False
    ) -> Iterator[dict[str, np.ndarray]]:
        """Yield structures ``indices`` (default all) reading block by block: a streaming pass
        over the file with memory bounded by one block (not cached). Sorted indices are fastest.
        With ``neighbors`` (and stored lists), EDGE_INDEX and EDGE_SHIFTS are included."""
        idx = range(len(self)) if indices is None else indices
        current, blk = -1, None
        for i in idx:
            i = self._check(i)
            b = i // self.block
            if b != current:
                blk = self._blocks.get(b) or self._load_block(b, keep=False)
                current = b
            s = _structure_from_block(blk, i - blk["_start"], self.keys)
            if neighbors and self._edge_offsets is not None:
                s[K.EDGE_INDEX], s[K.EDGE_SHIFTS] = _neighbors_from_block(blk, i - blk["_start"])
            yield s

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        return self.iterate()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_f"] = None
        state["_ds"] = {}
        state["_blocks"] = {}
        return state


def _structure_from_block(blk: dict, j: int, keys: Sequence[str]) -> dict[str, np.ndarray]:
    a, b = int(blk["_offsets"][j]), int(blk["_offsets"][j + 1])
    out = {key: np.array(blk[key][a:b] if key in PER_ATOM else blk[key][j]) for key in keys}
    out[K.ATOMIC_NUMBERS] = out[K.ATOMIC_NUMBERS].astype(np.int64)
    return out


def _neighbors_from_block(blk: dict, j: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = int(blk["_edge_offsets"][j]), int(blk["_edge_offsets"][j + 1])
    index = blk["_edge_index"][a:b].T.astype(np.int64)
    shifts = np.array(blk["_edge_shifts"][a:b]) if "_edge_shifts" in blk else np.zeros((b - a, 3))
    return index, shifts
