"""A/B: the eager PaiNN training step before and after two changes, interleaved in one process (issue #22).

    OMP_NUM_THREADS=1 python benchmarks/ab/train_step.py [--rounds 40] [--frames 10]

The training step of ``equimol benchmark --stages train`` (E+F loss with forces under
create_graph, backward, fused AdamW; ``equimol.benchmark.cases.training_step``) on the
benchmark's rMD17 ethanol batch, four variants with the same weights:

* ``before``: the filters as ``basis @ weight.T`` with row-major operands, and
  ``loss.backward()`` (which also computes ∂L/∂positions);
* ``layout``: the filter matmul's operands in the layouts of :meth:`PaiNN.filters` (the
  21-wide gradients computed as 21-row results), ``loss.backward()``;
* ``inputs``: old layouts, backward to the parameters only
  (:func:`equimol.train.loss.backward_to_parameters`);
* ``after``: both (what ``equimol train`` does now).

The steps alternate so that a change of machine load hits all four. Prints min / median step
times and the largest relative difference of the parameter gradients against ``before``.
"""

from __future__ import annotations

import argparse
import time
import types

import torch

from equimol.benchmark.cases import LOSS_WEIGHTS, build, make_batch
from equimol.benchmark.systems import train_batch
from equimol.benchmark.timing import cpu_model
from equimol.cli.options import retain_freed_memory
from equimol.train.loss import backward_to_parameters, weighted_loss


def row_major_filters(self, r):
    """PaiNN.filters before the layout change (the same numbers)."""
    weight = torch.cat([m.weight() for m in self.messages])
    return list(torch.split(self.basis(r) @ weight.T, self.messages[0].W.out_features, dim=-1))


def step_fn(potential, batch, to_parameters: bool):
    potential.train()
    optimizer = torch.optim.AdamW(potential.parameters(), lr=1e-5, weight_decay=0.0, fused=True)

    def step(keep_grads: bool = False):
        loss = weighted_loss(potential(batch, create_graph=True), batch, LOSS_WEIGHTS)[0]
        optimizer.zero_grad(set_to_none=True)
        if to_parameters:
            backward_to_parameters(loss, potential.parameters())
        else:
            loss.backward()
        grads = [p.grad.clone() for p in potential.parameters()] if keep_grads else None
        optimizer.step()
        return grads

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--data", default=None, help="folder with rmd17/ (default: the shared data)")
    a = p.parse_args()
    torch.set_num_threads(1)
    retain_freed_memory()
    batch = make_batch(train_batch(a.frames, a.data), 5.0, torch.float32, "cpu")
    print(f"{cpu_model()}, {a.frames} ethanol frames, {batch['edge_index'].shape[1]} edges, 1 thread")
    variants = {
        "before": (True, False),
        "layout": (False, False),
        "inputs": (True, True),
        "after": (False, True),
    }
    steps, first = {}, {}
    for name, (old_layout, to_parameters) in variants.items():
        model = build("painn")
        if old_layout:
            model.representation.filters = types.MethodType(row_major_filters, model.representation)
        steps[name] = step_fn(model, batch, to_parameters)
        first[name] = torch.cat([g.flatten() for g in steps[name](keep_grads=True)])
    ref = first["before"]
    for name, g in first.items():
        print(
            f"{name:7s} max |Δgrad| / max |grad| against before: {float((g - ref).abs().max() / ref.abs().max()):.1e}"
        )
    for step in steps.values():
        for _ in range(3):
            step()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(a.rounds):
        for k, step in steps.items():
            t = time.perf_counter()
            step()
            times[k].append(time.perf_counter() - t)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    for k in steps:
        ratio = med["before"] / med[k]
        print(f"{k:7s} min {1e3 * min(times[k]):.2f} ms median {1e3 * med[k]:.2f} ms ({ratio:.2f}x before)")


if __name__ == "__main__":
    main()
