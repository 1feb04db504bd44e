"""So3krates: equivariant self-attention on features and spherical harmonic coordinates
(Frank, Unke, Müller, NeurIPS 2022, "So3krates: Equivariant attention for interactions on
arbitrary length-scales in molecular systems").

Every atom carries invariant features f_i ∈ R^F and one set of spherical harmonic coordinates
(SPHCs) χ_i = ⊕_l χ_i^(l), χ_i^(l) ∈ R^{2l+1}, l = l_min..l_max (l = 0 dropped when
l_max ≥ 1, as in the paper; e3nn real basis, see :mod:`equimol.nn.so3`). Distances in Å.

* SPHC initialisation, Eq. 11: χ_i^(l) = C_i⁻¹ Σ_j φ_rcut(r_ij) Y^(l)(r̂_ij), with the smooth
  per-atom normalisation C_i = 1 + Σ_j φ_rcut(r_ij) (default), or a constant C
  (``sphc_normalization``). A weighted *average* C_i = Σ_j φ would jump at the cutoff (a dimer
  has χ = Y(r̂) just inside r_cut and 0 outside), so the 1 is there to keep forces continuous.
* Filters, Eq. 16, and self-attention updates of f (Eqs. 12, 32, 33, ``n_heads`` heads) and of
  χ (Eqs. 13, 34, one head per degree), cosine-cutoff weighted: see
  :mod:`equimol.models.so3krates_layers`.
* Atomwise interaction, Eqs. 17–19, with cross-degree Clebsch–Gordan coupling.
* Non-local corrections, Eq. 14 / App. A.2 (``non_local=True``): every layer also passes
  messages between all atom pairs of a molecule that are close in SPHC space (row-softmax of
  the SPHC distance matrix, polynomial cutoff p = 6 at χ_cut = κ/n), independent of their
  Euclidean distance: the same attention coefficients and messages as the local update, with
  φ_rcut(r_ij) replaced by φ_χcut,ij / (1 + Σ_k φ_χcut,ik). The average keeps the update
  size-intensive (the SPHC neighbourhood grows ∝ n; a plain sum made ‖χ‖ diverge in a random
  6-layer network). Molecules only (raises for periodic batches).

Deviations, chosen for smoothness: SPHC distances and norms enter the filters and the MLP as
squares ‖·‖² (the Clebsch–Gordan l = 0 contraction used by the reference code), because ‖x‖
has no derivative at x = 0, which happens e.g. for χ^(1) of a tetrahedral carbon. The W_q,
W_k, W_v projections act per head (block diagonal), as in the authors' implementation. The
cross-degree couplings keep only parity-even CG paths (``parity=True``: E(3)- rather than only
SE(3)-invariant energies) and their weights k start at zero (stable deep stacks at init).

Output: SCALAR_FEATURES f (N, F) and, when 1 ∈ degrees and ``vector_features``, VECTOR_FEATURES
v_i = c_i ⊗ f_i (N, 3, F) with c_i the l = 1 SPHC block mapped to Cartesian (x, y, z). All F
channels of v_i are parallel (one l = 1 SPHC per atom); heads such as PaiNN's dipole and
polarizability heads mix them with their own learned per-channel scalars.

Cost of the non-local corrections: P = n(n − 1) pairs per molecule of n atoms, each with two
(P, F) filters per layer, so time grows ∝ n² and, without tiling, memory too. Pairs are
processed in checkpointed tiles of ``non_local_chunk`` pairs (recomputed in the backward
pass; exact, also for force training), which bounds the activation memory per layer. Measured
with paper hyperparameters, float32, energy + forces, CPU 1 thread (shared 2-core machine, load
≈ 4: times ±30 %), random molecules at 0.1 atoms/Å³ (≈ 50 neighbours within 5 Å), median:

    OMP_NUM_THREADS=1 python benchmarks/so3krates_size.py --atoms N [--non-local]

    atoms   pairs P    local only             non-local (chunk 65536)
    100       9 900    0.29 s,  160 MiB        2.1 s,   460 MiB
    300      89 700    0.79 s,  580 MiB        8.3 s,  3.4 GiB  (chunk 16384: 10.2 s, 1.3 GiB)
    1000    999 000    2.6 s,  2.1 GiB       147 s,    4.8 GiB

(peak resident memory above the level before the first call). Small molecules, same setup:
ethanol (9 atoms) 34 ms, aspirin (21 atoms) 75 ms local; 52 ms / 152 ms with non-local.

Local edges of large systems can be processed the same way, in ``local_slices`` checkpointed
slices of the attention: with 2 slices, a 10,000-atom water droplet (497,558 edges) needs
6.0 GiB instead of a projected 20 GiB, for 28–33 % more time per edge (benchmarks/README.md,
size scan: ``equimol benchmark --stages scan --scan-models so3krates:local_slices=2``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from equimol import keys as K
from equimol.errors import ConfigError
from equimol.models.so3krates_layers import PairGeometry, So3kratesLayer, intramolecular_pairs
from equimol.nn.cutoff import cosine_cutoff
from equimol.nn.radial_expnormal import ExpNormalBasis
from equimol.nn.scatter import edge_vectors, scatter_sum
from equimol.nn.so3 import DegreeOps, l1_to_cartesian, spherical_harmonics


@dataclass
class So3kratesConfig:
    """Hyperparameters; defaults are the paper's (F = 132, 6 layers, r_cut = 5 Å, l = 1..3, K = 32)."""

    n_features: int = 132
    n_layers: int = 6
    cutoff: float = 5.0
    l_min: int | None = None  # None: 1 if l_max ≥ 1 else 0
    l_max: int = 3
    n_heads: int = 4
    n_rbf: int = 32
    radial_hidden: int = 128
    spherical_hidden: int = 32
    non_local: bool = False
    chi_cut_kappa: float = 1.0  # non-local SPHC cutoff χ_cut = κ / n (n atoms of the molecule)
    non_local_chunk: int | None = 65536  # pairs per checkpointed chunk (memory bound); None: one chunk
    # local edges in this many checkpointed slices for the attention (less memory per edge for
    # large systems, e.g. 10,000 atoms, for extra time, see benchmarks/README.md); 1: no slicing.
    # A count, not a size: the per-slice overhead (O(N + E) gradient buffers) stays linear in N.
    local_slices: int = 1
    sphc_normalization: float | None = None  # None: C_i = 1 + Σ_j φ_rcut(r_ij); else constant C
    parity: bool = True  # keep only CG paths with l1 + l2 + l even (reflection invariant)
    vector_features: bool = True
    max_z: int = 100

    def __post_init__(self) -> None:
        if self.l_max < 0:
            raise ConfigError(f"so3krates: l_max must be ≥ 0, got {self.l_max}")
        lo = self.l_min_resolved
        if not 0 <= lo <= self.l_max:
            raise ConfigError(
                f"so3krates: need 0 ≤ l_min ≤ l_max, got l_min={self.l_min}, l_max={self.l_max}"
            )
        n_deg = len(self.degrees)
        for name, div in (("n_heads", self.n_heads), ("number of degrees", n_deg)):
            if div < 1 or self.n_features % div:
                raise ConfigError(
                    f"so3krates: n_features={self.n_features} must be divisible by {name} ({div})"
                )
        if self.cutoff <= 0 or self.chi_cut_kappa <= 0:
            raise ConfigError("so3krates: cutoff and chi_cut_kappa must be positive")
        if self.non_local_chunk is not None and self.non_local_chunk < 1:
            raise ConfigError("so3krates: non_local_chunk must be ≥ 1 (or None)")
        if self.local_slices < 1:
            raise ConfigError(f"so3krates: local_slices must be ≥ 1, got {self.local_slices}")
        if self.sphc_normalization is not None and self.sphc_normalization <= 0:
            raise ConfigError("so3krates: sphc_normalization must be positive (or None)")

    @property
    def l_min_resolved(self) -> int:
        if self.l_min is not None:
            return self.l_min
        return 1 if self.l_max >= 1 else 0

    @property
    def degrees(self) -> tuple[int, ...]:
        return tuple(range(self.l_min_resolved, self.l_max + 1))


class So3krates(nn.Module):
    """So3krates representation: batch → {SCALAR_FEATURES (N, F), VECTOR_FEATURES (N, 3, F)}."""

    def __init__(self, **options):
        super().__init__()
        self.config = So3kratesConfig(**options)
        cfg = self.config
        self.cutoff = float(cfg.cutoff)
        self.degrees = cfg.degrees
        self.ops = DegreeOps(self.degrees)
        self.embedding = nn.Embedding(cfg.max_z, cfg.n_features)
        self.rbf = ExpNormalBasis(cfg.n_rbf, cfg.cutoff)
        self.layers = nn.ModuleList(
            So3kratesLayer(
                cfg.n_features,
                cfg.n_heads,
                cfg.n_rbf,
                self.ops,
                cfg.radial_hidden,
                cfg.spherical_hidden,
                cfg.parity,
                cfg.chi_cut_kappa,
                cfg.non_local_chunk,
                cfg.local_slices,
            )
            for _ in range(cfg.n_layers)
        )
        self.register_buffer("l1_cartesian", l1_to_cartesian(), persistent=False)

    def hyperparameters(self) -> dict:
        return asdict(self.config)

    def _pairs(self, vec: torch.Tensor, index: torch.Tensor, pair=None, pair_edge=None) -> PairGeometry:
        """Local edge geometry; with ``pair``/``pair_edge`` (from ``collate``) the radial basis is
        evaluated once per unordered pair (see :class:`PairGeometry`)."""
        r = torch.linalg.vector_norm(vec, dim=-1)
        sh = spherical_harmonics(self.degrees, vec)
        if pair is None or pair_edge is None:
            return PairGeometry(index, self.rbf(r), sh, cosine_cutoff(r, self.cutoff))
        rbf = self.rbf(r.index_select(0, pair_edge))
        return PairGeometry(index, rbf, sh, cosine_cutoff(r, self.cutoff), pair=pair, pair_edge=pair_edge)

    def _non_local_pairs(self, batch: dict[str, torch.Tensor]) -> PairGeometry:
        pbc = batch.get(K.PBC)
        if pbc is not None and bool(pbc.any()):
            raise ConfigError("so3krates: non_local=True supports molecules only, not periodic systems")
        index = intramolecular_pairs(batch[K.N_ATOMS])
        pos = batch[K.POSITIONS]
        vec = pos[index[1]] - pos[index[0]]
        rbf = self.rbf(torch.linalg.vector_norm(vec, dim=-1))
        n = batch[K.N_ATOMS][batch[K.BATCH][index[0]]].to(pos.dtype)
        return PairGeometry(index, rbf, spherical_harmonics(self.degrees, vec), n_atoms=n)

    def init_sphc(self, local: PairGeometry, n_atoms: int) -> torch.Tensor:
        """SPHC initialisation, So3krates Eq. 11: (N, m_tot)."""
        i = local.index[0]
        chi = scatter_sum(local.weight[:, None] * local.sh, i, n_atoms)
        if self.config.sphc_normalization is None:
            norm = 1.0 + scatter_sum(local.weight, i, n_atoms)
            return chi / norm[:, None]
        return chi / self.config.sphc_normalization

    def forward(
        self, batch: dict[str, torch.Tensor], return_intermediates: bool = False
    ) -> dict[str, torch.Tensor] | tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
        """Features of ``batch``; with ``return_intermediates`` also a list with one dict per
        layer: attention (E, heads), sphc_attention (E, |L|), sphc_in / sphc (N, m_tot),
        features (N, F) and, with non-local corrections, for the P pairs inside the SPHC
        neighbourhood: nonlocal_index (2, P), nonlocal_weight (P,) φ_χcut, nonlocal_attention
        (P, heads), nonlocal_sphc_attention (P, |L|)."""
        z = batch[K.ATOMIC_NUMBERS]
        n = z.shape[0]
        local = self._pairs(
            edge_vectors(batch), batch[K.EDGE_INDEX], batch.get(K.EDGE_PAIR), batch.get(K.PAIR_EDGE)
        )
        non_local = self._non_local_pairs(batch) if self.config.non_local else None
        f = self.embedding(z)
        chi = self.init_sphc(local, n)
        records: list[dict] = []
        for layer in self.layers:
            record: dict | None = {} if return_intermediates else None
            f, chi = layer(f, chi, local, non_local, record)
            if record is not None:
                records.append(record)
        out = {K.SCALAR_FEATURES: f}
        if self.config.vector_features and 1 in self.degrees:
            out[K.VECTOR_FEATURES] = self.sphc_l1_cartesian(chi)[:, :, None] * f[:, None, :]
        if return_intermediates:
            return out, records
        return out

    def sphc_l1_cartesian(self, chi: torch.Tensor) -> torch.Tensor:
        """The l = 1 block of SPHCs ``chi`` (N, m_tot) as Cartesian vectors (N, 3): R-equivariant."""
        start = sum(2 * l + 1 for l in self.degrees if l < 1)
        return chi[:, start : start + 3] @ self.l1_cartesian.to(chi.dtype).T
