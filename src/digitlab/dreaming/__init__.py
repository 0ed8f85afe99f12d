"""Deep dream (equation (3)): what a trained network sees as each digit, and "turn A into B".

- :mod:`digitlab.dreaming.core`: :func:`equation_3_step` (one step of (3)), :func:`dream`,
  :func:`dream_all`, :func:`turn_into`, the objective J = E + λ/2‖y⁰ − a‖² + w TV(y⁰) and its
  gradient.
- :mod:`digitlab.dreaming.options`: :class:`DreamOptions` and their validation.
- :mod:`digitlab.dreaming.results`: :class:`DreamResult`, :class:`TurnResult`;
  :class:`DreamStudyResult` (the typed form of ``dream.json``).
- :mod:`digitlab.dreaming.priors`: total variation, Gaussian blur, jitter shifts, the data's
  support, class means.
- :mod:`digitlab.dreaming.study`: a folder of figures and ``dream.json`` (``digitlab dream``).
"""

from digitlab.dreaming.core import (
    dream,
    dream_all,
    dream_loss,
    equation_3_step,
    objective,
    start_images,
    turn_into,
)
from digitlab.dreaming.options import DreamOptions
from digitlab.dreaming.priors import (
    class_means,
    data_support,
    gaussian_blur,
    gaussian_kernel,
    shift_images,
    total_variation,
    total_variation_gradient,
)
from digitlab.dreaming.results import ADVERSARIAL_NOTE, DreamResult, TurnResult
from digitlab.dreaming.study import dream_study, pick_test_image

__all__ = [
    "ADVERSARIAL_NOTE", "DreamOptions", "DreamResult", "TurnResult", "class_means",
    "data_support", "dream", "dream_all", "dream_loss", "dream_study", "equation_3_step",
    "gaussian_blur", "gaussian_kernel", "objective", "pick_test_image", "shift_images",
    "start_images", "total_variation", "total_variation_gradient", "turn_into",
]
