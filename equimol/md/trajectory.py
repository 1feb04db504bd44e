"""HDF5 trajectory of a (ring-polymer) MD run.

Datasets (T frames, R replicas, P beads, N atoms; resizable along T):

    time_fs (T,) fs            positions, velocities (T, R, P, N, 3) Å, Å/fs
    atomic_numbers (N,)        energy_potential, energy_kinetic, conserved (T, R) eV
    masses (N,) amu
    temperature_k (T, R) K     dipole (T, R, P, 3) e·Å, polarizability (T, R, P, 3, 3) Å³
                               force_disagreement (T, R, P) eV/Å (committees)
                               (the last three only when the force_fn predicts them)

Attributes: dt_fs, stride, thermostat, temperature_k, n_replicas, n_beads,
thermostat_description, config (JSON). Observables are defined in
:mod:`equimol.md.observables`. Frames are buffered and appended in chunks; after a restart
the file is truncated to the frames the checkpoint knows about.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from equimol.md.hooks import Hook
from equimol.md.observables import OBSERVABLES
from equimol.md.state import PROPERTY_SHAPES

if TYPE_CHECKING:
    from equimol.md.simulate import Simulation

PER_BEAD = ("positions", "velocities")


class TrajectoryWriter:
    """Append frames to an HDF5 file; see the module docstring for the layout.

    Args:
        path: output file.
        atomic_numbers: (N,) ints; masses: (N,) amu.
        n_replicas, n_beads: R and P.
        properties: optional per-bead outputs to store ("dipole", "polarizability").
        attrs: file attributes; must contain dt_fs, stride, thermostat, temperature_k.
        resume_frames: None for a new file; otherwise reopen ``path`` and keep exactly the
            first ``resume_frames`` frames (checks that the file matches the run).
        overwrite: allow replacing an existing file when starting a new one.
        dtype: storage dtype of positions, velocities, dipoles, polarizabilities.
        flush_every: frames buffered in memory before they are appended and flushed.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        atomic_numbers: np.ndarray,
        masses: np.ndarray,
        n_replicas: int,
        n_beads: int,
        properties: Sequence[str] = (),
        attrs: Mapping[str, Any],
        resume_frames: int | None = None,
        overwrite: bool = False,
        dtype: str = "float64",
        flush_every: int = 100,
    ) -> None:
        self.path = Path(path)
        n = len(atomic_numbers)
        r, p = n_replicas, n_beads
        self.shapes: dict[str, tuple[int, ...]] = {
            "time_fs": (),
            "positions": (r, p, n, 3),
            "velocities": (r, p, n, 3),
            **{k: (r,) for k in OBSERVABLES},
        }
        tails = PROPERTY_SHAPES
        for key in properties:
            self.shapes[key] = (r, p, *tails[key])
        self.dtypes = {k: dtype if (k in PER_BEAD or k in tails) else "float64" for k in self.shapes}
        self.flush_every = flush_every
        self._buffer: list[dict[str, np.ndarray]] = []
        if resume_frames is None:
            if self.path.exists() and not overwrite:
                raise FileExistsError(f"{self.path} exists; pass overwrite=True or restart from a checkpoint")
            self._create(np.asarray(atomic_numbers), np.asarray(masses), attrs)
        else:
            self._reopen(resume_frames, attrs, n)

    def _create(self, atomic_numbers: np.ndarray, masses: np.ndarray, attrs: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = h5py.File(self.path, "w")
        self.file.create_dataset("atomic_numbers", data=atomic_numbers.astype(np.int64))
        self.file.create_dataset("masses", data=masses.astype(np.float64))
        for key, shape in self.shapes.items():
            frame_bytes = max(8, 8 * int(np.prod(shape)))
            chunk = max(1, min(self.flush_every, (1 << 20) // frame_bytes))
            self.file.create_dataset(
                key,
                shape=(0, *shape),
                maxshape=(None, *shape),
                chunks=(chunk, *shape),
                dtype=self.dtypes[key],
            )
        for key, value in attrs.items():
            self.file.attrs[key] = json.dumps(value) if isinstance(value, dict) else value
        self.file.flush()

    def _reopen(self, n_frames: int, attrs: Mapping[str, Any], n_atoms: int) -> None:
        if not self.path.exists():
            raise FileNotFoundError(f"cannot resume: trajectory {self.path} is missing")
        self.file = h5py.File(self.path, "r+")
        try:
            for key in ("dt_fs", "stride", "n_replicas", "n_beads"):
                if key in attrs and key in self.file.attrs and self.file.attrs[key] != attrs[key]:
                    raise ValueError(
                        f"{self.path}: {key}={self.file.attrs[key]} does not match the run ({attrs[key]})"
                    )
            missing = [k for k in self.shapes if k not in self.file]
            if missing or self.file["atomic_numbers"].shape != (n_atoms,):
                raise ValueError(f"{self.path} does not match the run (missing {missing})")
            have = self.file["time_fs"].shape[0]
            if have < n_frames:
                raise ValueError(f"{self.path} has {have} frames but the checkpoint expects {n_frames}")
            for key in self.shapes:
                self.file[key].resize(n_frames, axis=0)
            self.file.flush()
        except Exception:
            self.file.close()
            raise

    @property
    def n_frames(self) -> int:
        return int(self.file["time_fs"].shape[0]) + len(self._buffer)

    def append(self, frame: Mapping[str, np.ndarray | float]) -> None:
        """Buffer one frame (a value for every dataset name); writes every flush_every frames."""
        self._buffer.append({k: np.asarray(frame[k], dtype=self.dtypes[k]) for k in self.shapes})
        if len(self._buffer) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Append buffered frames to the datasets and flush the file to disk."""
        if not self.file.id.valid:
            return
        if self._buffer:
            n0, k = self.file["time_fs"].shape[0], len(self._buffer)
            for key in self.shapes:
                ds = self.file[key]
                ds.resize(n0 + k, axis=0)
                ds[n0:] = np.stack([f[key] for f in self._buffer])
            self._buffer.clear()
        self.file.flush()

    def close(self) -> None:
        if self.file.id.valid:
            self.flush()
            self.file.close()


def read_trajectory(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """All datasets as numpy arrays and all attributes of a trajectory file.

    The one reader is :func:`equimol.spectra.trajectory.read_trajectory` (torch-free, so that
    spectra can be computed without importing the MD engine); this is it with every dataset.
    """
    from equimol.spectra.trajectory import read_trajectory as read  # SciPy: only when reading

    return read(path)


class TrajectoryHook(Hook):
    """Writes a frame every ``stride`` steps (step 0 included) with a :class:`TrajectoryWriter`."""

    def __init__(self, path: str | Path, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self.writer: TrajectoryWriter | None = None

    def on_start(self, sim: Simulation) -> None:
        cfg, state = sim.config, sim.state
        resume = None if state.step == 0 else state.step // cfg.stride + 1
        attrs = {
            "dt_fs": cfg.dt_fs,
            "stride": cfg.stride,
            "thermostat": cfg.thermostat,
            "temperature_k": cfg.temperature_k,
            "n_replicas": state.n_replicas,
            "n_beads": state.n_beads,
            "thermostat_description": sim.thermostat.describe() if sim.thermostat else "nve",
            "config": cfg.to_dict(),
        }
        self.writer = TrajectoryWriter(
            self.path,
            atomic_numbers=state.atomic_numbers.cpu().numpy(),
            masses=state.masses.cpu().numpy(),
            n_replicas=state.n_replicas,
            n_beads=state.n_beads,
            properties=sorted(state.properties),
            attrs=attrs,
            resume_frames=resume,
            overwrite=self.overwrite,
            dtype=cfg.trajectory_dtype,
            flush_every=cfg.flush_every,
        )
        if state.step == 0:
            self._write(sim)

    def on_step(self, sim: Simulation) -> None:
        if sim.state.step % sim.config.stride == 0:
            self._write(sim)

    def _write(self, sim: Simulation) -> None:
        assert self.writer is not None
        state = sim.state
        frame: dict[str, np.ndarray | float] = {"time_fs": sim.time_fs}
        frame["positions"] = state.positions.detach().cpu().numpy()
        frame["velocities"] = state.velocities.detach().cpu().numpy()
        for key, value in sim.observables().items():
            frame[key] = value.detach().cpu().numpy()
        for key, value in state.properties.items():
            frame[key] = value.detach().cpu().numpy()
        self.writer.append(frame)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def on_end(self, sim: Simulation) -> None:
        if self.writer is not None:
            self.writer.close()
