"""From stored trial results to tables: one row per trial, mean ± std over seeds per point.

A *point* of a study is one series (e.g. relu / adam) at one value of the study's parameter; its
trials differ only in the seed. Single runs are noisy, so the figures and the report show the
mean over the seeds with the sample standard deviation (``ddof = 1``; None for fewer than two
successful seeds). Failed trials are counted, not averaged.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from digitlab.config import FIELD_NAMES
from digitlab.formatting import format_value
from digitlab.studies.definitions import StudyPlan

#: Columns of trials.csv before the config fields.
ROW_COLUMNS = (
    "study", "parameter", "value", "series", "key", "seed", "status", "error",
    "train_accuracy", "test_accuracy", "train_loss", "test_loss", "seconds", "epochs_run",
)
CSV_COLUMNS = ROW_COLUMNS + tuple(name for name in FIELD_NAMES if name != "seed")
METRICS = ("train_accuracy", "test_accuracy")


def trial_rows(plans: Sequence[StudyPlan], records: dict[str, dict[str, Any]]) -> list[dict]:
    """One row per trial of every study, from the stored records (by trial key).

    A row holds ``study``, ``parameter``, ``value``, ``series`` (e.g. ``"relu / adam"``),
    ``series_values`` (the dict), ``key``, ``seed``, ``status``, ``error``, ``train_accuracy``,
    ``test_accuracy``, ``train_loss``, ``test_loss``, ``seconds``, ``epochs_run``,
    ``finished_at``, ``config`` (every TrainConfig field) and ``history`` (per epoch).
    """
    rows = []
    for plan in plans:
        for trial in plan.trials:
            record = records[trial.key]
            rows.append({
                "study": plan.name,
                "parameter": plan.parameter,
                "value": trial.value,
                "series": trial.series_label,
                "series_values": dict(trial.series),
                "key": trial.key,
                "seed": trial.config.seed,
                **{name: record.get(name) for name in ROW_COLUMNS[6:]},
                "finished_at": record.get("finished_at"),
                "config": trial.config.to_dict(),
                "history": record.get("history", []),
            })
    return rows


def rows_to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """trials.csv: :data:`CSV_COLUMNS`, config fields flattened (hidden as ``"256,128"``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = {**row["config"], **row}
        flat["hidden"] = format_value(row["config"]["hidden"])
        flat["value"] = format_value(row["value"])
        writer.writerow(flat)
    return buffer.getvalue()


def summarize(plans: Sequence[StudyPlan], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per study: its description and one aggregated record per point (see the module doc).

    Returns ``{name: study}`` where ``study`` has ``name``, ``title``, ``parameter``,
    ``xlabel``, ``log_x``, ``per_epoch``, ``series_keys``, ``fixed`` (config fields shared by
    all its trials), ``trials``, ``failed`` and ``points``: a list of dicts with ``series``,
    ``series_values``, ``value``, ``n`` (successful seeds), ``failed``, ``seeds``,
    ``train_accuracy_mean``, ``train_accuracy_std``, ``test_accuracy_mean``,
    ``test_accuracy_std``, ``seconds_mean`` and ``errors`` (distinct messages of its failures).
    """
    studies = {}
    for plan in plans:
        study_rows = [row for row in rows if row["study"] == plan.name]
        studies[plan.name] = {
            "name": plan.name,
            "title": plan.title,
            "parameter": plan.parameter,
            "xlabel": plan.xlabel,
            "log_x": plan.log_x,
            "per_epoch": plan.per_epoch,
            "series_keys": list(plan.series_keys),
            "fixed": _shared_fields(study_rows),
            "trials": len(study_rows),
            "failed": sum(row["status"] != "ok" for row in study_rows),
            "points": _points(study_rows, plan.per_epoch),
        }
    return studies


def _points(rows: Sequence[dict[str, Any]], per_epoch: bool) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], dict[str, Any]] = {}

    def group(row, value):
        key = (row["series"], json.dumps(value))
        if key not in groups:
            groups[key] = {"series": row["series"], "series_values": row["series_values"],
                           "value": value, "seeds": [], "failed": 0, "errors": [],
                           **{name: [] for name in (*METRICS, "seconds")}}
        return groups[key]

    for row in rows:
        if row["status"] != "ok":
            values = range(1, row["config"]["epochs"] + 1) if per_epoch else [row["value"]]
            for value in values:
                point = group(row, value)
                point["failed"] += 1
                if row["error"] not in point["errors"]:
                    point["errors"].append(row["error"])
        elif per_epoch:  # the accuracy after each epoch of the one long run
            elapsed = 0.0
            for record in row["history"]:
                elapsed += record.get("seconds") or 0.0
                point = group(row, record["epoch"])
                point["seeds"].append(row["seed"])
                point["seconds"].append(elapsed)
                for name in METRICS:
                    point[name].append(record.get(name))
        else:
            point = group(row, row["value"])
            point["seeds"].append(row["seed"])
            for name in (*METRICS, "seconds"):
                point[name].append(row[name])

    points = []
    for point in groups.values():
        summary = {key: point[key] for key in ("series", "series_values", "value")}
        summary["n"], summary["failed"], summary["seeds"] = (
            len(point["seeds"]), point["failed"], point["seeds"])
        for name in METRICS:
            summary[f"{name}_mean"], summary[f"{name}_std"] = mean_std(point[name])
        summary["seconds_mean"] = mean_std(point["seconds"])[0]
        summary["errors"] = point["errors"]
        points.append(summary)
    return points


def mean_std(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof = 1) of the values that are not None."""
    numbers = [float(v) for v in values if v is not None]
    if not numbers:
        return None, None
    mean = sum(numbers) / len(numbers)
    if len(numbers) < 2:
        return mean, None
    variance = sum((v - mean) ** 2 for v in numbers) / (len(numbers) - 1)
    return mean, math.sqrt(variance)


def _shared_fields(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The config fields (seed aside) that every trial of a study has in common."""
    if not rows:
        return {}
    first = rows[0]["config"]
    return {name: value for name, value in first.items()
            if name != "seed" and all(row["config"][name] == value for row in rows)}


# ---------------------------------------------------------------------- terminal tables
def format_tables(studies: dict[str, dict[str, Any]], max_columns: int = 8) -> str:
    """Per study, test accuracy (%) mean ± std: a row per value, a column per series.

    Studies with more than ``max_columns`` series are shown as one row per point.
    """
    blocks = []
    for study in studies.values():
        points = study["points"]
        series = list(dict.fromkeys(point["series"] for point in points))
        values = list(dict.fromkeys(json.dumps(point["value"]) for point in points))
        by_cell = {(p["series"], json.dumps(p["value"])): p for p in points}
        head = (f"{study['title']}: test accuracy %, mean ± std over seeds "
                f"({study['trials']} trials, {study['failed']} failed"
                + ("; * = some seeds failed)" if study["failed"] else ")"))
        if len(series) <= max_columns:
            header = [study["parameter"], *series]
            lines = [[format_value(json.loads(v)),
                      *(_cell(by_cell.get((s, v))) for s in series)] for v in values]
        else:
            header = ["series", study["parameter"], "test accuracy %"]
            lines = [[p["series"], format_value(p["value"]), _cell(p)] for p in points]
        blocks.append(head + "\n" + _align([header, *lines]))
    return "\n\n".join(blocks)


def _cell(point: dict[str, Any] | None) -> str:
    if point is None or point["test_accuracy_mean"] is None:
        return "failed" if point else "-"
    text = f"{100 * point['test_accuracy_mean']:.1f}"
    if point["test_accuracy_std"] is not None:
        text += f"±{100 * point['test_accuracy_std']:.1f}"
    return text + ("*" if point["failed"] else "")


def _align(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
             for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
