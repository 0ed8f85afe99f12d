"""``digitlab predict MODEL IMAGE...``: read your own digit images with a trained network."""

from __future__ import annotations

import json

import click

from digitlab.images import load_digit_images
from digitlab.loading import load_digit_model
from digitlab.shapes import N_CLASSES


@click.command()
@click.argument("model", type=click.Path(exists=True))
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, default=False, show_default=True,
              help="Print one JSON object instead of a table.")
def predict(model: str, images: tuple[str, ...], as_json: bool) -> None:
    """Read the digit in each IMAGE (PNG/JPEG, any size or colour) with MODEL.

    Each image is prepared as MNIST was (see digitlab.images): grayscale, white digit on black,
    scaled to fit 20x20 and centred by mass in 28x28. MODEL is a model file or a run folder.
    """
    saved = load_digit_model(model)
    inputs = load_digit_images(list(images))  # (N, 784)
    probabilities = saved.model.probabilities(inputs)  # (N, 10)
    digits = probabilities.argmax(axis=1)
    if as_json:
        records = [
            {"image": path, "digit": int(digit), "probabilities": [float(p) for p in row]}
            for path, digit, row in zip(images, digits, probabilities, strict=True)
        ]
        click.echo(json.dumps({"model": str(saved.path), "predictions": records}))
        return
    width = max(len(path) for path in images)
    click.echo(f"{'image':<{width}}  digit  " + " ".join(f"{k:>5}" for k in range(N_CLASSES)))
    for path, digit, row in zip(images, digits, probabilities, strict=True):
        click.echo(f"{path:<{width}}  {digit:>5}  " + " ".join(f"{p:5.3f}" for p in row))
