"""PaiNN's message (Eqs. 7–8) as one autograd function that keeps no per-edge products.

Written with plain tensor ops, autograd would keep every per-edge intermediate of a message
block for the backward pass: the filters W(r_ij) (E, 3F), the gathered φ(s_j) (E, 3F), the
gathered v_j (E, 3, F) and the gates: about 26 kB per edge for F = 128 and 3 interactions, 1.1
GB for a 1 000-atom water droplet. :class:`FusedMessage` keeps only per-atom tensors (φ(s),
v), the radial basis (E, K + 1) and the unit vectors (E, 3), and recomputes the per-edge
products chunk by chunk (``chunk`` edges at a time) in the backward pass; the forward pass is
chunked the same way, so no (E, 3F) tensor ever exists in full. The backward is written with
differentiable ops, so second derivatives (training on forces) work through it.

The message of block t for the edge i ← j (r̂_ij the unit vector, W = [rbf f_cut, f_cut] Wᵀ):

    x_ij = φ(s_j) ∘ W_t(r_ij) = (Δs_ij, a_ij, b_ij)                 (Eq. 7–8, split in F each)
    Δs_i = Σ_j Δs_ij,    Δv_i = Σ_j b_ij r̂_ij + a_ij ∘ v_j

(``propagate=False``: no a_ij, Table IV's "no vector propagation"; ``first=True``: v = 0.)
"""

from __future__ import annotations

import torch

from equimol.nn.scatter import chunks

EDGE_CHUNK = 512  # edges per chunk: small enough to stay in cache (fastest on CPU, see benchmarks)


class FusedMessage(torch.autograd.Function):
    """(φ(s) (N, nF), basis (E, K+1), weight (nF, K+1), unit (E, 3), v (N, 3, F), i, j) →
    (Σ_j Δs_ij (N, F), Σ_j Δv_ij (N, 3, F)); nF = 2F (no propagation) or 3F."""

    @staticmethod
    def forward(ctx, phi_s, basis, weight, unit, v, i, j, propagate: bool, first: bool, chunk: int):
        n_atoms, n_f = phi_s.shape
        f = v.shape[-1]
        ds_sum = phi_s.new_zeros((n_atoms, f))
        dv_sum = phi_s.new_zeros((n_atoms, 3, f))
        for c in chunks(i.shape[0], chunk):
            jc = j[c]
            x = phi_s.index_select(0, jc) * (basis[c] @ weight.T)
            ds_sum.index_add_(0, i[c], x[:, :f])
            dv = x[:, None, -f:] * unit[c, :, None]
            if propagate and not first:
                dv = dv + x[:, None, f : 2 * f] * v.index_select(0, jc)
            dv_sum.index_add_(0, i[c], dv)
        ctx.save_for_backward(phi_s, basis, weight, unit, v, i, j)
        ctx.options = (propagate, first, chunk)
        return ds_sum, dv_sum

    @staticmethod
    def backward(ctx, g_ds, g_dv):
        phi_s, basis, weight, unit, v, i, j = ctx.saved_tensors
        propagate, first, chunk = ctx.options
        f = v.shape[-1]
        with_v = propagate and not first
        if g_dv is None:
            g_dv = torch.zeros_like(v)
        if g_ds is None:
            g_ds = phi_s.new_zeros((phi_s.shape[0], f))
        # per-atom gradients are accumulated in place (index_add_ is differentiable), per-edge
        # ones are concatenated: both work under create_graph (second derivatives)
        g_phi = torch.zeros_like(phi_s)
        g_v = torch.zeros_like(v) if with_v else None
        need_weight = ctx.needs_input_grad[2]  # inference (forces only) needs no weight gradient
        # training without forces (dipoles, polarizabilities, energies only): the positions need
        # no gradient, so neither do the radial basis and the unit vectors
        need_basis, need_unit = ctx.needs_input_grad[1], ctx.needs_input_grad[3]
        g_weight = torch.zeros_like(weight) if need_weight else None
        g_basis, g_unit = [], []
        for c in chunks(i.shape[0], chunk):
            ic, jc = i[c], j[c]
            w = basis[c] @ weight.T  # (Ec, nF), recomputed
            pj = phi_s.index_select(0, jc)
            gv_i = g_dv.index_select(0, ic)  # (Ec, 3, F)
            parts = [g_ds.index_select(0, ic)]  # ∂L/∂Δs_ij
            if propagate:
                if with_v:
                    parts.append((gv_i * v.index_select(0, jc)).sum(1))  # ∂L/∂a_ij
                    a = pj[:, f : 2 * f] * w[:, f : 2 * f]
                    g_v.index_add_(0, jc, gv_i * a[:, None, :])
                else:
                    parts.append(g_ds.new_zeros((ic.shape[0], f)))
            parts.append((gv_i * unit[c, :, None]).sum(1))  # ∂L/∂b_ij
            if need_unit:
                b = pj[:, -f:] * w[:, -f:]
                g_unit.append((gv_i * b[:, None, :]).sum(-1))
            g_x = torch.cat(parts, dim=-1)  # (Ec, nF)
            g_phi.index_add_(0, jc, g_x * w)
            g_w = g_x * pj
            if need_basis:
                g_basis.append(g_w @ weight)
            if need_weight:
                g_weight = g_weight + g_w.T @ basis[c]
        if need_basis:
            g_basis = torch.cat(g_basis) if g_basis else torch.zeros_like(basis)  # no edges: no chunks
        if need_unit:
            g_unit = torch.cat(g_unit) if g_unit else torch.zeros_like(unit)
        g_basis = g_basis if need_basis else None
        g_unit = g_unit if need_unit else None
        return g_phi, g_basis, g_weight, g_unit, g_v, None, None, None, None, None


def fused_message(phi_s, basis, weight, unit, v, i, j, propagate=True, first=False, chunk=EDGE_CHUNK):
    """Σ_j Δs_ij and Σ_j Δv_ij of one PaiNN message block (see the module docstring)."""
    return FusedMessage.apply(phi_s, basis, weight, unit, v, i, j, propagate, first, chunk)
