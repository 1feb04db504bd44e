"""PaiNN energy + forces of the 10,000-atom droplet, original vs grid-cell atom order, alternating:

.venv/bin/python benchmarks/ab/order_10k.py
"""

import time

import numpy as np
import torch

torch.set_num_threads(1)
from equimol import keys as K
from equimol.benchmark import cases, systems
from equimol.cli.options import retain_freed_memory

retain_freed_memory()
pot = cases.freeze(cases.build("painn")).eval()
s = systems.water_droplet(10000)
pos = s[K.POSITIONS]
# grid-cell order: cells of 3 Å, sorted by (ix, iy, iz)
c = np.floor((pos - pos.min(0)) / 3.0).astype(int)
order = np.lexsort((c[:, 2], c[:, 1], c[:, 0]))
s2 = {K.ATOMIC_NUMBERS: s[K.ATOMIC_NUMBERS][order], K.POSITIONS: pos[order]}
for name, st in (("original", s), ("cell-sorted", s2), ("original", s), ("cell-sorted", s2)):
    b = cases.make_batch([st], 5.0, torch.float32, "cpu")
    pot(b)
    t = time.perf_counter()
    pot(b)
    pot(b)
    print(name, "%.2f s per call" % ((time.perf_counter() - t) / 2), b[K.EDGE_INDEX].shape[1], flush=True)
