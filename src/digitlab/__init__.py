"""digitlab: how neural networks read handwritten digits, from a from-scratch NumPy engine.

``import digitlab as dl`` gives the whole lab as functions and objects that show themselves in
a notebook::

    data = dl.load_dataset()                      # the 10,000 shipped MNIST digits
    run = dl.train(dl.presets.assignment, epochs=2, out="runs/a")   # equations (1)-(2)
    run.history.plot(); run.evaluation            # curves; the confusion matrix
    dl.dream(run, digit="all")                    # equation (3): what it sees as each digit
    dl.export(run, "model.onnx")                  # the network outside digitlab
    dl.train(X, y, preset="report")               # your own arrays (N, d), labels 0..K-1

Also ``dl.predict``, ``dl.summary``, ``dl.save_model``, ``dl.ensemble``, ``dl.download``, and
a scikit-learn estimator, :class:`digitlab.sklearn.MLPClassifier`.

Each function is the command of the same name (``digitlab train`` ...), with keyword arguments
named like its flags. For a loop of your own: :class:`MLP` and the engine's pieces,
:mod:`activations`, :mod:`losses`, :mod:`optimizers` (``dl.SGD``, ``dl.Adam``). Names are
imported on first use, so ``import digitlab`` stays fast.
"""

# No typing, importlib or types imports: each would add to the time `import digitlab` takes.
from digitlab.errors import ConfigError, DataError, DigitlabError, ExportError, ModelFileError

__version__ = "0.1.0"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: type checkers read it
if TYPE_CHECKING:  # the names of _LAZY as type checkers and editors see them
    from digitlab.api import (
        Dreams,
        Predictions,
        analyze,
        download,
        dream,
        ensemble,
        evaluate,
        export,
        load_dataset,
        load_model,
        predict,
        presets,
        report,
        save_model,
        summary,
        sweep,
        train,
    )
    from digitlab.config import TrainConfig, parse_list
    from digitlab.data import Dataset
    from digitlab.evaluation import Evaluation
    from digitlab.history import History
    from digitlab.modelio import SavedModel
    from digitlab.nn import activations, losses, optimizers
    from digitlab.nn.activations import get_activation
    from digitlab.nn.losses import get_loss
    from digitlab.nn.network import MLP
    from digitlab.nn.optimizers import SGD, Adam
    from digitlab.runs import compare_runs, list_runs
    from digitlab.tracking import MlflowLogger, TensorBoardLogger
    from digitlab.training import Callbacks, TrainResult

#: public name -> "module" (the attribute of the same name) or "module:attribute".
_LAZY = {
    # the lab, one function per command
    "load_dataset": "digitlab.api",
    "train": "digitlab.api",
    "load_model": "digitlab.api",
    "evaluate": "digitlab.api",
    "analyze": "digitlab.api",
    "dream": "digitlab.api",
    "sweep": "digitlab.api",
    "report": "digitlab.api",
    "export": "digitlab.api",
    "predict": "digitlab.api",
    "summary": "digitlab.api",
    "ensemble": "digitlab.api",
    "download": "digitlab.api",
    "save_model": "digitlab.api",
    "presets": "digitlab.api",
    "Dreams": "digitlab.api",
    "Predictions": "digitlab.api",
    # what runs are made of
    "TrainConfig": "digitlab.config",
    "TrainResult": "digitlab.training",
    "History": "digitlab.history",
    "Evaluation": "digitlab.evaluation",
    "SavedModel": "digitlab.modelio",
    "Dataset": "digitlab.data",
    # the runs of a folder, and logging them
    "list_runs": "digitlab.runs",
    "compare_runs": "digitlab.runs",
    "Callbacks": "digitlab.training",
    "TensorBoardLogger": "digitlab.tracking",
    "MlflowLogger": "digitlab.tracking",
    "parse_list": "digitlab.config",
    # the engine, for a loop of one's own
    "MLP": "digitlab.nn.network",
    "SGD": "digitlab.nn.optimizers",
    "Adam": "digitlab.nn.optimizers",
    "get_activation": "digitlab.nn.activations",
    "get_loss": "digitlab.nn.losses",
    "activations": "digitlab.nn.activations:",
    "losses": "digitlab.nn.losses:",
    "optimizers": "digitlab.nn.optimizers:",
}

__all__ = [
    "Adam", "Callbacks", "ConfigError", "DataError", "Dataset", "DigitlabError", "Dreams",
    "Evaluation", "ExportError", "History", "MLP", "MlflowLogger", "ModelFileError",
    "Predictions", "SGD", "SavedModel", "TensorBoardLogger", "TrainConfig", "TrainResult",
    "__version__", "activations", "analyze", "compare_runs", "download", "dream", "ensemble",
    "evaluate", "export", "get_activation", "get_loss", "list_runs", "load_dataset",
    "load_model", "losses", "optimizers", "parse_list", "predict", "presets", "report",
    "save_model", "summary", "sweep", "train",
]


def __getattr__(name: str) -> object:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'digitlab' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    module = __import__(module_name, fromlist=["__name__"])  # the submodule itself
    value = module if target.endswith(":") else getattr(module, attribute or name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
