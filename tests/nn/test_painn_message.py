"""The fused PaiNN message (equimol.nn.painn_message): the same numbers as the plain tensor ops,
first and second derivatives included, chunked or not."""

import pytest
import torch

import equimol
from equimol import keys as K
from equimol.errors import ConfigError
from equimol.evaluator import structures_batch
from equimol.nn.painn_message import fused_message
from equimol.testing import ethanol


def plain_message(phi_s, basis, weight, unit, v, i, j, propagate, first):
    f = v.shape[-1]
    x = phi_s[j] * (basis @ weight.T)
    ds = torch.zeros(v.shape[0], f, dtype=x.dtype).index_add(0, i, x[:, :f])
    dv = x[:, None, -f:] * unit[:, :, None]
    if propagate and not first:
        dv = dv + x[:, None, f : 2 * f] * v[j]
    return ds, torch.zeros_like(v).index_add(0, i, dv)


@pytest.mark.parametrize("propagate", [True, False])
@pytest.mark.parametrize("first", [True, False])
def test_fused_message_matches_plain_ops_with_first_and_second_derivatives(propagate, first):
    torch.manual_seed(0)
    n, e, f, k = 5, 14, 4, 3
    nf = (3 if propagate else 2) * f
    shapes = [(n, nf), (e, k), (nf, k), (e, 3), (n, 3, f)]
    args = [torch.randn(s, dtype=torch.float64, requires_grad=True) for s in shapes]
    i, j = torch.randint(0, n, (e,)), torch.randint(0, n, (e,))
    for a, b in zip(
        fused_message(*args, i, j, propagate, first, 4),
        plain_message(*args, i, j, propagate, first),
        strict=True,
    ):
        torch.testing.assert_close(a, b)

    def fn(*t):
        return fused_message(*t, i, j, propagate, first, 4)  # 4 edges per chunk: 4 chunks

    assert torch.autograd.gradcheck(fn, args)
    assert torch.autograd.gradgradcheck(fn, args)


def pair(**options):
    torch.manual_seed(0)
    fused = equimol.build_model("painn", n_features=16, n_interactions=2, fused_message="always", **options)
    plain = equimol.build_model("painn", n_features=16, n_interactions=2, fused_message="never", **options)
    plain.load_state_dict(fused.state_dict())
    return fused.double(), plain.double()


@pytest.mark.parametrize("options", [{}, {"vector_propagation": False}, {"scalar_product": False}])
def test_painn_energy_forces_and_training_gradients_do_not_depend_on_the_message_implementation(options):
    fused, plain = pair(heads=("energy", "dipole"), **options)
    mol = ethanol()
    batch = structures_batch([mol, mol | {K.POSITIONS: mol[K.POSITIONS] * 1.03}], 5.0, torch.float64)
    for model in (fused, plain):
        model.eval()
    a, b = fused(batch), plain(batch)
    for key in (K.ENERGY, K.FORCES, K.DIPOLE):
        torch.testing.assert_close(a[key], b[key])
    grads = []
    for model in (fused, plain):  # a training step: forces in the loss need the double backward
        model.train()
        out = model(batch, create_graph=True)
        (out[K.ENERGY].square().sum() + out[K.FORCES].square().sum()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1])


def test_default_is_fused_for_inference_only_and_bad_modes_are_refused():
    model = equimol.build_model("painn", n_features=8, n_interactions=1)
    assert model.representation.config.fused_message == "inference"
    with pytest.raises(ConfigError, match="fused_message"):
        equimol.build_model("painn", n_features=8, n_interactions=1, fused_message="sometimes")


def test_training_without_forces_fuses_large_batches_with_the_same_gradients(monkeypatch):
    """A dipole training step (no forces, so no double backward) of a batch with at least
    FUSED_MIN_EDGES edges runs the fused messages by default, and its loss gradients equal the
    plain formulation's; force training keeps the plain one."""
    import equimol.models.painn as painn_module
    import equimol.nn.painn_message as message_module

    calls = []
    original = message_module.FusedMessage.apply
    monkeypatch.setattr(message_module.FusedMessage, "apply", lambda *a: calls.append(1) or original(*a))
    monkeypatch.setattr(painn_module, "FUSED_MIN_EDGES", 100)  # the 3-molecule batch: 216 edges
    torch.manual_seed(0)
    auto = equimol.build_model("painn", n_features=8, n_interactions=2, heads=("dipole",)).double()
    plain = equimol.build_model(
        "painn", n_features=8, n_interactions=2, heads=("dipole",), fused_message="never"
    ).double()
    plain.load_state_dict(auto.state_dict())
    mol = ethanol()
    batch = structures_batch(
        [mol | {K.POSITIONS: mol[K.POSITIONS] * f} for f in (1.0, 1.02, 0.97)], 5.0, torch.float64
    )
    grads = []
    for model in (auto, plain):
        model.train()
        model(batch, forces=False)[K.DIPOLE].square().sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert len(calls) == 2  # the two message blocks of the default model, none of the plain one
    torch.testing.assert_close(grads[0], grads[1])
    calls.clear()
    energy = equimol.build_model("painn", n_features=8, n_interactions=2).double().train()
    energy(batch, create_graph=True)  # force training: positions need gradients
    assert not calls
