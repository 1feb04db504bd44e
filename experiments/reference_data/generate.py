"""Generate the GFN2-xTB reference sets (see README.md in this folder for commands and timings).

Each set is made in two steps, both restartable:
  1. sampling -> ``<name>_positions.xyz`` (skipped when the file exists; written atomically),
  2. labelling -> ``<name>.xyz`` with :func:`equimol.reference.label.label_file`, which resumes
     from ``<name>.xyz.partial.jsonl`` after an interruption and lists failures in
     ``<name>.xyz.failures.json``.
Units in the outputs: Å, eV, eV/Å, e·Å, Å³.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from equimol import keys
from equimol.data.formats import write_structures
from equimol.reference import molecules
from equimol.reference.label import label_file, label_structures
from equimol.reference.sampling import md_sampling, normal_mode_sampling, pimd_sampling, relax, torsion_scan
from equimol.reference.xtb import PROPERTIES, XTBSettings

Structure = dict[str, np.ndarray]


def _sample_then_label(
    name: str, sampler: Callable[[], list[Structure]], args: argparse.Namespace, properties: list[str]
) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    positions = out / f"{name}_positions.xyz"
    if positions.exists():
        print(f"[{name}] sampling: reusing {positions}")
    else:
        start = time.perf_counter()
        write_structures(positions, sampler())
        print(f"[{name}] sampling: {time.perf_counter() - start:.1f} s -> {positions}")
    start = time.perf_counter()
    report = label_file(positions, out / f"{name}.xyz", properties=properties, workers=args.workers)
    print(
        f"[{name}] labelling: {report.n_labelled}/{report.n_structures} labelled "
        f"({report.n_resumed} resumed, {len(report.failures)} failed) in {time.perf_counter() - start:.1f} s"
        f" -> {report.output}"
    )


def _properties(args: argparse.Namespace, default: tuple[str, ...]) -> list[str]:
    return args.properties.split(",") if args.properties else list(default)


def spectra(args: argparse.Namespace) -> None:
    """Sets for IR/Raman learning (energy, forces, dipole, polarizability): classical Langevin MD at
    --temperature and --hot-temperature, and ring-polymer (PIMD) bead geometries at
    --temperature, which cover the zero-point spread RPMD explores and classical frames miss."""
    start = molecules.ethanol() if args.molecule == "ethanol" else molecules.aspirin(args.aspirin_npz)
    minimum = relax(start)
    for temperature, n_frames, seed in (
        (args.temperature, args.frames, args.seed),
        (args.hot_temperature, args.hot_frames, args.seed + 1),
    ):
        if n_frames <= 0:
            continue
        name = f"{args.molecule}_md{temperature:g}K"
        sampler = partial(
            md_sampling,
            minimum,
            n_frames,
            temperature,
            every=args.every,
            timestep_fs=args.timestep_fs,
            seed=seed,
            progress=True,
        )
        _sample_then_label(name, sampler, args, _properties(args, PROPERTIES))
    if args.pimd_frames > 0:
        name = f"{args.molecule}_pimd{args.pimd_beads}b{args.temperature:g}K"
        sampler = partial(
            pimd_sampling,
            minimum,
            args.pimd_frames,
            args.temperature,
            beads=args.pimd_beads,
            every=args.pimd_every,
            timestep_fs=args.timestep_fs,
            seed=args.seed + 2,
            progress=True,
        )
        _sample_then_label(name, sampler, args, _properties(args, PROPERTIES))


def _nms_with_twists(
    minimum: Structure,
    group: tuple[int, ...],
    axis: tuple[Any, Any],
    n_samples: int,
    temperature_k: float,
    period_deg: float,
    seed: int,
) -> list[Structure]:
    """Normal-mode samples, each with ``group`` rotated by a uniform random angle in [0, period)."""
    samples = normal_mode_sampling(minimum, n_samples, temperature_k, seed=seed, relax_first=False)
    angles = np.random.default_rng(seed + 10_000).uniform(0.0, period_deg, len(samples))
    return [torsion_scan(s, group, [a], axis=axis)[0] for s, a in zip(samples, angles, strict=True)]


def ferrocene(args: argparse.Namespace) -> None:
    """Fe(C5H4F)2: normal-mode samples with random relative Cp rotations + rigid rotation profile."""
    minimum = relax(molecules.ferrocene(substituent=9))
    ring_b = molecules.ferrocene_rings()[1]
    axis = (0, molecules.ferrocene_ring_carbons()[1])  # Fe -> centroid of ring B
    properties = _properties(args, (keys.ENERGY, keys.FORCES, keys.DIPOLE))
    sampler = partial(
        _nms_with_twists, minimum, ring_b, axis, args.samples, args.temperature, 360.0, args.seed
    )
    _sample_then_label(f"ferrocene_F2_nms{args.temperature:g}K", sampler, args, properties)
    angles = np.linspace(0.0, 360.0, args.scan_points, endpoint=False)
    scan = partial(torsion_scan, minimum, ring_b, angles, axis)
    _sample_then_label("ferrocene_F2_rotation_scan", scan, args, properties)


def cumulene(args: argparse.Namespace) -> None:
    """H2C=(C=)_{n-2}CH2: normal-mode samples with random end-group twists + rigid twist profile."""
    properties = _properties(args, (keys.ENERGY, keys.FORCES))
    angles = np.linspace(0.0, 180.0, args.scan_points, endpoint=False)  # CH2 has C2 symmetry
    for n in args.n_carbons:
        minimum = relax(molecules.cumulene(n))
        axis, group = molecules.cumulene_end_group(n)
        sampler = partial(
            _nms_with_twists, minimum, group, axis, args.samples, args.temperature, 180.0, args.seed + n
        )
        _sample_then_label(f"cumulene_C{n}_nms{args.temperature:g}K_twist", sampler, args, properties)
        scan = partial(torsion_scan, minimum, group, angles, axis)
        _sample_then_label(f"cumulene_C{n}_twist_scan", scan, args, properties)


def timing(args: argparse.Namespace) -> None:
    """Seconds per frame of labelling ethanol MD frames in this process (1 thread if OMP_NUM_THREADS=1)."""
    frames = md_sampling(molecules.ethanol(), args.frames, 300.0, every=10, equilibration_steps=200, seed=0)
    rows = {}
    for label, properties in (
        ("energy+forces+dipole", (keys.ENERGY, keys.FORCES, keys.DIPOLE)),
        ("+ polarizability (7 SCFs)", PROPERTIES),
    ):
        label_structures(frames[:3], XTBSettings(), properties, progress=False)  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        _, failures, _ = label_structures(frames, XTBSettings(), properties, progress=False)
        rows[label] = ((time.perf_counter() - wall) / len(frames), (time.process_time() - cpu) / len(frames))
        if failures:
            raise RuntimeError(f"labelling failed: {failures}")
    print(json.dumps({"frames": len(frames), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}))
    for label, (wall_s, cpu_s) in rows.items():  # CPU time is robust to other jobs on the machine
        print(f"ethanol {label:28s} wall {1e3 * wall_s:7.2f} ms/frame   CPU {1e3 * cpu_s:7.2f} ms/frame")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", default="data_generated/reference", help="output folder (git-ignored)")
        p.add_argument("--workers", type=int, default=1, help="labelling processes, one thread each")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--properties", default=None, help="comma list overriding the set's default")

    p = sub.add_parser("spectra", help="ethanol/aspirin MD sets with dipole and polarizability")
    common(p)
    p.add_argument("--molecule", choices=("ethanol", "aspirin"), required=True)
    p.add_argument("--frames", type=int, default=8000, help="frames at --temperature")
    p.add_argument("--hot-frames", type=int, default=2000, help="frames at --hot-temperature")
    p.add_argument("--temperature", type=float, default=300.0, help="K")
    p.add_argument("--hot-temperature", type=float, default=500.0, help="K")
    p.add_argument("--every", type=int, default=20, help="MD steps between stored frames")
    p.add_argument("--timestep-fs", type=float, default=0.5)
    p.add_argument(
        "--pimd-frames",
        type=int,
        default=4000,
        help="PIMD bead geometries at --temperature (0: none; each kept step gives --pimd-beads)",
    )
    p.add_argument("--pimd-beads", type=int, default=16, help="ring-polymer beads of the PIMD sampling")
    p.add_argument("--pimd-every", type=int, default=40, help="PIMD steps between kept bead sets")
    p.add_argument(
        "--aspirin-npz", default=None, help="rMD17 npz for the start frame (default: the shipped frame 0)"
    )
    p.set_defaults(run=spectra)

    p = sub.add_parser("ferrocene", help="Fe(C5H4F)2 normal-mode samples and Cp rotation profile")
    common(p)
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--temperature", type=float, default=300.0, help="K")
    p.add_argument("--scan-points", type=int, default=1000)
    p.set_defaults(run=ferrocene)

    p = sub.add_parser("cumulene", help="cumulenes with end-group twists")
    common(p)
    p.add_argument("--n-carbons", type=int, nargs="+", default=[3, 4, 5, 6, 7])
    p.add_argument("--samples", type=int, default=2000, help="normal-mode samples per n")
    p.add_argument("--temperature", type=float, default=300.0, help="K")
    p.add_argument("--scan-points", type=int, default=180, help="twist angles in [0°, 180°)")
    p.set_defaults(run=cumulene)

    p = sub.add_parser("timing", help="measure labelling time per ethanol frame")
    p.add_argument("--frames", type=int, default=200)
    p.set_defaults(run=timing)

    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
