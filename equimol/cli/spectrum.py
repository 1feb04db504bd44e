"""equimol spectrum TRAJECTORY --ir --raman --power --depth-fs --csv out.csv --plot out.png

Reads the HDF5 trajectory of ``equimol md``; writes CSV columns ``frequency_cm1`` and whichever
of ``ir``, ``raman_iso``, ``raman_aniso``, ``power`` were asked for, each normalised to a
maximum of 1 unless ``--absolute`` (then IR in km mol⁻¹ (cm⁻¹)⁻¹, Raman in Å⁶·fs, power in
degrees of freedom per cm⁻¹; see equimol.spectra). ``--bands`` prints each band's maximum and
centroid, and with two or more replicas the spread of the centroid between them (its error bar;
``equimol md --replicas``), ``--bands-json`` saves that table.
"""

from __future__ import annotations

from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("trajectory", help="HDF5 trajectory written by equimol md")
    p.add_argument("--ir", action="store_true", help="infrared, from the dipole time derivative")
    p.add_argument(
        "--raman", action="store_true", help="Raman (isotropic + anisotropic), from the polarizability"
    )
    p.add_argument("--power", action="store_true", help="power spectrum (vibrational DOS) from velocities")
    p.add_argument("--depth-fs", type=float, default=2048.0, help="correlation depth in fs (paper: 2048)")
    p.add_argument("--discard-fs", type=float, default=0.0, help="equilibration to drop, fs (paper: 10000)")
    p.add_argument("--rpmd-average", choices=("centroid", "beads"), default="centroid")
    p.add_argument("--laser-nm", type=float, default=514.0, help="Raman laser wavelength in nm (paper: 514)")
    p.add_argument("--temperature-k", type=float, help="for prefactors (default: the trajectory's)")
    p.add_argument("--csv", help="write spectra as CSV (default: TRAJECTORY stem + .spectrum.csv)")
    p.add_argument("--plot", help="write a plot (.png or .svg)")
    p.add_argument("--experimental", help="JCAMP-DX spectrum to overlay on the plot")
    p.add_argument("--xlim", type=float, nargs=2, default=(0.0, 4000.0), metavar=("MIN", "MAX"))
    p.add_argument("--absolute", action="store_true", help="do not normalise to a maximum of 1")
    p.add_argument(
        "--bands",
        nargs="*",
        metavar="NAME=LO:HI",
        help="print band maxima and centroids (cm⁻¹), with their spread between replicas; windows"
        " NAME=LO:HI, default fingerprint=400:1600 C-H stretch=2500:3250 O-H stretch=3250:4000",
    )
    p.add_argument("--bands-json", help="write the band table (--bands) as JSON")


def run(args) -> int:
    from equimol.spectra import read_jcamp
    from equimol.spectra.plot import plot_spectra
    from equimol.spectra.trajectory import (
        describe_trajectory,
        load_trajectory,
        spectra_from_trajectory,
        write_csv,
    )

    if not (args.ir or args.raman or args.power):
        raise ValueError("choose at least one of --ir, --raman, --power")
    bands = _bands(args)  # checked before any work
    traj = load_trajectory(args.trajectory)
    options = {
        "ir": args.ir,
        "raman": args.raman,
        "power": args.power,
        "depth_fs": args.depth_fs,
        "discard_fs": args.discard_fs,
        "rpmd_average": args.rpmd_average,
        "laser_nm": args.laser_nm,
        "temperature_k": args.temperature_k or _trajectory_temperature(args.trajectory),
    }
    spectra = spectra_from_trajectory(traj, **options)
    csv = Path(args.csv or Path(args.trajectory).with_suffix(".spectrum.csv"))
    write_csv(csv, spectra, normalise=not args.absolute)
    print(f"wrote {', '.join(spectra)} to {csv}")
    if args.plot:
        experiment = read_jcamp(args.experimental, label="experiment") if args.experimental else None
        plot_spectra(
            list(spectra.values()),
            args.plot,
            normalise=not args.absolute,
            xlim_cm1=tuple(args.xlim),
            title=f"{Path(args.trajectory).name}: {describe_trajectory(traj)}",
            experiment=experiment,
        )
        print(f"wrote plot {args.plot}")
    if bands is not None:
        _report_bands(traj, bands, args.bands_json, options)
    return 0


def _bands(args) -> dict[str, tuple[float, float]] | None:
    from equimol.spectra.bands import DEFAULT_BANDS, parse_band

    if args.bands is None and not args.bands_json:
        return None
    return dict(parse_band(b) for b in args.bands) if args.bands else dict(DEFAULT_BANDS)


def _report_bands(traj, bands, json_path: str | None, options: dict) -> None:
    """Print the band table of ``equimol.spectra.bands.band_statistics`` (and save it as JSON)."""
    import json

    from equimol.spectra.bands import band_statistics

    stats = band_statistics(traj, bands, **options)
    n = stats["replicas"]
    print(
        f"bands (cm⁻¹; centroid ± standard error over {n} replicas)"
        if n > 1
        else "bands (cm⁻¹; one replica: no error bar)"
    )
    width = max(len(b) for b in bands)
    for kind, table in stats["spectra"].items():
        for b in bands:
            mx, c, sp = table["maximum"][b], table["centroid"][b], table["replica_spread"][b]
            err = f" ± {sp['stderr']:.0f} (replicas scatter by {sp['std']:.0f})" if sp else ""
            cen = "—" if c is None else f"{c:.0f}{err}"
            print(
                f"  {kind:6s} {b:{width}s}  maximum {'—' if mx is None else f'{mx:.0f}':>5s}  centroid {cen}"
            )
    if json_path:
        Path(json_path).write_text(json.dumps(stats, indent=1) + "\n")
        print(f"wrote {json_path}")


def _trajectory_temperature(path: str) -> float:
    """Thermostat temperature (K) stored by equimol md; 300 K if absent."""
    import h5py

    with h5py.File(path, "r") as f:
        return float(f.attrs.get("temperature_k", 300.0))
