"""So3krates: equivariant self-attention on features and spherical harmonic coordinates
(Frank, Unke, Müller, NeurIPS 2022, "So3krates: Equivariant attention for interactions on
arbitrary length-scales in molecular systems").

Every atom carries invariant features f_i ∈ R^F and one set of spherical harmonic coordinates
(SPHCs) χ_i = ⊕_l χ_i^(l), χ_i^(l) ∈ R^{2l+1}, l = l_min..l_max (l = 0 dropped when
l_max ≥ 1, as in the paper; e3nn real basis, see :mod:`equimol.nn.so3`). Distances in Å.

The defaults build the network as the paper writes it (equation numbers of the paper and its
appendix; the functions in :mod:`equimol.models.so3krates_layers` unless named otherwise):

* SPHC initialisation, Eq. 11 (:meth:`So3krates.init_sphc`): χ_i^(l) = C_i⁻¹ Σ_j φ_rcut(r_ij)
  Y^(l)(r̂_ij) with C_i = Σ_j φ_rcut(r_ij), the cosine cutoff φ_rcut. An atom without neighbours
  (C_i = 0) gets χ_i = 0, with finite gradients.
* Radial basis, Eq. 30 (:class:`equimol.nn.radial_expnormal.ExpNormalBasis`): exp-normal
  functions times φ_rcut(r), zero at and beyond r_cut.
* Filters, Eq. 16 (:class:`Filter`): w_ij = φ_r(rbf(r_ij)) + φ_s(⊕_l ‖χ_j^(l) − χ_i^(l)‖).
* Self-attention updates of f (Eqs. 12, 15, 32, 33; ``n_heads`` heads, :class:`FeatureAttention`)
  and of χ (Eqs. 13, 34; one head per degree, :class:`SphcAttention`), α_ij ∝ φ_rcut(r_ij).
* Non-local correction, Eq. 14 / App. A.2 (``non_local=True``, :func:`sphc_neighbourhood`): the
  SPHC update (only) gets Σ_{j ∈ N_χ(i)} α_ij^(l) Y^(l)(r̂_ij) over all atoms j of the molecule
  with α_ij ∝ φ_χcut(χ̃_ij) instead of φ_rcut(r_ij): χ̃_ij = softmax_j ‖χ_i − χ_j‖ (row-wise
  over the n × n matrix, diagonal included, temperature 1) and φ_χcut the polynomial cutoff of
  Eq. 29 (p = 6) at χ̃_cut = κ/n (``chi_cut_kappa`` κ = 1). The pairs see the same filters as
  local ones, so beyond r_cut their radial basis is zero: direction and SPHC distance, no
  distance information. Molecules only (raises for periodic batches).
* Atomwise interaction, Eqs. 17–19 (:class:`AtomwiseInteraction`): [a, b] = φ_{1,2}(f ⊕ ‖χ‖ ⊕
  ‖χ̃‖) (F + 2|L| inputs), c = φ_3(‖χ̃‖), f ← f + a, χ^(l) ← χ^(l) + b^(l) χ^(l) + c^(l) χ̃^(l),
  χ̃ the Clebsch–Gordan coupling of Eq. 19 over the paths l2 ≥ l1 + 1
  (:func:`equimol.nn.so3.coupling_paths`).

Choices where the paper is silent, as in the authors' implementation: W_q, W_k, W_v act per
head (block diagonal) with the scale 1/√(F/h); only parity-even CG paths (``parity=True``:
l1 + l2 + l even, E(3)- rather than only SE(3)-invariant energies); the CG weights k start at
zero (stable deep stacks at initialisation); φ_3 is one linear layer.

Options that deviate from the paper (defaults off), each documented where it acts;
``LEGACY_OPTIONS`` sets all of them to equimol's earlier network:

* ``sphc_init_offset`` c > 0: C_i = c + Σ_j φ_rcut in Eq. 11. With the paper's C_i the SPHCs of
  an atom that loses its last neighbour jump from Y(r̂) (unit norm) to 0 at r_cut, and so do
  energy and forces (a dimer crossing r_cut); with c = 1 they go to 0 continuously.
  ``sphc_normalization`` C: a constant C_i = C (the authors' code).
* ``sphc_norm="squared"``: SPHC invariants as ‖·‖² (smooth where a difference or block passes
  through zero; ‖x‖ has no derivative at x = 0, e.g. χ^(1) of a centrosymmetric atom).
* ``rbf_envelope=None``: radial basis without the cutoff factor of Eq. 30.
* ``non_local_features``: the non-local correction also on the features; ``non_local_average``:
  weights φ_χcut / (1 + Σ φ_χcut) (size-intensive); ``non_local_diagonal=False``: χ_ii left out
  of the softmax of Eq. 14.
* ``coupling="symmetric"``: CG paths l2 ≥ l1 (self-products too); ``interaction="feature_gate"``:
  φ_{1,2}(f ⊕ ‖χ‖²), c = φ_3(f).

Output: SCALAR_FEATURES f (N, F) and, when 1 ∈ degrees and ``vector_features``, VECTOR_FEATURES
v_i = c_i ⊗ f_i (N, 3, F) with c_i the l = 1 SPHC block mapped to Cartesian (x, y, z). All F
channels of v_i are parallel (one l = 1 SPHC per atom); heads such as PaiNN's dipole and
polarizability heads mix them with their own learned per-channel scalars.

Cost of the non-local corrections: P = n(n − 1) pairs per molecule of n atoms, each with a
(P, F) filter per layer (two with ``non_local_features``), so time grows ∝ n² and, without
tiling, memory too. Pairs are processed in checkpointed tiles of ``non_local_chunk`` pairs
(recomputed in the backward pass; exact, also for force training), which bounds the activation
memory per layer. Measured with paper hyperparameters, float32, energy + forces, CPU 1 thread
(shared 2-core machine, load ≈ 4: times ±30 %), random molecules at 0.1 atoms/Å³ (≈ 50
neighbours within 5 Å), median:

    OMP_NUM_THREADS=1 python benchmarks/so3krates_size.py --atoms N [--non-local]

    atoms   pairs P    local only             non-local (chunk 65536)
    100       9 900    0.29 s,  160 MiB        2.1 s,   460 MiB
    300      89 700    0.79 s,  580 MiB        8.3 s,  3.4 GiB  (chunk 16384: 10.2 s, 1.3 GiB)
    1000    999 000    2.6 s,  2.1 GiB       147 s,    4.8 GiB

(peak resident memory above the level before the first call; measured with the earlier
network, which also corrected the features: two filters per pair). Small molecules, same setup:
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
from equimol.models.so3krates_layers import INTERACTIONS, PairGeometry, So3kratesLayer, intramolecular_pairs
from equimol.nn.cutoff import cosine_cutoff
from equimol.nn.radial_expnormal import ENVELOPES, ExpNormalBasis
from equimol.nn.scatter import edge_vectors, scatter_sum
from equimol.nn.so3 import COUPLING_RULES, DegreeOps, l1_to_cartesian, spherical_harmonics

SPHC_NORMS = ("norm", "squared")
FUSED_MODES = ("inference", "always", "never")

# The options that rebuild a So3krates written before the paper-exact defaults (checkpoint
# specs without these keys, e.g. experiments/so3krates/so3krates_ethanol.pt): set each one that
# the stored spec lacks (``{**LEGACY_OPTIONS, **stored_options}``): the same network and
# parameter names, local and non-local.
LEGACY_OPTIONS: dict = {
    "rbf_envelope": None,
    "sphc_norm": "squared",
    "sphc_init_offset": 1.0,
    "non_local_features": True,
    "non_local_average": True,
    "non_local_diagonal": False,
    "coupling": "symmetric",
    "interaction": "feature_gate",
}


@dataclass
class So3kratesConfig:
    """Hyperparameters; defaults are the paper's (F = 132, 6 layers, r_cut = 5 Å, l = 1..3, K = 32)
    and so is the network they build (see the module docstring for the options that deviate)."""

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
    chi_cut_kappa: float = 1.0  # non-local SPHC cutoff χ̃_cut = κ / n (n atoms of the molecule)
    non_local_chunk: int | None = 65536  # pairs per checkpointed chunk (memory bound); None: one chunk
    # local edges in this many checkpointed slices for the attention (less memory per edge for
    # large systems, e.g. 10,000 atoms, for extra time, see benchmarks/README.md); 1: no slicing.
    # A count, not a size: the per-slice overhead (O(N + E) gradient buffers) stays linear in N.
    local_slices: int = 1
    # implementation, not model (same numbers): "inference" (default) computes the local filters
    # and attention of batches with ≥ so3krates_layers.FUSED_MIN_EDGES edges in eval mode with
    # equimol.nn.so3krates_message's fused autograd functions, which keep no per-edge activations
    # (energy + forces of a 1 000-atom water droplet: 270 instead of 1 735 MiB at the same speed,
    # benchmarks/README.md); smaller batches and training use the tensor-op layers (faster
    # there); "always" / "never"
    fused_messages: str = "inference"
    # Eq. 11 normalisation: None: C_i = sphc_init_offset + Σ_j φ_rcut(r_ij); else the constant C_i = C
    sphc_normalization: float | None = None
    parity: bool = True  # keep only CG paths with l1 + l2 + l even (reflection invariant)
    vector_features: bool = True
    max_z: int = 100
    # --- variants (defaults: the paper; LEGACY_OPTIONS: equimol's earlier network) ---
    rbf_envelope: str | None = "cosine"  # Eq. 30 cutoff factor of the radial basis; None: bare basis
    sphc_norm: str = "norm"  # SPHC invariants ‖·‖ (paper) or "squared" ‖·‖² (smooth at 0)
    sphc_init_offset: float = 0.0  # Eq. 11: C_i = offset + Σ_j φ_rcut(r_ij); 1.0: smooth at r_cut
    non_local_features: bool = False  # non-local correction also on the features (paper: SPHCs only)
    non_local_average: bool = False  # non-local weights φ_χcut / (1 + Σ φ_χcut) (paper: φ_χcut)
    non_local_diagonal: bool = True  # χ_ii = 0 counts in the row softmax of Eq. 14 (paper)
    coupling: str = "paper"  # Eq. 19 CG paths: "paper" l2 ≥ l1 + 1; "symmetric" l2 ≥ l1
    interaction: str = "paper"  # Eqs. 17–18: "paper" or "feature_gate" (c = φ_3(f), MLP on f ⊕ ‖χ‖²)

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
        if self.fused_messages not in FUSED_MODES:
            raise ConfigError(
                f"so3krates: fused_messages must be one of {FUSED_MODES}, got {self.fused_messages!r}"
            )
        if self.local_slices < 1:
            raise ConfigError(f"so3krates: local_slices must be ≥ 1, got {self.local_slices}")
        if self.sphc_normalization is not None and self.sphc_normalization <= 0:
            raise ConfigError("so3krates: sphc_normalization must be positive (or None)")
        if self.sphc_init_offset < 0:
            raise ConfigError(f"so3krates: sphc_init_offset must be ≥ 0, got {self.sphc_init_offset}")
        choices = (
            ("rbf_envelope", self.rbf_envelope, ENVELOPES),
            ("sphc_norm", self.sphc_norm, SPHC_NORMS),
            ("coupling", self.coupling, COUPLING_RULES),
            ("interaction", self.interaction, INTERACTIONS),
        )
        for name, value, allowed in choices:
            if value not in allowed:
                raise ConfigError(f"so3krates: {name} must be one of {allowed}, got {value!r}")

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

    # calls with fewer edges run faster on one CPU thread than on two (one ethanol: 13.8 vs 20.1
    # ms; 64 ethanol beads, 4 608 edges: 2 threads 1.43x faster); read by equimol.cli.threads
    THREADS_MIN_EDGES = 2000

    def __init__(self, **options):
        super().__init__()
        self.config = So3kratesConfig(**options)
        cfg = self.config
        self.cutoff = float(cfg.cutoff)
        self.degrees = cfg.degrees
        self.ops = DegreeOps(self.degrees)
        self.embedding = nn.Embedding(cfg.max_z, cfg.n_features)
        self.rbf = ExpNormalBasis(cfg.n_rbf, cfg.cutoff, envelope=cfg.rbf_envelope)
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
                fused=cfg.fused_messages,
                squared=cfg.sphc_norm == "squared",
                non_local_features=cfg.non_local_features,
                non_local_average=cfg.non_local_average,
                non_local_diagonal=cfg.non_local_diagonal,
                coupling=cfg.coupling,
                interaction=cfg.interaction,
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
        """All intramolecular pairs i ≠ j, candidates for the SPHC neighbourhood (Eq. 14). They
        see what the filters of Eq. 16 see: the radial basis of Eq. 30, which is zero beyond
        r_cut (with the default ``rbf_envelope``), so a pair beyond r_cut carries its direction
        Y(r̂_ij) and SPHC distance, but no distance information."""
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
        """SPHC initialisation, So3krates Eq. 11: χ_i = Σ_j φ_rcut(r_ij) Y(r̂_ij) / C_i, (N, m_tot).

        C_i = Σ_j φ_rcut(r_ij) (paper; ``sphc_init_offset`` = 0): a weighted average of the
        neighbour directions. An atom without neighbours inside r_cut (C_i = 0) gets χ_i = 0, the
        value of an empty sum, which is also the limit of every variant below; value and
        gradients are finite there (no 0/0). ``sphc_init_offset`` c > 0: C_i = c + Σ_j φ_rcut.
        ``sphc_normalization`` C: constant C_i = C (the authors' code)."""
        i = local.index[0]
        chi = scatter_sum(local.weight[:, None] * local.sh, i, n_atoms)
        cfg = self.config
        if cfg.sphc_normalization is not None:
            return chi / cfg.sphc_normalization
        norm = cfg.sphc_init_offset + scatter_sum(local.weight, i, n_atoms)
        if cfg.sphc_init_offset > 0:
            return chi / norm[:, None]
        occupied = norm > 0
        safe = torch.where(occupied, norm, torch.ones_like(norm))
        return torch.where(occupied[:, None], chi / safe[:, None], torch.zeros_like(chi))

    def forward(
        self, batch: dict[str, torch.Tensor], return_intermediates: bool = False
    ) -> dict[str, torch.Tensor] | tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
        """Features of ``batch``; with ``return_intermediates`` also a list with one dict per
        layer: attention (E, heads), sphc_attention (E, |L|), sphc_in / sphc (N, m_tot),
        features (N, F) and, with non-local corrections, for the P pairs inside the SPHC
        neighbourhood: nonlocal_index (2, P), nonlocal_weight (P,) φ_χcut,
        nonlocal_sphc_attention (P, |L|), nonlocal_sphc_update (N, m_tot) (the Eq. 14 term);
        with ``non_local_features`` also nonlocal_attention (P, heads) and
        nonlocal_feature_update (N, F)."""
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
