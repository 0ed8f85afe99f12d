"""The from-scratch NumPy engine: activations, losses, initialisation, the MLP, optimizers."""

from digitlab.nn.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, get_activation
from digitlab.nn.init import INITS
from digitlab.nn.losses import LOSSES, CrossEntropy, SquaredError, get_loss
from digitlab.nn.network import MLP, Trace
from digitlab.nn.optimizers import OPTIMIZERS, SGD, Adam, make_optimizer
from digitlab.nn.schedules import SCHEDULES, learning_rate

__all__ = [
    "ACTIVATIONS", "HIDDEN_ACTIVATIONS", "INITS", "LOSSES", "MLP", "OPTIMIZERS", "SCHEDULES",
    "SGD", "Adam", "CrossEntropy", "SquaredError", "Trace", "get_activation", "get_loss",
    "learning_rate", "make_optimizer",
]
