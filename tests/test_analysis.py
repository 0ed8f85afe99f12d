"""Analysis of a trained network: confusion numbers and pairs, mistakes, AUROC, retraining
summaries and the findings text, checked against hand-worked examples; `analyze` end to end."""

import json
import math

import numpy as np
import pytest

from digitlab.analysis import FIGURES, analyze
from digitlab.analysis.balance import class_balance
from digitlab.analysis.confusion import confusion_analysis
from digitlab.analysis.mistakes import mistake_summary, mistakes_by_confidence, pair_examples
from digitlab.analysis.ood import auroc, average_ranks
from digitlab.analysis.pipeline import to_json
from digitlab.analysis.responses import Responses
from digitlab.analysis.results import AnalysisResult, NondigitSummary, RetrainingSummary
from digitlab.analysis.retrain import retraining_seeds, summarize_runs
from digitlab.config import TrainConfig
from digitlab.training import train

# ---------------------------------------------------------------------- confusion, by hand
# Ten test images of three digits:
#   true 0 -> answers 0, 0, 1, 2      row 0 of C: [2, 1, 1]
#   true 1 -> answers 1, 1, 0         row 1 of C: [1, 2, 0]
#   true 2 -> answers 2, 1, 1         row 2 of C: [0, 2, 1]
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
PREDICTED = np.array([0, 0, 1, 2, 1, 1, 0, 2, 1, 1])


@pytest.fixture(scope="module")
def hand():
    return confusion_analysis(LABELS, PREDICTED, n_classes=3)


def test_confusion_matrix_and_shares_by_hand(hand):
    assert hand["confusion_matrix"] == [[2, 1, 1], [1, 2, 0], [0, 2, 1]]
    np.testing.assert_allclose(hand["confusion_shares"],
                               [[2 / 4, 1 / 4, 1 / 4], [1 / 3, 2 / 3, 0], [0, 2 / 3, 1 / 3]])
    assert hand["accuracy"] == pytest.approx(5 / 10)  # trace 2 + 2 + 1 of 10
    assert (hand["n_test"], hand["n_mistakes"]) == (10, 5)


def test_per_digit_precision_and_recall_by_hand(hand):
    # recall = diagonal / row sum: 2/4, 2/3, 1/3; precision = diagonal / column sum [3, 5, 2]
    recall = [row["recall"] for row in hand["per_digit"]]
    precision = [row["precision"] for row in hand["per_digit"]]
    np.testing.assert_allclose(recall, [0.5, 2 / 3, 1 / 3])
    np.testing.assert_allclose(precision, [2 / 3, 2 / 5, 1 / 2])
    assert [row["accuracy"] for row in hand["per_digit"]] == recall
    assert [row["predicted_count"] for row in hand["per_digit"]] == [3, 5, 2]
    assert hand["worst_digit"]["digit"] == 2
    assert hand["best_digit"]["digit"] == 1
    assert hand["lowest_precision_digit"]["digit"] == 1


def test_confused_pairs_ranking_by_hand(hand):
    # off-diagonal cells: 2→1 twice; 0→1, 0→2, 1→0 once each (ties in (true, predicted) order)
    pairs = [(p["true"], p["predicted"], p["count"]) for p in hand["confused_pairs"]]
    assert pairs == [(2, 1, 2), (0, 1, 1), (0, 2, 1), (1, 0, 1)]
    assert hand["confused_pairs"][0]["share"] == pytest.approx(2 / 3)  # of the three 2s
    assert hand["confused_pairs"][1]["share"] == pytest.approx(1 / 4)  # of the four 0s
    # either way: {0,1} = 1 + 1, {1,2} = 0 + 2, {0,2} = 1 + 0
    both = [(p["digits"], p["count"], p["a_to_b"], p["b_to_a"])
            for p in hand["confused_pairs_either_way"]]
    assert both == [([0, 1], 2, 1, 1), ([1, 2], 2, 0, 2), ([0, 2], 1, 1, 0)]
    assert hand["mistakes_by_true_digit"] == [2, 1, 2]
    assert hand["mistakes_by_predicted_digit"] == [1, 3, 1]


def test_perfect_answers_have_no_pairs():
    labels = np.arange(10)
    result = confusion_analysis(labels, labels)
    assert result["accuracy"] == 1.0 and result["confused_pairs"] == []


# ---------------------------------------------------------------------- mistakes
def test_mistakes_sorted_most_confident_first():
    labels = np.array([0, 1, 2, 3, 3])
    predicted = np.array([0, 2, 1, 1, 3])
    confidence = np.array([0.99, 0.6, 0.8, 0.8, 0.7])
    # wrong: 1 (0.6), 2 (0.8), 3 (0.8); the tie 2/3 keeps index order
    assert mistakes_by_confidence(labels, predicted, confidence).tolist() == [2, 3, 1]
    assert pair_examples(labels, predicted, confidence, 3, 1).tolist() == [3]
    second = np.array([1, 1, 0, 3, 0])  # second choice right for 1 and 3, not for 2
    summary = mistake_summary(labels, predicted, confidence, second, top=2)
    assert summary["count"] == 3
    assert summary["mean_confidence_wrong"] == pytest.approx((0.6 + 0.8 + 0.8) / 3)
    assert summary["mean_confidence_right"] == pytest.approx((0.99 + 0.7) / 2)
    assert summary["second_choice_right"] == pytest.approx(2 / 3)
    assert [m["index"] for m in summary["most_confident"]] == [2, 3]


# ---------------------------------------------------------------------- AUROC
def test_auroc_by_hand_with_ties():
    # positives 0.9, 0.5, 0.5; negatives 0.5, 0.1. Pairs won: 0.9 beats both (2); each 0.5
    # beats 0.1 (1) and ties 0.5 (½): 2 + 2 × 1.5 = 5 of 6 pairs.
    assert auroc([0.9, 0.5, 0.5], [0.5, 0.1]) == pytest.approx(5 / 6)
    # the same through ranks: 0.1 → 1, the three 0.5 → 3 each, 0.9 → 5
    assert average_ranks(np.array([0.9, 0.5, 0.5, 0.5, 0.1])).tolist() == [5, 3, 3, 3, 1]


def test_auroc_perfect_inverted_and_chance():
    assert auroc([2, 3], [0, 1]) == 1.0
    assert auroc([0, 1], [2, 3]) == 0.0
    assert auroc([1, 1, 1], [1, 1]) == 0.5
    assert math.isnan(auroc([], [1.0]))


def test_auroc_matches_counting_pairs():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 5, 40), rng.integers(0, 5, 30)  # many ties
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auroc(pos, neg) == pytest.approx(wins / (40 * 30))


# ---------------------------------------------------------------------- responses
def test_margin_energy_and_choices():
    logits = np.array([[0.0, 0.0, 0.0], [np.log(2.0), 0.0, 0.0]])
    outputs = np.array([[0.5, -0.2, 0.1], [0.9, 0.95, -1.0]])
    probs = np.array([[0.5, 0.2, 0.3], [0.4, 0.5, 0.1]])
    r = Responses(logits, outputs, probs)
    np.testing.assert_allclose(r.energy, [-np.log(3.0), -np.log(4.0)])  # −log Σ exp z
    np.testing.assert_allclose(r.margin, [0.4, 0.05])
    assert r.predicted.tolist() == [0, 1] and r.second_choice.tolist() == [2, 0]
    np.testing.assert_allclose(r.confidence, [0.5, 0.5])


# ---------------------------------------------------------------------- data and retraining
def test_class_balance():
    result = class_balance(np.array([0, 0, 0, 1, 2, 2]), np.array([0, 1, 2]), n_classes=3)
    assert result["train_counts"] == [3, 1, 2]
    imbalance = result["largest_imbalance"]
    assert (imbalance["most"], imbalance["least"], imbalance["ratio"]) == (0, 1, 3.0)


def test_retraining_seeds_skip_the_analysed_one():
    assert retraining_seeds(0, 3, exclude=2) == [1, 3, 4]
    assert retraining_seeds(5, 2, exclude=0) == [6, 7]


def test_summarize_runs_by_hand():
    a = np.diag([10] * 10)
    a[4, 9] = 3  # run 1: 3 mistakes, all 4 → 9
    b = np.diag([10] * 10)
    b[4, 9], b[8, 3] = 1, 2  # run 2: 4 → 9 once, 8 → 3 twice
    s = summarize_runs([a, b], top=1)
    assert s["accuracies"] == pytest.approx([100 / 103, 100 / 103])
    assert s["accuracy_std"] == pytest.approx(0.0)
    assert s["mistakes_by_digit"][1] == [0, 0, 0, 0, 1, 0, 0, 0, 2, 0]
    assert s["worst_digits"] == [4, 8]
    rows = [(r["true"], r["predicted"], r["runs"], r["counts"]) for r in s["recurring_confusions"]]
    assert rows == [(4, 9, 1, [3, 1]), (8, 3, 1, [0, 2])]  # tie on runs: larger mean first


def test_to_json_turns_nan_into_none():
    assert to_json({"a": float("nan"), "b": np.int64(3), "c": [np.float32(0.5)]}) == \
        {"a": None, "b": 3, "c": [0.5]}


# ---------------------------------------------------------------------- end to end
REQUIRED_KEYS = {
    "accuracy", "confusion_matrix", "confusion_shares", "per_digit", "worst_digit",
    "confused_pairs", "mistakes", "mistakes_by_true_digit", "mistakes_by_predicted_digit",
    "data", "real_digits", "nondigits", "retraining", "findings", "figures",
}


@pytest.fixture(scope="module")
def sample():
    from digitlab.data import load_dataset

    return load_dataset("mnist-sample")


def _tiny(**changes):
    base = dict(hidden=[32], epochs=1, max_train_samples=1000, batch_size=10, lr=0.01)
    return TrainConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def tanh_analysis(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("tanh")
    result = train(_tiny(), sample, progress=False, run_dir=out / "run")
    return analyze(out / "run", sample, out / "analysis", retrain=2, progress=False,
                   retrain_epochs=1, nondigit_count=40), out / "analysis", result


def test_analyze_writes_every_figure_and_the_json(tanh_analysis):
    analysis, out, result = tanh_analysis
    stored = json.loads((out / "analysis.json").read_text())
    assert REQUIRED_KEYS <= set(stored)
    assert np.asarray(stored["confusion_matrix"]).shape == (10, 10)
    assert sum(map(sum, stored["confusion_matrix"])) == stored["n_test"]
    assert stored["accuracy"] == pytest.approx(result.history.final["test_accuracy"])
    assert set(stored["figures"]) == set(FIGURES)
    for figure in FIGURES.values():
        assert (out / figure.file).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", figure.file
    kinds = stored["nondigits"]
    assert {"uniform_noise", "letters", "rotated_180", "shifted_digits"} <= set(kinds)
    for kind in kinds.values():
        assert 0.0 <= kind["auroc"] <= 1.0 and 0.0 <= kind["auroc_energy"] <= 1.0
        assert sum(kind["predicted_counts"]) == kind["n"] == 40
    retraining = stored["retraining"]
    assert retraining["seeds"] == [1, 2] and len(retraining["accuracies"]) == 2


def test_analysis_json_is_the_typed_result_both_ways(tanh_analysis):
    analysis, out, _ = tanh_analysis
    stored = json.loads((out / "analysis.json").read_text())
    result = AnalysisResult.from_dict(stored)
    assert result.to_dict() == stored == analysis
    assert json.dumps(result.to_dict()) == json.dumps(stored)  # the same keys in the same order
    assert result.extra == {}  # every key of analysis.json is a declared field
    assert result == AnalysisResult.from_dict(result.to_dict())
    assert isinstance(result.retraining, RetrainingSummary)
    assert all(isinstance(k, NondigitSummary) and not k.extra for k in result.nondigits.values())
    assert result.worst_digit.digit == stored["worst_digit"]["digit"]
    assert result.confused_pairs[0].count == stored["confused_pairs"][0]["count"]


def test_findings_read_right_for_a_tanh_network(tanh_analysis):
    analysis = tanh_analysis[0]
    text = "\n".join(analysis["findings"])
    worst = analysis["worst_digit"]
    pair = analysis["confused_pairs"][0]
    assert f"The worst digit is {worst['digit']} ({100 * worst['accuracy']:.1f} % correct)" in text
    assert (f"most frequent confusion is {pair['true']} → {pair['predicted']} "
            f"({pair['count']} images") in text
    assert "output margin" in text and "normalised" in text  # tanh: ±1 outputs explained
    assert "Over 2 retrainings with other seeds (1 epoch each)" in text
    assert "nan" not in text.lower() and "None" not in text


def test_findings_read_right_for_a_softmax_network(sample, tmp_path):
    config = _tiny(output_activation="softmax", loss="ce", optimizer="adam", lr=0.003)
    result = train(config, sample, progress=False)
    analysis = analyze(result, sample, tmp_path, retrain=0, progress=False, nondigit_count=20,
                       figures=False)  # the sentences alone (the figures are tested above)
    text = "\n".join(analysis["findings"])
    assert f"The worst digit is {analysis['worst_digit']['digit']}" in text
    assert analysis["figures"] == {} and not list(tmp_path.glob("*.png"))
    assert "output margin" not in text and "normalised" not in text
    assert analysis["retraining"] is None and "retraining" not in analysis["figures"]
    for kind in analysis["nondigits"].values():
        assert f"AUROC against real digits {kind['auroc']:.2f}" in text


# ------------------------------------------------------------------ the Mahalanobis score
def test_mahalanobis_score_is_the_distance_to_the_nearest_class_in_the_shared_covariance():
    from digitlab.mahalanobis import fit_class_gaussians

    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), 40)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 5.0, -2.0]])
    features = centres[labels] + rng.normal(size=(120, 3)) * [1.0, 0.3, 2.0]
    gaussians = fit_class_gaussians(features, labels, ridge=0.0)
    # the definition, written out with loops
    means = np.stack([features[labels == k].mean(axis=0) for k in range(3)])
    covariance = sum(np.outer(f - means[c], f - means[c]) for f, c in zip(features, labels,
                                                                          strict=True)) / 120
    precision = np.linalg.inv(covariance)
    queries = rng.normal(size=(7, 3)) * 3
    expected = [-min((q - m) @ precision @ (q - m) for m in means) for q in queries]
    np.testing.assert_allclose(gaussians.score(queries), expected, rtol=1e-10)
    np.testing.assert_allclose(gaussians.score(means), 0.0, atol=1e-9)  # at a class mean
    # far from every class scores lower than near one
    assert gaussians.score(np.array([[40.0, 40.0, 40.0]]))[0] < gaussians.score(means[:1])[0]


def test_the_relative_score_subtracts_the_distance_to_one_gaussian_of_all_digits():
    """M_rel = −[min_k (y − μ_k)ᵀΣ⁻¹(y − μ_k) − (y − μ_0)ᵀΣ_0⁻¹(y − μ_0)], Σ_0 the covariance
    of all digits about their one mean, each with its ridge (Ren et al. 2021)."""
    from digitlab.errors import DataError
    from digitlab.mahalanobis import ClassGaussians, fit_class_gaussians

    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(3), 50)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 1.0], [0.0, 5.0, -2.0]])
    features = centres[labels] + rng.normal(size=(150, 3)) * [1.0, 0.3, 2.0]
    ridge = 0.05
    relative = fit_class_gaussians(features, labels, ridge=ridge, relative=True)
    plain = fit_class_gaussians(features, labels, ridge=ridge)
    assert relative.relative and not plain.relative
    np.testing.assert_array_equal(relative.precision, plain.precision)
    # the background Gaussian, written out with loops
    mean = features.mean(axis=0)
    covariance = sum(np.outer(f - mean, f - mean) for f in features) / 150
    covariance += ridge * np.trace(covariance) / 3 * np.eye(3)
    np.testing.assert_allclose(relative.background_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(relative.background_precision, np.linalg.inv(covariance),
                               rtol=1e-10)
    queries = rng.normal(size=(9, 3)) * 3
    background = [(q - mean) @ np.linalg.inv(covariance) @ (q - mean) for q in queries]
    np.testing.assert_allclose(relative.score(queries), plain.score(queries) + background,
                               rtol=1e-10)
    # a query at the digits' common mean keeps its class distance alone
    np.testing.assert_allclose(relative.score(mean[None]), plain.score(mean[None]), atol=1e-9)
    assert relative != plain and relative == fit_class_gaussians(features, labels, ridge=ridge,
                                                                 relative=True)
    with pytest.raises(DataError, match="both its mean and its precision"):
        ClassGaussians(plain.means, plain.precision, background_mean=mean)
    with pytest.raises(DataError, match="no background"):
        plain.background_distances(queries)
