"""Export: a trained network as a standard ONNX graph, to be run outside digitlab.

The graph computes exactly what :meth:`digitlab.nn.MLP.predict` and
:meth:`~digitlab.nn.MLP.probabilities` compute, with standard operators only (opset 17)::

    images (N, 784) float32 in [0, 1]          (N, d) for a network trained on d features
      └─ for each layer l:  z^l = Gemm(y^l, W^l, b^l; transB=1)    y^l (N, n_l) -> z^l (N, n_{l+1})
                            y^{l+1} = f_l(z^l)   Tanh | Sigmoid | Relu | Identity | Softmax,
                                                 swish as Mul(z, Sigmoid(z))
      ├─ outputs        (N, 10)  y^L, the network's raw outputs (N, K for K classes): for the
      │                          assignment's tanh network close to +1 for the digit read and
      │                          -1 for the others
      └─ probabilities  (N, 10)  the class probabilities: a softmax output as it is; any other
                                 output measured from its "off" value (-1 for tanh) and
                                 normalised, p_k = max(y_k - low, 0) / Σ_j max(y_j - low, 0),
                                 y_k + 1 of tanh taken from z as 2σ(2z) (Exp), as digitlab does

The digit read is ``argmax`` of either output. Weights are stored as (n_{l+1}, n_l) matrices
exactly as digitlab keeps them (Gemm's ``transB`` does the transposition); float64 networks
compute in float64 between a Cast of the input and a Cast of the outputs back to float32.
The model's metadata (``metadata_props``) carries digitlab's version, the architecture, the
training configuration and the preprocessing the network expects.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digitlab import __version__
from digitlab.errors import ExportError, Message
from digitlab.fileio import write_bytes
from digitlab.loading import load_any, resolve_model
from digitlab.modelio import SavedModel, preprocessing_description
from digitlab.models import Model
from digitlab.nn.network import MLP
from digitlab.preprocessing import config_steps
from digitlab.shapes import N_CLASSES, N_PIXELS

if TYPE_CHECKING:  # onnx is imported when a network is exported
    from onnx import ModelProto

    from digitlab.config import TrainConfig

FORMATS = ("onnx",)
OPSET = 17
#: ONNX IR version 8 goes with opset 17: the oldest runtime that knows the opset can load it.
IR_VERSION = 8
INPUT_NAME = "images"
OUTPUT_NAMES = ("probabilities", "outputs")

#: Activations that are one ONNX operator each (swish and softmax are built in _activation_nodes).
_ELEMENTWISE = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "linear": "Identity"}



def input_description(n_inputs: int = N_PIXELS) -> Message:
    """What the ``images`` input of a network of ``n_inputs`` inputs holds (English; a
    :class:`~digitlab.errors.Message`, so the command line can say it in the reader's
    language)."""
    prepared = preprocessing_description(n_inputs)
    values = {"name": INPUT_NAME, "n": n_inputs, "input": prepared["input"],
              "scale": prepared["scale"]}
    if n_inputs == N_PIXELS:
        return Message("{name}: float32 (N, {n}), one row per image: {input}; {scale}", **values)
    return Message("{name}: float32 (N, {n}), one row per sample: {input}; {scale}", **values)


def output_description(n_classes: int = N_CLASSES) -> Message:
    """What the two outputs of a network of ``n_classes`` outputs hold (English; a
    :class:`~digitlab.errors.Message`, as :func:`input_description`)."""
    if n_classes == N_CLASSES:
        return Message(
            "probabilities: float32 (N, {n}), the {n} class probabilities (softmax output as is; "
            "other outputs p_k = max(y_k - low, 0) / sum_j max(y_j - low, 0), low = -1 for tanh, "
            "0 otherwise); outputs: float32 (N, {n}), the raw outputs y^L (for tanh networks "
            "trained on +1/-1 targets, near +1 for the digit read); the digit read is the argmax "
            "of either", n=n_classes)
    return Message(
        "probabilities: float32 (N, {n}), the {n} class probabilities (softmax output as is; "
        "other outputs p_k = max(y_k - low, 0) / sum_j max(y_j - low, 0), low = -1 for tanh, "
        "0 otherwise); outputs: float32 (N, {n}), the raw outputs y^L (for tanh networks "
        "trained on +1/-1 targets, near +1 for the class read); the class read is the argmax "
        "of either", n=n_classes)


#: the descriptions of a digit network's input and outputs (784 pixels, 10 digits)
INPUT_DESCRIPTION = input_description()
OUTPUT_DESCRIPTION = output_description()


def export(
    model: str | os.PathLike | SavedModel | MLP | Any,
    out: str | os.PathLike,
    *,
    format: str = "onnx",
    overwrite: bool = False,
) -> Path:
    """Write ``model`` to ``out`` in ``format`` (only ``"onnx"``), atomically; return the path.

    ``model`` is a model file or run folder, a loaded :class:`~digitlab.modelio.SavedModel`,
    anything with ``network`` and ``config`` attributes (what :func:`digitlab.train` returns),
    or a bare :class:`~digitlab.nn.MLP`. An existing ``out`` is kept unless ``overwrite``.
    """
    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; expected one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and not overwrite:
        raise ExportError(Message("{path} already exists; choose another --out or pass "
                                  "--overwrite", path=out))
    if isinstance(model, (str, os.PathLike)):
        model = load_any(model)
    network = getattr(model, "network", model)
    if not isinstance(network, MLP):  # e.g. an ensemble folder
        kind = type(network).__name__
        kind = "an ensemble" if kind == "Ensemble" else f"a {kind}"
        raise ExportError(f"cannot export {kind} to ONNX: only a single network (for an "
                          "ensemble, export one of its members)")
    network, config, _ = resolve_model(model)
    steps = sorted({*getattr(model, "preprocessing", []), *config_steps(config)})
    if steps:
        raise ExportError(f"cannot export to ONNX a network that expects its inputs "
                          f"preprocessed ({', '.join(steps)}): no ONNX operator does that; "
                          "export a model trained without it")
    proto = to_onnx(network, config=config)
    return write_bytes(out, proto.SerializeToString())


def to_onnx(network: Model, *, config: TrainConfig | None = None) -> ModelProto:
    """The ONNX ``ModelProto`` of ``network`` (see the module docstring), checked by onnx."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:  # pragma: no cover - onnx is a dependency
        raise ExportError("ONNX export needs the onnx package: pip install onnx") from None
    if not isinstance(network, MLP):
        raise ExportError(
            f"cannot export a {type(network).__name__} to ONNX; only a single MLP is supported"
        )
    unknown = [name for name in network.activation_names
               if name not in _ELEMENTWISE and name not in ("swish", "softmax")]
    if unknown:
        raise ExportError(f"cannot export activation {unknown[0]!r} to ONNX (no ONNX operator "
                          f"for it; supported: {', '.join([*_ELEMENTWISE, 'swish', 'softmax'])})")

    float_type = TensorProto.DOUBLE if network.dtype == np.float64 else TensorProto.FLOAT
    nodes, initializers = [], []
    y = INPUT_NAME
    if float_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [y], ["images_compute"], to=float_type))
        y = "images_compute"
    for l, (W, b) in enumerate(zip(network.weights, network.biases, strict=True)):
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(W), f"W{l}"))
        inputs = [y, f"W{l}"]
        if b is not None:
            initializers.append(numpy_helper.from_array(np.ascontiguousarray(b), f"b{l}"))
            inputs.append(f"b{l}")
        z = f"z{l}"
        nodes.append(helper.make_node("Gemm", inputs, [z], transB=1, name=f"dense_{l}"))
        y = f"y{l + 1}"
        nodes += _activation_nodes(helper, network.activation_names[l], z, y)

    probabilities, probability_nodes, constants = _probability_nodes(helper, numpy_helper,
                                                                     network, z, y)
    nodes += probability_nodes
    initializers += constants
    for name, source in (("outputs", y), ("probabilities", probabilities)):
        if float_type != TensorProto.FLOAT:
            nodes.append(helper.make_node("Cast", [source], [name], to=TensorProto.FLOAT))
        else:
            nodes.append(helper.make_node("Identity", [source], [name]))

    n_in, n_out = network.sizes[0], network.sizes[-1]
    graph = helper.make_graph(
        nodes, "digitlab_mlp",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", n_out])
         for name in OUTPUT_NAMES],
        initializer=initializers,
        doc_string=f"{'-'.join(map(str, network.sizes))} MLP "
                   f"({', '.join(network.activation_names)}) exported by digitlab {__version__}",
    )
    model = helper.make_model(
        graph, producer_name="digitlab", producer_version=__version__,
        opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
        doc_string=input_description(n_in) + ". " + output_description(n_out),
    )
    helper.set_model_props(model, export_metadata(network, config))
    onnx.checker.check_model(model, full_check=True)
    return model


def export_metadata(network: MLP, config: TrainConfig | None = None) -> dict[str, str]:
    """The ``metadata_props`` of an exported model (ONNX metadata values are strings)."""
    architecture = {"sizes": network.sizes, "activations": network.activation_names,
                    "bias": network.has_bias, "dtype": network.dtype.name}
    n_in, n_out = network.sizes[0], network.sizes[-1]
    preprocessing = {**preprocessing_description(n_in),
                     "tensor": f"{INPUT_NAME}: float32 (N, {n_in})"}
    return {
        "digitlab_version": __version__,
        "architecture": json.dumps(architecture),
        "config": json.dumps(config.to_dict() if config is not None else None),
        "preprocessing": json.dumps(preprocessing),
        "input": input_description(n_in),
        "outputs": output_description(n_out),
    }


def _activation_nodes(helper, name: str, z: str, y: str) -> list:
    """Nodes computing y = f(z) for the activation called ``name``."""
    if name in _ELEMENTWISE:
        return [helper.make_node(_ELEMENTWISE[name], [z], [y])]
    if name == "swish":  # swish(z) = z · σ(z)
        return [helper.make_node("Sigmoid", [z], [f"{z}_sigmoid"]),
                helper.make_node("Mul", [z, f"{z}_sigmoid"], [y])]
    return [helper.make_node("Softmax", [z], [y], axis=-1)]  # softmax (checked by the caller)


def _probability_nodes(helper, numpy_helper, network: MLP, z: str, y: str):
    """(name of the probabilities tensor, the nodes and the constants computing it).

    Mirrors :meth:`MLP.output_to_probabilities` given z: a softmax output is already a
    distribution; otherwise p = max(y − low, 0) / Σ max(y − low, 0), uniform where the sum is 0,
    with y − low for tanh taken from z as 2σ(2z) (as :meth:`Tanh.above_low` does).
    """
    if network.output_activation.name == "softmax":
        return y, [], []
    dtype = network.dtype
    n_out = network.sizes[-1]
    constants = {
        "low": np.array(network.output_activation.low, dtype=dtype),
        "two": np.array(2.0, dtype=dtype),
        "zero": np.array(0.0, dtype=dtype),
        "uniform": np.array(1.0 / n_out, dtype=dtype),
        "sum_axes": np.array([1], dtype=np.int64),
    }
    if network.output_activation.name == "tanh":
        # 1 + tanh(z) = 2σ(2z) = 2 / (1 + e) for z ≥ 0, 2e / (1 + e) below, e = exp(−2|z|): the
        # formula of Tanh.above_low. (The Sigmoid operator is accurate to about 1e-7 absolute,
        # too coarse for σ(2z) ≈ 1e-5; Exp keeps its relative precision.)
        constants.update(minus_two=np.array(-2.0, dtype=dtype), one=np.array(1.0, dtype=dtype))
        above = [helper.make_node("Abs", [z], ["abs_z"]),
                 helper.make_node("Mul", ["abs_z", "minus_two"], ["minus_2abs_z"]),
                 helper.make_node("Exp", ["minus_2abs_z"], ["e"]),
                 helper.make_node("Add", ["one", "e"], ["one_plus_e"]),
                 helper.make_node("Div", ["two", "one_plus_e"], ["above_if_positive"]),
                 helper.make_node("Mul", ["two", "e"], ["two_e"]),
                 helper.make_node("Div", ["two_e", "one_plus_e"], ["above_if_negative"]),
                 helper.make_node("GreaterOrEqual", [z, "zero"], ["z_not_negative"]),
                 helper.make_node("Where", ["z_not_negative", "above_if_positive",
                                            "above_if_negative"], ["above_low"])]
        del constants["low"]
    else:
        above = [helper.make_node("Sub", [y, "low"], ["above_low"])]
        del constants["two"]
    initializers = [numpy_helper.from_array(value, name) for name, value in constants.items()]
    nodes = [
        *above,
        helper.make_node("Relu", ["above_low"], ["shifted"]),  # max(y − low, 0)
        helper.make_node("ReduceSum", ["shifted", "sum_axes"], ["total"], keepdims=1),
        helper.make_node("Div", ["shifted", "total"], ["normalised"]),
        helper.make_node("Greater", ["total", "zero"], ["has_total"]),
        helper.make_node("Where", ["has_total", "normalised", "uniform"], ["probabilities_raw"]),
    ]
    return "probabilities_raw", nodes, initializers
