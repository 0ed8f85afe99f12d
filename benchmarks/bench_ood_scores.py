"""Which score tells a digit from a non-digit it never saw: the network's answer, or what its
hidden layers do?

For each seed one network of a recipe (default ``honest`` at 784-256-256-10 for 6 epochs, the
size the honesty studies were tuned at) is trained on the embedded sample, and each score of
:mod:`digitlab.analysis.ood` is measured by its AUROC of the held-out digits against every
non-digit kind no training saw (:data:`~digitlab.data.outliers.UNSEEN_KINDS`) and against
Fashion-MNIST's test images:

- ``top p``: the top probability the model shows (calibrated where the recipe calibrates);
- ``energy``: logsumexp of the output pre-activations;
- ``Mahalanobis, layer l``: the distance to the nearest class of l's activations, the
  class-conditional Gaussians fitted on the training digits (Lee et al., 2018);
- ``relative M, layer l``: the same less the distance to one Gaussian of all the training
  digits (Ren et al., 2021), with the ridge of the model's own test
  (:data:`~digitlab.calibration.CHECK_RIDGE`);
- ``fitted mix``: a logistic regression on all the scores above, fitted to tell the calibration
  digits (or, without a calibration split, the last tenth of the training digits) from freshly
  drawn outliers of the kinds outlier exposure trains on — never from an unseen kind, so it is
  judged fairly on them;
- ``min(top p, M1) percentile``: each of the top probability and the first hidden layer's
  relative Mahalanobis score (the model's own "not a digit" tests) turned into the share of
  calibration digits scoring below it, and the smaller of the two taken: an input must look
  like a digit to both to score high.

Each cell is the mean AUROC over the seeds ± the standard deviation.

    python benchmarks/bench_ood_scores.py [--recipe honest] [--seeds 3] [--hidden 256,256]
        [--epochs 6] [--out scores.json]

Measured on the 2-core machine, 784-256-256-10, 6 epochs, seeds 0–2 (AUROC, mean ± sd; the
honest network's accuracy 94.39, 93.39, 92.69 %):

=====================  ===============  ===============  ===============  ===============
digits against          top p            M1               relative M1      min
=====================  ===============  ===============  ===============  ===============
letters A–Z             0.767 ± 0.038    0.887 ± 0.008    0.858 ± 0.005    0.831 ± 0.015
drawn letters A–Z       0.810 ± 0.024    0.878 ± 0.012    0.885 ± 0.013    0.862 ± 0.017
digits rotated 180°     0.835 ± 0.014    0.928 ± 0.008    0.926 ± 0.011    0.908 ± 0.016
digits rotated 90°      0.951 ± 0.003    0.960 ± 0.011    0.965 ± 0.008    0.968 ± 0.006
all black               0.991 ± 0.003    0.010 ± 0.005    0.735 ± 0.037    0.988 ± 0.004
Fashion-MNIST test      0.992 ± 0.002    0.972 ± 0.001    0.985 ± 0.003    0.991 ± 0.001
=====================  ===============  ===============  ===============  ===============

(M1: the first hidden layer's Mahalanobis score; relative M1: less the distance to all the
digits, the model's own test; min: ``min(top p, M1) percentile`` with the relative score.) The
answer alone barely tells a letter from a digit; the first hidden layer does much better. The
plain score is blind to a black image (no activation differs from a thin digit's by much); the
relative one half sees it, and the answer catches it, so the two together are the best single
rule. Over the whole range the relative score is about as good as the plain one (better on
drawn letters, Fashion-MNIST and black, worse on letters from a font); where it matters, among
the least digit-like few per cent of real digits (the answers flattened), it turns more drawn
letters away (``bench_honest.py``'s trade-off table). An earlier run with the plain score in
the min rule found the plain ``best`` network about as good a detector with it as the honest
one: outlier exposure mostly teaches the *answer* what the hidden layer already knows.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np

from digitlab.analysis.nondigits import KINDS, load_fashion_images, make_nondigit_sets
from digitlab.analysis.ood import auroc
from digitlab.calibration import (
    CHECK_RIDGE,
    calibration_split,
    network_logits,
    typicality_of_scores,
)
from digitlab.config import parse_hidden, preset
from digitlab.data import load_run_dataset
from digitlab.data.outliers import (
    TRAINING_KINDS,
    UNSEEN_KINDS,
    generate_outliers,
    load_fashion_training_images,
)
from digitlab.errors import DataError
from digitlab.fileio import write_json
from digitlab.mahalanobis import fit_class_gaussians
from digitlab.training import train

N_NONDIGITS = 1000
N_FIT_OUTLIERS = 300  # of each training kind, for the fitted mix
MIN_RULE = "min(top p, M1) percentile"


def hidden_layers(model: Any, images: np.ndarray) -> list[np.ndarray]:
    """Every hidden layer's activations y^1 … y^{L−1} (N, n_l) of raw images (N, 784)."""
    ys = model.forward(np.asarray(images, dtype=model.dtype)).ys
    return [np.asarray(y, dtype=np.float64) for y in ys[1:-1]]


def scorer(result: Any, data: Any, config: Any):
    """A function images -> {score name: (N,) scores}, fitted on this run's training digits."""
    model = result.model
    calibration = result.calibration
    base = model.model if calibration is not None else model
    n = len(data.train.images)
    if config.calibration_fraction:
        kept, held = calibration_split(n, config.calibration_fraction, config.data_seed,
                                       data.train.labels)
    else:
        kept, held = np.arange(n - n // 10), np.arange(n - n // 10, n)
    train_images = data.train.images[kept]
    gaussians = [fit_class_gaussians(f, data.train.labels[kept])
                 for f in hidden_layers(base, train_images)]
    relative = [fit_class_gaussians(f, data.train.labels[kept], ridge=CHECK_RIDGE, relative=True)
                for f in hidden_layers(base, train_images)]

    def scores(images: np.ndarray) -> dict[str, np.ndarray]:
        s = network_logits(base, images)
        out = {"top p": np.asarray(model.probabilities(images), np.float64).max(axis=1),
               "energy": np.logaddexp.reduce(s, axis=1)}
        for l, (g, r, f) in enumerate(zip(gaussians, relative, hidden_layers(base, images),
                                          strict=True)):
            out[f"Mahalanobis, layer {l + 1}"] = g.score(f)
            out[f"relative M, layer {l + 1}"] = r.score(f)
        return out

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng([config.seed, 2024])
    fashion = load_fashion_training_images()
    outliers = [fashion[rng.choice(len(fashion), N_FIT_OUTLIERS, replace=False)]
                if kind == "fashion" else generate_outliers(kind, N_FIT_OUTLIERS, rng,
                                                            train_images)
                for kind in TRAINING_KINDS if kind != "fashion" or fashion is not None]
    inside, outside = scores(data.train.images[held]), scores(np.concatenate(outliers))
    names = list(inside)
    x = np.concatenate([np.stack([inside[k] for k in names], 1),
                        np.stack([outside[k] for k in names], 1)])
    y = np.r_[np.ones(len(held)), np.zeros(len(x) - len(held))]
    mix = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
    mix.fit(x, y)

    reference = {k: np.sort(v) for k, v in inside.items()}

    def percentile(name: str, values: np.ndarray) -> np.ndarray:
        """The share of the calibration digits scoring below ``values`` under ``name``."""
        return typicality_of_scores(values, reference[name])

    def with_mix(images: np.ndarray) -> dict[str, np.ndarray]:
        out = scores(images)
        out["fitted mix"] = mix.decision_function(np.stack([out[k] for k in names], 1))
        out[MIN_RULE] = np.minimum(percentile("top p", out["top p"]),
                                   percentile("relative M, layer 1",
                                              out["relative M, layer 1"]))
        return out

    return with_mix


def run(recipe: str, seeds: list[int], hidden: list[int], epochs: int) -> dict[str, Any]:
    try:
        fashion_test = load_fashion_images()
    except DataError:
        fashion_test = None
    table: dict[str, dict[str, list[float]]] = {}
    for seed in seeds:
        config = preset(recipe).replace(seed=seed, hidden=hidden, epochs=epochs)
        data = load_run_dataset(config)
        result = train(config, data, progress=False)
        score = scorer(result, data, config)
        digits = score(data.test.images)
        sets = make_nondigit_sets(data.test.images, data.test.labels, N_NONDIGITS, seed=seed)
        kinds = {KINDS[k].title: sets[k].not_digits() for k in UNSEEN_KINDS if k in sets}
        if fashion_test is not None:
            kinds["Fashion-MNIST test"] = fashion_test
        for kind, images in kinds.items():
            other = score(images)
            for name in digits:
                table.setdefault(name, {}).setdefault(kind, []).append(
                    auroc(digits[name], other[name]))
        print(f"seed {seed}: accuracy {100 * result.evaluation.accuracy:.2f} %", flush=True)
    return table


def format_table(table: dict[str, dict[str, list[float]]]) -> str:
    kinds = list(next(iter(table.values())))
    width = max(len(k) for k in kinds)
    col = max(14, *(len(n) for n in table))
    lines = [f"{'AUROC, digits against':<{width}}  " + "  ".join(f"{n:>{col}}" for n in table)]
    for kind in kinds:
        cells = []
        for name in table:
            values = table[name][kind]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {spread:.3f}")
        lines.append(f"{kind:<{width}}  " + "  ".join(f"{c:>{col}}" for c in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="honest")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hidden", type=parse_hidden, default=[256, 256])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", default=None, help="also write the AUROCs as JSON here")
    args = parser.parse_args()
    table = run(args.recipe, list(range(args.seeds)), args.hidden, args.epochs)
    print(format_table(table))
    if args.out:
        write_json(args.out, {"recipe": args.recipe, "hidden": args.hidden,
                              "epochs": args.epochs, "auroc": table})


if __name__ == "__main__":
    main()
