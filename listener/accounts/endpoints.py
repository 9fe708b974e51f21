"""Who am I, trading a password for a token, and the caller's own tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from listener.accounts.schemas import LoginIn, MeOut, TokenInfoOut, TokenOut
from listener.accounts.service import list_own_tokens, revoke_own_token
from listener.accounts.signin import sign_in
from listener.rest.deps import Authenticated, Reader, SessionDep, SettingsDep
from listener.rest.params import IdPath
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


@router.post(
    "/auth/login", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 422, 429)
)
async def login(
    body: LoginIn, session: SessionDep, settings: SettingsDep, request: Request
) -> TokenOut:
    """Exchange a username and password for a new API token (shown once).

    Failed logins back off exponentially per account and per address: while one must wait,
    every login for it answers 429 with Retry-After, even with the right password. The token
    expires when unused for LUISTER_LOGIN_TOKEN_IDLE_HOURS (each use extends it) and at the
    latest LUISTER_LOGIN_TOKEN_MAX_DAYS after login.
    """
    issued = await sign_in(
        session,
        username=body.username,
        password=body.password,
        address=request.client.host if request.client else None,
        key=request.app.state.token_key,
        settings=settings,
        token_name=body.token_name,
    )
    if issued is None:
        raise ApiProblem(401, "Unauthorized", "unknown user or wrong password", slug="bad-login")
    return TokenOut(
        id=issued.record.id,
        name=issued.record.name,
        token=issued.token,
        scopes=list(issued.record.scopes),
        expires_at=issued.record.expires_at,
        max_expires_at=issued.record.max_expires_at,
    )


@router.get("/me/tokens", responses=problem_responses(401))
async def my_tokens(session: SessionDep, principal: Authenticated) -> list[TokenInfoOut]:
    """List your tokens that still work, newest first (their secrets are never shown)."""
    tokens = await list_own_tokens(session, user_id=principal.user.id)
    return [TokenInfoOut.of(t, current_id=principal.token.id) for t in tokens]


@router.delete(
    "/me/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404),
)
async def revoke_my_token(
    token_id: IdPath, session: SessionDep, principal: Authenticated
) -> Response:
    """Revoke one of your tokens (revoking the one in use signs you out)."""
    revoked = await revoke_own_token(session, user_id=principal.user.id, token_id=token_id)
    if revoked is None:
        raise ApiProblem(404, "Not found", f"you have no token {token_id}", slug="not-found")
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
