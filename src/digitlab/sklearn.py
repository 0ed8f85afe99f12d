"""digitlab's network as a scikit-learn estimator: :class:`MLPClassifier`.

It wraps the engine and its presets (:func:`digitlab.training.train`, the same training as
``dl.train``) behind scikit-learn's interface, so it goes into a ``Pipeline``,
``GridSearchCV``, ``cross_val_score`` and ``clone``::

    from digitlab.sklearn import MLPClassifier

    model = MLPClassifier(hidden=(64,), epochs=20, random_state=0).fit(X, y)
    model.predict(X_new); model.predict_proba(X_new); model.score(X_test, y_test)

Needs scikit-learn (``pip install 'digitlab[sklearn]'``); ``import digitlab`` does not load it.

Hyperparameters are the :class:`~digitlab.config.TrainConfig` fields of the same names, each
``None`` by default, meaning the value of ``preset`` (``"assignment"``, ``"report"``,
``"best"``...) or, without one, of :data:`BASE_CONFIG` (one hidden layer of 100 ReLU units,
softmax cross-entropy, Adam at 10⁻³ in batches of 32, 20 epochs). ``random_state`` is the
config's ``seed`` (an int is used as is; None or a ``RandomState`` draws one), so a fit is
deterministic given an int. Labels may be any values (strings, integers with gaps): the
network learns their index in ``classes_``. Quiet unless ``verbose``.

scikit-learn's ``check_estimator`` passes with no check skipped or expected to fail
(``tests/test_sklearn.py`` runs it on ``MLPClassifier(hidden=(16,), epochs=10)``); the data's
held-out test split is turned off (``test_fraction = 0``: scikit-learn holds out its own), so
``fit`` trains on every sample except a ``validation_fraction`` when one is given.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - the extra is not installed
    raise ImportError("digitlab.sklearn needs scikit-learn >= 1.6: pip install "
                      "'digitlab[sklearn]'") from error

from digitlab.config import TrainConfig, preset
from digitlab.data.arrays import dataset_from_arrays
from digitlab.errors import ConfigError, DataError
from digitlab.training import TrainResult, train

#: the configuration of an estimator without a ``preset``: a small network for tabular data
BASE_CONFIG = TrainConfig(
    hidden=[100], activation="relu", output_activation="softmax", loss="ce", optimizer="adam",
    lr=0.001, batch_size=32, epochs=20, init="he", bias=True,
)
#: the estimator's hyperparameters that are TrainConfig fields of the same name
CONFIG_PARAMS = (
    "hidden", "activation", "output_activation", "loss", "optimizer", "lr", "momentum",
    "nesterov", "weight_decay", "schedule", "batch_size", "epochs", "init", "bias", "dtype",
    "dropout", "label_smoothing", "max_norm", "deskew", "validation_fraction",
    "early_stopping", "calibration_fraction", "engine",
)


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """A multilayer perceptron classifier trained by digitlab's engine.

    Parameters
    ----------
    hidden : tuple of int, optional
        Hidden layer widths, e.g. ``(256, 128)``; ``()`` for none.
    activation, output_activation, loss, optimizer, lr, momentum, nesterov, weight_decay, \
schedule, batch_size, epochs, init, bias, dtype, dropout, label_smoothing, max_norm, deskew, \
validation_fraction, early_stopping, calibration_fraction, engine : optional
        The :class:`~digitlab.config.TrainConfig` fields of the same names (see
        ``docs/training-options.md``); ``None``: the preset's value. ``deskew`` (28×28 digits
        only) is applied to every ``X`` the estimator reads, as in training.
    preset : str, optional
        The configuration the others change: a name of ``dl.presets`` (``"assignment"``:
        784-784-10 tanh, per-sample SGD; ``"report"``: Adam, swish...); default
        :data:`BASE_CONFIG`.
    random_state : int, RandomState or None
        The seed of the initial weights, the sample order and the validation split.
    verbose : bool
        Show the progress bars of training.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit`` (or given to the first ``partial_fit``), sorted; output k of
        the network is ``classes_[k]``.
    n_features_in_ : int
        Features per sample; ``feature_names_in_`` too when ``X`` had column names.
    result_ : digitlab.training.TrainResult
        The training: ``result_.network`` (the :class:`~digitlab.nn.MLP`), ``result_.history``,
        ``result_.config``; ``dl.save_model(model.result_, "model.npz")`` and
        ``dl.export(model.result_, "model.onnx")`` write it.
    n_iter_ : int
        Epochs trained.
    """

    def __init__(self, hidden=None, activation=None, output_activation=None, loss=None,
                 optimizer=None, lr=None, momentum=None, nesterov=None, weight_decay=None,
                 schedule=None, batch_size=None, epochs=None, init=None, bias=None, dtype=None,
                 dropout=None, label_smoothing=None, max_norm=None, deskew=None,
                 validation_fraction=None, early_stopping=None, calibration_fraction=None,
                 engine=None, preset=None, random_state=None, verbose=False):
        self.hidden = hidden
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.batch_size = batch_size
        self.epochs = epochs
        self.init = init
        self.bias = bias
        self.dtype = dtype
        self.dropout = dropout
        self.label_smoothing = label_smoothing
        self.max_norm = max_norm
        self.deskew = deskew
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.calibration_fraction = calibration_fraction
        self.engine = engine
        self.preset = preset
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ training
    def fit(self, X, y):
        """Train a fresh network on ``X`` (n_samples, n_features) with labels ``y``
        (n_samples,) of any values; return the estimator."""
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        classes, encoded = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"MLPClassifier needs samples of at least two classes; y holds "
                             f"one class ({classes[0]!r})")
        self.classes_ = classes
        self._train(X, encoded, start=None)
        return self

    def partial_fit(self, X, y, classes=None):
        """Train one more epoch on ``X`` and ``y`` (the first call starts a network).

        ``classes``, every label there will ever be, is needed on the first call unless
        ``y`` holds them all; later calls may hold any of them. Hyperparameters must not
        change between calls.
        """
        first = not hasattr(self, "classes_")
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), reset=first)
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y if classes is None else classes)
            if len(self.classes_) < 2:
                raise ValueError("MLPClassifier needs at least two classes; give them all to "
                                 "the first partial_fit as classes=")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {np.unique(classes)!r} differ from those of the first "
                             f"partial_fit {self.classes_!r}")
        encoded = np.searchsorted(self.classes_, y)
        unknown = (encoded >= len(self.classes_)) | (
            self.classes_[np.minimum(encoded, len(self.classes_) - 1)] != y)
        if unknown.any():
            raise ValueError(f"y holds labels not among classes_ {self.classes_!r}: "
                             f"{np.unique(y[unknown])!r}")
        start = None if first else self.result_
        self._train(X, encoded, start=start,
                    epochs=1 if start is None else len(start.history.epochs) + 1)
        return self

    def _train(self, X: np.ndarray, encoded: np.ndarray, start: TrainResult | None,
               epochs: int | None = None) -> None:
        """Train on features ``X`` with labels 0..K−1 ``encoded`` up to ``epochs`` (default the
        config's), from scratch or on from ``start``; keep the result."""
        with _sklearn_errors():
            config = self.train_config()
            if epochs is not None:
                config = config.replace(epochs=epochs)
            data = dataset_from_arrays(X, encoded, seed=config.data_seed, test_fraction=0.0,
                                       validation_fraction=config.validation_fraction,
                                       n_classes=len(self.classes_))
            self.result_ = train(config, data, progress=bool(self.verbose), start=start)
        self.n_iter_ = len(self.result_.history.epochs)

    def train_config(self) -> TrainConfig:
        """The :class:`~digitlab.config.TrainConfig` these parameters describe (its ``seed``
        drawn from ``random_state``; ``test_fraction`` 0: scikit-learn holds out its own)."""
        with _sklearn_errors():
            base = preset(self.preset) if self.preset is not None else BASE_CONFIG
            changes: dict[str, Any] = {name: getattr(self, name) for name in CONFIG_PARAMS
                                       if getattr(self, name) is not None}
            if "hidden" in changes:
                changes["hidden"] = _widths(changes["hidden"])
            if "dropout" in changes and not isinstance(changes["dropout"], numbers.Real):
                changes["dropout"] = [float(rate) for rate in changes["dropout"]]
            return base.replace(**changes, seed=self._seed(), test_fraction=0.0,
                                max_train_samples=0)

    def _seed(self) -> int:
        """The config's seed: ``random_state`` itself when an int, else drawn from it."""
        state = self.random_state
        if isinstance(state, numbers.Integral) and not isinstance(state, bool):
            if state < 0:
                raise ValueError(f"random_state must be an int >= 0, None or a RandomState, "
                                 f"got {state!r}")
            return int(state)
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))

    # ------------------------------------------------------------------ reading
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``
        (calibrated when ``calibration_fraction`` was given)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        probabilities = self.result_.model.probabilities(X).astype(np.float64)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The label read for each row of ``X``: (n_samples,) values of ``classes_``."""
        read = self.predict_proba(X).argmax(axis=1)  # checks that it is fitted first
        return self.classes_[read]


def _widths(hidden) -> list[int]:
    """``hidden`` as a list of layer widths: an int is one layer, a sequence its widths."""
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        return [int(hidden)]
    if isinstance(hidden, str):
        return hidden  # TrainConfig parses "256,128" and refuses the rest in one line
    try:
        return [int(width) if isinstance(width, numbers.Integral) else width
                for width in hidden]
    except TypeError:
        raise ValueError(f"hidden must be layer widths like (256, 128), got {hidden!r}") \
            from None


@contextlib.contextmanager
def _sklearn_errors() -> Iterator[None]:
    """digitlab's one-line errors about values (a bad hyperparameter, bad data) as the
    ValueError scikit-learn expects, with the same message."""
    try:
        yield
    except (ConfigError, DataError) as error:
        raise ValueError(str(error)) from None
