"""``digitlab analyze``: confusions, mistakes, retraining variance and non-digit images."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from digitlab.cli.common import dataset_options, explicit_dataset, output_options
from digitlab.cli.help import TranslatedCommand, _, ngettext
from digitlab.errors import ConfigError, Message
from digitlab.i18n import N_


@click.command(cls=TranslatedCommand)
@click.argument("model", metavar="RUN_DIR|MODEL",
                type=click.Path(exists=True, path_type=Path))
@dataset_options
@click.option("--retrain", "retrain", default=5, show_default=True, type=click.IntRange(min=0),
              metavar="K", help=N_("Retrain the model's saved configuration with K other seeds to "
                                "measure how results vary (0 skips)."))
@click.option("--no-retrain", is_flag=True, default=False, show_default=True,
              help=N_("Skip the retrainings (same as --retrain 0)."))
@click.option("--retrain-epochs", default=None, type=click.IntRange(min=1), metavar="N",
              show_default=N_("the saved config's epochs"),
              help=N_("Epochs of each retraining (fewer makes a slow network quick to retrain)."))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help=N_("Seed of the non-digit images and of the retraining seeds."))
@click.option("--nondigits", "nondigit_count", default=500, show_default=True,
              type=click.IntRange(min=1), metavar="N",
              help=N_("Images generated of each kind of non-digit image."))
@click.option("--out", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help=N_("Folder for analysis.json and the figures."))
@output_options()
def analyze(model, dataset, data_dir, retrain, no_retrain, retrain_epochs, seed,
            nondigit_count, out_dir, progress, quiet):
    """Analyse a trained network: which digits it confuses and determines worst, its most
    confident mistakes, how results change between retrainings, and what it answers to images
    that are not digits.

    The test split is the one the model was trained with (its saved dataset, seed and
    test fraction) unless --dataset or --data is given.
    """
    from digitlab.analysis.pipeline import ANALYSIS_FILE
    from digitlab.api import analyze as run_analysis

    given = click.get_current_context().get_parameter_source("retrain")
    if no_retrain and retrain and given not in (ParameterSource.DEFAULT,
                                                ParameterSource.DEFAULT_MAP):
        raise ConfigError(Message("--retrain {retrain} and --no-retrain contradict each other; "
                                  "give one of them", retrain=retrain))
    result = run_analysis(model, out_dir, dataset=explicit_dataset(dataset), data_dir=data_dir,
                          retrain=0 if no_retrain else retrain, retrain_epochs=retrain_epochs,
                          seed=seed, nondigits=nondigit_count,
                          progress=progress and not quiet)
    for line in result["findings"]:
        click.echo(f"- {line}")
    if result["retraining_skipped"] and not (no_retrain or retrain == 0):
        click.echo(_("retraining skipped: {reason}").format(
            reason=result["retraining_skipped"]))
    n = len(result["figures"])
    click.echo(ngettext("wrote {file} and {n} figure to {folder}",
                        "wrote {file} and {n} figures to {folder}", n).format(
        file=out_dir / ANALYSIS_FILE, n=n, folder=out_dir))
