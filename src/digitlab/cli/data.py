"""``digitlab data``: look at the datasets, draw examples, download the full-size ones."""

from __future__ import annotations

import json
from pathlib import Path

import click

from digitlab.cli.common import DATA_DIR_HELP, cache_dir_option
from digitlab.cli.help import TranslatedGroup, _, ngettext
from digitlab.data import DATASET_NAMES, Dataset, load_dataset
from digitlab.data.catalog import SPECS
from digitlab.formatting import stored_text
from digitlab.i18n import N_, number, percent

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


#: the splits' names as a person reads them (the data keep "train", "validation", "test")
SPLIT_NAMES = {"train": N_("train"), "validation": N_("validation"), "test": N_("test")}


def format_info(ds: Dataset) -> str:
    """The human-readable text of ``digitlab data info``, in the active language."""
    lines = [f"{ds.name}: {stored_text(ds.source)}"]
    if ds.test_is_official:
        lines.append(_("test split: the dataset's own test set"))
    else:
        lines.append(_("test split: held out, {share} of each class (stratified, seed {seed})")
                     .format(share=percent(ds.test_fraction, 0), seed=ds.seed))
    splits = ds.splits()
    names = [_(SPLIT_NAMES.get(s.name, s.name)) for s in splits]
    lines.append(_("shapes: {shapes}").format(shapes=", ".join(
        _("{split} images {images} float32, labels {labels} int64").format(
            split=name, images=tuple(s.images.shape), labels=tuple(s.labels.shape))
        for name, s in zip(names, splits, strict=True))))
    class_head, total_head = _("class"), _("total")
    width = max(len(class_head), len(total_head), *(len(c) for c in ds.class_names))
    column = max(12, *(len(name) + 2 for name in names))
    lines.append("")
    lines.append(f"{class_head:<{width}}" + "".join(f"{name:>{column}}" for name in names))
    counts = [s.counts() for s in splits]
    for label, class_name in enumerate(ds.class_names):
        lines.append(f"{class_name:<{width}}"
                     + "".join(f"{number(c[label]):>{column}}" for c in counts))
    lines.append(f"{total_head:<{width}}" + "".join(f"{number(len(s)):>{column}}" for s in splits))
    lines.append("")
    lines.append(_("files (SHA-256):"))
    for role, entry in ds.describe()["files"].items():
        size = ngettext("{n} byte", "{n} bytes", entry["bytes"]).format(n=number(entry["bytes"]))
        lines.append(f"  {role:<13} {entry['sha256']}  {size:>17}  {entry['path']}")
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
    click.echo(ngettext("wrote {path} ({n} example per class from {dataset} {split})",
                        "wrote {path} ({n} examples per class from {dataset} {split})",
                        per_digit).format(path=path, n=per_digit, dataset=ds.name,
                                          split=_(SPLIT_NAMES[split_name])))


@data.command()
@click.argument("name", type=click.Choice(DOWNLOADABLE))
@cache_dir_option
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=1),
              help=N_("Seconds to wait on each connection or read before trying the next mirror."))
def download(name, cache_dir, timeout) -> None:
    """Fetch a dataset's four files into the cache, each verified by SHA-256."""
    from digitlab.api import download as fetch

    folder = fetch(name, cache_dir=cache_dir, timeout=timeout, progress=True)
    click.echo(_("{name}: verified files in {folder}").format(name=name, folder=folder))

