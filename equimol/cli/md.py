"""equimol md CHECKPOINT STRUCTURE --steps --dt-fs --temperature-k --thermostat --beads --replicas --output

Presets: ``--preset painn-spectra`` = the PaiNN paper's spectra settings (0.2 fs, 300 K, 50 ps,
first 10 ps to be discarded by ``equimol spectrum --discard-fs 10000``, Nose–Hoover chain of 3
with τ = 100 fs, 64 beads: the ring-polymer NHC); explicit options override preset values.

The molecule's centre-of-mass motion and rotation (a ring polymer's: its centroid's) are removed at the
start and kept at zero, so that a global thermostat samples the vibrations at the temperature
asked for (``MDConfig.remove_rotation``; ``--keep-rigid-motion`` keeps them). With
``--preset painn-spectra`` the rotation is kept instead and redrawn at the temperature every
1 000 fs (``--rotation-resample-fs``; 0 removes it): the spectra's rotational contour.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from equimol.cli.options import add_malloc_option, apply_malloc_option
from equimol.cli.threads import add_threads_option, apply_threads, edges_of


def add_arguments(p) -> None:
    import argparse

    from equimol.md.config import THERMOSTAT_ALIASES, THERMOSTAT_HELP, thermostat_spelling

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "thermostats (P = --beads):\n" + "\n".join(
        f"  {name:<9} {line}" for name, line in THERMOSTAT_HELP.items()
    )

    p.add_argument(
        "checkpoint",
        help="equimol checkpoint (.pt), or a committee: committee.json or a folder holding one "
        "(equimol train --committee N); a committee logs its force disagreement to the trajectory",
    )
    p.add_argument("structure", help="starting structure: any readable file (first frame, see --index)")
    p.add_argument("--index", type=int, default=0, help="frame of STRUCTURE to start from")
    p.add_argument("--preset", choices=("painn-spectra",), help="paper settings (see above)")
    p.add_argument("--steps", type=int, help="number of MD steps (default 1000; preset: 50 ps)")
    p.add_argument("--dt-fs", type=float, help="time step in fs (default 0.5; preset 0.2)")
    p.add_argument("--temperature-k", type=float, help="temperature in K (default 300)")
    p.add_argument(
        "--thermostat",
        type=thermostat_spelling,
        choices=sorted(THERMOSTAT_ALIASES),
        metavar="NAME",
        help="one of: " + ", ".join(sorted(THERMOSTAT_ALIASES)) + " ('-' or '_', any case: pile-l = "
        "PILE_L; see the list below); default nhc (RPMD: Nose-Hoover chains on all normal modes)",
    )
    p.add_argument("--tau-fs", type=float, help="thermostat time constant in fs (default 100)")
    p.add_argument("--chain-length", type=int, help="Nose–Hoover chain length (default 3)")
    p.add_argument("--beads", type=int, help="ring-polymer beads (1 = classical MD; preset 64)")
    p.add_argument("--replicas", type=int, default=None, help="independent replicas run in one batch")
    p.add_argument("--stride", type=int, help="write every n-th step (default 10)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--output", "-o", required=True, help="trajectory HDF5 file")
    p.add_argument(
        "--restart",
        help="checkpoint file for restarts (default OUTPUT.restart.pt); an existing one is continued",
    )
    p.add_argument("--skin", type=float, default=0.5, help="neighbour-list skin in Å")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="network precision")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT of a fresh run")
    p.add_argument(
        "--max-force-disagreement",
        type=float,
        metavar="EV_PER_A",
        help="committees: warn (once) when the largest per-atom force standard deviation over the "
        "members exceeds this many eV/Å (the model is extrapolating)",
    )
    p.add_argument(
        "--stop-on-disagreement",
        action="store_true",
        help="stop the run instead of warning when --max-force-disagreement is exceeded (the "
        "trajectory up to that step is kept)",
    )
    p.add_argument(
        "--keep-rigid-motion",
        action="store_true",
        help="keep the start's centre-of-mass motion and rotation (of the centroid); by default both "
        "are removed, as a global thermostat (nhc, csvr) cannot thermalise them and would run the "
        "vibrations of a free molecule at another temperature",
    )
    p.add_argument(
        "--rotation-resample-fs",
        type=float,
        default=None,
        metavar="FS",
        help="keep the rotation (of the centroid) and redraw it at the temperature every FS fs "
        "(MDConfig.rotation_resample_fs); 0: remove it. Default: 1000 with --preset painn-spectra "
        "and a thermostat, else 0",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="run the model through torch.compile (equimol.compile.CompiledPotential: energy, forces, "
        "dipole and polarizability in one compiled graph with symbolic sizes, same numbers to float32 "
        "round-off). It compiles and checks the graph against the eager model before the run (about "
        "half a minute on CPU; later neighbour lists reuse it); afterwards "
        "steps are faster (the spectra model on one thread: 4.2 vs 10.7 ms per classical step, 68 vs "
        "91 ms with 64 beads; benchmarks/md). For runs of more than a few thousand steps; "
        "single models only (not committees)",
    )
    p.add_argument("--no-progress", action="store_true")
    add_malloc_option(p)
    add_threads_option(p)


def md_config_from_args(args):
    from equimol.md.config import (
        SPECTRA_ROTATION_RESAMPLE_FS,
        THERMOSTAT_ALIASES,
        MDConfig,
        free_molecule,
        thermostat_spelling,
    )
    from equimol.md.presets import painn_spectra

    opts = {
        "n_steps": args.steps,
        "dt_fs": args.dt_fs,
        "temperature_k": args.temperature_k,
        "thermostat": args.thermostat,
        "tau_fs": args.tau_fs,
        "chain_length": args.chain_length,
        "n_beads": args.beads,
        "n_replicas": args.replicas,
        "stride": args.stride,
        "seed": args.seed,
    }
    opts = {k: v for k, v in opts.items() if v is not None}
    opts["progress"] = not args.no_progress
    n_beads = opts.pop("n_beads", 64 if args.preset == "painn-spectra" else 1)
    resample = args.rotation_resample_fs
    nve = THERMOSTAT_ALIASES.get(thermostat_spelling(args.thermostat or "")) == "nve"
    if resample is None:  # the preset's, except without a thermostat (NVE keeps L: removed at the start)
        resample = SPECTRA_ROTATION_RESAMPLE_FS if args.preset == "painn-spectra" and not nve else 0.0
    if resample < 0:
        raise SystemExit(f"--rotation-resample-fs must be >= 0 fs (0: remove the rotation), got {resample:g}")
    if args.keep_rigid_motion:
        if args.rotation_resample_fs:
            raise SystemExit("--rotation-resample-fs and --keep-rigid-motion exclude each other")
        opts.update(remove_com=False, remove_rotation=False, rotation_resample_fs=None)
    else:
        opts.update({"rotation_resample_fs": None, **free_molecule(resample or None)})
    if args.preset == "painn-spectra":
        return painn_spectra(n_beads=n_beads, **opts).md
    return MDConfig(n_beads=n_beads, **opts)


def run(args) -> int:
    import torch

    from equimol import keys as K
    from equimol.data.formats import read_structures
    from equimol.io import load
    from equimol.md.hooks import DisagreementHook
    from equimol.md.model_forces import ModelForceFn
    from equimol.md.simulate import run_simulation

    config = md_config_from_args(args)
    apply_malloc_option(args)
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    # this process's own copy: no parameter gradients (forces need only ∂E/∂r; the fused message
    # blocks would otherwise also compute their filter weights' gradient in every step)
    potential = load(args.checkpoint, dtype=dtype).requires_grad_(False)
    structures = read_structures(args.structure)
    if not -len(structures) <= args.index < len(structures):
        raise ValueError(
            f"{args.structure}: --index {args.index} out of range (file has {len(structures)} frames)"
        )
    s = structures[args.index]
    if K.CELL in s:
        raise ValueError(f"{args.structure}: periodic structures are not supported by equimol md yet")
    threads = apply_threads(
        args.threads, potential, edges_of([s], potential.cutoff, config.n_beads * config.n_replicas)
    )
    if args.compile:
        from equimol.committee import Committee
        from equimol.compile import compile_checked

        if isinstance(potential, Committee):
            raise SystemExit("--compile runs a single model, not a committee: leave it out for committees")
        restart_file = Path(args.restart or f"{args.output}.restart.pt")
        if Path(args.output).exists() and not restart_file.exists() and not args.overwrite:
            # the check run_simulation makes, before a minute of compilation rather than after
            raise FileExistsError(f"{args.output} exists; pass --overwrite or restart from a checkpoint")
        # compiled (symbolic sizes) and checked against the eager model on the run's first batch
        # (all beads and replicas at the start); every later neighbour list reuses the graph
        copies = config.n_beads * config.n_replicas
        start = torch.as_tensor(s[K.POSITIONS])[None].expand(copies, -1, -1)
        potential, why = compile_checked(potential, s[K.ATOMIC_NUMBERS], start, dtype, args.skin)
        if why:
            print(f"warning: --compile: {why}; running the model eagerly", file=sys.stderr)
    force_fn = ModelForceFn(potential, s[K.ATOMIC_NUMBERS], skin=args.skin, dtype=dtype)
    restart = args.restart or f"{args.output}.restart.pt"
    watch = DisagreementHook(args.max_force_disagreement, stop=args.stop_on_disagreement)
    t0 = time.perf_counter()
    sim = run_simulation(
        force_fn,
        s[K.ATOMIC_NUMBERS],
        s[K.POSITIONS],
        config=config,
        output=args.output,
        restart=restart,
        overwrite=args.overwrite,
        hooks=[watch],
    )
    wall = time.perf_counter() - t0
    obs = {k: [float(x) for x in v] for k, v in sim.observables().items()}
    summary = {
        "output": args.output,
        "steps": config.n_steps,
        "dt_fs": config.dt_fs,
        "replicas": config.n_replicas,
        "beads": config.n_beads,
        "wall_time_s": round(wall, 2),
        "threads": threads,
        "compiled": potential.__class__.__name__ == "CompiledPotential",
        "model_calls": force_fn.n_calls,
        "neighbor_list_builds": force_fn.n_builds,
        "final": obs,
    }
    if watch.active:
        summary["committee"] = {"members": len(force_fn.potential), **watch.summary()}
    print(json.dumps(summary, indent=1))
    return 0
