"""Model files: a faithful round trip, and every kind of damaged or hostile file refused."""

import io
import json
import zipfile

import numpy as np
import pytest

from digitlab.config import TrainConfig
from digitlab.errors import ModelFileError
from digitlab.modelio import FORMAT_VERSION, MODEL_FILE, load_model, save_model
from digitlab.nn import MLP, Adam


@pytest.fixture
def model_file(tmp_path):
    config = TrainConfig(hidden=[8], bias=True, optimizer="adam", lr=0.001, epochs=2)
    net = MLP([784, 8, 10], ["tanh", "tanh"], bias=True, rng=np.random.default_rng(3))
    optimizer = Adam(0.001)
    net.grads[...] = 0.5
    optimizer.step(net.params, net.grads)
    path = save_model(tmp_path / MODEL_FILE, net, config=config, optimizer_name="adam",
                      optimizer_state=optimizer.state_dict(), extra={"epoch": 2})
    return path, net, config, optimizer


def rewrite(path, change):
    """Rebuild the zip at ``path``: ``change(entries)`` edits a dict name -> bytes."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    change(entries)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def edit_metadata(entries, **changes):
    metadata = json.loads(entries["metadata.json"])
    metadata.update(changes)
    entries["metadata.json"] = json.dumps(metadata).encode()


def test_round_trip_keeps_weights_config_and_optimizer_state(model_file):
    path, net, config, optimizer = model_file
    saved = load_model(path.parent)  # a run folder works as well as the file
    assert saved.path == path
    np.testing.assert_array_equal(saved.network.params, net.params)
    assert saved.network.sizes == [784, 8, 10] and saved.network.has_bias
    assert saved.config == config
    assert saved.metadata["epoch"] == 2
    for name, value in optimizer.state_dict().items():
        np.testing.assert_array_equal(saved.optimizer_state[name], value)
    # the arrays are plain .npy entries that NumPy reads without pickle
    with np.load(path, allow_pickle=False) as arrays:
        np.testing.assert_array_equal(arrays["params/W0"], net.weights[0])


def test_missing_file_or_folder(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nothing.npz")
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path)  # a folder without model.npz


def test_truncated_file_is_refused(model_file):
    path = model_file[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=str(path.name)):
        load_model(path)


def test_random_bytes_are_refused(model_file):
    path = model_file[0]
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ModelFileError, match="not a valid zip"):
        load_model(path)


def test_flipped_byte_inside_an_array_is_refused(model_file):
    path = model_file[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the stored (uncompressed) W0 entry
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        load_model(path)


def test_zip_without_metadata_is_refused(model_file):
    path = model_file[0]
    rewrite(path, lambda entries: entries.pop("metadata.json"))
    with pytest.raises(ModelFileError, match="no metadata.json"):
        load_model(path)


def test_newer_format_version_is_refused(model_file):
    path = model_file[0]
    rewrite(path, lambda entries: edit_metadata(entries, format_version=FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match="newer"):
        load_model(path)


def test_wrong_array_shape_is_refused(model_file):
    path = model_file[0]

    def change(entries):
        entries["params/W1.npy"] = npy_bytes(np.zeros((10, 9), np.float32))

    rewrite(path, change)
    with pytest.raises(ModelFileError, match=r"W1.*shape"):
        load_model(path)


def test_missing_array_is_refused(model_file):
    path = model_file[0]
    rewrite(path, lambda entries: entries.pop("params/b0.npy"))
    with pytest.raises(ModelFileError, match="missing"):
        load_model(path)


def test_nan_weights_are_refused(model_file):
    path = model_file[0]

    def change(entries):
        weights = np.zeros((8, 784), np.float32)
        weights[3, 5] = np.nan
        entries["params/W0.npy"] = npy_bytes(weights)

    rewrite(path, change)
    with pytest.raises(ModelFileError, match="NaN"):
        load_model(path)


def test_invalid_config_in_metadata_is_refused(model_file):
    path = model_file[0]

    def change(entries):
        metadata = json.loads(entries["metadata.json"])
        metadata["config"]["lr"] = -1
        entries["metadata.json"] = json.dumps(metadata).encode()

    rewrite(path, change)
    with pytest.raises(ModelFileError, match="lr"):
        load_model(path)


class MakesMarkerFile:
    """Unpickling this object calls open(marker, "w"), creating the file: proof of code run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_object_array_is_refused_without_running_it(model_file, tmp_path):
    path = model_file[0]
    marker = tmp_path / "pickle-ran"
    payload = npy_bytes(np.array([MakesMarkerFile(marker)], dtype=object), allow_pickle=True)

    # the payload is live: loading it the unsafe way does create the marker
    probe = tmp_path / "probe"
    np.load(io.BytesIO(npy_bytes(np.array([MakesMarkerFile(probe)], dtype=object),
                                 allow_pickle=True)), allow_pickle=True)
    assert probe.exists()

    with zipfile.ZipFile(path) as archive:
        optimizer_entry = next(n for n in archive.namelist() if n.startswith("optimizer/"))
    for entry in ("params/W0.npy", optimizer_entry, "extra/pickled.npy"):
        def change(entries, entry=entry):
            entries[entry] = payload
            if entry == "extra/pickled.npy":  # listed in the metadata, not a parameter
                metadata = json.loads(entries["metadata.json"])
                metadata["arrays"][entry] = {"shape": [1], "dtype": "object"}
                entries["metadata.json"] = json.dumps(metadata).encode()

        rewrite(path, change)
        with pytest.raises(ModelFileError, match="cannot be read safely"):
            load_model(path)
        assert not marker.exists()
