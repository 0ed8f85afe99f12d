"""Does a network know what it doesn't know? Four networks on the same split, compared.

- ``plain``: the ``best`` preset's recipe;
- ``robust``: the same, half of every batch replaced by its L2 PGD adversarial version (the
  ``robust`` preset);
- ``calibrated``: ``plain`` with the honest preset's share of the training digits held out to
  fit a temperature (its ``calibration_fraction``);
- ``honest``: ``robust`` with outlier exposure and the same calibration (the ``honest`` preset).

Each network is measured on the held-out test digits — accuracy and the expected calibration
error (ECE, 15 bins) of the probabilities it reports, calibrated when it was — and on every kind
of non-digit image of :mod:`digitlab.analysis.nondigits`: the median top probability and the
AUROC of telling real test digits from that kind by the top probability, plus the share it
rejects at the threshold that still accepts 95 % of the test digits (the same rule for every
network), and, for a network with "not a digit" tests of its own (:mod:`digitlab.calibration`:
its top probability and its first hidden layer), the share those reject.
:data:`digitlab.data.outliers.KIND_RELATION` says which kinds the outlier exposure
trains on ("trained"), which resemble those ("related") and which it never sees ("unseen").
Every network also answers each capital letter A–Z (one font, the regular one): the digit it
reads, how sure it is, and whether it is "not a digit" (by the network's own tests, else by the
threshold on the top probability), so that the report
can show letter by letter what the plain and the honest network say. The plain and the robust
network also dream every digit from a black image (equation (3)); the
judges of :mod:`digitlab.dreaming.judges` say whether the dreams look like real digits.
The honest network's answers are also recomputed at several shares of flattened answers
(:func:`flattening_tradeoff`): what flattening costs in ECE on the test digits and buys in doubt
on the kinds never trained on.

:func:`run_honesty` returns plain JSON (no NaN: :func:`digitlab.formatting.to_json`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.config import preset
from digitlab.formatting import FigureSpec, to_json
from digitlab.i18n import N_, domain

_report = domain("report")
_ = _report.gettext

NETWORKS = ("plain", "robust", "calibrated", "honest")
#: their names as a person reads them (in Slovenian the adjective agrees with "mreža")
NETWORK_NAMES = {"plain": N_("plain"), "robust": N_("robust"), "calibrated": N_("calibrated"),
                 "honest": N_("honest")}
#: each network's preset and what changes in it
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "plain": ("best", {}),
    "robust": ("robust", {}),
    "calibrated": ("best", {"calibration_fraction": preset("honest").calibration_fraction}),
    "honest": ("honest", {}),
}
#: the networks that dream side by side
DREAMERS = ("plain", "robust")
#: the networks whose answers to each letter A–Z the report draws side by side
LETTER_NETWORKS = ("plain", "honest")
#: a letter read as a digit at least this sure counts as "taken for a digit" in the findings
SURE = 0.9
#: the relations of :data:`~digitlab.data.outliers.KIND_RELATION`, in the order they are shown
RELATIONS = ("trained", "related", "unseen")
#: the shares q of flattened answers (``flatten_below``) the honest network is shown at
FLATTEN_GRID = (0.0, 0.01, 0.02, 0.025, 0.03, 0.05, 0.1)

FIGURES: dict[str, FigureSpec] = {
    "reliability_calibrated": FigureSpec(
        "reliability_calibrated.png",
        N_("Reliability of the calibrated network on the test digits, before and after "
           "temperature scaling (the diagonal is perfect calibration; shaded, the gap to it)")),
    "reliability_honest": FigureSpec(
        "reliability_honest.png",
        N_("Reliability of the honest network on the test digits, before and after temperature "
           "scaling (the diagonal is perfect calibration; shaded, the gap to it)")),
    "confidence": FigureSpec(
        "confidence_by_kind.png",
        N_("Median top probability of each network on real test digits and on each kind of "
           "non-digit image, grouped by whether outlier exposure trained on the kind")),
    "letters": FigureSpec(
        "letters_plain_honest.png",
        N_("What the plain and the honest network answer to each capital letter A–Z (never "
           "trained on): the digit read and how sure, or 'not a digit' — the honest network's "
           "by its own two tests, the plain one's below the top probability that still accepts "
           "95 % of the test digits")),
    "flattening": FigureSpec(
        "flattening_honest.png",
        N_("What flattening the answers of inputs unlike the calibration digits costs and buys: "
           "the honest network's ECE on the test digits (left) and its median top probability "
           "on each kind never trained on (right), for each share of flattened answers; the "
           "dashed line is the share it was trained with")),
    "dreams": FigureSpec(
        "dreams_plain_robust.png",
        N_("Dreams from a black image (equation (3)) of the plain network (top) and of its "
           "adversarially trained version (bottom)")),
}


def network_name(name: str) -> str:
    """One of :data:`NETWORKS` in the active language ("plain" -> "navadna")."""
    return _(NETWORK_NAMES[name]) if name in NETWORK_NAMES else name


def network_configs(dataset, *, hidden: list[int], epochs: int, samples: int = 0,
                    attack_steps: int = 7) -> dict[str, Any]:
    """The four networks' TrainConfigs, on the split of ``dataset`` (its seed and test share)."""
    from digitlab.config import preset

    n = min(samples or len(dataset.train), len(dataset.train))
    common = dict(hidden=list(hidden), epochs=epochs, max_train_samples=samples,
                  dataset=getattr(dataset, "name", None) or "mnist-sample",
                  seed=int(getattr(dataset, "seed", 0)),
                  test_fraction=getattr(dataset, "test_fraction", 0.1),
                  trace_every=max(50, n // 20))
    configs = {}
    for name, (base, changes) in RECIPES.items():
        config = preset(base).replace(**common, **changes)
        if config.attack != "none":
            config = config.replace(attack_steps=attack_steps)
        configs[name] = config
    return configs


def measure_network(model, test_images: np.ndarray, test_labels: np.ndarray,
                    nondigits: dict[str, np.ndarray], letters: np.ndarray | None = None
                    ) -> tuple[dict[str, Any], Any, Any]:
    """What one trained model (``TrainResult.model``) does on test digits and non-digits.

    ``letters`` (26, 784): A–Z, one image each; their answers go under ``"letters"`` as lists
    of 26: ``digit`` (the digit read), ``top`` (its probability, calibrated where the model
    is) and ``not_digit`` (rejected by the model's own "not a digit" tests, or, without them,
    ``top`` below the threshold that accepts 95 % of the test digits).

    Returns the JSON-ready measurements and the reliability on the test digits before and
    after its calibration (after: None when it has none).
    """
    from digitlab.analysis.ood import auroc
    from digitlab.calibration import (
        DIGITS_ACCEPTED,
        digit_threshold,
        logits_and_features,
        network_logits,
        reliability,
        softmax,
    )

    calibration = getattr(model, "calibration", None)
    base = model.model if calibration is not None else model

    def probabilities(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if calibration is not None and calibration.flattens:
            s, features = logits_and_features(base, images, calibration.hidden.layer)
            return softmax(s), calibration.apply(s, features)
        s = network_logits(base, images)
        return softmax(s), (calibration.apply(s) if calibration is not None else None)

    raw, calibrated = probabilities(test_images)
    reported = calibrated if calibrated is not None else raw
    before = reliability(raw, test_labels)
    after = reliability(calibrated, test_labels) if calibrated is not None else None
    digit_top = reported.max(axis=1)
    threshold = digit_threshold(digit_top, DIGITS_ACCEPTED)
    own_tests = calibration is not None and calibration.threshold is not None

    def rejected_by_own_tests(images: np.ndarray) -> float:
        return float(np.mean(~model.is_digit(images)))

    kinds = {}
    for name, images in nondigits.items():
        raw_k, calibrated_k = probabilities(images)
        top = (calibrated_k if calibrated_k is not None else raw_k).max(axis=1)
        kinds[name] = {"median_top": float(np.median(top)), "auroc": auroc(digit_top, top),
                       "rejected": float(np.mean(top < threshold))}
        if own_tests:
            kinds[name]["rejected_own"] = rejected_by_own_tests(images)
    measured = {
        "test_accuracy": float(np.mean(reported.argmax(axis=1) == test_labels)),
        "ece": (after or before).ece, "ece_uncalibrated": before.ece,
        "temperature": None if calibration is None else float(calibration.temperature),
        "median_top_digits": float(np.median(digit_top)),
        "threshold": threshold, "digits_accepted": float(np.mean(digit_top >= threshold)),
        "reliability": {"before": before.to_dict(),
                        "after": None if after is None else after.to_dict()},
        "kinds": kinds,
        "digits_rejected_own": rejected_by_own_tests(test_images) if own_tests else None,
        "hidden_test": bool(own_tests and calibration.hidden is not None),
    }
    if letters is not None:
        raw_l, calibrated_l = probabilities(letters)
        shown = calibrated_l if calibrated_l is not None else raw_l
        top = shown.max(axis=1)
        rejected = ~model.is_digit(letters) if own_tests else top < threshold
        measured["letters"] = {"digit": shown.argmax(axis=1).tolist(), "top": top.tolist(),
                               "not_digit": rejected.tolist()}
    return measured, before, after


def flattening_tradeoff(model, test_images: np.ndarray, test_labels: np.ndarray,
                        nondigits: dict[str, np.ndarray],
                        grid: tuple[float, ...] = FLATTEN_GRID) -> list[dict[str, Any]] | None:
    """The same calibrated model's answers at each share q of ``grid`` of flattened answers
    (the training option ``flatten_below``; T and the hidden-layer test do not depend on it):
    the ECE on the test digits and the median top probability on each kind of ``nondigits``.
    One forward pass per image set. None for a model whose answers are never flattened."""
    import dataclasses

    from digitlab.calibration import expected_calibration_error, logits_and_features

    calibration = getattr(model, "calibration", None)
    if calibration is None or not calibration.flattens:
        return None
    layer = calibration.hidden.layer

    def inside(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # (logits s, scores M)
        s, features = logits_and_features(model.model, images, layer)
        return s, calibration.hidden.gaussians.score(features)

    digits = inside(test_images)
    kinds = {name: inside(images) for name, images in nondigits.items()}
    rows = []
    for q in grid:
        # the probabilities only: the "not a digit" threshold, chosen at the run's q, is not used
        at_q = dataclasses.replace(calibration, hidden=dataclasses.replace(
            calibration.hidden, flatten_below=q))
        rows.append({"flatten_below": q,
                     "ece": float(expected_calibration_error(
                         at_q.probabilities_of_scores(*digits), test_labels)),
                     "median_top": {name: float(np.median(
                         at_q.probabilities_of_scores(*pair).max(axis=1)))
                         for name, pair in kinds.items()}})
    return rows


def letter_images() -> np.ndarray:
    """The capital letters A–Z in the regular font, centred as MNIST digits: (26, 784)."""
    from digitlab.analysis.nondigits import letter_templates

    return np.asarray(letter_templates()[:26])


def nondigit_images(dataset, n: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``n`` images of every non-digit kind (from the test digits; Fashion-MNIST's test images
    when on disk; of digits upside down only those that are then no digit, see
    :meth:`~digitlab.analysis.nondigits.NonDigitSet.not_digits`), and the kinds left out with
    the reason."""
    from digitlab.analysis.nondigits import load_fashion_images, make_nondigit_sets
    from digitlab.errors import DataError

    skipped = {}
    try:
        fashion = load_fashion_images()
    except DataError as error:
        fashion, skipped["fashion_mnist"] = None, str(error)
    sets = make_nondigit_sets(dataset.test.images, dataset.test.labels, n, seed, fashion)
    return {name: item.not_digits() for name, item in sets.items()}, skipped


def run_honesty(
    dataset, out_dir: str | Path, *, hidden: list[int], epochs: int, samples: int = 0,
    attack_steps: int = 7, nondigit_count: int = 500, dream_steps: int = 0,
    progress: bool = False, rel=str,
) -> dict[str, Any]:
    """Train the four networks on ``dataset``, measure them, dream with two of them, and write
    the figures (:data:`FIGURES`) into ``out_dir``. ``rel`` turns a figure's path into the
    string stored in the results. Returns the JSON-ready results."""
    from digitlab.analysis.nondigits import KINDS, kind_title
    from digitlab.data.outliers import KIND_RELATION, TRAINING_KINDS
    from digitlab.dreaming import DreamOptions, dream_all
    from digitlab.dreaming.judges import judge_dreams
    from digitlab.plots.calibration import plot_reliability
    from digitlab.plots.honesty import (
        plot_confidence_by_kind,
        plot_dream_rows,
        plot_flattening,
        plot_letter_answers,
    )
    from digitlab.training import train

    out_dir = Path(out_dir)
    test = dataset.test
    seed = int(getattr(dataset, "seed", 0))
    configs = network_configs(dataset, hidden=hidden, epochs=epochs, samples=samples,
                              attack_steps=attack_steps)
    nondigits, skipped = nondigit_images(dataset, nondigit_count, seed)
    letters = letter_images() if "letters" in nondigits else None
    if dream_steps:
        options = DreamOptions(steps=dream_steps, min_steps=min(dream_steps, 250),
                               persist_after=None if dream_steps <= 300 else 300)
    else:
        options = DreamOptions()
    networks: dict[str, Any] = {}
    dreams: dict[str, np.ndarray] = {}
    figures: dict[str, str] = {}
    outlier_kinds: list[str] = []
    for name, config in configs.items():
        start = time.perf_counter()
        titled = _("{network} network").format(network=network_name(name))
        result = train(config, dataset, progress=progress, curves_title=titled)
        seconds = time.perf_counter() - start
        measured, before, after = measure_network(result.model, test.images, test.labels,
                                                  nondigits, letters)
        measured.update(config=config.to_dict(), status=result.status, seconds=seconds,
                        epochs_run=len(result.history.epochs))
        if config.outlier_exposure and not outlier_kinds:
            outlier_kinds = _outlier_kinds(result)
        if after is not None:
            key = f"reliability_{name}"
            figures[key] = rel(plot_reliability(
                before, after, out_dir / FIGURES[key].file,
                title=_("Reliability of the {network} network on the test digits").format(
                    network=network_name(name)),
                temperature=measured["temperature"]))
        if name in DREAMERS:
            digits = list(range(10))
            dreamed = dream_all(result.network, digits, "black", options)
            dreams[name] = np.stack([d.image for d in dreamed]).astype(np.float32)
            judgement = judge_dreams(dreams[name], np.array(digits), test.images, test.labels)
            measured["dreams"] = {
                "summary": judgement.summary(), "n_readable": judgement.n_readable,
                "n_dreams": len(judgement), "median_cosine": judgement.median_cosine,
                "target_probabilities": [d.final_target_probability for d in dreamed],
            }
        if config.outlier_exposure:
            unseen = {k: images for k, images in nondigits.items()
                      if KIND_RELATION[k] == "unseen"}
            grid = tuple(sorted({*FLATTEN_GRID, config.flatten_below}))
            measured["flattening"] = flattening_tradeoff(result.model, test.images, test.labels,
                                                         unseen, grid)
        networks[name] = measured
    kinds = {name: {"title": KINDS[name].title, "relation": KIND_RELATION[name]}
             for name in nondigits}
    figures["confidence"] = rel(plot_confidence_by_kind(
        {network_name(name): {_("real digits"): m["median_top_digits"],
                              **{kind_title(k): m["kinds"][k]["median_top"] for k in kinds}}
         for name, m in networks.items()},
        {kind_title(k): kinds[k]["relation"] for k in kinds},
        out_dir / FIGURES["confidence"].file))
    if letters is not None:
        figures["letters"] = rel(plot_letter_answers(
            letters, {network_name(name): networks[name]["letters"] for name in LETTER_NETWORKS
                      if name in networks}, out_dir / FIGURES["letters"].file))
    flattened = networks.get("honest", {}).get("flattening")
    if flattened:
        figures["flattening"] = rel(plot_flattening(
            flattened, configs["honest"].flatten_below,
            {k: kind_title(k) for k in flattened[0]["median_top"]},
            out_dir / FIGURES["flattening"].file))
    figures["dreams"] = rel(plot_dream_rows(
        list(range(10)), {_("{network} network").format(network=network_name(name)): dreams[name]
                          for name in DREAMERS},
        out_dir / FIGURES["dreams"].file))
    figures = {key: figures[key] for key in FIGURES if key in figures}  # in the table's order
    return to_json({
        "networks": networks, "kinds": kinds, "skipped": skipped,
        "training_kinds": list(TRAINING_KINDS), "outlier_kinds": outlier_kinds or None,
        "hidden": list(hidden), "epochs": epochs, "samples": samples,
        "attack_steps": attack_steps, "nondigit_count": nondigit_count,
        "dream_options": options.to_dict(),
        "figures": figures,
    })


def _outlier_kinds(result) -> list[str]:
    """The outlier kinds a run with outlier exposure trained on (Fashion-MNIST's training
    images only when they were on disk)."""
    from digitlab.data.outliers import TRAINING_KINDS, load_fashion_training_images

    if load_fashion_training_images() is None:
        return [k for k in TRAINING_KINDS if k != "fashion"]
    return list(TRAINING_KINDS)
