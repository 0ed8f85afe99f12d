"""Every figure of the analysis, drawn from the analysis dict and the images it was measured on.

:data:`FIGURES` is the one table of the analysis's figures: key -> file name (in the output
folder) and the caption the report prints under it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from digitlab.analysis.mistakes import mistakes_by_confidence, pair_examples
from digitlab.analysis.nondigits import kind_title
from digitlab.analysis.responses import Responses
from digitlab.formatting import FigureSpec
from digitlab.i18n import N_, domain, number

_report = domain("report")
_, ngettext = _report.gettext, _report.ngettext

FIGURES: dict[str, FigureSpec] = {
    "confusion_matrix": FigureSpec(
        "confusion_matrix.png", N_("Confusion matrix on the test split (counts and shares "
                                   "of each true digit)")),
    "per_digit_metrics": FigureSpec(
        "per_digit_metrics.png", N_("Accuracy (recall) and precision per digit")),
    "misclassified": FigureSpec(
        "misclassified.png", N_("Misclassified test images, the most confidently wrong first")),
    "confused_pairs": FigureSpec(
        "confused_pairs.png", N_("The most frequent confusions, example by example")),
    "mistakes_by_digit": FigureSpec(
        "mistakes_by_digit.png", N_("Mistakes by true digit and by predicted digit")),
    "retraining": FigureSpec(
        "retraining.png", N_("How results change between retrainings with other seeds")),
    "data_overview": FigureSpec(
        "data_overview.png",
        N_("Examples per digit and class frequencies of training and test data")),
    "nondigit_examples": FigureSpec(
        "nondigit_examples.png", N_("Images that are not digits, with the network's answers")),
    "nondigit_predictions": FigureSpec(
        "nondigit_predictions.png",
        N_("Which digit the network answers for each kind of non-digit")),
    "nondigit_confidence": FigureSpec(
        "nondigit_confidence.png", N_("Confidence on non-digits compared with real test digits")),
    "nondigit_scores": FigureSpec(
        "nondigit_scores.png", N_("Out-of-distribution scores: real digits against non-digits")),
}
REAL = N_("real test digits")
GALLERY_SIZE, PAIR_ROWS, PAIR_COLUMNS, EXAMPLE_COLUMNS = 40, 5, 8, 8


def draw_figures(out_dir: Path, analysis: dict[str, Any], dataset: Any, answers: Responses,
                 nondigit_sets: dict, nondigit_answers: dict[str, Responses]) -> dict[str, str]:
    """Draw every figure into ``out_dir``; returns {figure key: file name} of those drawn."""
    from digitlab.plots import analysis as plots

    test, drawn = dataset.test, {}

    def path(key: str) -> Path:
        drawn[key] = FIGURES[key].file
        return out_dir / FIGURES[key].file

    labels, predicted, confidence = test.labels, answers.predicted, answers.confidence
    plots.plot_confusion_matrix(np.asarray(analysis["confusion_matrix"]), path("confusion_matrix"))
    plots.plot_per_digit_metrics(analysis["per_digit"], path("per_digit_metrics"))
    ranked = mistakes_by_confidence(labels, predicted, confidence)[:GALLERY_SIZE]
    plots.plot_gallery(
        test.images[ranked],
        [f"{labels[i]} → {predicted[i]}\np = {number(confidence[i], 2)}" for i in ranked],
        path("misclassified"),
        ngettext("Misclassified test images, most confidently wrong first ({shown} of {n}; "
                 "true → predicted, top probability)",
                 "Misclassified test images, most confidently wrong first ({shown} of {n}; "
                 "true → predicted, top probability)", analysis["n_mistakes"]).format(
            shown=len(ranked), n=analysis["n_mistakes"]))
    rows = []
    for pair in analysis["confused_pairs"][:PAIR_ROWS]:
        index = pair_examples(labels, predicted, confidence, pair["true"], pair["predicted"],
                              PAIR_COLUMNS)
        label = ngettext("{true} → {predicted}\n{n} image\n{share}% of the {true}s",
                         "{true} → {predicted}\n{n} images\n{share}% of the {true}s",
                         pair["count"]).format(true=pair["true"], predicted=pair["predicted"],
                                               n=pair["count"],
                                               share=number(100 * pair["share"], 1))
        rows.append((label, test.images[index],
                     [f"p = {number(confidence[i], 2)}" for i in index]))
    plots.plot_pair_gallery(rows, path("confused_pairs"),
                            _("The most frequent confusions (true → predicted), most confident "
                              "first"))
    plots.plot_mistake_histograms(analysis["mistakes_by_true_digit"],
                                  analysis["mistakes_by_predicted_digit"],
                                  analysis["data"]["test_counts"], path("mistakes_by_digit"))
    if analysis.get("retraining") and analysis["retraining"]["seeds"]:
        plots.plot_retraining(analysis["retraining"], analysis["accuracy"], path("retraining"))
    plots.plot_data_overview(dataset.train.images, dataset.train.labels,
                             analysis["data"]["train_counts"], analysis["data"]["test_counts"],
                             path("data_overview"))
    _draw_nondigits(plots, path, analysis, test, answers, nondigit_sets, nondigit_answers)
    return drawn


def _draw_nondigits(plots, path, analysis, test, answers, sets, set_answers) -> None:
    if not sets:
        return
    n = EXAMPLE_COLUMNS
    real = _(REAL)
    rows = [(real, test.images[:n], answers.predicted[:n], answers.confidence[:n])]
    rows += [(kind_title(name), s.images[:n], set_answers[name].predicted[:n],
              set_answers[name].confidence[:n]) for name, s in sets.items()]
    plots.plot_nondigit_examples(rows, path("nondigit_examples"), EXAMPLE_COLUMNS)
    summaries = {real: analysis["real_digits"]}
    summaries.update({kind_title(name): analysis["nondigits"][name] for name in sets})
    plots.plot_nondigit_predictions(summaries, path("nondigit_predictions"))
    plots.plot_nondigit_confidence(summaries, path("nondigit_confidence"),
                                   analysis["confident_threshold"],
                                   analysis["model"]["output_activation"] != "softmax")
    scores = {real: {"max_probability": answers.confidence, "energy": answers.energy}}
    scores.update({kind_title(name): {"max_probability": set_answers[name].confidence,
                                      "energy": set_answers[name].energy} for name in sets})
    aurocs = {kind_title(name): analysis["nondigits"][name] for name in sets}
    plots.plot_nondigit_scores(scores, aurocs, path("nondigit_scores"))
