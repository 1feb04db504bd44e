"""The fused So3krates local messages (equimol.nn.so3krates_message): the same numbers as the
tensor-op layers, first and second derivatives included, chunked or not, with and without
unordered pairs."""

import math

import pytest
import torch
from torch.nn import functional as F

import equimol
from equimol import keys as K
from equimol.errors import ConfigError
from equimol.evaluator import structures_batch
from equimol.nn.mlp import mlp
from equimol.nn.so3 import DegreeOps
from equimol.nn.so3krates_message import fused_attention
from equimol.testing import ethanol

DT = torch.float64


def reference(qkv, qk, rbf, dchi, sh, cut, i, j, pair, ops, params, n, h, nf):
    """Eqs. 12, 13, 15, 16 with plain tensor ops."""
    rb, dc = (rbf, dchi) if pair is None else (rbf[pair], dchi[pair])

    def phi(x, w1, b1, w2, b2):
        return F.linear(F.silu(F.linear(x, w1, b1)), w2, b2)

    wf = phi(rb, *params[0:4]) + phi(dc, *params[4:8])
    wg = phi(rb, *params[8:12]) + phi(dc, *params[12:16])
    d = nf // h
    a = (qkv[i][..., :d] * wf.view(-1, h, d) * qkv[j][..., d : 2 * d]).sum(-1) / math.sqrt(d) * cut[:, None]
    df = torch.zeros(n, h, d, dtype=DT).index_add(0, i, a[:, :, None] * qkv[j][..., 2 * d :]).reshape(n, nf)
    n_deg = qk.shape[1]
    dg = nf // n_deg
    b = (qk[i][..., :dg] * wg.view(-1, n_deg, dg) * qk[j][..., dg:]).sum(-1) / math.sqrt(dg) * cut[:, None]
    dx = torch.zeros(n, sh.shape[1], dtype=DT).index_add(0, i, ops.expand(b) * sh)
    return df, dx, a, b


@pytest.mark.parametrize("paired", [True, False])
def test_fused_attention_matches_the_equations_with_first_and_second_derivatives(paired):
    torch.manual_seed(0)
    n, e, u, h, nf, k = 5, 12, 6, 2, 6, 4
    ops = DegreeOps((1, 2))
    sizes = [(k, 5), (2, 3), (k, 5), (2, 3)]
    nets = [mlp([a, hid, nf]).to(DT) for a, hid in sizes]
    params = [t for net in nets for t in (net[0].weight, net[0].bias, net[2].weight, net[2].bias)]
    i, j = torch.randint(0, n, (e,)), torch.randint(0, n, (e,))
    pair = torch.randint(0, u, (e,)) if paired else None
    n_pair = u if paired else e

    def rnd(*shape):
        return torch.randn(*shape, dtype=DT, requires_grad=True)

    inputs = [rnd(n, h, 3 * nf // h), rnd(n, 2, nf), rnd(n_pair, k), rnd(n_pair, 2), rnd(e, 8), rnd(e)]
    out = fused_attention(*inputs, i, j, pair, ops.index, params, chunk=5, filter_chunk=4)
    ref = reference(*inputs, i, j, pair, ops, params, n, h, nf)
    for a, b in zip(out, ref, strict=True):
        torch.testing.assert_close(a, b)

    def fn(*t):
        return fused_attention(*t[:6], i, j, pair, ops.index, list(t[6:]), chunk=5, filter_chunk=4)

    assert torch.autograd.gradcheck(fn, inputs + params)
    assert torch.autograd.gradgradcheck(fn, inputs + params)


@pytest.mark.parametrize("options", [{}, {"non_local": True}, {"sphc_norm": "squared", "l_max": 1}])
def test_so3krates_does_not_depend_on_the_message_implementation(options):
    torch.manual_seed(0)
    kw = dict(n_features=12, n_layers=2, n_heads=2, heads=("energy", "dipole")) | options
    fused = equimol.build_model("so3krates", fused_messages="always", **kw).double()
    plain = equimol.build_model("so3krates", fused_messages="never", **kw).double()
    plain.load_state_dict(fused.state_dict())
    mol = ethanol()
    batch = structures_batch([mol, mol | {K.POSITIONS: mol[K.POSITIONS] * 1.03}], 5.0, DT)
    for model in (fused, plain):
        model.eval()
    a, b = fused(batch), plain(batch)
    for key in (K.ENERGY, K.FORCES, K.DIPOLE):
        torch.testing.assert_close(a[key], b[key])
    grads = []
    for model in (fused, plain):  # force training: the double backward goes through the fused functions
        model.train()
        out = model(batch, create_graph=True)
        (out[K.ENERGY].square().sum() + out[K.FORCES].square().sum()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1])


def test_bad_mode_is_refused():
    with pytest.raises(ConfigError, match="fused_messages"):
        equimol.build_model("so3krates", n_features=12, n_layers=1, fused_messages="yes")
