"""MD throughput of PaiNN (F = 128, 3 interactions, random weights) on ethanol: classical MD and
64-bead RPMD with :func:`equimol.md.simulate.run_simulation`, :class:`ModelForceFn` (Verlet skin
0.5 Å), NHC thermostat (PILE on the internal ring-polymer modes), dt = 0.2 fs, 300 K.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/md_throughput.py --steps 200 --threads 2
    .venv/bin/python benchmarks/md_throughput.py --steps 20 --threads 1 --beads 1,64   # quick check

Reports steps/s after ``--warmup-steps`` untimed steps (eager and compiled advance in
alternating chunks, so machine-load changes hit both alike) and the projected wall time of the
paper's 50 ps RPMD run (250,000 steps of 0.2 fs); writes JSON (``--output``) and prints a
Markdown table. ``--compile`` also runs with the torch.compile fast path
(:class:`equimol.compile.CompiledPotential`, dynamic shapes so that neighbour-list
rebuilds do not recompile); its compilation time is reported separately, not in steps/s.
The network runs in float32, the integrator state in float64 (MDConfig default).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from equimol import keys as K
from equimol.benchmark.cases import build, freeze
from equimol.benchmark.systems import rmd17
from equimol.benchmark.timing import environment, oversubscription_warning
from equimol.cli.options import retain_freed_memory
from equimol.committee import Committee
from equimol.compile import CompiledPotential
from equimol.io import load
from equimol.md.config import MDConfig
from equimol.md.model_forces import ModelForceFn
from equimol.md.simulate import run_simulation

PAPER_STEPS = 250_000  # 50 ps at 0.2 fs
PAPER_V100_HOURS = 1.0  # "about one hour on a V100" for the 64-bead run


def setup(
    n_beads: int,
    warmup_steps: int,
    device: str,
    compiled: bool,
    data_dir: str | None = None,
    checkpoint: str | None = None,
) -> dict:
    """A simulation after ``warmup_steps`` (and compilation), ready to be timed: the paper-size
    PaiNN with random weights, or ``checkpoint`` (e.g. the spectra model, whose dipole and
    polarizability heads then run in every step) frozen as ``equimol md`` loads it."""
    ethanol = rmd17("ethanol", data_dir=data_dir)[0]
    if checkpoint:
        potential = load(checkpoint, device=device, dtype=torch.float32).requires_grad_(False)
        if compiled and isinstance(potential, Committee):
            raise SystemExit(f"{checkpoint}: --compile times a single model, not a committee")
    else:
        potential = freeze(build("painn", torch.float32, device).eval())
    model = CompiledPotential(potential, dynamic=None) if compiled else potential
    force_fn = ModelForceFn(model, ethanol[K.ATOMIC_NUMBERS], skin=0.5, dtype=torch.float32, device=device)
    config = MDConfig(
        dt_fs=0.2,
        n_steps=warmup_steps,
        temperature_k=300.0,
        thermostat="nhc",
        tau_fs=100.0,
        n_beads=n_beads,
        progress=False,
        log_every=10**9,
        checkpoint_every=10**9,
        device="cpu",
    )
    t0 = time.perf_counter()
    sim = run_simulation(force_fn, ethanol[K.ATOMIC_NUMBERS], ethanol[K.POSITIONS], config=config)
    return {
        "sim": sim,
        "force_fn": force_fn,
        "setup_s": time.perf_counter() - t0,
        "wall": 0.0,
        "steps": 0,
        "calls0": force_fn.n_calls,
        "builds0": force_fn.n_builds,
        "n_beads": n_beads,
        "mode": "compiled" if compiled else "eager",
    }


def advance(run: dict, steps: int) -> None:
    t0 = time.perf_counter()
    run["sim"].run(steps)
    run["wall"] += time.perf_counter() - t0
    run["steps"] += steps


def summary(run: dict) -> dict:
    rate = run["steps"] / run["wall"]
    return {
        "n_beads": run["n_beads"],
        "mode": run["mode"],
        "steps": run["steps"],
        "wall_s": run["wall"],
        "steps_per_s": rate,
        "ms_per_step": 1000 * run["wall"] / run["steps"],
        "setup_and_warmup_s": run["setup_s"],
        "force_calls": run["force_fn"].n_calls - run["calls0"],
        "neighbor_rebuilds": run["force_fn"].n_builds - run["builds0"],
        "temperature_k": float(run["sim"].observables()["temperature_k"].mean()),
        "projected_250k_steps_h": PAPER_STEPS / rate / 3600,
        "vs_paper_v100": PAPER_STEPS / rate / 3600 / PAPER_V100_HOURS,
    }


def measure(
    n_beads: int,
    steps: int,
    warmup_steps: int,
    device: str,
    modes: tuple[bool, ...],
    rounds: int = 4,
    data_dir: str | None = None,
    checkpoint: str | None = None,
) -> list[dict]:
    """Steps/s of each mode (eager / compiled); the modes advance in alternating chunks of
    steps / rounds so that changes of machine load hit them alike."""
    runs = [setup(n_beads, warmup_steps, device, compiled, data_dir, checkpoint) for compiled in modes]
    chunk = max(steps // rounds, 1)
    while runs[0]["steps"] < steps:
        for run in runs:
            advance(run, min(chunk, steps - run["steps"]))
    return [summary(run) for run in runs]


def markdown(rows: list[dict], env: dict) -> str:
    model = env.get("checkpoint") or "PaiNN (F=128, 3 interactions, random weights)"
    lines = [
        (
            f"{model} on ethanol, dt 0.2 fs, NHC, {env['device_name']}, "
            f"{env['torch_threads']} torch threads, torch {env['torch']}, load average {env.get('load_average')}."
        ),
        "",
        "| beads | mode | steps timed | ms / step | steps / s | NL rebuilds | projected 250k steps "
        "| × paper's 1 h (V100) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n_beads']} | {r['mode']} | {r['steps']} | {r['ms_per_step']:.1f} | {r['steps_per_s']:.1f} | "
            f"{r['neighbor_rebuilds']} | {r['projected_250k_steps_h']:.1f} h | {r['vs_paper_v100']:.1f}× |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--beads", default="1,64", help="comma-separated bead counts (1 = classical MD)")
    p.add_argument("--steps", type=int, default=200, help="timed steps per run")
    p.add_argument("--warmup-steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--compile", action="store_true", help="also time the torch.compile fast path")
    p.add_argument("--output", default=None, help="JSON file for the results")
    p.add_argument(
        "--checkpoint",
        default=None,
        help="run this model instead (e.g. experiments/spectra/painn_spectra.pt: its dipole and "
        "polarizability heads then run in every step, as in equimol md)",
    )
    p.add_argument("--data", default=None, help="folder with rmd17/ (default: $EQUIMOL_SHARED/data)")
    p.add_argument(
        "--system-malloc",
        action="store_true",
        help="keep glibc's defaults (default: retain freed memory, see equimol.compile)",
    )
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment(args.device)
    env["malloc"] = "system" if args.system_malloc or not retain_freed_memory() else "retain"
    if args.checkpoint:
        env["checkpoint"] = args.checkpoint
    warning = oversubscription_warning() if args.device == "cpu" else None
    if warning:
        env["warning"] = warning
        print(f"warning: {warning}", flush=True)
    rows = []
    modes = (False, True) if args.compile else (False,)
    for n_beads in (int(b) for b in args.beads.split(",")):
        rows_b = measure(
            n_beads,
            args.steps,
            args.warmup_steps,
            args.device,
            modes,
            data_dir=args.data,
            checkpoint=args.checkpoint,
        )
        for row in rows_b:
            rows.append(row)
            print(
                f"beads {n_beads:3d} {row['mode']:8s} {row['ms_per_step']:8.1f} ms/step  "
                f"{row['projected_250k_steps_h']:7.1f} h for 250k steps",
                flush=True,
            )
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps({"environment": env, "results": rows}, indent=1))
    print(markdown(rows, env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
