"""The FastAPI application of ``digitlab serve`` (the endpoints of docs/serve-api.md).

Endpoints read and check what the client sent here, then hand the numerical work to a thread
(:func:`run_in_threadpool`), so the event loop keeps answering during trainings and dreams;
predictions go to a thread of their own that answers every waiting one in one pass
(:mod:`digitlab.serve.batching`).
Nothing changes state on GET. The page itself is served from the package's ``static/`` folder,
in the language of the request (:mod:`digitlab.serve.language`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from digitlab import __version__, i18n
from digitlab.config import LAB_FIELDS, PRESETS
from digitlab.serve import batching, dreams, inputs, language, mine, probes, quiz
from digitlab.serve.errors import ApiError, install_error_handlers
from digitlab.serve.language import _
from digitlab.serve.models import ModelRegistry
from digitlab.serve.safety import MAX_BODY_BYTES, BodyLimit, HostCheck, SecurityHeaders
from digitlab.serve.training import TrainingManager

STATIC_DIR = Path(__file__).parent / "static"
PRESET_FIELDS = LAB_FIELDS  # the config fields the training form offers (declared lab=True)
#: what the form says of a preset besides its fields: how honest the network it trains is
PRESET_HONESTY = ("attack", "outlier_exposure", "calibration_fraction")
FINETUNE_EPOCHS, MAX_FINETUNE_EPOCHS = 3, 50  # epochs of fine-tuning on one's own digits

# ES modules must come as JavaScript whatever the system's MIME table says
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


def create_app(runs_dir: str | Path = "runs", *, host: str = "127.0.0.1",
               port: int | None = 8000, body_limit: int = MAX_BODY_BYTES,
               lang: str | None = None) -> FastAPI:
    """The application serving the runs under ``runs_dir`` to clients of ``host:port``.

    ``host`` and ``port`` are where the server is bound: the Host-header check accepts them,
    ``localhost`` and ``127.0.0.1``. ``lang`` ("sl", "en"): the language of a page whose reader
    has not chosen one with its switch (None: the language the browser asks for, else English).
    No interactive API docs (they would load from a CDN).
    """
    lang = None if lang is None else i18n.check_language(lang, "lang")
    registry = ModelRegistry(runs_dir)
    jobs = TrainingManager(runs_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            await run_in_threadpool(jobs.shutdown)  # nothing is left running
            await run_in_threadpool(app.state.predictions.stop)

    app = FastAPI(title="digitlab", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    app.state.registry, app.state.jobs, app.state.language = registry, jobs, lang
    app.state.predictions = batching.BatchWorker(
        lambda predictions: batching.answer_predictions(registry, predictions),
        name="digitlab-predict")
    install_error_handlers(app)
    app.add_middleware(ServerTiming)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=body_limit)
    app.add_middleware(language.RequestLanguage, default=lang)
    app.add_middleware(HostCheck, host=host, port=port)  # added last: runs first

    _add_page_routes(app)
    _add_model_routes(app, registry)
    _add_predict_routes(app, registry)
    _add_training_routes(app, jobs)
    _add_lab_routes(app, registry)
    _add_my_digit_routes(app, registry, mine.MyDigits(runs_dir), jobs)
    if STATIC_DIR.is_dir():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app


class ServerTiming:
    """Adds ``Server-Timing: app;dur=MS`` to every answer: the time from the request's arrival
    to the start of the answer, in milliseconds (what benchmarks/bench_serve.py reports)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()

        async def timed_send(event):
            if event["type"] == "http.response.start":
                milliseconds = (time.perf_counter() - start) * 1000.0
                event["headers"] = [*event.get("headers", []),
                                    (b"server-timing", f"app;dur={milliseconds:.3f}".encode())]
            await send(event)

        await self.app(scope, receive, timed_send)


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object; it must be declared ``application/json`` unless empty."""
    body = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body.strip() and media != "application/json":
        raise ApiError(415, _("expected Content-Type application/json, got {media!r}").format(
            media=media or "none"))
    return inputs.parse_json_object(body)


def _add_page_routes(app: FastAPI) -> None:
    """The page, in the request's language, and the catalog its scripts translate with."""

    @app.get("/")
    @app.get("/index.html")
    async def page() -> HTMLResponse:
        return HTMLResponse(language.page(i18n.active_language()),
                            headers={"Cache-Control": "no-cache",
                                     "Vary": "Cookie, Accept-Language"})

    @app.get("/api/i18n/{lang}")
    async def catalog(lang: str) -> dict[str, Any]:
        if lang not in i18n.LANGUAGES:
            raise ApiError(404, _("unknown language {lang!r}; expected one of {languages}")
                           .format(lang=lang[:20], languages=", ".join(i18n.LANGUAGES)))
        return language.catalog(lang)


def _add_model_routes(app: FastAPI, registry: ModelRegistry) -> None:
    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "training": _training(app)}

    @app.get("/api/models")
    async def models() -> dict[str, Any]:
        entries = await run_in_threadpool(registry.scan)
        training = _training_model(app)
        return {"active": registry.active,
                "models": [e.describe(training=e.id == training) for e in entries],
                "unreadable": [u.describe() for u in registry.unreadable()]}

    @app.get("/api/models/{run_id:path}")
    async def model(run_id: str) -> dict[str, Any]:
        entry = await run_in_threadpool(registry.entry, run_id)
        return {**entry.describe(training=entry.id == _training_model(app)),
                "config": entry.config, "history": entry.history_columns()}

    @app.post("/api/models/active")
    async def set_active(request: Request) -> dict[str, Any]:
        body = await read_json(request)
        inputs.unknown_fields(body, ("id",))
        return {"active": await run_in_threadpool(registry.set_active, body.get("id"))}


def _add_predict_routes(app: FastAPI, registry: ModelRegistry) -> None:
    """Checked on the event loop, answered by the predictions' own thread
    (:mod:`digitlab.serve.batching`), every waiting request in one pass."""
    worker = app.state.predictions

    @app.post("/api/predict")
    async def predict(request: Request, model: str | None = None,
                      explain: int = 0, layers: int = 0) -> JSONResponse:
        body = await request.body()
        inputs.check_image_bytes(body, request.headers.get("content-type"))
        question = batching.Prediction(model, explain=_flag(explain, "explain"),
                                       layers=_flag(layers, "layers"))
        if inputs.small_png(body):
            question.upload = body  # decoded by the worker: a page's drawing, a few kB
        else:  # a photo, or a large PNG: decoded aside so that drawings do not wait for it
            question.image = await run_in_threadpool(inputs.prepare_uploaded_image, body)
        return await worker(question)

    @app.post("/api/predict-prepared")
    async def predict_prepared(request: Request, model: str | None = None,
                               explain: int = 0, layers: int = 0) -> JSONResponse:
        body = await read_json(request)
        inputs.unknown_fields(body, ("image",))
        return await worker(batching.Prediction(
            model, image=inputs.image_field(body), explain=_flag(explain, "explain"),
            layers=_flag(layers, "layers")))


def _flag(value: int, name: str) -> bool:
    if value not in (0, 1):
        raise ApiError(422, _("{name!r} must be 0 or 1, got {value}").format(
            name=name, value=value))
    return bool(value)


def _add_training_routes(app: FastAPI, jobs: TrainingManager) -> None:
    @app.get("/api/presets")
    async def presets() -> dict[str, Any]:
        return {"presets": {name: {k: getattr(config, k) for k in PRESET_FIELDS + PRESET_HONESTY}
                            for name, config in PRESETS.items()}}

    @app.post("/api/train", status_code=202)
    async def start_training(request: Request) -> JSONResponse:
        body = await read_json(request)
        return JSONResponse(await run_in_threadpool(jobs.start, body), status_code=202)

    @app.get("/api/train")
    async def training_status() -> dict[str, Any]:
        return jobs.status()

    @app.post("/api/train/cancel")
    async def cancel_training() -> dict[str, Any]:
        return await run_in_threadpool(jobs.cancel)

    @app.get("/api/train/events")
    async def training_events(request: Request) -> StreamingResponse:
        return StreamingResponse(_training_stream(request, jobs), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})


SSE_POLL = 0.2  # seconds between looks at the job's events
SSE_KEEPALIVE = 15.0  # seconds between comments that keep an idle stream open


async def _training_stream(request: Request, jobs: TrainingManager):
    """Server-sent events of the current or last job: its epochs so far, then live progress,
    epochs and the end, after which the stream closes. Idle: waits for a job to start."""
    seq = progress_seq = 0
    job_id = None
    quiet = 0.0
    while True:
        events, job = jobs.events_after(seq, progress_seq)
        if job is not None and job_id is not None and job.id != job_id:
            return  # a new job began: this stream was the last one's
        if job is not None:
            job_id = job.id
        for event in events:
            if event.name == "progress":
                progress_seq = event.seq
            else:
                seq = event.seq
            data = json.dumps(event.data, default=str)  # a job's LaterMessage: in this language
            yield f"id: {event.seq}\nevent: {event.name}\ndata: {data}\n\n"
            if event.name == "done":
                return
        if await request.is_disconnected():
            return
        await asyncio.sleep(SSE_POLL)
        quiet = 0.0 if events else quiet + SSE_POLL
        if quiet >= SSE_KEEPALIVE:
            quiet = 0.0
            yield ": waiting\n\n"


def _add_lab_routes(app: FastAPI, registry: ModelRegistry) -> None:
    """The quiz, the dream and the non-digit probes."""

    @app.get("/api/quiz")
    async def quiz_question(model: str | None = None, index: int = 0) -> dict[str, Any]:
        if index < 0:
            raise ApiError(422, _("{name!r} must be >= {low}, got {value}").format(
                name="index", low=0, value=index))
        return await run_in_threadpool(lambda: quiz.question(registry.load(model), index))

    @app.post("/api/quiz/answer")
    async def quiz_answer(request: Request) -> dict[str, Any]:
        body = await read_json(request)
        inputs.unknown_fields(body, ("model", "index", "guess"))
        model = body.get("model")
        if model is not None:
            inputs.text(model, "model")
        return await run_in_threadpool(
            lambda: quiz.answer(registry.load(model), body.get("index"), body.get("guess")))

    app.state.dream_slots = dreams.DreamSlots()

    @app.post("/api/dream")
    async def dream(request: Request) -> StreamingResponse:
        job = dreams.dream_request(await read_json(request))
        give_back = request.app.state.dream_slots.take()
        try:
            model = await run_in_threadpool(registry.load, job.model)
            if model.is_ensemble:
                raise ApiError(422, _("{model!r} is an ensemble: a dream climbs the gradient of "
                                      "one network; choose one of its networks").format(
                                          model=model.entry.id))
        except BaseException:
            give_back()
            raise
        return StreamingResponse(dreams.stream(model, job, on_end=give_back),
                                 media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-cache"})

    @app.get("/api/nondigits")
    async def nondigit_kinds() -> dict[str, Any]:
        return {"kinds": await run_in_threadpool(probes.kinds)}

    @app.get("/api/nondigits/{kind}")
    async def nondigits(kind: str, model: str | None = None, n: int = 8,
                        seed: int = 0) -> dict[str, Any]:
        return await run_in_threadpool(
            lambda: probes.probe(registry.load(model), kind, n, seed))

    @app.post("/api/ood")
    async def ood(request: Request, model: str | None = None) -> dict[str, Any]:
        body = await read_json(request)
        inputs.unknown_fields(body, ("image",))
        image = inputs.image_field(body)
        return await run_in_threadpool(lambda: probes.ood(registry.load(model), image))


def _add_my_digit_routes(app: FastAPI, registry: ModelRegistry, digits: mine.MyDigits,
                         jobs: TrainingManager) -> None:
    """The person's own labelled drawings (an IDX dataset in the runs folder), and a network
    fine-tuned on them."""

    @app.get("/api/my-digits")
    async def my_digits() -> dict[str, Any]:
        return await run_in_threadpool(digits.summary)

    @app.post("/api/my-digits")
    async def keep_my_digit(request: Request) -> dict[str, Any]:
        body = await read_json(request)
        inputs.unknown_fields(body, ("image", "label"))
        image = inputs.image_field(body)
        label = inputs.integer(body.get("label"), "label", 0, 9)
        return await run_in_threadpool(digits.add, image, label)

    @app.get("/api/my-digits/accuracy")
    async def my_digits_accuracy(model: str | None = None) -> dict[str, Any]:
        return await run_in_threadpool(lambda: digits.accuracy(registry.load(model)))

    @app.post("/api/finetune", status_code=202)
    async def finetune(request: Request) -> JSONResponse:
        body = await read_json(request)
        inputs.unknown_fields(body, ("model", "epochs"))
        model = body.get("model")
        if model is not None:
            inputs.text(model, "model")
        epochs = inputs.integer(body.get("epochs", FINETUNE_EPOCHS), "epochs", 1,
                                MAX_FINETUNE_EPOCHS)

        def work() -> dict[str, Any]:
            loaded = registry.load(model)
            done = mine.finetunable(loaded, digits)
            return jobs.start_finetuning(loaded.entry.folder, loaded.entry.id, loaded.config,
                                         done, digits.folder, epochs)

        return JSONResponse(await run_in_threadpool(work), status_code=202)


def _training(app: FastAPI) -> bool:
    jobs = getattr(app.state, "jobs", None)
    return bool(jobs is not None and jobs.running)


def _training_model(app: FastAPI) -> str | None:
    jobs = getattr(app.state, "jobs", None)
    return jobs.running_model if jobs is not None and jobs.running else None

