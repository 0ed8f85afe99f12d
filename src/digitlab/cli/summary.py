"""``digitlab summary MODEL``: a model's layers, parameter count, architecture and config."""

from __future__ import annotations

import click

from digitlab.api import summary as describe_model
from digitlab.cli.help import TranslatedCommand


@click.command(cls=TranslatedCommand)
@click.argument("model", type=click.Path(exists=True))
def summary(model: str) -> None:
    """Show MODEL's layers and parameter count, its architecture and its training config.

    MODEL is a model file (model.npz) or a run folder made by `digitlab train`.
    """
    click.echo(describe_model(model).text())
