"""``digitlab ensemble RUN1 RUN2 ... --out DIR``: several networks that answer together."""

from __future__ import annotations

from pathlib import Path

import click

from digitlab import api
from digitlab.cli.help import TranslatedCommand
from digitlab.i18n import N_


@click.command(name="ensemble", cls=TranslatedCommand)
@click.argument("models", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help=N_("New folder for the ensemble (must not exist or be empty)."))
def ensemble_command(models: tuple[str, ...], out_dir: Path) -> None:
    """Join MODELS (model files or run folders) into an ensemble that averages their class
    probabilities. evaluate, analyze and predict take the folder like a single model.

    The members must share their test split (dataset, split seed, fractions): train them with
    the same --split-seed and different --seed.
    """
    joined = api.ensemble(*models, out=out_dir)
    click.echo(f"wrote an ensemble of {len(models)} networks to {joined.path}")
