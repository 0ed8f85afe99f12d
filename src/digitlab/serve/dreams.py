"""Dreams streamed as they form: equation (3), y⁰ ← y⁰ + η δ⁰W⁰, one reported step at a time.

:func:`dream_request` checks a POST /api/dream body into a :class:`DreamJob`; :func:`stream`
runs it on a worker thread (:func:`digitlab.dreaming.dream` from black, or
:func:`digitlab.dreaming.turn_into` from the person's drawing) and yields one JSON line per
reported step. The dream loop calls back after every step; when the client goes away the
generator is closed, the callback raises :class:`DreamStopped` and the thread ends at once.
:class:`DreamSlots` caps how many dreams run at once (each keeps a core busy): one more is
refused with 429 until one has ended. The dream's thread runs in the request's context, so a
failure is reported in the request's language.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlab.calibration import calibration_fields
from digitlab.dreaming import DreamOptions, dream, turn_into
from digitlab.errors import ConfigError, DreamDiverged
from digitlab.serve import inputs
from digitlab.serve.errors import ApiError
from digitlab.serve.language import _
from digitlab.serve.models import LoadedModel
from digitlab.shapes import N_CLASSES

MAX_STEPS = 5000
FRAMES = 100  # about this many steps of a dream are reported
DIGITS = 3  # decimals of the pixels sent (the page shows 8-bit grey levels)
OPTION_NAMES = tuple(f.name for f in dataclasses.fields(DreamOptions))
STARTS = ("black", "noise", "image")
#: dreams that may run at once on one server
MAX_DREAMS = 4


class DreamStopped(Exception):
    """Raised inside the dream loop when its client has gone."""


@dataclass
class DreamJob:
    model: str | None
    digit: int
    start: str
    image: np.ndarray | None
    options: DreamOptions


def dream_request(body: dict[str, Any]) -> DreamJob:
    """The dream a POST /api/dream body asks for (checked; 422 naming the bad value)."""
    inputs.unknown_fields(body, {"model", "digit", "start", "image", *OPTION_NAMES})
    model = body.get("model")
    if model is not None:
        inputs.text(model, "model")
    digit = inputs.integer(body.get("digit"), "digit", 0, N_CLASSES - 1)
    start = inputs.text(body.get("start", "black"), "start", STARTS)
    image = inputs.image_field(body) if start == "image" else None
    changes = {k: v for k, v in body.items() if k in OPTION_NAMES}
    if "steps" in changes:
        inputs.integer(changes["steps"], "steps", 1, MAX_STEPS)
    base = DreamOptions.turn() if start == "image" else DreamOptions()
    try:
        options = base.replace(**changes)
    except ConfigError as error:
        raise ApiError(422, str(error)) from None
    except (TypeError, ValueError) as error:
        raise ApiError(422, _("invalid dream options ({error})").format(error=error)) from None
    return DreamJob(model, digit, start, image, options)


class DreamSlots:
    """At most ``limit`` dreams at once: :meth:`take` before a dream starts (429 when all are
    taken) returns the function that gives the slot back; calling it more than once is
    harmless, so every way a dream can end may call it."""

    def __init__(self, limit: int = MAX_DREAMS):
        self.limit = limit
        self._free = threading.BoundedSemaphore(limit)

    def take(self) -> Callable[[], None]:
        if not self._free.acquire(blocking=False):
            raise ApiError(429, _("all {n} dream slots of this server are busy; try again "
                                  "when a dream has ended").format(n=self.limit))
        once = threading.Lock()  # taken by the first call, never released

        def give_back() -> None:
            if once.acquire(blocking=False):
                self._free.release()

        return give_back


def _line(data: dict[str, Any]) -> str:
    """One NDJSON line; NaN or infinity (invalid JSON) raises ValueError instead."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False) + "\n"


def _pixels(image: np.ndarray) -> list[float]:
    """The pixels rounded to :data:`DIGITS` decimals; an unclipped dream's pixels may be far
    outside [0, 1], and those too large to round are sent as they are (rounding would make
    them infinite)."""
    pixels = np.asarray(image, dtype=np.float64).reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = np.round(pixels, DIGITS)
    return np.where(np.isfinite(rounded), rounded, pixels).tolist()


def stream(model: LoadedModel, job: DreamJob,
           on_end: Callable[[], None] = lambda: None) -> AsyncIterator[str]:
    """NDJSON lines: ``{"step", "image", "probability", "probabilities", "loss"}`` every few
    steps, then ``{"done": true, "steps", "probability", "contrast_gain", "image"}`` (the image
    after the full-contrast scaling, by ``contrast_gain``; 1 where there was none). ``on_end``
    is called when the dream's thread ends, or when the stream is dropped before it started
    one."""
    lines = _stream(model, job, on_end)
    weakref.finalize(lines, on_end)  # a response never sent: its stream is never started
    return lines


def _dream(network, job: DreamJob, loss, on_step):
    """The job's dream: from black or noise, or the person's drawing turned into the digit."""
    if job.start == "image":
        return turn_into(network, job.image, job.digit, job.options, loss,
                         on_step=on_step).dream
    return dream(network, job.digit, job.start, job.options, loss, on_step=on_step)


async def _stream(model: LoadedModel, job: DreamJob,
                  on_end: Callable[[], None]) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    stop = threading.Event()
    network, digit, calibration = model.network, job.digit, model.calibration

    def shown(image: np.ndarray) -> np.ndarray:
        """The probabilities (10,) shown for a dreamt image: calibrated when the run is."""
        x = np.asarray(image).reshape(1, -1)
        p = network.probabilities(x) if calibration is None else \
            calibration.probabilities(network, x)
        if not np.all(np.isfinite(p)):  # pixels so large that the model's own dtype overflows
            raise DreamDiverged(_(
                "the dream of digit {digit} diverged: its pixels (up to {largest:.3g}) give the "
                "model NaN or infinite probabilities; try a smaller lr").format(
                    digit=digit, largest=float(np.max(np.abs(x)))))
        return p[0].astype(np.float64)
    loss = model.saved.config.loss if model.saved.config is not None else None
    every = max(1, job.options.steps // FRAMES)

    def send(item: str | None) -> None:
        loop.call_soon_threadsafe(lines.put_nowait, item)

    def on_step(step: int, images: np.ndarray) -> None:
        if stop.is_set():
            raise DreamStopped()
        if step % every:
            return
        probabilities = shown(images[0])  # (10,)
        send(_line({"step": step, "image": _pixels(images[0]),
                    "probability": float(probabilities[digit]),
                    "probabilities": probabilities.tolist(),
                    "loss": float(-np.log(max(probabilities[digit], 1e-12)))}))

    def run() -> None:
        try:
            # a diverging dream overflows on its way to inf/NaN: reported once, as
            # DreamDiverged, in the stream's last line
            with np.errstate(over="ignore", invalid="ignore"):
                result = _dream(network, job, loss, on_step)
            probabilities = (result.probabilities if calibration is None
                             else shown(result.image))
            send(_line({"done": True, "steps": result.steps,
                        "probability": float(probabilities[digit]),
                        "probabilities": probabilities.tolist(),
                        **calibration_fields(calibration),
                        "converged": result.converged,
                        "contrast_gain": float(result.contrast_gain),
                        "image": _pixels(result.image)}))
        except DreamStopped:
            pass
        except Exception as error:  # reported in the stream: the status line is already sent
            send(_line({"done": True, "error": " ".join(str(error).split()) or
                        type(error).__name__}))
        finally:
            on_end()
            send(None)

    worker = threading.Thread(target=contextvars.copy_context().run, args=(run,), name="dream",
                              daemon=True)  # in the request's language
    worker.start()
    try:
        while (line := await lines.get()) is not None:
            yield line
    finally:
        stop.set()  # the client left (or the dream ended): the loop stops at its next step
