"""The from-scratch NumPy engine: activations, losses, initialisation, the MLP, optimizers,
and the two training engines (reference and fused)."""

from digitlab.nn.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, get_activation
from digitlab.nn.engines import ENGINES, ReferenceEngine, make_engine
from digitlab.nn.fused import FusedEngine
from digitlab.nn.init import INITS
from digitlab.nn.losses import LOSSES, CrossEntropy, SquaredError, get_loss
from digitlab.nn.network import MLP, ForwardPass
from digitlab.nn.optimizers import OPTIMIZERS, SGD, Adam, make_optimizer
from digitlab.nn.schedules import SCHEDULES, learning_rate

__all__ = [
    "ENGINES", "FusedEngine", "ReferenceEngine", "make_engine", "ForwardPass",
    "ACTIVATIONS", "HIDDEN_ACTIVATIONS", "INITS", "LOSSES", "MLP", "OPTIMIZERS", "SCHEDULES",
    "SGD", "Adam", "CrossEntropy", "SquaredError", "get_activation", "get_loss",
    "learning_rate", "make_optimizer",
]
