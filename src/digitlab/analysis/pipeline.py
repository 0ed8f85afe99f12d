"""``analyze``: the whole analysis of a trained network, written to a folder.

It answers the assignment's questions with numbers and figures: which digits the network
confuses most and which it determines worst (on the test split), what its mistakes look like
(so a reader can judge whether a person would make them too), how much all of this changes when
the same configuration is trained again with other seeds, what the data looks like, and what
the network answers to images that are not digits.

Output: ``analysis.json`` (numbers and findings; schema in :func:`analyze`) and the PNG figures
of :data:`digitlab.analysis.figures.FIGURES`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.analysis.balance import class_balance
from digitlab.analysis.confusion import confusion_analysis
from digitlab.analysis.figures import draw_figures
from digitlab.analysis.findings import findings_sentences
from digitlab.analysis.mistakes import mistake_summary
from digitlab.analysis.nondigits import load_fashion_images, make_nondigit_sets
from digitlab.analysis.ood import CONFIDENT, separation, summarize_answers
from digitlab.analysis.responses import Responses, respond
from digitlab.analysis.retrain import retrain_variance, retraining_seeds
from digitlab.calibration import calibration_fields, calibration_of
from digitlab.config import TrainConfig
from digitlab.data import load_run_dataset
from digitlab.errors import DataError
from digitlab.fileio import write_json
from digitlab.formatting import to_json
from digitlab.loading import load_any
from digitlab.nn.network import MLP

ANALYSIS_FILE = "analysis.json"


def analyze(
    model_or_network: Any,
    dataset: Any = None,
    out_dir: str | os.PathLike = "analysis",
    *,
    retrain: int = 5,
    config: TrainConfig | None = None,
    progress: bool = True,
    seed: int = 0,
    retrain_epochs: int | None = None,
    nondigit_count: int = 500,
    figures: bool = True,
) -> dict[str, Any]:
    """Analyse a trained network; write ``analysis.json`` and the figures to ``out_dir``.

    Parameters
    ----------
    model_or_network : MLP, SavedModel, TrainResult, or a path to a model file or run folder
    dataset : Dataset, optional
        Needs ``train`` and ``test`` splits. Default: the dataset of ``config`` (the model's saved
        config), loaded with its seed and fractions, so the test split is the one held out when
        the network was trained.
    retrain : int
        Retrain the same configuration with this many other seeds (0: skip). Needs a config.
    config : TrainConfig, optional
        Overrides the config saved with the model.
    seed : int
        Seeds the non-digit images and the choice of retraining seeds.
    retrain_epochs : int, optional
        Epochs of each retraining (default: the config's).
    nondigit_count : int
        Images generated of each non-digit kind.
    figures : bool
        Draw the figures (most of the time an analysis takes); False writes the numbers and
        the findings alone.

    Returns
    -------
    dict
        What ``analysis.json`` holds: ``model``, ``dataset``, ``seed``, ``accuracy``,
        ``n_test``, ``n_mistakes``, ``confusion_matrix`` (10×10 counts, rows = true digit),
        ``confusion_shares``, ``per_digit``, ``worst_digit``, ``best_digit``,
        ``lowest_precision_digit``, ``confused_pairs``, ``confused_pairs_either_way``,
        ``mistakes_by_true_digit``, ``mistakes_by_predicted_digit``, ``mistakes``, ``data``,
        ``confident_threshold``, ``real_digits``, ``nondigits`` (kind -> summary with
        ``auroc``), ``nondigits_skipped``, ``retraining`` (None when skipped),
        ``retraining_skipped``, ``findings`` (sentences), ``figures`` (key -> file name).
    """
    network, config, model_path = resolve_model(model_or_network, config)
    if dataset is None:
        dataset = load_run_dataset(config if config is not None else TrainConfig())
    if dataset.train is None or dataset.test is None or len(dataset.test.labels) == 0:
        raise DataError("the analysis needs a dataset with a training and a non-empty test split")
    out_dir = Path(out_dir)
    test = dataset.test
    answers = respond(network, test.images)

    analysis: dict[str, Any] = {
        "model": model_info(network, config, model_path),
        "dataset": {"name": getattr(dataset, "name", None), "n_train": len(dataset.train.labels),
                    "n_test": len(test.labels)},
        "seed": seed,
        **confusion_analysis(test.labels, answers.predicted),
        "mistakes": mistake_summary(test.labels, answers.predicted, answers.confidence,
                                    answers.second_choice),
        "data": class_balance(dataset.train.labels, test.labels),
        "confident_threshold": CONFIDENT,
        "real_digits": summarize_answers(answers),
    }
    sets, set_answers, skipped = _study_nondigits(network, test, answers, analysis,
                                                  nondigit_count, seed)
    analysis["nondigits_skipped"] = skipped
    analysis["retraining"], analysis["retraining_skipped"] = _retrain(
        config, dataset, retrain, seed, retrain_epochs, progress)
    analysis["findings"] = findings_sentences(analysis)
    analysis["figures"] = (draw_figures(out_dir, analysis, dataset, answers, sets, set_answers)
                           if figures else {})
    analysis = to_json(analysis)
    write_json(out_dir / ANALYSIS_FILE, analysis)
    return analysis


def resolve_model(model: Any, config: TrainConfig | None) -> tuple[MLP, TrainConfig | None,
                                                                   str | None]:
    """(network, config, model file) from a network, a loaded model, a train result or a path."""
    if isinstance(model, (str, os.PathLike)):
        model = load_any(model)
    if isinstance(model, MLP):
        return model, config, None
    path = getattr(model, "path", None) or getattr(model, "run_dir", None)
    network = getattr(model, "model", model.network)  # a saved model fed as it was trained
    return network, config or model.config, str(path) if path else None


def model_info(network: MLP, config: TrainConfig | None, path: str | None) -> dict[str, Any]:
    return {
        "path": path,
        "sizes": network.sizes,
        "activations": network.activation_names,
        "output_activation": network.output_activation.name,
        "loss": config.loss if config is not None else None,
        "config": config.to_dict() if config is not None else None,
        **calibration_fields(calibration_of(network)),
    }


def _study_nondigits(network, test, answers: Responses, analysis, n: int, seed: int):
    """Generate every non-digit kind, run the network on it, add the summaries to
    ``analysis["nondigits"]``; returns (sets, their responses, skipped kinds with reasons)."""
    skipped: dict[str, str] = {}
    try:
        fashion = load_fashion_images()
    except DataError as error:
        fashion, skipped["fashion_mnist"] = None, str(error)
    sets = make_nondigit_sets(test.images, test.labels, n, seed, fashion)
    set_answers, summaries = {}, {}
    for name, item in sets.items():
        set_answers[name] = respond(network, item.images)
        summary = {"title": item.kind.title, **summarize_answers(set_answers[name]),
                   **separation(answers, set_answers[name]), "same_as_source": None}
        if item.source_labels is not None:
            summary["same_as_source"] = float(
                np.mean(set_answers[name].predicted == item.source_labels))
        summaries[name] = summary
    analysis["nondigits"] = summaries
    return sets, set_answers, skipped


def _retrain(config, dataset, k: int, seed: int, epochs: int | None, progress: bool):
    """(retraining summary or None, reason it was skipped or None)."""
    if k <= 0:
        return None, "not requested (retrain = 0)"
    if config is None:
        return None, "the model holds no training config to retrain"
    seeds = retraining_seeds(seed, k, exclude=config.seed)
    return retrain_variance(config, dataset, seeds, epochs=epochs, progress=progress), None
