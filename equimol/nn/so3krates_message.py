"""So3krates' local message step (filters Eq. 16, attention Eqs. 12–13, 15) as one autograd
function that keeps no per-edge activations.

Written with tensor ops, autograd keeps for every local edge the hidden layers of four filter
MLPs, the filters w_ij (E, F) of both attentions, the gathered queries, keys and values
(E, F each) and their products: about 40 kB per edge for the paper's network, 1.7 GB for a
1 000-atom water droplet. :class:`FusedAttention` keeps only per-atom tensors (the projections
[W_q f | W_k f | W_v f], [W_q f | W_k f] of the SPHC heads), the per-edge inputs (radial basis
(U, K), SPHC distances (U, |L|), Y^(l)(r̂_ij) (E, m_tot), cutoff (E,)) and recomputes the rest
chunk by chunk in the backward pass, which is written with differentiable ops (second
derivatives for force training work through it).

For an edge i ← j in a chunk (h heads of size d = F/h for the features, one head of size
d_g = F/|L| per degree for the SPHCs; φ(r_ij) the cutoff):

    w_ij   = φ_r(rbf_ij) + φ_s(d_ij),   g_ij = φ'_r(rbf_ij) + φ'_s(d_ij)           (Eq. 16)
    α_ij^h = φ(r_ij) Σ_k q_i^h[k] w_ij^h[k] k_j^h[k] / √d                          (Eq. 15)
    Δf_i^h = Σ_j α_ij^h v_j^h,    Δχ_i^(l) = Σ_j β_ij^(l) Y^(l)(r̂_ij)            (Eqs. 12–13)

with β from the SPHC heads as α from the feature heads (filter g). Each φ is Linear → SiLU →
Linear. With ``pair`` the basis and SPHC distances are given per unordered pair and gathered.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from equimol.nn.scatter import chunks

EDGE_CHUNK = 1024  # edges per attention chunk (transient memory ≈ chunk × a few × F × 4 B)
FILTER_CHUNK = 1024  # pairs per filter chunk


def _silu_grad(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def _mlp_forward(x, w1, b1, w2, b2):
    pre = F.linear(x, w1, b1)
    hid = F.silu(pre)
    return F.linear(hid, w2, b2), pre, hid


def _mlp_backward(g, x, pre, hid, w1, w2, weights: bool = True):
    """Gradients (x, w1, b1, w2, b2) of Linear → SiLU → Linear for the output gradient ``g``
    (without ``weights``: only the one of x, the others None)."""
    g_hid = g @ w2
    g_pre = g_hid * _silu_grad(pre)
    if not weights:
        return g_pre @ w1, None, None, None, None
    return g_pre @ w1, g_pre.T @ x, g_pre.sum(0), g.T @ hid, g.sum(0)


def _heads(q, k, w, scale):
    """Σ_k q[k] w[k] k[k] · scale over the last axis: (Ec, h, d) → (Ec, h)."""
    return (q * w * k).sum(-1) * scale


class FusedFilters(torch.autograd.Function):
    """(rbf (U, K), dchi (U, L), chunk, 16 filter tensors) → (w (U, F), g (U, F)) of Eq. 16,
    keeping only the inputs: the hidden layers are recomputed chunk by chunk in the backward."""

    @staticmethod
    def forward(ctx, rbf, dchi, chunk, *params):
        ws, gs = [], []
        for c in chunks(rbf.shape[0], chunk):
            w, g, _ = _filters(rbf[c], dchi[c], params)
            ws.append(w)
            gs.append(g)
        ctx.save_for_backward(rbf, dchi, *params)
        ctx.chunk = chunk
        n_f = params[2].shape[0]
        empty = rbf.new_zeros((0, n_f))
        return (torch.cat(ws) if ws else empty), (torch.cat(gs) if gs else empty)

    @staticmethod
    def backward(ctx, g_w, g_g):
        rbf, dchi, *params = ctx.saved_tensors
        g_w = torch.zeros((rbf.shape[0], params[2].shape[0]), dtype=rbf.dtype) if g_w is None else g_w
        g_g = torch.zeros_like(g_w) if g_g is None else g_g
        # parameter gradients only where needed (inference: forces need none)
        g_params = [
            torch.zeros_like(p) if need else None
            for p, need in zip(params, ctx.needs_input_grad[3:], strict=True)
        ]
        g_rbf, g_dchi = [], []
        for c in chunks(rbf.shape[0], ctx.chunk):
            rb, dc = rbf[c], dchi[c]
            saved = _filter_activations(rb, dc, params, weights=g_params[0] is not None)
            g_rb, g_dc = _filters_backward(g_w[c], g_g[c], rb, dc, saved, params, g_params)
            g_rbf.append(g_rb)
            g_dchi.append(g_dc)
        g_rbf = torch.cat(g_rbf) if g_rbf else torch.zeros_like(rbf)
        g_dchi = torch.cat(g_dchi) if g_dchi else torch.zeros_like(dchi)
        return (g_rbf, g_dchi, None, *g_params)


class FusedAttention(torch.autograd.Function):
    """Inputs: queries, keys, values of the feature heads q, k, v (N, h, d), of the SPHC heads
    qg, kg (N, L, d_g), the filters w, g (U, F) (per unordered pair with ``pair`` (E,), else per
    edge), sh (E, m), cut (E,), i, j (E,), pair or None, degree index (m,) (degree of each SPHC
    component), chunk. Outputs: Δf (N, h, d), Δχ (N, m), α (E, h), β (E, L)."""

    @staticmethod
    def forward(ctx, q, k, v, qg, kg, wf_all, wg_all, sh, cut, i, j, pair, degree, chunk):
        n, h, d = q.shape
        n_deg, dg = qg.shape[1], qg.shape[2]
        df = q.new_zeros((n, h, d))
        dx = q.new_zeros((n, sh.shape[1]))
        alphas, betas = [], []
        for c in chunks(i.shape[0], chunk):
            ic, jc = i[c], j[c]
            wf, wg = _edge_inputs(wf_all, wg_all, pair, c)
            cc = cut[c, None]
            a = (
                _heads(q.index_select(0, ic), k.index_select(0, jc), wf.view(-1, h, d), 1.0 / math.sqrt(d))
                * cc
            )
            df.index_add_(0, ic, a[:, :, None] * v.index_select(0, jc))
            b = _heads(
                qg.index_select(0, ic), kg.index_select(0, jc), wg.view(-1, n_deg, dg), 1.0 / math.sqrt(dg)
            )
            b = b * cc
            dx.index_add_(0, ic, b.index_select(1, degree) * sh[c])
            alphas.append(a)
            betas.append(b)
        ctx.save_for_backward(q, k, v, qg, kg, wf_all, wg_all, sh, cut, i, j, pair, degree)
        ctx.chunk = chunk
        alpha = torch.cat(alphas) if alphas else q.new_zeros((0, h))
        beta = torch.cat(betas) if betas else q.new_zeros((0, n_deg))
        return df, dx, alpha, beta

    @staticmethod
    def backward(ctx, g_df, g_dx, g_alpha, g_beta):
        q, k, v, qg, kg, wf_all, wg_all, sh, cut, i, j, pair, degree = ctx.saved_tensors
        n, h, d = q.shape
        n_deg, dg = qg.shape[1], qg.shape[2]
        sf, sg = 1.0 / math.sqrt(d), 1.0 / math.sqrt(dg)
        g_df = torch.zeros_like(q) if g_df is None else g_df
        g_dx = torch.zeros((n, sh.shape[1]), dtype=q.dtype) if g_dx is None else g_dx
        g_q, g_k, g_v = torch.zeros_like(q), torch.zeros_like(k), torch.zeros_like(v)
        g_qg, g_kg = torch.zeros_like(qg), torch.zeros_like(kg)
        g_wf_all, g_wg_all = torch.zeros_like(wf_all), torch.zeros_like(wg_all)
        g_sh, g_cut = [], []
        for c in chunks(i.shape[0], ctx.chunk):
            ic, jc = i[c], j[c]
            wf, wg = _edge_inputs(wf_all, wg_all, pair, c)
            cc = cut[c, None]
            # --- feature attention
            qi, kj, vj = q.index_select(0, ic), k.index_select(0, jc), v.index_select(0, jc)
            wfh = wf.view(-1, h, d)
            raw_a = _heads(qi, kj, wfh, sf)
            g_msg = g_df.index_select(0, ic)  # (Ec, h, d)
            g_a = (g_msg * vj).sum(-1)
            if g_alpha is not None:
                g_a = g_a + g_alpha[c]
            g_v.index_add_(0, jc, g_msg * (raw_a * cc)[:, :, None])
            g_raw_a = g_a * cc * sf
            g_cut_c = (g_a * raw_a).sum(-1)
            gw = g_raw_a[:, :, None] * wfh
            g_q.index_add_(0, ic, gw * kj)
            g_k.index_add_(0, jc, gw * qi)
            g_wf = (g_raw_a[:, :, None] * qi * kj).reshape(wf.shape)
            # --- SPHC attention
            qgi, kgj = qg.index_select(0, ic), kg.index_select(0, jc)
            wgh = wg.view(-1, n_deg, dg)
            raw_b = _heads(qgi, kgj, wgh, sg)
            g_xe = g_dx.index_select(0, ic)  # (Ec, m)
            g_b = torch.zeros_like(raw_b).index_add(1, degree, g_xe * sh[c])
            if g_beta is not None:
                g_b = g_b + g_beta[c]
            g_sh.append(g_xe * (raw_b * cc).index_select(1, degree))
            g_raw_b = g_b * cc * sg
            g_cut.append(g_cut_c + (g_b * raw_b).sum(-1))
            gwg = g_raw_b[:, :, None] * wgh
            g_qg.index_add_(0, ic, gwg * kgj)
            g_kg.index_add_(0, jc, gwg * qgi)
            g_wg = (g_raw_b[:, :, None] * qgi * kgj).reshape(wg.shape)
            if pair is None:
                g_wf_all[c], g_wg_all[c] = g_wf, g_wg
            else:
                g_wf_all.index_add_(0, pair[c], g_wf)
                g_wg_all.index_add_(0, pair[c], g_wg)
        g_sh = torch.cat(g_sh) if g_sh else torch.zeros_like(sh)
        g_cut = torch.cat(g_cut) if g_cut else torch.zeros_like(cut)
        return (g_q, g_k, g_v, g_qg, g_kg, g_wf_all, g_wg_all, g_sh, g_cut, None, None, None, None, None)


def _edge_inputs(rbf, dchi, pair, c: slice):
    if pair is None:
        return rbf[c], dchi[c]
    p = pair[c]
    return rbf.index_select(0, p), dchi.index_select(0, p)


def _filters(rb, dc, params):
    """w (Ec, F) and g (Ec, F) of Eq. 16, and what their backward needs."""
    rf, sf, rg, sg = params[0:4], params[4:8], params[8:12], params[12:16]
    o1, p1, h1 = _mlp_forward(rb, *rf)
    o2, p2, h2 = _mlp_forward(dc, *sf)
    o3, p3, h3 = _mlp_forward(rb, *rg)
    o4, p4, h4 = _mlp_forward(dc, *sg)
    return o1 + o2, o3 + o4, ((p1, h1), (p2, h2), (p3, h3), (p4, h4))


def _filter_activations(rb, dc, params, weights: bool):
    """(pre-activation, hidden) of the four filter MLPs, as the backward needs them: without
    weight gradients only the pre-activations (the hidden layer feeds only W2's gradient)."""
    out = []
    for k, x in enumerate((rb, dc, rb, dc)):
        pre = F.linear(x, params[4 * k], params[4 * k + 1])
        out.append((pre, F.silu(pre) if weights else None))
    return out


def _filters_backward(g_wf, g_wg, rb, dc, saved, params, g_params):
    """Input gradients of the four filter MLPs; parameter gradients are added to ``g_params``
    (None entries: not needed)."""
    g_rb = torch.zeros_like(rb)
    g_dc = torch.zeros_like(dc)
    for k, (g, x) in enumerate(((g_wf, rb), (g_wf, dc), (g_wg, rb), (g_wg, dc))):
        w1, w2 = params[4 * k], params[4 * k + 2]
        pre, hid = saved[k]
        weights = g_params[4 * k] is not None
        g_x, *g_w = _mlp_backward(g, x, pre, hid, w1, w2, weights)
        if weights:
            for m, gw in enumerate(g_w):
                g_params[4 * k + m] = g_params[4 * k + m] + gw
        if k % 2 == 0:
            g_rb = g_rb + g_x
        else:
            g_dc = g_dc + g_x
    return g_rb, g_dc


def filter_params(feature_filter, sphc_filter) -> list[torch.Tensor]:
    """The 16 tensors [w1, b1, w2, b2] × (φ_r, φ_s of the feature filter, φ'_r, φ'_s of the SPHC
    filter) in the order :class:`FusedAttention` takes them."""
    out = []
    for mlp in (feature_filter.radial, feature_filter.spherical, sphc_filter.radial, sphc_filter.spherical):
        lin1, _, lin2 = mlp
        out += [lin1.weight, lin1.bias, lin2.weight, lin2.bias]
    return out


def fused_attention(
    qkv,
    qk,
    rbf,
    dchi,
    sh,
    cut,
    i,
    j,
    pair,
    degree,
    params,
    chunk: int = EDGE_CHUNK,
    filter_chunk: int = FILTER_CHUNK,
):
    """(Δf (N, F), Δχ (N, m), α (E, h), β (E, L)); see the module docstring. The filters are
    evaluated once per unordered pair (``pair``) by :class:`FusedFilters`, the attention per edge
    by :class:`FusedAttention`."""
    wf, wg = FusedFilters.apply(rbf, dchi, filter_chunk, *params)
    d, dg = qkv.shape[2] // 3, qk.shape[2] // 2
    q, k, v = (qkv[..., s * d : (s + 1) * d].contiguous() for s in range(3))
    qg, kg = qk[..., :dg].contiguous(), qk[..., dg:].contiguous()
    df, dx, alpha, beta = FusedAttention.apply(q, k, v, qg, kg, wf, wg, sh, cut, i, j, pair, degree, chunk)
    return df.reshape(df.shape[0], -1), dx, alpha, beta
