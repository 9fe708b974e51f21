"""Recipient lists and stored digests: create, change, build, queue for sending; all audited."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest import audit
from listener.digest.builder import build_digest
from listener.digest.delivery import queue_deliveries
from listener.digest.document import DigestDocument, Revision
from listener.digest.errors import Conflict, Invalid, NotFound
from listener.digest.messages import LANGUAGES, Language
from listener.digest.periods import Period
from listener.digest.query import MentionFilter
from listener.events import DIGEST_BUILT, record_event
from listener.models import Alert, Delivery, Digest, IntegrationEvent, RecipientList, utcnow
from listener.query import QuerySyntaxError, parse
from listener.settings import Settings

_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
LIST_FIELDS = (
    "name",
    "emails",
    "language",
    "topics",
    "sources",
    "languages",
    "query",
    "send_when_quiet",
    "receive_alerts",
    "enabled",
)


def list_state(rl: RecipientList) -> dict[str, Any]:
    """A recipient list's settings, as the audit log records them."""
    return {name: getattr(rl, name) for name in LIST_FIELDS}


def list_filter(rl: RecipientList) -> MentionFilter:
    """The mentions a recipient list follows."""
    return MentionFilter.of(
        topics=rl.topics, sources=rl.sources, languages=rl.languages, query=rl.query
    )


def _check(values: dict[str, Any]) -> None:
    for address in values.get("emails") or []:
        if not _ADDRESS.match(address):
            raise Invalid(f"emails: {address!r} is not an email address")
    if "language" in values and values["language"] not in LANGUAGES:
        raise Invalid(f"language: {values['language']!r}; use one of {', '.join(LANGUAGES)}")
    if "name" in values and not str(values["name"]).strip():
        raise Invalid("name: must not be empty")
    if "query" in values:
        values["query"] = check_query(values["query"])


def check_query(text: str | None) -> str | None:
    """A list's query made tidy (None when blank); Invalid names its column if unreadable."""
    tidy = " ".join((text or "").split())
    if not tidy:
        return None
    try:
        parse(text or "", field="query")
    except QuerySyntaxError as exc:
        raise Invalid(exc.detail, **exc.extra) from None
    return tidy


async def get_list(
    session: AsyncSession, *, list_id: int | None = None, name: str | None = None
) -> RecipientList:
    """The recipient list with `list_id` or `name`."""
    stmt = select(RecipientList).where(
        RecipientList.id == list_id if list_id is not None else RecipientList.name == name
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no recipient list {list_id if list_id is not None else repr(name)}")
    return found


async def all_lists(session: AsyncSession) -> list[RecipientList]:
    """Every recipient list, by name."""
    return list(
        (await session.execute(select(RecipientList).order_by(RecipientList.name))).scalars()
    )


async def create_list(
    session: AsyncSession, *, values: dict[str, Any], actor: str, actor_user_id: int | None = None
) -> RecipientList:
    """Add a recipient list; its name must be new."""
    _check(values)
    rl = RecipientList(**{k: v for k, v in values.items() if k in LIST_FIELDS})
    try:
        async with session.begin_nested():
            session.add(rl)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a recipient list named {values.get('name')!r} already exists") from exc
    audit.record(
        session,
        entity="recipient_list",
        entity_id=rl.id,
        action="create",
        actor=actor,
        actor_user_id=actor_user_id,
        after=list_state(rl),
    )
    return rl


async def update_list(
    session: AsyncSession,
    *,
    list_id: int,
    changes: dict[str, Any],
    actor: str,
    actor_user_id: int | None = None,
) -> RecipientList:
    """Change some settings of a recipient list."""
    _check(changes)
    rl = await get_list(session, list_id=list_id)
    before = list_state(rl)
    for name, value in changes.items():
        if name in LIST_FIELDS:
            setattr(rl, name, value)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a recipient list named {changes.get('name')!r} already exists") from exc
    audit.record(
        session,
        entity="recipient_list",
        entity_id=rl.id,
        action="update",
        actor=actor,
        actor_user_id=actor_user_id,
        before=before,
        after=list_state(rl),
    )
    return rl


async def delete_list(
    session: AsyncSession, *, list_id: int, actor: str, actor_user_id: int | None = None
) -> None:
    """Remove a recipient list; its digests and deliveries stay as history."""
    rl = await get_list(session, list_id=list_id)
    audit.record(
        session,
        entity="recipient_list",
        entity_id=rl.id,
        action="delete",
        actor=actor,
        actor_user_id=actor_user_id,
        before=list_state(rl),
    )
    await session.delete(rl)
    await session.flush()


def digest_key(*, period: Period, list_id: int | None, language: str, filt: MentionFilter) -> str:
    """What makes a digest the same digest: its list and period, or its period and settings."""
    if list_id is not None:
        return f"list-{list_id}:{period.label}:{period.timezone}"
    settings = json.dumps([language, filt.as_dict()], sort_keys=True).encode()
    return f"adhoc:{period.label}:{period.timezone}:{hashlib.sha256(settings).hexdigest()[:12]}"


async def find_digest(session: AsyncSession, *, key: str) -> Digest | None:
    """The stored digest with `key`, if there is one."""
    return (await session.execute(select(Digest).where(Digest.key == key))).scalar_one_or_none()


async def get_digest(session: AsyncSession, *, digest_id: int) -> Digest:
    """The stored digest with `digest_id`."""
    digest = await session.get(Digest, digest_id)
    if digest is None:
        raise NotFound(f"no digest {digest_id}")
    return digest


async def store_digest(
    session: AsyncSession,
    *,
    period: Period,
    settings: Settings,
    recipient_list: RecipientList | None = None,
    language: Language = "en",
    filt: MentionFilter | None = None,
    actor: str = audit.SYSTEM_ACTOR,
    actor_user_id: int | None = None,
    data: DigestDocument | None = None,
    now: datetime | None = None,
) -> Digest:
    """Build (unless `data` is given) and store a digest; building it again refreshes it."""
    if recipient_list is not None:
        filt = list_filter(recipient_list)
        language = recipient_list.language  # type: ignore[assignment]
    filt = filt or MentionFilter()
    now = now or utcnow()
    if data is None:
        data = await build_digest(
            session,
            period=period,
            filt=filt,
            language=language,
            target_hours=settings.digest_response_target_hours,
            now=now,
        )
    list_id = recipient_list.id if recipient_list is not None else None
    key = digest_key(period=period, list_id=list_id, language=language, filt=filt)
    digest = await find_digest(session, key=key)
    # The scheduler claims the key with an empty row first; filling it is still the build.
    action = "rebuild" if digest is not None and digest.data else "build"
    if digest is None:
        digest = Digest(key=key, recipient_list_id=list_id, created_at=now)
        session.add(digest)
    digest.period_label = period.label
    digest.period_start = period.start
    digest.period_end = period.end
    digest.timezone = period.timezone
    digest.language = language
    digest.filters = filt.as_dict()
    if digest.revised_at is not None:  # rebuilt again after a revision: still says so
        data.revision = Revision(
            revised_at=digest.revised_at.isoformat(), late_mentions=digest.late_mentions
        )
    digest.data = data.model_dump(mode="json")
    digest.mention_count = data.volume.total
    digest.quiet = data.quiet
    digest.built_at = now
    await session.flush()
    audit.record(
        session,
        entity="digest",
        entity_id=digest.id,
        action=action,
        actor=actor,
        actor_user_id=actor_user_id,
        after={"key": key, "mentions": digest.mention_count, "quiet": digest.quiet},
    )
    await _built_event(session, digest, rebuilt=action == "rebuild")
    return digest


async def _built_event(session: AsyncSession, digest: Digest, *, rebuilt: bool) -> None:
    payload: dict[str, Any] = {
        "id": digest.id,
        "period": digest.period_label,
        "period_start": digest.period_start.isoformat(),
        "period_end": digest.period_end.isoformat(),
        "language": digest.language,
        "recipient_list_id": digest.recipient_list_id,
        "mentions": digest.mention_count,
        "quiet": digest.quiet,
        "rebuilt": rebuilt,
    }
    if digest.revised_at is not None:
        payload["revised_at"] = digest.revised_at.isoformat()
        payload["late_mentions"] = digest.late_mentions
    await record_event(session, DIGEST_BUILT, f"digest:{digest.id}", {"digest": payload})


def stored_filter(digest: Digest) -> MentionFilter:
    """The filter a stored digest was built with."""
    filters = digest.filters or {}
    return MentionFilter.of(
        topics=filters.get("topics", ()),
        sources=filters.get("sources", ()),
        languages=filters.get("languages", ()),
        query=filters.get("query"),
    )


async def revise_digest(
    session: AsyncSession,
    *,
    digest: Digest,
    period: Period,
    settings: Settings,
    late_mentions: int,
    now: datetime,
) -> Digest:
    """Rebuild a stored digest, with its own filter and language, because `late_mentions` of
    its period arrived after it was first built; mark it revised. Its emails are not sent
    again: a delivery is one per (digest, address), and pending ones send the revised data."""
    filt = stored_filter(digest)
    data = await build_digest(
        session,
        period=period,
        filt=filt,
        language=digest.language,  # type: ignore[arg-type]
        target_hours=settings.digest_response_target_hours,
        now=now,
    )
    data.revision = Revision(revised_at=now.isoformat(), late_mentions=late_mentions)
    before = {"mentions": digest.mention_count, "late_mentions": digest.late_mentions}
    digest.data = data.model_dump(mode="json")
    digest.mention_count = data.volume.total
    digest.quiet = data.quiet
    digest.built_at = now
    digest.revised_at = now
    digest.late_mentions = late_mentions
    await session.flush()
    audit.record(
        session,
        entity="digest",
        entity_id=digest.id,
        action="revise",
        actor=audit.SYSTEM_ACTOR,
        before=before,
        after={"mentions": digest.mention_count, "late_mentions": late_mentions},
    )
    await _built_event(session, digest, rebuilt=True)
    return digest


async def queue_digest(
    session: AsyncSession,
    *,
    digest: Digest,
    recipient_list: RecipientList,
    settings: Settings,
    force: bool = False,
    actor: str = audit.SYSTEM_ACTOR,
    actor_user_id: int | None = None,
) -> int:
    """Queue the digest's emails to the list (once per address); return how many were new.

    A quiet digest goes out only when the list asks for quiet weeks too, or when `force`d. The
    reason nothing was queued is kept on the digest, where the API and CLI show it.
    """
    reason = None
    if not settings.smtp_host:
        reason = "email delivery is not configured (LUISTER_SMTP_HOST)"
    elif not recipient_list.enabled and not force:
        reason = f"recipient list {recipient_list.name} is disabled"
    elif digest.quiet and not (recipient_list.send_when_quiet or force):
        reason = "quiet period: nothing was heard, and the list does not ask for quiet digests"
    elif not recipient_list.emails:
        reason = f"recipient list {recipient_list.name} has no addresses"
    digest.skipped_reason = reason
    if reason is not None:
        return 0
    queued = await queue_deliveries(
        session,
        recipients=recipient_list.emails,
        language=recipient_list.language,
        recipient_list_id=recipient_list.id,
        digest_id=digest.id,
    )
    audit.record(
        session,
        entity="digest",
        entity_id=digest.id,
        action="queue",
        actor=actor,
        actor_user_id=actor_user_id,
        after={"recipient_list_id": recipient_list.id, "queued": queued},
    )
    return queued


async def deliveries_of(session: AsyncSession, *, digest_ids: Sequence[int]) -> list[Delivery]:
    """The delivery rows of some digests, oldest first."""
    if not digest_ids:
        return []
    stmt = select(Delivery).where(Delivery.digest_id.in_(digest_ids)).order_by(Delivery.id)
    return list((await session.execute(stmt)).scalars())


async def delivery_counts(
    session: AsyncSession, *, digest_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """Per digest, how many deliveries are pending, sent and failed."""
    counts: dict[int, dict[str, int]] = {i: {} for i in digest_ids}
    if digest_ids:
        rows = await session.execute(
            select(Delivery.digest_id, Delivery.status, func.count())
            .where(Delivery.digest_id.in_(digest_ids))
            .group_by(Delivery.digest_id, Delivery.status)
        )
        for digest_id, status, n in rows:
            if digest_id is not None:
                counts[digest_id][status] = n
    return counts


async def list_digests(
    session: AsyncSession, *, limit: int, before_id: int | None = None
) -> list[Digest]:
    """Up to `limit` stored digests with an id below `before_id`, newest first."""
    stmt = select(Digest).order_by(Digest.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(Digest.id < before_id)
    return list((await session.execute(stmt)).scalars())


async def list_alerts(
    session: AsyncSession, *, limit: int, before_id: int | None = None
) -> list[Alert]:
    """Up to `limit` spike alerts with an id below `before_id`, newest first."""
    stmt = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(Alert.id < before_id)
    return list((await session.execute(stmt)).scalars())


async def get_alert(session: AsyncSession, *, alert_id: int) -> Alert:
    """The spike alert with `alert_id`."""
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


async def events_after(session: AsyncSession, *, after: int, limit: int) -> list[IntegrationEvent]:
    """Up to `limit` integration events with an id above `after`, oldest first."""
    rows = await session.execute(
        select(IntegrationEvent)
        .where(IntegrationEvent.id > after)
        .order_by(IntegrationEvent.id)
        .limit(limit)
    )
    return list(rows.scalars())
