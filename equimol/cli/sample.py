"""equimol sample METHOD STRUCTURE OUTPUT: generate geometries to label.

METHOD: ``normal-modes`` (ANI-1 normal-mode sampling at a temperature from the xTB Hessian of
the relaxed structure), ``md`` (xTB Langevin MD, every k-th frame), ``pimd`` (ring-polymer MD
driven by xTB, all bead geometries of every k-th step: the zero-point spread a model needs for
RPMD) or ``torsion`` (rotate a group of atoms about an axis by a list of angles, all other
coordinates fixed).
STRUCTURE: a file (first frame) or a built-in molecule: ethanol, aspirin, ferrocene,
fluoroferrocene, cumulene-N (N carbons).
"""

from __future__ import annotations

import numpy as np


def add_arguments(p) -> None:
    p.add_argument("method", choices=("normal-modes", "md", "pimd", "torsion"))
    p.add_argument(
        "structure", help="file or built-in name (ethanol, aspirin, ferrocene, fluoroferrocene, cumulene-N)"
    )
    p.add_argument("output", help="geometries: .extxyz/.xyz or .h5 (label them with equimol label)")
    p.add_argument("-n", "--n-samples", type=int, default=100, help="samples / frames")
    p.add_argument("--temperature-k", type=float, default=300.0)
    p.add_argument("--every", type=int, default=10, help="md, pimd: keep every k-th step")
    p.add_argument("--dt-fs", type=float, default=0.5, help="md, pimd: time step in fs")
    p.add_argument("--equilibration-steps", type=int, default=2000, help="md, pimd: steps discarded first")
    p.add_argument(
        "--beads", type=int, default=16, help="pimd: ring-polymer beads P (each kept step gives P geometries)"
    )
    p.add_argument(
        "--thermostat",
        default="nhc",
        help="pimd: ring-polymer thermostat (default nhc, the PaiNN paper's; see equimol md --help)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--charge", type=float, default=0.0)
    p.add_argument("--multiplicity", type=int, default=1)
    p.add_argument("--group", help="torsion: comma-separated atom indices to rotate")
    p.add_argument(
        "--axis", type=int, nargs=2, metavar=("I", "J"), help="torsion: axis from atom I to atom J"
    )
    p.add_argument(
        "--angles",
        type=float,
        nargs=3,
        default=(0.0, 360.0, 37),
        metavar=("START", "STOP", "N"),
        help="torsion: N angles in degrees from START to STOP (inclusive)",
    )


def builtin_or_file(name: str):
    from equimol.data.formats import read_structures
    from equimol.reference import molecules

    if name == "ethanol":
        return molecules.ethanol()
    if name == "aspirin":
        return molecules.aspirin()
    if name == "ferrocene":
        return molecules.ferrocene(substituent=None)
    if name == "fluoroferrocene":
        return molecules.ferrocene(substituent=9)
    if name.startswith("cumulene-"):
        return molecules.cumulene(int(name.split("-", 1)[1]))
    return read_structures(name)[0]


def run(args) -> int:
    from equimol.data.formats import write_structures
    from equimol.md.config import thermostat_spelling
    from equimol.reference.sampling import md_sampling, normal_mode_sampling, pimd_sampling, torsion_scan
    from equimol.reference.xtb import XTBSettings

    s = builtin_or_file(args.structure)
    settings = XTBSettings(charge=args.charge, multiplicity=args.multiplicity)
    if args.method == "normal-modes":
        out = normal_mode_sampling(s, args.n_samples, args.temperature_k, settings, seed=args.seed)
    elif args.method == "md":
        out = md_sampling(
            s,
            args.n_samples,
            args.temperature_k,
            every=args.every,
            timestep_fs=args.dt_fs,
            equilibration_steps=args.equilibration_steps,
            settings=settings,
            seed=args.seed,
            progress=True,
        )
    elif args.method == "pimd":
        out = pimd_sampling(
            s,
            args.n_samples,
            args.temperature_k,
            beads=args.beads,
            every=args.every,
            timestep_fs=args.dt_fs,
            equilibration_steps=args.equilibration_steps,
            thermostat=thermostat_spelling(args.thermostat),
            settings=settings,
            seed=args.seed,
            progress=True,
        )
    else:
        if not args.group or not args.axis:
            raise ValueError("torsion needs --group and --axis")
        group = [int(x) for x in args.group.split(",")]
        angles = np.linspace(args.angles[0], args.angles[1], int(args.angles[2]))
        out = torsion_scan(s, group, angles, tuple(args.axis))
    write_structures(args.output, out)
    print(f"wrote {len(out)} structures to {args.output}")
    return 0
