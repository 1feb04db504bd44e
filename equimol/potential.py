"""Representation + heads + derivatives (forces, Hessian); saving and loading.

The derivative wrapper is the only place where forces are computed: F = −∂E/∂r by
autograd, with ``create_graph`` only when training needs second derivatives.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence

import torch
from torch import nn

from equimol import keys as K
from equimol.heads import build_head
from equimol.models import build_representation
from equimol.units import CHECKPOINT_UNITS

UNITS = CHECKPOINT_UNITS  # the units written into checkpoint metadata (equimol.units)
# 2: paper-exact defaults (Eq. 12 charges from scalars); equimol.io.migrate_spec reads version 1
CHECKPOINT_VERSION = 2


def compute_forces(energy: torch.Tensor, positions: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """F = −∂(Σ_b E_b)/∂r (N, 3) eV/Å. Molecules are independent, so summing is exact."""
    (grad,) = torch.autograd.grad(
        energy.sum(), positions, create_graph=create_graph, retain_graph=create_graph, allow_unused=True
    )
    if grad is None:
        return torch.zeros_like(positions)
    return -grad


class Potential(nn.Module):
    """A representation with output heads; ``forward`` adds predictions (and forces) to the batch.

    Parameters
    ----------
    representation: module mapping a batch to features (see :mod:`equimol.models`).
    heads: output heads (see :mod:`equimol.heads`); the energy head enables forces.
    spec: JSON-serialisable description {"model": {...}, "heads": [...]} used to rebuild it.
    """

    def __init__(self, representation: nn.Module, heads: Sequence[nn.Module], spec: dict | None = None):
        super().__init__()
        self.representation = representation
        self.heads = nn.ModuleList(heads)
        self.spec = spec or {}
        self.cutoff = float(representation.cutoff)
        self.metadata: dict = {}  # checkpoint metadata (units, statistics, config); set by equimol.io.load

    @property
    def outputs(self) -> tuple[str, ...]:
        out: list[str] = []
        for h in self.heads:
            out += [k for k in h.outputs if k not in out]
        if K.ENERGY in out:
            out.append(K.FORCES)
        return tuple(out)

    def properties(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Representation and heads only (no derivatives)."""
        feats = self.representation(batch)
        data = {**batch, **feats}
        out: dict[str, torch.Tensor] = {}
        for head in self.heads:
            res = head({**data, **out})
            out.update(res)
        return out

    def forward(
        self,
        batch: dict[str, torch.Tensor],
        forces: bool = True,
        create_graph: bool | None = None,
        stress: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Predictions for ``batch``: energy (B,) eV, forces (N,3) eV/Å, and any head outputs.

        ``stress`` adds the stress (B, 3, 3) eV/Å³ and virial (B, 3, 3) eV from the derivative
        of the energy under a homogeneous strain (:func:`strain_batch`); molecules without a
        cell get zero stress (no volume) but their virial. ``create_graph`` defaults to
        ``self.training`` (needed to train on forces).
        """
        if create_graph is None:
            create_graph = self.training
        want_forces = (forces or stress) and K.ENERGY in self.outputs
        batch = dict(batch)
        if want_forces:
            pos = batch[K.POSITIONS]
            if not pos.requires_grad:
                pos = pos.detach().requires_grad_(True)
            batch[K.POSITIONS] = pos
        with torch.enable_grad() if want_forces else contextlib.nullcontext():
            strain = None
            if stress and want_forces:
                batch, strain = strain_batch(batch)
            out = self.properties(batch)
            if strain is not None:
                out.update(_forces_and_stress(out[K.ENERGY], pos, strain, batch, create_graph))
                if not forces:
                    del out[K.FORCES]
            elif want_forces:
                out[K.FORCES] = compute_forces(out[K.ENERGY], batch[K.POSITIONS], create_graph)
        if not create_graph:
            out = {k: v.detach() for k, v in out.items()}
        return out


def strain_batch(batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The batch under a homogeneous strain ε (B, 3, 3), zero but differentiable: positions,
    cell shifts and cells become x (I + ε_sym), with ε_sym = (ε + εᵀ)/2 (row vectors, Å).
    ∂E/∂ε at ε = 0 is then the strain derivative that stress and virial need."""
    pos = batch[K.POSITIONS]
    n_graphs = batch[K.N_ATOMS].shape[0]
    strain = torch.zeros((n_graphs, 3, 3), dtype=pos.dtype, device=pos.device, requires_grad=True)
    deform = torch.eye(3, dtype=pos.dtype, device=pos.device) + 0.5 * (strain + strain.transpose(1, 2))
    graph = batch[K.BATCH]
    out = {**batch, K.POSITIONS: torch.einsum("ni,nij->nj", pos, deform[graph])}
    if K.EDGE_SHIFTS in batch:
        centre = graph[batch[K.EDGE_INDEX][0]]
        out[K.EDGE_SHIFTS] = torch.einsum("ei,eij->ej", batch[K.EDGE_SHIFTS].to(pos.dtype), deform[centre])
    if K.CELL in batch:
        out[K.CELL] = batch[K.CELL].to(pos.dtype) @ deform
    return out, strain


def _forces_and_stress(
    energy: torch.Tensor,
    positions: torch.Tensor,
    strain: torch.Tensor,
    batch: dict[str, torch.Tensor],
    create_graph: bool,
) -> dict[str, torch.Tensor]:
    """Forces −∂E/∂r (N, 3) eV/Å, virial −∂E/∂ε (B, 3, 3) eV and stress (1/V) ∂E/∂ε eV/Å³."""
    d_pos, d_strain = torch.autograd.grad(
        energy.sum(),
        (positions, strain),
        create_graph=create_graph,
        retain_graph=create_graph,
        allow_unused=True,
    )
    d_pos = torch.zeros_like(positions) if d_pos is None else d_pos
    d_strain = torch.zeros_like(strain) if d_strain is None else d_strain
    stress = torch.zeros_like(d_strain)
    if K.CELL in batch:
        periodic = (
            batch[K.PBC].any(dim=-1) if K.PBC in batch else torch.ones_like(stress[:, 0, 0], dtype=torch.bool)
        )
        volume = torch.linalg.det(batch[K.CELL].to(d_strain.dtype)).abs()
        stress = torch.where(periodic[:, None, None], d_strain / volume[:, None, None], stress)
    return {K.FORCES: -d_pos, K.VIRIAL: -d_strain, K.STRESS: stress}


def compute_hessian(potential: Potential, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Hessian ∂²E/∂r∂r (3N, 3N) eV/Å² of a batch holding one molecule, by double autograd."""
    pos = batch[K.POSITIONS].detach().clone().requires_grad_(True)
    with torch.enable_grad():
        energy = potential.properties({**batch, K.POSITIONS: pos})[K.ENERGY].sum()
        (grad,) = torch.autograd.grad(energy, pos, create_graph=True)
        grad = grad.reshape(-1)
        rows = [
            torch.autograd.grad(grad[k], pos, retain_graph=True)[0].reshape(-1) for k in range(grad.numel())
        ]
    return torch.stack(rows).detach()


def build_potential(spec: dict) -> Potential:
    """Build from ``{"model": {"name": ..., "options": {...}}, "heads": [{"name": ..., "options": {...}}]}``."""
    model = spec.get("model", {"name": "painn"})
    representation = build_representation(model["name"], **model.get("options", {}))
    n_features = representation.config.n_features
    n_vectors = getattr(representation, "n_vector_features", None)  # where vectors ≠ F channels (L1Net)
    # a head is {"name": ..., "options": {...}} or just its name (``heads: [energy, dipole]``)
    head_specs = [h if isinstance(h, dict) else {"name": str(h)} for h in spec.get("heads") or ["energy"]]
    heads = [build_head(h["name"], n_features, n_vectors, **h.get("options", {})) for h in head_specs]
    full = {
        "model": {"name": model["name"], "options": representation.hyperparameters()},
        "heads": head_specs,
    }
    return Potential(representation, heads, full)


def build_model(name: str = "painn", heads: Sequence[str | dict] = ("energy",), **options) -> Potential:
    """A model by name (``painn``, ``schnet``, ``so3krates``, ``l0net``, ``l1net``) with the paper's
    default hyperparameters (overridden by ``options``) and the given output heads."""
    head_specs = [h if isinstance(h, dict) else {"name": h} for h in heads]
    return build_potential({"model": {"name": name, "options": options}, "heads": head_specs})


def metadata_json(potential: Potential, extra: dict | None = None) -> str:
    meta = {"format": "equimol", "version": CHECKPOINT_VERSION, "units": UNITS, "spec": potential.spec}
    meta.update(extra or {})
    return json.dumps(meta)
