"""equimol label INPUT OUTPUT --method gfn2-xtb --properties energy,forces,dipole,polarizability

Labels every structure with GFN2-xTB (tblite). Units written: energy eV, forces eV/Å, dipole e·Å,
polarizability Å³ (finite differences of the dipole in an electric field). Resumable: rerun
the same command after an interruption; nothing is relabelled or lost. SCF failures are
listed per structure in OUTPUT.failures.json.
"""

from __future__ import annotations


def add_arguments(p) -> None:
    p.add_argument("input", help="structures: extxyz/xyz, ASE .db, rMD17 .npz, .h5, or any ASE-readable file")
    p.add_argument("output", help="labelled dataset: .extxyz/.xyz or .h5")
    p.add_argument("--method", default="gfn2-xtb", choices=("gfn2-xtb", "gfn1-xtb", "ipea1-xtb"))
    p.add_argument(
        "--properties",
        default="energy,forces,dipole,polarizability",
        help="comma-separated subset of energy,forces,dipole,polarizability",
    )
    p.add_argument("--charge", type=float, default=0.0, help="total charge in e")
    p.add_argument("--multiplicity", type=int, default=1, help="spin multiplicity 2S+1")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    p.add_argument("--field-step", type=float, default=None, help="finite-field step in V/Å (polarizability)")
    p.add_argument("--no-progress", action="store_true")


def run(args) -> int:
    from equimol.reference.label import DEFAULT_FIELD_STEP, label_file

    props = tuple(x.strip() for x in args.properties.split(",") if x.strip())
    report = label_file(
        args.input,
        args.output,
        method=args.method,
        properties=props,
        charge=args.charge,
        multiplicity=args.multiplicity,
        workers=args.workers,
        field_step=args.field_step or DEFAULT_FIELD_STEP,
        progress=not args.no_progress,
    )
    print(
        f"labelled {report.n_labelled} structures ({report.n_resumed} resumed) of {report.n_structures} "
        f"-> {report.output}"
    )
    if report.failures:
        print(f"{len(report.failures)} structure(s) failed; see {report.failures_path}")
        return 3
    return 0
