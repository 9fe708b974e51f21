"""Who is at the desk: the session cookie, CSRF protection and role checks.

Signing in (`/login`) issues a sliding login token, the same kind the API's login issues, and
keeps it in an HttpOnly, SameSite=Lax cookie (Secure when the request came over https). Every
write carries a CSRF token (the `X-CSRF-Token` header htmx adds, or a `csrf_token` form field)
derived from the session with the app's secret, and a request whose Origin is another site is
refused. Screens depend on `DeskDep` (any signed-in user), `WriterDesk` (may triage) or
`AdminDesk`; a forged write by a user whose role lacks the scope is refused by the server.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from api.desk.i18n import LANGUAGES, best_language, translate
from listener.accounts.service import Principal, authenticate_token
from listener.kit.strings import label_of
from listener.models import Scope
from listener.nlp.topics_store import topic_labels
from listener.rest.deps import SessionDep

COOKIE = "luister_desk"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class DeskSignInNeeded(Exception):
    """No valid session: the page answers with the way to the login form."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class DeskRefused(Exception):
    """The request is understood but not allowed (role, CSRF, origin); `message_key` says why."""

    def __init__(self, message_key: str, status: int = 403) -> None:
        super().__init__(message_key)
        self.message_key = message_key
        self.status = status


def csrf_token(request: Request, session_token: str) -> str:
    """The CSRF token that belongs to a session (a keyed hash of its cookie)."""
    key: bytes = request.app.state.token_key
    return hmac.new(key, b"desk-csrf:" + session_token.encode(), hashlib.sha256).hexdigest()[:40]


def cookie_is_secure(request: Request) -> bool:
    """Secure cookies behind https (directly, or as a proxy says in X-Forwarded-Proto)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def same_origin(request: Request) -> bool:
    """Whether the request's Origin (or, without one, Referer) is this site; absent is fine."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source != "null"
    parts = urlsplit(source)
    return parts.netloc.lower() == (request.headers.get("host") or "").lower()


@dataclass
class Desk:
    """One request at the desk: the signed-in person, their language and their CSRF token."""

    request: Request
    principal: Principal
    lang: str
    csrf: str
    extra: dict[str, Any] = field(default_factory=dict)
    # Topic key -> the label this person reads (their language; see topics_store.topic_label).
    topic_labels: dict[str, str] = field(default_factory=dict)

    @property
    def user_id(self) -> int:
        return self.principal.user.id

    @property
    def username(self) -> str:
        return self.principal.user.username

    @property
    def display_name(self) -> str:
        return self.principal.user.display_name or self.principal.user.username

    @property
    def label(self) -> str:
        """How the audit log names this person."""
        return f"{self.principal.user.username} (desk)"

    @property
    def can_write(self) -> bool:
        """Whether the role may triage: answer, claim, change status."""
        return Scope.TRIAGE in self.principal.scopes

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.principal.scopes

    def t(self, key: str, /, **params: Any) -> str:
        """`key` in this person's language."""
        return translate(self.lang, key, **params)

    def topic(self, name: str) -> str:
        """A topic as this person reads it: its label in their language."""
        return label_of(self.topic_labels, name)


def user_language(request: Request, principal: Principal) -> str:
    """The person's chosen language, else what the browser asks for."""
    chosen = getattr(principal.user, "ui_language", None)
    if chosen in LANGUAGES:
        return str(chosen)
    return best_language(request.headers.get("accept-language"))


async def _verify_write(request: Request, expected: str) -> None:
    if request.method in _SAFE_METHODS:
        return
    if not same_origin(request):
        raise DeskRefused("error.cross_site")
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()  # Starlette keeps it: the endpoint reads the same form
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if presented is None or not hmac.compare_digest(presented, expected):
        raise DeskRefused("error.csrf")


async def get_desk(request: Request, session: SessionDep) -> Desk:
    """The signed-in person (any role); writes are CSRF-checked here for every screen."""
    token = request.cookies.get(COOKIE)
    principal = None
    if token:
        settings = request.app.state.settings
        principal = await authenticate_token(
            session,
            token=token,
            key=request.app.state.token_key,
            idle=timedelta(hours=settings.login_token_idle_hours),
        )
    if token is None or principal is None or Scope.READ not in principal.scopes:
        raise DeskSignInNeeded(request.url.path)
    lang = user_language(request, principal)
    labels = await topic_labels(session, lang)
    # Keep the sliding expiry even when the page only reads; the page's own reads start afresh.
    await session.commit()
    expected = csrf_token(request, token)
    await _verify_write(request, expected)
    return Desk(request=request, principal=principal, lang=lang, csrf=expected, topic_labels=labels)


async def get_writer_desk(desk: Annotated[Desk, Depends(get_desk)]) -> Desk:
    """A signed-in person whose role may triage; anyone else is refused (403)."""
    if not desk.can_write:
        raise DeskRefused("error.read_only")
    return desk


async def get_admin_desk(desk: Annotated[Desk, Depends(get_desk)]) -> Desk:
    """A signed-in admin; anyone else is refused (403)."""
    if not desk.is_admin:
        raise DeskRefused("error.admin_only")
    return desk


DeskDep = Annotated[Desk, Depends(get_desk)]
WriterDesk = Annotated[Desk, Depends(get_writer_desk)]
AdminDesk = Annotated[Desk, Depends(get_admin_desk)]


def login_url(next_path: str) -> str:
    """The login form, coming back to `next_path` afterwards."""
    if not next_path.startswith("/") or next_path.startswith("//") or next_path == "/login":
        next_path = "/"
    return f"/login?next={quote(next_path, safe='/')}"


def safe_next(value: str | None) -> str:
    """A local path to go to after signing in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
