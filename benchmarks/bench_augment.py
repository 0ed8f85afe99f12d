"""Seconds per epoch of the ``report`` network with and without augmentation, side by side.

The augmented digits are made in a background thread while the training step runs, so an epoch
should take at most about 15 % longer than one without. Each round trains one epoch of each
variant in turn (same process, same data, same seed) and the medians over ``--repeats`` rounds
are compared:

- ``plain``: the ``report`` preset (784-1024-1024-10 swish, Adam, batch 32);
- ``affine``: the same with the ``best`` preset's random affine distortions;
- ``affine+elastic``: also elastic distortion (α = 2 px, σ = 4 px).

Also printed: the processor time of each epoch (all threads, the augmentation thread included:
a measure of the extra work that a busy, shared machine does not blur the way it blurs wall
time), and the time to augment the epoch's digits alone, in the foreground.

    python benchmarks/bench_augment.py [--repeats 5] [--samples 9001]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from digitlab.config import preset
from digitlab.data import load_dataset
from digitlab.data.augment import augment
from digitlab.training import augmentation_for_config, train

VARIANTS = {
    "plain": {},
    "affine": {name: getattr(preset("best"), name) for name in (
        "augment_rotation", "augment_scale", "augment_shear", "augment_shift")},
}
VARIANTS["affine+elastic"] = {**VARIANTS["affine"], "elastic_alpha": 2.0, "elastic_sigma": 4.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=0, help="training digits (0: all)")
    args = parser.parse_args()
    dataset = load_dataset("mnist-sample", seed=0)
    base = preset("report").replace(epochs=1, max_train_samples=args.samples)
    n = len(dataset.train.labels) if not args.samples else args.samples
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    processor: dict[str, list[float]] = {name: [] for name in VARIANTS}
    train(base.replace(**VARIANTS["affine"], max_train_samples=64), dataset, progress=False)
    for round_ in range(args.repeats):
        for name, changes in VARIANTS.items():
            start = time.process_time()
            result = train(base.replace(**changes), dataset, progress=False)
            processor[name].append(time.process_time() - start)
            seconds[name].append(result.history.epochs[0]["seconds"])
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in
                                                   seconds.items()), flush=True)
    plain = statistics.median(seconds["plain"])
    plain_cpu = statistics.median(processor["plain"])
    print(f"\nreport network, one epoch of {n} embedded digits, median of {args.repeats}:")
    for name, values in seconds.items():
        median, cpu = statistics.median(values), statistics.median(processor[name])
        print(f"  {name:<15} {median:6.2f} s/epoch (ratio to plain {median / plain:.3f})   "
              f"processor {cpu:6.2f} s (ratio {cpu / plain_cpu:.3f}, with evaluation)")
    images = dataset.train.images[:n]
    for name in ("affine", "affine+elastic"):
        options = augmentation_for_config(base.replace(**VARIANTS[name]))
        start = time.perf_counter()
        augment(images, options, np.random.default_rng(0))
        print(f"  augmenting the {n} digits alone ({name}, foreground): "
              f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
