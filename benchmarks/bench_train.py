"""Seconds per training epoch: digitlab against PyTorch on the CPU, side by side in one run.

Same model, data, batch size, loss, optimizer and thread count. Each measurement runs in its own
process (so peak memory is that implementation's own), implementations alternate, and the median
of ``--repeats`` runs is reported with the ratio digitlab / PyTorch.

Cases:
- ``report``: 784-1024-1024-10 swish, softmax cross-entropy, Adam η = 0.001, batch 32,
  2 threads. PyTorch with ``Adam(fused=True)`` (its fastest) and with the default Adam.
- ``assignment``: 784-784-10 tanh, ½‖y − t‖² with ±1 targets, SGD η = 0.01, batch 1, no bias,
  1 thread (the fastest setting for both at this size). PyTorch idiomatic (autograd +
  ``optim.SGD``) and hand-written (``addmv`` / ``addr_``, no autograd).

Data: Fashion-MNIST's 60,000 training images (MNIST's exact shapes), from
``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``) or ``--data DIR``.
Needs ``pip install torch==2.13.0``.

    python benchmarks/bench_train.py [--case report|assignment|all] [--repeats 3] [--samples N]

``--samples`` times a prefix of the data and scales to 60,000 images per epoch.

digitlab's matrix products run in NumPy's OpenBLAS, which picks its kernels for the CPU unless
``OPENBLAS_CORETYPE`` says otherwise; the kernels used are printed first. They matter: on an
AVX-512 CPU, forcing ``OPENBLAS_CORETYPE=Haswell`` (AVX2) made the ``report`` case about 1.2x
slower. PyTorch brings its own kernels.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

FASHION = "/usr/share/datasets/fashion-mnist"
EPOCH = 60_000


def load(data_dir: str, samples: int):
    from digitlab.data import load_dataset

    dataset = load_dataset("fashion-mnist", data_dir, require=("train",))
    return dataset.train.images[:samples], dataset.train.labels[:samples]


def run_digitlab(case: str, images, labels) -> float:
    from types import SimpleNamespace

    from digitlab.config import preset
    from digitlab.train import train

    config = preset(case).replace(epochs=1, dataset="fashion-mnist")
    data = SimpleNamespace(train=SimpleNamespace(images=images, labels=labels), test=None,
                           validation=None)
    start = time.perf_counter()
    train(config, data, progress=False)
    return time.perf_counter() - start


def run_torch(case: str, variant: str, images, labels) -> float:
    import numpy as np
    import torch

    torch.manual_seed(0)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)
    order = torch.randperm(len(labels))
    if case == "report":
        torch.set_num_threads(2)
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 1024), torch.nn.SiLU(), torch.nn.Linear(1024, 1024),
            torch.nn.SiLU(), torch.nn.Linear(1024, 10))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=(variant == "fused"))
        loss_fn = torch.nn.CrossEntropyLoss()
        start = time.perf_counter()
        for i in range(0, len(labels), 32):
            index = order[i:i + 32]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x_all[index]), y_all[index]).backward()
            optimizer.step()
        return time.perf_counter() - start

    torch.set_num_threads(1)
    targets = -torch.ones(len(labels), 10)
    targets[torch.arange(len(labels)), y_all] = 1.0
    w0 = torch.randn(784, 784) * np.sqrt(2 / 784)
    w1 = torch.randn(10, 784) * np.sqrt(2 / 784)
    if variant == "autograd":
        model = torch.nn.Sequential(torch.nn.Linear(784, 784, bias=False), torch.nn.Tanh(),
                                    torch.nn.Linear(784, 10, bias=False), torch.nn.Tanh())
        with torch.no_grad():
            model[0].weight.copy_(w0)
            model[2].weight.copy_(w1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        start = time.perf_counter()
        for i in order.tolist():
            optimizer.zero_grad(set_to_none=True)
            loss = 0.5 * ((model(x_all[i]) - targets[i]) ** 2).sum()
            loss.backward()
            optimizer.step()
        return time.perf_counter() - start
    # hand-written: equations (1)-(2) with in-place BLAS calls, no autograd
    start = time.perf_counter()
    with torch.no_grad():
        for i in order.tolist():
            x, t = x_all[i], targets[i]
            h = torch.tanh(w0 @ x)
            y = torch.tanh(w1 @ h)
            d1 = (t - y) * (1 - y * y)
            d0 = (w1.t() @ d1) * (1 - h * h)
            w1.addr_(d1, h, alpha=0.01)
            w0.addr_(d0, x, alpha=0.01)
    return time.perf_counter() - start


def child(args) -> None:
    images, labels = load(args.data, args.samples)
    if args.impl == "digitlab":
        seconds = run_digitlab(args.case, images, labels)
    else:
        seconds = run_torch(args.case, args.impl.split(":")[1], images, labels)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds * EPOCH / len(labels), "peak_mb": peak_mb}))


IMPLEMENTATIONS = {
    "report": ["digitlab", "torch:fused", "torch:default"],
    "assignment": ["digitlab", "torch:handwritten", "torch:autograd"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["report", "assignment", "all"], default="all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=EPOCH)
    parser.add_argument("--data", default=FASHION)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.impl:
        return child(args)
    import numpy  # noqa: F401 - loads NumPy's BLAS, for threadpool_info to see
    from threadpoolctl import threadpool_info

    kernels = sorted({pool.get("architecture") or "?" for pool in threadpool_info()
                      if pool["user_api"] == "blas"})
    print(f"NumPy's BLAS kernels: {', '.join(kernels) or 'unknown'}")
    cases = ["report", "assignment"] if args.case == "all" else [args.case]
    for case in cases:
        results = {impl: [] for impl in IMPLEMENTATIONS[case]}
        for _ in range(args.repeats):
            for impl in IMPLEMENTATIONS[case]:  # alternate, so drifts in load hit all alike
                out = subprocess.run(
                    [sys.executable, __file__, "--case", case, "--impl", impl, "--samples",
                     str(args.samples), "--data", args.data],
                    check=True, capture_output=True, text=True, env=os.environ,
                ).stdout
                results[impl].append(json.loads(out.strip().splitlines()[-1]))
        ours = statistics.median(r["seconds"] for r in results["digitlab"])
        print(f"\n{case}: seconds per epoch of 60,000 images (median of {args.repeats}, "
              f"measured on {args.samples} images)")
        print(f"{'implementation':<20}{'s/epoch':>10}{'peak MB':>10}{'digitlab / it':>16}")
        for impl, runs in results.items():
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = statistics.median(r["peak_mb"] for r in runs)
            print(f"{impl:<20}{seconds:>10.2f}{peak:>10.0f}{ours / seconds:>16.2f}")


if __name__ == "__main__":
    main()
