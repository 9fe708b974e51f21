"""Mounting the desk on the app: its screens, its assets, its security headers."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.desk import home
from api.desk.i18n import best_language, translate
from api.desk.render import STATIC_DIR, STATIC_URL, error_page, is_fragment_request
from api.desk.screens import (
    audit,
    conversation,
    digest,
    incidents,
    questions,
    queue,
    reply,
    sources,
)
from api.desk.session import DeskRefused, DeskSignInNeeded, login_url

#: Every screen of the desk; none appears in the API's OpenAPI document.
DESK_ROUTERS: tuple[APIRouter, ...] = (
    home.router,
    queue.router,
    conversation.router,
    reply.router,
    questions.router,
    incidents.router,
    sources.router,
    digest.router,
    audit.router,
)

#: No inline script or style, nothing from another site: what a mention smuggles in stays inert.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
_API_PREFIXES = ("/api/", "/docs", "/openapi.json", "/healthz", "/readyz", "/metrics")


class DeskSecurityHeaders:
    """Adds the CSP and friends to every answer outside the API and its docs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(_API_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _sign_in_needed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DeskSignInNeeded)
    target = login_url(exc.path if request.method == "GET" else "/")
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _refused(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, DeskRefused)
    lang = best_language(request.headers.get("accept-language"))
    message = translate(lang, exc.message_key)
    if is_fragment_request(request):
        # No desk object here (the refusal may be about the session itself): a bare toast.
        return HTMLResponse(
            f'<div class="toast toast-error" role="alert">{_escape(message)}</div>',
            status_code=exc.status,
            headers={"HX-Retarget": "#toasts", "HX-Reswap": "beforeend"},
        )
    return error_page(None, request, status=exc.status, message=message)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def install_desk(app: FastAPI) -> None:
    """Serve the desk at `/` and its assets at `/static`."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="desk-static")
    for router in DESK_ROUTERS:
        app.include_router(router)
    app.add_exception_handler(DeskSignInNeeded, _sign_in_needed)
    app.add_exception_handler(DeskRefused, _refused)
    app.add_middleware(DeskSecurityHeaders)
