"""backward_to_parameters: the gradients of loss.backward() for the parameters, none for the positions."""

import torch

import equimol
from equimol import keys as K
from equimol.evaluator import structures_batch
from equimol.testing import ethanol
from equimol.train.loss import backward_to_parameters, weighted_loss


def test_backward_to_parameters_gives_the_parameter_gradients_of_a_full_backward_and_no_position_gradient():
    torch.manual_seed(0)
    model = equimol.build_model("painn", n_features=16, n_interactions=2).double().train()
    mol = ethanol()
    labelled = mol | {K.ENERGY: 1.0, K.FORCES: 0.1 * mol[K.POSITIONS]}
    grads, pos_grads = [], []
    for restricted in (False, True):
        batch = structures_batch([labelled], 5.0, torch.float64)
        batch[K.POSITIONS].requires_grad_(True)
        loss = weighted_loss(model(batch, create_graph=True), batch, {K.ENERGY: 0.05, K.FORCES: 0.95})[0]
        model.zero_grad(set_to_none=True)
        if restricted:
            backward_to_parameters(loss, model.parameters())
        else:
            loss.backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        pos_grads.append(batch[K.POSITIONS].grad)
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b)
    assert pos_grads[0] is not None and float(pos_grads[0].abs().max()) > 0  # the full backward made one
    assert pos_grads[1] is None


def test_backward_to_parameters_without_trainable_parameters_does_nothing():
    w = torch.ones(3)
    backward_to_parameters((w * 2).sum(), [w])  # w does not require gradients: no error, no gradient
    assert w.grad is None
