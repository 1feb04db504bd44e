"""Dataset statistics used to normalise models: atom reference energies and force scale."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from equimol import keys as K


def fit_atom_references(structures: Iterable[dict[str, np.ndarray]], max_z: int = 119) -> np.ndarray:
    """Per-element energies e_Z (eV) minimising Σ_m (E_m − Σ_i e_{Z_i})² (least squares).

    Elements absent from the data get 0. With a single composition (e.g. one molecule in
    MD), the system is underdetermined; the minimum-norm solution is returned, which is
    equivalent to a mean energy per atom split evenly by composition.
    """
    counts, energies = [], []
    for s in structures:
        counts.append(np.bincount(s[K.ATOMIC_NUMBERS], minlength=max_z))
        energies.append(float(s[K.ENERGY]))
    a = np.asarray(counts, dtype=np.float64)
    present = a.sum(0) > 0
    coef, *_ = np.linalg.lstsq(a[:, present], np.asarray(energies), rcond=None)
    refs = np.zeros(max_z)
    refs[present] = coef
    return refs


def mean_energy_per_atom(structures: Iterable[dict[str, np.ndarray]]) -> float:
    e, n = 0.0, 0
    for s in structures:
        e += float(s[K.ENERGY])
        n += len(s[K.ATOMIC_NUMBERS])
    return e / max(n, 1)


def force_rms(structures: Iterable[dict[str, np.ndarray]]) -> float:
    """Root mean square of force components (eV/Å), the natural scale of atomic energies."""
    sq, n = 0.0, 0
    for s in structures:
        f = np.asarray(s[K.FORCES])
        sq += float((f**2).sum())
        n += f.size
    return float(np.sqrt(sq / max(n, 1)))


def residual_energy_std(structures: list[dict[str, np.ndarray]], refs: np.ndarray) -> float:
    """Standard deviation (eV) of energies after subtracting atom references, per atom."""
    r = [
        (float(s[K.ENERGY]) - refs[s[K.ATOMIC_NUMBERS]].sum()) / len(s[K.ATOMIC_NUMBERS])
        for s in structures
    ]
    return float(np.std(r)) if len(r) > 1 else 1.0
