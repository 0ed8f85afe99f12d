"""What robustness and honesty cost and buy: the ``best``, ``robust`` and ``honest`` presets side by
side on the embedded sample, with the targets of "Networks that know what they don't know".

For every recipe and seed (each seed holds out its own tenth of the sample as the test digits)
one network is trained and measured:

- test accuracy, and training seconds (the epochs' own time); the ratio to ``best``'s is taken
  of each run's fastest epoch times its epochs, which a busy shared machine disturbs far less
  than the sum (the load average is printed and saved);
- ECE (15 bins) of the probabilities the model shows (``result.model.probabilities``: calibrated
  where the recipe calibrates) on the held-out digits;
- median top probability on every non-digit kind never trained on (``KIND_RELATION``'s "unseen"
  kinds, letters included) and on Fashion-MNIST's test images, and the share of each answered
  "not a digit" where the recipe fits a threshold (by the model's two tests, and, for
  comparison, by the top probability alone at the threshold that passes 95 % of the
  calibration digits by itself);
- AUROC of the held-out digits against Fashion-MNIST's test images, the top probability as the
  score;
- letter by letter (A–Z in the regular font): how many the network reads as a digit at least
  90 % sure, and how many it is less than 50 % sure of (each letter's top probability is saved
  in the JSON), the view that tells a letter shaped like a digit (O, I, S, Z …) from the rest;
- the two dream judges (:func:`digitlab.dreaming.judges.judge_dreams`, against the held-out
  digits) on the dreams of 0–9 from a black image: normalised ascent on log p for 200 steps,
  pixels clipped to [0, 1], no priors (:meth:`DreamOptions.ascent`, the procedure the targets
  were set with), and, for comparison, ``digitlab dream``'s default dreams (blur, jitter, total
  variation, decay to black, pixels lit in a tenth of the training digits only). The priors
  make even a plain network's dreams smooth blobs the cosine judge likes, so the targets are
  checked on the ascent dreams.

Each figure is the mean over the seeds ± the standard deviation (± 0 with one seed); the table
puts the issue's target beside it. Fashion-MNIST is skipped when it is not installed
(``apt-get install dataset-fashion-mnist``).

    python benchmarks/bench_honest.py [--seeds 3] [--epochs-scale 1] [--hidden 1024,1024]
        [--max-train-samples 0] [--out honest.json]
    python benchmarks/bench_honest.py --quick     # hidden 64, 2 epochs, 2000 digits, 1 seed

Every network whose answers are flattened also answers again at each ``flatten_below`` of
``--flatten-grid`` (default 0, 0.01, 0.02, 0.03, 0.05, 0.1: the same network, temperature and
hidden-layer test, :func:`digitlab.studies.honesty.flattening_tradeoff`, as in the report), and
a second table shows what each share of flattened answers costs in ECE and buys on the unseen
kinds. The ``honest`` preset, seeds 0–5 (``--recipes honest --seeds 6``): ECE 1.31 ± 0.40 % at
0, 1.56 at 0.01, 1.92 at 0.02, 2.24 ± 0.40 at 0.03 (the preset's), 2.55 at 0.05, 3.46 at 0.1;
median top probability on drawn letters 0.76, 0.61, 0.55, 0.49, 0.41, 0.26, on digits rotated
180° 0.88, 0.61, 0.49, 0.38, 0.27, 0.18: no share meets both ECE ≤ 2 % and ≤ 0.5 on every
unseen kind.

Measured on a shared 2-core machine (load average 4–5) with ``--hidden 256,256 --epochs-scale
0.4`` (best 16 epochs, robust and honest 8), seeds 0–2: accuracy best 96.80 ± 0.76 %, robust
94.83 ± 0.92 %, honest 94.66 ± 0.75 %; ECE 1.1 %, 10.5 %, 2.5 %; AUROC digits vs Fashion-MNIST
test 0.892, 0.867, 0.996; worst unseen kind's median top probability 0.95, 0.76, 0.90 (letters
and digits rotated 180° stay confident; all white, checkerboards and inverted digits fall to
0.12–0.13 with honest); ascent dreams readable 7.7, 9.7, 9.3 of 10 with median cosine 0.48,
0.69, 0.68. The kNN judge reads much of a plain network's speckle as the right digit (a
784-512-512-10 ``best`` network, 8 epochs: all ten "readable", median cosine 0.46): the median
cosine is the figure that tells the speckle from the digits. The time ratio is not to be
trusted under such a load. The presets' own 1024-1024 networks with ``--epochs-scale 0.25
--seeds 1`` (best 10 epochs, robust and honest 5): accuracy 97.50, 96.70, 96.10 %; ECE 1.4,
8.9, 1.9 %; AUROC 0.895, 0.911, 0.999; ascent dreams 8, 8, 9 of 10 readable, median cosine
0.44, 0.63, 0.66; default dreams 2, 10, 10 of 10 (median cosine 0.80, 0.85, 0.87).

The presets at their own size, seeds 0–2 (``--recipes best,honest --seeds 3``, load average
1–5), with "not a digit" decided by the two tests of :mod:`digitlab.calibration`: ``best``
98.37 ± 0.32 %; ``honest`` as it was (20 epochs, a tenth held out) 97.43 ± 0.57 % (0.93 points
below), 2.22× ``best``'s time, ECE 1.00 %, AUROC against Fashion-MNIST 1.000, letters answered
"not a digit" 71.8 % (median top probability 0.93), digits rotated 180° 64.8 %, ascent dreams
9.3 of 10 readable, median cosine 0.64; with ``--set attack_mix=0.25`` 97.56 ± 0.51 % and
dreams 8.7 of 10; the ``honest`` preset now (``--epochs 26 --set calibration_fraction=0.05``
then) 97.83 ± 0.91 % (0.54 points below), 2.68×, ECE 1.21 %, letters 68.9 % "not a digit",
dreams 8.7 of 10, median cosine 0.64.

With the answers flattened where the first hidden layer sees no digit (:mod:`digitlab.
calibration`, q = 0.05 then 0.03), the same preset and seeds: q = 0.05 — ECE 2.23 ± 0.78 %,
median top probability on letters 0.24, digits rotated 180° 0.38, rotated 90° 0.12; q = 0.03 —
ECE 1.84 ± 0.56 %, letters 0.37, rotated 180° 0.50, every other unseen kind ≤ 0.13, AUROC 1.000.
q = 0.03 was chosen on those seeds; on seeds 3–5 (``--first-seed 3``), which played no part in
the choice: accuracy 97.96 ± 0.65 % (``best`` 98.40 ± 0.46 % on them: 0.44 points below),
ECE 1.68 ± 0.14 %, letters 0.31, rotated 180° 0.42 (the worst unseen kind), ascent dreams 8.3 of
10 readable, median cosine 0.62.

Letters drawn in pen strokes (``drawn_letters``, what a person draws in the lab) were then added
to the unseen kinds: that ``honest`` network (seed 0) answered them with a median top
probability of 0.92 (font letters 0.28). With outlier exposure's new ``strokes`` kind (glyphs of
random pen strokes drawn and read alike, half of the pool) the preset at 26 epochs, seeds 0–2:
``best`` 98.30 ± 0.30 %, ``honest`` 97.80 ± 0.53 % (0.50 points below), 2.38×, ECE 1.71 %,
font letters 0.29, drawn letters 0.70 (the worst unseen kind; 51.8 % answered "not a digit"),
rotated 180° 0.47, AUROC 1.000, ascent dreams 9.0 of 10 readable with median cosine 0.67 (the
pen strokes sharpen them: 0.64 before), default dreams 10 of 10 (0.88; ``best``'s: 0.7 of 10,
0.74). At 32 epochs (``--recipes honest --epochs 32``, the preset since): 97.90 ± 0.61 % (0.40
below), 2.9× (against that run's ``best``), ECE 1.59 %, font letters 0.32, drawn letters 0.73,
rotated 180° 0.49, ascent dreams 9.7 of 10 readable, median cosine 0.66. On seeds 3–5
(``--recipes best,honest --first-seed 3``), which played no part in these choices: ``best``
98.30 ± 0.10 %, ``honest`` 98.00 ± 0.26 % (0.30 below), 2.85×, ECE 1.88 %, font letters 0.26,
drawn letters 0.69 (58.8 % "not a digit"), rotated 180° 0.40, AUROC 0.999, ascent dreams 8.3 of
10 readable with median cosine 0.64, default dreams 9.3 of 10 (0.89; ``best``'s 0.7, 0.75).

Outlier mining and grid glyphs (the preset since), seeds 0–2: with both at 32 epochs and 7
attack steps (``--recipes best,honest --seeds 3``): ``best`` 98.30 ± 0.30 %, ``honest`` 97.86 ±
0.42 % (0.43 below), 3.29× ``best``'s time, ECE 1.68 %, drawn letters 0.48 (0.73 before; 62.7 %
"not a digit"), font letters 0.19, rotated 180° 0.53, ascent dreams 9.3 of 10, median cosine
0.65. Scoring the pool costs about half a second an epoch, so the preset takes 6 attack steps
(``--recipes honest --seeds 3 --set attack_steps=6``, the ratio against that ``best``):
98.23 ± 0.38 % (0.07 below), 2.98×, ECE 1.97 ± 0.35 %, drawn letters 0.47, rotated 180° 0.42,
font letters 0.18, every other unseen kind ≤ 0.23, AUROC 1.000, ascent dreams 9.0 of 10
readable with median cosine 0.649, default dreams 9.7 of 10 (0.87). At 28 epochs and 7 steps
(seeds 0 and 1) the ECE rose to 2.1 % and the ascent dreams fell to 8 of 10. The preset on
seeds 3–5 (``--recipes best,honest --first-seed 3``, side by side): ``best`` 98.30 ± 0.10 %,
``honest`` 97.93 ± 0.67 % (0.37 below), 2.85×, ECE 2.50 ± 0.24 % (over the target), drawn
letters 0.51 ± 0.10, font letters 0.16, rotated 180° 0.34, AUROC 0.999, ascent dreams 8.0 of
10 readable with median cosine 0.66, default dreams 9.0 of 10 (0.88).

The relative Mahalanobis score (:mod:`digitlab.mahalanobis`) as the hidden-layer test, and
``flatten_below`` 0.025 (the preset since; training unchanged), on seeds 6–8 that played no
part in the choice (``--recipes honest --seeds 3 --first-seed 6``): accuracy 98.20 ± 0.36 %,
ECE 1.47 ± 0.39 % (1.02, 1.74, 1.64), drawn letters 0.45 ± 0.15 (0.63, 0.37, 0.36; 68 % "not
a digit"), font letters 0.19, rotated 180° 0.41, all black 0.46 (the worst unseen kind), AUROC
1.000, ascent dreams 8.0 of 10 readable with median cosine 0.66, default dreams 8.7 of 10
(0.88). Its trade-off table: ECE 1.13, 1.35, 1.47, 1.62 % and drawn letters 0.92, 0.52, 0.45,
0.41 at q = 0, 0.02, 0.025, 0.03.

``digitlab dream``'s default dreams now end at full contrast (``DreamOptions.full_contrast``):
the saved honest networks of seeds 0–8 dreamed again by it read 10 of 10 by both judges each
(90 of 90, median cosine 0.87–0.89, every dream at least 0.990 sure), where the same dreams
left faint read 82 of 90: the k-nearest-neighbour judge took faint 0s, 2s, 3s and 5s for 1s.

At the size of the report's honesty section (``--recipes honest --hidden 512,512 --epochs 8
--set attack_steps=7``, seeds 0–2): accuracy 96.30, 95.70 and 95.10 %, ECE 1.89 % and drawn
letters 0.66 at q = 0.025 (the plain score at the same q, the same networks: 1.97 %, 0.68): a
smaller network trained a quarter as long doubts letters less, whichever score flattens.

A larger attack radius, ε = 2 instead of 1.5 (``--recipes honest --set attack_epsilon=2.0``,
seeds 0–2), makes every ascent dream readable (10 of 10 on each seed, median cosine 0.69) but
reads 97.80 ± 0.44 % of the test digits (0.5 below ``best``, against 0.07 at ε = 1.5) and
leaves drawn letters at 0.54 at q = 0.025 (ECE 1.59 %; at q = 0.03: 0.49 and 1.54 %); the
preset keeps ε = 1.5.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import statistics
import time
from typing import Any

import numpy as np

from digitlab.analysis.nondigits import KINDS, load_fashion_images, make_nondigit_sets
from digitlab.analysis.ood import auroc
from digitlab.calibration import (
    N_BINS,
    calibration_split,
    digit_threshold,
    expected_calibration_error,
)
from digitlab.config import ATTACK_FIELDS, TrainConfig, parse_hidden, preset
from digitlab.data import load_run_dataset
from digitlab.data.outliers import UNSEEN_KINDS
from digitlab.dreaming import DreamOptions
from digitlab.dreaming.core import dream_all
from digitlab.dreaming.judges import TARGET_MEDIAN_COSINE, judge_dreams
from digitlab.dreaming.options import ASCENT_L2_STEP
from digitlab.dreaming.priors import data_support
from digitlab.errors import ConfigError, DataError
from digitlab.fileio import write_json
from digitlab.studies.honesty import FLATTEN_GRID, SURE, flattening_tradeoff, letter_images
from digitlab.training import train

RECIPES = ("best", "robust", "honest")
#: options of adversarial training, outlier exposure and calibration: --set leaves them out
#: of the baseline
ATTACK_OR_HONESTY_FIELDS = frozenset(ATTACK_FIELDS) | {"attack", "outlier_exposure",
                                                      "calibration_fraction"}
BASELINE = "best"
N_NONDIGITS = 1000  # images of each non-digit kind
SUPPORT_FRACTION = 0.1  # the support of ``digitlab dream``'s default dreams
QUICK = {"hidden": [64], "epochs": 2, "max_train_samples": 2000, "seeds": 1}
#: the unseen kinds its table shows (the worst of all of them is shown too)
TRADEOFF_KINDS = ("letters", "drawn_letters", "rotated_180")

#: the issue's targets: metric -> (comparison, bound, text)
TARGETS: dict[str, tuple[str, float, str]] = {
    "accuracy_loss": ("<=", 0.5, "≤ 0.5 points below best"),
    "time_ratio": ("<=", 3.0, "≤ 3× best"),
    "unseen_median_top": ("<=", 0.5, "≤ 0.5 on every unseen kind"),
    "fashion_auroc": (">=", 0.98, "≥ 0.98"),
    "ece": ("<=", 0.02, "≤ 2 %"),
    "dream_readable": (">=", 10, "all 10 readable"),
    "dream_median_cosine": (">=", TARGET_MEDIAN_COSINE, f"≥ {TARGET_MEDIAN_COSINE:g}"),
}


# ------------------------------------------------------------------------------- one network
def recipe_config(recipe: str, seed: int, *, epochs_scale: float = 1.0,
                  epochs: int | None = None, hidden: list[int] | None = None,
                  max_train_samples: int = 0, settings: dict[str, Any] | None = None
                  ) -> TrainConfig:
    """The preset ``recipe`` with the seed, the benchmark's size overrides and ``settings``
    (training options by name, e.g. ``{"attack_epsilon": 1.0}``; those the recipe does not
    use are left out for it, so ``--set attack_epsilon=1`` changes robust and honest only)."""
    config = preset(recipe)
    changes: dict[str, Any] = {"seed": seed, "max_train_samples": max_train_samples}
    for name, value in (settings or {}).items():
        if recipe == BASELINE and name in ATTACK_OR_HONESTY_FIELDS:
            continue
        changes[name] = value
    changes["epochs"] = epochs if epochs is not None else max(
        1, round(config.epochs * epochs_scale))
    if hidden is not None:
        changes["hidden"] = list(hidden)
        if not hidden:
            changes["dropout"] = []
    return config.replace(**changes)


def parse_setting(text: str) -> tuple[str, Any]:
    """``FIELD=VALUE`` of ``--set``: VALUE as the field's type in :class:`TrainConfig`."""
    name, _, value = text.partition("=")
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    if name not in fields or not value:
        raise argparse.ArgumentTypeError(f"expected FIELD=VALUE with a training option, got "
                                         f"{text!r}")
    current = getattr(TrainConfig(), name)
    if isinstance(current, bool):
        return name, value.lower() in ("1", "true", "yes")
    if isinstance(current, list):  # TrainConfig reads lists as text (config.parse_list)
        return name, value
    return name, type(current)(value)


def parse_grid(text: str) -> tuple[float, ...]:
    """``--flatten-grid``: comma-separated numbers, each a valid ``flatten_below``."""
    try:
        grid = tuple(float(part) for part in text.split(",") if part.strip())
        for q in grid:
            TrainConfig(flatten_below=q)
    except (ValueError, ConfigError) as error:
        raise argparse.ArgumentTypeError(f"expected numbers in [0, 0.5] separated by commas, "
                                         f"got {text!r} ({error})") from None
    return grid


def top(probabilities: np.ndarray) -> np.ndarray:
    return np.asarray(probabilities, dtype=np.float64).max(axis=1)


def calibration_digits(config: TrainConfig, data: Any) -> np.ndarray:
    """The training digits a run held out for its calibration (N, 784)."""
    n = len(data.train.images)
    _, held = calibration_split(n, config.calibration_fraction, config.data_seed,
                                data.train.labels)
    return data.train.images[held]


def judge(network: Any, data: Any, options: DreamOptions, support: np.ndarray | None = None
          ) -> tuple[Any, np.ndarray]:
    """The judges' verdict on the dreams of 0–9 from black, and the dreams (10, 784)."""
    dreams = dream_all(network, range(10), "black", options, support=support)
    images = np.stack([d.image for d in dreams]).astype(np.float32)
    return judge_dreams(images, np.arange(10), data.test.images, data.test.labels), images


def measure(result: Any, data: Any, nondigits: dict[str, np.ndarray],
            fashion: np.ndarray | None, dream_options: DreamOptions) -> dict[str, Any]:
    """Everything the table shows, for one trained network."""
    model, test = result.model, data.test
    digit_top = top(model.probabilities(test.images))
    has_threshold = bool(result.calibration is not None
                         and result.calibration.threshold is not None)

    def rejected(images: np.ndarray) -> float | None:
        return float(np.mean(~model.is_digit(images))) if has_threshold else None

    # the first test alone, as "not a digit" was decided before the hidden-layer test: the
    # top probability's threshold that passes 95 % of the calibration digits by itself
    top_only = None
    if has_threshold and result.calibration.hidden is not None:
        digits = calibration_digits(result.config, data)
        top_only = digit_threshold(top(model.probabilities(digits)))

    def rejected_top_only(images: np.ndarray) -> float | None:
        return None if top_only is None else float(np.mean(
            top(model.probabilities(images)) < top_only))

    epoch_seconds = [float(e["seconds"]) for e in result.history.epochs]
    row: dict[str, Any] = {
        "accuracy": float(result.evaluation.accuracy),
        "seconds": sum(epoch_seconds),
        "seconds_floor": min(epoch_seconds) * len(epoch_seconds),
        "ece": float(expected_calibration_error(model.probabilities(test.images), test.labels,
                                                N_BINS)),
        "temperature": None if result.calibration is None
        else float(result.calibration.temperature),
        "threshold": float(result.calibration.threshold) if has_threshold else None,
        "digits_rejected": rejected(test.images),
        "digits_rejected_top_only": rejected_top_only(test.images),
        "median_top": {}, "rejected": {}, "rejected_top_only": {},
    }
    sets = dict(nondigits)
    if fashion is not None:
        sets["fashion_mnist_test"] = fashion
    base = model.model if result.calibration is not None else model
    row["median_top_uncalibrated"] = {}
    for kind, images in sets.items():
        row["median_top"][kind] = float(np.median(top(model.probabilities(images))))
        row["median_top_uncalibrated"][kind] = float(np.median(top(base.probabilities(images))))
        row["rejected"][kind] = rejected(images)
        row["rejected_top_only"][kind] = rejected_top_only(images)
    row["fashion_auroc"] = (auroc(digit_top, top(model.probabilities(fashion)))
                            if fashion is not None else None)
    letter_top = top(model.probabilities(letter_images()))
    row["letter_top"] = letter_top.tolist()
    row["letters_sure"] = int(np.sum(letter_top >= SURE))
    row["letters_unsure"] = int(np.sum(letter_top < 0.5))
    judgement, images = judge(result.network, data, dream_options)
    row["dream_readable"] = judgement.n_readable
    row["dream_median_cosine"] = judgement.median_cosine
    row["dream_knn_labels"] = judgement.knn_label.tolist()
    support = data_support(data.train.images, SUPPORT_FRACTION)
    default, default_images = judge(result.network, data, DreamOptions(), support)
    row["default_dream_readable"] = default.n_readable
    row["default_dream_median_cosine"] = default.median_cosine
    row["dream_images"] = np.concatenate([images, default_images])
    return row


# ------------------------------------------------------------------------------- the benchmark
def run_benchmark(recipes: tuple[str, ...] = RECIPES, seeds: tuple[int, ...] = (0, 1, 2), *,
                  epochs_scale: float = 1.0, epochs: int | None = None,
                  hidden: list[int] | None = None, max_train_samples: int = 0,
                  n_nondigits: int = N_NONDIGITS, dream_options: DreamOptions | None = None,
                  fashion: np.ndarray | None | str = "load", log=print,
                  settings: dict[str, Any] | None = None,
                  flatten_grid: tuple[float, ...] = FLATTEN_GRID) -> dict[str, Any]:
    """Train every recipe on every seed and measure it; the per-run rows and the summary
    (with, for the networks whose answers are flattened, the study's
    :func:`~digitlab.studies.honesty.flattening_tradeoff` over ``flatten_grid``).

    ``fashion``: Fashion-MNIST's test images, None to leave them out, or "load" to read them
    (left out when not installed).
    """
    dream_options = dream_options if dream_options is not None else DreamOptions.ascent()
    if isinstance(fashion, str):
        try:
            fashion = load_fashion_images()
        except DataError as error:
            log(f"Fashion-MNIST left out: {error}")
            fashion = None
    runs: list[dict[str, Any]] = []
    for seed in seeds:
        for recipe in recipes:
            config = recipe_config(recipe, seed, epochs_scale=epochs_scale, epochs=epochs,
                                   hidden=hidden, max_train_samples=max_train_samples,
                                   settings=settings)
            data = load_run_dataset(config)
            sets = make_nondigit_sets(data.test.images, data.test.labels, n_nondigits,
                                      seed=seed)
            unseen = {kind: sets[kind].not_digits() for kind in UNSEEN_KINDS if kind in sets}
            start = time.perf_counter()
            result = train(config, data, progress=False)
            row = measure(result, data, unseen, fashion, dream_options)
            row["flattening"] = {
                f"{r['flatten_below']:g}": r for r in flattening_tradeoff(
                    result.model, data.test.images, data.test.labels, unseen, flatten_grid)
                or ()} or None
            row.update(recipe=recipe, seed=seed, epochs=config.epochs,
                       hidden=list(config.hidden), wall_seconds=time.perf_counter() - start)
            runs.append(row)
            log(f"{recipe:<7} seed {seed}: accuracy {100 * row['accuracy']:.2f} %, "
                f"{row['seconds']:.1f} s, ECE {100 * row['ece']:.2f} %, dreams "
                f"{row['dream_readable']}/10 readable, median cosine "
                f"{row['dream_median_cosine']:.2f}")
    return {"runs": runs, "summary": summarize(runs, recipes),
            "dream_options": dream_options.to_dict(), "n_nondigits": n_nondigits,
            "fashion_test_images": 0 if fashion is None else len(fashion)}


def mean_spread(values: list[float | None]) -> tuple[float, float] | None:
    """(mean, standard deviation) of the values given (0 spread for one), None for none."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarize(runs: list[dict[str, Any]], recipes: tuple[str, ...]) -> dict[str, Any]:
    """Per recipe: every metric as (mean, spread) over the seeds, ratios to the baseline's."""
    by_recipe = {r: [run for run in runs if run["recipe"] == r] for r in recipes}
    base = by_recipe.get(BASELINE) or []
    base_accuracy = mean_spread([run["accuracy"] for run in base])
    base_seconds = {run["seed"]: run["seconds_floor"] for run in base}
    summary: dict[str, Any] = {}
    for recipe, rows in by_recipe.items():
        if not rows:
            continue
        entry: dict[str, Any] = {"seeds": [run["seed"] for run in rows]}
        for name in ("accuracy", "seconds", "seconds_floor", "ece", "fashion_auroc",
                     "dream_readable", "dream_median_cosine", "default_dream_readable",
                     "default_dream_median_cosine", "digits_rejected",
                     "digits_rejected_top_only", "letters_sure", "letters_unsure"):
            entry[name] = mean_spread([run[name] for run in rows])
        entry["time_ratio"] = mean_spread([run["seconds_floor"] / base_seconds[run["seed"]]
                                           for run in rows if run["seed"] in base_seconds])
        entry["accuracy_loss"] = (None if base_accuracy is None else
                                  100 * (base_accuracy[0] - entry["accuracy"][0]))
        kinds = list(rows[0]["median_top"])
        entry["median_top"] = {k: mean_spread([run["median_top"][k] for run in rows])
                               for k in kinds}
        entry["rejected"] = {k: mean_spread([run["rejected"][k] for run in rows])
                             for k in kinds}
        entry["rejected_top_only"] = {k: mean_spread([run["rejected_top_only"][k]
                                                      for run in rows]) for k in kinds}
        entry["median_top_uncalibrated"] = {
            k: mean_spread([run["median_top_uncalibrated"][k] for run in rows]) for k in kinds}
        unseen = [k for k in kinds if k in UNSEEN_KINDS]
        entry["unseen_median_top"] = max(entry["median_top"][k][0] for k in unseen) \
            if unseen else None
        entry["met"] = targets_met(entry)
        entry["flattening"] = summarize_flattening(rows)
        summary[recipe] = entry
    return summary


def summarize_flattening(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """Per q: ECE and each unseen kind's median top p, (mean, spread)
    over the runs, and the worst kind's mean."""
    grids = [run["flattening"] for run in rows if run.get("flattening")]
    if not grids:
        return None
    summary = {}
    for q in grids[0]:
        kinds = list(grids[0][q]["median_top"])
        medians = {k: mean_spread([g[q]["median_top"][k] for g in grids]) for k in kinds}
        summary[q] = {"ece": mean_spread([g[q]["ece"] for g in grids]),
                      "median_top": medians,
                      "unseen_median_top": max((m[0] for m in medians.values()), default=None)}
    return summary


def format_flattening(summary: dict[str, Any]) -> str:
    """One table per recipe that answers "not a digit": a row per q of ``flatten_below``, the
    median top p of :data:`TRADEOFF_KINDS` and the worst of every unseen kind."""
    tables = []
    for recipe, entry in summary.items():
        grid = entry.get("flattening")
        if not grid:
            continue
        kinds = [k for k in TRADEOFF_KINDS if k in next(iter(grid.values()))["median_top"]]
        header = ["flatten_below", "ECE %",
                  *(KINDS[k].title if k in KINDS else k for k in kinds), "worst unseen"]
        lines = [header] + [[q, _cell(row["ece"], 100),
                             *(_cell(row["median_top"][k]) for k in kinds),
                             _cell(row["unseen_median_top"])] for q, row in grid.items()]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        tables.append(f"{recipe}: the trade-off of flattened answers (same networks, "
                      "calibrated again at each q; ECE target ≤ 2 %, median top p ≤ 0.5)\n"
                      + "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True))
                                  for line in lines))
    return "\n\n".join(tables)


def targets_met(entry: dict[str, Any]) -> dict[str, bool | None]:
    """Each target of :data:`TARGETS` met (by the mean over seeds), None where not measured."""
    met: dict[str, bool | None] = {}
    for name, (comparison, bound, _) in TARGETS.items():
        value = entry.get(name)
        value = value[0] if isinstance(value, tuple) else value
        if value is None:
            met[name] = None
        else:
            met[name] = bool(value <= bound if comparison == "<=" else value >= bound)
    return met


# ------------------------------------------------------------------------------- the table
def _cell(value: tuple[float, float] | float | None, scale: float = 1.0, digits: int = 2,
          unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, tuple):
        mean, spread = value
        return f"{scale * mean:.{digits}f} ± {scale * spread:.{digits}f}{unit}"
    return f"{scale * value:.{digits}f}{unit}"


def _mark(entry: dict[str, Any], name: str) -> str:
    met = entry["met"].get(name)
    return "" if met is None else (" ✓" if met else " ✗")


def format_table(summary: dict[str, Any]) -> str:
    """Metrics as rows, recipes as columns, the target in the last column."""
    recipes = list(summary)
    lines: list[tuple[str, list[str], str]] = []

    def add(label: str, cells: list[str], target: str = "") -> None:
        lines.append((label, cells, target))

    def metric(label, name, scale=1.0, digits=2, unit="", target=None, baseline=True):
        cells = []
        for recipe in recipes:
            entry = summary[recipe]
            mark = _mark(entry, name) if target and (baseline or recipe != BASELINE) else ""
            cells.append(_cell(entry[name], scale, digits, unit) + mark)
        add(label, cells, TARGETS[target][2] if target else "")

    metric("test accuracy %", "accuracy", 100)
    metric("accuracy loss vs best, points", "accuracy_loss", target="accuracy_loss",
           baseline=False)
    metric("training seconds", "seconds", digits=1)
    metric("  fastest epoch × epochs", "seconds_floor", digits=1)
    metric("time / best's (fastest epoch × epochs)", "time_ratio", target="time_ratio",
           baseline=False)
    metric("ECE (15 bins) %", "ece", 100, target="ece")
    metric("digits answered 'not a digit'", "digits_rejected", 100, 1, " %")
    metric("  by the top probability alone", "digits_rejected_top_only", 100, 1, " %")
    kinds = list(summary[recipes[0]]["median_top"])
    for kind in kinds:
        label = f"{KINDS[kind].title} (unseen)" if kind in KINDS else "Fashion-MNIST test"
        add(f"median top p: {label}",
            [_cell(summary[r]["median_top"][kind]) for r in recipes],
            TARGETS["unseen_median_top"][2] if kind in UNSEEN_KINDS else "")
        add("    before calibration",
            [_cell(summary[r]["median_top_uncalibrated"][kind]) for r in recipes])
        if any(summary[r]["rejected"][kind] is not None for r in recipes):
            add("    answered 'not a digit' %",
                [_cell(summary[r]["rejected"][kind], 100, 1) for r in recipes])
        if any(summary[r]["rejected_top_only"][kind] is not None for r in recipes):
            add("      by the top probability alone %",
                [_cell(summary[r]["rejected_top_only"][kind], 100, 1) for r in recipes])
    metric("letters A–Z read as a digit ≥ 90 % sure (of 26)", "letters_sure", digits=1)
    metric("letters A–Z read as a digit < 50 % sure (of 26)", "letters_unsure", digits=1)
    metric("worst unseen kind's median top p", "unseen_median_top",
           target="unseen_median_top")
    metric("AUROC digits vs Fashion-MNIST test", "fashion_auroc", digits=3,
           target="fashion_auroc")
    metric("ascent dreams read as their digit (of 10)", "dream_readable", digits=1,
           target="dream_readable")
    metric("ascent dreams' median cosine", "dream_median_cosine",
           target="dream_median_cosine")
    metric("default dreams read as their digit", "default_dream_readable", digits=1)
    metric("default dreams' median cosine", "default_dream_median_cosine")
    width = max(len(label) for label, _, _ in lines)
    col = max(16, *(len(c) for _, cells, _ in lines for c in cells))
    header = f"{'':<{width}}  " + "  ".join(f"{r:>{col}}" for r in recipes) + "  target"
    rows = [header] + [f"{label:<{width}}  " + "  ".join(f"{c:>{col}}" for c in cells)
                       + (f"  {target}" if target else "") for label, cells, target in lines]
    return "\n".join(rows)


def save_dream_grid(runs: list[dict[str, Any]], path: str) -> None:
    """Two rows per run, its ascent dreams of 0–9 above its default dreams, as a PNG (4 ×)."""
    from PIL import Image

    rows = [np.concatenate([image.reshape(28, 28) for image in run["dream_images"][i:i + 10]],
                           axis=1) for run in runs for i in (0, 10)]
    picture = (np.clip(np.concatenate(rows, axis=0), 0.0, 1.0) * 255).astype(np.uint8)
    Image.fromarray(picture).resize((picture.shape[1] * 4, picture.shape[0] * 4),
                                    Image.NEAREST).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default=",".join(RECIPES),
                        help="comma-separated presets (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="how many seeds, from --first-seed on (default 3)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first seed (default 0): other seeds, other test tenths")
    parser.add_argument("--epochs-scale", type=float, default=1.0,
                        help="multiply every preset's epochs by this (at least 1 epoch)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="train every recipe for exactly this many epochs")
    parser.add_argument("--hidden", type=parse_hidden, default=None,
                        help="hidden layer widths for every recipe, e.g. 256,256")
    parser.add_argument("--max-train-samples", type=int, default=0,
                        help="train on the first N training digits only (0: all)")
    parser.add_argument("--nondigits", type=int, default=N_NONDIGITS,
                        help="images of each non-digit kind (default %(default)s)")
    parser.add_argument("--dream-steps", type=int, default=200)
    parser.add_argument("--dream-step", type=float, default=ASCENT_L2_STEP,
                        help="L2 length of one ascent step (default %(default)s)")
    parser.add_argument("--set", dest="settings", type=parse_setting, action="append",
                        default=[], metavar="FIELD=VALUE",
                        help="a training option for every recipe that uses it, e.g. "
                             "attack_epsilon=1.0 (repeatable)")
    parser.add_argument("--flatten-grid", type=parse_grid, default=FLATTEN_GRID,
                        metavar="Q,Q,...",
                        help="flatten_below values the trade-off table calibrates each honest "
                             "network again at ('' for none; default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: hidden 64, 2 epochs, 2000 digits, 1 seed")
    parser.add_argument("--out", default=None, help="also write the results as JSON here")
    parser.add_argument("--dreams-png", default=None,
                        help="also save every run's ten dreams as one PNG grid here")
    args = parser.parse_args()
    if args.quick:
        args.hidden, args.epochs = QUICK["hidden"], QUICK["epochs"]
        args.max_train_samples, args.seeds = QUICK["max_train_samples"], QUICK["seeds"]
    recipes = tuple(r.strip() for r in args.recipes.split(",") if r.strip())
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} on {os.cpu_count()} cores", flush=True)
    dream_options = DreamOptions.ascent(steps=args.dream_steps, lr=args.dream_step / 28.0)
    seeds = tuple(range(args.first_seed, args.first_seed + args.seeds))
    result = run_benchmark(recipes, seeds, epochs_scale=args.epochs_scale,
                           epochs=args.epochs, hidden=args.hidden,
                           max_train_samples=args.max_train_samples,
                           n_nondigits=args.nondigits, dream_options=dream_options,
                           settings=dict(args.settings), flatten_grid=args.flatten_grid)
    result["load_average"] = {"start": load, "end": os.getloadavg()}
    print()
    print(format_table(result["summary"]))
    flattening = format_flattening(result["summary"])
    if flattening:
        print()
        print(flattening)
    print(f"load average {result['load_average']['end'][0]:.2f} at the end")
    if args.dreams_png:
        save_dream_grid(result["runs"], args.dreams_png)
        print(f"Wrote {args.dreams_png}: per run (in the order above) its ascent dreams of 0-9 "
              "above its default dreams")
    if args.out:
        for run in result["runs"]:
            run["dream_images"] = run["dream_images"].round(4).tolist()
        result["settings"] = {k: v for k, v in vars(args).items()}
        write_json(args.out, result)
        print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
