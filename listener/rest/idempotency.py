"""`Idempotency-Key`: a retried request gets its first answer and the work is done once.

After draft-ietf-httpapi-idempotency-key-header: the same key from the same user, within
`idempotency_retention_hours`, answers with the status and body of the first request; the same key
with another request (method, path, query or body) is a 422; a retry while the first is still
being answered is a 409 with `Retry-After`.

The key's row is written in the *same transaction* as the work it guards (the dependency adds
it to the request's session before the endpoint runs), so it is committed exactly when the work
is: a request that fails before its commit leaves no key behind and may be retried as new, and
one whose work was committed can never be done again under that key, even when its answer was
lost. Once the endpoint has answered, the answer is stored on the row.

An endpoint takes part by depending on `IdempotencyDep` (after its principal) on a router whose
`route_class` is `IdempotentRoute`, which stores answers and replays them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from listener.accounts.service import Principal
from listener.errors import LuisterError
from listener.models import IdempotencyKey, utcnow
from listener.rest.deps import SessionDep, SettingsDep, get_principal
from listener.rest.problems import PROBLEM_JSON

log = logging.getLogger(__name__)

KEY_HEADER = "Idempotency-Key"
#: Set on an answer that was stored, not produced now.
REPLAYED_HEADER = "Idempotent-Replayed"
#: Headers of an answer kept with it; the rest describe the exchange, not the result.
_KEPT_HEADERS = ("location", "retry-after")
#: Answers not kept: who may call is checked again on every request, and a wait is temporary.
_NOT_KEPT = frozenset({401, 403, 408, 429})
#: After this long without an answer, the first request is taken to have lost it.
_ANSWER_LOST_AFTER = timedelta(minutes=2)


class KeyReused(LuisterError):
    """The key came before with another request: a new request needs a new key."""

    status = 422
    type_slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for another request"


class KeyInUse(LuisterError):
    """A request with this key was accepted and its answer is not stored (yet)."""

    status = 409
    type_slug = "idempotency-key-in-use"
    title = "A request with this Idempotency-Key is being answered"


@dataclass
class Claim:
    """This request's key, added to the request's session with the work."""

    session: AsyncSession
    user_id: int
    key: str
    fingerprint: str
    method: str
    path: str
    expires_at: datetime

    async def answered(self, response: Response) -> None:
        """Keep what the endpoint answered (it has committed its work)."""
        if response.status_code >= 500 or response.status_code in _NOT_KEPT:
            await self.session.rollback()
            return
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):
            return  # a streamed answer cannot be kept; its key guards the work all the same
        headers = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
        await self._keep(response.status_code, response.media_type, body, headers)

    async def failed(self, exc: Exception) -> None:
        """Drop the work that was not committed; keep a refusal the endpoint itself made."""
        await self.session.rollback()
        if isinstance(exc, LuisterError) and exc.status < 500 and exc.status not in _NOT_KEPT:
            rendered = JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM_JSON)
            headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in _KEPT_HEADERS}
            await self._keep(exc.status, PROBLEM_JSON, bytes(rendered.body), headers)

    async def _keep(
        self, status: int, media_type: str | None, body: bytes, headers: dict[str, str]
    ) -> None:
        answer = {
            "status": status,
            "media_type": media_type,
            "body": body.decode("utf-8", errors="replace"),
            "headers": headers,
            "completed_at": utcnow(),
        }
        try:
            stored = await self.session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.user_id == self.user_id, IdempotencyKey.key == self.key)
                .values(**answer)
                .returning(IdempotencyKey.id)
                .execution_options(synchronize_session=False)
            )
            if stored.scalar_one_or_none() is None:  # the work was rolled back: a refusal
                self.session.add(IdempotencyKey(**self.row_values(), **answer))
            await self.session.commit()
        except Exception:  # the answer stands; a retry is told the key is in use, never redone
            await self.session.rollback()
            log.warning("could not store the answer to Idempotency-Key %r", self.key, exc_info=True)

    def row_values(self) -> dict[str, Any]:
        """The key's row, without an answer."""
        return {
            "user_id": self.user_id,
            "key": self.key,
            "fingerprint": self.fingerprint,
            "method": self.method,
            "path": self.path[:500],
            "expires_at": self.expires_at,
        }


class _Replay(Exception):  # control flow: a stored answer, not an error
    def __init__(self, response: Response) -> None:
        super().__init__("replayed")
        self.response = response


def _fingerprint(request: Request, body: bytes) -> str:
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:
        canonical = body
    query = json.dumps(sorted(request.query_params.multi_items()))
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _replay(row: IdempotencyKey) -> Response:
    assert row.status is not None
    return Response(
        content=(row.body or "").encode(),
        status_code=row.status,
        media_type=row.media_type,
        headers={**row.headers, REPLAYED_HEADER: "true"},
    )


def _settle(row: IdempotencyKey, fingerprint: str, now: datetime) -> None:
    """Answer from a stored key: refuse another request, replay an answer, or say 'in use'."""
    if row.fingerprint != fingerprint:
        raise KeyReused(
            f"the key {row.key!r} came with another {row.method} request before; "
            "send a new key for a new request"
        )
    if row.status is not None:
        raise _Replay(_replay(row))
    if now - row.created_at > _ANSWER_LOST_AFTER:
        raise KeyInUse(
            "the request with this key was carried out, but its answer was not recorded; "
            "look the result up instead of sending it again",
            headers={"Retry-After": "60"},
        )
    raise KeyInUse(
        "the first request with this key is still being answered; try again shortly",
        headers={"Retry-After": "1"},
    )


async def idempotency_key(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(get_principal)],
    key: Annotated[
        str | None,
        Header(
            alias=KEY_HEADER,
            min_length=1,
            max_length=255,
            pattern=r"^[!-~]+$",
            description=(
                "Any unique string (a UUID, say). A retry with the same key gets the first "
                "answer, and the work is done once; the same key with another request is a 422."
            ),
        ),
    ] = None,
) -> Claim | None:
    """Claim the request's `Idempotency-Key` in the request's session (None without one)."""
    if key is None:
        return None
    key = key.strip('"')  # the draft sends it as a structured-field string: "8e03…"
    now = utcnow()
    fingerprint = _fingerprint(request, await request.body())
    claim = Claim(
        session=session,
        user_id=principal.user.id,
        key=key,
        fingerprint=fingerprint,
        method=request.method,
        path=request.url.path,
        expires_at=now + timedelta(hours=settings.idempotency_retention_hours),
    )
    mine = (IdempotencyKey.user_id == claim.user_id, IdempotencyKey.key == key)
    found = (await session.execute(select(IdempotencyKey).where(*mine))).scalar_one_or_none()
    if found is not None and found.expires_at <= now:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == found.id))
        found = None
    if found is not None:
        _settle(found, fingerprint, now)
    # No savepoint (on SQLite without an explicit BEGIN, releasing one commits): a key sent
    # twice at once waits for the first request's transaction, then inserts nothing.
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    added = await session.execute(
        insert(IdempotencyKey)
        .values(**claim.row_values())
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.id)
    )
    if added.scalar_one_or_none() is None:  # the first request with this key committed first
        found = (
            await session.execute(
                select(IdempotencyKey).where(*mine).execution_options(populate_existing=True)
            )
        ).scalar_one()
        _settle(found, fingerprint, now)
    request.state.idempotency = claim
    return claim


#: Depend on this (after the principal) to let the endpoint take an `Idempotency-Key`.
IdempotencyDep = Annotated[Claim | None, Depends(idempotency_key)]


class IdempotentRoute(APIRoute):
    """Stores the answer of a request that claimed a key, and replays stored answers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The endpoint's handler, wrapped."""
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                response = await handler(request)
            except _Replay as replay:
                return replay.response
            except RequestValidationError:
                claim = getattr(request.state, "idempotency", None)
                if isinstance(claim, Claim):
                    await claim.session.rollback()  # not carried out: nothing to keep
                raise
            except Exception as exc:
                claim = getattr(request.state, "idempotency", None)
                if isinstance(claim, Claim):
                    await claim.failed(exc)
                raise
            claim = getattr(request.state, "idempotency", None)
            if isinstance(claim, Claim):
                await claim.answered(response)
            return response

        return run


async def purge_expired(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Forget keys past their retention; how many."""
    gone = await session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.expires_at < (now or utcnow()))
        .returning(IdempotencyKey.id)
        .execution_options(synchronize_session=False)
    )
    return len(gone.all())
