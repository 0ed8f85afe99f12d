"""Learning-rate schedules η(epoch): constant, step decay and cosine annealing.

``epoch`` is fractional (2.5 = half-way through the third epoch), so a schedule can be applied
per batch.
"""

from __future__ import annotations

import math

from digitlab.errors import ConfigError

SCHEDULES = ("constant", "step", "cosine")


def learning_rate(
    schedule: str, base_lr: float, epoch: float, total_epochs: int, *,
    step_size: int = 5, gamma: float = 0.1, min_lr: float = 0.0,
) -> float:
    """η at a given (fractional) epoch.

    - ``constant``: η₀.
    - ``step``: η₀ γ^⌊epoch / step_size⌋.
    - ``cosine``: min + ½ (η₀ − min)(1 + cos(π epoch / total_epochs)).
    """
    if schedule == "constant":
        return base_lr
    if schedule == "step":
        return base_lr * gamma ** math.floor(epoch / step_size)
    if schedule == "cosine":
        progress = min(epoch / max(total_epochs, 1), 1.0)
        return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))
    raise ConfigError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
