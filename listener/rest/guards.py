"""What every request passes before an endpoint sees it: size, characters and the local zone.

Three small pure-ASGI middlewares, installed with the error handlers:

- `BodySizeLimit`: a body larger than `LUISTER_MAX_REQUEST_BYTES` is refused with 413 as soon as
  Content-Length says so (before a byte is read) or the bytes streamed so far exceed it.
- `TextGuard`: a NUL in the path or the query string, or a NUL or lone surrogate in a JSON body,
  is refused with 422: PostgreSQL cannot store them, so they would fail deep in a query.
- `LocalZone`: dates and naive times in the request are read in the organisation's zone
  (`listener.kit.datetimes`).
"""

from __future__ import annotations

import email.message
import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listener.kit.datetimes import local_zone_as
from listener.kit.strings import bad_character, find_bad_text
from listener.rest.problems import PROBLEM_JSON
from listener.settings import Settings

DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024


class InputRejected(StarletteHTTPException):
    """A request refused at the boundary; raised from `receive`, so it passes FastAPI's
    body parsing unchanged (FastAPI re-raises HTTP exceptions) and reaches its handler."""

    def __init__(self, status: int, title: str, detail: str, *, slug: str, **extra: Any) -> None:
        super().__init__(status_code=status, detail=detail)
        self.problem = {
            "type": f"urn:luister:problem:{slug}",
            "title": title,
            "status": status,
            "detail": detail,
        } | extra

    def response(self) -> JSONResponse:
        """The problem+json answer."""
        headers = {"Connection": "close"} if self.status_code == 413 else None
        return JSONResponse(
            self.problem, status_code=self.status_code, media_type=PROBLEM_JSON, headers=headers
        )


def _too_large(limit: int) -> InputRejected:
    return InputRejected(
        413,
        "Content too large",
        f"the request body may hold at most {limit} bytes",
        slug="too-large",
        max_bytes=limit,
    )


def _bad_text(where: str, found: str) -> InputRejected:
    return InputRejected(
        422,
        "Invalid request",
        f"{where}: must not contain {found}",
        slug="validation",
        errors=[{"field": where, "message": f"must not contain {found}"}],
    )


def _settings(scope: Scope) -> Settings | None:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    return settings if isinstance(settings, Settings) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            text: str = value.decode("latin-1")
            return text
    return None


class _Guard:
    """A middleware that may refuse a request before or while its body is read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _run(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def _send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except InputRejected as exc:
            # Read outside FastAPI's body parsing (a streaming endpoint): answer here.
            if started:
                raise
            await exc.response()(scope, receive, send)


class BodySizeLimit(_Guard):
    """413 problem+json for a body over the limit, without reading more of it than needed."""

    def __init__(self, app: ASGIApp, max_bytes: int | None = None) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = _settings(scope)
        limit = self.max_bytes or (
            settings.max_request_bytes if settings else DEFAULT_MAX_REQUEST_BYTES
        )
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _too_large(limit).response()(scope, receive, send)
            return
        seen = 0

        async def _receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
            return message

        await self._run(scope, _receive, send)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class TextGuard(_Guard):
    """422 problem+json for a NUL in the path or query, or a NUL/lone surrogate in JSON."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self._in_url(scope)
        if refused is not None:
            await refused.response()(scope, receive, send)
            return
        if not _is_json(_header(scope, b"content-type")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def _receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._check_json(b"".join(chunks))
                    chunks.clear()
            return message

        await self._run(scope, _receive, send)

    @staticmethod
    def _in_url(scope: Scope) -> InputRejected | None:
        found = bad_character(scope.get("path", ""))
        if found is not None:
            return _bad_text("path", found)
        query = scope.get("query_string", b"").decode("latin-1")
        if "%00" not in query and "\x00" not in query:
            return None
        # Decoded as Starlette decodes it (invalid UTF-8 becomes U+FFFD, never a surrogate).
        for name, value in parse_qsl(query, keep_blank_values=True):
            found = bad_character(name) or bad_character(value)
            if found is not None:
                return _bad_text(f"query.{name.replace(chr(0), '')}", found)
        return None

    @staticmethod
    def _check_json(body: bytes) -> None:
        # A raw NUL or surrogate cannot appear in valid JSON text (the parser refuses control
        # characters and invalid UTF-8): only a \u escape can make one. Parse only then.
        if b"\\u" not in body:
            return
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return  # not JSON: FastAPI answers that itself
        found = find_bad_text(document)
        if found is not None:
            where, what = found
            raise _bad_text(f"body.{where}" if where else "body", what)


class LocalZone:
    """Read dates and naive times in the request in the organisation's time zone."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = _settings(scope)
        if scope["type"] != "http" or settings is None:
            await self.app(scope, receive, send)
            return
        with local_zone_as(settings.digest_timezone):
            await self.app(scope, receive, send)


def install_input_guards(app: FastAPI) -> None:
    """Add the guards (limits come from `app.state.settings` at request time)."""

    async def _rejected(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InputRejected)
        return exc.response()

    app.add_exception_handler(InputRejected, _rejected)
    # add_middleware wraps what was added before: the size limit runs first, then the text.
    app.add_middleware(LocalZone)
    app.add_middleware(TextGuard)
    app.add_middleware(BodySizeLimit)
