"""``digitlab predict MODEL IMAGE...``: read your own digit images with a trained network."""

from __future__ import annotations

import json

import click

from digitlab import api
from digitlab.calibration import Calibration, calibration_fields, calibration_summary
from digitlab.cli.help import TranslatedCommand, _
from digitlab.i18n import N_, number, percent
from digitlab.shapes import N_CLASSES


@click.command(cls=TranslatedCommand)
@click.argument("model", type=click.Path(exists=True))
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, default=False, show_default=True,
              help=N_("Print one JSON object instead of a table."))
def predict(model: str, images: tuple[str, ...], as_json: bool) -> None:
    """Read the digit in each IMAGE (PNG/JPEG, any size or colour) with MODEL.

    Each image is prepared as MNIST was (see digitlab.images): grayscale, white digit on black,
    scaled to fit 20x20 and centred by mass in 28x28. MODEL is a model file or a run folder.
    The probabilities are calibrated when MODEL was trained with --calibration-fraction (the
    first line says so), and a network trained with outlier exposure too answers "not a
    digit" when its top probability falls below its threshold.
    """
    answer = api.predict(model, list(images))  # the model first: a bad one is refused early
    calibration, probabilities = answer.calibration, answer.probabilities  # (N, 10)
    threshold = None if calibration is None else calibration.threshold
    if as_json:
        records = [
            {"image": path, "digit": int(digit), "is_digit": bool(digit_like),
             "probabilities": [float(p) for p in row]}
            for path, digit, digit_like, row in zip(images, answer.classes, answer.is_digit,
                                                    probabilities, strict=True)
        ]
        click.echo(json.dumps({"model": answer.path, **calibration_fields(calibration),
                               "predictions": records}))
        return
    click.echo(calibration_summary(calibration))
    image_head, digit_head = _("image"), _("digit")
    width = max(len(image_head), *(len(path) for path in images))
    digit_width = max(5, len(digit_head))
    head = "  " + _("answer") if threshold is not None else ""
    click.echo(f"{image_head:<{width}}  {digit_head:>{digit_width}}  "
               + " ".join(f"{k:>5}" for k in range(N_CLASSES)) + head)
    for path, digit, digit_like, row in zip(images, answer.classes, answer.is_digit,
                                            probabilities, strict=True):
        line = (f"{path:<{width}}  {digit:>{digit_width}}  "
                + " ".join(f"{number(p, 3):>5}" for p in row))
        if threshold is not None:
            line += "  " + _answer(digit, bool(digit_like), float(row[digit]), calibration)
        click.echo(line)


def _answer(digit: int, digit_like: bool, top: float, calibration: Calibration) -> str:
    """The answer column: the digit, or "not a digit" and why — below the threshold, or sure
    enough but unlike any digit in the network's first hidden layer (its second test)."""
    if digit_like:
        return str(digit)
    if calibration.hidden is not None and top >= calibration.threshold:
        return _("not a digit (top {top} at {p}, but unlike any digit in its first hidden "
                 "layer)").format(top=digit, p=percent(top))
    return _("not a digit (top {top} at {p})").format(top=digit, p=percent(top))
