"""Committee (query-by-committee) uncertainty: N models that differ in seed and training split,
evaluated as one potential.

The committee's prediction of every output is the mean over the members; its uncertainty is the
standard deviation over the members (population form, ddof = 0): ``energy_std`` (B,) eV,
``forces_std`` (N, 3) eV/Å per Cartesian component, ``dipole_std``, ``polarizability_std``, and
``force_disagreement`` (B,) eV/Å = max_i sqrt(Σ_α σ²_iα), the largest per-atom force deviation
of each structure (DeePMD's ``max_devi_f``). On the training distribution the members agree to
about their test error; where a model extrapolates (a stretched bond, a geometry no member saw)
they disagree, which is what MD watches (``equimol md --max-force-disagreement``) and what active
learning selects by (:mod:`equimol.active_learning`).

A committee is written as ``committee.json`` beside (or above) its members' checkpoints::

    {"format": "equimol-committee", "version": 1, "members": ["member_0/best.pt", ...]}

with member paths relative to the JSON file. :func:`equimol.io.load` reads a checkpoint, a
committee JSON, or a folder holding ``committee.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from equimol import keys as K
from equimol.errors import ConfigError

COMMITTEE_FILE = "committee.json"
COMMITTEE_FORMAT = "equimol-committee"
# outputs whose spread is reported, and the key of the spread
STD_KEYS = {
    K.ENERGY: K.ENERGY_STD,
    K.FORCES: K.FORCES_STD,
    K.DIPOLE: K.DIPOLE_STD,
    K.POLARIZABILITY: K.POLARIZABILITY_STD,
}


def force_disagreement(forces_std: torch.Tensor, batch_index: torch.Tensor, n_graphs: int) -> torch.Tensor:
    """max over the atoms of each structure of sqrt(Σ_α σ²_iα): (N, 3) eV/Å → (B,) eV/Å."""
    per_atom = forces_std.square().sum(-1).sqrt()
    out = torch.zeros(n_graphs, dtype=per_atom.dtype, device=per_atom.device)
    return out.scatter_reduce(0, batch_index, per_atom, reduce="amax", include_self=True)


class Committee(nn.Module):
    """N potentials with the same outputs and cutoff, evaluated as one.

    ``forward(batch, forces=True, create_graph=None, stress=False)`` returns, for every output
    of the members, the mean over the members under the usual key and the spread under
    :data:`STD_KEYS` (plus ``force_disagreement``). Members are evaluated one after the other on
    the same batch (one neighbour list). ``member_outputs`` keeps the individual predictions of
    the last call when ``keep_members`` is set (for plots and tests).
    """

    def __init__(self, members: Sequence[nn.Module], keep_members: bool = False):
        super().__init__()
        if len(members) < 2:
            raise ConfigError(f"a committee needs at least 2 models, got {len(members)}")
        outputs = [tuple(m.outputs) for m in members]
        if any(o != outputs[0] for o in outputs):
            raise ConfigError(f"committee members predict different outputs: {sorted(set(outputs))}")
        cutoffs = sorted({round(float(m.cutoff), 9) for m in members})
        if len(cutoffs) > 1:
            raise ConfigError(f"committee members have different cutoffs {cutoffs} Å; train them with one")
        self.members = nn.ModuleList(members)
        self.cutoff = float(members[0].cutoff)
        self.keep_members = keep_members
        self.member_outputs: list[dict[str, torch.Tensor]] = []
        first = members[0]
        self.spec = getattr(first, "spec", {})
        self.metadata: dict = {"committee": [getattr(m, "metadata", {}) for m in members]}

    @property
    def outputs(self) -> tuple[str, ...]:
        base = tuple(self.members[0].outputs)
        extra = tuple(STD_KEYS[k] for k in base if k in STD_KEYS)
        return base + extra + ((K.FORCE_DISAGREEMENT,) if K.FORCES in base else ())

    def __len__(self) -> int:
        return len(self.members)

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        forces: bool = True,
        create_graph: bool | None = None,
        stress: bool = False,
    ) -> dict[str, torch.Tensor]:
        results = [m(batch, forces=forces, create_graph=create_graph, stress=stress) for m in self.members]
        self.member_outputs = results if self.keep_members else []
        out: dict[str, torch.Tensor] = {}
        for key in results[0]:
            if not all(key in r for r in results):
                continue
            stack = torch.stack([r[key] for r in results])
            out[key] = stack.mean(0)
            if key in STD_KEYS:
                out[STD_KEYS[key]] = stack.std(0, correction=0)
        if K.FORCES_STD in out:
            out[K.FORCE_DISAGREEMENT] = force_disagreement(
                out[K.FORCES_STD], batch[K.BATCH], int(batch[K.N_ATOMS].shape[0])
            )
        return out


def write_committee(path: str | os.PathLike, members: Sequence[str | os.PathLike]) -> Path:
    """Write ``committee.json`` at ``path`` (a file, or a folder to hold one) listing ``members``
    (checkpoint paths, stored relative to the JSON file's folder)."""
    from equimol.io import write_text

    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / COMMITTEE_FILE
    folder = path.parent.resolve()
    rel = [os.path.relpath(Path(m).resolve(), folder) for m in members]
    payload = {"format": COMMITTEE_FORMAT, "version": 1, "members": rel}
    return write_text(path, json.dumps(payload, indent=1) + "\n")


def committee_members(path: str | os.PathLike) -> list[Path]:
    """The member checkpoints listed by a committee JSON (or a folder holding ``committee.json``)."""
    path = Path(path)
    if path.is_dir():
        path = path / COMMITTEE_FILE
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable committee file ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != COMMITTEE_FORMAT:
        raise ConfigError(f'{path}: not an equimol committee file (no "format": "{COMMITTEE_FORMAT}")')
    members = [path.parent / m for m in payload.get("members", [])]
    missing = [str(m) for m in members if not m.exists()]
    if missing:
        raise ConfigError(f"{path}: member checkpoint(s) missing: {', '.join(missing)}")
    return members


def is_committee_path(path: str | os.PathLike) -> bool:
    """A committee JSON (``*.json``) or a folder holding ``committee.json``."""
    p = Path(path)
    return p.suffix == ".json" or (p.is_dir() and (p / COMMITTEE_FILE).exists())


def load_committee(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> Committee:
    """A :class:`Committee` from a committee JSON, a folder holding one, or a list of checkpoints."""
    from equimol.io import load

    if isinstance(paths, (str, os.PathLike)):
        paths = committee_members(paths)
    return Committee([load(p, device=device, dtype=dtype) for p in paths]).eval()
