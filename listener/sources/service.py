"""Managing sources: what to listen to, how often, and how each one is doing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.registry import UnknownKind, get_connector
from listener.kit import describe_validation_error
from listener.models import Mention, QuarantinedItem, Source, utcnow
from listener.query import QuerySyntaxError, check
from listener.sources.credentials import CredentialError, open_config, seal_config, secret_fields


class SourceError(ValueError):
    """A source request that cannot be honoured; the message names the field."""


class SourceNotFound(LookupError):
    """No source with that id."""


def validate_config(kind: str, config: dict[str, Any]) -> Any:
    """The connector's config model for `config`; SourceError names the bad field."""
    try:
        connector = get_connector(kind)
    except UnknownKind as exc:
        raise SourceError(f"kind: {exc}") from exc
    try:
        return connector.config_model.model_validate(config)
    except ValidationError as exc:
        raise SourceError(f"config: {describe_validation_error(exc)}") from exc


#: The config key holding a source's keep-filter (stored apart from the connector's settings).
KEEP = "keep"
#: What a keep-filter can ask about: an item as the platform gives it, before it is tagged.
KEEP_FIELDS = {"author", "platform", "lang", "source", "has", "followers", "after", "before"}


def split_keep(config: dict[str, Any]) -> tuple[dict[str, Any], str | None, bool]:
    """The connector's config, the keep-filter (checked; None keeps all) and whether one was given.

    A keep-filter is a query (docs/QUERY.md); a poll stores only the items it matches. It sees
    an item before tagging, so sentiment:, intent: and topic: are refused, naming the column.
    """
    if KEEP not in config:
        return config, None, False
    rest = {k: v for k, v in config.items() if k != KEEP}
    keep = config[KEEP]
    if keep is None or (isinstance(keep, str) and not keep.strip()):
        return rest, None, True
    if not isinstance(keep, str):
        raise SourceError(f"config.{KEEP}: expected a query (text) or null")
    try:
        check(keep, field=f"config.{KEEP}", allowed=KEEP_FIELDS)
    except QuerySyntaxError as exc:
        raise SourceError(exc.detail) from None
    return rest, keep, True


def _env_refs(kind: str, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split `{"field": {"env": "VAR"}}` credential references from literal values."""
    model = get_connector(kind).config_model
    refs: dict[str, str] = {}
    literal = dict(config)
    for name in secret_fields(model):
        value = literal.get(name)
        if isinstance(value, dict) and set(value) == {"env"}:
            refs[name] = str(value["env"])
            literal[name] = "from-environment"
    return literal, refs


async def create_source(
    session: AsyncSession,
    *,
    kind: str,
    name: str,
    config: dict[str, Any],
    key: bytes,
    poll_interval_seconds: int = 300,
) -> Source:
    """Add a source; it is polled on the next tick."""
    config, keep, _ = split_keep(config)
    literal, refs = _env_refs(kind, config) if _known(kind) else (config, {})
    model = validate_config(kind, literal)
    source = Source(
        kind=kind.lower(),
        name=name,
        config=seal_config(model, key=key, env_refs=refs),
        cursor={},
        enabled=True,
        poll_interval_seconds=poll_interval_seconds,
        next_poll_at=utcnow(),
        keep_query=keep,
    )
    session.add(source)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise SourceError(f"name: a source called {name!r} exists already") from exc
    return source


def _known(kind: str) -> bool:
    try:
        get_connector(kind)
    except UnknownKind:
        return False
    return True


async def get_source(session: AsyncSession, *, source_id: int) -> Source:
    """The source with `source_id`."""
    source = await session.get(Source, source_id)
    if source is None:
        raise SourceNotFound(f"source {source_id} does not exist")
    return source


async def update_source(
    session: AsyncSession,
    *,
    source_id: int,
    key: bytes,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    poll_interval_seconds: int | None = None,
) -> Source:
    """Change a source; a rename changes nothing else.

    A new config or poll interval lifts an automatic pause (after failed polls), as staff fixed
    something; a pause by staff (`enabled` false) stays until the source is resumed.
    """
    source = await get_source(session, source_id=source_id)
    if name is not None:
        source.name = name
    if config is not None:
        config, keep, keep_given = split_keep(config)
        if keep_given:
            # A new keep-filter applies from the next poll on; the cursor stays.
            source.keep_query = keep
        if keep_given and not config:
            config = None
    if config is not None:
        merged = _editable_config(source, key=key) | {
            k: v
            for k, v in config.items()
            if v != "********"  # masked values mean "keep"
        }
        literal, refs = _env_refs(source.kind, merged)
        source.config = seal_config(validate_config(source.kind, literal), key=key, env_refs=refs)
        source.cursor = {}
    if poll_interval_seconds is not None:
        source.poll_interval_seconds = poll_interval_seconds
    if (config is not None or poll_interval_seconds is not None) and source.enabled:
        resume(source)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise SourceError(f"name: a source called {name!r} exists already") from exc
    return source


def _editable_config(source: Source, *, key: bytes) -> dict[str, Any]:
    """The stored config as values an edit merges into.

    A stored config that no longer validates (a source created by an import stores `{}`, a
    connector gained a required field, the secret key changed) can still be replaced: its plain
    values and environment references are kept, credentials that cannot be read must be given
    again, and validating the merged config names what is still missing.
    """
    try:
        model = get_connector(source.kind).config_model
    except UnknownKind as exc:
        raise SourceError(f"kind: {exc}") from exc
    try:
        return open_config(model, source.config, key=key).model_dump()
    except (ValidationError, CredentialError):
        secrets = set(secret_fields(model))
        kept: dict[str, Any] = {}
        for name, value in source.config.items():
            if name not in model.model_fields:
                continue
            if name not in secrets:
                kept[name] = value
            elif isinstance(value, dict) and isinstance(value.get("$env"), str):
                kept[name] = {"env": value["$env"]}
        return kept


def pause(source: Source, reason: str) -> None:
    """Stop polling `source` until it is resumed."""
    source.enabled = False
    source.paused_reason = reason


def resume(source: Source) -> None:
    """Poll `source` again from now on, forgetting past failures."""
    source.enabled = True
    source.paused_reason = None
    source.consecutive_failures = 0
    source.next_poll_at = utcnow()


@dataclass(frozen=True)
class SourceStatus:
    """A source with its counts."""

    source: Source
    mentions: int
    quarantined: int
    last_mention_at: datetime | None


async def source_statuses(
    session: AsyncSession, *, source_id: int | None = None
) -> list[SourceStatus]:
    """Every source (or one) with how many mentions and quarantined items it produced."""
    mention_counts = (
        select(
            Mention.source_id,
            func.count(Mention.id).label("mentions"),
            func.max(Mention.created_at).label("last_at"),
        )
        .group_by(Mention.source_id)
        .subquery()
    )
    quarantine_counts = (
        select(QuarantinedItem.source_id, func.count(QuarantinedItem.id).label("quarantined"))
        .group_by(QuarantinedItem.source_id)
        .subquery()
    )
    stmt = (
        select(
            Source,
            mention_counts.c.mentions,
            mention_counts.c.last_at,
            quarantine_counts.c.quarantined,
        )
        .outerjoin(mention_counts, mention_counts.c.source_id == Source.id)
        .outerjoin(quarantine_counts, quarantine_counts.c.source_id == Source.id)
        .order_by(Source.id)
    )
    if source_id is not None:
        stmt = stmt.where(Source.id == source_id)
    rows = (await session.execute(stmt)).all()
    if source_id is not None and not rows:
        raise SourceNotFound(f"source {source_id} does not exist")
    # SQLite hands back MAX() of a timestamp as text; the column type is lost in aggregation.
    return [
        SourceStatus(
            source=s,
            mentions=m or 0,
            quarantined=q or 0,
            last_mention_at=_as_datetime(last),
        )
        for s, m, last, q in rows
    ]


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
