"""Where a training step of the ``report`` network spends its time, and why the engine's matrix
products use the column form.

1. One 1024×1024 layer, one thread: the row form ``y @ W.T`` (B, n) against the assignment's
   column form ``W @ y.T`` (n, B), at several batch sizes. The engine uses the column form.
2. Steps of the 784-1024-1024-10 swish network at batch 32 on the training threads: the forward
   pass alone, the step with plain SGD (one multiply-add per parameter) and the step with
   Adam; the differences are the cost of backpropagation with the lightest update, and what
   Adam costs on top of it.

Medians over ``--rounds`` rounds, the variants interleaved so that drifts in load hit all alike.

    python benchmarks/bench_step.py [--rounds 15] [--kernels numba|numpy]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from digitlab.nn import MLP, SGD, Adam, fused, get_loss
from digitlab.nn.parallel import available_cores


def seconds(work, repeat: int) -> float:
    start = time.perf_counter()
    for i in range(repeat):
        work(i)
    return (time.perf_counter() - start) / repeat


def products(rounds: int) -> None:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((1024, 1024)).astype(np.float32)
    print("one 1024x1024 layer, one thread: microseconds per product")
    print(f"{'batch':>6}{'row form':>12}{'column form':>14}{'column / row':>14}")
    for batch in (1, 10, 32, 256):
        y = rng.standard_normal((batch, 1024)).astype(np.float32)
        z, z_columns = np.empty((batch, 1024), np.float32), np.empty((1024, batch), np.float32)
        repeat = max(5, 2000 // batch)
        forms = {
            "row": lambda i, y=y, z=z: np.matmul(y, W.T, out=z),  # (B, n) = (B, n) @ (n, n)
            "column": lambda i, y=y, z=z_columns: np.matmul(W, y.T, out=z),  # (n, B)
        }
        times = {form: [] for form in forms}
        with threadpool_limits(1):
            for _ in range(rounds):
                for form, work in forms.items():
                    times[form].append(seconds(work, repeat))
        row, column = (statistics.median(times[k]) * 1e6 for k in ("row", "column"))
        print(f"{batch:>6}{row:>12.1f}{column:>14.1f}{column / row:>14.2f}")


def steps(rounds: int, kernels_name: str) -> None:
    kernels = fused.KERNELS["numpy"]
    if kernels_name == "numba":
        from digitlab.nn import compiled

        kernels = compiled.load().NumbaKernels()
    fused.prepare_blas()
    rng = np.random.default_rng(0)
    batch, n = 32, 32 * 200
    x = rng.random((n, 784), dtype=np.float32)
    net = MLP([784, 1024, 1024, 10], ["swish", "swish", "softmax"], bias=True,
              dtype=np.float32, rng=rng)
    loss = get_loss("ce")
    t = net.targets(rng.integers(0, 10, n), loss)
    threads = min(2, available_cores())
    adam, sgd = Adam(0.001), SGD(1e-4)

    def batch_of(i):
        lo = (i % 200) * batch
        return x[lo : lo + batch], t[lo : lo + batch]

    def forward(i):
        kernels.forward(net, batch_of(i)[0], threads)

    def backward(optimizer):
        def step(i):
            xb, tb = batch_of(i)
            kernels.backward_update(net, kernels.forward(net, xb, threads), tb, loss,
                                    optimizer, None, threads)
        return step

    variants = {"forward": forward, "step with SGD": backward(sgd),
                "step with Adam": backward(adam)}
    times = {name: [] for name in variants}
    with threadpool_limits(1):
        for _ in range(rounds):
            for name, work in variants.items():
                times[name].append(seconds(work, 20))
    print(f"\nreport network, batch {batch}, {threads} threads, {kernels_name} kernels: "
          "milliseconds per step")
    medians = {name: statistics.median(values) * 1e3 for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:<22}{value:>8.3f}")
    print(f"{'  backward + SGD':<22}{medians['step with SGD'] - medians['forward']:>8.3f}")
    print(f"{'  Adam over SGD':<22}"
          f"{medians['step with Adam'] - medians['step with SGD']:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--kernels", choices=["numba", "numpy"], default="numba",
                        help="the fused engine's kernels (default: the compiled ones)")
    args = parser.parse_args()
    products(args.rounds)
    steps(args.rounds, args.kernels)


if __name__ == "__main__":
    main()
