"""Datasets: a list of structures in memory, or a lazy HDF5 store, plus neighbour lists."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from equimol.data.neighbors import add_neighbors


class GraphDataset(torch.utils.data.Dataset):
    """Structures with neighbour lists for a fixed cutoff (Å).

    ``source`` is any sequence of structure dicts (a list in memory or a lazy
    :class:`~equimol.data.store.Store`). Neighbour lists are computed on first access and,
    with ``cache=True``, kept (memory grows with the number of edges).
    """

    def __init__(self, source: Sequence[dict[str, np.ndarray]], cutoff: float, cache: bool = True):
        self.source = source
        self.cutoff = float(cutoff)
        self._cache: dict[int, dict[str, np.ndarray]] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        s = add_neighbors(self.source[i], self.cutoff)
        if self._cache is not None:
            self._cache[i] = s
        return s


class Subset(torch.utils.data.Dataset):
    def __init__(self, dataset: torch.utils.data.Dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.dataset[self.indices[i]]
