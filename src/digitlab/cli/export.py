"""``digitlab export MODEL --format onnx --out model.onnx``: a network for use outside digitlab."""

from __future__ import annotations

from pathlib import Path

import click

from digitlab import api
from digitlab.cli.help import TranslatedCommand, _, ngettext
from digitlab.i18n import N_, number
from digitlab.modelio import read_metadata
from digitlab.onnx_export import FORMATS, OPSET, input_description, output_description


@click.command(name="export", cls=TranslatedCommand)
@click.argument("model", type=click.Path(exists=True))
@click.option("--format", "format_", type=click.Choice(FORMATS), default="onnx",
              show_default=True, help=N_("Exchange format to write."))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help=N_("File to write, e.g. model.onnx (written atomically)."))
@click.option("--overwrite", is_flag=True, default=False, show_default=True,
              help=N_("Replace --out if it exists."))
def export_command(model: str, format_: str, out: Path, overwrite: bool) -> None:
    """Write MODEL (a model file or a run folder) as a standard ONNX graph.

    Input 'images': float32 (N, 784), pixels / 255 in [0, 1], prepared as MNIST (white digit on
    black, 28x28, row-major). Outputs 'probabilities' and 'outputs' (N, 10); see
    digitlab.onnx_export. A network trained on arrays takes (N, d) and answers (N, K). Runs in
    onnxruntime or any ONNX runtime with opset 17.
    """
    path = api.export(model, out, format=format_, overwrite=overwrite)
    sizes = read_metadata(model)["architecture"]["sizes"]
    size = path.stat().st_size
    click.echo(ngettext("Wrote {path} ({size} byte, ONNX opset {opset})",
                        "Wrote {path} ({size} bytes, ONNX opset {opset})", size).format(
        path=path, size=number(size), opset=OPSET))
    click.echo(_("input:  {description}").format(
        description=input_description(sizes[0]).translated()))
    click.echo(_("output: {description}").format(
        description=output_description(sizes[-1]).translated()))
