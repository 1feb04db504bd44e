"""PaiNN eager vs compiled energy + forces (ethanol, 64-bead ring polymer) at a thread count:

OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ab/threads.py 1
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=ACTIVE .venv/bin/python benchmarks/ab/threads.py 2
"""

import statistics as st
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[1]))
from equimol.benchmark import cases, systems
from equimol.cli.options import retain_freed_memory
from equimol.compile import CompiledPotential

retain_freed_memory()
pot = cases.freeze(cases.build("painn")).eval()
for case in ("ethanol", "ring_polymer_64"):
    batch = cases.make_batch(systems.inference_systems()[case], 5.0, torch.float32, "cpu")
    torch._dynamo.reset()
    f = CompiledPotential(pot, dynamic=False)
    f(batch)
    res = {"eager": [], "compiled": []}
    for _r in range(5):
        for n, fn in (("eager", lambda b=batch: pot(b)), ("compiled", lambda b=batch, f=f: f(b))):
            fn()
            t = time.perf_counter()
            for _ in range(10):
                fn()
            res[n].append((time.perf_counter() - t) / 10 * 1e3)
    print(sys.argv[1], case, {n: round(st.median(v), 2) for n, v in res.items()})
