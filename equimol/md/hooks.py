"""Hooks called by :class:`~equimol.md.simulate.Simulation` around every step.

A hook subclasses :class:`Hook` and overrides any of ``on_start`` (after set-up, before the
first step; ``sim.state.step`` may be > 0 after a restart), ``on_step`` (after each step),
``on_end`` (after the last step, also when the run fails) and ``flush`` (called before a
checkpoint is written, so files on disk match the checkpoint).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tqdm.auto import tqdm

from equimol.errors import ExtrapolationError, ExtrapolationWarning

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


class DisagreementHook(Hook):
    """Watches the committee's force disagreement (``force_disagreement``, eV/Å, the largest
    per-atom standard deviation of the forces over the members) after every step.

    Keeps its maximum over the run (``max``, ``max_step``) and the number of steps above
    ``threshold``; the first step above it logs a warning (``equimol.md`` logger and
    :class:`equimol.errors.ExtrapolationWarning`), and with ``stop=True`` raises
    :class:`equimol.errors.ExtrapolationError` instead, after which the trajectory and log
    written so far stay on disk (hooks are closed as after any failure).
    """

    def __init__(self, threshold: float | None, *, stop: bool = False) -> None:
        if threshold is not None and not threshold > 0:
            raise ValueError(f"force-disagreement threshold must be > 0 eV/Å, got {threshold}")
        if stop and threshold is None:
            raise ValueError("stopping on force disagreement needs a threshold (eV/Å)")
        self.threshold, self.stop = threshold, stop
        self.max = 0.0
        self.max_step = 0
        self.steps_above = 0
        self.active = False

    def on_start(self, sim: Simulation) -> None:
        self.active = "force_disagreement" in sim.state.properties
        if self.threshold is not None and not self.active:
            raise ValueError(
                "a force-disagreement threshold needs a committee potential (several checkpoints: "
                "a committee.json or a folder holding one)"
            )
        if self.active:
            self._check(sim)

    def on_step(self, sim: Simulation) -> None:
        if self.active:
            self._check(sim)

    def _check(self, sim: Simulation) -> None:
        value = float(sim.state.properties["force_disagreement"].max())
        step = sim.state.step
        if value > self.max:
            self.max, self.max_step = value, step
        if self.threshold is None or value <= self.threshold:
            return
        self.steps_above += 1
        msg = (
            f"committee force disagreement {value:.3f} eV/Å exceeds {self.threshold:g} eV/Å at step "
            f"{step} ({sim.time_fs:.1f} fs): the model is extrapolating"
        )
        if self.stop:
            raise ExtrapolationError(msg + "; stopped (the trajectory up to here is kept)")
        if self.steps_above == 1:
            LOGGER.warning(msg)
            warnings.warn(msg + " (warned once per run)", ExtrapolationWarning, stacklevel=2)

    def summary(self) -> dict[str, float | int]:
        return {
            "max_force_disagreement": round(self.max, 6),
            "max_force_disagreement_step": self.max_step,
            "steps_above_threshold": self.steps_above,
        }


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
