"""PaiNN: polarizable atom interaction neural network (Schütt, Unke, Gastegger, ICML 2021).

Scalar features s_i ∈ R^F and vector features v_i ∈ R^{3×F} are updated by alternating
message (Eqs. 7–8) and update (Eqs. 9–10) blocks with residual connections. Distances are
in Å. Output: SCALAR_FEATURES (N, F) and VECTOR_FEATURES (N, 3, F).

Table IV ablations (switches):
  ``scalar_product=False``  drop the ⟨U v_i, V v_i⟩ term of the update (Eq. 10);
  ``vector_propagation=False``  W_vv = 0: neighbour vectors v_j are not propagated (Eq. 8);
  ``vectors=False``  no vector features at all (an invariant, SchNet-like PaiNN).
An ablated model has no weights for what it switches off (the a_sv output of the update's φ,
the W_vv rows of φ and W of the messages), so that its parameter count is what it trains, and
equal counts at a larger F are a fair comparison (experiments/table4). The state dict of the
full model is unchanged.

Speed (see benchmarks/README.md for the profile that motivated each point; the parameters
and their state-dict keys are those of the plain per-block formulation):
  * the filters W(r_ij) f_cut(r_ij) of all interactions come from one matmul of the radial
    basis, with the bias folded in as an extra basis column [rbf·f_cut, f_cut], so autograd
    keeps only the (E, K+1) basis, not a pre-cutoff copy of every (E, 3F) filter;
  * messages are added with ``index_add`` straight onto s and v (no zero buffers, no loops);
  * the first interaction skips the W_vv v_j term, since v = 0 there;
  * U and V of the update are one (F → 2F) matmul.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from equimol import keys as K
from equimol.errors import ConfigError
from equimol.nn.cutoff import cosine_cutoff
from equimol.nn.mlp import mlp
from equimol.nn.painn_message import fused_message
from equimol.nn.radial import SineBasis
from equimol.nn.scatter import edge_vectors

NORM_EPS = 1e-8
FUSED_MODES = ("inference", "always", "never")
# "inference" fuses batches with at least this many edges: below, the plain ops are faster (one
# ethanol: 3.2 vs 3.6 ms) and hold little memory; above, fused is faster and far smaller (64
# ethanol beads, 4 608 edges: 64 vs 82 ms; benchmarks/ab/fused_messages.py, benchmarks/README.md)
FUSED_MIN_EDGES = 1024


@dataclass
class PaiNNConfig:
    n_features: int = 128
    n_interactions: int = 3
    n_basis: int = 20
    cutoff: float = 5.0
    max_z: int = 100
    scalar_product: bool = True
    vector_propagation: bool = True
    vectors: bool = True
    # implementation, not model (same numbers either way): "inference" (default) computes the
    # messages of batches with ≥ FUSED_MIN_EDGES edges in eval mode, and in training without
    # forces (no double backward: dipoles, polarizabilities, energies alone), with
    # equimol.nn.painn_message's fused autograd function, which keeps no per-edge products for
    # the backward pass (6.5x less memory and 1.6x faster for energy + forces of a 1 000-atom
    # droplet; a QM9 dipole training step of 32 molecules 112 vs 152 ms, benchmarks/README.md),
    # small batches and force training with plain tensor ops (faster for them and through the
    # double backward of force training); "always" / "never"
    fused_message: str = "inference"


class PaiNNMessage(nn.Module):
    """Message block, PaiNN Eqs. 7–8: φ(s_j) ∘ W(r_ij) split into Δs, gate of v_j, direction.

    ``filters`` is W(r_ij) f_cut(r_ij) (E, n_split·F) for this block (see :meth:`PaiNN.filters`).
    ``first``: v = 0 on entry (first interaction), so the v_j term is skipped.
    """

    def __init__(self, cfg: PaiNNConfig):
        super().__init__()
        F = cfg.n_features
        self.vectors = cfg.vectors
        self.vector_propagation = cfg.vectors and cfg.vector_propagation
        # parts of φ(s_j) ∘ W(r_ij): Δs, then (with vectors) the gate of v_j (W_vv) and of r̂_ij
        self.n_split = 1 + int(self.vectors) + int(self.vector_propagation)
        self.phi = mlp([F, F, self.n_split * F])
        self.W = nn.Linear(cfg.n_basis, self.n_split * F)

    def weight(self) -> torch.Tensor:
        """[W_t, b_t] (n_split·F, K + 1): the filter is [rbf f_cut, f_cut] @ weight().T."""
        return torch.cat([self.W.weight, self.W.bias[:, None]], dim=1)

    def fused(self, s, v, basis, unit, i, j, first: bool = False):
        """The same block through :func:`equimol.nn.painn_message.fused_message` (vectors only)."""
        ds, dv = fused_message(
            self.phi(s), basis, self.weight(), unit, v, i, j, self.vector_propagation, first
        )
        return s + ds, v + dv

    def forward(self, s, v, filters, unit, i, j, first: bool = False):
        x = self.phi(s).index_select(0, j) * filters
        if not self.vectors:
            return s.index_add(0, i, x), v
        # one split (its backward is one cat); slices would each zero-fill an (E, 3F) gradient
        if self.vector_propagation:
            ds, dvv, dvs = torch.split(x, s.shape[-1], dim=-1)
        else:
            ds, dvs = torch.split(x, s.shape[-1], dim=-1)
        dv = dvs[:, None, :] * unit[:, :, None]
        if self.vector_propagation and not first:
            dv = dv + dvv[:, None, :] * v.index_select(0, j)
        return s.index_add(0, i, ds), v.index_add(0, i, dv)


class PaiNNUpdate(nn.Module):
    """Update block, PaiNN Eqs. 9–10: atomwise mixing of scalar and vector channels."""

    def __init__(self, cfg: PaiNNConfig):
        super().__init__()
        F = cfg.n_features
        self.scalar_product = cfg.scalar_product
        self.vectors = cfg.vectors
        if cfg.vectors:
            self.U = nn.Linear(F, F, bias=False)
            self.V = nn.Linear(F, F, bias=False)
            # outputs a_vv, a_sv, a_ss (Eqs. 9–10); no a_sv without the scalar product
            self.phi = mlp([2 * F, F, (3 if cfg.scalar_product else 2) * F])
        else:
            self.phi = mlp([F, F, F])

    def forward(self, s, v):
        if not self.vectors:
            return s + self.phi(s), v
        F = s.shape[-1]
        UV = v @ torch.cat([self.U.weight, self.V.weight]).T  # (N, 3, 2F): one matmul for U and V
        Uv, Vv = torch.split(UV, F, dim=-1)
        norm = torch.sqrt((Vv * Vv).sum(dim=1) + NORM_EPS)
        a = self.phi(torch.cat([s, norm], dim=-1))
        if self.scalar_product:
            a_vv, a_sv, a_ss = torch.split(a, F, dim=-1)
            ds = a_ss + a_sv * (Uv * Vv).sum(dim=1)
        else:
            a_vv, ds = torch.split(a, F, dim=-1)
        return s + ds, v + a_vv[:, None, :] * Uv


class PaiNN(nn.Module):
    """PaiNN representation (F = 128, 3 interactions, 20 sine RBFs, cosine cutoff 5 Å)."""

    def __init__(self, **options):
        super().__init__()
        self.config = PaiNNConfig(**options)
        if self.config.fused_message not in FUSED_MODES:
            raise ConfigError(
                f"fused_message must be one of {FUSED_MODES}, got {self.config.fused_message!r}"
            )
        cfg = self.config
        self.cutoff = cfg.cutoff
        self.embedding = nn.Embedding(cfg.max_z, cfg.n_features)
        self.rbf = SineBasis(cfg.n_basis, cfg.cutoff)
        self.messages = nn.ModuleList(PaiNNMessage(cfg) for _ in range(cfg.n_interactions))
        self.updates = nn.ModuleList(PaiNNUpdate(cfg) for _ in range(cfg.n_interactions))

    def hyperparameters(self) -> dict:
        return asdict(self.config)

    def filters(self, r: torch.Tensor) -> list[torch.Tensor]:
        """W_t(r_ij) f_cut(r_ij) (PaiNN Eq. 8) of every interaction t, (E, n_split·F) each.

        ``(rbf W_tᵀ + b_t) f_cut = [rbf f_cut, f_cut] [W_t, b_t]ᵀ``: one matmul for all blocks.
        """
        # layouts chosen for the backward passes: autograd computes the gradient of a matmul
        # operand in that operand's layout, and here the two products with 21-wide results
        # (∂/∂basis (E, K+1), ∂/∂weight) are 1.7× faster on CPU as (K+1)-row results
        # (benchmarks/README.md): so the basis is a column-major view of a (K+1, E) tensor and
        # the weight a row-major (K+1, blocks·n_split·F) one. Same numbers, other memory order.
        weight_t = torch.cat([m.weight().T for m in self.messages], dim=1)
        basis = self.basis(r).T.contiguous().T
        return list(torch.split(basis @ weight_t, self.messages[0].W.out_features, dim=-1))

    def basis(self, r: torch.Tensor) -> torch.Tensor:
        """[rbf(r) f_cut(r), f_cut(r)] (E, K + 1), the input of every block's filter."""
        fcut = cosine_cutoff(r, self.cutoff)
        return torch.cat([self.rbf(r) * fcut[:, None], fcut[:, None]], dim=-1)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        z = batch[K.ATOMIC_NUMBERS]
        i, j = batch[K.EDGE_INDEX]
        vec = edge_vectors(batch)
        r = torch.linalg.vector_norm(vec, dim=-1)
        unit = vec / r[:, None]
        s = self.embedding(z)
        v = s.new_zeros((z.shape[0], 3, s.shape[-1]))
        # the fused messages are eager-only (torch.compile traces the plain formulation)
        mode = self.config.fused_message
        # training fuses too where no force is trained (positions need no gradient: dipoles,
        # polarizabilities, energies alone), i.e. where the loss has no double backward
        no_double_backward = not self.training or not batch[K.POSITIONS].requires_grad
        auto = mode == "inference" and no_double_backward and i.shape[0] >= FUSED_MIN_EDGES
        fused = self.config.vectors and (mode == "always" or auto) and not torch.compiler.is_compiling()
        if fused:
            basis = self.basis(r)
        else:
            filters = self.filters(r)
        for t, (message, update) in enumerate(zip(self.messages, self.updates, strict=False)):
            if fused:
                s, v = message.fused(s, v, basis, unit, i, j, first=t == 0)
            else:
                s, v = message(s, v, filters[t], unit, i, j, first=t == 0)
            s, v = update(s, v)
        out = {K.SCALAR_FEATURES: s}
        if self.config.vectors:
            out[K.VECTOR_FEATURES] = v
        return out
