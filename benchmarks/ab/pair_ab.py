"""Filters per unordered pair (edge_pair/pair_edge in the batch) vs per edge: equal outputs
(float64) and time (float32, 1 thread, 50 QM9 molecules):

    .venv/bin/python benchmarks/ab/pair_ab.py so3krates
"""

import statistics as st
import sys
import time

import torch

torch.set_num_threads(1)
from equimol import keys as K
from equimol.benchmark import cases, systems

name = sys.argv[1]
torch.manual_seed(0)
pot = cases.freeze(cases.build(name, dtype=torch.float64))
batch = cases.make_batch(systems.qm9(50), 5.0, torch.float64, "cpu")
nopair = {k: v for k, v in batch.items() if k not in (K.EDGE_PAIR, K.PAIR_EDGE)}
a, b = pot(batch), pot(nopair)
print(
    name,
    "E diff",
    (a[K.ENERGY] - b[K.ENERGY]).abs().max().item(),
    "F diff",
    (a[K.FORCES] - b[K.FORCES]).abs().max().item(),
    "pairs",
    batch[K.PAIR_EDGE].shape[0],
    "edges",
    batch[K.EDGE_INDEX].shape[1],
)
pot = cases.freeze(cases.build(name))
batch = cases.make_batch(systems.qm9(50), 5.0, torch.float32, "cpu")
nopair = {k: v for k, v in batch.items() if k not in (K.EDGE_PAIR, K.PAIR_EDGE)}
res = {0: [], 1: []}
for _rep in range(6):
    for on, bb in ((0, nopair), (1, batch)):
        pot(bb, create_graph=False)
        t = time.perf_counter()
        for _ in range(3):
            pot(bb, create_graph=False)
        res[on].append((time.perf_counter() - t) / 3 * 1000)
print(name, f"no pairs {st.median(res[0]):.1f} ms, pairs {st.median(res[1]):.1f} ms")
