"""The names a training config may choose from, as plain tuples that load without NumPy.

The engine's registries (``ACTIVATIONS`` in :mod:`digitlab.nn.activations`, ``LOSSES``,
``OPTIMIZERS``, ``INITS``, ``SCHEDULES``, ``ENGINES``) map these names to the code that
implements them; they import NumPy, and :mod:`digitlab.config` must not (``dl.presets`` and
``digitlab train --help`` stay fast). A test holds each tuple equal to its registry, so a name
added to one and forgotten in the other fails at once.
"""

from __future__ import annotations

#: activations of any layer (equation (1)'s f); softmax only at the output
ACTIVATION_NAMES = ("tanh", "sigmoid", "relu", "swish", "linear", "softmax")
#: activations a hidden layer may have
HIDDEN_ACTIVATION_NAMES = ("tanh", "sigmoid", "relu", "swish", "linear")
#: the error E: ½‖y − t‖² with ±1 targets, or softmax cross-entropy
LOSS_NAMES = ("mse", "ce")
OPTIMIZER_NAMES = ("sgd", "adam")
#: learning-rate schedules η(epoch)
SCHEDULE_NAMES = ("constant", "step", "cosine", "warmup", "onecycle")
#: initial weights
INIT_NAMES = ("gaussian", "glorot", "he")
#: how a training step is computed (the same maths either way)
ENGINE_NAMES = ("reference", "fused")
#: floating-point types of the parameters
DTYPE_NAMES = ("float32", "float64")
#: adversarial training: none, projected gradient ascent in the L2 or L∞ ball, or one signed step
ATTACKS = ("none", "pgd-l2", "pgd-linf", "fgsm")
