"""The exported ONNX graph against digitlab itself: agreement and inference time, side by side.

Trains both presets at their real size (``--epochs``, seed 0, on the embedded sample), exports
each, runs the test split through onnxruntime and through ``MLP.probabilities``, and prints the
largest difference of the probabilities, how many images get the same digit, and the median
time of each (``--repeats`` runs, one thread each, the whole test split per run).

    python benchmarks/onnx_agreement.py [--epochs 1] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
from threadpoolctl import threadpool_limits

import digitlab as dl


def median_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(name: str, epochs: int, repeats: int, folder: Path) -> None:
    run = dl.train(dl.presets[name], epochs=epochs, progress=False)
    path = dl.export(run, folder / f"{name}.onnx")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])
    test = dl.load_dataset(seed=run.config.seed).test
    ours = run.network.probabilities(test.images)
    (theirs,) = session.run(["probabilities"], {"images": test.images})
    same = int(np.sum(ours.argmax(axis=1) == theirs.argmax(axis=1)))
    with threadpool_limits(limits=1):
        digitlab_s = median_seconds(lambda: run.network.probabilities(test.images), repeats)
    onnx_s = median_seconds(lambda: session.run(["probabilities"], {"images": test.images}),
                            repeats)
    print(f"{name:<11} {'-'.join(map(str, run.network.sizes)):<16} test accuracy "
          f"{run.evaluation.accuracy:.2%}; max |p_onnx - p_digitlab| "
          f"{np.abs(theirs - ours).max():.2e}; same digit {same}/{len(test.labels)}; "
          f"{len(test.labels)} images: digitlab {1e3 * digitlab_s:.1f} ms, onnxruntime "
          f"{1e3 * onnx_s:.1f} ms (ratio {digitlab_s / onnx_s:.2f}, median of {repeats})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name in ("assignment", "report"):
            compare(name, args.epochs, args.repeats, Path(folder))


if __name__ == "__main__":
    main()
