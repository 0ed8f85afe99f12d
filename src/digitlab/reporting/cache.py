"""Reuse of finished report stages.

Each stage writes its results to ``DIR/stages/<name>/stage.json`` together with a *key*: a hash
of everything that determines them (the stage's settings, the dataset, and the keys of the stages
it builds on). Re-running the report with the same key reuses the results instead of recomputing
them; ``--fresh`` ignores what is there.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from digitlab import __version__
from digitlab.fileio import write_json


def stage_key(name: str, settings: dict[str, Any], upstream: list[str]) -> str:
    """A hash of a stage's name, settings, upstream keys and the digitlab version."""
    text = json.dumps({"stage": name, "settings": settings, "upstream": upstream,
                       "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_cached(stage_dir: Path, key: str) -> dict[str, Any] | None:
    """The cached results of a stage if its key matches and it finished, else None."""
    path = stage_dir / "stage.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, not JSON: rerun
        return None
    if not isinstance(saved, dict) or saved.get("key") != key or saved.get("status") != "done":
        return None
    return saved.get("results")


def save_results(stage_dir: Path, key: str, results: dict[str, Any], seconds: float) -> None:
    write_json(stage_dir / "stage.json",
               {"key": key, "status": "done", "seconds": seconds, "results": results})
