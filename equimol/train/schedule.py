"""Learning-rate schedules and early stopping, with plain-number state for exact resume."""

from __future__ import annotations

import math


class PlateauSchedule:
    """Halve the learning rate when the exponentially smoothed validation loss plateaus.

    PaiNN/SchNet protocol: L̃_t = s·L̃_{t−1} + (1−s)·L_t (s = 0.9); if L̃ has not improved for
    ``patience`` epochs, lr ← factor·lr. Training stops when lr < ``min_lr`` or when the raw
    validation loss has not improved for ``stop_patience`` epochs (early stopping).
    """

    # what training has changed; the rest (factor, patience, min_lr, …) comes from the config, so
    # that ``--resume --set training.lr_patience=…`` takes effect
    PROGRESS = ("lr", "smoothed", "best_smoothed", "bad_epochs", "best_raw", "epochs_since_best")

    def __init__(
        self,
        lr: float,
        factor: float = 0.5,
        patience: int = 25,
        smoothing: float = 0.9,
        min_lr: float = 1e-6,
        stop_patience: int = 200,
    ):
        self.lr, self.factor, self.patience, self.smoothing = lr, factor, patience, smoothing
        self.min_lr, self.stop_patience = min_lr, stop_patience
        self.smoothed: float | None = None
        self.best_smoothed = math.inf
        self.bad_epochs = 0
        self.best_raw = math.inf
        self.epochs_since_best = 0

    def step(self, val_loss: float) -> bool:
        """Record one epoch's validation loss; return True if ``val_loss`` is the best so far."""
        s = self.smoothing
        self.smoothed = val_loss if self.smoothed is None else s * self.smoothed + (1 - s) * val_loss
        if self.smoothed < self.best_smoothed:
            self.best_smoothed, self.bad_epochs = self.smoothed, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                self.lr *= self.factor
                self.bad_epochs = 0
        improved = val_loss < self.best_raw
        if improved:
            self.best_raw, self.epochs_since_best = val_loss, 0
        else:
            self.epochs_since_best += 1
        return improved

    def should_stop(self) -> str | None:
        if self.lr < self.min_lr:
            return f"learning rate {self.lr:.2e} fell below {self.min_lr:.2e}"
        if self.epochs_since_best >= self.stop_patience:
            return f"no improvement of the validation loss for {self.epochs_since_best} epochs"
        return None

    def lr_at_step(self, step: int) -> float:
        return self.lr

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}

    @classmethod
    def from_state(cls, state: dict) -> PlateauSchedule:
        """The saved schedule as it was, settings included (to read a finished run's status)."""
        schedule = cls(state.get("lr", 1.0))
        schedule.__dict__.update(state)
        return schedule

    def load_state_dict(self, state: dict, lr_scale: float = 1.0) -> None:
        """Restore the progress of a saved run. ``lr_scale``: the ratio of a new ``training.lr``
        to the saved run's, applied to the learning rate reached so far."""
        for k in self.PROGRESS:
            if k in state:
                setattr(self, k, state[k])
        self.lr *= lr_scale


class ExponentialSchedule(PlateauSchedule):
    """lr(step) = lr0 · factor^(step / decay_steps), with early stopping.

    So3krates App. A.13: the learning rate is halved every 1000 epochs (factor 0.5,
    decay_steps = 1000 · steps per epoch); other factors are options. lr0 is the config's
    ``training.lr`` also on resume (a new one rescales the whole schedule)."""

    def __init__(self, lr: float, decay_steps: int, decay_factor: float = 0.5, **kw):
        super().__init__(lr, **kw)
        self.lr0, self.decay_steps, self.decay_factor = lr, decay_steps, decay_factor

    def step(self, val_loss: float) -> bool:
        lr = self.lr
        improved = super().step(val_loss)
        self.lr = lr  # no plateau decay
        return improved

    def lr_at_step(self, step: int) -> float:
        self.lr = self.lr0 * self.decay_factor ** (step / self.decay_steps)
        return self.lr
