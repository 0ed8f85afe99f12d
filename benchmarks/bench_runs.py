"""Time ``digitlab runs`` (the run table) over 20 run folders, as a whole process.

Trains 20 small runs once into ``--folder`` (default ``bench-runs``, reused when it holds 20;
784-16-10, learning rates and widths varied, 3 epochs on 1,000 digits, a validation split, so
that each folder holds what a real run holds), then runs ``digitlab runs FOLDER`` ``--repeats``
times in fresh processes and prints the median wall time, with the modules matplotlib and Numba
checked absent from the table's process.

    python benchmarks/bench_runs.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 20
NO_HEAVY = ("import sys\nfrom digitlab.cli import main\nmain(['runs', sys.argv[1]])\n"
            "heavy = sorted(m for m in ('matplotlib', 'numba', 'mlflow', 'tensorboardX') "
            "if m in sys.modules)\nprint('heavy modules:', heavy or 'none', file=sys.stderr)\n")


def make_runs(folder: Path) -> None:
    import digitlab as dl

    for index in range(RUNS):
        lr, width = (0.003, 0.01, 0.03, 0.1)[index % 4], (16, 32, 64, 128, 256)[index // 4]
        out = folder / f"width{width}" / f"lr{lr:g}"
        dl.train(dl.presets.assignment, hidden=[width], lr=lr, epochs=3,
                 max_train_samples=1000, validation_fraction=0.1, trace_every=100, out=out,
                 overwrite=True, progress=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("bench-runs"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if len(list(args.folder.rglob("history.json"))) != RUNS:
        make_runs(args.folder)
    command = [sys.executable, "-m", "digitlab", "runs", str(args.folder)]
    print(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    heavy = subprocess.run([sys.executable, "-c", NO_HEAVY, str(args.folder)], check=True,
                           capture_output=True, text=True).stderr.strip()
    print(f"digitlab runs over {RUNS} runs: median {statistics.median(seconds):.3f} s over "
          f"{args.repeats} processes (min {min(seconds):.3f}, max {max(seconds):.3f}); {heavy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
