"""How much work each report mode does.

- ``quick`` (``--quick``): tiny settings for a smoke test or a first look, well under a minute.
- ``default``: the whole study on the embedded sample within about ten minutes on two cores:
  every network at its real size, a quick grid of hyperparameter studies, the ablation "beyond
  the assignment" shortened to 2 seeds × 10 epochs per variant, and the four networks of
  "does it know what it doesn't know?" at 784-512-512-10 for 8 epochs.
- ``full`` (``--full``): the lab report's scale — the full study grids, more retrainings, the
  ablation at the `best` preset's length (3 seeds × 40 epochs), and the four networks of
  "does it know what it doesn't know?" at the `robust` preset's size and length.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ReportSettings:
    mode: str
    # the assignment network (784-784-10 tanh, per-sample SGD)
    assignment_epochs: int = 10
    assignment_samples: int = 0  # 0 = the whole training split
    # the hyperparameter studies: built-in quick grid, full grid, or a tiny custom grid
    studies: str = "quick"  # "tiny", "quick" or "full"
    study_seeds: int = 3
    # the final network (the `report` preset)
    final_hidden: list[int] = field(default_factory=lambda: [1024, 1024])
    final_epochs: int = 10
    final_samples: int = 0
    # beyond the assignment: the ablation from the lab recipe to the `best` preset
    beyond_epochs: int = 10
    beyond_seeds: int = 2
    beyond_samples: int = 0  # 0 = the whole training split
    beyond_hidden: list[int] = field(default_factory=lambda: [1024, 1024])
    # analysis
    retrain: int = 5
    retrain_epochs: int = 0  # 0 = as many as the final network
    nondigit_count: int = 500
    # deep dream
    dream_steps: int = 0  # 0 = DreamOptions' default budget
    # does it know what it doesn't know: plain, robust, calibrated and honest networks
    honesty_hidden: list[int] = field(default_factory=lambda: [512, 512])
    honesty_epochs: int = 8
    honesty_samples: int = 0  # 0 = the whole training split
    honesty_attack_steps: int = 7
    honesty_dream_steps: int = 0  # 0 = DreamOptions' default budget

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


MODES = {
    "quick": ReportSettings(
        mode="quick", assignment_epochs=1, assignment_samples=1000, studies="tiny",
        study_seeds=1, final_hidden=[64, 64], final_epochs=2, final_samples=2000, retrain=2,
        retrain_epochs=1, nondigit_count=100, dream_steps=300, beyond_epochs=1,
        beyond_samples=1000, beyond_hidden=[64, 64], honesty_hidden=[32], honesty_epochs=1,
        honesty_samples=1000, honesty_attack_steps=2, honesty_dream_steps=40,
    ),
    "default": ReportSettings(mode="default"),
    "full": ReportSettings(mode="full", studies="full", study_seeds=3, retrain=5,
                           nondigit_count=1000, beyond_epochs=40, beyond_seeds=3,
                           honesty_hidden=[1024, 1024], honesty_epochs=20),
}
