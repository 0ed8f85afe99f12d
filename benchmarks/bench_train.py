"""Seconds per training epoch: digitlab against PyTorch on the CPU, side by side in one run.

Same model, data, batch size, loss, optimizer and thread count. Each measurement runs in its own
process (so peak memory is that implementation's own), implementations alternate, and the median
of ``--repeats`` runs is reported with the ratio digitlab / PyTorch.

Cases:
- ``report``: 784-1024-1024-10 swish, softmax cross-entropy, Adam η = 0.001, batch 32,
  2 threads. PyTorch with ``Adam(fused=True)`` (its fastest) and with the default Adam; the
  ratio is against the fused Adam. Also both on 1 thread (``digitlab:1``, ``torch:fused1``):
  on a machine whose cores are busy with other work, PyTorch's waiting threads spin and its
  2-thread runs slow down many times over.
- ``assignment``: 784-784-10 tanh, ½‖y − t‖² with ±1 targets, SGD η = 0.01, batch 1, no bias.
  PyTorch idiomatic (autograd + ``optim.SGD``) and hand-written (``addmv`` / ``addr_``, no
  autograd) on 1 and on 2 threads; the ratio is against the faster hand-written one.
- ``process``: the whole ``digitlab train --preset assignment --epochs 1`` command (start,
  imports, data, one epoch, evaluation on the test set, saving the run) against the whole
  PyTorch hand-written script (start, imports, data, one epoch), wall time and peak memory of
  each process.

digitlab runs its default engine (``fused``: the compiled kernels) and, as ``digitlab:numpy``,
the same engine with the compiled kernels switched off (``DIGITLAB_COMPILED=0``). digitlab's
epoch is timed after a few warm-up steps in the same process (loading or compiling the kernels
is not counted, as PyTorch's loop is timed alone); ``process`` shows the whole cost.

Besides wall time the CPU time of each run is shown (all threads together): on a machine shared
with other work, wall time measures the share of the cores a process got as much as its work.

Data: Fashion-MNIST's 60,000 training images (MNIST's exact shapes), from
``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``) or ``--data DIR``.
Needs ``pip install torch==2.13.0``.

    python benchmarks/bench_train.py [--case report|assignment|process|all] [--repeats 3]
                                     [--samples N] [--skip torch:autograd,...]

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


def run_digitlab(case: str, images, labels) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process) of one epoch over ``images``."""
    from types import SimpleNamespace

    from digitlab.config import preset
    from digitlab.training import train

    config = preset(case).replace(epochs=1, dataset="fashion-mnist")
    data = SimpleNamespace(train=SimpleNamespace(images=images, labels=labels), test=None,
                           validation=None)
    # First a few steps, so that loading the compiled kernels (and compiling them, the first
    # time) is not counted: the epoch's own time is compared, as PyTorch's loop is timed alone.
    train(config.replace(max_train_samples=256), data, progress=False)
    cpu = time.process_time()
    seconds = train(config, data, progress=False).history.epochs[0]["seconds"]
    return seconds, time.process_time() - cpu


def run_torch(case: str, variant: str, images, labels) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one epoch over ``images``."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    threads = int(variant[-1]) if variant[-1].isdigit() else None  # e.g. "fused1"
    variant = variant.rstrip("12")
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)
    order = torch.randperm(len(labels))
    if case == "report":
        torch.set_num_threads(threads or 2)
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 1024), torch.nn.SiLU(), torch.nn.Linear(1024, 1024),
            torch.nn.SiLU(), torch.nn.Linear(1024, 10))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=(variant == "fused"))
        loss_fn = torch.nn.CrossEntropyLoss()
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(labels), 32):
            index = order[i:i + 32]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x_all[index]), y_all[index]).backward()
            optimizer.step()
        return time.perf_counter() - start, time.process_time() - cpu

    torch.set_num_threads(threads or 1)
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
        start, cpu = time.perf_counter(), time.process_time()
        for i in order.tolist():
            optimizer.zero_grad(set_to_none=True)
            loss = 0.5 * ((model(x_all[i]) - targets[i]) ** 2).sum()
            loss.backward()
            optimizer.step()
        return time.perf_counter() - start, time.process_time() - cpu
    # hand-written: equations (1)-(2) with in-place BLAS calls, no autograd
    start, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        for i in order.tolist():
            x, t = x_all[i], targets[i]
            h = torch.tanh(w0 @ x)
            y = torch.tanh(w1 @ h)
            d1 = (t - y) * (1 - y * y)
            d0 = (w1.t() @ d1) * (1 - h * h)
            w1.addr_(d1, h, alpha=0.01)
            w0.addr_(d0, x, alpha=0.01)
    return time.perf_counter() - start, time.process_time() - cpu


def child(args) -> None:
    images, labels = load(args.data, args.samples)
    if args.impl.startswith("digitlab"):
        seconds, cpu = run_digitlab(args.case, images, labels)
    else:
        seconds, cpu = run_torch(args.case, args.impl.split(":")[1], images, labels)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scale = EPOCH / len(labels)
    print(json.dumps({"seconds": seconds * scale, "cpu": cpu * scale, "peak_mb": peak_mb}))


IMPLEMENTATIONS = {
    "report": ["digitlab", "digitlab:numpy", "torch:fused", "torch:default", "digitlab:1",
               "torch:fused1"],
    "assignment": ["digitlab", "digitlab:numpy", "torch:handwritten", "torch:handwritten2",
                   "torch:autograd"],
    "process": ["digitlab", "digitlab:numpy", "torch:handwritten"],
}
#: the PyTorch versions each case's ratio is taken against (the fastest of them)
PEERS = {"report": ["torch:fused"], "assignment": ["torch:handwritten", "torch:handwritten2"],
         "process": ["torch:handwritten"]}
#: pairs also compared round by round (same threads)
PAIRS = {"report": [("digitlab:1", "torch:fused1")]}


def environment(impl: str) -> dict[str, str]:
    env = dict(os.environ)
    if impl == "digitlab:numpy":
        env["DIGITLAB_COMPILED"] = "0"
    if impl == "digitlab:1":  # training uses as many cores as BLAS may
        env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def measure(case: str, impl: str, args) -> dict[str, float]:
    """Seconds per epoch and peak memory (MB) of one run of ``impl`` in its own process."""
    if case != "process":
        out = subprocess.run(
            [sys.executable, __file__, "--case", case, "--impl", impl, "--samples",
             str(args.samples), "--data", args.data],
            check=True, capture_output=True, text=True, env=environment(impl)).stdout
        return json.loads(out.strip().splitlines()[-1])
    if impl.startswith("digitlab"):
        command = [sys.executable, "-m", "digitlab", "train", "--preset", "assignment",
                   "--dataset", "fashion-mnist", "--data", args.data, "--epochs", "1",
                   "--max-train-samples", str(args.samples), "--out",
                   os.path.join(args.scratch, "run"), "--overwrite", "--quiet"]
    else:
        command = [sys.executable, __file__, "--case", "assignment", "--impl", impl,
                   "--samples", str(args.samples), "--data", args.data]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=environment(impl))
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return {"seconds": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["report", "assignment", "process", "all"],
                        default="all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=EPOCH)
    parser.add_argument("--data", default=FASHION)
    parser.add_argument("--skip", default="",
                        help="implementations to leave out, comma-separated (e.g. torch:autograd)")
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.impl:
        return child(args)
    import shutil
    import tempfile

    args.scratch = tempfile.mkdtemp(prefix="bench_train_")
    try:
        compare(args)
    finally:
        shutil.rmtree(args.scratch, ignore_errors=True)


def compare(args) -> None:
    import numpy  # noqa: F401 - loads NumPy's BLAS, for threadpool_info to see
    from threadpoolctl import threadpool_info

    kernels = sorted({pool.get("architecture") or "?" for pool in threadpool_info()
                      if pool["user_api"] == "blas"})
    print(f"NumPy's BLAS kernels: {', '.join(kernels) or 'unknown'}")
    cases = ["report", "assignment", "process"] if args.case == "all" else [args.case]
    for case in cases:
        skipped = set(args.skip.split(","))
        impls = [impl for impl in IMPLEMENTATIONS[case]
                 if impl not in skipped or impl == "digitlab" or impl in PEERS[case]]
        results = {impl: [] for impl in impls}
        for _ in range(args.repeats):
            for impl in impls:  # alternate, so drifts in load hit all alike
                results[impl].append(measure(case, impl, args))
        medians = {impl: statistics.median(r["seconds"] for r in runs)
                   for impl, runs in results.items()}
        peer = min(PEERS[case], key=medians.__getitem__)
        unit = "s/process" if case == "process" else "s/epoch"
        what = ("seconds per whole process" if case == "process"
                else "seconds per epoch of 60,000 images")
        print(f"\n{case}: {what} (median of {args.repeats}, measured on {args.samples} "
              f"images); ratio against {peer}")
        cpu = {impl: statistics.median(r["cpu"] for r in runs) for impl, runs in results.items()}
        rounds_of = {impl: " ".join(f"{r['seconds']:.2f}" for r in runs)
                     for impl, runs in results.items()}
        width = max(len("rounds"), *map(len, rounds_of.values())) + 2  # any --repeats
        print(f"{'implementation':<20}{unit:>10}{'ratio':>7}{'rounds':>{width}}{'CPU s':>9}"
              f"{'ratio':>7}{'peak MB':>9}")
        for impl, runs in results.items():
            peak = statistics.median(r["peak_mb"] for r in runs)
            print(f"{impl:<20}{medians[impl]:>10.2f}{medians[impl] / medians[peer]:>7.2f}"
                  f"{rounds_of[impl]:>{width}}{cpu[impl]:>9.2f}{cpu[impl] / cpu[peer]:>7.2f}"
                  f"{peak:>9.0f}")
        for mine, other in [("digitlab", peer), *PAIRS.get(case, [])]:
            if mine not in results or other not in results:
                continue
            ours = [r["seconds"] for r in results[mine]]
            theirs = [r["seconds"] for r in results[other]]
            print(f"{mine} / {other}: median {medians[mine] / medians[other]:.2f}, per round "
                  + ", ".join(f"{a / b:.2f}" for a, b in zip(ours, theirs, strict=True)))


if __name__ == "__main__":
    main()
