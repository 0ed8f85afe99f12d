"""``digitlab dream MODEL``: what a trained network sees as each digit (equation (3)).

Writes into ``--out DIR``: dream.png (dreams beside the class means of the training data),
curves.png, probabilities.png, dreams.npy, turn.png (with ``--turn A:B``) and dream.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from digitlab.api import dream_options
from digitlab.cli.common import (
    dataset_for_model,
    dataset_options,
    explicit_dataset,
    output_options,
)
from digitlab.cli.help import TranslatedCommand, _, ngettext, with_values
from digitlab.dreaming import DreamOptions, dream_study
from digitlab.errors import ConfigError, Message
from digitlab.i18n import N_, number
from digitlab.loading import load_digit_model
from digitlab.runlock import claim_folder
from digitlab.shapes import N_CLASSES

__all__ = ["dream_command", "dream_options"]
_DEFAULTS = DreamOptions()
_PLAIN = DreamOptions.plain()
_ASCENT = DreamOptions.ascent()
DEFAULT_SUPPORT = 0.1


class _DigitChoice(click.ParamType):
    """``--digit 3`` or ``--digit all``."""

    name = "D|all"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        text = str(value).strip().lower()
        if text == "all":
            return list(range(N_CLASSES))
        if text.isdigit() and 0 <= int(text) < N_CLASSES:
            return [int(text)]
        raise ConfigError(Message("--digit must be a digit 0-9 or 'all', got {value!r}",
                                  value=value))


class _Turn(click.ParamType):
    """``--turn 3:8``: a real 3 changed until the network reads an 8."""

    name = "A:B"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = str(value).split(":")
        if len(parts) == 2 and all(p.strip().isdigit() and int(p) <= 9 for p in parts):
            a, b = int(parts[0]), int(parts[1])
            if a != b:
                return a, b
        raise ConfigError(Message("--turn must be two different digits A:B such as 3:8, got "
                                  "{value!r}", value=value))


@click.command(name="dream", cls=TranslatedCommand)
@click.argument("model", type=click.Path(exists=True))
@click.option("--digit", "digits", type=_DigitChoice(), default="all", show_default=True,
              help=N_("The digit to dream, or all ten at once."))
@click.option("--start", default="black", show_default=True, metavar="black|noise|mean|IMAGE",
              help=N_("Start image: black (equation (3)'s), noise (uniform), mean (the class mean "
                   "of the target digit in the training data) or a PNG/JPEG file of a digit."))
@click.option("--steps", type=int, default=None,
              help=with_values(N_("Step budget of equation (3).  [default: {steps}; {plain} "
                                  "with --plain, {ascent} with --ascent]"),
                               steps=_DEFAULTS.steps, plain=_PLAIN.steps, ascent=_ASCENT.steps))
@click.option("--lr", type=float, default=None,
              help=with_values(N_("Step size η (the RMS pixel change of a step, unless "
                                  "--plain).  [default: {lr}; {plain} with --plain, {ascent} "
                                  "(an L2 step of 1) with --ascent]"),
                               lr=_DEFAULTS.lr, plain=_PLAIN.lr, ascent=f"{_ASCENT.lr:.4g}"))
@click.option("--plain", is_flag=True, default=False, show_default=True,
              help=N_("Plain equation (3): y⁰ ← y⁰ − η ∂E/∂y⁰, no normalising, clipping, priors, "
                   "support or early stop (flags given explicitly still apply)."))
@click.option("--ascent", is_flag=True, default=False, show_default=True,
              help=N_("Normalised ascent on log p: constant-length steps, pixels clipped to "
                   "[0, 1], no priors, support or early stop. The dreams by which robust "
                   "networks are judged: a robust network's read as digits, a plain one's "
                   "are speckle."))
@click.option("--no-blur", is_flag=True, default=False, show_default=True,
              help=with_values(N_("No Gaussian blur (default: σ={sigma} px every {every} "
                                  "steps)."),
                               sigma=_DEFAULTS.blur_sigma, every=_DEFAULTS.blur_every))
@click.option("--no-jitter", is_flag=True, default=False, show_default=True,
              help=with_values(N_("No random shifts (default: ±{jitter} px each step)."),
                               jitter=_DEFAULTS.jitter))
@click.option("--faint", is_flag=True, default=False, show_default=True,
              help=N_("Keep the dream as equation (3) leaves it (default: scaled so its brightest "
                   "pixel is 1, as bright as a pen's ink, where the network stays as sure)."))
@click.option("--tv", type=float, default=None,
              help=with_values(N_("Weight w of the total variation penalty w·TV(y⁰).  "
                                  "[default: {tv}; 0 with --plain]"), tv=_DEFAULTS.tv))
@click.option("--l2", type=float, default=None,
              help=with_values(N_("Weight λ of the decay towards black, λ/2 ‖y⁰‖².  "
                                  "[default: {l2}; 0 with --plain]"), l2=_DEFAULTS.l2))
@click.option("--support", "support_fraction", type=float, default=None,
              help=with_values(N_("Only pixels lit in at least this share of the training "
                                  "images may light up (0: every pixel).  [default: {support}; "
                                  "0 with --plain]"), support=DEFAULT_SUPPORT))
@click.option("--turn", type=_Turn(), default=None, metavar="A:B",
              help=N_("Also change a real test image of A, as little as possible, until the "
                   "network reads B (an adversarial example): turn.png."))
@dataset_options
@click.option("--seed", type=int, default=0, show_default=True,
              help=N_("Seed of the jitter, the noise start and the test image for --turn."))
@output_options()
@click.option("--out", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help=N_("Folder for the figures and dream.json."))
def dream_command(model: str, digits: list[int], start: str, steps: int | None,
                  lr: float | None, plain: bool, ascent: bool, no_blur: bool, no_jitter: bool,
                  faint: bool, tv: float | None, l2: float | None, support_fraction: float | None,
                  turn: tuple[int, int] | None, dataset: str | None, data_dir: Path | None,
                  seed: int, progress: bool, quiet: bool, out_dir: Path) -> None:
    """Dream MODEL's digits: change the input, not the weights, from a black image until the
    network reads the digit (equation (3)); a picture of the features it uses.

    MODEL is a model file or a run folder. The training data (the dataset saved with the model
    unless --dataset/--data) gives the class means shown beside the dreams.
    """
    options = dream_options(plain=plain, steps=steps, lr=lr, no_blur=no_blur,
                            no_jitter=no_jitter, tv=tv, l2=l2, seed=seed, ascent=ascent,
                            faint=faint)
    if support_fraction is None:
        support_fraction = 0.0 if plain or ascent else DEFAULT_SUPPORT
    if not 0.0 <= support_fraction <= 1.0:
        raise ConfigError(Message("--support must be a share in [0, 1], got {value!r}",
                                  value=support_fraction))
    start_value: Any = start
    if start not in ("black", "noise", "mean"):
        start_value = _load_start_image(start)
    saved = load_digit_model(model)  # a bad model file is refused before anything is made
    with claim_folder(out_dir, "dream folder"):  # before any work: writable, ours alone
        data = dataset_for_model(saved.config, explicit_dataset(dataset), data_dir,
                                 require=("train", "test"))
        train, test = data.split("train"), data.split("test")
        loss = saved.config.loss if saved.config is not None else None
        # a step size far too large overflows on its way to inf/NaN: reported once, as
        # DreamDiverged, before anything is written
        with np.errstate(over="ignore", invalid="ignore"):
            record = dream_study(
                saved.network, out_dir, digits=digits, start=start_value, options=options,
                loss=loss, train_images=train.images, train_labels=train.labels,
                support_fraction=support_fraction, turn=turn, test_images=test.images,
                test_labels=test.labels, progress=progress and not quiet,
                extra={"model": str(saved.path), "dataset": data.name,
                       **({"start_image": str(start)} if start_value is not start else {})},
            )
        click.echo(format_dreams(record))
    click.echo(_("Wrote {folder}: {files}").format(
        folder=out_dir, files=", ".join([*record["files"].values(), "dream.json"])))


def _load_start_image(path: str):
    if not Path(path).is_file():
        raise ConfigError(Message("--start must be black, noise, mean or an image file; "
                                  "{path!r} is none of these", path=path))
    from digitlab.images import load_digit_image

    return load_digit_image(path)


def format_dreams(record: dict[str, Any]) -> str:
    """A table of the dreams (and the turn) for the terminal."""
    heads = [_("digit"), _("steps"), "p(digit)", _("read as"), _("converged")]
    widths = [max(len(h), w) for h, w in zip(heads, (5, 6, 9, 8, 10), strict=True)]
    lines = [_("Dreams from a {start} start ({loss} loss)").format(start=record["start"],
                                                                  loss=record["loss"]),
             " ".join(h.rjust(w) for h, w in zip(heads, widths, strict=True))]
    for d in record["dreams"]:
        cells = [d["digit"], d["steps"], number(d["final_target_probability"], 4),
                 d["predicted_digit"], _("yes") if d["converged"] else _("no")]
        lines.append(" ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True)))
    turn = record.get("turn")
    if turn is not None:
        a, b = turn["from_digit"], turn["to_digit"]
        # Translators: "an 8" but "a 3": {a_an} and {b_an} are "an" before 8, else "a"
        lines.append(ngettext(
            "Turn {a_an} {a} (test image {index}) into {b_an} {b}: p({b}) = {p} after {n} "
            "step, change L2 {l2}, L∞ {linf}: an adversarial example",
            "Turn {a_an} {a} (test image {index}) into {b_an} {b}: p({b}) = {p} after {n} "
            "steps, change L2 {l2}, L∞ {linf}: an adversarial example", turn["steps"]).format(
            a_an="an" if a == 8 else "a", a=a, b_an="an" if b == 8 else "a", b=b,
            index=turn["test_index"], p=number(turn["final_probability"], 4), n=turn["steps"],
            l2=number(turn["l2_distance"], 3), linf=number(turn["linf_distance"], 3)))
    return "\n".join(lines)
