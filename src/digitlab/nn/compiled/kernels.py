"""Every compiled kernel, imported together once Numba is known to load."""

from digitlab.nn.compiled.network_kernels import (  # noqa: F401
    ACTIVATION_CODES,
    LOSS_CODES,
    sgd_per_sample,
)


import numpy as np  # noqa: E402
from numba import get_num_threads  # noqa: E402


class PerSampleSGD:
    """Per-sample SGD of one network through :func:`sgd_per_sample`, with its scratch arrays.

    ``run(images, targets, order, rates)`` trains on ``images[order]`` in place and returns
    ``(done, losses, predicted)``; see :func:`sgd_per_sample`.
    """

    def __init__(self, network, loss_name: str):
        self.network = network
        sizes = network.sizes
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.offsets = np.asarray(network.offsets, dtype=np.int64)
        self.codes = np.asarray([ACTIVATION_CODES[n] for n in network.activation_names],
                                dtype=np.int64)
        self.loss_code = LOSS_CODES[loss_name]
        dtype = network.dtype
        self.ys = np.zeros((2, sum(sizes)), dtype=dtype)
        self.zs = np.zeros(sum(sizes[1:]), dtype=dtype)
        self.deltas = np.zeros_like(self.zs)

    def run(self, images, targets, order, rates):
        net = self.network
        losses = np.empty(len(order), dtype=np.float64)
        predicted = np.empty(len(order), dtype=np.int64)
        done = sgd_per_sample(
            net.params, self.sizes, self.offsets, self.codes, net.has_bias, self.loss_code,
            images, targets, np.asarray(order, dtype=np.int64),
            np.asarray(rates, dtype=np.float64), losses, predicted, self.ys, self.zs,
            self.deltas, get_num_threads())
        return done, losses[:done], predicted[:done]
