"""Who am I, and trading a password for a token."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from listener.accounts.schemas import LoginIn, MeOut, TokenOut
from listener.accounts.service import authenticate_password, create_token
from listener.rest.deps import Reader, SessionDep
from listener.rest.problems import ApiProblem, problem_responses

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.get("/me", responses=problem_responses(401, 403))
async def me(principal: Reader) -> MeOut:
    """Show the caller's user, role and token scopes."""
    return MeOut(
        id=principal.user.id,
        username=principal.user.username,
        role=principal.user.role,
        scopes=sorted(principal.scopes),
        token_prefix=principal.token.prefix,
    )


@router.post("/auth/login", status_code=status.HTTP_201_CREATED, responses=problem_responses(401))
async def login(body: LoginIn, session: SessionDep, request: Request) -> TokenOut:
    """Exchange a username and password for a new API token (shown once)."""
    user = await authenticate_password(session, username=body.username, password=body.password)
    if user is None:
        raise ApiProblem(401, "Unauthorized", "unknown user or wrong password", slug="bad-login")
    issued = await create_token(
        session, user=user, name=body.token_name, key=request.app.state.token_key
    )
    await session.commit()
    return TokenOut(
        id=issued.record.id,
        name=issued.record.name,
        token=issued.token,
        scopes=list(issued.record.scopes),
        expires_at=issued.record.expires_at,
    )
