"""The one error the endpoints raise on purpose, and how every error becomes one JSON line.

Each answer to a bad request is ``{"error": "..."}`` with a 4xx status and a message that names
the value and what was expected, in the request's language. Anything unexpected becomes a
generic 500 whose traceback stays in the server's log, never in the answer.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from digitlab import i18n
from digitlab.errors import ConfigError, DataError, DigitlabError, ModelFileError
from digitlab.serve.language import _, language_of_headers

log = logging.getLogger("digitlab.serve")


class ApiError(Exception):
    """A request the server refuses: ``status`` (4xx) and a one-line ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, one_line(message)


def one_line(message: str) -> str:
    """``message`` folded onto one line (error messages may quote multi-line values)."""
    return " ".join(str(message).split())


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status)


def from_digitlab_error(error: DigitlabError) -> ApiError:
    """The 4xx a library error maps to: bad values 422, damaged model files 422, data 422."""
    if isinstance(error, (ConfigError, DataError, ModelFileError)):
        return ApiError(422, str(error))
    return ApiError(400, str(error))


def install_error_handlers(app: FastAPI) -> None:
    """Every error as ``{"error": one line}``; unexpected ones as a generic 500."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.message)

    @app.exception_handler(DigitlabError)
    async def digitlab_error(request: Request, error: DigitlabError) -> JSONResponse:
        mapped = from_digitlab_error(error)
        return error_response(mapped.status, mapped.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else _("bad request")
        where = {"method": request.method, "path": request.url.path}
        if error.status_code == 404 and detail == "Not Found":
            detail = _("no such endpoint: {method} {path}").format(**where)
        elif error.status_code == 405:
            detail = _("{method} is not allowed on {path}").format(**where)
        return error_response(error.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors()[:3]:
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "query")
            problems.append(_("{where}: {problem}, got {value!r}").format(
                where=where, problem=item.get("msg", _("invalid value")),
                value=str(item.get("input"))[:40]))
        return error_response(422, _("invalid request: {problems}").format(
            problems="; ".join(problems)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        # answered outside the middleware that sets the request's language: set it here
        with i18n.language(language_of_headers(request.headers,
                                               getattr(request.app.state, "language", None))):
            return error_response(500, _("internal server error (the details are in the "
                                         "server's log)"))
