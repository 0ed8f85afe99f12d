"""``digitlab evaluate MODEL``: accuracy, mean E, per-digit accuracy and confusion matrix."""

from __future__ import annotations

import json
import math

import click

from digitlab.api import evaluate_test_split
from digitlab.calibration import N_BINS, calibration_summary
from digitlab.cli.common import dataset_options, explicit_dataset
from digitlab.cli.help import TranslatedCommand, _, ngettext
from digitlab.evaluation import Evaluation
from digitlab.i18n import N_, number, percent


def format_evaluation(result: Evaluation, details: bool = True) -> str:
    """Accuracy, mean E and the ECE of the probabilities (with, when ``details``, whether and
    how they are calibrated), then the confusion matrix (rows: true digit) and per-digit
    accuracy, in the active language (labels left-aligned to the longest)."""
    confusion = result.confusion_matrix
    n_classes = confusion.shape[0]
    width = max(5, len(str(int(confusion.max()))) + 1)
    correct = int(confusion.trace())
    ece_text = (ngettext("({n} bin, of the calibrated probabilities)",
                         "({n} bins, of the calibrated probabilities)", N_BINS)
                if result.calibrated else
                ngettext("({n} bin, of the uncalibrated probabilities)",
                         "({n} bins, of the uncalibrated probabilities)", N_BINS))
    summary = [
        (_("accuracy"), f"{percent(result.accuracy, 2)}  " + ngettext(
            "({correct} of {n} digit)", "({correct} of {n} digits)", result.n).format(
            correct=number(correct), n=number(result.n))),
        (_("mean E"), f"{number(result.mean_loss, 4)}  "
         + _("({loss} loss)").format(loss=result.loss)),
        ("ECE", f"{_percent(result.ece)}  " + ece_text.format(n=N_BINS)),
    ]
    label_width = max(len(label) for label, _value in summary) + 2
    corner = _("true\\read")
    first = max(9, len(corner))
    accuracy_head = _("acc")
    lines = [
        *(f"{label:<{label_width}}{value}" for label, value in summary),
        *([calibration_summary(result.calibration)] if details else []),
        "",
        _("confusion matrix (rows: true digit, columns: digit read) and per-digit accuracy"),
        f"{corner:>{first}}" + "".join(f"{j:>{width}}" for j in range(n_classes))
        + f"{'n':>7}{accuracy_head:>9}",
    ]
    for i in range(n_classes):
        digit_accuracy = result.per_digit_accuracy[i]
        shown = "-" if math.isnan(digit_accuracy) else percent(digit_accuracy)
        lines.append(
            f"{i:>{first}}" + "".join(f"{int(c):>{width}}" for c in confusion[i])
            + f"{int(confusion[i].sum()):>7}{shown:>9}"
        )
    return "\n".join(lines)


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else percent(value, 2)


@click.command(name="evaluate", cls=TranslatedCommand)
@click.argument("model", type=click.Path(exists=True))
@dataset_options
@click.option("--json", "as_json", is_flag=True, default=False, show_default=True,
              help=N_("Print one JSON object instead of tables."))
def evaluate_command(model: str, dataset: str | None, data_dir, as_json: bool) -> None:
    """Evaluate MODEL (a model file or a run folder) on the test split.

    Without --dataset/--data the dataset, seed and fractions saved with the model reproduce the
    test split it was evaluated on during training.
    """
    path, dataset_name, result = evaluate_test_split(model, dataset=explicit_dataset(dataset),
                                                     data_dir=data_dir)
    if as_json:
        record = {"model": path, "dataset": dataset_name, "split": "test", **result.to_dict()}
        click.echo(json.dumps(record))
        return
    click.echo(ngettext("Model {path} on the test split of {dataset} ({n} digit)",
                        "Model {path} on the test split of {dataset} ({n} digits)",
                        result.n).format(path=path, dataset=dataset_name, n=number(result.n)))
    click.echo(format_evaluation(result))
