"""Compiled training loss: ``torch.compile`` of predictions, forces and loss in one graph.

Training on forces needs the derivative of the loss with respect to the parameters through the
forces, themselves a derivative of the energy (a double backward). ``torch.compile`` cannot
compile a double backward started from outside (``autograd.grad(..., create_graph=True)`` on a
compiled energy). Here the forces are taken *inside* the compiled function with
:func:`torch.func.grad`, so that AOTAutograd traces energy, forces and loss as one forward graph
and derives (and compiles) its backward with respect to the parameters: the usual
``loss.backward()`` then runs compiled code. Gradients equal the eager training step to float32
round-off (``tests/train/test_compiled.py``).

It pays off where batches repeat their shapes, e.g. rMD17 (one molecule, fixed edge count
inside the cutoff): a PaiNN step on 10 ethanol frames ran about 2.5x faster than eager here,
after about a minute of compilation on CPU. With ``dynamic=None`` (as :func:`torch.compile`),
a change of shape recompiles once with symbolic sizes. Validation and inference use the plain
potential. Enable it in training with ``training.compile: true``.
"""

from __future__ import annotations

import torch

from equimol import keys as K
from equimol.compile import compiled_properties, compiled_properties_and_forces, prepare_inductor
from equimol.potential import Potential
from equimol.train.loss import loss_terms


class CompiledLoss:
    """``loss, pred = CompiledLoss(potential, weights)(batch)``: the weighted loss of
    :func:`equimol.train.loss.loss_terms` (``kind`` "mse" or "mae") and the predictions
    (detached), computed by one compiled function. ``loss.backward()`` fills the parameters'
    gradients. Forces are computed only when ``weights`` trains on them.

    ``backend``, ``dynamic`` and ``options`` as in :func:`torch.compile`; inductor gets the
    fast path's options and its workaround for a torch 2.13 CPU code-generation bug
    (:mod:`equimol.compile`).
    """

    def __init__(
        self,
        potential: Potential,
        weights: dict[str, float],
        kind: str = "mse",
        backend: str = "inductor",
        dynamic: bool | None = None,
        options: dict | None = None,
    ):
        self.potential = potential
        self.weights = {k: float(w) for k, w in weights.items() if w}
        self.kind = kind
        self.forces = K.FORCES in self.weights
        if self.forces and K.ENERGY not in potential.outputs:
            raise ValueError("training on forces needs a potential with an energy head")
        options = prepare_inductor(options, potential, backend)
        self._fn = torch.compile(self._loss, backend=backend, dynamic=dynamic, options=options)

    def _loss(self, batch: dict[str, torch.Tensor]):
        pred = (
            compiled_properties_and_forces(self.potential, batch)
            if self.forces
            else compiled_properties(self.potential, batch)
        )
        total, _ = loss_terms(pred, batch, self.weights, self.kind)
        return total, {k: v.detach() for k, v in pred.items()}

    def __call__(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self._fn({**batch, K.POSITIONS: batch[K.POSITIONS].detach()})
