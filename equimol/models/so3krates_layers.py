"""So3krates building blocks (Frank, Unke, Müller, NeurIPS 2022): filters, self-attention message
passing on features and SPHCs, atomwise interaction, and the non-local SPHC-space neighbourhood.

Notation: N atoms, F features, h heads, |L| SPHC degrees, m_tot = Σ_l (2l+1), E local edges
(i receives from j within r_cut), P intramolecular atom pairs (non-local corrections).
All sums over pairs are segment sums (``index_add``); there are no loops over atoms, edges
or molecules (only, to bound memory, over fixed-size tiles of non-local pairs, see
``So3kratesLayer._chunked_messages``, and optionally of local edges, ``_chunked_attention``).
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


def segment_softmax(x: torch.Tensor, index: torch.Tensor, n_segments: int) -> torch.Tensor:
    """softmax of ``x`` (P,) within the groups of equal ``index`` (a row-wise softmax)."""
    # Any per-row shift leaves the softmax unchanged, so a detached row maximum is exact.
    row_max = x.new_full((n_segments,), -torch.inf)
    row_max = row_max.scatter_reduce(0, index, x.detach(), "amax", include_self=True)
    e = torch.exp(x - row_max[index])
    return e / scatter_sum(e, index, n_segments)[index]


def sphc_neighbourhood(
    dist_sq: torch.Tensor, index_i: torch.Tensor, n_pair: torch.Tensor, n_atoms: int, kappa: float
) -> torch.Tensor:
    """Non-local weights φ_χcut, So3krates Eq. 14 and App. A.2: (P,) in [0, 1].

    The SPHC distance matrix D_ij = ‖χ_i − χ_j‖² (i ≠ j, same molecule) is normalised row-wise
    by a softmax, D̃_ij = softmax_j(D_ij), so that its scale does not depend on the molecule
    (Σ_j D̃_ij = 1, typical entries ≈ 1/n); a polynomial cutoff (p = 6) at χ_cut = κ / n then
    keeps the atoms j with D̃_ij < κ/n, i.e. for κ = 1 those whose SPHCs are closer to χ_i than a
    typical member of the row.
    """
    d = segment_softmax(dist_sq, index_i, n_atoms)
    return polynomial_cutoff(d * n_pair / kappa, 1.0, p=6)


class Filter(nn.Module):
    """w_ij = φ_r(rbf(r_ij)) + φ_s(d_ij), So3krates Eq. 16.

    φ_r: MLP K → ``radial_hidden`` → F; φ_s: MLP |L| → ``spherical_hidden`` → F on the
    per-degree SPHC distances d_ij^(l) = ‖χ_j^(l) − χ_i^(l)‖² (SiLU).
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


class AtomwiseInteraction(nn.Module):
    """Feature–SPHC interaction, So3krates Eqs. 17–19:

    [a_i, b_i] = φ_{1,2}(f_i ⊕ (‖χ_i^(l)‖²)_l)           (shared MLP, F+|L| → F → F+|L|)
    c_i^(l)    = φ_3^(l)(f_i)                            (linear, no bias)
    f_i        ← f_i + a_i
    χ_i^(l)    ← χ_i^(l) + b_i^(l) χ_i^(l) + c_i^(l) χ̃_i^(l),   χ̃ = cross-degree CG product.
    """

    def __init__(self, n_features: int, degree_ops: DegreeOps, parity: bool = True):
        super().__init__()
        n_deg = len(degree_ops.degrees)
        self.n_features = n_features
        self.ops = degree_ops
        self.phi12 = mlp([n_features + n_deg, n_features, n_features + n_deg])
        self.phi3 = nn.Linear(n_features, n_deg, bias=False)
        self.coupled = CoupledProduct(degree_ops.degrees, parity)

    def forward(self, f: torch.Tensor, chi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # φ_{1,2}(f ⊕ ‖χ‖²) with the first layer's weight split by input blocks and the last
        # one's by output blocks: the same products as with torch.cat and slices, but every
        # tensor stays contiguous (this keeps torch.compile/inductor on CPU off a fusion that
        # drops the dependency on the preceding scatter, see equimol.compile).
        lin1, act, lin2 = self.phi12
        n = self.n_features
        h = F.linear(f, lin1.weight[:, :n], lin1.bias) + self.ops.sq_norms(chi) @ lin1.weight[:, n:].T
        h = act.forward(h)
        a = F.linear(h, lin2.weight[:n], lin2.bias[:n])
        b = F.linear(h, lin2.weight[n:], lin2.bias[n:])
        dchi = self.ops.expand(b) * chi + self.ops.expand(F.linear(f, self.phi3.weight)) * self.coupled(chi)
        return a, dchi


def _checkpointed_slices(fn, n: int, chunk: int, args_of) -> tuple[torch.Tensor, ...]:
    """``fn(*args_of(slice))`` → (Δf, Δχ, α_f, α_χ) over slices of ``chunk`` of ``n`` items, each
    recomputed in the backward pass (activation checkpointing) when gradients are on: the
    updates summed, the attention coefficients concatenated."""
    df = dx = 0.0
    a_f, a_g = [], []
    for s in range(0, n, chunk):
        args = args_of(slice(s, s + chunk))
        out = checkpoint(fn, *args, use_reentrant=False) if torch.is_grad_enabled() else fn(*args)
        df, dx = df + out[0], dx + out[1]
        a_f.append(out[2])
        a_g.append(out[3])
    return df, dx, torch.cat(a_f), torch.cat(a_g)


class So3kratesLayer(nn.Module):
    """One So3krates block: local (and optionally non-local) self-attention updates of features and
    SPHCs with a skip connection, then the atomwise interaction with a second skip connection."""

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
    ):
        super().__init__()
        self.chunk = chunk
        self.local_slices = local_slices
        n_deg = len(degree_ops.degrees)
        self.ops = degree_ops
        self.kappa = float(kappa)
        self.feature_filter = Filter(n_rbf, n_deg, n_features, radial_hidden, spherical_hidden)
        self.sphc_filter = Filter(n_rbf, n_deg, n_features, radial_hidden, spherical_hidden)
        self.feature_attention = FeatureAttention(n_features, n_heads)
        self.sphc_attention = SphcAttention(n_features, degree_ops)
        self.interaction = AtomwiseInteraction(n_features, degree_ops, parity)

    def _messages(self, n_atoms: int, qkv, qk, index, rbf, sh, dchi, weight, pair=None, slices: int = 1):
        """Filters (So3krates Eq. 16) and both attention updates; with ``pair``, ``rbf`` and
        ``dchi`` are per unordered pair and the filters are gathered onto the edges. With
        ``slices`` > 1, the attention runs over that many checkpointed slices of the edges (see
        :meth:`_chunked_attention`)."""
        wf = self.feature_filter(rbf, dchi)
        wg = self.sphc_filter(rbf, dchi)
        if slices > 1 and index.shape[1] >= slices:
            chunk = -(-index.shape[1] // slices)
            return self._chunked_attention(n_atoms, qkv, qk, index, wf, wg, weight, sh, pair, chunk)
        return self._attention(n_atoms, qkv, qk, index, wf, wg, weight, sh, pair)

    def _attention(self, n_atoms: int, qkv, qk, index, wf, wg, weight, sh, pair=None):
        """Both attention updates (So3krates Eqs. 12–13) from the filters ``wf``, ``wg`` (per edge,
        or per unordered pair with ``pair``)."""
        if pair is not None:
            wf, wg = wf.index_select(0, pair), wg.index_select(0, pair)
        df, a_f = self.feature_attention.aggregate(qkv, index, wf, weight, n_atoms)
        dx, a_g = self.sphc_attention.aggregate(qk, index, wg, weight, sh, n_atoms)
        return df, dx, a_f, a_g

    def _chunked_attention(self, n_atoms: int, qkv, qk, index, wf, wg, weight, sh, pair, chunk: int):
        """``_attention`` over slices of ``chunk`` edges, each recomputed in the backward pass
        (activation checkpointing): the (E, F) gathered projections, filters and products of
        all edges are never stored at once; the filters themselves are (once per pair)."""

        def args(sl: slice) -> tuple:
            if pair is None:  # filters per edge: sliced; else per pair, gathered in the slice
                return (n_atoms, qkv, qk, index[:, sl], wf[sl], wg[sl], weight[sl], sh[sl], None)
            return (n_atoms, qkv, qk, index[:, sl], wf, wg, weight[sl], sh[sl], pair[sl])

        return _checkpointed_slices(self._attention, index.shape[1], chunk, args)

    def _chunked_messages(self, n_atoms: int, qkv, qk, index, rbf, sh, dchi, weight):
        """``_messages`` over slices of ``chunk`` pairs, each recomputed in the backward pass
        (activation checkpointing), so that no (P, F) activation of all pairs is ever stored."""
        chunk = self.chunk
        if not chunk or index.shape[1] <= chunk:
            return self._messages(n_atoms, qkv, qk, index, rbf, sh, dchi, weight)

        def args(sl: slice) -> tuple:
            return (n_atoms, qkv, qk, index[:, sl], rbf[sl], sh[sl], dchi[sl], weight[sl])

        return _checkpointed_slices(self._messages, index.shape[1], chunk, args)

    def forward(
        self,
        f: torch.Tensor,
        chi: torch.Tensor,
        local: PairGeometry,
        non_local: PairGeometry | None = None,
        record: dict | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        qkv = self.feature_attention.project(f)
        qk = self.sphc_attention.project(f)
        # d_ij = ‖χ_j − χ_i‖² per degree, once per unordered pair where pairs are known
        i, j = local.index if local.pair_edge is None else local.index.index_select(1, local.pair_edge)
        dchi_local = self.ops.sq_norms(chi.index_select(0, j) - chi.index_select(0, i))
        df, dchi, a_f, a_g = self._messages(
            f.shape[0],
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
            d_pair = self.ops.sq_norms(chi.index_select(0, j) - chi.index_select(0, i))  # (P, |L|)
            phi_chi = sphc_neighbourhood(d_pair.sum(-1), i, non_local.n_atoms, f.shape[0], self.kappa)
            # The SPHC neighbourhood grows ∝ n; averaging over it keeps the update size-intensive.
            size = 1.0 + scatter_sum(phi_chi, i, f.shape[0])
            # Pairs outside the neighbourhood contribute nothing, nor does their derivative (φ is C⁵).
            keep = torch.nonzero(phi_chi > 0).squeeze(1)
            index = non_local.index[:, keep]
            weight = phi_chi[keep] / size[index[0]]
            df_nl, dchi_nl, a_f_nl, a_g_nl = self._chunked_messages(
                f.shape[0], qkv, qk, index, non_local.rbf[keep], non_local.sh[keep], d_pair[keep], weight
            )
            df, dchi = df + df_nl, dchi + dchi_nl
            if record is not None:
                record.update(
                    nonlocal_index=index,
                    nonlocal_weight=phi_chi[keep],
                    nonlocal_attention=a_f_nl,
                    nonlocal_sphc_attention=a_g_nl,
                )
        f, chi = f + df, chi + dchi
        da, dx = self.interaction(f, chi)
        f, chi = f + da, chi + dx
        if record is not None:
            record.update(features=f, sphc=chi)
        return f, chi
