"""Atomwise energy head with scale and per-element shift."""

from __future__ import annotations

import torch
from torch import nn

from equimol import keys as K
from equimol.nn.mlp import mlp
from equimol.nn.repulsion import ZBLRepulsion
from equimol.nn.scatter import scatter_sum


def set_scale_and_references(head: nn.Module, scale: float, atom_refs) -> None:
    """Fill a head's float64 ``scale`` buffer and per-element ``atom_refs`` buffer (indexed by Z)."""
    head.scale.fill_(float(scale))
    refs = torch.as_tensor(atom_refs, dtype=torch.float64)
    head.atom_refs.zero_()
    head.atom_refs[: len(refs)] = refs[: len(head.atom_refs)]


class EnergyHead(nn.Module):
    """E = Σ_i (σ · e_i(s_i) + e_Z_i), e_i from a two-layer MLP F → F/2 → 1 (PaiNN Sec. 4).

    σ (eV, typically the force RMS) and the per-element references e_Z (eV) are buffers set
    from training statistics. The sum is taken in float64 so total energies of thousands of
    eV keep sub-meV precision even when the network runs in float32.

    ``repulsion="zbl"`` adds the ZBL nuclear repulsion, switched off smoothly at
    ``repulsion_cutoff_factor`` × the sum of the covalent radii, to every atom's energy
    (:mod:`equimol.nn.repulsion`; with the factor 1 it also stiffens some bonds at their
    equilibrium length, which the network learns to cancel). Not in the papers, so off by
    default; it keeps ring-polymer beads (64 beads: bead temperature 64·T) out of the
    short-bond region where a network trained on near-equilibrium data may turn attractive.
    """

    outputs = (K.ENERGY,)

    def __init__(
        self,
        n_features: int,
        max_z: int = 119,
        hidden: int | None = None,
        repulsion: str | None = None,
        repulsion_cutoff_factor: float = 1.0,
    ):
        super().__init__()
        self.net = mlp([n_features, hidden or max(n_features // 2, 1), 1])
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))
        self.register_buffer("atom_refs", torch.zeros(max_z, dtype=torch.float64))
        kind = str(repulsion).lower() if repulsion not in (None, False) else "none"
        if kind not in ("none", "zbl"):
            raise ValueError(f"energy head: repulsion must be 'zbl' or none, got {repulsion!r}")
        self.repulsion = ZBLRepulsion(max_z, repulsion_cutoff_factor) if kind == "zbl" else None

    def set_statistics(self, scale: float, atom_refs) -> None:
        set_scale_and_references(self, scale, atom_refs)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        e = self.net(batch[K.SCALAR_FEATURES]).squeeze(-1)
        e = e.double() * self.scale + self.atom_refs[batch[K.ATOMIC_NUMBERS]]
        if self.repulsion is not None:
            e = e + self.repulsion(batch)
        n_graphs = batch[K.N_ATOMS].shape[0]
        return {K.ATOMIC_ENERGIES: e, K.ENERGY: scatter_sum(e, batch[K.BATCH], n_graphs)}
