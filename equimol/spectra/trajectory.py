"""Read an equimol MD/RPMD HDF5 trajectory and turn it into spectra and a CSV table."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ase.data import atomic_masses

from equimol.spectra.correlation import RpmdAverage
from equimol.spectra.ir import ir_spectrum
from equimol.spectra.power import power_spectrum
from equimol.spectra.raman import combine_raman, raman_spectra
from equimol.spectra.spectrum import Spectrum

CSV_COLUMNS = ("ir", "raman_iso", "raman_aniso", "power")
_REQUIRED = ("time_fs", "positions", "velocities", "atomic_numbers")
_OPTIONAL = ("dipole", "polarizability", "masses")
# spectrum -> (dataset it needs, name in messages, CLI flag)
_NEEDS = {
    "ir": ("dipole", "IR", "--ir"),
    "raman": ("polarizability", "Raman", "--raman"),
    "power": ("velocities", "power", "--power"),
}


def _masses_amu(data: Mapping[str, Any]) -> np.ndarray:
    """(N,) masses in amu: the ``masses`` entry, else ASE's standard atomic masses."""
    if data.get("masses") is not None:
        return np.asarray(data["masses"], dtype=float)
    return atomic_masses[np.asarray(data["atomic_numbers"], dtype=int)]


def describe_trajectory(traj: Mapping[str, Any]) -> str:
    """A short human description for plot titles, e.g. ``"RPMD, 8 beads, 1.0 ps"``."""
    _, replicas, beads = traj["positions"].shape[:3]
    time = np.asarray(traj["time_fs"], dtype=float)
    length_ps = (time[-1] - time[0]) / 1000.0 if time.size > 1 else 0.0
    kind = f"RPMD, {beads} beads" if beads > 1 else "classical MD"
    more = f", {replicas} replicas" if replicas > 1 else ""
    return f"{kind}{more}, {length_ps:.1f} ps"


def read_trajectory(
    path: str | os.PathLike[str], datasets: Iterable[str] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The one reader of equimol's MD HDF5 trajectories (format: :mod:`equimol.md.trajectory`).

    Returns the datasets as NumPy arrays (all of them, or those of ``datasets`` that the file
    has, in that order), in the units they were written in (Å, Å/fs, fs, eV, e·Å, Å³, K),
    and all file attributes as stored.  No checks; :func:`load_trajectory` validates.
    """
    import h5py  # not at import time: h5py is only needed here

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"trajectory file not found: {p}")
    with h5py.File(p, "r") as f:
        names = list(f) if datasets is None else [k for k in datasets if k in f]
        data = {k: f[k][()] for k in names}
        attrs = dict(f.attrs)
    return data, attrs


def load_trajectory(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load an HDF5 trajectory into a dict of NumPy arrays, checked for spectra.

    Datasets: ``time_fs`` (T,) fs, ``positions`` (T, R, P, N, 3) Å, ``velocities``
    (T, R, P, N, 3) Å/fs, ``atomic_numbers`` (N,), optional ``dipole`` (T, R, P, 3) e·Å,
    ``polarizability`` (T, R, P, 3, 3) Å³ and ``masses`` (N,) amu (default: ASE masses).
    Attributes ``dt_fs`` (integration step, fs) and ``stride`` (steps between frames); when
    absent they are inferred from ``time_fs``.  The returned dict adds ``frame_dt_fs``
    (= dt_fs · stride), ``masses`` and ``source`` (the path, for error messages).
    """
    p = Path(path)
    data, file_attrs = read_trajectory(p, (*_REQUIRED, *_OPTIONAL))
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ValueError(f"{p}: missing dataset(s) {', '.join(missing)}")
    traj: dict[str, Any] = {k: np.asarray(v) for k, v in data.items()}
    attrs = {k: float(file_attrs[k]) for k in ("dt_fs", "stride") if k in file_attrs}
    if traj["positions"].ndim != 5 or traj["positions"].shape[-1] != 3:
        raise ValueError(
            f"{p}: dataset 'positions' has shape {traj['positions'].shape}, expected (T, R, P, N, 3)"
        )
    t, r, pb, n = traj["positions"].shape[:4]
    expected = {
        "time_fs": (t,),
        "positions": (t, r, pb, n, 3),
        "velocities": (t, r, pb, n, 3),
        "atomic_numbers": (n,),
        "dipole": (t, r, pb, 3),
        "polarizability": (t, r, pb, 3, 3),
        "masses": (n,),
    }
    for key, shape in expected.items():
        if key in traj and traj[key].shape != shape:
            raise ValueError(f"{p}: dataset {key!r} has shape {traj[key].shape}, expected {shape}")
    times = traj["time_fs"].astype(float)
    steps = np.diff(times)
    if steps.size and not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9):
        raise ValueError(f"{p}: time_fs is not evenly spaced")
    if "dt_fs" in attrs:
        frame_dt = attrs["dt_fs"] * attrs.get("stride", 1.0)
        if steps.size and not np.isclose(steps[0], frame_dt, rtol=1e-6):
            raise ValueError(
                f"{p}: dt_fs·stride = {frame_dt} fs disagrees with time_fs spacing {steps[0]} fs"
            )
    elif steps.size:
        frame_dt = float(steps[0])
    else:
        raise ValueError(f"{p}: cannot determine the frame spacing (no dt_fs attribute, one frame)")
    traj["masses"] = _masses_amu(traj)
    traj.update(
        dt_fs=attrs.get("dt_fs", frame_dt),
        stride=int(attrs.get("stride", 1)),
        frame_dt_fs=frame_dt,
        source=str(p),
    )
    return traj


def _frames_to_discard(data: Mapping[str, Any], discard_fs: float) -> tuple[float, int]:
    """(frame interval in fs, number of leading frames in ``discard_fs``) of a trajectory dict;
    ValueError when that leaves no frame."""
    source = data.get("source", "trajectory")
    if "frame_dt_fs" not in data and "dt_fs" not in data:
        raise ValueError(f"{source}: the trajectory dict needs 'frame_dt_fs' or 'dt_fs' (and 'stride')")
    frame_dt = (
        float(data["frame_dt_fs"]) if "frame_dt_fs" in data else float(data["dt_fs"]) * data.get("stride", 1)
    )
    n_discard = int(np.rint(discard_fs / frame_dt))
    n_frames = min(
        len(data[k]) for k in ("time_fs", "velocities", "dipole", "polarizability") if data.get(k) is not None
    )
    if discard_fs < 0 or n_discard >= n_frames:
        raise ValueError(f"{source}: discard_fs={discard_fs} must be ≥ 0 and shorter than the trajectory")
    return frame_dt, n_discard


def trajectory_temperatures(
    traj: Mapping[str, Any] | str | os.PathLike[str], discard_fs: float = 0.0
) -> dict[str, np.ndarray]:
    """Per-replica kinetic temperatures (K) of the centroid's translation, rotation and
    vibrations after the first ``discard_fs`` fs of a trajectory (dict from
    :func:`load_trajectory` or a path): :func:`equimol.md.observables.rigid_and_vibrational_temperatures`.
    In a canonical run all three are T; a free molecule whose rigid motion a global thermostat
    never thermalised shows otherwise (``MDConfig.remove_rotation``)."""
    import torch

    from equimol.md.observables import rigid_and_vibrational_temperatures

    data = load_trajectory(traj) if isinstance(traj, (str, os.PathLike)) else traj
    _, n_discard = _frames_to_discard(data, discard_fs)
    x, v = (
        torch.as_tensor(np.asarray(data[k][n_discard:]), dtype=torch.float64)
        for k in ("positions", "velocities")
    )
    masses = torch.as_tensor(_masses_amu(data), dtype=torch.float64)
    return {k: t.numpy() for k, t in rigid_and_vibrational_temperatures(x, v, masses).items()}


def spectra_from_trajectory(
    traj: Mapping[str, Any] | str | os.PathLike[str],
    ir: bool = True,
    raman: bool = True,
    power: bool = True,
    depth_fs: float = 2048.0,
    discard_fs: float = 0.0,
    rpmd_average: RpmdAverage = "centroid",
    laser_nm: float = 514.0,
    temperature_k: float = 300.0,
    *,
    window: str | None = "hann",
    zero_pad_factor: int = 2,
    unpolarized: bool = False,
) -> dict[str, Spectrum]:
    """Compute the requested spectra of a trajectory (dict from :func:`load_trajectory` or a path).

    Returns a dict with keys among ``"ir"`` (km mol⁻¹ (cm⁻¹)⁻¹, :func:`ir_spectrum`),
    ``"raman_iso"``, ``"raman_aniso"`` (Å⁶ fs, :func:`raman_spectra`) and ``"power"``
    (degrees of freedom per cm⁻¹, :func:`power_spectrum`), all on the same cm⁻¹ axis;
    with ``unpolarized`` (and ``raman``) also ``"raman"``, the unpolarised Raman spectrum
    (:func:`~equimol.spectra.raman.combine_raman` of the two, what an experiment without a
    polariser records).
    The first ``discard_fs`` fs (equilibration) are dropped.  Every requested property is
    checked before any work is done; a missing one raises ValueError naming the file.
    """
    data = load_trajectory(traj) if isinstance(traj, (str, os.PathLike)) else traj
    source = data.get("source", "trajectory")
    if not (ir or raman or power):
        raise ValueError("no spectrum requested: enable at least one of ir, raman, power")
    for name, wanted in (("ir", ir), ("raman", raman), ("power", power)):
        key, what, flag = _NEEDS[name]
        if wanted and data.get(key) is None:
            raise ValueError(
                f"{source}: {what} spectrum requested ({flag}) but the trajectory has no {key!r} dataset;"
                f" pass {name}=False (omit {flag})"
            )
    frame_dt, n_discard = _frames_to_discard(data, discard_fs)
    kwargs: dict[str, Any] = {
        "depth_fs": depth_fs,
        "rpmd_average": rpmd_average,
        "window": window,
        "zero_pad_factor": zero_pad_factor,
    }
    out: dict[str, Spectrum] = {}
    if ir:
        out["ir"] = ir_spectrum(
            data["dipole"][n_discard:], frame_dt, temperature_k=temperature_k, label="ir", **kwargs
        )
    if raman:
        out.update(
            raman_spectra(
                data["polarizability"][n_discard:],
                frame_dt,
                laser_nm=laser_nm,
                temperature_k=temperature_k,
                **kwargs,
            )
        )
        if unpolarized:
            out["raman"] = combine_raman(out["raman_iso"], out["raman_aniso"])
    if power:
        out["power"] = power_spectrum(
            data["velocities"][n_discard:], _masses_amu(data), frame_dt, label="power", **kwargs
        )
    return out


def write_csv(path: str | os.PathLike[str], spectra: Mapping[str, Spectrum], normalise: bool = True) -> Path:
    """Write ``frequency_cm1`` and the present columns of ir, raman_iso, raman_aniso, power.

    All columns share the frequency axis of the first spectrum (others are linearly
    interpolated onto it, 0 outside their range).  With ``normalise`` every column is divided
    by its maximum.  Written atomically (:func:`equimol.io.atomic_write`).
    """
    unknown = sorted(set(spectra) - set(CSV_COLUMNS))
    if unknown or not spectra:
        raise ValueError(f"write_csv accepts a non-empty subset of {CSV_COLUMNS}; got unknown {unknown}")
    columns = [k for k in CSV_COLUMNS if k in spectra]
    grid = spectra[columns[0]].frequency_cm1
    table = [grid]
    for key in columns:
        s = spectra[key].normalised() if normalise else spectra[key]
        same = s.frequency_cm1.shape == grid.shape and np.allclose(s.frequency_cm1, grid)
        table.append(
            s.intensity if same else np.interp(grid, s.frequency_cm1, s.intensity, left=0.0, right=0.0)
        )
    from equimol.io import atomic_write  # equimol.io imports torch: only when writing

    out = Path(path)
    with atomic_write(out) as f:
        np.savetxt(
            f,
            np.column_stack(table),
            delimiter=",",
            header=",".join(["frequency_cm1", *columns]),
            comments="",
            fmt="%.10g",
        )
    return out
