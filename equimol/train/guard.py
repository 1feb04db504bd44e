"""Loss-spike guard: skip the optimiser step of an outlier batch (``training.skip_loss_spikes``).

Not part of any paper's recipe (they step on every batch; So3krates clips gradients). It is a
safety net: a single outlier batch (a rare geometry, a bad label) takes no step, and a run whose
weights have diverged stops with one line instead of writing NaN weights. It does not make an
unstable learning rate stable. The non-local So3krates on cumulenes at lr 1e-3 ran 34 finite
epochs, then one batch's force loss jumped from 0.04 to 45 eV²/Å²; skipping it did not help,
since the weights before it were already on the edge and the next 50 batches were spikes too.
There, lr 3·10⁻⁴ was the fix (docs/equations.md, "Training guard").

Rule (:func:`is_outlier`): after ``warmup`` accepted batches, a batch is skipped when its loss
exceeds ``factor`` times the running mean (an exponential moving average, weight ``1 - decay``
per batch) of the accepted batches' losses, or when its loss or gradient norm is not finite.
``max_consecutive`` skips in a row mean the run is lost, not an outlier:
:class:`~equimol.errors.TrainingDivergedError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from equimol.errors import TrainingDivergedError


def is_outlier(
    loss: float, grad_norm: float, mean: float | None, accepted: int, factor: float, warmup: int
) -> bool:
    """Skip this batch? Non-finite loss or gradients, or (after ``warmup`` accepted batches) a
    loss above ``factor`` × the running ``mean``."""
    if not (math.isfinite(loss) and math.isfinite(grad_norm)):
        return True
    return mean is not None and accepted >= warmup and loss > factor * mean


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


@dataclass
class SpikeGuard:
    factor: float
    decay: float = 0.98
    warmup: int = 20
    max_consecutive: int = 50
    mean: float | None = None
    accepted: int = 0
    consecutive: int = 0
    skipped_this_epoch: list[tuple[int, float]] = field(default_factory=list)
    # what the loss is (weights, kind): a saved running mean of another loss is not restored
    loss_signature: str = ""

    def accept(self, loss: float, grad_norm: float, step: int, epoch: int) -> bool:
        """True: take the optimiser step for this batch (and count its loss in the mean)."""
        if not is_outlier(loss, grad_norm, self.mean, self.accepted, self.factor, self.warmup):
            self.mean = loss if self.mean is None else self.decay * self.mean + (1 - self.decay) * loss
            self.accepted += 1
            self.consecutive = 0
            return True
        self.consecutive += 1
        self.skipped_this_epoch.append((step, loss))
        if self.consecutive >= self.max_consecutive:
            raise TrainingDivergedError(
                f"{self.consecutive} batches in a row skipped as loss spikes at epoch {epoch + 1} "
                f"(step {step}, loss {loss:.4g}, running mean {_fmt(self.mean)}): the weights have "
                "diverged; resume (--resume, from last.pt) with a smaller training.lr"
            )
        return False

    def epoch_summary(self) -> str | None:
        """One line on this epoch's skipped batches (None if there were none); resets the list."""
        skipped, self.skipped_this_epoch = self.skipped_this_epoch, []
        if not skipped:
            return None
        worst = max(skipped, key=lambda s: s[1] if math.isfinite(s[1]) else math.inf)
        return (
            f"skipped {len(skipped)} batch(es) as loss spikes (> {self.factor:g}× the running mean "
            f"{_fmt(self.mean)}; largest {worst[1]:.4g} at step {worst[0]})"
        )

    def state_dict(self) -> dict:
        return {
            "mean": self.mean,
            "accepted": self.accepted,
            "consecutive": self.consecutive,
            "loss_signature": self.loss_signature,
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("loss_signature", "") != self.loss_signature:
            return  # the loss changed on resume (weights or kind): start a new running mean
        self.mean, self.accepted = state.get("mean"), int(state.get("accepted", 0))
        self.consecutive = int(state.get("consecutive", 0))
