"""Hooks called by :class:`~equimol.md.simulate.Simulation` around every step.

A hook subclasses :class:`Hook` and overrides any of ``on_start`` (after set-up, before the
first step; ``sim.state.step`` may be > 0 after a restart), ``on_step`` (after each step),
``on_end`` (after the last step, also when the run fails) and ``flush`` (called before a
checkpoint is written, so files on disk match the checkpoint).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tqdm.auto import tqdm

if TYPE_CHECKING:
    from equimol.md.simulate import Simulation

LOGGER = logging.getLogger("equimol.md")
LOG_COLUMNS = ("step", "time_fs", "temperature_k", "energy_potential", "energy_kinetic", "conserved")


class Hook:
    """No-op base class."""

    def on_start(self, sim: Simulation) -> None:
        pass

    def on_step(self, sim: Simulation) -> None:
        pass

    def on_end(self, sim: Simulation) -> None:
        pass

    def flush(self) -> None:
        pass


class LogHook(Hook):
    """Every ``every`` steps: replica-averaged T (K), E_pot, E_kin, conserved (eV).

    Lines go to ``path`` (whitespace-separated columns, appended on restart), to the
    ``equimol.md`` logger at DEBUG level, and to ``history`` (list of dicts).
    """

    def __init__(self, every: int, path: str | Path | None = None) -> None:
        self.every = every
        self.path = Path(path) if path is not None else None
        self.history: list[dict[str, float]] = []
        self._file: IO[str] | None = None

    def on_start(self, sim: Simulation) -> None:
        if self.path is not None:
            fresh = sim.state.step == 0 or not self.path.exists()
            self._file = self.path.open("w" if sim.state.step == 0 else "a", encoding="utf-8")
            if fresh:
                self._file.write("# " + " ".join(LOG_COLUMNS) + "  (fs, K, eV)\n")
        if sim.state.step == 0:
            self._log(sim)

    def on_step(self, sim: Simulation) -> None:
        if sim.state.step % self.every == 0:
            self._log(sim)

    def _log(self, sim: Simulation) -> None:
        obs = sim.observables()
        row = {"step": float(sim.state.step), "time_fs": sim.time_fs}
        row.update({k: float(obs[k].mean()) for k in LOG_COLUMNS[2:]})
        self.history.append(row)
        line = f"{sim.state.step:d} {sim.time_fs:.3f} " + " ".join(f"{row[k]:.10g}" for k in LOG_COLUMNS[2:])
        LOGGER.debug(line)
        if self._file is not None:
            self._file.write(line + "\n")

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def on_end(self, sim: Simulation) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class ProgressHook(Hook):
    """tqdm progress bar over the steps of the run; ``disable=True`` hides it."""

    def __init__(self, *, disable: bool = False, every: int = 100) -> None:
        self.disable = disable
        self.every = every
        self._bar: tqdm | None = None

    def on_start(self, sim: Simulation) -> None:
        self._bar = tqdm(
            total=sim.config.n_steps, initial=sim.state.step, disable=self.disable, unit="step", desc="md"
        )

    def on_step(self, sim: Simulation) -> None:
        assert self._bar is not None
        self._bar.update(1)
        if not self.disable and sim.state.step % self.every == 0:
            obs = sim.observables()
            self._bar.set_postfix(
                T=f"{float(obs['temperature_k'].mean()):.1f}K",
                E=f"{float(obs['conserved'].mean()):.6g}eV",
            )

    def on_end(self, sim: Simulation) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
