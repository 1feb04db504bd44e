"""Dipole moment heads: latent partial charges (PaiNN Eq. 12) plus atomic dipoles (Eq. 13).

Positions enter relative to each molecule's centre of mass, and the predicted charges are
shifted per molecule so that they sum to the total charge (0 unless the batch carries
``total_charge``). For neutral molecules the dipole is then independent of the origin; for
charged molecules the dipole depends on the origin and is reported about the centre of
mass: reference data for ions must use the same origin.
"""

from __future__ import annotations

import torch
from ase.data import atomic_masses
from torch import nn

from equimol import keys as K
from equimol.errors import ConfigError
from equimol.nn.gated import gated_output_network
from equimol.nn.mlp import mlp
from equimol.nn.scatter import scatter_sum


def vector_features(batch: dict[str, torch.Tensor], head: str) -> torch.Tensor:
    """VECTOR_FEATURES (N, 3, F) of ``batch``, or a ConfigError naming ``head``."""
    v = batch.get(K.VECTOR_FEATURES)
    if v is None:
        raise ConfigError(
            f"head {head!r} needs vector features (N, 3, F), but the representation provides only "
            "scalars; use an equivariant representation (e.g. painn with vectors=True)"
        )
    return v


class CentreOfMass(nn.Module):
    """Positions relative to each molecule's centre of mass, r_i − R_b (N, 3) Å.

    Masses (amu) are ASE's standard atomic masses, held as a non-persistent buffer.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("masses", torch.as_tensor(atomic_masses, dtype=torch.float64), persistent=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pos, idx = batch[K.POSITIONS], batch[K.BATCH]
        n_graphs = batch[K.N_ATOMS].shape[0]
        m = self.masses[batch[K.ATOMIC_NUMBERS]].to(pos.dtype)
        total = scatter_sum(m, idx, n_graphs)
        com = scatter_sum(m[:, None] * pos, idx, n_graphs) / total[:, None]
        return pos - com[idx]


def constrain_charges(
    q: torch.Tensor, batch: dict[str, torch.Tensor], use_total_charge: bool
) -> torch.Tensor:
    """Shift raw charges q (N,) e per molecule so that Σ_i q_i = Q_b (Q_b = 0 if not given).

    The excess Q_b − Σ_i q̃_i is spread evenly over the atoms of molecule b.
    """
    idx, n_atoms = batch[K.BATCH], batch[K.N_ATOMS]
    excess = -scatter_sum(q, idx, n_atoms.shape[0])
    if use_total_charge and K.TOTAL_CHARGE in batch:
        excess = excess + batch[K.TOTAL_CHARGE].to(q.dtype)
    return q + (excess / n_atoms.to(q.dtype))[idx]


class DipoleHead(nn.Module):
    """μ = Σ_i q_i (r_i − R_com) [+ Σ_i μ_i], PaiNN Eq. 12 (charges) and Eq. 13 (+ atomic dipoles).

    Outputs ``dipole`` (B, 3) e·Å, ``partial_charges`` (N,) e and, with ``atomic_dipoles``,
    ``atomic_dipoles`` (N, 3) e·Å. As the paper writes them: Eq. 12 takes the charges
    q_i = q(s_i) from the scalar features only (an atomwise MLP F → F/2 → 1); Eq. 13 takes
    q_i and μ_i from PaiNN's two-block gated equivariant output network (F → F/2 → 1).

    Options
    -------
    atomic_dipoles: add the atomic dipoles μ_i(v_i) of Eq. 13 (needs vector features).
    total_charge: read per-molecule charges (e) from the batch key ``total_charge`` when present;
        otherwise every molecule is neutral.
    charge_net: ``None`` (default: ``"mlp"`` for Eq. 12, ``"gated"`` for Eq. 13), ``"mlp"``
        (charges from scalar features only) or ``"gated"``. ``"gated"`` without atomic dipoles
        is a variant, not Eq. 12: its charges also see ‖W₂ v_i‖ through the gate, which blurs
        the Eq. 12 vs Eq. 13 ablation (checkpoints of format version 1 used it).
    n_hidden: width of the intermediate layer (default F/2).
    n_vector_features: vector channels of the representation where they differ from F (L1Net).
    """

    def __init__(
        self,
        n_features: int,
        atomic_dipoles: bool = True,
        total_charge: bool = True,
        charge_net: str | None = None,
        n_hidden: int | None = None,
        n_vector_features: int | None = None,
    ):
        super().__init__()
        if charge_net is None:
            charge_net = "gated" if atomic_dipoles else "mlp"
        if charge_net not in ("gated", "mlp"):
            raise ConfigError(f"dipole head: charge_net must be 'gated' or 'mlp', got {charge_net!r}")
        if charge_net == "mlp" and atomic_dipoles:
            raise ConfigError("dipole head: atomic_dipoles=True needs charge_net='gated' (vector outputs)")
        self.atomic_dipoles = atomic_dipoles
        self.use_total_charge = total_charge
        self.charge_net = charge_net
        hidden = n_hidden or max(n_features // 2, 1)
        if charge_net == "gated":
            self.net = gated_output_network(n_features, 1, hidden, n_vector_features)
        else:
            self.net = mlp([n_features, hidden, 1])
        self.com = CentreOfMass()
        self.outputs = (K.DIPOLE, K.PARTIAL_CHARGES) + ((K.ATOMIC_DIPOLES,) if atomic_dipoles else ())

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        s = batch[K.SCALAR_FEATURES]
        if self.charge_net == "gated":
            q, mu = self.net(s, vector_features(batch, "dipole"))
            mu = mu[..., 0]
        else:
            q, mu = self.net(s), None
        q = constrain_charges(q[:, 0], batch, self.use_total_charge)
        contrib = q[:, None] * self.com(batch)
        out = {K.PARTIAL_CHARGES: q}
        if self.atomic_dipoles:
            contrib = contrib + mu
            out[K.ATOMIC_DIPOLES] = mu
        out[K.DIPOLE] = scatter_sum(contrib, batch[K.BATCH], batch[K.N_ATOMS].shape[0])
        return out


class DipoleMagnitudeHead(nn.Module):
    """|μ| (B,) e·Å of the :class:`DipoleHead` dipole (QM9's μ target); also returns ``dipole``.

    Takes the same options as :class:`DipoleHead`.
    """

    def __init__(self, n_features: int, **options):
        super().__init__()
        self.dipole = DipoleHead(n_features, **options)
        self.outputs = (K.DIPOLE_MAGNITUDE, *self.dipole.outputs)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self.dipole(batch)
        # vector_norm has a zero (not NaN) subgradient at μ = 0, which matters for μ = 0 targets (CH4).
        out[K.DIPOLE_MAGNITUDE] = torch.linalg.vector_norm(out[K.DIPOLE], dim=-1)
        return out
