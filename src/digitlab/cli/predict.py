"""``digitlab predict MODEL IMAGE...``: read your own digit images with a trained network."""

from __future__ import annotations

import json

import click
import numpy as np

from digitlab.calibration import calibration_fields, calibration_of, calibration_summary
from digitlab.cli.help import TranslatedCommand
from digitlab.i18n import N_
from digitlab.images import load_digit_images
from digitlab.loading import load_digit_model
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
    saved = load_digit_model(model)
    inputs = load_digit_images(list(images))  # (N, 784)
    reader = saved.model  # preprocessing first, probabilities calibrated when the run was
    calibration = calibration_of(reader)
    probabilities = reader.probabilities(inputs)  # (N, 10)
    digits = probabilities.argmax(axis=1)
    threshold = None if calibration is None else calibration.threshold
    is_digit = (np.ones(len(digits), dtype=bool) if threshold is None
                else probabilities.max(axis=1) >= threshold)  # Calibrated.is_digit's rule
    if as_json:
        records = [
            {"image": path, "digit": int(digit), "is_digit": bool(digit_like),
             "probabilities": [float(p) for p in row]}
            for path, digit, digit_like, row in zip(images, digits, is_digit, probabilities,
                                                    strict=True)
        ]
        click.echo(json.dumps({"model": str(saved.path), **calibration_fields(calibration),
                               "predictions": records}))
        return
    click.echo(calibration_summary(calibration))
    width = max(len(path) for path in images)
    answer = "  answer" if threshold is not None else ""
    click.echo(f"{'image':<{width}}  digit  " + " ".join(f"{k:>5}" for k in range(N_CLASSES))
               + answer)
    for path, digit, digit_like, row in zip(images, digits, is_digit, probabilities,
                                            strict=True):
        line = f"{path:<{width}}  {digit:>5}  " + " ".join(f"{p:5.3f}" for p in row)
        if threshold is not None:
            line += ("  " + str(digit) if digit_like
                     else f"  not a digit (top {digit} at {row[digit]:.1%})")
        click.echo(line)
