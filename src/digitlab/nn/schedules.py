"""Learning-rate schedules η(epoch): constant, step decay, cosine annealing, warm-up, one-cycle.

``epoch`` is fractional (2.5 = half-way through the third epoch), so a schedule is applied per
batch: the training loop asks for η before every update.
"""

from __future__ import annotations

import math

from digitlab.errors import ConfigError

SCHEDULES = ("constant", "step", "cosine", "warmup", "onecycle")

#: where a warm-up starts, as a share of the peak η₀ (as PyTorch's OneCycleLR: η₀ / 25)
WARMUP_START = 1.0 / 25.0


def learning_rate(
    schedule: str, base_lr: float, epoch: float, total_epochs: int, *,
    step_size: int = 5, gamma: float = 0.1, min_lr: float = 0.0, warmup_epochs: float = 0.0,
) -> float:
    """η at a given (fractional) epoch.

    - ``constant``: η₀.
    - ``step``: η₀ γ^⌊epoch / step_size⌋.
    - ``cosine``: min + ½ (η₀ − min)(1 + cos(π epoch / total_epochs)).
    - ``warmup``: linear from η₀/25 to η₀ over ``warmup_epochs``, then η₀.
    - ``onecycle``: the same linear warm-up, then cosine decay from η₀ to ``min_lr`` over the
      remaining epochs: min + ½ (η₀ − min)(1 + cos(π (epoch − w) / (total − w))).

    ``warmup_epochs`` of 0 means: 1 epoch for ``warmup``, 30 % of the epochs for ``onecycle``.
    """
    if schedule == "constant":
        return base_lr
    if schedule == "step":
        return base_lr * gamma ** math.floor(epoch / step_size)
    if schedule == "cosine":
        return _cosine(base_lr, min_lr, epoch / max(total_epochs, 1))
    if schedule in ("warmup", "onecycle"):
        warmup = warmup_epochs or (1.0 if schedule == "warmup" else 0.3 * total_epochs)
        warmup = min(warmup, total_epochs)
        if epoch < warmup:
            return base_lr * (WARMUP_START + (1.0 - WARMUP_START) * epoch / warmup)
        if schedule == "warmup":
            return base_lr
        return _cosine(base_lr, min_lr, (epoch - warmup) / max(total_epochs - warmup, 1e-12))
    raise ConfigError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")


def _cosine(base_lr: float, min_lr: float, progress: float) -> float:
    """min + ½ (η₀ − min)(1 + cos(π p)) for progress p, clamped to [0, 1]."""
    progress = min(max(progress, 0.0), 1.0)
    return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + math.cos(math.pi * progress))
