"""Sending outbox rows to the platforms, exactly once even when a worker dies halfway.

- **Claim**: a compare-and-swap moves a due row (scheduled, or failed with a retry due) or a
  stale one (`sending` whose lease ran out: its worker died) to `sending`, with a lease and the
  attempt number as a fencing token. A stale row's earlier attempt may have reached the
  platform, so its outcome is *unknown* (`unsure_since`).
- **Before a resend after an unknown outcome**: Mastodon gets the same `Idempotency-Key` (it
  keeps keys for an hour and answers a repeat with the status it made); elsewhere the thread
  is searched for our reply; a new post has no thread to search, so a person decides.
- **Record**: sent or failed, only if the row is still at our attempt. A retryable failure
  gets its next try on a schedule; the platform's own wait (429 Retry-After) wins. A request
  that certainly never left (no resolution, refused connection, failed TLS handshake) is an
  ordinary retryable failure, never an unknown outcome (`attempt_failure`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.base import WriteAction
from connectors.http import BlockedAddress, describe_error, never_sent
from connectors.registry import UnknownKind, get_connector
from connectors.writes import (
    OutcomeUnknown,
    PostRef,
    RuleViolation,
    WriteDeferred,
    WriteError,
    Writer,
    WriteRejected,
    WriteRequest,
    WriteResult,
    find_own_reply,
    writer_for,
)
from listener import metrics
from listener.events import REPLY_FAILED, REPLY_SENT
from listener.kit import describe_validation_error
from listener.models import (
    Author,
    Mention,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Source,
    User,
    utcnow,
)
from listener.settings import Settings
from listener.sources.credentials import CredentialError, open_config, secret_fields
from moderation.outbox import responses
from moderation.outbox.service import (
    NoCredentials,
    PlatformRule,
    outbox_state,
    record_reply_event,
    schedule,
)
from moderation.queue import audit

log = logging.getLogger(__name__)

S = OutboxStatus
# Waits before the next try, by attempt; the last one repeats.
RETRY_DELAYS = (30, 120, 600, 1800, 3600, 3 * 3600)
# Mastodon keeps idempotency keys for one hour; resend with the key only well inside that.
KEY_TRUST = timedelta(minutes=50)
_LEASE_MARGIN = 5


class NeedsPerson(WriteError):
    """An earlier attempt may have posted this and there is no thread to check: a person looks."""


class CredentialsMissing(RuleViolation):
    """The source was never given what writing needs (an imported source stores no config)."""

    def __init__(self, source: Source, model: type[BaseModel]) -> None:
        required = [name for name, field in model.model_fields.items() if field.is_required()]
        needed = dict.fromkeys([*required, *secret_fields(model)])
        fields = ", ".join(needed) or "its settings"
        super().__init__(
            f"source {source.id} ({source.name}) has no credentials to write to {source.kind}: "
            f"add them with PATCH /api/v1/sources/{source.id} and a config holding {fields} "
            f"(GET /api/v1/sources/kinds lists every {source.kind} setting)",
            "config",
        )
        self.source_id = source.id

    def problem(self) -> NoCredentials:
        """The API's answer: a 409 that names the source and what it needs."""
        return NoCredentials(str(self), source_id=self.source_id)


@dataclass(frozen=True)
class Delivery:
    """What one delivery attempt did."""

    outbox_id: int
    status: str
    detail: str | None = None


@dataclass(frozen=True)
class _Claim:
    outbox_id: int
    attempt: int
    started_at: datetime
    unsure_since: datetime | None


@dataclass(frozen=True)
class Plan:
    """Everything a send needs, read from the database."""

    writer: Writer
    config: BaseModel
    request: WriteRequest
    platform: str


async def due_outbox(
    session: AsyncSession, *, now: datetime | None = None, limit: int = 100
) -> list[tuple[int, int]]:
    """(id, attempts) of rows whose send is due, and of rows whose worker died while sending."""
    now = now or utcnow()
    due = and_(
        OutboxMessage.status.in_([S.SCHEDULED.value, S.FAILED.value]),
        OutboxMessage.scheduled_at <= now,
    )
    stale = and_(OutboxMessage.status == S.SENDING.value, OutboxMessage.lease_until < now)
    rows = await session.execute(
        select(OutboxMessage.id, OutboxMessage.attempts)
        .where(or_(due, stale))
        .order_by(OutboxMessage.scheduled_at)
        .limit(limit)
    )
    return [(row.id, row.attempts) for row in rows]


async def plan_for(session: AsyncSession, *, row: OutboxMessage, settings: Settings) -> Plan:
    """The writer, its config and the request for a row; RuleViolation if it cannot be sent."""
    source = await session.get(Source, row.source_id) if row.source_id is not None else None
    writer, config = writer_and_config(source, settings)
    assert source is not None
    target = None
    if row.kind == OutboxKind.REPLY.value:
        target = await _target(session, row)
    request = WriteRequest(
        action=WriteAction.REPLY if target is not None else WriteAction.POST,
        text=row.body,
        idempotency_key=row.idempotency_key,
        target=target,
        title=row.title,
        language=row.language,
    )
    return Plan(writer, config, request, source.kind)


def writer_and_config(source: Source | None, settings: Settings) -> tuple[Writer, BaseModel]:
    """The source's connector as a writer, with its credentials opened."""
    if source is None:
        raise RuleViolation("the source to write through was deleted", "source_id")
    try:
        writer = writer_for(get_connector(source.kind))
    except UnknownKind:
        writer = None
    if writer is None:
        raise RuleViolation(f"{source.kind} cannot write through its API", "source_id")
    needed = secret_fields(writer.config_model)
    try:
        config = open_config(writer.config_model, source.config, key=settings.secret_bytes())
    except ValidationError as exc:
        if not any(source.config.get(name) for name in needed):
            raise CredentialsMissing(source, writer.config_model) from exc
        raise RuleViolation(
            f"source {source.id} ({source.name}) has settings {source.kind} does not accept: "
            f"{describe_validation_error(exc)}; fix them with PATCH /api/v1/sources/{source.id}",
            "config",
        ) from exc
    except (CredentialError, ValueError) as exc:
        raise RuleViolation(f"the source's credentials cannot be read: {exc}", "config") from exc
    if needed and all(getattr(config, name, None) is None for name in needed):
        raise CredentialsMissing(source, writer.config_model)
    return writer, config


async def _target(session: AsyncSession, row: OutboxMessage) -> PostRef:
    mention = await session.get(Mention, row.mention_id) if row.mention_id is not None else None
    if mention is None:
        raise RuleViolation("the mention to answer was deleted", "mention_id")
    author = await session.get(Author, mention.author_id) if mention.author_id else None
    return post_ref(mention, author, writing_source_id=row.source_id)


def post_ref(mention: Mention, author: Author | None, *, writing_source_id: int | None) -> PostRef:
    """How connectors see a stored mention."""
    raw: dict[str, Any] = dict(mention.raw or {})
    # An API id in the payload is only valid for the account that fetched it (Mastodon ids are
    # local to one instance); through another source the connector resolves it afresh.
    raw_id = raw.get("id") if mention.source_id == writing_source_id else None
    return PostRef(
        external_id=mention.external_id,
        url=mention.url,
        platform_id=str(raw_id) if isinstance(raw_id, str | int) else None,
        author_handle=author.handle if author is not None else None,
        thread_external_id=mention.thread_external_id,
        raw=raw,
    )


async def preflight(
    session: AsyncSession, *, row: OutboxMessage, settings: Settings, client: httpx.AsyncClient
) -> WriteRequest:
    """Check the row against the platform's rules now, before staff schedule it."""
    plan = await plan_for(session, row=row, settings=settings)
    return await plan.writer.check(client=client, config=plan.config, request=plan.request)


async def schedule_checked(
    session: AsyncSession,
    *,
    row: OutboxMessage,
    version: int,
    actor: User,
    actor_label: str,
    settings: Settings,
    client: httpx.AsyncClient,
) -> OutboxMessage:
    """Check the platform's rules, then start the undo window (`service.schedule`)."""
    try:
        await preflight(session, row=row, settings=settings, client=client)
    except CredentialsMissing as exc:
        raise exc.problem() from exc
    except RuleViolation as exc:
        raise PlatformRule(str(exc), field=exc.field) from exc
    except httpx.HTTPError:
        pass  # the platform cannot be asked now; the sender checks again before sending
    return await schedule(
        session,
        outbox_id=row.id,
        version=version,
        actor=actor,
        actor_label=actor_label,
        settings=settings,
    )


async def _claim(
    sessions: async_sessionmaker[AsyncSession], outbox_id: int, settings: Settings
) -> _Claim | None:
    now = utcnow()
    async with sessions() as session, session.begin():
        row = await session.get(OutboxMessage, outbox_id)
        if row is None:
            return None
        stale = row.status == S.SENDING.value and row.lease_until is not None
        stale = stale and row.lease_until is not None and row.lease_until < now
        due = row.status in (S.SCHEDULED.value, S.FAILED.value) and row.scheduled_at is not None
        due = due and row.scheduled_at is not None and row.scheduled_at <= now
        if not (stale or due):
            return None
        # A worker died while sending: what it sent may have arrived.
        unsure = row.unsure_since or (row.last_attempt_at if stale else None)
        attempt = row.attempts + 1
        lease = now + timedelta(seconds=settings.job_timeout_seconds + _LEASE_MARGIN)
        taken = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.version == row.version)
            .values(
                status=S.SENDING.value,
                attempts=attempt,
                lease_until=lease,
                last_attempt_at=now,
                unsure_since=unsure,
                version=OutboxMessage.version + 1,
                updated_at=now,
            )
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        if taken.scalar_one_or_none() is None:
            return None  # another worker or an undo got there first
        before = outbox_state(row)
        await session.refresh(row)
        audit.record(
            session,
            action="outbox.sending",
            actor=None,
            mention_id=row.mention_id,
            entity="outbox",
            entity_id=row.id,
            before=before,
            after=outbox_state(row) | {"unsure_since": unsure.isoformat() if unsure else None},
        )
    return _Claim(outbox_id, attempt, now, unsure)


async def deliver(
    sessions: async_sessionmaker[AsyncSession],
    *,
    outbox_id: int,
    settings: Settings,
    client: httpx.AsyncClient,
) -> Delivery:
    """Send one outbox row if it is due (or its worker died); record what happened."""
    claim = await _claim(sessions, outbox_id, settings)
    if claim is None:
        return Delivery(outbox_id, "skipped", "not due, undone, or being sent")
    try:
        async with sessions() as session:
            row = await session.get(OutboxMessage, outbox_id)
            assert row is not None
            plan = await plan_for(session, row=row, settings=settings)
        request = await plan.writer.check(client=client, config=plan.config, request=plan.request)
        result = await _settle_unknown(plan, request, claim, client)
        if result is None:
            send = plan.writer.reply if request.target is not None else plan.writer.post
            result = await send(client=client, config=plan.config, request=request)
    except Exception as exc:
        if not isinstance(exc, WriteError) and not never_sent(exc):
            log.exception("sending outbox row %s failed unexpectedly", outbox_id)
        return await _record_failure(sessions, claim, attempt_failure(exc), settings)
    return await _record_sent(sessions, claim, result)


def attempt_failure(exc: Exception) -> WriteError:
    """What a failed attempt means: unsure only when the request may have reached the platform.

    A request that certainly never left (its host did not resolve, the connection was refused,
    the TLS handshake failed, the guard refused the address) cannot have created anything,
    whichever step it was: a login, a lookup or the create itself. It is retried like any other
    transient failure, except a refused address, which no retry will change. Anything else that
    is not a `WriteError` is a bug or an unforeseen answer: the post may exist.
    """
    if never_sent(exc) and not isinstance(exc, RuleViolation | WriteRejected | WriteDeferred):
        message = str(exc) if isinstance(exc, WriteError) else describe_error(exc)
        if _in_chain(exc, BlockedAddress):
            return WriteRejected(f"nothing was sent: {message}")
        return WriteDeferred(f"nothing was sent: {message}", retry_after=_retry_after(exc))
    if isinstance(exc, WriteError):
        return exc
    return OutcomeUnknown(describe_error(exc))


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        current = current.__cause__
    return found


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _retry_after(exc: BaseException) -> float | None:
    waits = [
        w for e in _chain(exc) if isinstance(w := getattr(e, "retry_after", None), int | float)
    ]
    return max(waits, default=None)


async def _settle_unknown(
    plan: Plan, request: WriteRequest, claim: _Claim, client: httpx.AsyncClient
) -> WriteResult | None:
    """After an unknown outcome: our earlier post if it exists, None when sending is safe."""
    if claim.unsure_since is None:
        return None
    if plan.writer.honours_idempotency_key and claim.unsure_since > utcnow() - KEY_TRUST:
        return None  # the platform itself drops the repeat
    if request.target is None:
        raise NeedsPerson(
            f"an earlier attempt may have posted this on {plan.platform}; look there, then "
            "retry or cancel"
        )
    try:
        return await find_own_reply(
            plan.writer,
            client=client,
            config=plan.config,
            request=request,
            since=claim.unsure_since,
        )
    except WriteError:
        raise
    except Exception as exc:
        raise OutcomeUnknown(
            f"cannot check the thread for our reply: {describe_error(exc)}"
        ) from exc


async def _finish(
    session: AsyncSession, claim: _Claim, to: OutboxStatus, values: dict[str, Any]
) -> OutboxMessage | None:
    """Move our claimed row on, unless another worker took it over meanwhile."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == claim.outbox_id,
            OutboxMessage.status == S.SENDING.value,
            OutboxMessage.attempts == claim.attempt,
        )
        .values(
            status=to.value,
            lease_until=None,
            version=OutboxMessage.version + 1,
            updated_at=utcnow(),
            **values,
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    if result.scalar_one_or_none() is None:
        log.warning("outbox row %s was taken over before attempt %s ended", *_ids(claim))
        return None
    return await session.get(OutboxMessage, claim.outbox_id, populate_existing=True)


def _ids(claim: _Claim) -> tuple[int, int]:
    return claim.outbox_id, claim.attempt


async def _record_sent(
    sessions: async_sessionmaker[AsyncSession], claim: _Claim, result: WriteResult
) -> Delivery:
    now = utcnow()
    async with sessions() as session, session.begin():
        row = await _finish(
            session,
            claim,
            S.SENT,
            {
                "sent_at": now,
                "external_id": result.external_id[:512],
                "platform_id": result.platform_id[:512],
                "url": result.url,
                "platform_raw": dict(result.raw),
                "unsure_since": None,
                "last_error": None,
                "scheduled_at": None,
            },
        )
        if row is None:
            return Delivery(claim.outbox_id, "taken over")
        audit.record(
            session,
            action="outbox.sent",
            actor=None,
            mention_id=row.mention_id,
            entity="outbox",
            entity_id=row.id,
            after=outbox_state(row) | {"external_id": row.external_id, "url": row.url},
        )
        await record_reply_event(session, REPLY_SENT, row, url=row.url)
        if row.mention_id is not None:
            await responses.record_response(
                session,
                mention_id=row.mention_id,
                kind="reply",
                responded_at=now,
                actor=None,
                outbox_id=row.id,
                url=row.url,
            )
    metrics.OUTBOX_OUTCOMES.labels(outcome="sent").inc()
    return Delivery(claim.outbox_id, S.SENT.value, result.url)


def _next_try(attempt: int, exc: WriteError, now: datetime) -> datetime:
    delay = float(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1])
    return now + timedelta(seconds=max(delay, exc.retry_after or 0.0))


async def _record_failure(
    sessions: async_sessionmaker[AsyncSession],
    claim: _Claim,
    exc: WriteError,
    settings: Settings,
) -> Delivery:
    now = utcnow()
    unsure = claim.unsure_since
    if isinstance(exc, OutcomeUnknown):
        unsure = unsure or claim.started_at
    retry = exc.retryable and claim.attempt < settings.outbox_max_attempts
    message = f"{type(exc).__name__}: {exc}"[:2000]
    values = {
        "last_error": message,
        "unsure_since": unsure,
        "scheduled_at": _next_try(claim.attempt, exc, now) if retry else None,
    }
    async with sessions() as session, session.begin():
        row = await _finish(session, claim, S.FAILED, values)
        if row is None:
            return Delivery(claim.outbox_id, "taken over")
        audit.record(
            session,
            action="outbox.failed",
            actor=None,
            mention_id=row.mention_id,
            entity="outbox",
            entity_id=row.id,
            after=outbox_state(row) | {"error": message, "will_retry": retry},
        )
        await record_reply_event(session, REPLY_FAILED, row, error=message, will_retry=retry)
    metrics.OUTBOX_OUTCOMES.labels(outcome="retrying" if retry else "failed").inc()
    log.warning("outbox row %s attempt %s failed: %s", claim.outbox_id, claim.attempt, message)
    return Delivery(claim.outbox_id, S.FAILED.value, message)
