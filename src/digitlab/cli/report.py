"""``digitlab report``: the whole study in one command."""

from __future__ import annotations

import click

from digitlab.cli.common import dataset_options, language_option, output_options
from digitlab.cli.help import TranslatedCommand, _
from digitlab.i18n import N_, language, number


@click.command("report", cls=TranslatedCommand)
@dataset_options
@click.option("--quick", is_flag=True,
              help=N_("Tiny settings: a smoke test or a first look, under a minute."))
@click.option("--full", is_flag=True,
              help=N_("The lab report's scale: full study grids, longer retrainings."))
@click.option("--fresh", is_flag=True,
              help=N_("Recompute every stage instead of reusing results."))
@click.option("--seed", type=int, default=0, show_default=True,
              help=N_("Seed of the data split, the initial weights and the sample order."))
@click.option("--stage", "only", multiple=True,
              help=N_("Run only this stage (and those it builds on); repeatable."))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="report",
              show_default=True,
              help=N_("Folder receiving index.html, report.md, summary.json."))
@language_option
@output_options()
def report(dataset, data_dir, quick, full, fresh, seed, only, out_dir, lang, progress, quiet):
    """Run the complete study and write an HTML report that answers the assignment.

    Stages, in order: data overview, the assignment network, hyperparameter studies, the final
    network, beyond the assignment, its analysis, deep dream, and whether networks know what
    they don't know. Without --quick or --full the default mode runs the whole study on the
    embedded sample in about ten minutes on two cores.
    """
    from pathlib import Path

    from digitlab.api import report as build_report

    summary = build_report(out_dir, quick=quick, full=full, dataset=dataset, data_dir=data_dir,
                           fresh=fresh, seed=seed, stage=only, lang=lang,
                           progress=progress and not quiet)
    total = sum(t["seconds"] for t in summary["timings"].values())
    with language(summary["language"]):
        click.echo(_("Report written to {path} ({seconds} s).").format(
            path=Path(out_dir) / "index.html", seconds=number(total, 0)))
