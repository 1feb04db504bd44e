"""Energy + forces with and without zeroing subnormal values (equimol.nn.numerics.zero_tiny),
alternating in one process, 1 thread, 50 QM9 molecules (or ethanol):

    .venv/bin/python benchmarks/ab/subnormal_ab.py schnet qm9
    .venv/bin/python benchmarks/ab/subnormal_ab.py so3krates qm9
"""

import statistics as st
import sys
import time

import torch

import equimol.models.tfn_layers as T
import equimol.nn.radial as R
import equimol.nn.radial_expnormal as X
from equimol.benchmark import cases, systems

torch.set_num_threads(1)
name, case = sys.argv[1], sys.argv[2]
pot = cases.freeze(cases.build(name))
structs = systems.qm9(50) if case == "qm9" else systems.rmd17("ethanol")
batch = cases.make_batch(structs, 5.0, torch.float32, "cpu")
zero_tiny = R.zero_tiny


def use(on: bool) -> None:
    for m in (R, X, T):
        m.zero_tiny = zero_tiny if on else (lambda y: y)


res = {False: [], True: []}
for _ in range(8):
    for on in (False, True):
        use(on)
        pot(batch, create_graph=False)
        t = time.perf_counter()
        for _ in range(3):
            pot(batch, create_graph=False)
        res[on].append((time.perf_counter() - t) / 3 * 1000)
print(f"{name} {case}: subnormals kept {st.median(res[False]):.1f} ms, zeroed {st.median(res[True]):.1f} ms")
