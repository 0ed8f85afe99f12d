"""Time loading the 60,000 Fashion-MNIST training images through the public API.

Reads ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``): gunzip,
IDX validation and scaling to float32 in [0, 1], shape (60000, 784). Prints the median of 5 runs.

    python benchmarks/bench_data_load.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from digitlab.data import load_dataset

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
RUNS = 5


def main() -> int:
    if not FASHION_DIR.is_dir():
        print(f"skipped: {FASHION_DIR} not found (apt-get install dataset-fashion-mnist)")
        return 0
    seconds = []
    for _ in range(RUNS):
        start = time.perf_counter()
        ds = load_dataset("fashion-mnist", FASHION_DIR, require=("train",))
        seconds.append(time.perf_counter() - start)
        if ds.train.images.shape != (60000, 784):
            raise SystemExit(f"unexpected shape {ds.train.images.shape}")
        del ds
    print(f"fashion-mnist train, 60000 x 784 float32: median {statistics.median(seconds):.3f} s "
          f"over {RUNS} runs (min {min(seconds):.3f}, max {max(seconds):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
