"""``digitlab evaluate MODEL``: accuracy, mean E, per-digit accuracy and confusion matrix."""

from __future__ import annotations

import json
import math

import click

from digitlab.api import evaluate_test_split
from digitlab.calibration import N_BINS, calibration_summary
from digitlab.cli.common import dataset_options, explicit_dataset
from digitlab.cli.help import TranslatedCommand
from digitlab.evaluation import Evaluation
from digitlab.i18n import N_


def format_evaluation(result: Evaluation, details: bool = True) -> str:
    """Accuracy, mean E and the ECE of the probabilities (with, when ``details``, whether and
    how they are calibrated), then the confusion matrix (rows: true digit) and per-digit
    accuracy."""
    confusion = result.confusion_matrix
    n_classes = confusion.shape[0]
    width = max(5, len(str(int(confusion.max()))) + 1)
    lines = [
        f"accuracy  {result.accuracy:.2%}  ({int(confusion.trace())} of {result.n} digits)",
        f"mean E    {result.mean_loss:.4f}  ({result.loss} loss)",
        f"ECE       {_percent(result.ece)}  ({N_BINS} bins, of the "
        f"{'calibrated' if result.calibrated else 'uncalibrated'} probabilities)",
        *([calibration_summary(result.calibration)] if details else []),
        "",
        "confusion matrix (rows: true digit, columns: digit read) and per-digit accuracy",
        "true\\read" + "".join(f"{j:>{width}}" for j in range(n_classes)) + f"{'n':>7}{'acc':>9}",
    ]
    for i in range(n_classes):
        digit_accuracy = result.per_digit_accuracy[i]
        shown = "-" if math.isnan(digit_accuracy) else f"{digit_accuracy:.1%}"
        lines.append(
            f"{i:>9}" + "".join(f"{int(c):>{width}}" for c in confusion[i])
            + f"{int(confusion[i].sum()):>7}{shown:>9}"
        )
    return "\n".join(lines)


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2%}"


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
    click.echo(f"Model {path} on the test split of {dataset_name} ({result.n} digits)")
    click.echo(format_evaluation(result))
