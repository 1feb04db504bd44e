"""A/B: fused vs plain messages, energy + forces, interleaved in one process (issue #22).

    OMP_NUM_THREADS=1 python benchmarks/ab/fused_messages.py [--atoms 1000] [--rounds 6]

Same weights, same batch (a water droplet), one thread, glibc told to keep freed memory (as the
CLI does by default, ``--malloc retain``); the calls alternate A B A B … so that a change of
machine load hits both. Prints the largest force difference and min / median times.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from equimol.benchmark.cases import build, energy_forces, freeze, make_batch
from equimol.benchmark.systems import water_droplet
from equimol.cli.options import retain_freed_memory

OPTION = {"painn": "fused_message", "so3krates": "fused_messages"}


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--atoms", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--models", nargs="+", default=["painn", "so3krates"])
    a = p.parse_args()
    torch.set_num_threads(1)
    retain_freed_memory()
    batch = make_batch([water_droplet(a.atoms)], 5.0, torch.float32, "cpu")
    print(f"{cpu_model()}, {a.atoms} atoms, {batch['edge_index'].shape[1]} edges, 1 thread")
    for name in a.models:
        torch.manual_seed(0)
        fused = freeze(build(name, torch.float32, "cpu", **{OPTION[name]: "always"}).eval())
        plain = freeze(build(name, torch.float32, "cpu", **{OPTION[name]: "never"}).eval())
        plain.load_state_dict(fused.state_dict())
        calls = {"plain": energy_forces(plain, batch), "fused": energy_forces(fused, batch)}
        diff = float((calls["plain"]() - calls["fused"]()).abs().max())
        times: dict[str, list[float]] = {k: [] for k in calls}
        for _ in range(a.rounds):
            for k, call in calls.items():
                t = time.perf_counter()
                call()
                times[k].append(time.perf_counter() - t)
        med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        print(
            f"{name:10s} max |ΔF| {diff:.1e} eV/Å; plain min {min(times['plain']):.3f} s median "
            f"{med['plain']:.3f} s; fused min {min(times['fused']):.3f} s median {med['fused']:.3f} s; "
            f"speed-up {med['plain'] / med['fused']:.2f}x"
        )


if __name__ == "__main__":
    main()
