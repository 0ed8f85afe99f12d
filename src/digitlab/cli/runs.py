"""``digitlab runs``: the training runs under some folders as a table, and their curves compared.

``digitlab runs [DIR...]`` is ``digitlab runs list [DIR...]`` (the default subcommand);
``digitlab runs compare RUN RUN... --out FIG.png`` overlays their curves. Only JSON is read
for the table: it imports neither matplotlib nor Numba.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from digitlab.cli.help import TranslatedGroup, _, with_values
from digitlab.formatting import format_value
from digitlab.i18n import N_, number, percent
from digitlab.runs import COLUMNS, RunSummary, differing_fields, list_runs


class _ListByDefault(TranslatedGroup):
    """A group whose arguments go to ``list`` unless they start with a subcommand's name, so
    that ``digitlab runs runs/ --sort -accuracy`` lists (a folder named like a subcommand is
    given as ``./compare``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@click.group(name="runs", cls=_ListByDefault)
def runs() -> None:
    """The training runs under some folders: a table (`digitlab runs [DIR...]`, the same as
    `digitlab runs list`) or their curves in one figure (`digitlab runs compare`)."""


@runs.command(name="list")
@click.argument("folders", nargs=-1, type=click.Path(path_type=Path), metavar="[DIR]...")
@click.option("--sort", "sort", default="path", show_default=True, metavar="FIELD",
              help=with_values(N_("Order by a column ({columns}) or a config field (lr, "
                                  "hidden, ...); a leading '-' reverses it: --sort=-accuracy "
                                  "puts the best first."), columns=", ".join(COLUMNS)))
@click.option("--json", "as_json", is_flag=True, default=False,
              help=N_("Print JSON (the differing fields and every run with its whole config) "
                      "instead of the table."))
def list_command(folders: tuple[Path, ...], sort: str, as_json: bool) -> None:
    """List the runs found at or below each DIR (default: runs): the config fields that
    differ between them, test accuracy, training time and epochs.

    A run folder is one holding config.json and history.json (what `digitlab train --out`
    writes); the folders below it are not searched.
    """
    found = list_runs(folders or (Path("runs"),), sort=sort)
    fields = differing_fields(found)
    if as_json:
        click.echo(json.dumps({"fields": fields, "runs": [run.to_dict() for run in found]},
                              indent=2))
        return
    if not found:
        click.echo(_("No runs under {folders}.").format(
            folders=", ".join(map(str, folders or ("runs",)))))
        return
    click.echo(format_table(found, fields))


def format_table(found: list[RunSummary], fields: list[str]) -> str:
    """The runs as an aligned text table: run, the differing fields, accuracy, time, epochs."""
    header = [_("run"), *fields, _("accuracy"), _("time"), _("epochs")]
    rows = [[run.path, *(_cell(run.config.get(name)) for name in fields),
             _accuracy(run), _duration(run.seconds), _epochs(run)] for run in found]
    numeric = {len(header) - 3, len(header) - 2}  # right-aligned: accuracy and time
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) if i in numeric else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in (header, *rows)]
    return "\n".join(lines)


@runs.command(name="compare")
@click.argument("run_folders", nargs=-1, required=True, type=click.Path(path_type=Path),
                metavar="RUN...")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              metavar="FIG.png", help=N_("The figure to write (.png, .pdf, .svg...)."))
@click.option("--title", default=None, help=N_("Title above the figure.  [default: none]"))
def compare_command(run_folders: tuple[Path, ...], out: Path, title: str | None) -> None:
    """Overlay E and accuracy per epoch (train solid, validation dashed, test dotted) of the
    RUN folders (a folder of runs stands for all the runs below it) in one figure, each run
    named by the config fields that differ between them."""
    from digitlab.outputs import check_output_file, figure_suffixes
    from digitlab.plots import save_figure
    from digitlab.runs import compare_runs

    check_output_file(out, figure_suffixes(), what="figure")
    save_figure(compare_runs(run_folders, title=title), out, dpi=110)
    click.echo(_("The runs' curves: {out}").format(out=out))


def _cell(value) -> str:
    return _("n/a") if value is None else format_value(value)


def _accuracy(run: RunSummary) -> str:
    if run.accuracy is None:
        return _("n/a")
    shown = percent(run.accuracy, 2)
    return shown if run.accuracy_split == "test" else _("{accuracy} (val)").format(accuracy=shown)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{number(seconds, 2 if seconds < 10 else 1)} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else \
        f"{minutes // 60} h {minutes % 60:02d} min"


#: the statuses of a run that the table notes, in English (:attr:`RunSummary.status`)
STATUSES = {"stopped": N_("stopped"), "early_stopping": N_("early stopping")}


def _status(status: str) -> str:
    """A run's status in the active language (one this table does not know: as written)."""
    return _(STATUSES[status]) if status in STATUSES else status


def _epochs(run: RunSummary) -> str:
    planned = f"/{run.planned_epochs}" if run.planned_epochs is not None else ""
    note = "" if run.status in ("completed", "finished") else f" ({_status(run.status)})"
    return f"{run.epochs}{planned}{note}"
