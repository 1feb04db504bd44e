"""Polarizability head (PaiNN Eq. 14) and invariants of polarizability tensors."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from equimol import keys as K
from equimol.heads.dipole import CentreOfMass, vector_features
from equimol.heads.energy import set_scale_and_references
from equimol.nn.gated import gated_output_network
from equimol.nn.scatter import scatter_sum


def isotropic(alpha: torch.Tensor) -> torch.Tensor:
    """Isotropic polarizability ᾱ = tr(α)/3 (...,) of tensors α (..., 3, 3)."""
    return torch.diagonal(alpha, dim1=-2, dim2=-1).sum(-1) / 3


def traceless(alpha: torch.Tensor) -> torch.Tensor:
    """Symmetric traceless part ½(α + αᵀ) − ᾱ I (..., 3, 3)."""
    sym = 0.5 * (alpha + alpha.transpose(-1, -2))
    eye = torch.eye(3, dtype=alpha.dtype, device=alpha.device)
    return sym - isotropic(alpha)[..., None, None] * eye


def anisotropy(alpha: torch.Tensor) -> torch.Tensor:
    """Polarizability anisotropy γ (...,), in the units of α (Raman convention).

    γ² = ½[(α_xx−α_yy)² + (α_yy−α_zz)² + (α_zz−α_xx)² + 6(α_xy² + α_yz² + α_zx²)]
       = (3/2) Σ_ij β_ij², with β the symmetric traceless part of α (rotation invariant).
    """
    beta = traceless(alpha)
    return torch.sqrt(1.5 * (beta**2).sum(dim=(-2, -1)))


class PolarizabilityHead(nn.Module):
    """α = Σ_i [α₀(s_i) I₃ + ν(v_i) ⊗ r_i + r_i ⊗ ν(v_i)] (B, 3, 3) Å³, PaiNN Eq. 14.

    r_i is the position relative to the molecule's centre of mass (Å), so α is translation
    invariant; it is symmetric by construction and rotates as R α Rᵀ. α₀ and ν come from
    the two-block gated equivariant output network. The isotropic term is
    α₀_i = scale · a_i + ref[Z_i] with buffers ``scale`` (Å³) and per-element ``atom_refs``
    (Å³), set from training data with :meth:`set_statistics`.
    """

    outputs = (K.POLARIZABILITY,)

    def __init__(
        self,
        n_features: int,
        max_z: int = 119,
        n_hidden: int | None = None,
        n_vector_features: int | None = None,
    ):
        super().__init__()
        self.net = gated_output_network(n_features, 1, n_hidden, n_vector_features)
        self.com = CentreOfMass()
        self.register_buffer("scale", torch.ones((), dtype=torch.float64))
        self.register_buffer("atom_refs", torch.zeros(max_z, dtype=torch.float64))

    def set_statistics(self, scale: float, atom_refs) -> None:
        """Scale (Å³) of the atomwise outputs and per-element isotropic references (Å³)."""
        set_scale_and_references(self, scale, atom_refs)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        a, nu = self.net(batch[K.SCALAR_FEATURES], vector_features(batch, "polarizability"))
        dtype = a.dtype
        nu = nu[..., 0] * self.scale.to(dtype)
        a0 = a[:, 0] * self.scale.to(dtype) + self.atom_refs.to(dtype)[batch[K.ATOMIC_NUMBERS]]
        r = self.com(batch)
        outer = nu[:, :, None] * r[:, None, :]
        eye = torch.eye(3, dtype=dtype, device=a.device)
        alpha_i = a0[:, None, None] * eye + outer + outer.transpose(1, 2)
        return {K.POLARIZABILITY: scatter_sum(alpha_i, batch[K.BATCH], batch[K.N_ATOMS].shape[0])}


def isotropic_atom_references(structures: Iterable[dict[str, np.ndarray]], max_z: int = 119) -> np.ndarray:
    """Per-element isotropic polarizabilities (Å³) fitting ᾱ_m ≈ Σ_i ref[Z_i] (least squares).

    A starting point for :meth:`PolarizabilityHead.set_statistics`.
    """
    from equimol.data.stats import fit_atom_references

    # fit_atom_references fits the ENERGY key; feed it the isotropic polarizability instead.
    proxies = (
        {K.ATOMIC_NUMBERS: s[K.ATOMIC_NUMBERS], K.ENERGY: np.trace(s[K.POLARIZABILITY]) / 3}
        for s in structures
    )
    return fit_atom_references(proxies, max_z)
