"""The one way from structures or positions to predictions.

    structures / positions ──► batch (neighbour lists, Verlet skin cache, dtype, device)
                           ──► Potential (or its compiled fast path) ──► results with units

Every consumer goes through :class:`Evaluator`: the MD force function, the i-PI driver, the
ASE calculator, harmonic-spectrum derivatives, ``equimol evaluate``/``predict`` and the
benchmark cases. None of them builds batches or neighbour lists itself.

Neighbour lists (vesin) are built at ``cutoff + skin`` and reused until an atom has moved more
than ``skin / 2`` or the atoms or cell changed (a Verlet list). Edges between ``cutoff`` and
``cutoff + skin`` contribute exactly zero (every model's cutoff function vanishes there), so
results equal a fresh list at ``cutoff``.

The evaluator never changes the potential it is given (not even its train/eval mode): when
``dtype`` or ``device`` differ from the potential's parameters it evaluates a private copy cast
to ``dtype`` on ``device`` (float64 buffers such as energy references stay float64).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch

from equimol import keys as K
from equimol.data.batch import collate
from equimol.data.neighbors import add_neighbors, edge_pairs, neighbor_list
from equimol.data.validate import validate_structure

Structure = dict[str, np.ndarray]
RESULT_KEYS = (
    K.ENERGY,
    K.FORCES,
    K.DIPOLE,
    K.POLARIZABILITY,
    K.STRESS,
    K.VIRIAL,
    K.ENERGY_STD,
    K.FORCES_STD,
    K.DIPOLE_STD,
    K.POLARIZABILITY_STD,
    K.FORCE_DISAGREEMENT,
)
PER_ATOM_RESULTS = (K.FORCES, K.FORCES_STD)


def cast_parameters(
    potential: torch.nn.Module, dtype: torch.dtype, device: str | torch.device | None = None
) -> torch.nn.Module:
    """``potential`` if its floating parameters already have ``dtype`` (and live on ``device``),
    else a copy cast and moved (parameters only: float64 buffers such as energy references keep
    their precision). The caller's module is never changed."""
    params = [p for p in potential.parameters() if p.is_floating_point()]
    device = None if device is None else torch.device(device)
    same_device = device is None or all(p.device == device for p in potential.parameters())
    if all(p.dtype == dtype for p in params) and same_device:
        return potential
    other = copy.deepcopy(potential)
    for p in other.parameters():
        if p.is_floating_point():
            p.data = p.data.to(dtype)
    return other if device is None else other.to(device)


class NeighborCache:
    """Verlet neighbour lists for S structures of the same atoms: (S, N, 3) positions Å.

    ``edges(positions, cell)`` returns ``edge_index`` (2, E) into the flat S·N atoms,
    ``edge_shifts`` (E, 3) Å, ``edge_pair`` (E,) and ``pair_edge`` (P,), rebuilt only when needed.
    """

    def __init__(self, cutoff: float, skin: float = 0.0):
        if skin < 0:
            raise ValueError(f"skin must be ≥ 0 Å, got {skin}")
        self.cutoff, self.skin = float(cutoff), float(skin)
        self._ref: np.ndarray | None = None
        self._cell: np.ndarray | None = None
        self._lists: tuple[np.ndarray, ...] | None = None
        self.n_builds = 0

    def _stale(self, pos: np.ndarray, cell: np.ndarray | None) -> bool:
        if self._ref is None or self._ref.shape != pos.shape or self.skin == 0.0:
            return True
        if (cell is None) != (self._cell is None) or (
            cell is not None and not np.array_equal(cell, self._cell)
        ):
            return True
        return bool(np.max(np.linalg.norm(pos - self._ref, axis=-1)) > 0.5 * self.skin)

    def edges(self, pos: np.ndarray, cell: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """``pos`` (S, N, 3) Å; ``cell`` (S, 3, 3) Å (rows are lattice vectors) or None."""
        if self._stale(pos, cell):
            s_count, n, _ = pos.shape
            edges, shifts = [], []
            for s in range(s_count):
                c = None if cell is None else cell[s]
                ei, sh = neighbor_list(
                    pos[s], self.cutoff + self.skin, c, None if c is None else np.ones(3, bool)
                )
                edges.append(ei + s * n)
                shifts.append(sh)
            edge_index, edge_shifts = np.concatenate(edges, axis=1), np.concatenate(shifts)
            pair, first = edge_pairs(edge_index, edge_shifts)
            self._lists = (edge_index, edge_shifts, pair, first)
            self._ref, self._cell = pos.copy(), None if cell is None else cell.copy()
            self.n_builds += 1
        return self._lists


class Evaluator:
    """Predictions of ``potential`` for structures or positions, in internal units.

    Parameters
    ----------
    potential: a :class:`~equimol.potential.Potential` (or its compiled fast path,
        :class:`equimol.compile.CompiledPotential`); evaluated without a graph for training
        (its train/eval mode is left as it is).
    dtype: precision of the network evaluation (positions are given to it in this dtype).
    device: torch device of the evaluation.
    skin: Verlet skin in Å for repeated calls on the same atoms (MD, optimisers, i-PI, ASE).
    stress: also compute the stress (B, 3, 3) eV/Å³ and virial (B, 3, 3) eV from the strain
        derivative of the energy (zero for non-periodic structures).
    validate: check structures (elements, finite coordinates, overlaps) before evaluating.
    """

    def __init__(
        self,
        potential,
        *,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        skin: float = 0.0,
        stress: bool = False,
        validate: bool = True,
    ):
        if isinstance(potential, torch.nn.Module):
            potential = cast_parameters(potential, dtype, device)
        self.potential = potential
        self.cutoff = float(potential.cutoff)
        self.dtype, self.device = dtype, torch.device(device)
        self.stress, self.validate = stress, validate
        self.cache = NeighborCache(self.cutoff, skin)
        self.n_calls = 0

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(self.potential.outputs)

    @property
    def n_builds(self) -> int:
        return self.cache.n_builds

    # --- batches -------------------------------------------------------------------------------
    def batch(self, structures: Sequence[Structure]) -> dict[str, torch.Tensor]:
        """Collate ``structures`` (any sizes, labels included) with fresh neighbour lists at the
        cutoff, in ``dtype`` on ``device``."""
        if not structures:
            raise ValueError("no structures to evaluate")
        if self.validate:
            for i, s in enumerate(structures):
                validate_structure(s, "structures", i)
        return structures_batch(structures, self.cutoff, self.dtype, self.device)

    def positions_batch(
        self, positions: torch.Tensor | np.ndarray, atomic_numbers, cell: np.ndarray | None = None
    ) -> dict[str, torch.Tensor]:
        """A batch of S copies of one set of atoms: ``positions`` (S, N, 3) Å, ``atomic_numbers``
        (N,), ``cell`` (S, 3, 3) Å or None; neighbour lists from the Verlet cache."""
        pos = torch.as_tensor(positions)
        s_count, n, _ = pos.shape
        pos_np = pos.detach().cpu().double().numpy()
        cell_np = None if cell is None else np.asarray(cell, dtype=np.float64).reshape(s_count, 3, 3)
        edge_index, shifts, pair, first = self.cache.edges(pos_np, cell_np)
        z = torch.as_tensor(np.asarray(atomic_numbers), dtype=torch.int64, device=self.device)
        batch = {
            K.POSITIONS: pos.detach().reshape(s_count * n, 3).to(self.device, self.dtype),
            K.ATOMIC_NUMBERS: z.repeat(s_count),
            K.BATCH: torch.arange(s_count, device=self.device).repeat_interleave(n),
            K.N_ATOMS: torch.full((s_count,), n, dtype=torch.int64, device=self.device),
            K.EDGE_INDEX: torch.from_numpy(edge_index).to(self.device),
            K.EDGE_SHIFTS: torch.from_numpy(shifts).to(self.device, self.dtype),
            K.EDGE_PAIR: torch.from_numpy(pair).to(self.device),
            K.PAIR_EDGE: torch.from_numpy(first).to(self.device),
        }
        if cell_np is not None:
            batch[K.CELL] = torch.from_numpy(cell_np).to(self.device, self.dtype)
            batch[K.PBC] = torch.ones(s_count, 3, dtype=torch.bool, device=self.device)
        return batch

    # --- predictions ----------------------------------------------------------------------------
    def __call__(self, batch: dict[str, torch.Tensor], forces: bool = True) -> dict[str, torch.Tensor]:
        """Predictions (detached tensors) for a batch made by :meth:`batch` or :meth:`positions_batch`."""
        self.n_calls += 1
        if self.stress:
            return self.potential(batch, forces=forces, create_graph=False, stress=True)
        return self.potential(batch, forces=forces, create_graph=False)

    def predict(
        self, structures: Sequence[Structure], batch_size: int = 50, forces: bool = True
    ) -> list[dict[str, np.ndarray]]:
        """Per-structure NumPy results (float64, internal units): energy () eV, forces (n, 3) eV/Å
        (unless ``forces=False``), dipole (3,) e·Å, polarizability (3, 3) Å³, stress and virial
        (3, 3) when the evaluator was made with ``stress=True``."""
        results: list[dict[str, np.ndarray]] = []
        for k in range(0, len(structures), batch_size):
            chunk = structures[k : k + batch_size]
            out = self(self.batch(chunk), forces=forces)
            results += split_results(out, [len(s[K.ATOMIC_NUMBERS]) for s in chunk])
        return results

    def predict_positions(
        self, positions: torch.Tensor | np.ndarray, atomic_numbers, cell: np.ndarray | None = None
    ) -> dict[str, torch.Tensor]:
        """Predictions for S copies of one set of atoms (see :meth:`positions_batch`): energy (S,),
        forces (S, N, 3) and any other outputs, as tensors in ``dtype``."""
        pos = torch.as_tensor(positions)
        out = self(self.positions_batch(pos, atomic_numbers, cell))
        for key in PER_ATOM_RESULTS:
            if key in out:
                out[key] = out[key].reshape(pos.shape)
        return out


def structures_batch(
    structures: Sequence[Structure], cutoff: float, dtype: torch.dtype, device: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Neighbour lists at ``cutoff`` Å (vesin) and collation into one batch (labels included):
    what :meth:`Evaluator.batch` does, for callers that have no potential at hand (benchmarks)."""
    return collate([add_neighbors(s, cutoff) for s in structures], dtype, device)


def split_results(out: dict[str, torch.Tensor], n_atoms: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """Batched predictions → one dict of float64 NumPy arrays per structure."""
    arrays = {k: out[k].detach().double().cpu().numpy() for k in RESULT_KEYS if k in out}
    starts = np.concatenate([[0], np.cumsum(n_atoms)])
    results = []
    for b, n in enumerate(n_atoms):
        r = {}
        for key, value in arrays.items():
            r[key] = value[starts[b] : starts[b] + n] if key in PER_ATOM_RESULTS else value[b]
        results.append(r)
    return results
