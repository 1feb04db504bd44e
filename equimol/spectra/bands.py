"""Band positions of a spectrum, and how far they scatter between independent replicas.

A band's *maximum* moves only when the band moves; its *centroid* (intensity-weighted mean
wavenumber over a window) also moves when intensity moves between the peaks of the window, which
is what a finite trajectory gets wrong first: under a global thermostat a small molecule shares
its kinetic energy unevenly among its modes for picoseconds. So a centroid from one trajectory
comes with an error bar only when independent replicas exist: :func:`band_statistics` computes
the spectra of every replica of a trajectory on their own and reports the spread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from equimol.spectra.spectrum import Spectrum

# windows (cm⁻¹) for organic molecules with X–H bonds: fingerprint (C–O, C–C stretches, bends),
# C–H stretches, O–H (and N–H) stretches
DEFAULT_BANDS: dict[str, tuple[float, float]] = {
    "fingerprint": (400.0, 1600.0),
    "C-H stretch": (2500.0, 3250.0),
    "O-H stretch": (3250.0, 4000.0),
}
# trajectory datasets indexed (frame, replica, ...); everything else is per atom or a setting
PER_FRAME_REPLICA = ("positions", "velocities", "dipole", "polarizability")


def band_positions(
    s: Spectrum, bands: Mapping[str, tuple[float, float]] = DEFAULT_BANDS
) -> dict[str, float | None]:
    """Position (cm⁻¹) of the maximum of ``s`` inside each band window; None where the window is
    empty or the spectrum is zero there."""
    out: dict[str, float | None] = {}
    for name, (lo, hi) in bands.items():
        mask = (s.frequency_cm1 >= lo) & (s.frequency_cm1 <= hi)
        y = s.intensity[mask]
        out[name] = round(float(s.frequency_cm1[mask][np.argmax(y)]), 1) if y.size and y.max() > 0 else None
    return out


def band_centroids(
    s: Spectrum, bands: Mapping[str, tuple[float, float]] = DEFAULT_BANDS
) -> dict[str, float | None]:
    """Intensity-weighted mean wavenumber (cm⁻¹) of ``s`` inside each band window: robust where a
    band has several peaks (the C–H stretches) whose heights change between methods; None where
    the spectrum is zero there."""
    out: dict[str, float | None] = {}
    for name, (lo, hi) in bands.items():
        mask = (s.frequency_cm1 >= lo) & (s.frequency_cm1 <= hi)
        y = np.clip(s.intensity[mask], 0.0, None)
        total = float(y.sum())
        out[name] = round(float((s.frequency_cm1[mask] * y).sum() / total), 1) if total > 0 else None
    return out


def replica(traj: Mapping[str, Any], r: int) -> dict[str, Any]:
    """The trajectory dict (:func:`equimol.spectra.trajectory.load_trajectory`) of replica ``r``
    alone, with the replica axis kept (length 1)."""
    n = traj["positions"].shape[1]
    if not 0 <= r < n:
        raise ValueError(f"replica {r} out of range: the trajectory has {n}")
    out = dict(traj)
    for key in PER_FRAME_REPLICA:
        if traj.get(key) is not None:
            out[key] = np.asarray(traj[key])[:, r : r + 1]
    return out


def _spread(values: list[float | None]) -> dict[str, float] | None:
    v = [x for x in values if x is not None]
    if len(v) < 2:
        return None
    std = float(np.std(v, ddof=1))
    return {"std": round(std, 1), "stderr": round(std / np.sqrt(len(v)), 1)}


def band_statistics(
    traj: Mapping[str, Any],
    bands: Mapping[str, tuple[float, float]] = DEFAULT_BANDS,
    **spectra_kwargs: Any,
) -> dict[str, Any]:
    """Band maxima and centroids (cm⁻¹) of every spectrum of ``traj``, and their spread between
    replicas.

    ``spectra_kwargs`` go to :func:`~equimol.spectra.trajectory.spectra_from_trajectory`
    (``ir``, ``raman``, ``power``, ``depth_fs``, ``discard_fs``, ...); the Raman entry is the
    unpolarised spectrum (:func:`~equimol.spectra.raman.combine_raman`). Returns
    ``{"replicas": R, "bands": {...}, "spectra": {kind: {"maximum": {...}, "centroid": {...},
    "replica_centroids": [{...} per replica], "replica_spread": {band: {"std", "stderr"} or
    None}}}}``; the spread (standard deviation between replicas, ddof 1, and the standard error
    of their mean) needs two replicas or more.
    """
    from equimol.spectra.trajectory import spectra_from_trajectory

    def curves(t: Mapping[str, Any]) -> dict[str, Spectrum]:
        sp = spectra_from_trajectory(t, **spectra_kwargs, unpolarized=True)
        return {k: sp[k] for k in ("ir", "power", "raman") if k in sp}

    n_rep = int(traj["positions"].shape[1])
    whole = curves(traj)
    per_replica = [curves(replica(traj, r)) for r in range(n_rep)] if n_rep > 1 else []
    result: dict[str, Any] = {
        "replicas": n_rep,
        "bands": {k: list(v) for k, v in bands.items()},
        "spectra": {},
    }
    for kind, s in whole.items():
        reps = [band_centroids(c[kind], bands) for c in per_replica]
        result["spectra"][kind] = {
            "maximum": band_positions(s, bands),
            "centroid": band_centroids(s, bands),
            "replica_centroids": reps,
            "replica_spread": {b: _spread([r[b] for r in reps]) for b in bands},
        }
    return result


def parse_band(text: str) -> tuple[str, tuple[float, float]]:
    """``"NAME=LO:HI"`` (cm⁻¹) → (NAME, (LO, HI)); a clear ValueError otherwise."""
    try:
        name, window = text.split("=", 1)
        lo, hi = (float(x) for x in window.split(":"))
    except ValueError:
        raise ValueError(f"band {text!r}: expected NAME=LO:HI in cm⁻¹, e.g. C-H=2500:3250") from None
    if not name or not 0.0 <= lo < hi:
        raise ValueError(f"band {text!r}: needs a name and 0 ≤ LO < HI (cm⁻¹)")
    return name, (lo, hi)
