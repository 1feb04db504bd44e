"""Multi-process data-parallel training with ``torch.distributed``, launched by ``torchrun``.

``equimol train`` reads the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK; read-only)
and, when present, joins a process group (NCCL on GPUs, one GPU per local rank; gloo on
CPU). The model is wrapped in ``DistributedDataParallel``; forces come from
``torch.autograd.grad(create_graph=True)`` inside ``forward`` with respect to the positions
only, so DDP's reducer sees parameter gradients exactly once, in ``loss.backward()`` (the
double backward), and averages them across ranks. ``find_unused_parameters=True`` lets
heads whose outputs do not enter the loss (e.g. a dipole head when training on energies)
go without gradients.

Equivalence with one process, for the same global batch (``training.batch_size``):

* every rank draws the same global permutation (same generator, same seed and state) and
  takes a contiguous share of each global batch (sizes differ by at most one);
* each rank's loss is Σ_t w_t · Σ_(its components) error_t / N_t with N_t the number of
  components of target t in the *global* batch (all-reduced before the forward pass);
  summed over ranks this is the single-process loss (a mean over the global batch), so the
  gradient averaged by DDP, times the world size, is the single-process gradient;
* a rank whose share of a short last batch is empty evaluates one structure with weight 0,
  so every rank takes part in the gradient all-reduce;
* validation metrics are sums and counts all-reduced over ranks (MAE/RMSE as for one process).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from equimol.train.loss import target_error
from equimol.train.metrics import Metrics


@dataclass
class DistContext:
    """Where this process sits in a (possibly trivial) process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    enabled: bool = False  # a process group is active
    owns_group: bool = False  # we created it, so we destroy it

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        """Sums of ``values`` over ranks (float64)."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu().tolist()

    def broadcast_float(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (decisions such as time limits must agree)."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(t, src=0)
        return float(t.item())

    def shard(self, indices: list[int]) -> list[int]:
        """This rank's contiguous share of ``indices`` (one global batch)."""
        n = len(indices)
        return indices[self.rank * n // self.world_size : (self.rank + 1) * n // self.world_size]

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
        self.enabled = self.owns_group = False


def from_environment() -> DistContext:
    """Join the process group described by torchrun's environment, if there is one."""
    env = os.environ
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return DistContext()
    rank, world = int(env["RANK"]), int(env["WORLD_SIZE"])
    local_rank = int(env.get("LOCAL_RANK", rank))
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend)
        owns = True
    device = torch.device(f"cuda:{local_rank}") if dist.get_backend() == "nccl" else torch.device("cpu")
    return DistContext(rank, world, local_rank, device, enabled=True, owns_group=owns)


def wrap(potential: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    """``DistributedDataParallel(potential)`` in a process group, else ``potential`` itself."""
    if not ctx.enabled:
        return potential
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    # buffers (atom references) are constant and identical on every rank: no per-step sync
    params = inspect.signature(DistributedDataParallel).parameters
    no_sync = (
        {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}
    )
    return DistributedDataParallel(
        potential,
        device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
        find_unused_parameters=True,
        **no_sync,
    )


def target_counts(batch: dict[str, torch.Tensor], targets: list[str]) -> list[float]:
    """Number of error components of each target in this rank's batch (0 if absent)."""
    return [float(batch[t].numel()) if t in batch else 0.0 for t in targets]


def global_loss(
    pred: dict[str, torch.Tensor],
    batch: dict[str, torch.Tensor],
    weights: dict[str, float],
    kind: str,
    global_counts: dict[str, float],
) -> torch.Tensor:
    """Σ_t w_t · (sum of this rank's errors of t) / (components of t in the global batch).

    Summed over ranks this equals :func:`~equimol.train.loss.weighted_loss` of the global
    batch (mean squared or absolute error per target).
    """
    total = None
    for key, w in weights.items():
        if w == 0 or key not in pred or key not in batch or not global_counts.get(key):
            continue
        err = target_error(pred[key], batch[key], kind) * (batch[key].numel() / global_counts[key])
        total = w * err if total is None else total + w * err
    if total is None:
        raise ValueError(f"no target of {sorted(weights)} is present in both predictions and data")
    return total


def reduce_metrics(metrics: Metrics, ctx: DistContext) -> None:
    """All-reduce the sums and counts of ``metrics`` in place."""
    if not ctx.enabled:
        return
    flat = []
    for t in metrics.targets:
        flat += [metrics.abs[t], metrics.sq[t], float(metrics.n[t])]
    flat = ctx.all_reduce_sum(flat)
    for k, t in enumerate(metrics.targets):
        metrics.abs[t], metrics.sq[t] = flat[3 * k], flat[3 * k + 1]
        metrics.n[t] = int(round(flat[3 * k + 2]))
