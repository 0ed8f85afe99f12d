"""Model files: arrays plus JSON metadata in one zip archive, never pickle.

Layout of ``model.npz`` (a plain zip; ``numpy.load(path, allow_pickle=False)`` reads its arrays)::

    metadata.json          format name and version, architecture, preprocessing, training config,
                           optimizer name and step, epoch, digitlab version, array shapes
    params/W0.npy ...      the weights W^l (n_{l+1}, n_l) and biases b^l (n_{l+1},)
    optimizer/m_scaled.npy ...  optimizer state (Adam's moments and t; SGD's velocity), flat like
                           MLP.params
    extra/best_params.npy  (with early stopping) the best weights so far, flat like MLP.params

Files are written atomically. Loading checks everything — zip integrity, metadata, format version,
every array's presence, shape, dtype and finiteness — before a network is built, and reads arrays
with ``allow_pickle=False`` so a file can never run code.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlab import __version__
from digitlab.config import TrainConfig
from digitlab.errors import ConfigError, ModelFileError
from digitlab.fileio import atomic_write
from digitlab.nn.network import MLP
from digitlab.preprocessing import STEPS, config_steps, with_preprocessing

FORMAT_NAME = "digitlab-model"
FORMAT_VERSION = 1
MODEL_FILE = "model.npz"

#: how an image must be prepared before it is fed to the network (shown in reports).
PREPROCESSING = {
    "input": "28x28 grayscale, white digit on black, flattened row-major to 784 values",
    "scale": "pixel / 255, in [0, 1]",
}


@dataclass
class SavedModel:
    """A loaded model file: the network, its training config and the rest of its metadata."""

    network: MLP
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

    @property
    def model(self):
        """The network as it must be fed: raw images in, its preprocessing applied first
        (use this to read digits; :attr:`network` is the bare MLP, fed prepared inputs)."""
        return with_preprocessing(self.network, self.preprocessing)


def resolve_model_path(path: str | os.PathLike) -> Path:
    """A model file, or the ``model.npz`` inside a run folder."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file (give a model file or a run folder)")
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
        "preprocessing": {**PREPROCESSING, "steps": config_steps(config)},
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
    """Read and validate a model file (or a run folder's model, or an ensemble folder: see
    :mod:`digitlab.ensemble`); see the module docstring."""
    from digitlab.ensemble import is_ensemble, load_ensemble

    if is_ensemble(path):
        return load_ensemble(path)
    path = resolve_model_path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
            if damaged is not None:
                raise ModelFileError(f"{path}: damaged entry {damaged!r} (CRC mismatch)")
            metadata = _read_metadata(path, archive)
            arrays = {name: _read_array(path, archive, name) for name in metadata["arrays"]}
    except zipfile.BadZipFile as error:
        raise ModelFileError(f"{path}: not a digitlab model file (not a valid zip: {error})") \
            from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read model file ({error})") from None
    network = _build_network(path, metadata, arrays)
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

    return SavedModel(network, config, metadata, group("optimizer/"), path, group("extra/"))


def _read_metadata(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    if "metadata.json" not in archive.namelist():
        raise ModelFileError(f"{path}: not a digitlab model file (no metadata.json inside)")
    try:
        metadata = json.loads(archive.read("metadata.json").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path}: metadata.json is not valid JSON ({error})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a digitlab model file (format is not {FORMAT_NAME!r})")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} is newer than this digitlab supports "
            f"({FORMAT_VERSION}); upgrade digitlab to read it"
        )
    for key in ("architecture", "arrays"):
        if not isinstance(metadata.get(key), dict):
            raise ModelFileError(f"{path}: metadata has no valid {key!r} entry")
    preprocessing = metadata.get("preprocessing", {})
    steps = preprocessing.get("steps", []) if isinstance(preprocessing, dict) else None
    if not isinstance(steps, list) or any(step not in STEPS for step in steps):
        raise ModelFileError(f"{path}: unknown preprocessing steps {steps!r}; expected some of "
                             f"{', '.join(STEPS)}")
    missing = set(metadata["arrays"]) - set(archive.namelist())
    if missing:
        raise ModelFileError(f"{path}: arrays listed in metadata are missing: {sorted(missing)}")
    return metadata


def _read_array(path: Path, archive: zipfile.ZipFile, name: str) -> np.ndarray:
    try:
        with archive.open(name) as handle:
            array = np.lib.format.read_array(handle, allow_pickle=False)
    except ValueError as error:  # object arrays (pickle) are refused here
        raise ModelFileError(f"{path}: array {name!r} cannot be read safely ({error})") from None
    if array.dtype.kind not in "fiu":
        raise ModelFileError(f"{path}: array {name!r} has dtype {array.dtype}, expected numbers")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ModelFileError(f"{path}: array {name!r} holds NaN or infinite values")
    return array


def _build_network(path: Path, metadata: dict[str, Any], arrays: dict[str, np.ndarray]) -> MLP:
    arch = metadata["architecture"]
    try:
        sizes, activations = list(arch["sizes"]), list(arch["activations"])
        bias, dtype = bool(arch["bias"]), np.dtype(arch["dtype"])
    except (KeyError, TypeError) as error:
        raise ModelFileError(f"{path}: architecture metadata incomplete ({error})") from None
    expected = {}
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        expected[f"params/W{l}.npy"] = (n_out, n_in)
        if bias:
            expected[f"params/b{l}.npy"] = (n_out,)
    for name, shape in expected.items():
        if name not in arrays:
            raise ModelFileError(f"{path}: missing array {name!r}")
        if arrays[name].shape != shape:
            raise ModelFileError(
                f"{path}: array {name!r} has shape {arrays[name].shape}, expected {shape}"
            )
    extra = {n for n in arrays if n.startswith("params/")} - set(expected)
    if extra:
        raise ModelFileError(f"{path}: unexpected parameter arrays {sorted(extra)}")
    try:
        network = MLP(sizes, activations, bias=bias, dtype=dtype, init=arch.get("init", "gaussian"))
    except ConfigError as error:
        raise ModelFileError(f"{path}: invalid architecture ({error})") from None
    for name, value in network.named_parameters().items():
        value[...] = arrays[f"params/{name}.npy"]
    return network
