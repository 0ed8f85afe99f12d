"""Held-out accuracy of the two presets, as the issue's targets state them.

- embedded sample (a tenth held out, seed 0): ``assignment`` and ``report`` presets, 10 epochs;
- full Fashion-MNIST (official test split): ``report`` preset, 10 epochs (skipped when the
  dataset is not installed: ``apt-get install dataset-fashion-mnist``).

    python benchmarks/bench_accuracy.py [--epochs 10] [--skip-fashion]
"""

from __future__ import annotations

import argparse
import time

from digitlab.config import preset
from digitlab.data import load_dataset
from digitlab.errors import DataError
from digitlab.train import train


def run(name: str, dataset_name: str, epochs: int) -> None:
    config = preset(name).replace(epochs=epochs, dataset=dataset_name)
    dataset = load_dataset(dataset_name, seed=config.seed, test_fraction=config.test_fraction)
    start = time.perf_counter()
    result = train(config, dataset, progress=False)
    seconds = time.perf_counter() - start
    tests = ", ".join(f"{100 * a:.2f}" for a in result.history.column("test_accuracy"))
    print(f"{name:<11} on {dataset_name:<13} {epochs} epochs: test accuracy "
          f"{100 * result.history.final['test_accuracy']:.2f} % ({seconds:.0f} s)\n"
          f"    per epoch: {tests}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--skip-fashion", action="store_true")
    args = parser.parse_args()
    run("assignment", "mnist-sample", args.epochs)
    run("report", "mnist-sample", args.epochs)
    if not args.skip_fashion:
        try:
            run("report", "fashion-mnist", args.epochs)
        except DataError as error:
            print(f"fashion-mnist skipped: {error}")


if __name__ == "__main__":
    main()
