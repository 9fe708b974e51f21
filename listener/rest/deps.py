"""Request-scoped dependencies: the database session and the authenticated caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.accounts.service import Principal, authenticate_token
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


SessionDep = Annotated[AsyncSession, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

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
    principal = await authenticate_token(
        session, token=credentials.credentials, key=request.app.state.token_key
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


def require(scope: Scope) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits callers whose token (within their role) holds `scope`."""

    async def _check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if scope not in principal.scopes:
            raise ApiProblem(
                403,
                "Forbidden",
                f"this needs the '{scope.value}' scope; your token has "
                f"{', '.join(sorted(principal.scopes)) or 'none'} (role {principal.user.role})",
                slug="forbidden",
            )
        return principal

    return _check


Reader = Annotated[Principal, Depends(require(Scope.READ))]
Triager = Annotated[Principal, Depends(require(Scope.TRIAGE))]
Admin = Annotated[Principal, Depends(require(Scope.ADMIN))]
