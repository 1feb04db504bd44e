"""Input systems of the speed benchmark: structures as dicts of arrays (positions in Å).

* ``ethanol``, ``aspirin``: first training frame of rMD17 (9 and 21 atoms).
* ``qm9_50``: 50 QM9 molecules in one batch (the first 50 of the shared tarball).
* ``ring_polymer_64``: 64 perturbed copies of ethanol (σ = 0.05 Å), one batch, as
  :class:`equimol.md.model_forces.ModelForceFn` evaluates an RPMD step.
* ``droplet_<n>``: non-periodic water droplets of n atoms at liquid density (0.0334 molecules/Å³,
  ≈ 0.1 atoms/Å³): molecules on a cubic lattice of spacing 3.104 Å, randomly oriented, the
  ceil(n/3) closest to the centre kept (a trailing partial molecule keeps O or O–H), so no two
  atoms of different molecules are closer than ≈ 1.2 Å and each atom has ≈ 50 neighbours
  within 5 Å in the bulk.
* ``train_batch``: 10 ethanol frames of rMD17 with energies and forces (training step).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from equimol import keys as K
from equimol.data.shared import shared_data
from equimol.errors import DataError
from equimol.units import KCAL_PER_MOL

Structure = dict[str, np.ndarray]

QM9_TARBALL = "qm9_geometries_ppqm.tar.gz"

WATER_SPACING = (1.0 / 0.0334) ** (1.0 / 3.0)  # Å, one molecule per cube at liquid density
WATER_GEOMETRY = np.array([[0.0, 0.0, 0.0], [0.9572, 0.0, 0.0], [-0.2400, 0.9266, 0.0]])  # O, H, H (Å)


def data_root(data_dir: Path | str | None = None) -> Path:
    """The folder holding ``rmd17/`` and ``qm9/`` in the layout of ``shared/data``: ``data_dir``,
    or the development checkout's shared data (``EQUIMOL_SHARED``; ``tests/data/fixtures`` is a
    small copy that a bare clone has)."""
    return Path(data_dir) if data_dir is not None else shared_data()


def rmd17(name: str, frames: int | slice = 0, data_dir: Path | str | None = None) -> list[Structure]:
    """rMD17 frames of molecule ``name`` with energy (eV) and forces (eV/Å); the file is in kcal/mol."""
    path = data_root(data_dir) / "rmd17" / f"rmd17_{name}_train_01.npz"
    if not path.exists():
        raise DataError("rMD17 file not found (pass --data DIR or set EQUIMOL_SHARED)", str(path))
    d = np.load(path)
    idx = range(frames) if isinstance(frames, int) and frames > 0 else [0]
    if isinstance(frames, slice):
        idx = range(*frames.indices(len(d["coords"])))
    z = d["nuclear_charges"].astype(np.int64)
    out = []
    for k in idx:
        s = {K.ATOMIC_NUMBERS: z, K.POSITIONS: d["coords"][k].astype(np.float64)}
        if "energies" in d.files:
            s[K.ENERGY] = np.asarray(d["energies"][k] * KCAL_PER_MOL)
        if "forces" in d.files:
            s[K.FORCES] = d["forces"][k].astype(np.float64) * KCAL_PER_MOL
        out.append(s)
    return out


def qm9(n: int = 50, data_dir: Path | str | None = None) -> list[Structure]:
    """The first ``n`` QM9 molecules of the shared tarball (geometries only)."""
    from equimol.data.qm9 import read_qm9

    path = data_root(data_dir) / "qm9" / QM9_TARBALL
    if not path.exists():
        raise DataError("QM9 tarball not found (pass --data DIR or set EQUIMOL_SHARED)", str(path))
    mols = read_qm9(path, labels=(), limit=n, seed=None)
    return [{K.ATOMIC_NUMBERS: m[K.ATOMIC_NUMBERS], K.POSITIONS: m[K.POSITIONS]} for m in mols]


def ring_polymer(base: Structure, n_beads: int = 64, sigma: float = 0.05, seed: int = 0) -> list[Structure]:
    """``n_beads`` copies of ``base`` with Gaussian displacements of ``sigma`` Å."""
    rng = np.random.default_rng(seed)
    pos = base[K.POSITIONS]
    return [
        {K.ATOMIC_NUMBERS: base[K.ATOMIC_NUMBERS], K.POSITIONS: pos + sigma * rng.standard_normal(pos.shape)}
        for _ in range(n_beads)
    ]


def _random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    q = rng.standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )


def water_droplet(n_atoms: int, seed: int = 0) -> Structure:
    """Non-periodic water droplet of exactly ``n_atoms`` atoms at liquid density (see module doc)."""
    if n_atoms < 1:
        raise DataError(f"n_atoms must be positive, got {n_atoms}")
    rng = np.random.default_rng(seed)
    n_mol = -(-n_atoms // 3)
    side = int(np.ceil(n_mol ** (1 / 3))) + 2
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3).astype(float)
    grid -= grid.mean(axis=0)
    order = np.argsort(np.linalg.norm(grid, axis=1), kind="stable")[:n_mol]
    centres = WATER_SPACING * grid[order]
    geometry = WATER_GEOMETRY - WATER_GEOMETRY.mean(axis=0)
    pos = centres[:, None, :] + np.einsum("mij,aj->mai", _random_rotations(n_mol, rng), geometry)
    z = np.tile([8, 1, 1], n_mol)
    return {K.ATOMIC_NUMBERS: z[:n_atoms].astype(np.int64), K.POSITIONS: pos.reshape(-1, 3)[:n_atoms]}


def inference_systems(quick: bool = False, data_dir: Path | str | None = None) -> dict[str, list[Structure]]:
    """The fixed-input energy+forces cases: name -> structures of one batch."""
    ethanol = rmd17("ethanol", data_dir=data_dir)[0]
    ethanol = {K.ATOMIC_NUMBERS: ethanol[K.ATOMIC_NUMBERS], K.POSITIONS: ethanol[K.POSITIONS]}
    aspirin = rmd17("aspirin", data_dir=data_dir)[0]
    aspirin = {K.ATOMIC_NUMBERS: aspirin[K.ATOMIC_NUMBERS], K.POSITIONS: aspirin[K.POSITIONS]}
    n_qm9, n_beads = (5, 4) if quick else (50, 64)
    return {
        "ethanol": [ethanol],
        "aspirin": [aspirin],
        f"qm9_{n_qm9}": qm9(n_qm9, data_dir),
        f"ring_polymer_{n_beads}": ring_polymer(ethanol, n_beads),
    }


def train_batch(n: int = 10, data_dir: Path | str | None = None) -> list[Structure]:
    """``n`` rMD17 ethanol frames spread evenly over the file (every 100th of the 1000 frames of
    the full set) with energy and forces."""
    every = rmd17("ethanol", slice(None), data_dir)
    stride = max(1, len(every) // n)
    return every[: stride * n : stride]
