"""Prepare training data from a config: read, split (saved next to the run), statistics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from equimol import keys as K
from equimol.data.dataset import GraphDataset, Subset
from equimol.data.formats import read_structures
from equimol.data.splits import load_split, random_split, save_split
from equimol.data.stats import fit_atom_references, force_rms, residual_energy_std
from equimol.errors import DataError
from equimol.train.config import Config


@dataclass
class PreparedData:
    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    statistics: dict
    split: dict


def prepare_data(cfg: Config, cutoff: float, run_dir: Path) -> PreparedData:
    d = cfg.data
    structures = read_structures(d.train, energy_unit=d.energy_unit, length_unit=d.length_unit)
    for i, s in enumerate(structures):
        for t in d.targets:
            if t not in s and t != K.DIPOLE_MAGNITUDE:
                raise DataError(f"missing label {t!r} required by data.targets", d.train, i)
            if t == K.DIPOLE_MAGNITUDE and K.DIPOLE not in s and K.DIPOLE_MAGNITUDE not in s:
                raise DataError("missing label 'dipole' needed for dipole_magnitude", d.train, i)
    for s in structures:
        if K.DIPOLE_MAGNITUDE in d.targets and K.DIPOLE_MAGNITUDE not in s:
            s[K.DIPOLE_MAGNITUDE] = np.asarray(np.linalg.norm(s[K.DIPOLE]))
    split_path = run_dir / "split.json"
    if split_path.exists():
        split = load_split(split_path, len(structures))
    elif d.split_file:
        split = load_split(d.split_file, len(structures))
    elif d.val:
        split = {"train": list(range(len(structures))), "val": [], "test": []}
    else:
        n = len(structures)
        n_val = d.n_val if d.n_val is not None else max(1, int(round(d.val_fraction * n)))
        n_train = d.n_train if d.n_train is not None else n - n_val - d.n_test
        split = random_split(n, n_train, n_val, d.n_test, d.seed)
    save_split(split_path, split)
    full = GraphDataset(structures, cutoff)
    train = Subset(full, split["train"])
    if d.val:
        val_structures = read_structures(d.val, energy_unit=d.energy_unit, length_unit=d.length_unit)
        for s in val_structures:
            if K.DIPOLE_MAGNITUDE in d.targets and K.DIPOLE in s:
                s[K.DIPOLE_MAGNITUDE] = np.asarray(np.linalg.norm(s[K.DIPOLE]))
        val = GraphDataset(val_structures, cutoff)
    else:
        val = Subset(full, split["val"])
    if len(train) == 0 or len(val) == 0:
        raise DataError("training and validation sets must both be non-empty", d.train)
    train_structures = [structures[i] for i in split["train"]]
    stats: dict = {"n_train": len(train), "n_val": len(val)}
    if K.ENERGY in structures[0]:
        refs = fit_atom_references(train_structures)
        stats["atom_refs"] = {int(z): float(refs[z]) for z in np.nonzero(refs)[0]}
        stats["energy_std_per_atom"] = residual_energy_std(train_structures, refs)
    if K.FORCES in structures[0]:
        stats["force_rms"] = force_rms(train_structures)
    if K.POLARIZABILITY in structures[0] and K.POLARIZABILITY in d.targets:
        from equimol.heads.polarizability import isotropic_atom_references

        refs = isotropic_atom_references(train_structures)
        stats["polarizability_refs"] = {int(z): float(refs[z]) for z in np.nonzero(refs)[0]}
        resid = [
            (s[K.POLARIZABILITY] - np.eye(3) * refs[s[K.ATOMIC_NUMBERS]].sum()) / np.sqrt(len(s[K.ATOMIC_NUMBERS]))
            for s in train_structures
        ]
        stats["polarizability_scale"] = float(np.sqrt(np.mean(np.square(resid)))) or 1.0
    return PreparedData(train, val, stats, split)
