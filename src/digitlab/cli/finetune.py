"""``digitlab finetune RUN --data DIR --out NEW``: a network taught a few more epochs on your own
digits, its accuracy on them and on the run's test digits before and after."""

from __future__ import annotations

from pathlib import Path

import click

from digitlab.cli.common import output_options
from digitlab.cli.help import TranslatedCommand, _, ngettext
from digitlab.finetuning import HELD_OUT, REPLAY, finetune
from digitlab.i18n import N_, percent


@click.command(name="finetune", cls=TranslatedCommand)
@click.argument("run", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--data", "digits", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help=N_("IDX folder of your own digits (train-images/-labels), e.g. "
                      "runs/my-digits as the lab keeps them."))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help=N_("New run folder for the fine-tuned network (RUN is only read)."))
@click.option("--epochs", type=click.IntRange(1, 1000), default=3, show_default=True,
              help=N_("Epochs of fine-tuning."))
@click.option("--held-out", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=HELD_OUT, show_default=True,
              help=N_("Share of each digit of yours kept aside to measure, never trained on."))
@click.option("--replay", type=click.FloatRange(0), default=REPLAY, show_default=True,
              help=N_("Digits of the run's own training split mixed in per digit of yours, so "
                      "that it does not forget them."))
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help=N_("Seed of the held-out share and of the replayed digits."))
@output_options()
def finetune_command(run: Path, digits: Path, out: Path, epochs: int, held_out: float,
                     replay: float, seed: int, progress: bool, quiet: bool) -> None:
    """Fine-tune the network of RUN on your own digits (--data) for a few more epochs, into a
    new run folder, and say how well it reads your held-out digits and the run's test digits
    before and after.

    The run is continued as `digitlab train --resume` would (its config, optimizer state and
    history go on) on your digits mixed with its own training digits.
    """
    result = finetune(run, digits, out, epochs=epochs, held_out=held_out, replay=replay,
                      seed=seed, progress=progress and not quiet)
    if quiet:
        return
    click.echo(ngettext("fine-tuned {source} for {epochs} epoch into {out} on {mine} of your "
                        "digits and {own} of its own",
                        "fine-tuned {source} for {epochs} epochs into {out} on {mine} of your "
                        "digits and {own} of its own", result.epochs).format(
        source=result.source, epochs=result.epochs, out=result.run_dir, mine=result.trained_on,
        own=result.replayed))
    rows = [(ngettext("your {n} held-out digit", "your {n} held-out digits",
                      result.held_out).format(n=result.held_out),
             result.before.own, result.after.own),
            (_("its test digits"), result.before.test, result.after.test)]
    width = max(len(name) for name, _before, _after in rows) + 2
    before, after = _("before"), _("after")
    click.echo(f"{'':{width}}{before:>9}{after:>9}")
    for name, before, after in rows:
        click.echo(f"{name:<{width}}{_shown(before):>9}{_shown(after):>9}")


def _shown(value: float | None) -> str:
    return "-" if value is None else percent(value, 1)
