"""The digest's incidents section: bursts of similar mentions that ran in the period.

Read from the incident tables (`listener.models`), which moderation.incidents fills; the digest
never imports the moderation side. Only an unfiltered digest carries the section: an incident
spans topics and sources, so a digest for one topic would misstate it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.digest.document import IncidentItem, IncidentsSection
from listener.digest.messages import text
from listener.digest.periods import Period
from listener.digest.query import MentionFilter
from listener.models import Incident

MAX_ITEMS = 10


async def incidents_section(
    session: AsyncSession, *, period: Period, filt: MentionFilter
) -> IncidentsSection | None:
    """Incidents active in the period, biggest first; None for a filtered digest."""
    if filt.topics or filt.sources or filt.languages:
        return None
    conn = await session.connection()
    if not await conn.run_sync(lambda sync: inspect(sync).has_table(Incident.__tablename__)):
        return None
    rows = (
        await session.execute(
            select(Incident)
            .where(Incident.started_at < period.end, Incident.ended_at >= period.start)
            .order_by(Incident.mention_count.desc(), Incident.started_at, Incident.id)
        )
    ).scalars()
    items = [
        IncidentItem(
            id=i.id,
            title=i.title,
            status=i.status,
            started_at=i.started_at.isoformat(),
            peak_at=i.peak_at.isoformat(),
            ended_at=i.ended_at.isoformat(),
            mention_count=i.mention_count,
            author_count=i.author_count,
        )
        for i in rows
    ]
    return IncidentsSection(count=len(items), items=items[:MAX_ITEMS])


def incident_line(item: IncidentItem, language: str) -> str:
    """One line naming an incident, its size and when it ran (UTC)."""
    start, end = datetime.fromisoformat(item.started_at), datetime.fromisoformat(item.ended_at)
    peak = datetime.fromisoformat(item.peak_at)
    return text(
        language,
        "incident_line",
        title=item.title,
        mentions=item.mention_count,
        authors=item.author_count,
        start=f"{start:%Y-%m-%d %H:%M}",
        end=f"{end:%Y-%m-%d %H:%M}" if end.date() != start.date() else f"{end:%H:%M}",
        peak=f"{peak:%H:%M}",
    )
