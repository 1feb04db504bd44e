"""Loss-spike guard: skip the optimiser step of an outlier batch (``training.skip_loss_spikes``).

Not part of any paper's recipe (they step on every batch; So3krates clips gradients). Measured
reason (docs/equations.md, "Training guard"): the non-local So3krates on cumulenes trained at the
paper's settings ran 34 finite epochs, then one batch's force loss jumped from 0.04 to 45 eV²/Å²
(one molecule's predicted forces reached 55 eV/Å, exact derivatives of a steep model energy:
the SPHCs grew 40× over the last two layers through the non-local update). The clipped Adam steps
that followed fed the growth, and 24 steps later the gradients were NaN. Skipping such a batch
leaves the weights where every other batch put them.

Rule: after ``warmup`` accepted batches, a batch is skipped when its loss exceeds ``factor`` times
the running mean (an exponential moving average, weight ``1 - decay`` per batch) of the accepted
batches' losses, or when its gradient norm is not finite. ``max_consecutive`` skips in a row mean
the run is lost, not an outlier: :class:`~equimol.errors.TrainingDivergedError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from equimol.errors import TrainingDivergedError


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

    def accept(self, loss: float, grad_norm: float, step: int, epoch: int) -> bool:
        """True: take the optimiser step for this batch (and count its loss in the mean)."""
        finite = math.isfinite(loss) and math.isfinite(grad_norm)
        spike = self.mean is not None and self.accepted >= self.warmup and loss > self.factor * self.mean
        if finite and not spike:
            self.mean = loss if self.mean is None else self.decay * self.mean + (1 - self.decay) * loss
            self.accepted += 1
            self.consecutive = 0
            return True
        self.consecutive += 1
        self.skipped_this_epoch.append((step, loss))
        if self.consecutive >= self.max_consecutive:
            raise TrainingDivergedError(
                f"{self.consecutive} batches in a row skipped as loss spikes at epoch {epoch + 1} (step {step}, "
                f"loss {loss:.4g}, running mean {self.mean:.4g}): the weights have diverged; resume from "
                "best.pt's state with a smaller training.lr"
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
            f"{self.mean:.4g}; largest {worst[1]:.4g} at step {worst[0]})"
        )

    def state_dict(self) -> dict:
        return {"mean": self.mean, "accepted": self.accepted}

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.accepted = state.get("mean"), int(state.get("accepted", 0))
