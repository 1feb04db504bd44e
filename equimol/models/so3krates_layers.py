"""So3krates building blocks (Frank, Unke, Müller, NeurIPS 2022): filters, self-attention message
passing on features and SPHCs, atomwise interaction, and the non-local SPHC-space neighbourhood.

Notation: N atoms, F features, h heads, |L| SPHC degrees, m_tot = Σ_l (2l+1), E local edges
(i receives from j within r_cut), P intramolecular atom pairs (non-local corrections).
All sums over pairs are segment sums (``index_add``); there are no loops over atoms, edges
or molecules (only, to bound memory, over fixed-size tiles of non-local pairs, see
``So3kratesLayer._chunked_messages``, and optionally of local edges, ``_chunked_attention``).

Invariants of SPHCs (filter inputs, Eq. 16; interaction inputs, Eq. 17; SPHC distances, Eq. 14)
are Euclidean norms ‖·‖ as in the paper (``squared=False``), computed by :func:`safe_norm`, or,
with ``sphc_norm="squared"``, squared norms ‖·‖² (see :class:`So3kratesLayer`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from equimol.nn.cutoff import polynomial_cutoff
from equimol.nn.mlp import mlp
from equimol.nn.scatter import scatter_sum
from equimol.nn.so3 import CoupledProduct, DegreeOps
from equimol.nn.so3krates_message import filter_params, fused_attention


@dataclass
class PairGeometry:
    """Invariant and equivariant pair quantities shared by all layers.

    ``index`` (2, P) [i, j]; ``rbf`` (P, K) exp-normal basis of r_ij; ``sh`` (P, m_tot)
    Y^(l)(r̂_ij); ``weight`` (P,) cosine cutoff φ_rcut(r_ij) for local edges; for non-local pairs
    ``n_atoms`` (P,) holds the size n of the molecule of the pair (χ_cut = κ/n).

    With ``pair`` (P,) and ``pair_edge`` (U,) (:func:`equimol.data.neighbors.edge_pairs`),
    ``rbf`` holds the U unordered pairs only (rows of ``pair_edge``): the filters, symmetric in
    i and j, are then computed once per pair and gathered with ``pair``.
    """

    index: torch.Tensor
    rbf: torch.Tensor
    sh: torch.Tensor
    weight: torch.Tensor | None = None
    n_atoms: torch.Tensor | None = None
    pair: torch.Tensor | None = None
    pair_edge: torch.Tensor | None = None


def intramolecular_pairs(n_atoms: torch.Tensor) -> torch.Tensor:
    """All ordered pairs (i, j), i ≠ j, of atoms in the same molecule: (2, Σ_b n_b (n_b − 1)).

    Built by index arithmetic from ``n_atoms`` (B,) for a flat batch in which molecule b owns the
    atoms offset_b .. offset_b + n_b − 1 (the layout produced by ``collate``).
    """
    n = n_atoms.long()
    device = n.device
    offsets = torch.cumsum(n, 0) - n
    sq = n * n
    graph = torch.repeat_interleave(torch.arange(len(n), device=device), sq)
    start = torch.repeat_interleave(torch.cumsum(sq, 0) - sq, sq)
    k = torch.arange(int(sq.sum()), device=device) - start
    size = n[graph]
    i = offsets[graph] + torch.div(k, size, rounding_mode="floor")
    j = offsets[graph] + torch.remainder(k, size)
    keep = i != j
    return torch.stack([i[keep], j[keep]])


def segment_softmax(
    x: torch.Tensor, index: torch.Tensor, n_segments: int, self_logit: float | None = None
) -> torch.Tensor:
    """softmax of ``x`` (P,) within the groups of equal ``index`` (a row-wise softmax).

    With ``self_logit``, every row has one more entry with that logit, which is not returned but
    counts in the normaliser: the diagonal j = i of a row of an n × n matrix whose off-diagonal
    entries are ``x`` (So3krates Eq. 14: χ_ii = ‖χ_i − χ_i‖ = 0, so ``self_logit=0``).
    """
    # Any per-row shift leaves the softmax unchanged, so a detached row maximum is exact.
    start = -torch.inf if self_logit is None else float(self_logit)
    row_max = x.new_full((n_segments,), start)
    row_max = row_max.scatter_reduce(0, index, x.detach(), "amax", include_self=True)
    e = torch.exp(x - row_max[index])
    norm = scatter_sum(e, index, n_segments)
    if self_logit is not None:
        norm = norm + torch.exp(self_logit - row_max)
    return e / norm[index]


def safe_norm(sq: torch.Tensor) -> torch.Tensor:
    """√sq for squared norms ``sq`` ≥ 0, with all derivatives set to 0 where sq = 0 (there ‖x‖
    has none; autograd's √ would give inf/NaN, also in the double backward of force training)."""
    positive = sq > 0
    return torch.where(
        positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))), torch.zeros_like(sq)
    )


def sphc_neighbourhood(
    dist: torch.Tensor,
    index_i: torch.Tensor,
    n_pair: torch.Tensor,
    n_atoms: int,
    kappa: float = 1.0,
    diagonal: bool = True,
) -> torch.Tensor:
    """Non-local weights φ_χcut(χ̃_ij), So3krates Eq. 14 (App. A.2) with Eq. 29: (P,) in [0, 1].

    ``dist`` (P,) holds the SPHC distances χ_ij = ‖χ_i − χ_j‖ of the off-diagonal pairs (i ≠ j,
    same molecule, first index ``index_i``). Each row of the n × n matrix, diagonal χ_ii = 0
    included, is normalised by a softmax, χ̃_ij = exp(χ_ij) / Σ_k exp(χ_ik) (k = 1..n, temperature
    1), so Σ_j χ̃_ij = 1 and the row mean is 1/n whatever the scale of the SPHCs. The polynomial
    cutoff of Eq. 29 (p = 6) at χ̃_cut = κ/n (``n_pair`` (P,): n of the pair's molecule; κ = 1 in
    the paper) then keeps the atoms j with exp(χ_ij) below the row mean of exp(χ_ik), i.e. those
    closer to χ_i in SPHC space than a typical atom of the molecule:
    φ_χcut = 1 − 28 x⁶ + 48 x⁷ − 21 x⁸ with x = χ̃_ij / χ̃_cut, 0 for x ≥ 1.

    ``diagonal=False``: the softmax over the off-diagonal entries only (k ≠ i; equimol's earlier
    version, for rebuilding models trained with it).
    """
    d = segment_softmax(dist, index_i, n_atoms, self_logit=0.0 if diagonal else None)
    return polynomial_cutoff(d * n_pair / kappa, 1.0, p=6)


class Filter(nn.Module):
    """w_ij = φ_r(rbf(r_ij)) + φ_s(d_ij), So3krates Eq. 16.

    φ_r: MLP K → ``radial_hidden`` → F on the radial basis of Eq. 30 (cutoff-weighted, so zero
    for r_ij ≥ r_cut); φ_s: MLP |L| → ``spherical_hidden`` → F on the per-degree SPHC distances
    d_ij^(l) = ‖χ_j^(l) − χ_i^(l)‖ (or ‖·‖², ``sphc_norm="squared"``) (SiLU).
    """

    def __init__(
        self, n_rbf: int, n_degrees: int, n_features: int, radial_hidden: int, spherical_hidden: int
    ):
        super().__init__()
        self.radial = mlp([n_rbf, radial_hidden, n_features])
        self.spherical = mlp([n_degrees, spherical_hidden, n_features])

    def forward(self, rbf: torch.Tensor, dchi: torch.Tensor) -> torch.Tensor:
        return _mlp2(self.radial, rbf) + _mlp2(self.spherical, dchi)


def _mlp2(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``net(x)`` for mlp([a, b, c]) (Linear, activation, Linear) without the three module calls
    (their Python overhead is a visible part of a small molecule's call)."""
    lin1, act, lin2 = net
    return F.linear(act.forward(F.linear(x, lin1.weight, lin1.bias)), lin2.weight, lin2.bias)


class HeadLinear(nn.Module):
    """Block-diagonal linear map without bias: one (F/h × F/h) matrix per head. (N, F) → (N, h, F/h)."""

    def __init__(self, n_features: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        d = n_features // n_heads
        bound = 1.0 / math.sqrt(d)
        self.weight = nn.Parameter(torch.empty(n_heads, d, d).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xh = x.reshape(x.shape[0], self.n_heads, -1)
        return torch.einsum("nhf,hfg->nhg", xh, self.weight)


def stacked_head_linear(x: torch.Tensor, maps: Sequence[HeadLinear]) -> torch.Tensor:
    """The outputs of several ``HeadLinear`` maps with the same heads, side by side per head:
    (N, F) → (N, h, len(maps)·F/h), [map₀ | map₁ | …] along the last axis, in one batched
    matmul (a view of an (h, N, ·) result)."""
    w = torch.cat([m.weight for m in maps], dim=2)  # (h, F/h, len(maps)·F/h)
    xh = x.reshape(x.shape[0], maps[0].n_heads, -1).transpose(0, 1)  # (h, N, F/h)
    return torch.bmm(xh, w).transpose(0, 1)


def attention_coefficients(
    q_i: torch.Tensor, k_j: torch.Tensor, w: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """α_ij^h = φ(ij) (W_q f_i)^h·diag(w_ij^h)(W_k f_j)^h / √(F/h), So3krates Eqs. 15, 32: (P, h),
    from the projections gathered on the pairs, ``q_i`` and ``k_j`` (P, h, F/h)."""
    n_heads, d = q_i.shape[1], q_i.shape[2]
    a = (q_i * w.reshape(-1, n_heads, d) * k_j).sum(-1) / math.sqrt(d)
    return a * weight[:, None]


class FeatureAttention(nn.Module):
    """Feature message passing, So3krates Eqs. 12, 33: Δf_i = ⊕_h Σ_j α_ij^h W_v^h f_j^h."""

    def __init__(self, n_features: int, n_heads: int):
        super().__init__()
        self.q = HeadLinear(n_features, n_heads)
        self.k = HeadLinear(n_features, n_heads)
        self.v = HeadLinear(n_features, n_heads)

    def project(self, f: torch.Tensor) -> torch.Tensor:
        """[W_q f | W_k f | W_v f] per head: (N, h, 3F/h)."""
        return stacked_head_linear(f, (self.q, self.k, self.v))

    @staticmethod
    def aggregate(qkv, index, w, weight, n_atoms: int) -> tuple[torch.Tensor, torch.Tensor]:
        d = qkv.shape[2] // 3
        i, j = index
        q_i = qkv[..., :d].index_select(0, i)
        k_j = qkv[..., d : 2 * d].index_select(0, j)
        v_j = qkv[..., 2 * d :].index_select(0, j)
        alpha = attention_coefficients(q_i, k_j, w, weight)
        msg = scatter_sum(alpha[:, :, None] * v_j, i, n_atoms)
        return msg.reshape(n_atoms, -1), alpha


class SphcAttention(nn.Module):
    """SPHC message passing, So3krates Eqs. 13, 34: Δχ_i^(l) = Σ_j α_ij^(l) Y^(l)(r̂_ij), one head
    per degree."""

    def __init__(self, n_features: int, degree_ops: DegreeOps):
        super().__init__()
        n_heads = len(degree_ops.degrees)
        self.q = HeadLinear(n_features, n_heads)
        self.k = HeadLinear(n_features, n_heads)
        self.ops = degree_ops

    def project(self, f: torch.Tensor) -> torch.Tensor:
        """[W_q f | W_k f] per head (one head per degree): (N, |L|, 2F/|L|)."""
        return stacked_head_linear(f, (self.q, self.k))

    def aggregate(self, qk, index, w, weight, sh, n_atoms: int) -> tuple[torch.Tensor, torch.Tensor]:
        d = qk.shape[2] // 2
        i, j = index
        q_i, k_j = qk[..., :d].index_select(0, i), qk[..., d:].index_select(0, j)
        alpha = attention_coefficients(q_i, k_j, w, weight)
        return scatter_sum(self.ops.expand(alpha) * sh, i, n_atoms), alpha


INTERACTIONS = ("paper", "feature_gate")
# fused_messages="inference" fuses batches with at least this many local edges: below, the
# tensor-op layers are faster (the fused filters are recomputed in the backward pass: 64 ethanol
# beads, 4 608 edges, 139 vs 123 ms) and hold little memory (≈ 40 kB per edge); from about
# 20 000 edges on, fused is as fast and 6x smaller (1 000 water atoms: 1.08 vs 1.12 s;
# benchmarks/ab/fused_messages.py, benchmarks/README.md)
FUSED_MIN_EDGES = 16384


class AtomwiseInteraction(nn.Module):
    """Feature–SPHC interaction, So3krates Eqs. 17–19 (``variant="paper"``):

    χ̃_i        = Σ_{l1, l2 ≥ l1+1, l} k_{l1 l2 l} (χ_i^(l1) ⊗ χ_i^(l2))^(l)      (Eq. 19, CG coupling)
    [a_i, b_i] = φ_{1,2}(f_i ⊕ ‖χ_i‖ ⊕ ‖χ̃_i‖)     (shared MLP, F + 2|L| → F → F + |L|, SiLU)
    c_i        = φ_3(‖χ̃_i‖)                       (linear with bias, |L| → |L|)
    f_i        ← f_i + a_i                                                     (Eq. 17)
    χ_i^(l)    ← χ_i^(l) + b_i^(l) χ_i^(l) + c_i^(l) χ̃_i^(l)                   (Eq. 18)

    with ‖χ‖ = (‖χ^(l)‖)_l the per-degree norms (squared with ``squared``). The paper gives no
    width or depth for φ_3; a single linear layer is used. Its bias makes c ≠ 0 while the CG
    weights k start at 0 (χ̃ = 0), so that k receives gradients from the first step.

    ``variant="feature_gate"``: equimol's earlier version, [a, b] = φ_{1,2}(f ⊕ ‖χ‖²)
    (F + |L| → F → F + |L|) and c = φ_3(f) (linear F → |L|, no bias). Kept to rebuild models
    trained with it (same parameter names and shapes).
    """

    def __init__(
        self,
        n_features: int,
        degree_ops: DegreeOps,
        parity: bool = True,
        variant: str = "paper",
        coupling: str = "paper",
        squared: bool = False,
    ):
        super().__init__()
        if variant not in INTERACTIONS:
            raise ValueError(f"AtomwiseInteraction: variant must be one of {INTERACTIONS}, got {variant!r}")
        n_deg = len(degree_ops.degrees)
        self.n_features = n_features
        self.n_degrees = n_deg
        self.ops = degree_ops
        self.variant = variant
        self.squared = squared
        self.coupled = CoupledProduct(degree_ops.degrees, parity, coupling)
        if variant == "paper":
            self.phi12 = mlp([n_features + 2 * n_deg, n_features, n_features + n_deg])
            self.phi3 = nn.Linear(n_deg, n_deg)
        else:
            self.phi12 = mlp([n_features + n_deg, n_features, n_features + n_deg])
            self.phi3 = nn.Linear(n_features, n_deg, bias=False)

    def norms(self, x: torch.Tensor) -> torch.Tensor:
        sq = self.ops.sq_norms(x)
        return sq if self.squared else safe_norm(sq)

    def forward(self, f: torch.Tensor, chi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # φ_{1,2} with the first layer's weight split by input blocks and the last one's by
        # output blocks: the same products as with torch.cat and slices, but every tensor stays
        # contiguous (this keeps torch.compile/inductor on CPU off a fusion that drops the
        # dependency on the preceding scatter, see equimol.compile).
        lin1, act, lin2 = self.phi12
        n, nl = self.n_features, self.n_degrees
        w1 = lin1.weight
        chi_t = self.coupled(chi)
        h = F.linear(f, w1[:, :n], lin1.bias) + self.norms(chi) @ w1[:, n : n + nl].T
        if self.variant == "paper":
            norm_t = self.norms(chi_t)
            h = h + norm_t @ w1[:, n + nl :].T
            c = F.linear(norm_t, self.phi3.weight, self.phi3.bias)
        else:
            c = F.linear(f, self.phi3.weight)
        h = act.forward(h)
        a = F.linear(h, lin2.weight[:n], lin2.bias[:n])
        b = F.linear(h, lin2.weight[n:], lin2.bias[n:])
        dchi = self.ops.expand(b) * chi + self.ops.expand(c) * chi_t
        return a, dchi


def _checkpointed_slices(fn, n: int, chunk: int, args_of, n_sum: int = 2) -> tuple[torch.Tensor, ...]:
    """``fn(*args_of(slice))`` over slices of ``chunk`` of ``n`` items, each recomputed in the
    backward pass (activation checkpointing) when gradients are on: the first ``n_sum`` outputs
    (the updates, e.g. Δf, Δχ) summed, the others (attention coefficients) concatenated."""
    sums: list = []
    cats: list[list[torch.Tensor]] = []
    for s in range(0, n, chunk):
        args = args_of(slice(s, s + chunk))
        out = checkpoint(fn, *args, use_reentrant=False) if torch.is_grad_enabled() else fn(*args)
        if not sums:
            sums, cats = list(out[:n_sum]), [[o] for o in out[n_sum:]]
        else:
            sums = [acc + o for acc, o in zip(sums, out[:n_sum], strict=True)]
            for acc, o in zip(cats, out[n_sum:], strict=True):
                acc.append(o)
    return (*sums, *(torch.cat(c) for c in cats))


class So3kratesLayer(nn.Module):
    """One So3krates block: local self-attention updates of features (Eq. 12) and SPHCs (Eq. 13)
    and, with non-local pairs, the non-local SPHC correction (Eq. 14), with a skip connection;
    then the atomwise interaction (Eqs. 17–19) with a second skip connection.

    Options beyond the paper (defaults: the paper's version):

    * ``squared``: SPHC invariants (filter inputs, interaction inputs, the SPHC distance of the
      non-local neighbourhood) as squared norms ‖·‖² instead of ‖·‖. ‖x‖ has no derivative at
      x = 0, which happens (e.g. χ^(1) of a centrosymmetric atom, two atoms with equal SPHCs), so
      forces jump where such a quantity passes through zero; ‖·‖² is smooth there. The authors'
      code uses a Clebsch–Gordan l = 0 contraction, a per-degree weighted sum of squares.
    * ``non_local_features``: add the non-local correction also to the feature update
      (Eq. 12 with φ_χcut in place of φ_rcut); the paper corrects the SPHCs only.
    * ``non_local_diagonal=False``: leave χ_ii out of the row softmax of Eq. 14 (earlier
      version; only for rebuilding models trained with it).
    * ``non_local_average``: weight the non-local pairs by φ_χcut,ij / (1 + Σ_k φ_χcut,ik)
      instead of φ_χcut,ij: an average over the SPHC neighbourhood, whose size grows ∝ n, so the
      update stays size-intensive (with the plain sum a random 6-layer network can let ‖χ‖ grow
      with n).
    """

    def __init__(
        self,
        n_features: int,
        n_heads: int,
        n_rbf: int,
        degree_ops: DegreeOps,
        radial_hidden: int,
        spherical_hidden: int,
        parity: bool,
        kappa: float,
        chunk: int | None = None,
        local_slices: int = 1,
        fused: str = "inference",
        squared: bool = False,
        non_local_features: bool = False,
        non_local_average: bool = False,
        non_local_diagonal: bool = True,
        coupling: str = "paper",
        interaction: str = "paper",
    ):
        super().__init__()
        self.chunk = chunk
        self.local_slices = local_slices
        self.fused = fused
        n_deg = len(degree_ops.degrees)
        self.ops = degree_ops
        self.kappa = float(kappa)
        self.squared = bool(squared)
        self.non_local_features = bool(non_local_features)
        self.non_local_average = bool(non_local_average)
        self.non_local_diagonal = bool(non_local_diagonal)
        self.feature_filter = Filter(n_rbf, n_deg, n_features, radial_hidden, spherical_hidden)
        self.sphc_filter = Filter(n_rbf, n_deg, n_features, radial_hidden, spherical_hidden)
        self.feature_attention = FeatureAttention(n_features, n_heads)
        self.sphc_attention = SphcAttention(n_features, degree_ops)
        self.interaction = AtomwiseInteraction(n_features, degree_ops, parity, interaction, coupling, squared)

    def _use_fused(self, n_edges: int) -> bool:
        """The local messages through :mod:`equimol.nn.so3krates_message` (eager only)?"""
        if self.local_slices > 1 or torch.compiler.is_compiling():
            return False
        auto = self.fused == "inference" and not self.training and n_edges >= FUSED_MIN_EDGES
        return self.fused == "always" or auto

    def sphc_invariants(
        self, chi: torch.Tensor, i: torch.Tensor, j: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-degree ‖χ_j^(l) − χ_i^(l)‖ (P, |L|) (filter input, Eq. 16) and the SPHC distance
        ‖χ_j − χ_i‖ over all degrees (P,) (Eq. 14); both squared with ``squared``."""
        sq = self.ops.sq_norms(chi.index_select(0, j) - chi.index_select(0, i))
        if self.squared:
            return sq, sq.sum(-1)
        return safe_norm(sq), safe_norm(sq.sum(-1))

    def _messages(
        self,
        n_atoms: int,
        qkv,
        qk,
        index,
        rbf,
        sh,
        dchi,
        weight,
        pair=None,
        slices: int = 1,
        features: bool = True,
    ):
        """Filters (So3krates Eq. 16) and the attention updates: (Δf, Δχ, α_f, α_χ), or only
        (Δχ, α_χ) without ``features``; with ``pair``, ``rbf`` and ``dchi`` are per unordered
        pair and the filters are gathered onto the edges. With ``slices`` > 1, the attention
        runs over that many checkpointed slices of the edges (see :meth:`_chunked_attention`)."""
        wf = self.feature_filter(rbf, dchi) if features else None
        wg = self.sphc_filter(rbf, dchi)
        if slices > 1 and index.shape[1] >= slices:
            chunk = -(-index.shape[1] // slices)
            return self._chunked_attention(n_atoms, qkv, qk, index, wf, wg, weight, sh, pair, chunk)
        return self._attention(n_atoms, qkv, qk, index, wf, wg, weight, sh, pair)

    def _attention(self, n_atoms: int, qkv, qk, index, wf, wg, weight, sh, pair=None):
        """The attention updates (So3krates Eqs. 12–13) from the filters ``wf`` (None: SPHC update
        only), ``wg`` (per edge, or per unordered pair with ``pair``)."""
        if pair is not None:
            wg = wg.index_select(0, pair)
            wf = None if wf is None else wf.index_select(0, pair)
        dx, a_g = self.sphc_attention.aggregate(qk, index, wg, weight, sh, n_atoms)
        if wf is None:
            return dx, a_g
        df, a_f = self.feature_attention.aggregate(qkv, index, wf, weight, n_atoms)
        return df, dx, a_f, a_g

    def _chunked_attention(self, n_atoms: int, qkv, qk, index, wf, wg, weight, sh, pair, chunk: int):
        """``_attention`` over slices of ``chunk`` edges, each recomputed in the backward pass
        (activation checkpointing): the (E, F) gathered projections, filters and products of
        all edges are never stored at once; the filters themselves are (once per pair)."""

        def args(sl: slice) -> tuple:
            if pair is None:  # filters per edge: sliced; else per pair, gathered in the slice
                wf_sl = None if wf is None else wf[sl]
                return (n_atoms, qkv, qk, index[:, sl], wf_sl, wg[sl], weight[sl], sh[sl], None)
            return (n_atoms, qkv, qk, index[:, sl], wf, wg, weight[sl], sh[sl], pair[sl])

        n_sum = 1 if wf is None else 2
        return _checkpointed_slices(self._attention, index.shape[1], chunk, args, n_sum)

    def _chunked_messages(self, n_atoms: int, qkv, qk, index, rbf, sh, dchi, weight, features: bool = True):
        """``_messages`` over slices of ``chunk`` pairs, each recomputed in the backward pass
        (activation checkpointing), so that no (P, F) activation of all pairs is ever stored."""
        chunk = self.chunk
        if not chunk or index.shape[1] <= chunk:
            return self._messages(n_atoms, qkv, qk, index, rbf, sh, dchi, weight, features=features)

        def fn(*args):
            return self._messages(*args, features=features)

        def args(sl: slice) -> tuple:
            return (n_atoms, qkv, qk, index[:, sl], rbf[sl], sh[sl], dchi[sl], weight[sl])

        return _checkpointed_slices(fn, index.shape[1], chunk, args, 2 if features else 1)

    def forward(
        self,
        f: torch.Tensor,
        chi: torch.Tensor,
        local: PairGeometry,
        non_local: PairGeometry | None = None,
        record: dict | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n_atoms = f.shape[0]
        qkv = self.feature_attention.project(f)
        qk = self.sphc_attention.project(f)
        # d_ij = ‖χ_j − χ_i‖ per degree, once per unordered pair where pairs are known
        i, j = local.index if local.pair_edge is None else local.index.index_select(1, local.pair_edge)
        dchi_local = self.sphc_invariants(chi, i, j)[0]
        if self._use_fused(local.index.shape[1]):
            df, dchi, a_f, a_g = fused_attention(
                qkv,
                qk,
                local.rbf,
                dchi_local,
                local.sh,
                local.weight,
                local.index[0],
                local.index[1],
                local.pair,
                self.ops.index,
                filter_params(self.feature_filter, self.sphc_filter),
            )
        else:
            df, dchi, a_f, a_g = self._messages(
                n_atoms,
                qkv,
                qk,
                local.index,
                local.rbf,
                local.sh,
                dchi_local,
                local.weight,
                local.pair,
                self.local_slices,
            )
        if record is not None:
            record.update(sphc_in=chi, attention=a_f, sphc_attention=a_g)
        if non_local is not None:
            i, j = non_local.index
            d_pair, dist = self.sphc_invariants(chi, i, j)  # (P, |L|), (P,)
            phi_chi = sphc_neighbourhood(
                dist, i, non_local.n_atoms, n_atoms, self.kappa, self.non_local_diagonal
            )
            # Pairs outside the neighbourhood contribute nothing, nor does their derivative (φ is C⁵).
            keep = torch.nonzero(phi_chi > 0).squeeze(1)
            index = non_local.index[:, keep]
            weight = phi_chi[keep]
            if self.non_local_average:
                weight = weight / (1.0 + scatter_sum(phi_chi, i, n_atoms))[index[0]]
            out = self._chunked_messages(
                n_atoms,
                qkv,
                qk,
                index,
                non_local.rbf[keep],
                non_local.sh[keep],
                d_pair[keep],
                weight,
                features=self.non_local_features,
            )
            if self.non_local_features:
                df_nl, dchi_nl, a_f_nl, a_g_nl = out
                df = df + df_nl
            else:
                dchi_nl, a_g_nl = out
            dchi = dchi + dchi_nl
            if record is not None:
                record.update(
                    nonlocal_index=index,
                    nonlocal_weight=phi_chi[keep],
                    nonlocal_sphc_attention=a_g_nl,
                    nonlocal_sphc_update=dchi_nl,
                )
                if self.non_local_features:
                    record.update(nonlocal_attention=a_f_nl, nonlocal_feature_update=df_nl)
        f, chi = f + df, chi + dchi
        da, dx = self.interaction(f, chi)
        f, chi = f + da, chi + dx
        if record is not None:
            record.update(features=f, sphc=chi)
        return f, chi
