"""Build a digest: every section for one period and filter, as a `DigestDocument`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest import listening, responses, terms
from listener.digest.document import (
    SCHEMA_VERSION,
    AlertItem,
    AlertsSection,
    DigestDocument,
    Note,
    PeriodInfo,
)
from listener.digest.incidents import incidents_section
from listener.digest.messages import Language, text
from listener.digest.periods import Period
from listener.digest.query import MentionFilter, dialect_of
from listener.digest.voice import voice_section
from listener.models import Alert, AuditEntry, utcnow


async def _has_table(session: AsyncSession, name: str) -> bool:
    conn = await session.connection()
    return bool(await conn.run_sync(lambda sync: inspect(sync).has_table(name)))


async def _alerts(session: AsyncSession, *, period: Period, filt: MentionFilter) -> AlertsSection:
    if not await _has_table(session, Alert.__tablename__):
        return AlertsSection(available=False, count=0, items=[])
    stmt = select(Alert).where(Alert.window_start >= period.start, Alert.window_start < period.end)
    rows = [
        a
        for a in (await session.execute(stmt.order_by(Alert.window_start, Alert.id))).scalars()
        if not (a.dimension == "all" and (filt.topics or filt.sources))
        and not (a.dimension == "topic" and filt.topics and a.dimension_key not in filt.topics)
        and not (a.dimension == "source" and filt.sources and a.dimension_key not in filt.sources)
    ]
    return AlertsSection(
        available=True,
        count=len(rows),
        items=[
            AlertItem(
                id=a.id,
                metric=a.metric,
                dimension=a.dimension,
                key=a.dimension_key,
                window_start=a.window_start.isoformat(),
                observed=a.observed,
                baseline=a.baseline,
                count=a.count,
            )
            for a in rows[:10]
        ],
    )


def _period_fields(period: Period) -> PeriodInfo:
    return PeriodInfo(
        label=period.label,
        first_day=period.first_day.isoformat(),
        last_day=period.last_day.isoformat(),
        days=period.length,
        is_week=period.is_week,
        timezone=period.timezone,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        previous_label=period.shifted(-1).label,
    )


async def build_digest(
    session: AsyncSession,
    *,
    period: Period,
    filt: MentionFilter | None = None,
    language: Language = "en",
    target_hours: float = 24.0,
    now: datetime | None = None,
) -> DigestDocument:
    """Every digest section for `period`, computed with aggregate queries in the database."""
    filt = filt or MentionFilter()
    now = now or utcnow()
    await _reporting_settings(session)
    volume, sentiment = await listening.volume_and_sentiment(session, period=period, filt=filt)
    total = volume.total
    previous = period.shifted(-1)
    questions, sla, answered = await responses.questions_and_sla(
        session, period=period, filt=filt, now=now, target_hours=target_hours
    )
    # One top-N scan serves both the most engaged mentions and the rising topics' examples.
    engaged = await listening.top_engaged(session, start=period.start, end=period.end, filt=filt)
    data = DigestDocument(
        schema_version=SCHEMA_VERSION,
        generated_at=now.isoformat(),
        language=language,
        period=_period_fields(period),
        filters=filt.as_dict(),
        quiet=total == 0,
        volume=volume,
        sentiment=sentiment,
        topics=await listening.topics(
            session, period=period, filt=filt, total=total, candidates=engaged, language=language
        ),
        emergent_terms=await terms.emergent_terms(
            session,
            current=(period.start, period.end, total),
            previous=(previous.start, previous.end, volume.previous),
            filt=filt,
        ),
        authors=await listening.authors(session, period=period, filt=filt),
        engaged=listening.most_engaged(engaged),
        questions=questions,
        response=await responses.response_times(
            session, period=period, filt=filt, target_hours=target_hours, answered=answered
        ),
        sla=sla,
        throughput=await responses.throughput(session, period=period, filt=filt),
        alerts=await _alerts(session, period=period, filt=filt),
    )
    data.incidents = await incidents_section(session, period=period, filt=filt)
    data.share_of_voice = await voice_section(session, period=period, filt=filt)
    any_audit = await _any_status_change(session)
    data.notes = [
        Note(code=code, params=params, text=text(language, f"note_{code}", **params))
        for code, params in _notes(data, any_audit=any_audit)
    ]
    return data


# The digest's aggregates each read a whole period. On PostgreSQL, compiling them to machine
# code (JIT) takes longer than it saves at these sizes, and the default 4 MB of work memory
# makes the grouping spill to disk; both are set for this transaction only.
_POSTGRESQL_SETTINGS = ("SET LOCAL jit = off", "SET LOCAL work_mem = '64MB'")


async def _reporting_settings(session: AsyncSession) -> None:
    if dialect_of(session) == "postgresql":
        for statement in _POSTGRESQL_SETTINGS:
            await session.execute(sql(statement))


async def _any_status_change(session: AsyncSession) -> bool:
    stmt = select(AuditEntry.id).where(AuditEntry.action == "status").limit(1)
    return (await session.execute(stmt)).first() is not None


def _notes(data: DigestDocument, *, any_audit: bool) -> list[tuple[str, dict[str, int]]]:
    """What the reader should know about missing or estimated numbers; never invent them."""
    total = data.volume.total
    notes: list[tuple[str, dict[str, int]]] = []
    if total == 0:
        return [("quiet", {})]
    if data.sentiment.tagged == 0:
        notes.append(("no_sentiment", {}))
    elif data.sentiment.untagged:
        notes.append(("some_sentiment", {"untagged": data.sentiment.untagged, "total": total}))
    if data.topics.mentions_with_topic == 0:
        notes.append(("no_topics", {}))
    if data.volume.tagged_by_nlp == 0:
        notes.append(("no_intents", {}))
    if not any_audit:
        notes.append(("no_moderation", {}))
    if data.emergent_terms.sampled:
        notes.append(("terms_sampled", {"size": data.emergent_terms.sample_size.current}))
    if not data.alerts.available:
        notes.append(("no_alerts_table", {}))
    return notes
