"""What the benchmark times: model construction, energy + forces, a training step, FLOPs, profiles.

Models are built with each paper's sizes (``MODEL_OPTIONS``) and random weights (seed 0):
speed does not depend on trained values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

import equimol
from equimol import keys as K
from equimol.evaluator import structures_batch
from equimol.potential import Potential
from equimol.train.loss import backward_to_parameters, weighted_loss

# the papers' sizes (PaiNN ICML 2021; So3krates NeurIPS 2022; SchNet JCP 2018 / SchNetPack 2)
MODEL_OPTIONS: dict[str, dict] = {
    "painn": {"n_features": 128, "n_interactions": 3, "n_basis": 20, "cutoff": 5.0},
    "so3krates": {"n_features": 132, "n_layers": 6, "l_max": 3, "n_heads": 4, "n_rbf": 32, "cutoff": 5.0},
    "schnet": {"n_features": 128, "n_interactions": 6, "n_basis": 50, "cutoff": 5.0},
}
LOSS_WEIGHTS = {K.ENERGY: 0.05, K.FORCES: 0.95}  # PaiNN's ρ = 0.95


def build(
    name: str, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu", **options
) -> Potential:
    """Potential ``name`` at the paper's size (plus ``options``), energy head, seed 0."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = equimol.build_model(name, **{**MODEL_OPTIONS.get(name, {}), **options})
    return model.to(device=device, dtype=dtype)


def freeze(potential: Potential) -> Potential:
    """Parameters stop requiring gradients (in place): autograd then keeps only what forces need."""
    for p in potential.parameters():
        p.requires_grad_(False)
    return potential


def make_batch(
    structures, cutoff: float, dtype: torch.dtype, device: torch.device | str
) -> dict[str, torch.Tensor]:
    """Neighbour lists (vesin, ``cutoff`` Å) and collation: what a user does per new geometry
    (:func:`equimol.evaluator.structures_batch`, the evaluator's batch without validation)."""
    return structures_batch(structures, cutoff, dtype, device)


def energy_forces(potential: Potential, batch: dict[str, torch.Tensor]) -> Callable[[], torch.Tensor]:
    """Closure: one energy + forces evaluation (no graph kept) on a prepared batch."""

    def call() -> torch.Tensor:
        return potential(batch, create_graph=False)[K.FORCES]

    return call


def energy_forces_from_structures(
    potential: Potential, structures, dtype, device
) -> Callable[[], torch.Tensor]:
    """Closure: neighbour list + collation + energy + forces, from raw structures."""

    def call() -> torch.Tensor:
        return potential(make_batch(structures, potential.cutoff, dtype, device), create_graph=False)[
            K.FORCES
        ]

    return call


def _training_loss(potential: Potential, batch: dict[str, torch.Tensor], compiled=None) -> torch.Tensor:
    """The E+F training loss of ``potential`` on ``batch``, eager or by ``compiled`` (a CompiledLoss)."""
    if compiled is not None:
        return compiled(batch)[0]
    return weighted_loss(potential(batch, create_graph=True), batch, LOSS_WEIGHTS)[0]  # as the training loop


def training_step(
    potential: Potential, batch: dict[str, torch.Tensor], lr: float = 1e-5, compiled=None
) -> Callable[[], float]:
    """Closure: one optimisation step, E+F loss (forces with create_graph), backward to the
    parameters and the optimiser step of ``equimol train`` (AdamW without weight decay, i.e.
    Adam, fused kernel).

    ``compiled``: a :class:`equimol.train.compiled.CompiledLoss` of ``potential`` to compute the
    loss with instead of the eager potential (the compiled training step)."""
    potential.train()
    device = next(potential.parameters()).device
    optimizer = torch.optim.AdamW(
        potential.parameters(), lr=lr, weight_decay=0.0, fused=device.type in ("cpu", "cuda")
    )

    def step() -> float:
        loss = _training_loss(potential, batch, compiled)
        optimizer.zero_grad(set_to_none=True)
        backward_to_parameters(loss, potential.parameters())
        optimizer.step()
        return 0.0

    return step


def loss_gradients(potential: Potential, batch: dict[str, torch.Tensor], compiled=None) -> list[torch.Tensor]:
    """Gradients of the E+F training loss with respect to the parameters (eager or ``compiled``)."""
    potential.train()
    potential.zero_grad(set_to_none=True)
    backward_to_parameters(_training_loss(potential, batch, compiled), potential.parameters())
    grads = [p.grad.detach().clone() for p in potential.parameters() if p.grad is not None]
    potential.zero_grad(set_to_none=True)
    return grads


def count_flops(fn: Callable[[], object]) -> int:
    """Matmul-class FLOPs (mm, addmm, bmm, …; torch.utils.flop_counter's formulas) of one call of
    ``fn``, forward and backward. Elementwise ops, gathers and scatters are not counted.

    A plain dispatch mode, not ``FlopCounterMode``: its module hooks fail under autograd.grad.
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Counter(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            packet = func._overloadpacket
            if packet in flop_registry:
                Counter.total += flop_registry[packet](*args, **kwargs, out_val=out)
            return out

    with Counter():
        fn()
    return int(Counter.total)


def profile_table(
    fn: Callable[[], object], repeats: int = 5, rows: int = 15, device: str = "cpu"
) -> list[dict]:
    """Top ops by self time over ``repeats`` calls (torch.profiler): name, calls, self ms, share."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if torch.device(device).type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    fn()
    with profile(activities=activities) as prof:
        for _ in range(repeats):
            fn()
    events = list(prof.key_averages())
    attr = "self_device_time_total" if torch.device(device).type == "cuda" else "self_cpu_time_total"
    total = sum(getattr(e, attr) for e in events) or 1.0
    events.sort(key=lambda e: getattr(e, attr), reverse=True)
    return [
        {
            "op": e.key,
            "calls_per_step": e.count / repeats,
            "self_ms_per_step": getattr(e, attr) / repeats / 1000,
            "share": getattr(e, attr) / total,
        }
        for e in events[:rows]
    ]


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().double() - b.detach().double()).abs().max())


def edges_per_atom(batch: dict[str, torch.Tensor]) -> float:
    return batch[K.EDGE_INDEX].shape[1] / max(batch[K.ATOMIC_NUMBERS].shape[0], 1)


def structures_summary(structures: Sequence[dict[str, np.ndarray]]) -> dict:
    return {"structures": len(structures), "atoms": int(sum(len(s[K.ATOMIC_NUMBERS]) for s in structures))}
