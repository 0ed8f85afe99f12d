"""One training at a time, in a separate process, with its progress kept for live pages.

:class:`TrainingManager` starts :func:`digitlab.serve.worker.run_training` in a process of its
own (``multiprocessing`` with ``spawn``: a fresh interpreter, nothing shared with the server),
reads its queue on a thread and keeps the job's events — every epoch, the latest running values
and the end — so a page that connects late first sees the epochs so far. Cancelling sends
SIGINT (the run keeps its last completed epoch), then terminates a process that does not stop.
A job's message is a :class:`~digitlab.serve.language.LaterMessage`: each page that asks reads it
in its own language.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import queue as queue_module
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitlab.config import FIELD_NAMES, PRESETS, TrainConfig, preset
from digitlab.errors import ConfigError
from digitlab.modelio import MODEL_FILE
from digitlab.serve.errors import ApiError
from digitlab.serve.inputs import text, unknown_fields
from digitlab.serve.language import N_, LaterMessage, _
from digitlab.serve.models import finite_or_none

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_EPOCHS = 1000
MAX_WIDTH = 8192
MAX_LAYERS = 8
STOP_WAIT = 10.0  # seconds a cancelled training gets to stop by itself
EPOCH_FIELDS = ("epoch", "train_loss", "train_accuracy", "validation_loss",
                "validation_accuracy", "test_loss", "test_accuracy", "seconds")
FINAL_STATES = ("finished", "cancelled", "failed")
TRACE_POINTS = 600  # running values kept per job (thinned by half whenever full)
#: the settings of a job its status reports, for a page reloaded during the training
SETTING_FIELDS = ("hidden", "activation", "optimizer", "lr", "epochs", "batch_size", "loss")


@dataclass
class Event:
    """One server-sent event of a job: ``seq`` orders them, ``name`` is the SSE event name."""

    seq: int
    name: str
    data: dict[str, Any]


@dataclass
class TrainingJob:
    id: str
    model: str
    run_dir: Path
    epochs: int
    state: str = "running"
    epoch: int = 0
    message: LaterMessage | None = None
    test_accuracy: float | None = None
    events: list[Event] = field(default_factory=list)  # epochs and the end, in order
    progress: Event | None = None  # the latest running values
    #: [fractional epoch, running loss, running accuracy] of the progress so far, thinned
    trace: list[list[float | None]] = field(default_factory=list)
    trace_step: int = 1  # one progress event in this many is kept
    trace_seen: int = 0
    settings: dict[str, Any] = field(default_factory=dict)  # preset, name and SETTING_FIELDS
    #: a fine-tuning's measurements once it ended (trained_on, held_out, replayed, before, after)
    finetune: dict[str, Any] | None = None
    cancel_requested: bool = False
    process: Any = None

    def status(self) -> dict[str, Any]:
        progress = self.progress.data if self.progress is not None else {}
        return {"job": self.id, "model": self.model, "state": self.state, "epoch": self.epoch,
                "epochs": self.epochs, "message": _said(self.message),
                "samples": progress.get("samples"), "total": progress.get("total"),
                "settings": self.settings, "trace": [list(p) for p in self.trace],
                "finetune": self.finetune}

    def add_trace(self, data: dict[str, Any]) -> None:
        """Keep this progress event's running values (every ``trace_step``-th one)."""
        self.trace_seen += 1
        if (self.trace_seen - 1) % self.trace_step:
            return
        total = data.get("total") or 0
        fraction = (data.get("samples") or 0) / total if total else 0.0
        self.trace.append([round(int(data.get("epoch", 1)) - 1 + fraction, 4),
                           finite_or_none(data.get("running_loss")),
                           finite_or_none(data.get("running_accuracy"))])
        if len(self.trace) >= TRACE_POINTS:
            self.trace = self.trace[::2]
            self.trace_step *= 2


class TrainingManager:
    """Starts, watches and cancels the one training that may run at a time."""

    def __init__(self, runs_dir: str | Path):
        self.runs_dir = Path(runs_dir)
        self.job: TrainingJob | None = None
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._context = multiprocessing.get_context("spawn")

    @property
    def running(self) -> bool:
        job = self.job
        return job is not None and job.state == "running"

    @property
    def running_model(self) -> str | None:
        job = self.job
        return job.model if job is not None and job.state == "running" else None

    # ------------------------------------------------------------------ requests
    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check the request, then start the training; ``{"job", "model"}``."""
        config = config_from_request(body)
        from digitlab.serve.worker import run_training

        return self._launch(
            lambda: self._run_name(body.get("name"), body.get("preset")), config,
            {"preset": body.get("preset")},
            lambda run_dir: (run_training, (config.to_dict(), str(run_dir))))

    def start_finetuning(self, source: Path, source_id: str, config: TrainConfig,
                         done: int, digits: Path, epochs: int) -> dict[str, Any]:
        """Start fine-tuning the run in ``source`` (id ``source_id``, its ``config``, ``done``
        epochs) on the digits of ``digits`` for ``epochs`` epochs, into a new run named
        ``NAME-mine`` (``-2``, ...); ``{"job", "model", "epochs"}``."""
        from digitlab.serve.worker import run_finetuning

        stem = f"{source.name[:59]}-mine"
        total = config.replace(epochs=done + epochs)
        return self._launch(
            lambda: self._free_name(stem), total, {"preset": None, "finetuned_from": source_id},
            lambda run_dir: (run_finetuning, (str(source), str(digits), str(run_dir), epochs)))

    def _launch(self, name_of, config: TrainConfig, settings: dict[str, Any],
                target_of) -> dict[str, Any]:
        """Start ``target_of(run_dir)`` = (function, arguments before the queue) in the
        training process, as the one job, into the new run folder ``name_of()``."""
        with self._lock:
            if self.running:
                raise ApiError(409, _("a training is already running ({model}); cancel it or "
                                      "wait for it to finish").format(model=self.job.model))
            name = name_of()
            run_dir = self.runs_dir / name
            run_dir.mkdir(parents=True, exist_ok=True)
            job = TrainingJob(f"job-{int(time.time() * 1000):x}", name, run_dir, config.epochs)
            job.settings = {**settings, "name": name,
                            **{k: getattr(config, k) for k in SETTING_FIELDS}}
            events = self._context.Queue()
            target, args = target_of(run_dir)
            process = self._context.Process(target=target, args=(*args, events),
                                            name=f"digitlab-train-{name}", daemon=True)
            process.start()
            job.process = process
            self.job = job
        threading.Thread(target=self._watch, args=(job, events), daemon=True,
                         name=f"watch-{job.id}").start()
        return {"job": job.id, "model": job.model, "epochs": job.epochs}

    def status(self) -> dict[str, Any]:
        job = self.job
        if job is None:
            return {"job": None, "model": None, "state": "idle", "epoch": 0, "epochs": 0,
                    "message": None, "samples": None, "total": None, "settings": None,
                    "trace": [], "finetune": None}
        return job.status()

    def cancel(self) -> dict[str, Any]:
        with self._lock:
            job = self.job
            if job is None or job.state != "running":
                raise ApiError(409, _("no training is running"))
            job.cancel_requested = True
            process = job.process
        _interrupt(process)
        threading.Thread(target=_stop_within, args=(process, STOP_WAIT), daemon=True).start()
        return {"state": "cancelled"}

    def shutdown(self, wait: float = STOP_WAIT) -> None:
        """Stop a running training (server shutdown): nothing is left running."""
        job = self.job
        if job is None or job.process is None:
            return
        if job.process.is_alive():
            job.cancel_requested = True
            _interrupt(job.process)
            _stop_within(job.process, wait)

    def events_after(self, seq: int, progress_seq: int) -> tuple[list[Event], TrainingJob | None]:
        """Events of the current job after ``seq`` (and the latest progress when newer than
        ``progress_seq``), ordered by seq."""
        job = self.job
        if job is None:
            return [], None
        with self._lock:
            new = [e for e in job.events if e.seq > seq]
            if job.progress is not None and job.progress.seq > max(progress_seq, seq):
                new.append(job.progress)
        return sorted(new, key=lambda e: e.seq), job

    # ------------------------------------------------------------------ the watcher
    def _watch(self, job: TrainingJob, events) -> None:
        """Read the worker's queue until it ends; record the events; settle the job."""
        done: dict[str, Any] | None = None
        while done is None:
            try:
                kind, data = events.get(timeout=0.2)
            except queue_module.Empty:
                if not job.process.is_alive():
                    with contextlib.suppress(queue_module.Empty):  # a last message in flight
                        kind, data = events.get(timeout=0.5)
                        if kind == "done":
                            done = data
                            break
                    done = {"state": "cancelled" if job.cancel_requested else "failed",
                            "test_accuracy": None,
                            "message": None if job.cancel_requested else LaterMessage(
                                N_("the training process ended unexpectedly (exit code "
                                   "{code})"), {"code": job.process.exitcode}).to_wire()}
                continue
            if kind == "done":
                done = data
            else:
                self._record(job, kind, data)
        job.process.join(timeout=STOP_WAIT)
        events.close()
        self._finish(job, done)

    def _record(self, job: TrainingJob, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            if kind == "started":
                job.epochs = int(data["epochs"])
            elif kind == "progress":
                job.progress = Event(next(self._seq), "progress", {"job": job.id, **data})
                job.add_trace(data)
            elif kind == "epoch":
                job.epoch = int(data["epoch"])
                record = {name: finite_or_none(data.get(name)) for name in EPOCH_FIELDS}
                job.events.append(Event(next(self._seq), "epoch", {"job": job.id, **record}))

    def _finish(self, job: TrainingJob, done: dict[str, Any]) -> None:
        state = done.get("state", "failed")
        if job.cancel_requested and state != "finished":
            state = "cancelled"
        with self._lock:
            job.state = state
            job.message = LaterMessage.from_wire(done.get("message"))
            job.test_accuracy = finite_or_none(done.get("test_accuracy"))
            job.finetune = done.get("finetune")
            job.events.append(Event(next(self._seq), "done", {
                "job": job.id, "state": state, "model": job.model,
                "test_accuracy": job.test_accuracy, "message": job.message,
                "finetune": job.finetune}))
        _remove_if_empty(job.run_dir)

    # ------------------------------------------------------------------ names
    def _run_name(self, name: Any, preset_name: Any) -> str:
        """The requested run name (checked), or the first free of ``PRESET``, ``PRESET-2``..."""
        if name is not None and name != "":
            name = text(name, "name")
            if not NAME_PATTERN.fullmatch(name):
                raise ApiError(422, _("'name' must be 1 to 64 letters, digits, '-' or '_', got "
                                      "{name!r}").format(name=name[:80]))
            if (self.runs_dir / name).exists():
                raise ApiError(422, _("a run named {name!r} already exists; choose another name")
                               .format(name=name))
            return name
        stem = preset_name if isinstance(preset_name, str) and preset_name in PRESETS \
            else "custom"
        return self._free_name(stem)

    def _free_name(self, stem: str) -> str:
        """The first of ``STEM``, ``STEM-2``, ... that names no folder of the runs folder."""
        for number in itertools.count(1):
            candidate = stem if number == 1 else f"{stem}-{number}"
            if not (self.runs_dir / candidate).exists():
                return candidate
        raise AssertionError("unreachable")


def config_from_request(body: dict[str, Any]) -> TrainConfig:
    """The TrainConfig a POST /api/train body asks for: the preset, then the fields given."""
    unknown_fields(body, {"name", "preset", *FIELD_NAMES})
    preset_name = body.get("preset")
    if preset_name is not None:
        text(preset_name, "preset", tuple(PRESETS))
    fields = {k: v for k, v in body.items() if k not in ("name", "preset") and v is not None}
    hidden = fields.get("hidden")
    if hidden is not None:
        if isinstance(hidden, str):
            hidden = [int(p) for p in hidden.split(",") if p.strip().isdigit()] \
                if re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", hidden) else hidden
        if not isinstance(hidden, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in hidden):
            raise ApiError(422, _("'hidden' must be a list of layer widths like [256, 128], "
                                  "got {value!r:.60}").format(value=hidden))
        if len(hidden) > MAX_LAYERS or any(n > MAX_WIDTH for n in hidden):
            raise ApiError(422, _("'hidden' allows at most {layers} layers of at most {width} "
                                  "units, got {value!r:.60}").format(
                                      layers=MAX_LAYERS, width=MAX_WIDTH, value=hidden))
        fields["hidden"] = hidden
    epochs = fields.get("epochs")
    if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > MAX_EPOCHS:
        raise ApiError(422, _("{name!r} must be at most {most}, got {value}").format(
            name="epochs", most=MAX_EPOCHS, value=epochs))
    try:
        return preset(preset_name or "assignment").replace(**fields)
    except ConfigError as error:
        raise ApiError(422, str(error)) from None
    except (TypeError, ValueError) as error:
        raise ApiError(422, _("invalid training settings ({error})").format(
            error=error)) from None


def _said(message: LaterMessage | None) -> str | None:
    """A job's message in the active language (the language of the request that asks)."""
    return None if message is None else str(message)


def _interrupt(process) -> None:
    if process is not None and process.is_alive() and process.pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGINT)


def _stop_within(process, seconds: float) -> None:
    """Wait for ``process`` to end; terminate it, then kill it, when it does not."""
    process.join(timeout=seconds)
    if process.is_alive():
        process.terminate()
        process.join(timeout=3.0)
    if process.is_alive():
        process.kill()
        process.join(timeout=3.0)


def _remove_if_empty(run_dir: Path) -> None:
    """A run folder made for a training that completed no epoch is removed again."""
    with contextlib.suppress(OSError):
        if not (run_dir / MODEL_FILE).exists() and not any(run_dir.iterdir()):
            run_dir.rmdir()
