"""TFN (L0Net/L1Net at the experiments/l0l1 size) training step on 32 QM9 molecules, 1 thread:

.venv/bin/python benchmarks/ab/tfn_step.py l0net   # add any second argument for a torch.profiler table
"""

import sys
import time

import torch

torch.set_num_threads(1)
import equimol
from equimol import keys as K
from equimol.benchmark import cases

name = sys.argv[1]
opts = dict(
    n_features=32,
    n_interactions=3,
    radial_hidden=32,
    n_scalars=44 if name == "l0net" else 32,
    n_vectors=0 if name == "l0net" else 8,
)
torch.manual_seed(0)
pot = equimol.build_model(name, **opts)
from equimol.data.qm9 import read_qm9

structs = [m.structure if hasattr(m, "structure") else m for m in read_qm9(limit=32, seed=0)]
batch = cases.make_batch(structs, 11.1, torch.float32, "cpu")
print("atoms", batch[K.ATOMIC_NUMBERS].shape[0], "edges", batch[K.EDGE_INDEX].shape[1])
opt = torch.optim.Adam(pot.parameters(), 1e-4)


def step():
    out = pot.properties(batch) if hasattr(pot, "properties") else pot(batch)
    loss = out[K.ENERGY].sum()
    opt.zero_grad()
    loss.backward()
    opt.step()


for _ in range(2):
    step()
t = time.perf_counter()
for _ in range(5):
    step()
print(name, "step s", (time.perf_counter() - t) / 5)
if len(sys.argv) > 2:
    for r in cases.profile_table(step, repeats=3, rows=15):
        print(r)
