"""The ingest reaction: a reply under a member of an open incident joins it at once.

The periodic detection job finds everything else (and rebuilds titles and peaks); this only
saves a reply in an incident's thread the wait for the next run. Added in
`api.wiring.build_reactions`, after our own voice (our replies are not members).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from listener.kit.id_lists import ids_in
from listener.models import (
    Author,
    Incident,
    IncidentMember,
    IncidentStatus,
    Mention,
    QueueItem,
    utcnow,
)
from listener.reactions import MentionsChanged
from moderation.incidents.detect import THREAD

HOOK_NAME = "moderation.incidents"


async def join_open_incidents(session: AsyncSession, change: MentionsChanged) -> None:
    """Add new queued replies whose parent or thread root is in an open incident."""
    if not change.new_ids:
        return
    rows = (
        await session.execute(
            select(
                Mention.id,
                Mention.platform,
                Mention.created_at,
                Mention.reply_to_external_id,
                Mention.thread_external_id,
            )
            .join(QueueItem, QueueItem.mention_id == Mention.id)
            .outerjoin(Author, Author.id == Mention.author_id)
            .where(
                ids_in(session, Mention.id, change.new_ids),
                Author.own_account_id.is_(None),
                (Mention.reply_to_external_id.is_not(None))
                | (Mention.thread_external_id.is_not(None)),
            )
        )
    ).all()
    if not rows:
        return
    parents = {r.reply_to_external_id for r in rows} | {r.thread_external_id for r in rows}
    parents.discard(None)
    found = (
        await session.execute(
            select(Mention.platform, Mention.external_id, IncidentMember.incident_id)
            .join(IncidentMember, IncidentMember.mention_id == Mention.id)
            .join(Incident, Incident.id == IncidentMember.incident_id)
            .where(Mention.external_id.in_(parents), Incident.status == IncidentStatus.OPEN.value)
        )
    ).all()
    incident_of = {(platform, external): incident for platform, external, incident in found}
    if not incident_of:
        return
    already = set(
        (
            await session.execute(
                select(IncidentMember.mention_id).where(
                    IncidentMember.mention_id.in_([r.id for r in rows])
                )
            )
        ).scalars()
    )
    for row in rows:
        incident_id = incident_of.get((row.platform, row.reply_to_external_id)) or incident_of.get(
            (row.platform, row.thread_external_id)
        )
        if incident_id is None or row.id in already:
            continue
        session.add(IncidentMember(incident_id=incident_id, mention_id=row.id, reason=THREAD))
        incident = await session.get(Incident, incident_id)
        assert incident is not None
        incident.mention_count += 1
        incident.ended_at = max(incident.ended_at, row.created_at)
        incident.updated_at = utcnow()
    await session.flush()
