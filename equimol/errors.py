"""Exceptions with messages meant for users (the CLI prints them as one line)."""

from __future__ import annotations


class EquimolError(Exception):
    """Base class: a problem the user can fix (bad input, bad config, missing file)."""


class DataError(EquimolError, ValueError):
    """Malformed, unphysical or incomplete structure data.

    The message names the source (file and structure index) and the problem.
    """

    def __init__(self, problem: str, source: str | None = None, index: int | None = None):
        where = source or "<data>"
        if index is not None:
            where = f"{where}[{index}]"
        super().__init__(f"{where}: {problem}")
        self.source, self.index, self.problem = source, index, problem


class ConfigError(EquimolError, ValueError):
    """Invalid configuration value or unknown option."""


class DataWarning(UserWarning):
    """Data that can be read but look wrong (e.g. positions in another length unit).

    The CLI prints these as one line (``equimol CMD: warning: …``)."""


class ExtrapolationError(EquimolError, RuntimeError):
    """A committee's members disagree beyond the user's threshold (the model left its training
    domain) and the user asked to stop there (``equimol md --stop-on-disagreement``)."""


class ExtrapolationWarning(UserWarning):
    """A committee's members disagree beyond the threshold; the run goes on (one line in the CLI)."""


class TrainingDivergedError(EquimolError, RuntimeError):
    """The training loss became NaN or infinite; the run stopped before the optimiser step, so
    its checkpoints (``last.pt``, ``best.pt``) keep the last finite weights."""
