"""``digitlab data``: look at the datasets, draw examples, download the full-size ones."""

from __future__ import annotations

import json
from pathlib import Path

import click

from digitlab.cli.common import DATA_DIR_HELP, cache_dir_option
from digitlab.cli.help import TranslatedGroup
from digitlab.data import DATASET_NAMES, Dataset, load_dataset
from digitlab.data.catalog import SPECS
from digitlab.i18n import N_

DOWNLOADABLE = tuple(name for name in DATASET_NAMES if SPECS[name].files)

name_argument = click.argument(
    "name", required=False, default=None, type=click.Choice(DATASET_NAMES)
)
data_option = click.option(
    "--data", "data_dir", default=None, metavar="DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path), help=DATA_DIR_HELP,
)
seed_option = click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(min=0),
    help=N_("Seed of the held-out test split (datasets without their own test set)."),
)


@click.group(cls=TranslatedGroup)
def data() -> None:
    """Inspect, draw and download datasets (NAME defaults to mnist-sample)."""


def format_info(ds: Dataset) -> str:
    """The human-readable text of ``digitlab data info``."""
    lines = [f"{ds.name}: {ds.source}"]
    if ds.test_is_official:
        lines.append("test split: the dataset's own test set")
    else:
        lines.append(f"test split: held out, {ds.test_fraction:.0%} of each class "
                     f"(stratified, seed {ds.seed})")
    splits = ds.splits()
    lines.append("shapes: " + ", ".join(
        f"{s.name} images {tuple(s.images.shape)} float32, labels {tuple(s.labels.shape)} int64"
        for s in splits))
    width = max(len("class"), *(len(c) for c in ds.class_names))
    lines.append("")
    lines.append(f"{'class':<{width}}" + "".join(f"{s.name:>12}" for s in splits))
    counts = [s.counts() for s in splits]
    for label, class_name in enumerate(ds.class_names):
        lines.append(f"{class_name:<{width}}" + "".join(f"{c[label]:>12,}" for c in counts))
    lines.append(f"{'total':<{width}}" + "".join(f"{len(s):>12,}" for s in splits))
    lines.append("")
    lines.append("files (SHA-256):")
    for role, entry in ds.describe()["files"].items():
        lines.append(
            f"  {role:<13} {entry['sha256']}  {entry['bytes']:>11,} bytes  {entry['path']}"
        )
    return "\n".join(lines)


@data.command()
@name_argument
@data_option
@cache_dir_option
@seed_option
@click.option("--json", "as_json", is_flag=True, help=N_("Print the description as JSON."))
def info(name, data_dir, cache_dir, seed, as_json) -> None:
    """Show a dataset's source, shapes, examples per class in each split and file checksums.

    NAME is mnist-sample (default), mnist or fashion-mnist; with --data it labels the folder.
    """
    ds = load_dataset(name, data_dir, seed=seed, cache_dir=cache_dir)
    if as_json:
        click.echo(json.dumps(ds.describe(), indent=2))
    else:
        click.echo(format_info(ds))


@data.command()
@name_argument
@data_option
@cache_dir_option
@seed_option
@click.option("--split", "split_name", type=click.Choice(["train", "test"]), default="train",
              show_default=True, help=N_("Split to draw from."))
@click.option("--per-digit", default=10, show_default=True, type=click.IntRange(1, 50),
              help=N_("Examples shown per class (columns)."))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help=N_("Image file to write (format from the suffix, e.g. digits.png)."))
def show(name, data_dir, cache_dir, seed, split_name, per_digit, out) -> None:
    """Draw the first examples of each class of a split, one row per class, to an image.

    NAME is mnist-sample (default), mnist or fashion-mnist; with --data it labels the folder.
    """
    from digitlab.outputs import check_output_file, figure_suffixes
    from digitlab.plots.data import plot_digit_grid  # matplotlib only when drawing

    check_output_file(out, figure_suffixes(), what="image")  # before anything is read
    ds = load_dataset(name, data_dir, seed=seed, require=(split_name,), cache_dir=cache_dir)
    split = getattr(ds, split_name)
    path = plot_digit_grid(split.images, split.labels, ds.class_names, per_digit, out)
    click.echo(f"wrote {path} ({per_digit} examples per class from {ds.name} {split_name})")


@data.command()
@click.argument("name", type=click.Choice(DOWNLOADABLE))
@cache_dir_option
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=1),
              help=N_("Seconds to wait on each connection or read before trying the next mirror."))
def download(name, cache_dir, timeout) -> None:
    """Fetch a dataset's four files into the cache, each verified by SHA-256."""
    from digitlab.api import download as fetch

    folder = fetch(name, cache_dir=cache_dir, timeout=timeout, progress=True)
    click.echo(f"{name}: verified files in {folder}")

