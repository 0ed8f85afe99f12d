"""The FastAPI application of ``digitlab serve`` (the endpoints of docs/serve-api.md).

Endpoints read and check what the client sent here, then hand the numerical work to a thread
(:func:`run_in_threadpool`), so the event loop keeps answering during trainings and dreams.
Nothing changes state on GET. The page itself is served from the package's ``static/`` folder.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from digitlab import __version__
from digitlab.serve import explain, inputs
from digitlab.serve.errors import ApiError, install_error_handlers
from digitlab.serve.models import ModelRegistry
from digitlab.serve.safety import MAX_BODY_BYTES, BodyLimit, HostCheck

STATIC_DIR = Path(__file__).parent / "static"


def create_app(runs_dir: str | Path = "runs", *, host: str = "127.0.0.1",
               port: int | None = 8000, body_limit: int = MAX_BODY_BYTES) -> FastAPI:
    """The application serving the runs under ``runs_dir`` to clients of ``host:port``.

    ``host`` and ``port`` are where the server is bound: the Host-header check accepts them,
    ``localhost`` and ``127.0.0.1``. No interactive API docs (they would load from a CDN).
    """
    registry = ModelRegistry(runs_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield

    app = FastAPI(title="digitlab", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None, lifespan=lifespan)
    app.state.registry = registry
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=body_limit)
    app.add_middleware(HostCheck, host=host, port=port)  # added last: runs first

    _add_model_routes(app, registry)
    _add_predict_routes(app, registry)
    if STATIC_DIR.is_dir():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app


async def read_json(request: Request) -> dict[str, Any]:
    return inputs.parse_json_object(await request.body())


def _add_model_routes(app: FastAPI, registry: ModelRegistry) -> None:
    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "training": _training(app)}

    @app.get("/api/models")
    async def models() -> dict[str, Any]:
        entries = await run_in_threadpool(registry.scan)
        training = _training_model(app)
        return {"active": registry.active,
                "models": [e.describe(training=e.id == training) for e in entries]}

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
    @app.post("/api/predict")
    async def predict(request: Request, model: str | None = None,
                      explain: int = 0) -> dict[str, Any]:
        body = await request.body()
        inputs.check_image_bytes(body, request.headers.get("content-type"))

        def work() -> dict[str, Any]:
            loaded = registry.load(model)
            image = inputs.prepare_uploaded_image(body)
            return {"model": loaded.entry.id, **_answer(loaded.network, image, explain)}

        return await run_in_threadpool(work)

    @app.post("/api/predict-prepared")
    async def predict_prepared(request: Request, model: str | None = None,
                               explain: int = 0) -> dict[str, Any]:
        body = await read_json(request)
        inputs.unknown_fields(body, ("image",))
        image = inputs.image_field(body)

        def work() -> dict[str, Any]:
            loaded = registry.load(model)
            return {"model": loaded.entry.id, **_answer(loaded.network, image, explain)}

        return await run_in_threadpool(work)


def _answer(network, image, explain_flag: int) -> dict[str, Any]:
    if explain_flag not in (0, 1):
        raise ApiError(422, f"'explain' must be 0 or 1, got {explain_flag}")
    return explain.answer(network, image, explain=bool(explain_flag))


def _training(app: FastAPI) -> bool:
    jobs = getattr(app.state, "jobs", None)
    return bool(jobs is not None and jobs.running)


def _training_model(app: FastAPI) -> str | None:
    jobs = getattr(app.state, "jobs", None)
    return jobs.running_model if jobs is not None and jobs.running else None

