"""Short-range nuclear repulsion (ZBL) as an optional prior of the energy head.

None of the three seed papers has it, so it is off by default. It exists because a network
trained on equilibrium-like geometries has no reason to be repulsive where it has never seen
data: an rMD17 PaiNN's C–H energy turns over below ≈ 0.85 Å and the spectra model's O–H below
≈ 0.6 Å, regions that the beads of a 64-bead ring polymer (bead temperature P·T) reach within
picoseconds, after which the trajectory diverges. The Ziegler–Biersack–Littmark universal
screened Coulomb potential, switched off smoothly at a fraction f of the sum of the covalent
radii, adds the missing wall (NequIP, Allegro and MACE offer the same prior, with f = 1):

    E_rep = ½ Σ_{i≠j, r_ij < r_c} E_ZBL(r_ij) · u(r_ij / r_max,ij)
    E_ZBL(r) = k_e Z_i Z_j / r · φ(r/a),  a = 0.46850 Å / (Z_i^0.23 + Z_j^0.23)
    φ(x) = 0.18175 e^{−3.19980x} + 0.50986 e^{−0.94229x} + 0.28022 e^{−0.40290x}
           + 0.02817 e^{−0.20162x}
    u(x) = 1 − (p+1)(p+2)/2 x^p + p(p+2) x^{p+1} − p(p+1)/2 x^{p+2}  (x < 1, else 0), p = 6

with k_e = e²/(4πε₀) = 14.399645 eV·Å and r_max,ij = f · (R_cov(Z_i) + R_cov(Z_j)) (Cordero et
al. 2008 covalent radii, as tabulated by ASE). u and its first two derivatives vanish at x = 1.

It is not zero near equilibrium with f = 1: the sum of the covalent radii is about the length
of many single bonds (O–H 0.97 Å against 0.96 Å in ethanol, C–O 1.42 against 1.41 Å), and
although u is tiny there, ZBL is several eV, so the term adds ≈ 15 eV/Å² to the curvature of an
O–H bond at its minimum (≈ 30 % of the bond's). The network, trained on E − E_rep, learns to
cancel that, which it does (the spectra model, `experiments/spectra/README.md`). f < 1
(``repulsion_cutoff_factor``) confines the prior to compressed bonds: with f = 0.8 it switches
off at O–H 0.78, C–H 0.86, C–C 1.22 Å.

J. F. Ziegler, J. P. Biersack, U. Littmark, The Stopping and Range of Ions in Solids
(Pergamon, 1985), Ch. 2; the envelope is the polynomial cutoff of NequIP and MACE (after
DimeNet, Gasteiger et al., ICLR 2020).
"""

from __future__ import annotations

import torch
from ase.data import covalent_radii
from torch import nn

from equimol import keys as K
from equimol.nn.scatter import edge_vectors, scatter_sum

#: e²/(4πε₀) in eV·Å (CODATA 2018)
COULOMB_EV_A = 14.399645478
ZBL_A0 = 0.46850  # Å
ZBL_COEFFICIENTS = (0.18175, 0.50986, 0.28022, 0.02817)
ZBL_EXPONENTS = (3.19980, 0.94229, 0.40290, 0.20162)
ENVELOPE_P = 6


def zbl_screening(x: torch.Tensor) -> torch.Tensor:
    """φ(x) of the ZBL universal screening function (dimensionless)."""
    return sum(c * torch.exp(-e * x) for c, e in zip(ZBL_COEFFICIENTS, ZBL_EXPONENTS, strict=True))


def zbl_energy(r: torch.Tensor, z_i: torch.Tensor, z_j: torch.Tensor) -> torch.Tensor:
    """Unswitched ZBL pair energy E_ZBL(r) in eV for distances r (Å) and atomic numbers."""
    zi, zj = z_i.to(r.dtype), z_j.to(r.dtype)
    a = ZBL_A0 / (zi**0.23 + zj**0.23)
    return COULOMB_EV_A * zi * zj / r * zbl_screening(r / a)


def polynomial_envelope(x: torch.Tensor, p: int = ENVELOPE_P) -> torch.Tensor:
    """u(x): 1 at x = 0, 0 with two vanishing derivatives at x ≥ 1 (DimeNet's envelope)."""
    xc = x.clamp(max=1.0)
    u = (
        1.0
        - 0.5 * (p + 1) * (p + 2) * xc**p
        + p * (p + 2) * xc ** (p + 1)
        - 0.5 * p * (p + 1) * xc ** (p + 2)
    )
    return torch.where(x < 1.0, u, torch.zeros_like(u))


class ZBLRepulsion(nn.Module):
    """Per-atom ZBL repulsion ½ Σ_j E_ZBL(r_ij) u(r_ij / r_max,ij) (eV, float64) over the
    batch's edges (every pair appears as two directed edges), r_max,ij = cutoff_factor ·
    (R_cov,i + R_cov,j). No trainable parameters."""

    def __init__(self, max_z: int = 119, cutoff_factor: float = 1.0):
        super().__init__()
        if not 0.0 < cutoff_factor <= 2.0:
            raise ValueError(f"repulsion cutoff factor must be in (0, 2], got {cutoff_factor!r}")
        radii = cutoff_factor * torch.as_tensor(covalent_radii[:max_z], dtype=torch.float64)
        self.register_buffer("covalent_radii", radii, persistent=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        z = batch[K.ATOMIC_NUMBERS]
        i, j = batch[K.EDGE_INDEX]
        r = edge_vectors(batch).double().norm(dim=-1)
        r_max = self.covalent_radii[z[i]] + self.covalent_radii[z[j]]
        # u = 0 beyond r_max: computed on every edge (no data-dependent shapes, so it compiles)
        e = zbl_energy(r, z[i], z[j]) * polynomial_envelope(r / r_max)
        return scatter_sum(0.5 * e, i, z.shape[0])
