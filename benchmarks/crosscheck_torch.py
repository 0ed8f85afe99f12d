"""Cross-check the engine against PyTorch in float64: same network, weights, batches and
optimizer, then the largest difference between the two sets of weights.

- ``report``: 784-1024-1024-10 swish with biases, softmax cross-entropy, Adam η = 0.001,
  batch 32 (digitlab's ``fused.backward_update`` on two threads, with the NumPy kernels and
  with the compiled ones).
- ``assignment``: 784-784-10 tanh without biases, ½‖y − t‖² with ±1 targets, SGD η = 0.01,
  batch 1 (digitlab's per-sample ``fused.sgd_step``, and the compiled per-sample loop, which
  takes the first layer in blocks of samples).

Random inputs in [0, 1] stand in for images; the check is about arithmetic, not accuracy.
Needs ``pip install torch==2.13.0``.

    python benchmarks/crosscheck_torch.py [--steps 100]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from digitlab.nn import MLP, SGD, Adam, compiled, fused, get_loss

KERNELS = {"numpy": fused.KERNELS["numpy"]}
if compiled.load() is not None:
    KERNELS["compiled"] = compiled.load().NumbaKernels()


def torch_model(net: MLP, activation) -> torch.nn.Sequential:
    """A PyTorch copy of ``net`` (float64): Linear layers with the same weights and biases."""
    layers = []
    for l, W in enumerate(net.weights):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], bias=net.has_bias, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            if net.has_bias:
                linear.bias.copy_(torch.from_numpy(net.biases[l]))
        layers.append(linear)
        if l < net.n_layers - 1 or activation is torch.nn.Tanh:
            layers.append(activation())
    return torch.nn.Sequential(*layers)


def largest_difference(net: MLP, model: torch.nn.Sequential) -> float:
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    worst = 0.0
    for l, linear in enumerate(linears):
        worst = max(worst, np.abs(net.weights[l] - linear.weight.detach().numpy()).max())
        if net.has_bias:
            worst = max(worst, np.abs(net.biases[l] - linear.bias.detach().numpy()).max())
    return float(worst)


def report(steps: int, rng: np.random.Generator, kernels) -> float:
    net = MLP([784, 1024, 1024, 10], ["swish", "swish", "softmax"], bias=True,
              dtype=np.float64, rng=rng)
    model = torch_model(net, torch.nn.SiLU)
    loss, optimizer = get_loss("ce"), Adam(0.001)
    torch_optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    for _ in range(steps):
        x = rng.random((32, 784))
        labels = rng.integers(0, 10, 32)
        with threadpool_limits(1):
            fp = kernels.forward(net, x, 2)
            kernels.backward_update(net, fp, net.targets(labels, loss), loss, optimizer, None, 2)
        torch_optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(torch.from_numpy(x)),
                                          torch.from_numpy(labels)).backward()
        torch_optimizer.step()
    return largest_difference(net, model)


def assignment(steps: int, rng: np.random.Generator, kernels) -> float:
    net = MLP([784, 784, 10], ["tanh", "tanh"], bias=False, dtype=np.float64, rng=rng)
    model = torch_model(net, torch.nn.Tanh)
    loss, optimizer = get_loss("mse"), SGD(0.01)
    torch_optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images = rng.random((steps, 784))
    targets = net.targets(rng.integers(0, 10, steps), loss)
    if kernels.per_sample_loop:  # the compiled loop: all the samples in one call
        with threadpool_limits(1):
            kernels.sgd_samples(net, images, targets, np.arange(steps), [optimizer.lr] * steps,
                                loss, 2)
    for x, t in zip(images, targets, strict=True):
        x, t = x[np.newaxis], t[np.newaxis]
        if not kernels.per_sample_loop:
            fused.sgd_step(net, net.forward(x), t, loss, optimizer.lr)
        torch_optimizer.zero_grad()
        (0.5 * ((model(torch.from_numpy(x)) - torch.from_numpy(t)) ** 2).sum()).backward()
        torch_optimizer.step()
    return largest_difference(net, model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(2)
    for name, check in (("report", report), ("assignment", assignment)):
        for kind, kernels in KERNELS.items():
            difference = check(args.steps, np.random.default_rng(0), kernels)
            print(f"{name}, {kind} kernels: {args.steps} steps in float64, largest weight "
                  f"difference digitlab - PyTorch: {difference:.2e}")


if __name__ == "__main__":
    main()
