"""How long the compiled kernels take to compile the first time, and to load from the disk cache.

Each measurement runs in a fresh process with an empty (first run) or filled (cached start)
``NUMBA_CACHE_DIR`` of its own, so the package's own cache is left alone. Reported: importing
Numba and the kernels, the first call of per-sample SGD (float32, the `assignment` preset's
kind), of the Adam update and of the activations (float32, the `report` preset's), wall and
CPU seconds.

    python benchmarks/bench_compile.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, time
wall, cpu = time.perf_counter(), time.process_time()
def lap():
    global wall, cpu
    now = (time.perf_counter() - wall, time.process_time() - cpu)
    wall, cpu = time.perf_counter(), time.process_time()
    return now
import numpy as np
from digitlab.nn import MLP, Adam, get_loss
from digitlab.nn.compiled import load
kernels = load()
times = {"import": lap()}
net = MLP([784, 32, 10], ["tanh", "tanh"], dtype=np.float32)
x = np.random.default_rng(0).uniform(0, 1, (4, 784)).astype(np.float32)
t = net.targets(np.arange(4), get_loss("mse"))
lap()
kernels.PerSampleSGD(net, "mse").run(x, t, np.arange(4), np.full(4, 0.01))
times["per-sample SGD"] = lap()
update = kernels.CompiledUpdate(Adam())
update.begin_step(net.params, 0.001)
update.update(net.params, np.zeros_like(net.params), 0)
times["Adam update"] = lap()
from digitlab.nn.activations import get_activation
swish, z = get_activation("swish"), np.ones((4, 32), dtype=np.float32)
kernels.CompiledPointwise().backward(swish, z, z, kernels.CompiledPointwise().forward(swish, z))
times["activations"] = lap()
print(json.dumps(times))
"""


def measure(cache_dir: str) -> dict[str, list[float]]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", CHILD], check=True, capture_output=True,
                         text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="numba_cache_") as cache_dir:
            start = time.perf_counter()
            first = measure(cache_dir)
            first_total = time.perf_counter() - start
            start = time.perf_counter()
            cached = measure(cache_dir)
            cached_total = time.perf_counter() - start
        print(f"{'':<16}{'first run: wall s':>19}{'CPU s':>8}{'cached: wall s':>16}{'CPU s':>8}")
        for name in first:
            print(f"{name:<16}{first[name][0]:>19.2f}{first[name][1]:>8.2f}"
                  f"{cached[name][0]:>16.2f}{cached[name][1]:>8.2f}")
        print(f"{'whole process':<16}{first_total:>19.2f}{'':>8}{cached_total:>16.2f}")


if __name__ == "__main__":
    main()
