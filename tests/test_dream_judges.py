"""Judges for dreams: real held-out digits read as themselves, noise does not, a blank dream
points nowhere, and the vectorised kNN vote is the brute-force one."""

import dataclasses
import json

import numpy as np
import pytest

import digitlab
from digitlab.dreaming.judges import (
    TARGET_MEDIAN_COSINE,
    DreamJudgement,
    judge_dream_folder,
    judge_dreams,
    knn_vote,
    nearest_by_cosine,
    reference_digits,
    squared_distances,
)
from digitlab.dreaming.priors import class_means
from digitlab.errors import ConfigError, DataError

POOL = 500


@pytest.fixture(scope="module")
def data():
    return digitlab.load_dataset()


@pytest.fixture(scope="module")
def pool(data):
    return reference_digits(data, POOL)


def typical_training_digits(data, per_class):
    """The ``per_class`` training digits of each class nearest their class mean, class by class:
    clearly written real digits, never in the (test) pool."""
    means = class_means(data.train.images, data.train.labels, 10)
    rows = []
    for digit in range(10):
        of_digit = np.flatnonzero(data.train.labels == digit)
        distance = ((data.train.images[of_digit] - means[digit]) ** 2).sum(axis=1)
        rows.extend(of_digit[np.argsort(distance, kind="stable")[:per_class]])
    rows = np.array(rows)
    return data.train.images[rows], data.train.labels[rows]


def brute_force_vote(dreams, digits, labels, k):
    """The rule spelled out: sort by (distance, row), count the first k, ties to the label met
    first."""
    votes = []
    for dream in dreams:
        distance = [float(((digit - dream) ** 2).sum()) for digit in digits]
        nearest = sorted(range(len(digits)), key=lambda i: (distance[i], i))[:k]
        counts = {}
        for i in nearest:
            counts[int(labels[i])] = counts.get(int(labels[i]), 0) + 1
        best = max(counts.values())
        votes.append(next(int(labels[i]) for i in nearest if counts[int(labels[i])] == best))
    return np.array(votes)


def test_reference_digits_are_the_test_split(data):
    images, labels = reference_digits(data)
    assert images is data.test.images and labels is data.test.labels
    images, labels = reference_digits(data, 300)
    assert images.shape == (300, 784) and labels.shape == (300,)
    assert set(np.unique(labels)) == set(range(10))
    with pytest.raises(ConfigError, match="n must be"):
        reference_digits(data, 0)
    with pytest.raises(DataError, match="mnist-sample has no test split"):
        reference_digits(dataclasses.replace(data, test=None))


def test_real_digits_are_read_as_themselves(data, pool):
    dreams, intended = typical_training_digits(data, 20)
    judgement = judge_dreams(dreams, intended, *pool)
    assert judgement.knn_agreement >= 0.9, judgement.knn_agreement  # measured 0.945
    assert judgement.cosine_agreement >= 0.9, judgement.cosine_agreement  # 0.945
    assert judgement.n_readable / len(judgement) >= 0.9, judgement.summary()  # 0.91
    assert judgement.median_cosine >= TARGET_MEDIAN_COSINE + 0.1, judgement.median_cosine  # 0.84


def test_any_real_digits_mostly_read_as_themselves(data, pool):
    rows = np.concatenate([np.flatnonzero(data.train.labels == d)[:20] for d in range(10)])
    judgement = judge_dreams(data.train.images[rows], data.train.labels[rows], *pool)
    assert judgement.knn_agreement >= 0.8  # measured 0.86
    assert judgement.cosine_agreement >= 0.8  # 0.89
    assert judgement.median_cosine >= 0.75  # 0.81


def test_one_typical_digit_of_each_class_meets_the_target(data, pool):
    dreams, intended = typical_training_digits(data, 1)
    judgement = judge_dreams(dreams, intended, *pool)
    assert np.array_equal(intended, np.arange(10))
    assert judgement.readable.all() and judgement.meets_target, judgement.summary()
    assert judgement.summary().startswith("10 of 10 dreams read as their digit by both judges")


def test_noise_is_not_read_as_a_digit(pool):
    noise = np.random.default_rng(0).random((100, 784))
    judgement = judge_dreams(noise, np.arange(100) % 10, *pool)
    assert judgement.median_cosine < TARGET_MEDIAN_COSINE, judgement.median_cosine  # 0.47
    assert judgement.knn_agreement <= 0.25, judgement.knn_agreement  # chance 0.1, measured 0.08
    assert judgement.cosine_agreement <= 0.25, judgement.cosine_agreement  # 0.06
    assert not judgement.meets_target


def test_a_blank_dream_points_nowhere(pool):
    dreams = np.zeros((2, 784), dtype=np.float32)
    dreams[1] = pool[0][0]
    labels, cosine = nearest_by_cosine(dreams, *pool)
    assert labels[0] == -1 and cosine[0] == 0.0
    assert labels[1] == pool[1][0] and cosine[1] == pytest.approx(1.0)
    judgement = judge_dreams(dreams, [3, int(pool[1][0])], *pool)
    assert not judgement.readable[0] and judgement.cosine_label[1] == pool[1][0]


def test_cosine_ignores_blank_reference_digits():
    digits = np.zeros((3, 4))
    digits[1] = [1, 0, 0, 0]
    digits[2] = [1, 1, 0, 0]
    labels, cosine = nearest_by_cosine([[2.0, 0, 0, 0], [-1.0, 0, 0, 0]], digits, [7, 8, 9])
    assert labels.tolist() == [8, 7]  # the blank digit 7 is at cosine 0, above -1 and -0.71
    assert cosine.tolist() == pytest.approx([1.0, 0.0])


def test_knn_vote_is_the_brute_force_vote():
    rng = np.random.default_rng(1)
    # small integers: every distance is exact, so equal distances really are equal
    digits = rng.integers(0, 3, size=(60, 784)).astype(np.float32)
    labels = rng.integers(0, 4, size=60)
    digits[30:40] = digits[20:30]  # duplicates: ties between rows at equal distance
    dreams = np.concatenate([rng.integers(0, 3, size=(25, 784)), digits[18:28]]).astype(float)
    for k in (1, 2, 4, 7, 10, 60):
        assert np.array_equal(knn_vote(dreams, digits, labels, k),
                              brute_force_vote(dreams, digits, labels, k)), k


def test_a_tied_vote_goes_to_the_nearest_tied_label():
    digits = np.zeros((5, 784))
    for row, distance in enumerate([1.0, 2.0, 3.0, 4.0, 5.0]):
        digits[row, 0] = distance
    dream = np.zeros((1, 784))
    assert knn_vote(dream, digits, [3, 5, 5, 3, 9], k=4).tolist() == [3]
    assert knn_vote(dream, digits, [5, 3, 3, 5, 9], k=4).tolist() == [5]
    assert knn_vote(dream, digits, [9, 3, 5, 5, 3], k=5).tolist() == [3]  # 2-2-1
    assert knn_vote(dream, digits, [4, 2, 2, 0, 0], k=5).tolist() == [2]
    # equal distances: the lower row is nearer
    digits[1, 0] = 1.0
    assert knn_vote(dream, digits, [6, 2, 0, 0, 0], k=2).tolist() == [6]
    assert knn_vote(dream, digits, [2, 6, 0, 0, 0], k=2).tolist() == [2]
    brute = brute_force_vote(dream, digits, np.array([2, 6, 0, 0, 0]), 2)
    assert brute.tolist() == [2]


def test_chunked_distances_equal_unchunked(pool):
    images = pool[0][:120]
    dreams = np.random.default_rng(2).random((7, 784))
    whole = squared_distances(dreams, images, chunk=None)
    direct = ((dreams[:, None, :] - images[None, :, :].astype(np.float64)) ** 2).sum(axis=2)
    assert whole.shape == (7, 120)
    np.testing.assert_allclose(whole, direct, rtol=1e-10, atol=1e-9)
    for chunk in (1, 7, 50, 119, 120, 500):
        np.testing.assert_allclose(squared_distances(dreams, images, chunk=chunk), whole,
                                   rtol=1e-12, atol=1e-10)
    assert squared_distances(images[:3], images[:3]).diagonal() == pytest.approx(0, abs=1e-9)


def test_dream_chunks_give_the_same_votes(pool, monkeypatch):
    from digitlab.dreaming import judges

    dreams = pool[0][:40] + 0.05
    votes = knn_vote(dreams, *pool)
    labels, cosine = nearest_by_cosine(dreams, *pool)
    monkeypatch.setattr(judges, "CHUNK_ELEMENTS", 3 * POOL)  # three dreams at a time
    monkeypatch.setattr(judges, "REFERENCE_CHUNK", 64)
    assert np.array_equal(knn_vote(dreams, *pool), votes)
    chunked_labels, chunked_cosine = nearest_by_cosine(dreams, *pool)
    assert np.array_equal(chunked_labels, labels)
    np.testing.assert_allclose(chunked_cosine, cosine, rtol=1e-12)


def test_to_dict_is_json(data, pool):
    dreams, intended = typical_training_digits(data, 1)
    dreams = dreams.copy()
    dreams[4] = 0
    judgement = judge_dreams(dreams, intended, *pool, k=5)
    record = json.loads(json.dumps(judgement.to_dict(), allow_nan=False))
    assert record["n_dreams"] == 10 and record["k"] == 5 and record["n_reference"] == POOL
    assert record["dreams"][4] == {"intended": 4, "knn_label": record["dreams"][4]["knn_label"],
                                   "cosine_label": -1, "cosine": 0.0, "readable": False}
    assert record["n_readable"] == judgement.n_readable <= 9
    assert record["target"] == {"all_readable": True, "median_cosine": TARGET_MEDIAN_COSINE,
                                "met": False}
    assert record["summary"] == judgement.summary()
    assert isinstance(judgement, DreamJudgement)
    with pytest.raises(AttributeError):
        judgement.k = 3


def test_bad_inputs_are_one_line_errors(pool):
    images, labels = pool
    with pytest.raises(ConfigError, match="k must be"):
        knn_vote(images[:2], images, labels, k=0)
    with pytest.raises(ConfigError, match="k must be"):
        knn_vote(images[:2], images, labels, k=POOL + 1)
    with pytest.raises(DataError, match="pixels"):
        knn_vote(np.zeros((1, 100)), images, labels)
    with pytest.raises(DataError, match="one per digit"):
        nearest_by_cosine(images[:2], images, labels[:-1])
    with pytest.raises(DataError, match="NaN"):
        judge_dreams(np.full((1, 784), np.nan), [0], images, labels)
    with pytest.raises(DataError, match="one integer digit per dream"):
        judge_dreams(images[:2], [0], images, labels)
    with pytest.raises(DataError, match="no dreams"):
        judge_dreams(np.zeros((0, 784)), np.zeros(0, dtype=int), images, labels)


def test_judge_a_dream_folder(tmp_path, data):
    dreams, _ = typical_training_digits(data, 1)
    np.save(tmp_path / "dreams.npy", dreams.astype(np.float32))
    judgement = judge_dream_folder(tmp_path, data)
    assert judgement.intended.tolist() == list(range(10))
    assert judgement.n_reference == len(data.test) and judgement.readable.all()
    assert judge_dream_folder(tmp_path, data, k=3, n=200).n_reference == 200


def test_a_bad_dream_folder_is_a_one_line_error(tmp_path, data):
    with pytest.raises(DataError, match="dreams.npy: no such file"):
        judge_dream_folder(tmp_path, data)
    np.save(tmp_path / "dreams.npy", np.zeros((9, 784), dtype=np.float32))
    with pytest.raises(DataError, match=r"dreams.npy: expected .*\(10, 784\), got \(9, 784\)"):
        judge_dream_folder(tmp_path, data)
    np.save(tmp_path / "dreams.npy", np.array([{"a": 1}] * 10, dtype=object))
    with pytest.raises(DataError, match="dreams.npy: not a readable NumPy array") as error:
        judge_dream_folder(tmp_path, data)
    assert "\n" not in str(error.value)
    (tmp_path / "dreams.npy").write_bytes(b"not an array")
    with pytest.raises(DataError, match="dreams.npy: not a readable NumPy array"):
        judge_dream_folder(tmp_path, data)
