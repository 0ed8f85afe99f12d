"""The README's Python examples as one script, which runs and which ``mypy --strict`` accepts.

Each function is one example of the README, with the types of what it gets back written out,
so that a type checker holds digitlab's signatures to them::

    python examples/readme_api.py --out readme-runs            # the README's settings
    python examples/readme_api.py --out readme-runs --quick    # tiny settings, in seconds
    mypy --strict examples/readme_api.py

The test suite does both (``tests/test_typing.py``), on the tiny settings.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime  # type: ignore[import-untyped]  # onnxruntime ships no type information
from matplotlib.figure import Figure

import digitlab as dl

#: what --quick changes in the README's calls: a network of 16 hidden units trained one epoch
#: on 500 digits, an analysis with 20 images of each non-digit kind and no figures, dreams of
#: 30 steps
QUICK_TRAINING: dict[str, Any] = {"epochs": 1, "hidden": [16], "max_train_samples": 500,
                                  "trace_every": 100}
QUICK_NONDIGITS, QUICK_DREAM_STEPS = 20, 30


def from_python_and_jupyter(out: Path, quick: bool = False) -> Path:
    """The README's "From Python and Jupyter": train the assignment's network, plot its
    history, read its evaluation, analyse it, dream, and export it; returns the ONNX file."""
    settings = QUICK_TRAINING if quick else {"epochs": 3}
    run: dl.TrainResult = dl.train(dl.presets.assignment, out=out / "runs" / "a",
                                   progress=not quick, **settings)  # equations (1)-(2)
    curves: Figure = run.history.plot()  # E and accuracy per epoch and while training
    evaluation: dl.Evaluation | None = run.evaluation  # test accuracy, confusion matrix
    analysis: dict[str, Any] = dl.analyze(run, out=out / "analysis", retrain=0,
                                          nondigits=QUICK_NONDIGITS if quick else 500,
                                          progress=not quick, figures=not quick)
    dreams: dl.Dreams = dl.dream(run, digit="all",  # equation (3)
                                 steps=QUICK_DREAM_STEPS if quick else None)
    model_file: Path = dl.export(run, out / "model.onnx")  # the network outside digitlab

    assert evaluation is not None and 0.0 <= evaluation.accuracy <= 1.0
    assert len(curves.axes) == 4 and "worst_digit" in analysis
    assert dreams.images.shape == (10, 784)
    print(f"trained {run!r}; dreamed {dreams!r}; exported {model_file}")
    return model_file


def networks_that_know_what_they_dont_know(run_dir: Path) -> np.ndarray:
    """The README's ``dl.load_model(run).model.probabilities(images)``: probabilities as the
    model gives them (calibrated when it was), (N, 10)."""
    saved: dl.SavedModel = dl.load_model(run_dir)
    test = dl.load_dataset().test
    assert test is not None  # None only for a split not required, and the test split is
    images = test.images[:5]  # (5, 784) in [0, 1]
    probabilities: np.ndarray = saved.model.probabilities(images)
    return probabilities


def outside_digitlab(model_file: Path) -> np.ndarray:
    """The README's "Outside digitlab: ONNX": the exported network in onnxruntime; returns the
    digit read for each image (N,)."""
    session = onnxruntime.InferenceSession(str(model_file))
    images = np.zeros((1, 784), np.float32)  # (N, 784), pixel / 255, white digit on black
    probabilities, outputs = session.run(["probabilities", "outputs"], {"images": images})
    digit: np.ndarray = probabilities.argmax(axis=1)
    return digit


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("readme-runs"),
                        help="folder for the runs, the analysis and model.onnx "
                             "(default: readme-runs)")
    parser.add_argument("--quick", action="store_true", help="tiny settings (default: off)")
    args = parser.parse_args(argv)
    model_file = from_python_and_jupyter(args.out, quick=args.quick)
    probabilities = networks_that_know_what_they_dont_know(args.out / "runs" / "a")
    print(f"probabilities of 5 test digits: rows sum to {probabilities.sum(axis=1).round(4)}")
    print(f"onnxruntime reads a black image as {outside_digitlab(model_file)}")


if __name__ == "__main__":
    main()
