"""From the lab's recipe to the ``best`` preset, one ingredient at a time (an ablation study).

Variants, each trained with several seeds on the same split (``split_seed`` fixed, so every
network is tested on the same held-out digits):

- ``lab recipe``: the ``report`` preset (swish, Adam η = 0.001 constant, batch 32);
- ``+ schedule``: the same with one-cycle (linear warm-up, cosine decay);
- ``+ dropout``: the same with the ``best`` preset's dropout;
- ``+ augmentation``: the same with the ``best`` preset's random affine distortions;
- ``+ all``: the ``best`` preset (ReLU, batch 64, one-cycle, dropout, augmentation);
- ``+ ensemble``: the ``+ all`` networks of all seeds, averaging their probabilities.

Results: test accuracy mean ± std over the seeds, train and test accuracy per epoch, seconds per
epoch; figures of the curves and of augmented digits.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.config import GROUP_FIELDS, TrainConfig, preset
from digitlab.formatting import FigureSpec
from digitlab.i18n import N_, domain

_ = domain("report").gettext

_BEST = preset("best")
_AUGMENTATION = GROUP_FIELDS["augmentation"]  # the random distortions of the training digits
VARIANTS: dict[str, dict[str, Any]] = {
    "lab recipe": {},
    "+ schedule": {"schedule": "onecycle"},
    "+ dropout": {"dropout": list(_BEST.dropout)},
    "+ augmentation": {name: getattr(_BEST, name) for name in _AUGMENTATION},
}
ALL = "+ all"
ENSEMBLE = "+ ensemble"
#: the variants as a person reads them
VARIANT_NAMES = {"lab recipe": N_("lab recipe"), "+ schedule": N_("+ schedule"),
                 "+ dropout": N_("+ dropout"), "+ augmentation": N_("+ augmentation"),
                 ALL: N_("+ all"), ENSEMBLE: N_("+ ensemble")}


def variant_name(variant: str) -> str:
    """A variant's name in the active language."""
    return _(VARIANT_NAMES[variant]) if variant in VARIANT_NAMES else variant

FIGURES: dict[str, FigureSpec] = {
    "curves": FigureSpec("ablation_curves.png", N_(
        "Train (dashed: running mean over each epoch) and test accuracy per epoch of each "
        "variant, mean over the seeds: dropout and augmentation close the gap between them")),
    "augmented": FigureSpec("augmented_digits.png", N_(
        "Training digits (left) and random versions of them as training sees them: affine "
        "distortions plus, here, elastic distortion (α = 2 px, σ = 4 px)")),
}


def variant_configs(epochs: int, seed: int, split_seed: int, samples: int = 0,
                    dataset: str = "mnist-sample", hidden: list[int] | None = None,
                    ) -> dict[str, TrainConfig]:
    """Each variant's config for one seed (all on the split of ``split_seed``); ``hidden``
    replaces the presets' layers (for quick runs)."""
    common = dict(epochs=epochs, seed=seed, split_seed=split_seed, max_train_samples=samples,
                  dataset=dataset, trace_every=1000)
    if hidden is not None:
        common["hidden"] = list(hidden)
    configs = {name: preset("report").replace(**changes, **common)
               for name, changes in VARIANTS.items()}
    configs[ALL] = preset("best").replace(**common)
    return configs


def run_ablation(
    dataset, out_dir: str | Path, *, epochs: int, seeds: int, samples: int = 0,
    hidden: list[int] | None = None, progress: bool = False,
) -> dict[str, Any]:
    """Train every variant with ``seeds`` seeds on ``dataset``; write the figures to
    ``out_dir``; return the JSON-ready results (see the module docstring)."""
    from digitlab.ensembles import Ensemble
    from digitlab.plots.ablation import plot_ablation_curves, plot_augmented_digits
    from digitlab.training import augmentation_for_config, train

    out_dir = Path(out_dir)
    split_seed = int(getattr(dataset, "seed", 0))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in [*VARIANTS, ALL]}
    networks = []
    test = dataset.test
    for seed in range(seeds):
        configs = variant_configs(epochs, seed, split_seed, samples,
                                  getattr(dataset, "name", None) or "mnist-sample", hidden)
        for name, config in configs.items():
            result = train(config, dataset, progress=progress)
            epochs_run = result.history.epochs
            runs[name].append({
                "seed": seed, "test_accuracy": epochs_run[-1]["test_accuracy"],
                "train_accuracy": [e["train_accuracy"] for e in epochs_run],
                "test_accuracies": [e["test_accuracy"] for e in epochs_run],
                "seconds_per_epoch": statistics.median(e["seconds"] for e in epochs_run),
            })
            if name == ALL:
                networks.append(result.network)
    rows = [_summarise(name, seeds_run, configs[name].to_dict())
            for name, seeds_run in runs.items()]
    ensemble_accuracy = float(np.mean(Ensemble(networks).classify(test.images) == test.labels))
    rows.append({"variant": ENSEMBLE, "n": len(networks), "mean": ensemble_accuracy, "std": 0.0,
                 "accuracies": [ensemble_accuracy], "train_minus_test": None,
                 "seconds_per_epoch": rows[-1]["seconds_per_epoch"] * len(networks),
                 "config": rows[-1]["config"]})
    curves = plot_ablation_curves({variant_name(name): run for name, run in runs.items()},
                                  out_dir / FIGURES["curves"].file)
    options = augmentation_for_config(configs[ALL].replace(elastic_alpha=2.0))
    grid = plot_augmented_digits(dataset.train.images, dataset.train.labels, options,
                                 out_dir / FIGURES["augmented"].file)
    return {"epochs": epochs, "seeds": seeds, "samples": samples, "rows": rows, "runs": runs,
            "best_epochs": preset("best").epochs,
            "augmentation": options.to_dict(),
            "figures": {"curves": str(curves), "augmented": str(grid)}}


def _summarise(name: str, seeds_run: list[dict[str, Any]], config: dict) -> dict[str, Any]:
    accuracies = [run["test_accuracy"] for run in seeds_run]
    return {
        "variant": name, "n": len(accuracies), "mean": statistics.mean(accuracies),
        "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "accuracies": accuracies,
        "seconds_per_epoch": statistics.median(run["seconds_per_epoch"] for run in seeds_run),
        # the last epoch's running training accuracy minus the test accuracy (overfitting)
        "train_minus_test": statistics.mean(run["train_accuracy"][-1] - run["test_accuracy"]
                                            for run in seeds_run),
        "config": config,
    }
