"""So3krates (or M=painn) compiled energy + forces, 64-bead ring polymer, per inductor options:

.venv/bin/python benchmarks/ab/inductor_options_ab.py "{}" "{\"realize_opcount_threshold\": 4}"
"""

import statistics as st
import sys
import time

import torch

torch.set_num_threads(1)
from equimol import keys as K
from equimol.benchmark import cases, systems
from equimol.cli.options import retain_freed_memory
from equimol.compile import CompiledPotential

retain_freed_memory()
pot = cases.freeze(cases.build(__import__("os").environ.get("M", "so3krates"))).eval()
batch = cases.make_batch(systems.inference_systems()["ring_polymer_64"], 5.0, torch.float32, "cpu")
fasts = {}
for name in sys.argv[1:]:
    torch._dynamo.reset()
    f = CompiledPotential(pot, dynamic=False, options=eval(name))
    t = time.perf_counter()
    out = f(batch)
    print(
        name,
        "compile",
        round(time.perf_counter() - t),
        "dF",
        (out[K.FORCES] - pot(batch)[K.FORCES]).abs().max().item(),
        flush=True,
    )
    fasts[name] = f
res = {n: [] for n in fasts}
for _r in range(6):
    for n, f in fasts.items():
        f(batch)
        t = time.perf_counter()
        for _ in range(3):
            f(batch)
        res[n].append((time.perf_counter() - t) / 3 * 1e3)
for n in res:
    print(n, f"{st.median(res[n]):.1f} ms")
