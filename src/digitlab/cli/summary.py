"""``digitlab summary MODEL``: a model's layers, parameter count, architecture and config."""

from __future__ import annotations

import click

from digitlab.cli.help import TranslatedCommand
from digitlab.modelio import load_model
from digitlab.nn.network import MLP


def summary_table(network: MLP) -> str:
    """The Keras-like table: one row per layer (name, output shape, parameters) and the total."""
    rows = [(name, shape, f"{n:,}") for name, shape, n in network.summary()]
    headers = ("Layer", "Output shape", "Params")
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(3)]
    total = sum(n for _, _, n in network.summary())
    widths[2] = max(widths[2], len(f"{total:,}"))

    def line(cells) -> str:
        return f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]:>{widths[2]}}"

    rule = "-" * len(line(headers))
    body = [line(row) for row in rows]
    return "\n".join([rule, line(headers), rule.replace("-", "="), *body, rule,
                      f"Total params: {total:,} (all trainable, {network.dtype.name})"])


@click.command(cls=TranslatedCommand)
@click.argument("model", type=click.Path(exists=True))
def summary(model: str) -> None:
    """Show MODEL's layers and parameter count, its architecture and its training config.

    MODEL is a model file (model.npz) or a run folder made by `digitlab train`.
    """
    saved = load_model(model)
    net, metadata = saved.network, saved.metadata
    click.echo(f"Model: {saved.path}")
    click.echo(summary_table(net))
    click.echo("")
    click.echo("Architecture:")
    click.echo(f"  sizes            {'-'.join(str(n) for n in net.sizes)}")
    click.echo(f"  activations      {', '.join(net.activation_names)}")
    click.echo(f"  bias             {'yes' if net.has_bias else 'no'}")
    click.echo(f"  init             {net.init}")
    for key in ("epoch", "optimizer", "digitlab_version"):
        if metadata.get(key) is not None:
            click.echo(f"  {key:<16} {metadata[key]}")
    if saved.config is None:
        click.echo("\nNo training config saved with this model.")
        return
    click.echo("\nTraining config:")
    for key, value in saved.config.to_dict().items():
        if key == "hidden":
            value = ",".join(str(n) for n in value) or "none"
        click.echo(f"  {key:<20} {value}")
