"""The from-scratch NumPy engine: activations, losses, initialisation, the MLP, optimizers,
and the two training engines (reference and fused).

The engines (:mod:`digitlab.nn.engines`, :mod:`digitlab.nn.fused`) load SciPy's BLAS and
threadpoolctl; they are imported on first use of their names, so that the config, which
imports this package for its choices, stays light.
"""

from digitlab.choices import ENGINE_NAMES as ENGINES
from digitlab.nn.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, get_activation
from digitlab.nn.init import INITS
from digitlab.nn.losses import LOSSES, CrossEntropy, SquaredError, get_loss
from digitlab.nn.network import MLP, ForwardPass
from digitlab.nn.optimizers import OPTIMIZERS, SGD, Adam, make_optimizer
from digitlab.nn.schedules import SCHEDULES, learning_rate

#: names of this package imported on first use, and the module of each
_ENGINE_NAMES = {"EngineChoice": "engines", "ReferenceEngine": "engines",
                 "for_config": "engines", "make_engine": "engines", "FusedEngine": "fused"}

__all__ = [
    "ENGINES", "EngineChoice", "FusedEngine", "ReferenceEngine", "for_config", "make_engine",
    "ForwardPass", "ACTIVATIONS", "HIDDEN_ACTIVATIONS", "INITS", "LOSSES", "MLP", "OPTIMIZERS",
    "SCHEDULES", "SGD", "Adam", "CrossEntropy", "SquaredError", "get_activation", "get_loss",
    "learning_rate", "make_optimizer",
]


def __getattr__(name: str):
    if name not in _ENGINE_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = __import__(f"digitlab.nn.{_ENGINE_NAMES[name]}", fromlist=[name])
    return getattr(module, name)
