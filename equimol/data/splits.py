"""Train/validation/test splits: random (seeded) or read from a file; saved next to a run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from equimol.errors import ConfigError


def random_split(n: int, n_train: int, n_val: int, n_test: int = 0, seed: int = 0) -> dict[str, list[int]]:
    """Disjoint random index sets of the given sizes drawn from range(n)."""
    if n_train + n_val + n_test > n:
        raise ConfigError(f"split sizes {n_train}+{n_val}+{n_test} exceed the {n} structures available")
    perm = np.random.default_rng(seed).permutation(n)
    return {
        "train": sorted(perm[:n_train].tolist()),
        "val": sorted(perm[n_train : n_train + n_val].tolist()),
        "test": sorted(perm[n_train + n_val : n_train + n_val + n_test].tolist()),
    }


def save_split(path: str | os.PathLike, split: dict[str, list[int]]) -> None:
    from equimol.io import atomic_write  # equimol.io imports torch: only when writing

    with atomic_write(path) as f:
        f.write(json.dumps(split))


def load_split(path: str | os.PathLike, n: int | None = None) -> dict[str, list[int]]:
    """Read a split JSON ``{"train": [...], "val": [...], "test": [...]}`` (or .npz with the same keys)."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            d = np.load(path, allow_pickle=False)
            split = {k: d[k].astype(int).tolist() for k in d.files}
        else:
            split = {k: list(map(int, v)) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: cannot read split file ({e})") from None
    for k in ("train", "val"):
        if k not in split:
            raise ConfigError(f"{path}: split file lacks {k!r}")
    if n is not None:
        for k, idx in split.items():
            if idx and (min(idx) < 0 or max(idx) >= n):
                raise ConfigError(f"{path}: split {k!r} has indices outside 0..{n - 1}")
    return split
