"""One size-scan point in a fresh process: time and peak memory of energy + forces.

    python -m equimol.benchmark.memory --model painn --atoms 1000 [--device cpu] [--repeats 20]

Prints one JSON line. The system is a non-periodic water droplet (:func:`systems.water_droplet`).
Peak memory is measured over the first energy + forces call, before any warm-up, as the peak
resident set size above the level just before the call (CPU: VmHWM after resetting it; CUDA:
``max_memory_allocated``); see :mod:`equimol.benchmark.timing`. Model, batch and neighbour list
exist before the baseline is taken, so they are not counted; autograd buffers, features and
allocator overhead are. One process per point keeps earlier, larger cases out of the number.
The memory call runs with glibc's default allocator (the working set); with ``--malloc retain``
(default) the allocator then keeps freed memory (:func:`equimol.cli.options.retain_freed_memory`) for the timed
calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from equimol import keys as K
from equimol.benchmark.cases import build, energy_forces, freeze, make_batch
from equimol.benchmark.systems import water_droplet
from equimol.benchmark.timing import PeakMemory, time_call
from equimol.cli.options import retain_freed_memory


def measure(
    model: str,
    atoms: int,
    device: str = "cpu",
    dtype: str = "float32",
    repeats: int = 20,
    warmup: int = 2,
    options: dict | None = None,
    malloc: str = "retain",
) -> dict:
    torch_dtype = getattr(torch, dtype)
    potential = freeze(build(model, torch_dtype, device, **(options or {})).eval())
    structure = water_droplet(atoms)
    t0 = time.perf_counter()
    batch = make_batch([structure], potential.cutoff, torch_dtype, device)
    t_nl = time.perf_counter() - t0
    call = energy_forces(potential, batch)
    with PeakMemory(device) as mem:
        call()
    retained = malloc == "retain" and retain_freed_memory()
    timing = time_call(call, warmup=warmup, repeats=repeats, device=device)
    return {
        "model": model,
        "atoms": atoms,
        "edges": int(batch[K.EDGE_INDEX].shape[1]),
        "dtype": dtype,
        "device": device,
        "threads": torch.get_num_threads(),
        "neighbor_list_s": t_nl,
        "peak_mib": mem.peak_mib,
        "malloc": "retain" if retained else "system",
        "memory_method": mem.method,
        **timing,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--atoms", type=int, required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--options", default="{}", help="model options as JSON")
    p.add_argument(
        "--malloc", choices=["retain", "system"], default="retain", help="allocator for the timed calls"
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result = measure(
        args.model,
        args.atoms,
        args.device,
        args.dtype,
        args.repeats,
        args.warmup,
        json.loads(args.options),
        args.malloc,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
