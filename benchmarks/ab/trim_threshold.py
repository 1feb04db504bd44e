"""Page faults per energy + forces call with glibc's heap trimmed above 2 GiB (the old
``retain_freed_memory``) or never (the current one), PaiNN on a water droplet, 1 thread:

    .venv/bin/python benchmarks/ab/trim_threshold.py --trim 2gib --atoms 3000
    .venv/bin/python benchmarks/ab/trim_threshold.py --trim never --atoms 3000

Prints wall time, minor page faults, user / system CPU time of each call and the process's
maximum resident size so far. With the 2 GiB cap
a call that frees more than 2 GiB at the top of the heap returns it to the kernel and faults it
in again on the next call (system time); with no trimming the calls after the first fault nothing.
"""

import argparse
import ctypes
import resource
import time

import torch

from equimol import keys as K
from equimol.benchmark import cases, systems
from equimol.cli.options import _M_MMAP_MAX, _M_TRIM_THRESHOLD

p = argparse.ArgumentParser()
p.add_argument("--trim", choices=["2gib", "never"], required=True)
p.add_argument("--atoms", type=int, default=3000)
p.add_argument("--model", default="painn")
p.add_argument("--calls", type=int, default=5)
a = p.parse_args()
torch.set_num_threads(1)
libc = ctypes.CDLL("libc.so.6")
# as equimol.cli.options.retain_freed_memory, with the old (2**31 - 1) or the current (-1: never) trim threshold
assert libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1 if a.trim == "2gib" else -1)
pot = cases.freeze(cases.build(a.model)).eval()
b = cases.make_batch([systems.water_droplet(a.atoms)], pot.cutoff, torch.float32, "cpu")
E = b[K.EDGE_INDEX].shape[1]
print(f"{a.model}, {a.atoms} atoms, {E} edges, trim {a.trim}")
for k in range(a.calls):
    r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    pot(b, create_graph=False)
    dt, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"call {k}: {dt:6.2f} s  {dt / E * 1e6:5.1f} us/edge  minor faults {r1.ru_minflt - r0.ru_minflt:8d}  "
        f"user {r1.ru_utime - r0.ru_utime:5.2f} s  sys {r1.ru_stime - r0.ru_stime:5.2f} s  "
        f"max resident {r1.ru_maxrss / 2**20:.1f} GiB",
        flush=True,
    )
