import torch

from equimol.nn.gated import GatedEquivariantBlock, GatedOutputNetwork, gated_output_network


def _inputs(n=7, f=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=g, dtype=torch.float64), torch.randn(
        n, 3, f, generator=g, dtype=torch.float64
    )


def test_block_shapes_and_equivariance(rotation):
    torch.manual_seed(0)
    block = GatedEquivariantBlock(16, 12, 5, activation_on_scalars=True).double()
    s, v = _inputs()
    s1, v1 = block(s, v)
    assert s1.shape == (7, 5) and v1.shape == (7, 3, 5)
    R = torch.as_tensor(rotation)
    s2, v2 = block(s, torch.einsum("ab,nbf->naf", R, v))
    torch.testing.assert_close(s2, s1)
    torch.testing.assert_close(v2, torch.einsum("ab,nbf->naf", R, v1))


def test_block_scalar_activation():
    torch.manual_seed(0)
    s, v = _inputs(n=50)
    activated = GatedEquivariantBlock(16, 16, 8, activation_on_scalars=True).double()(s, v)[0]
    linear = GatedEquivariantBlock(16, 16, 8, activation_on_scalars=False).double()(s, v)[0]
    assert activated.min() >= -0.2785  # SiLU is bounded below by −0.2785
    assert linear.min() < -0.3


def test_two_block_output_network():
    net = gated_output_network(16, 1)
    assert isinstance(net, GatedOutputNetwork) and len(net.blocks) == 2
    assert isinstance(net.blocks[0].activation, torch.nn.SiLU)
    assert isinstance(net.blocks[1].activation, torch.nn.Identity)
    s, v = _inputs()
    out_s, out_v = net.double()(s, v)
    assert out_s.shape == (7, 1) and out_v.shape == (7, 3, 1)


def test_zero_vectors_have_finite_gradients():
    net = gated_output_network(16, 1).double()
    s, _ = _inputs()
    v = torch.zeros(7, 3, 16, dtype=torch.float64, requires_grad=True)
    out_s, out_v = net(s, v)
    (g,) = torch.autograd.grad(out_s.sum() + out_v.sum(), v, create_graph=True)
    (gg,) = torch.autograd.grad(g.sum(), v)
    assert torch.isfinite(g).all() and torch.isfinite(gg).all()
