"""Rendering desk pages: one Jinja2 environment, autoescaped, with the person's language.

`render(desk, "queue/page.html", {...})` gives a full page, or the template's `content` block
alone when htmx asks for a fragment of it (`HX-Request` without `HX-Boosted`) and the
template says it can (`fragment=True`). Untrusted text is always escaped by Jinja; post text
that carries markup is cleaned with nh3 (`safe_html`) before it is marked safe.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import nh3
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from api.desk.i18n import LANGUAGE_NAMES, LANGUAGES, translate
from api.desk.session import Desk
from listener.models.privacy import ERASED_PREFIX

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"


@cache
def _asset_version(path: str) -> str:
    """A short hash of an asset, so browsers fetch it anew when it changes."""
    data = (STATIC_DIR / path).read_bytes()
    return hashlib.sha256(data).hexdigest()[:10]


def static_url(path: str) -> str:
    """The URL of a file under `static/`, versioned by its content."""
    return f"{STATIC_URL}/{path}?v={_asset_version(path)}"


def safe_html(text: str | None) -> Markup:
    """Post markup cleaned to a small set of harmless tags (links, paragraphs, emphasis)."""
    cleaned = nh3.clean(
        text or "",
        tags={"p", "br", "a", "em", "strong", "b", "i", "code", "pre", "blockquote", "ul", "li"},
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow ugc",
    )
    return Markup(cleaned)


def when(value: datetime | None, lang: str = "en") -> str:
    """A timestamp as people read it: `2026-11-18 09:41 UTC`."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        static_url=static_url,
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        erased_prefix=ERASED_PREFIX,
    )
    env.filters.update(safe_html=safe_html, when=when)
    return env


def is_fragment_request(request: Request) -> bool:
    """htmx asking for part of a page (not a boosted navigation to a whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-boosted") != "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def render(
    desk: Desk | None,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    request: Request | None = None,
    lang: str = "en",
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page (or fragment template) rendered for `desk` (or, before sign-in, `request`)."""
    req = desk.request if desk is not None else request
    assert req is not None, "render needs a desk or a request"
    language = desk.lang if desk is not None else lang

    def t(key: str, /, **params: Any) -> str:
        return translate(language, key, **params)

    values: dict[str, Any] = {
        "desk": desk,
        "request": req,
        "lang": language,
        "t": t,
        "path": req.url.path,
    }
    values.update(context or {})
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


def toast(desk: Desk, message: str, *, kind: str = "error", status: int = 200) -> HTMLResponse:
    """A message for the toast area, whatever element the request meant to update."""
    response = render(desk, "_toast.html", {"message": message, "kind": kind}, status=status)
    response.headers["HX-Retarget"] = "#toasts"
    response.headers["HX-Reswap"] = "beforeend"
    return response


def error_page(desk: Desk | None, request: Request, *, status: int, message: str) -> HTMLResponse:
    """A whole page saying what went wrong (or a toast when htmx asked)."""
    if desk is not None and is_fragment_request(request):
        return toast(desk, message, status=status)
    lang = desk.lang if desk is not None else "en"
    return render(
        desk,
        "error.html",
        {"status": status, "message": message},
        request=request,
        lang=lang,
        status=status,
    )
