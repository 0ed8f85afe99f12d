"""The typed results handed to the report: each record is the JSON written today, both ways."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from digitlab.analysis.confusion import confusion_analysis
from digitlab.analysis.results import AnalysisResult, ConfusedPair, DigitScore
from digitlab.dreaming.results import DreamRecord, DreamResult, DreamStudyResult, TurnRecord
from digitlab.records import OPTIONAL, Record
from digitlab.studies.results import StudiesSummary, StudyPoint, StudySummary


@dataclass
class Inner(Record):
    a: int
    b: list[float] | None


@dataclass
class Outer(Record):
    name: str
    one: Inner
    many: list[Inner]
    by_key: dict[str, Inner]
    maybe: Inner | None
    loose: dict[str, object]
    later: Inner | None = field(default=None, metadata=OPTIONAL)


OUTER = {"name": "x", "one": {"a": 1, "b": [0.5]}, "many": [{"a": 2, "b": None}],
         "by_key": {"k": {"a": 3, "b": []}}, "maybe": None, "loose": {"k": [1, {"a": 1}]}}


def test_record_rebuilds_nested_records_and_writes_back_the_same_json():
    outer = Outer.from_dict(OUTER)
    assert outer.one == Inner(1, [0.5]) and outer.many == [Inner(2, None)]
    assert outer.by_key["k"].a == 3 and outer.maybe is None and outer.later is None
    assert outer.loose == {"k": [1, {"a": 1}]}  # not a record: the JSON value as it is
    assert outer.to_dict() == OUTER and list(outer.to_dict()) == list(OUTER)
    with_later = {**OUTER, "later": {"a": 4, "b": None}}
    assert Outer.from_dict(with_later).later == Inner(4, None)
    assert Outer.from_dict(with_later).to_dict() == with_later


def test_record_keeps_unknown_keys_and_names_a_missing_one():
    newer = {**OUTER, "added_later": {"v": 1}}
    outer = Outer.from_dict(newer)
    assert outer.extra == {"added_later": {"v": 1}} and outer.to_dict() == newer
    with pytest.raises(KeyError, match="Outer: the key 'one' is missing"):
        Outer.from_dict({k: v for k, v in OUTER.items() if k != "one"})


def test_confusion_part_of_the_analysis_is_typed():
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 3])
    predicted = np.array([0, 1, 1, 1, 2, 2, 2, 0, 2, 3])
    part = json.loads(json.dumps(confusion_analysis(labels, predicted, n_classes=4)))
    rest = {"mistakes": {}, "data": {},
            "confident_threshold": 0.9, "real_digits": {
                "n": 10, "predicted_counts": [3, 3, 3, 1], "predicted_shares": [0.3] * 4,
                "most_predicted_digit": 0, "most_predicted_share": 0.3,
                "mean_top_probability": 0.8, "share_confident": 0.5, "mean_margin": 0.2,
                "share_tied": 0.0, "mean_energy": -1.0},
            "nondigits": {}, "nondigits_skipped": {}, "retraining": None,
            "retraining_skipped": "not requested", "findings": [], "figures": {}}
    stored = {"model": {}, "dataset": {}, "seed": 0, **part, **rest}
    result = AnalysisResult.from_dict(stored)
    assert result.to_dict() == stored and list(result.to_dict()) == list(stored)
    assert result.per_digit[2] == DigitScore(2, 4, 3, 0.75, 0.75, 0.75, 4)
    assert result.worst_digit == DigitScore(0, 2, 1, 0.5, 0.5, 0.5, 2)
    assert result.confused_pairs[0] == ConfusedPair(0, 1, 1, 0.5)
    assert result.real_digits.share_confident == 0.5


def test_dream_records_are_the_dream_results_json():
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(10))
    dream = DreamResult(3, rng.random(784), np.zeros(784), 2, np.array([2.0, 1.0, 0.5]),
                        np.array([0.1, 0.5, probabilities[3]]), probabilities, True, "ce")
    record = DreamRecord.from_dict(dream.to_dict())
    assert record.final_target_probability == dream.final_target_probability
    assert record.predicted_digit == dream.predicted_digit and record.loss_curve[-1] == 0.5
    assert record.to_dict() == dream.to_dict()
    short = DreamRecord.from_dict(dream.to_dict(curves=False))
    assert short.loss_curve is None and short.to_dict() == dream.to_dict(curves=False)
    study = {"what": "deep dream", "model": "run", "loss": "ce", "start": "black",
             "options": {"steps": 2}, "support": None, "digits": [3], "all_converged": True,
             "min_final_target_probability": dream.final_target_probability,
             "dreams": [dream.to_dict()], "files": {"dream": "dream.png"}}
    result = DreamStudyResult.from_dict(study)
    assert result.dreams == [record] and result.turn is None and result.figures is None
    assert result.extra == {"model": "run"} and result.to_dict() == study


def test_turn_record_round_trip():
    turn = {"from_digit": 4, "to_digit": 9, "l2_distance": 1.5, "linf_distance": 0.3,
            "steps": 7, "final_probability": 0.9, "start_probability_of_from_digit": 0.95,
            "final_probability_of_from_digit": 0.05, "predicted_digit": 9, "converged": True,
            "start_probabilities": [0.1] * 10, "final_probabilities": [0.1] * 10,
            "adversarial_example": True, "note": "n", "loss_curve": [1.0],
            "target_probability_curve": [0.5], "test_index": 12, "options": {"steps": 7}}
    record = TurnRecord.from_dict(turn)
    assert record.test_index == 12 and record.to_dict() == turn


POINT = {"series": "tanh / sgd", "series_values": {"activation": "tanh", "optimizer": "sgd"},
         "value": 0.01, "n": 2, "failed": 0, "seeds": [0, 1], "train_accuracy_mean": 0.8,
         "train_accuracy_std": 0.01, "test_accuracy_mean": 0.7, "test_accuracy_std": None,
         "seconds_mean": 1.5, "errors": []}


def test_study_summary_round_trip_and_best_points():
    points = [POINT, {**POINT, "value": 0.1, "test_accuracy_mean": 0.75},
              {**POINT, "series": "relu / adam", "test_accuracy_mean": 0.9},
              {**POINT, "series": "relu / sgd", "test_accuracy_mean": None, "n": 0, "failed": 2}]
    study = {"name": "lr", "title": "Learning rate", "parameter": "lr", "xlabel": "η",
             "log_x": True, "per_epoch": False, "series_keys": ["activation", "optimizer"],
             "fixed": {"epochs": 1}, "trials": 8, "failed": 2, "points": points}
    summary = {"studies": {"lr": study}, "trials": 8, "failed": 2, "seconds": 3.0,
               "figures": {"lr": "stages/studies/sweep/lr.png"}}
    typed = StudiesSummary.from_dict(summary)
    assert typed.to_dict() == summary
    lr = typed.studies["lr"]
    assert isinstance(lr, StudySummary) and lr.points[0] == StudyPoint.from_dict(POINT)
    assert [(series, p.value) for series, p in lr.best_points()] == [
        ("relu / adam", 0.01), ("tanh / sgd", 0.1)]  # the failed series has no best point
