"""Request dependencies: the database session, the guarded HTTP client and the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.accounts.service import Principal, authenticate_token
from listener.kit.http import make_client
from listener.models import Scope
from listener.rest.problems import ApiProblem
from listener.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer lst_…`")


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; endpoints that write commit before they answer."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


async def get_http_client(request: Request) -> httpx.AsyncClient:
    """The process's one guarded client (made on first use; the app's lifespan closes it)."""
    # Async so it runs on the event loop, not in a thread: two requests cannot race to make one.
    state = request.app.state
    client: httpx.AsyncClient | None = getattr(state, "http_client", None)
    if client is None or client.is_closed:
        client = state.http_client = make_client(state.settings)
    return client


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HttpClientDep = Annotated[httpx.AsyncClient, Depends(get_http_client)]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="luister"'}


async def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind the bearer token; 401 when there is none or it is not valid."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiProblem(
            401,
            "Unauthorized",
            "send an API token as 'Authorization: Bearer <token>'",
            slug="unauthorized",
            headers=_CHALLENGE,
        )
    settings: Settings = request.app.state.settings
    principal = await authenticate_token(
        session,
        token=credentials.credentials,
        key=request.app.state.token_key,
        idle=timedelta(hours=settings.login_token_idle_hours),
    )
    if principal is None:
        raise ApiProblem(
            401,
            "Unauthorized",
            "the token is unknown, revoked or expired",
            slug="unauthorized",
            headers=_CHALLENGE,
        )
    await session.commit()  # keep last_used_at even when the endpoint only reads
    return principal


def require(scope: Scope, *also: Scope) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits callers whose token (within their role) holds `scope` (or one of
    `also`). The OpenAPI document names the scope of every operation from `required_scopes`."""
    accepted = (scope, *also)

    async def _check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.scopes.intersection(accepted):
            wanted = " or ".join(f"'{s.value}'" for s in accepted)
            raise ApiProblem(
                403,
                "Forbidden",
                f"this needs the {wanted} scope; your token has "
                f"{', '.join(sorted(principal.scopes)) or 'none'} (role {principal.user.role})",
                slug="forbidden",
            )
        return principal

    _check.required_scopes = accepted  # type: ignore[attr-defined]
    return _check


Authenticated = Annotated[Principal, Depends(get_principal)]
"""Any caller with a valid token, whatever its scopes (managing one's own tokens)."""
Reader = Annotated[Principal, Depends(require(Scope.READ))]
Triager = Annotated[Principal, Depends(require(Scope.TRIAGE))]
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
MetricsReader = Annotated[Principal, Depends(require(Scope.METRICS, Scope.ADMIN))]
"""A Prometheus scraper's token (`metrics` scope), or an admin's."""
