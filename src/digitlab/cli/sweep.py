"""``digitlab sweep``: hyperparameter studies, in parallel processes or on Ray, resumable."""

from __future__ import annotations

from pathlib import Path

import click

from digitlab.cli.common import dataset_options, output_options
from digitlab.cli.help import TranslatedCommand
from digitlab.i18n import N_
from digitlab.studies.definitions import BUILTIN_STUDIES
from digitlab.studies.executors import EXECUTORS


@click.command("sweep", cls=TranslatedCommand)
@click.argument("studies", nargs=-1, type=click.Choice(BUILTIN_STUDIES), metavar="[STUDY]...")
@click.option("--grid", "grid_file", default=None, metavar="FILE.toml",
              type=click.Path(dir_okay=False, path_type=Path),
              help=N_("A TOML grid: [grid] maps config fields to lists of values (cartesian "
                   "product), optional [base] fixes fields. Run as one more study."))
@click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
              help=N_("local: a process per core here; ray: Ray tasks (local runtime, or the "
                   "cluster at --address)."))
@click.option("--address", default=None, metavar="ADDR", show_default=True,
              help=N_("Address of a Ray cluster started with `ray start --head` (ray only)."))
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True,
              help=N_("Trials per point, with seeds 0..K-1; points show mean ± std over them."))
@click.option("--full", is_flag=True, default=False, show_default=True,
              help=N_("The lab report's scale (all training images, 10 epochs, 20 for the epochs "
                   "study, finer grids) instead of the quick grid."))
@click.option("--workers", type=click.IntRange(min=1), default=None,
              show_default=N_("the CPUs available"),
              help=N_("Trials run at once (one BLAS thread each)."))
@dataset_options
@click.option("--out", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help=N_("Output folder; running again with it resumes (finished trials are "
                      "skipped)."))
@output_options()
def sweep(studies, grid_file, executor, address, seeds, full, workers, dataset, data_dir,
          out_dir, progress, quiet) -> None:
    """Study how accuracy depends on epochs, learning rate, layers and neurons.

    STUDY is any of epochs, lr, layers, neurons (default: all four, or only the --grid study
    when a grid file is given). Each study runs every hidden activation (tanh, sigmoid, relu,
    swish) with SGD and Adam, softmax + cross-entropy, batch size 32, with K seeds per point.
    The epochs study reads the accuracy after each epoch from one long run per line.

    By default a quick grid (3 epochs on 5,000 images, a hidden layer of 64, 6 learning rates,
    0-5 layers, 16-1024 neurons; about 40 seconds on 2 cores); --full runs the report's scale
    (10 epochs on all images, 128 wide, 11 learning rates, 0-5 layers, 16-2048 neurons; about
    7 minutes on 2 cores with the embedded sample).

    Writes DIR/trials/<key>.json as each trial finishes, then DIR/trials.csv, DIR/trials.json,
    DIR/summary.json (mean ± std per point) and a figure per study, DIR/<study>.png.
    """
    from digitlab import api
    from digitlab.studies.summary import format_tables

    result = api.sweep(
        *studies, out=out_dir, grid=grid_file, executor=executor, address=address, seeds=seeds,
        full=full, workers=workers, dataset=dataset, data_dir=data_dir,
        progress=progress and not quiet,
    )
    click.echo(format_tables(result.studies))
    click.echo()
    failures = {row["error"] for row in result.rows if row["status"] != "ok"}
    for error in sorted(failures)[:5]:
        click.echo(f"failed: {error}")
    if len(failures) > 5:
        click.echo(f"... and {len(failures) - 5} more distinct errors (see trials.csv)")
    click.echo(
        f"{result.ran + result.skipped} trials: {result.ran} run now, "
        f"{result.skipped} already done, {result.failed} failed; {result.seconds:.0f} s"
    )
    click.echo(f"wrote {out_dir}/trials.csv, trials.json, summary.json, "
               + ", ".join(path.name for path in result.figures.values()))
