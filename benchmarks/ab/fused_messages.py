"""A/B: fused vs plain messages, energy + forces, interleaved in one process (issue #22).

    OMP_NUM_THREADS=1 python benchmarks/ab/fused_messages.py [--atoms 1000] [--rounds 6]
    OMP_NUM_THREADS=1 python benchmarks/ab/fused_messages.py --system ethanol --rounds 30
    OMP_NUM_THREADS=1 python benchmarks/ab/fused_messages.py --system ring_polymer_64 --rounds 30

Same weights, same batch (a water droplet of ``--atoms``, one rMD17 ethanol, or 64 displaced
copies of it as one RPMD step evaluates them; the rMD17 cases need the shared data or
``--data``), one thread, glibc told to keep freed memory (as the
CLI does by default, ``--malloc retain``); the calls alternate A B A B … so that a change of
machine load hits both. Prints the largest force difference and min / median times.
"""

from __future__ import annotations

import argparse
import time

import torch

from equimol.benchmark.cases import build, energy_forces, freeze, make_batch
from equimol.benchmark.systems import water_droplet
from equimol.benchmark.timing import cpu_model
from equimol.cli.options import retain_freed_memory

OPTION = {"painn": "fused_message", "so3krates": "fused_messages"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--atoms", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--models", nargs="+", default=["painn", "so3krates"])
    p.add_argument("--system", choices=("droplet", "ethanol", "ring_polymer_64"), default="droplet")
    p.add_argument("--data", default=None, help="folder with rmd17/ (default: the shared data)")
    a = p.parse_args()
    torch.set_num_threads(1)
    retain_freed_memory()
    if a.system == "droplet":
        structures = [water_droplet(a.atoms)]
    else:
        from equimol.benchmark.systems import ring_polymer, rmd17

        structures = rmd17("ethanol", 0, a.data)
        if a.system == "ring_polymer_64":
            structures = ring_polymer(structures[0], 64)
    batch = make_batch(structures, 5.0, torch.float32, "cpu")
    n_atoms = batch["positions"].shape[0]
    print(f"{cpu_model()}, {a.system}: {n_atoms} atoms, {batch['edge_index'].shape[1]} edges, 1 thread")
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
            f"{name:10s} max |ΔF| {diff:.1e} eV/Å; plain min {1e3 * min(times['plain']):.2f} ms median "
            f"{1e3 * med['plain']:.2f} ms; fused min {1e3 * min(times['fused']):.2f} ms median "
            f"{1e3 * med['fused']:.2f} ms; speed-up {med['plain'] / med['fused']:.2f}x"
        )


if __name__ == "__main__":
    main()
