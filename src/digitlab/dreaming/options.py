"""How equation (3) is iterated: :class:`DreamOptions`, validated like a training config.

Every aid to plain equation (3) (see :mod:`digitlab.dreaming.core`) is an option here and can be
switched off; :meth:`DreamOptions.plain` switches them all off, :meth:`DreamOptions.ascent` keeps
only the normalised step and the clipping (the dreams by which robust networks are judged),
:meth:`DreamOptions.turn` gives the defaults for "turn A into B".
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from digitlab.checks import check_bool, check_choice, check_integer, check_number
from digitlab.errors import ConfigError

STEP_SCHEDULES = ("constant", "cosine")
START_KINDS = ("black", "noise")
#: the L2 length of one step of :meth:`DreamOptions.ascent`
ASCENT_L2_STEP = 1.0


# ---------------------------------------------------------------------------------- options
@dataclass
class DreamOptions:
    """How equation (3) is iterated. Every aid can be switched off; ``plain()`` is bare (3)."""

    steps: int = 400  # budget: at most this many steps of equation (3)
    lr: float = 0.05  # η; with `normalize`, the RMS pixel change of one step
    schedule: str = "cosine"  # η over the budget: "constant" or "cosine" (η → η/10 at the end)
    normalize: bool = True  # scale each step to an RMS pixel change of η (off: y⁰ −= η ∂J/∂y⁰)
    clip: bool = True  # keep pixels in [0, 1] after every step
    l2: float = 0.002  # λ of λ/2 ‖y⁰ − a‖²: decay towards black (towards the start in turn_into)
    tv: float = 0.003  # w of w·TV(y⁰), the total variation of the 28×28 image
    blur_every: int = 25  # blur the image every this many steps (0 = never)
    blur_sigma: float = 0.5  # standard deviation of that Gaussian blur, in pixels
    jitter: int = 2  # shift by up to ± this many pixels before each gradient (0 = off)
    stop_probability: float | None = 0.99  # stop once the target probability reaches this
    stop_loss: float | None = 0.01  # ... or once E (the network's loss alone) falls to this
    min_steps: int = 250  # take at least this many steps before stopping (let the picture form)
    persist_after: int | None = 300  # then drop l2, tv, blur, jitter for images not yet there
    full_contrast: bool = True  # end at full contrast where the network stays as sure (below)
    float64: bool = True  # dream with a float64 copy of the network (see the module docstring)
    seed: int = 0  # fixes the jitter and the noise start

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid option and its value (with the
        validators of :mod:`digitlab.config`)."""
        what = "dream option "
        check_integer("steps", self.steps, low=1, what=what)
        for name in ("blur_every", "jitter", "min_steps", "seed"):
            check_integer(name, getattr(self, name), low=0, what=what)
        if self.persist_after is not None:
            check_integer("persist_after", self.persist_after, low=0, what=what)
        check_number("lr", self.lr, low=0.0, low_inclusive=False, what=what)
        for name in ("l2", "tv", "blur_sigma"):
            check_number(name, getattr(self, name), low=0.0, what=what)
        if self.blur_every and self.blur_sigma == 0:
            raise ConfigError("dream option blur_sigma must be > 0 when blur_every is set")
        check_choice("schedule", self.schedule, STEP_SCHEDULES, what=what)
        for name in ("normalize", "clip", "full_contrast", "float64"):
            check_bool(name, getattr(self, name), what=what)
        if self.stop_probability is not None:
            check_number("stop_probability", self.stop_probability, low=0.0, low_inclusive=False,
                         high=1.0, high_inclusive=True, what=what)
        if self.stop_loss is not None:
            check_number("stop_loss", self.stop_loss, low=0.0, what=what)

    @classmethod
    def plain(cls, steps: int = 1000, lr: float = 0.1, **changes: Any) -> DreamOptions:
        """Plain equation (3): y⁰ ← y⁰ − η ∂E/∂y⁰ with a constant η, no aids, no early stop."""
        base = dict(steps=steps, lr=lr, schedule="constant", normalize=False, clip=False, l2=0.0,
                    tv=0.0, blur_every=0, jitter=0, stop_probability=None, stop_loss=None,
                    min_steps=0, persist_after=None, full_contrast=False)
        return cls(**{**base, **changes})

    @classmethod
    def ascent(cls, steps: int = 200, lr: float = ASCENT_L2_STEP / 28.0,
               **changes: Any) -> DreamOptions:
        """Normalised gradient ascent on log p: the dreams by which robust networks are judged.

        Each of ``steps`` steps moves the image by a constant length along ∂ log p/∂y⁰ (for a
        softmax network E = −log p, so this is equation (3) with a normalised step), pixels
        clipped to [0, 1], no priors, no early stop. ``lr`` is the RMS pixel change of a step,
        the L2 length divided by √784 = 28: the default is an L2 step of
        :data:`ASCENT_L2_STEP`. An adversarially trained network's dreams this way are plainly
        its digits, a plain network's are speckle.
        """
        base = dict(steps=steps, lr=lr, schedule="constant", normalize=True, clip=True, l2=0.0,
                    tv=0.0, blur_every=0, jitter=0, stop_probability=None, stop_loss=None,
                    min_steps=0, persist_after=None, full_contrast=False)
        return cls(**{**base, **changes})

    @classmethod
    def turn(cls, **changes: Any) -> DreamOptions:
        """Defaults for :func:`turn_into`: the smallest change, so no blur, jitter or TV.

        ``l2`` is then the pull towards the start image; the run stops as soon as the network
        reads the target digit with probability 0.99 (or E falls to 0.01). Where the pull holds
        the image short of that (a saturated tanh network, say), it is dropped after
        ``persist_after`` steps.
        """
        base = dict(steps=500, lr=0.01, schedule="constant", l2=0.05, tv=0.0, blur_every=0,
                    jitter=0, stop_probability=0.99, min_steps=0, persist_after=200,
                    full_contrast=False)
        return cls(**{**base, **changes})

    def replace(self, **changes: Any) -> DreamOptions:
        """A validated copy with some options changed."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown dream option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def has_priors(self) -> bool:
        """Whether any of the image priors (l2, tv, blur, jitter) is on."""
        return bool(self.l2 or self.tv or self.blur_every or self.jitter)

    def without_priors(self) -> DreamOptions:
        """The same run with l2, tv, blur and jitter off: equation (3) alone (still normalised)."""
        return self.replace(l2=0.0, tv=0.0, blur_every=0, jitter=0)

    def step_size(self, step: int) -> float:
        """η for ``step`` (0-based): constant, or a cosine from η down to η/10 over the budget."""
        if self.schedule == "constant" or self.steps == 1:
            return self.lr
        progress = step / (self.steps - 1)
        return self.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))
