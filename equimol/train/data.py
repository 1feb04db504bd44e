"""Prepare training data from a config: read, split (saved next to the run), statistics.

An HDF5 store (``data.train: x.h5``) stays on disk: the datasets read it lazily (see
:class:`~equimol.data.streaming.StoreGraphDataset`) and statistics are computed in one
streaming pass, so memory does not grow with the number of structures beyond the index
bookkeeping (split lists and the epoch permutation, tens of bytes per structure). Other
formats are read into memory as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from equimol import keys as K
from equimol.data.dataset import GraphDataset, Subset
from equimol.data.formats import detect_format, read_structures
from equimol.data.splits import load_split, random_split, save_split
from equimol.data.stats import StreamingStatistics
from equimol.data.store import Store
from equimol.data.streaming import StoreGraphDataset
from equimol.errors import DataError
from equimol.train.config import Config


@dataclass
class PreparedData:
    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    statistics: dict
    split: dict


def _open(
    path: str, cfg: Config, cutoff: float, check: bool = True
) -> tuple[torch.utils.data.Dataset, Sequence[dict] | Store]:
    """(graph dataset, structure source) for ``path``: lazy for HDF5 stores, in memory otherwise."""
    d = cfg.data
    if detect_format(Path(path)) == "hdf5":
        store = Store(path)
        if check:
            _check_labels(d.targets, set(store.keys), path, 0 if len(store) else None)
        return StoreGraphDataset(store, cutoff, dipole_magnitude=K.DIPOLE_MAGNITUDE in d.targets), store
    structures = read_structures(
        path, energy_unit=d.energy_unit, length_unit=d.length_unit, label_keys=d.label_keys or None
    )
    for i, s in enumerate(structures if check else ()):
        _check_labels(d.targets, set(s), path, i)
    for s in structures:
        if K.DIPOLE_MAGNITUDE in d.targets and K.DIPOLE_MAGNITUDE not in s and K.DIPOLE in s:
            s[K.DIPOLE_MAGNITUDE] = np.asarray(np.linalg.norm(s[K.DIPOLE]))
    return GraphDataset(structures, cutoff), structures


def _check_labels(targets: list[str], keys: set[str], path: str, index: int | None) -> None:
    for t in targets:
        if t not in keys and t != K.DIPOLE_MAGNITUDE:
            raise DataError(f"missing label {t!r} required by data.targets{label_hint(path, t)}", path, index)
        if t == K.DIPOLE_MAGNITUDE and K.DIPOLE not in keys and K.DIPOLE_MAGNITUDE not in keys:
            raise DataError("missing label 'dipole' needed for dipole_magnitude", path, index)


def prepare_data(cfg: Config, cutoff: float, run_dir: Path, write_split: bool = True) -> PreparedData:
    """Datasets, split and normalisation statistics (train split only, one streaming pass).

    ``write_split=False`` leaves split.json alone (non-zero ranks of a distributed run
    compute the same split and let rank 0 write it).
    """
    d = cfg.data
    full, source = _open(d.train, cfg, cutoff)
    n = len(source)
    split_path = run_dir / "split.json"
    if split_path.exists():
        split = load_split(split_path, n)
    elif d.split_file:
        split = load_split(d.split_file, n)
    elif d.val:
        split = {"train": list(range(n)), "val": [], "test": []}
    else:
        n_val = d.n_val if d.n_val is not None else max(1, int(round(d.val_fraction * n)))
        n_train = d.n_train if d.n_train is not None else n - n_val - d.n_test
        split = random_split(n, n_train, n_val, d.n_test, d.seed)
    if write_split:
        save_split(split_path, split)
    train = Subset(full, split["train"])
    val = _open(d.val, cfg, cutoff, check=False)[0] if d.val else Subset(full, split["val"])
    if len(train) == 0 or len(val) == 0:
        raise DataError("training and validation sets must both be non-empty", d.train)
    stats: dict = {"n_train": len(train), "n_val": len(val)}
    stats.update(_statistics(source, split["train"], d.targets))
    if d.atom_refs == "qm9" and K.ENERGY in d.targets:
        stats.update(qm9_reference_statistics(source, split["train"]))
    return PreparedData(train, val, stats, split)


def qm9_reference_statistics(source: Sequence[dict] | Store, indices: list[int]) -> dict:
    """Shift and scale of Miller et al. (S-Eqs. 14–16, as their code computes them): per-atom
    residuals r = (E − Σ_i e_Z(i)) / n with QM9's free-atom energies e_Z; the shift per element
    is e_Z + mean(r) and the scale std(r) (eV), over the training molecules."""
    from equimol.data.qm9 import qm9_atom_references

    refs = qm9_atom_references()
    it = source.iterate(sorted(indices)) if isinstance(source, Store) else (source[i] for i in indices)
    residuals, present = [], set()
    for s in it:
        z = np.asarray(s[K.ATOMIC_NUMBERS])
        missing = [int(x) for x in np.unique(z) if refs[x] == 0.0]
        if missing:
            raise DataError(
                f"data.atom_refs: qm9 has no atom reference for Z = {missing} (QM9: H, C, N, O, F)"
            )
        residuals.append((float(s[K.ENERGY]) - refs[z].sum()) / len(z))
        present.update(int(x) for x in np.unique(z))
    mean, std = float(np.mean(residuals)), float(np.std(residuals))
    return {
        "atom_refs": {z: float(refs[z]) + mean for z in sorted(present)},
        "energy_std_per_atom": std,
        "atom_refs_source": "qm9",
    }


def _statistics(source: Sequence[dict] | Store, indices: list[int], targets: list[str]) -> dict:
    first = source[indices[0]]
    acc = StreamingStatistics(polarizability=K.POLARIZABILITY in first and K.POLARIZABILITY in targets)
    it = source.iterate(sorted(indices)) if isinstance(source, Store) else (source[i] for i in indices)
    for s in it:
        acc.update(s)
    return acc.result()


def label_hint(path: str, label: str) -> str:
    """For an extxyz / ASE db file: the keys its frames do have, and how to name one as the
    missing ``label`` (``data.label_keys``); empty for other formats."""
    from equimol.data.formats import LABEL_KEYS, file_label_keys

    name = "charges" if label == K.PARTIAL_CHARGES else label  # the label_keys name of a target
    keys = file_label_keys(path)
    if not keys or name not in LABEL_KEYS:
        return ""
    return (
        f" (the file's keys: {', '.join(keys)}; name the one that holds it with "
        f"--set data.label_keys.{name}=KEY, or --label-key {name}=KEY for equimol evaluate)"
    )
