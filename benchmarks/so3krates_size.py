"""Time and memory of one So3krates energy + forces call (CPU), local vs non-local corrections.

    OMP_NUM_THREADS=1 python benchmarks/so3krates_size.py --molecule aspirin
    OMP_NUM_THREADS=1 python benchmarks/so3krates_size.py --atoms 300 --non-local

Prints one JSON line: median wall time of ``--repeat`` calls after ``--warmup`` calls, and the
peak resident memory of the process above its level before the first call (MiB; Linux
ru_maxrss, so run one configuration per process). Random "molecules" of ``--atoms`` atoms
(H, C, N, O) are placed on a jittered cubic grid at 0.1 atoms/Å³ (organic-matter density),
≈ 50 neighbours within 5 Å.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import numpy as np
import torch

import equimol
from equimol import keys as K
from equimol.evaluator import structures_batch


def random_molecule(n_atoms: int, seed: int = 0, density: float = 0.1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    side = int(np.ceil(n_atoms ** (1 / 3)))
    a = density ** (-1 / 3)
    grid = np.stack(np.meshgrid(*[np.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)[:n_atoms]
    pos = a * (grid + 0.15 * rng.standard_normal(grid.shape))
    z = rng.choice([1, 1, 6, 6, 7, 8], size=n_atoms)
    return {K.ATOMIC_NUMBERS: z.astype(np.int64), K.POSITIONS: pos}


def rmd17_frame(name: str, root: str = "../shared/data/rmd17") -> dict[str, np.ndarray]:
    """First training frame of an rMD17 molecule (e.g. ethanol: 9 atoms, aspirin: 21 atoms)."""
    d = np.load(f"{root}/rmd17_{name}_train_01.npz")
    z = d["nuclear_charges"].astype(np.int64)
    return {K.ATOMIC_NUMBERS: z, K.POSITIONS: d["coords"][0].astype(np.float64)}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--atoms", type=int, default=None)
    p.add_argument("--molecule", default=None, help="rMD17 molecule name, e.g. ethanol or aspirin")
    p.add_argument("--rmd17", default="../shared/data/rmd17", help="folder of rmd17_<name>_train_01.npz")
    p.add_argument("--non-local", action="store_true")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--option", action="append", default=[], help="model option key=value (JSON value)")
    args = p.parse_args(argv)
    dtype = getattr(torch, args.dtype)
    if args.molecule:
        s = rmd17_frame(args.molecule, args.rmd17)
    else:
        s = random_molecule(args.atoms or 100)
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    torch.manual_seed(0)
    model = equimol.build_model("so3krates", non_local=args.non_local, **options).to(dtype).eval()
    batch = structures_batch([s], model.cutoff, dtype)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for k in range(args.warmup + args.repeat):
        t0 = time.perf_counter()
        out = model(batch)
        out[K.FORCES].sum().item()
        if k >= args.warmup:
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "atoms": int(len(s[K.ATOMIC_NUMBERS])),
        "edges": int(batch[K.EDGE_INDEX].shape[1]),
        "non_local": args.non_local,
        "dtype": args.dtype,
        "threads": torch.get_num_threads(),
        "median_ms": 1e3 * statistics.median(times),
        "peak_mib_above_start": (peak - base) / 1024,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
