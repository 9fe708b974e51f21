"""The API documentation: Swagger UI served by the app itself, and the scope of every operation.

- `/docs` is Swagger UI with its assets vendored in `listener/rest/static/swagger/` (the
  swagger-ui-dist package, Apache-2.0, LICENSE beside it), served under `/docs/assets/`, so
  the page works with no internet. `/docs` and `/openapi.json` need no token.
- Each operation in `/openapi.json` names the scope it needs as `x-required-scope` (`read`,
  `triage`, `admin`, `metrics`, or `any` for any valid token) with a sentence in its description,
  derived from its `require(scope)` (or `get_principal`) dependency: no endpoint spells it out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from listener.rest.deps import get_principal
from listener.rest.problems import PROBLEM_JSON
from listener.rest.rate_limits import is_exempt

SWAGGER_DIR = Path(__file__).parent / "static" / "swagger"
ASSETS = "/docs/assets"
ANY_TOKEN = "any"


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` and its assets from the app (create the app with `docs_url=None`)."""
    app.mount(ASSETS, StaticFiles(directory=SWAGGER_DIR), name="swagger-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # No "validator" badge: it would send the document to a remote service.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def required_scopes(route: APIRoute) -> tuple[str, ...] | None:
    """The scopes that admit a caller (any one of them); `("any",)` for any valid token;
    None when the operation needs no token."""
    authenticated = False
    for call in _calls(route.dependant):
        scopes = getattr(call, "required_scopes", None)
        if scopes:
            return tuple(str(getattr(s, "value", s)) for s in scopes)
        authenticated = authenticated or call is get_principal
    return (ANY_TOKEN,) if authenticated else None


def _api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """(path as published, route) of every API operation, wherever its router was included."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: the routes are the app's
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path_format, route
        return
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            yield context.path_format or route.path_format, route


def _sentence(scopes: tuple[str, ...]) -> str:
    if scopes == (ANY_TOKEN,):
        return "**Auth:** any valid API token (no particular scope)."
    first, *others = scopes
    tail = "".join(f" (or `{s}`)" for s in others)
    return f"**Auth:** a token with the `{first}` scope{tail}."


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer"}}


#: The answer over the rate limit (listener/rest/rate_limits.py), declared on every operation.
TOO_MANY_REQUESTS = {
    "description": "Too many requests: wait `Retry-After` seconds",
    "headers": {
        "Retry-After": _header("Seconds until the window ends"),
        "RateLimit-Limit": _header("Requests allowed per window"),
        "RateLimit-Remaining": _header("Requests left in this window"),
        "RateLimit-Reset": _header("Seconds until the window ends"),
    },
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def annotate_scopes(app: FastAPI, document: dict[str, Any]) -> dict[str, Any]:
    """Add `x-required-scope` and a sentence on it to every operation that needs a token, and
    the rate limit's 429 to every operation it applies to."""
    paths = document.get("paths", {})
    for path, operations in paths.items():
        if is_exempt(path):
            continue
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("429", TOO_MANY_REQUESTS)
    for path, route in _api_routes(app):
        scopes = required_scopes(route)
        if scopes is None or path not in paths:
            continue
        for method in route.methods or ():
            operation = paths[path].get(method.lower())
            if operation is None:
                continue
            operation["x-required-scope"] = scopes[0]
            if len(scopes) > 1:
                operation["x-accepted-scopes"] = list(scopes)
            description = operation.get("description", "").rstrip()
            operation["description"] = f"{description}\n\n{_sentence(scopes)}".lstrip()
    return document


def install_openapi(app: FastAPI) -> None:
    """Publish the OpenAPI document with each operation's scope (built once, on first ask)."""
    build = app.openapi

    def _openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = annotate_scopes(app, build())
        return app.openapi_schema

    app.openapi = _openapi  # type: ignore[method-assign]
