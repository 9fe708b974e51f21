"""RFC 9457 problem details for every error the API returns, unexpected ones included."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listener.errors import LuisterError
from listener.kit import describe_validation_error

PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Correlation-ID"

log = logging.getLogger(__name__)


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class ApiProblem(LuisterError):
    """Raise from an endpoint to answer with a problem its domain has no error class for."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status = status
        self.title = title
        self.type_slug = slug
        super().__init__(detail or "", headers=headers, **extra)


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A JSON response with the problem+json media type."""
    return _respond(ApiProblem(status, title, detail, slug=slug, headers=headers, **extra))


#: Answers any operation may give: a body that is not JSON (400), input that does not validate
#: (422). FastAPI would declare its own 422 as `application/json`; ours is a problem.
ALWAYS_POSSIBLE = (400, 422)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem answers (400 and 422 always).

    Each is declared as `application/problem+json` with the Problem schema; `model` also puts the
    schema in the components (FastAPI lists it under `application/json` too).
    """
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {
        s: {"model": Problem, "content": {PROBLEM_JSON: problem}}
        for s in sorted({*statuses, *ALWAYS_POSSIBLE})
    }


def _respond(exc: LuisterError) -> JSONResponse:
    return JSONResponse(
        exc.problem(), status_code=exc.status, media_type=PROBLEM_JSON, headers=exc.headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as problem+json: domain errors, bad input, HTTP errors and crashes."""

    @app.exception_handler(LuisterError)
    async def _domain_error(_: Request, exc: LuisterError) -> JSONResponse:
        return _respond(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return problem_response(
            422,
            "Invalid request",
            describe_validation_error(exc),
            slug="validation",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            _TITLES.get(exc.status_code, "Error"),
            str(exc.detail) if exc.detail else None,
            headers=dict(exc.headers) if exc.headers else None,
        )

    # Body size cap, NUL/surrogate refusal and the local zone for dates (listener/rest/guards).
    from listener.rest.guards import install_input_guards

    install_input_guards(app)
    app.add_middleware(UnexpectedErrors)


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    429: "Too many requests",
}

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class UnexpectedErrors:
    """Turn an exception no handler knew into a 500 problem with a correlation id.

    A plain exception handler would not do: Starlette's ServerErrorMiddleware answers with it
    and then re-raises, so ASGI servers and test transports see the crash. Catching here, inside
    that middleware, ends the request with the problem. The traceback goes to the log under the
    same id the caller gets, so a report can be matched to its cause.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def _send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception:
            correlation_id = _correlation_id(scope)
            log.exception(
                "unexpected error in %s %s [correlation_id=%s]",
                scope.get("method"),
                scope.get("path"),
                correlation_id,
                extra={"correlation_id": correlation_id},
            )
            if started:
                raise  # part of the answer has left; the server can only drop the connection
            response = problem_response(
                500,
                "Internal server error",
                "something went wrong on our side; quote the correlation id when you report it",
                slug="internal",
                headers={CORRELATION_HEADER: correlation_id},
                correlation_id=correlation_id,
            )
            await response(scope, receive, send)


def _correlation_id(scope: Scope) -> str:
    """The caller's correlation id when it sent a sane one, else a new one."""
    for name, value in scope.get("headers", []):
        if name.decode("latin-1").lower() == CORRELATION_HEADER.lower():
            sent: str = value.decode("latin-1")
            if _SAFE_ID.fullmatch(sent):
                return sent
    return uuid.uuid4().hex
