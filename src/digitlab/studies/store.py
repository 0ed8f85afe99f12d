"""The results store of a sweep: one JSON file per finished trial, ``DIR/trials/<key>.json``.

Each trial's result is written atomically the moment it finishes, so an interrupted sweep loses
at most the trials that were running, and running the sweep again skips every trial whose file
exists. The key is the hash of the trial's full config, seed included
(:attr:`digitlab.studies.trials.Trial.key`), so a config that two studies share is trained once.

A record is the result of :func:`digitlab.studies.trials.run_trial` plus ``config`` (the full
TrainConfig as a dict), ``data_dir`` and ``finished_at`` (UTC, ISO 8601). Failed trials are
stored too: a diverged run diverges again. Only failures marked ``retryable`` (an unexpected
exception, an interrupted run) are run again by a resumed sweep.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from digitlab.fileio import write_json
from digitlab.studies.trials import Trial

TRIALS_FOLDER = "trials"


class TrialStore:
    """Finished trials of a sweep, one file each under ``out_dir/trials``."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.folder = Path(out_dir) / TRIALS_FOLDER

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, key: str) -> dict[str, Any] | None:
        """The stored record of ``key``, or None (also for an unreadable file: run it again)."""
        try:
            record = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return record if isinstance(record, dict) and record.get("key") == key else None

    def finished(self, key: str) -> dict[str, Any] | None:
        """The record of ``key`` if the trial need not run again, else None."""
        record = self.load(key)
        if record is None or (record.get("status") != "ok" and record.get("retryable")):
            return None
        return record

    def save(self, trial: Trial, result: dict[str, Any]) -> dict[str, Any]:
        """Store ``result`` of ``trial`` atomically and return the stored record."""
        record = {
            **result,
            "key": trial.key,
            "config": trial.config.to_dict(),
            "data_dir": trial.data and trial.data.folder,
            "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        write_json(self.path(trial.key), record)
        return record

    def keys(self) -> list[str]:
        """Keys of every stored record (finished or not), sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(path.stem for path in self.folder.glob("*.json"))
