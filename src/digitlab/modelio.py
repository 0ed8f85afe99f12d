"""Model files: arrays plus JSON metadata in one zip archive, never pickle.

Layout of ``model.npz`` (a plain zip; ``numpy.load(path, allow_pickle=False)`` reads its arrays)::

    metadata.json          format name and version, architecture, preprocessing, training config,
                           optimizer name and step, epoch, digitlab version, array shapes
    params/W0.npy ...      the weights W^l (n_{l+1}, n_l) and biases b^l (n_{l+1},)
    optimizer/m_scaled.npy ...  optimizer state (Adam's moments and t; SGD's velocity), flat like
                           MLP.params
    extra/best_params.npy  (with early stopping) the best weights so far, flat like MLP.params
    extra/digit_means.npy, extra/digit_precision.npy
                           (with a calibration's hidden-layer test) its class means and precision
    extra/digit_background_mean.npy, extra/digit_background_precision.npy
                           (the same, since the score is relative) its background Gaussian
    extra/digit_typicality.npy  (the same) the calibration digits' sorted scores

Files are written atomically. Loading checks everything — zip integrity, metadata, format version,
every array's presence, shape, dtype and finiteness — before a network is built, and reads arrays
with ``allow_pickle=False`` so a file can never run code.

This module reads single model files (or the ``model.npz`` of a run folder) and nothing else; an
ensemble folder is read by :mod:`digitlab.ensembles`, and :func:`digitlab.loading.load_any`
picks the reader a path needs.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlab import __version__
from digitlab.calibration import Calibration, with_calibration
from digitlab.config import MAX_LAYER_WIDTH, MAX_PARAMETERS, TrainConfig
from digitlab.errors import ConfigError, DataError, Message, ModelFileError, message_of
from digitlab.fileio import atomic_write, json_depth, parse_json  # noqa: F401  (json_depth: public)
from digitlab.models import Model
from digitlab.nn.network import MLP
from digitlab.preprocessing import STEPS, config_steps, with_preprocessing
from digitlab.runfiles import MODEL_FILE
from digitlab.shapes import IMAGE_SIDE, N_CLASSES, N_PIXELS

FORMAT_NAME = "digitlab-model"
MAX_METADATA_BYTES = 1 << 20  # a model's metadata.json is a few kB
MAX_METADATA_DEPTH = 32  # it nests 4 levels deep
MAX_MEMBERS = 10_000
_MEMBER = re.compile(r"^(params/[Wb][0-9]+|(optimizer|extra)/[A-Za-z_][A-Za-z0-9_]*)\.npy$")
FORMAT_VERSION = 1
#: an extra array may hold one value per parameter, and at least this many (a small network's
#: calibration keeps the scores of its calibration digits)
MIN_EXTRA_VALUES = 1 << 16

#: how an image must be prepared before it is fed to the network (shown in reports).
PREPROCESSING = {
    "input": Message("{side}x{side} grayscale, white digit on black, flattened row-major to {n} "
                     "values", side=IMAGE_SIDE, n=N_PIXELS),
    "scale": Message("pixel / 255, in [0, 1]"),
}


def preprocessing_description(n_inputs: int) -> dict[str, str]:
    """How inputs must be prepared for a network of ``n_inputs`` inputs: :data:`PREPROCESSING`
    for 28×28 digits; for other widths (a network trained on arrays), the features as the
    training arrays held them."""
    if n_inputs == N_PIXELS:
        return dict(PREPROCESSING)
    return {"input": Message("{n} features per sample, in the order of the training arrays",
                             n=n_inputs),
            "scale": Message("as the training arrays were scaled")}


@dataclass
class SavedModel:
    """A loaded model: the network, its training config and the rest of its metadata.

    ``network`` is the bare :class:`MLP` of a model file (fed prepared inputs), or an
    :class:`~digitlab.ensembles.Ensemble` for an ensemble folder; both meet :class:`Model`.
    """

    network: Model
    config: TrainConfig | None
    metadata: dict[str, Any]
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict)
    path: Path | None = None
    extra_arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def preprocessing(self) -> list[str]:
        """The steps the model's inputs went through in training (e.g. ``["deskew"]``)."""
        steps = self.metadata.get("preprocessing", {})
        return list(steps.get("steps", [])) if isinstance(steps, dict) else []

    @functools.cached_property
    def calibration(self) -> Calibration | None:
        """The temperature (and "not a digit" tests) fitted after training, if any; read once
        from the metadata and the arrays of its hidden-layer test."""
        data = self.metadata.get("calibration")
        return None if data is None else Calibration.from_dict(data, self.extra_arrays)

    @property
    def model(self) -> Model:
        """The network as it must be fed: raw images in, its preprocessing applied first, its
        probabilities calibrated when the model has a calibration (use this to read digits;
        :attr:`network` is the bare MLP, fed prepared inputs)."""
        return with_calibration(with_preprocessing(self.network, self.preprocessing),
                                self.calibration)

    def __repr__(self) -> str:
        net = self.network
        trained = f", epoch {self.metadata['epoch']}" if self.metadata.get("epoch") else ""
        size = (f"{net.params.size:,} parameters" if isinstance(net, MLP)
                else f"{len(getattr(net, 'members', []))} members")
        return (f"SavedModel({self.path}: {'-'.join(map(str, net.sizes))} "
                f"{'/'.join(dict.fromkeys(net.activation_names))}, {size}{trained})")


def resolve_model_path(path: str | os.PathLike) -> Path:
    """A model file, or the ``model.npz`` inside a run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise ModelFileError(Message("{path}: no such model file (give a model file or a run "
                                     "folder)", path=path))
    return path


def save_model(
    path: str | os.PathLike,
    network: MLP,
    *,
    config: TrainConfig | None = None,
    optimizer_name: str | None = None,
    optimizer_state: dict[str, np.ndarray] | None = None,
    extra: dict[str, Any] | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write ``network`` (and optionally its config and optimizer state) to ``path`` atomically."""
    arrays = {f"params/{name}.npy": value for name, value in network.named_parameters().items()}
    for name, value in (optimizer_state or {}).items():
        arrays[f"optimizer/{name}.npy"] = np.asarray(value)
    for name, value in (extra_arrays or {}).items():
        arrays[f"extra/{name}.npy"] = np.asarray(value)
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "digitlab_version": __version__,
        "architecture": {
            "sizes": network.sizes,
            "activations": network.activation_names,
            "bias": network.has_bias,
            "dtype": network.dtype.name,
            "init": network.init,
        },
        "preprocessing": {**preprocessing_description(network.sizes[0]),
                          "steps": config_steps(config)},
        "config": config.to_dict() if config is not None else None,
        "optimizer": optimizer_name,
        "arrays": {name: {"shape": list(a.shape), "dtype": a.dtype.name}
                   for name, a in arrays.items()},
        **(extra or {}),
    }
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("metadata.json", json.dumps(metadata, indent=2))
            for name, value in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.asarray(value, order="C"), allow_pickle=False)
                archive.writestr(name, buffer.getvalue())
    return path


def load_model(path: str | os.PathLike) -> SavedModel:
    """Read and validate a model file (or a run folder's ``model.npz``); see the module
    docstring. An ensemble folder is :func:`digitlab.loading.load_any`'s to read.

    Nothing is read blindly: the metadata is read with a size cap and checked for depth before
    it is parsed; the architecture it declares must be within :data:`~digitlab.config.
    MAX_LAYER_WIDTH` and :data:`~digitlab.config.MAX_PARAMETERS`; every member of the zip must
    be one the metadata lists; and each array's ``.npy`` header (dtype, shape) and the member's
    declared size are checked against the architecture before its data is read, and no more
    than the expected bytes are ever decompressed. Every failure is a one-line
    :class:`ModelFileError` naming the file.
    """
    path = resolve_model_path(path)
    with _open_model(path) as archive:
        members = _members(path, archive)
        metadata = _read_metadata(path, archive, members)
        architecture = _architecture(path, metadata["architecture"])
        shapes = _expected_shapes(path, metadata, members, architecture)
        arrays = {name: _read_array(path, archive, members[name], shape)
                  for name, shape in shapes.items()}
    network = _build_network(path, architecture, arrays)
    config = None
    if metadata.get("config") is not None:
        try:
            config = TrainConfig.from_dict(metadata["config"])
        except ConfigError as error:
            raise ModelFileError(f"{path}: invalid training config in metadata ({error})") \
                from None

    def group(prefix: str) -> dict[str, np.ndarray]:
        return {name[len(prefix):-len(".npy")]: value
                for name, value in arrays.items() if name.startswith(prefix)}

    saved = SavedModel(network, config, metadata, group("optimizer/"), path, group("extra/"))
    try:  # the calibration with its arrays: a hidden-layer test must fit the first layer
        calibration = saved.calibration
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None
    if calibration is not None and calibration.hidden is not None:
        _check_hidden_test(path, calibration.hidden, network.sizes)
    return saved


def _check_hidden_test(path: Path, hidden: Any, sizes: list[int]) -> None:
    """A calibration's hidden-layer test must read a hidden layer of the network, unit for
    unit."""
    layer, width = hidden.layer, hidden.gaussians.means.shape[1]
    if not 1 <= layer < len(sizes) - 1 or sizes[layer] != width:
        raise ModelFileError(f"{path}: the calibration's hidden-layer test reads {width} units "
                             f"of layer {layer}; the network's hidden layers have "
                             f"{sizes[1:-1]} units")


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """A model file's checked ``metadata.json`` without reading its arrays (for listings).

    The same checks as :func:`load_model` up to the arrays: size and depth before parsing,
    format and version, the architecture's widths, activations and parameter count, every zip
    entry listed. Every failure is a one-line :class:`ModelFileError` naming the file.
    """
    path = resolve_model_path(path)
    with _open_model(path) as archive:
        members = _members(path, archive)
        metadata = _read_metadata(path, archive, members)
        _expected_shapes(path, metadata, members, _architecture(path, metadata["architecture"]))
    return metadata


def check_digit_shape(path: str | os.PathLike | None, sizes: list[int]) -> None:
    """Refuse layer widths ``sizes`` that do not read 28×28 digits into 10 classes (what
    dreams, the analysis, image files and the lab need; a model of other widths reads arrays
    of its own, through ``dl.predict`` and ``dl.evaluate``)."""
    if sizes[0] != N_PIXELS or sizes[-1] != N_CLASSES:
        raise ModelFileError(
            f"{f'{path}: ' if path else ''}the network reads {sizes[0]} inputs into "
            f"{sizes[-1]} outputs; "
            f"digitlab's digits need {N_PIXELS} inputs ({IMAGE_SIDE}×{IMAGE_SIDE} pixels) and "
            f"{N_CLASSES} outputs"
        )


@contextlib.contextmanager
def _open_model(path: Path) -> Iterator[zipfile.ZipFile]:
    """The model file as an open zip; any failure to read it becomes a :class:`ModelFileError`."""
    try:
        with zipfile.ZipFile(path) as archive:
            yield archive
    except zipfile.BadZipFile as error:
        raise ModelFileError(Message("{path}: not a digitlab model file (not a valid zip: "
                                     "{error})", path=path, error=error)) from None
    except (OSError, EOFError, zlib.error, NotImplementedError) as error:
        raise ModelFileError(Message("{path}: cannot read model file ({error})", path=path,
                                     error=error)) from None


def _members(path: Path, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The zip's entries by name; duplicates and too many entries are refused."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ModelFileError(f"{path}: holds {len(infos):,} entries, more than a model has "
                             f"(at most {MAX_MEMBERS:,})")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.filename in members:
            raise ModelFileError(f"{path}: the entry {info.filename!r} appears twice")
        members[info.filename] = info
    return members


def _read_metadata(path: Path, archive: zipfile.ZipFile,
                   members: dict[str, zipfile.ZipInfo]) -> dict[str, Any]:
    info = members.get("metadata.json")
    if info is None:
        raise ModelFileError(Message("{path}: not a digitlab model file (no metadata.json "
                                     "inside)", path=path))
    with archive.open(info) as handle:
        raw = handle.read(MAX_METADATA_BYTES + 1)
    if info.file_size > MAX_METADATA_BYTES or len(raw) > MAX_METADATA_BYTES:
        raise ModelFileError(f"{path}: metadata.json is larger than {MAX_METADATA_BYTES:,} bytes "
                             "(a model's metadata is a few kB)")
    try:
        metadata = parse_json(raw, "metadata.json", max_depth=MAX_METADATA_DEPTH)
    except DataError as error:
        raise ModelFileError(Message("{path}: {problem}", path=path,
                                     problem=message_of(error))) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(Message("{path}: not a digitlab model file (format is not "
                                     "{format!r})", path=path, format=FORMAT_NAME))
    version = metadata.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: invalid format_version {version!r:.80}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} is newer than this digitlab supports "
            f"({FORMAT_VERSION}); upgrade digitlab to read it"
        )
    for key in ("architecture", "arrays"):
        if not isinstance(metadata.get(key), dict):
            raise ModelFileError(f"{path}: metadata has no valid {key!r} entry")
    if not isinstance(metadata.get("config"), (dict, type(None))):
        raise ModelFileError(f"{path}: invalid training config in metadata (expected a table "
                             "of config fields)")
    preprocessing = metadata.get("preprocessing", {})
    steps = preprocessing.get("steps", []) if isinstance(preprocessing, dict) else None
    if not isinstance(steps, list) or any(step not in STEPS for step in steps):
        raise ModelFileError(f"{path}: unknown preprocessing steps {steps!r:.80}; expected "
                             f"some of {', '.join(STEPS)}")
    if metadata.get("calibration") is not None:
        try:
            Calibration.from_dict(metadata["calibration"])
        except ModelFileError as error:
            raise ModelFileError(f"{path}: {error}") from None
    missing = set(metadata["arrays"]) - set(members)
    if missing:
        raise ModelFileError(f"{path}: arrays listed in metadata are missing: "
                             f"{sorted(missing)!r:.200}")
    return metadata


@dataclass(frozen=True)
class Architecture:
    """The architecture a model file declares, checked: widths, activations, bias, dtype."""

    sizes: list[int]
    activations: list[str]
    bias: bool
    dtype: np.dtype
    init: str

    @property
    def n_params(self) -> int:
        return sum(n_out * (n_in + self.bias)
                   for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:], strict=True))


def _architecture(path: Path, arch: dict[str, Any]) -> Architecture:
    """Check the metadata's architecture entry field by field before anything is allocated."""
    sizes, activations = arch.get("sizes"), arch.get("activations")
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes)):
        raise ModelFileError(f"{path}: architecture 'sizes' must be a list of at least two "
                             f"positive layer widths like [{N_PIXELS}, 256, {N_CLASSES}], got "
                             f"{sizes!r:.80}")
    if max(sizes) > MAX_LAYER_WIDTH:
        raise ModelFileError(f"{path}: architecture declares a layer {max(sizes):,} wide, more "
                             f"than digitlab allows ({MAX_LAYER_WIDTH:,})")
    if (not isinstance(activations, list) or len(activations) != len(sizes) - 1
            or not all(isinstance(a, str) for a in activations)):
        raise ModelFileError(f"{path}: architecture 'activations' must be a list of "
                             f"{len(sizes) - 1} activation names, got {activations!r:.80}")
    bias, dtype, init = arch.get("bias"), arch.get("dtype"), arch.get("init", "gaussian")
    if not isinstance(bias, bool):
        raise ModelFileError(f"{path}: architecture 'bias' must be true or false, "
                             f"got {bias!r:.80}")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"{path}: architecture 'dtype' must be float32 or float64, "
                             f"got {dtype!r:.80}")
    if not isinstance(init, str):
        raise ModelFileError(f"{path}: architecture 'init' must be a name, got {init!r:.80}")
    architecture = Architecture(sizes, activations, bias, np.dtype(dtype), init)
    if architecture.n_params > MAX_PARAMETERS:
        raise ModelFileError(f"{path}: architecture {'-'.join(map(str, sizes))} has "
                             f"{architecture.n_params:,} parameters, more than digitlab allows "
                             f"({MAX_PARAMETERS:,})")
    return architecture


def _expected_shapes(path: Path, metadata: dict[str, Any], members: dict[str, zipfile.ZipInfo],
                     arch: Architecture) -> dict[str, tuple[int, ...] | int]:
    """Each array to read -> its exact shape (parameters) or its largest size (the rest).

    Every zip entry must be ``metadata.json`` or an array the metadata lists under a known
    prefix; an unknown entry is refused rather than ignored.
    """
    listed = set(metadata["arrays"])
    for name in members:
        if name != "metadata.json" and (name not in listed or not _MEMBER.match(name)):
            raise ModelFileError(f"{path}: unknown entry {name!r} (a model holds metadata.json "
                                 "and the params/, optimizer/ and extra/ arrays it lists)")
    shapes: dict[str, tuple[int, ...] | int] = {}
    for l, (n_in, n_out) in enumerate(zip(arch.sizes[:-1], arch.sizes[1:], strict=True)):
        shapes[f"params/W{l}.npy"] = (n_out, n_in)
        if arch.bias:
            shapes[f"params/b{l}.npy"] = (n_out,)
    for name in shapes:
        if name not in members:
            raise ModelFileError(f"{path}: missing array {name!r}")
    extra = {n for n in members if n.startswith("params/")} - set(shapes)
    if extra:
        raise ModelFileError(f"{path}: unexpected parameter arrays {sorted(extra)}")
    for name in sorted(members):  # optimizer state and extras: at most one value per parameter
        if name.startswith("optimizer/"):  # (an extra, or MIN_EXTRA_VALUES for a tiny network)
            shapes[name] = arch.n_params
        elif name.startswith("extra/"):
            shapes[name] = max(arch.n_params, MIN_EXTRA_VALUES)
    return shapes


def _read_array(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                expected: tuple[int, ...] | int) -> np.ndarray:
    """Read one ``.npy`` entry after checking its header against ``expected``.

    ``expected`` is an exact shape, or the largest number of elements allowed. The entry's
    declared size must be the header plus exactly the data the header describes, and no more
    than that is decompressed.
    """
    name = info.filename
    with archive.open(info) as handle:
        try:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except ValueError as error:
            raise ModelFileError(f"{path}: array {name!r} cannot be read safely ({error})") \
                from None
        if dtype.hasobject or dtype.kind not in "fiu" or dtype.fields is not None:
            raise ModelFileError(f"{path}: array {name!r} cannot be read safely (dtype {dtype}; "
                                 "expected numbers, never objects)")
        count = math.prod(shape)
        if isinstance(expected, tuple) and shape != expected:
            raise ModelFileError(f"{path}: array {name!r} has shape {shape}, expected {expected}")
        if isinstance(expected, int) and count > expected:
            raise ModelFileError(f"{path}: array {name!r} holds {count:,} values, more than the "
                                 f"{expected:,} this model's arrays may hold")
        nbytes = count * dtype.itemsize
        if info.file_size != handle.tell() + nbytes:
            raise ModelFileError(f"{path}: array {name!r} declares {info.file_size:,} bytes but "
                                 f"its header describes {handle.tell() + nbytes:,}")
        data = handle.read(nbytes)
        if len(data) != nbytes or handle.read(1):
            raise ModelFileError(f"{path}: array {name!r} is truncated or too long")
    order = "F" if fortran else "C"
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order=order).copy()
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ModelFileError(f"{path}: array {name!r} holds NaN or infinite values")
    return array


def _build_network(path: Path, arch: Architecture, arrays: dict[str, np.ndarray]) -> MLP:
    try:
        network = MLP(arch.sizes, arch.activations, bias=arch.bias, dtype=arch.dtype,
                      init=arch.init)
    except ConfigError as error:
        raise ModelFileError(f"{path}: invalid architecture ({error})") from None
    for name, value in network.named_parameters().items():
        value[...] = arrays[f"params/{name}.npy"]
    return network
