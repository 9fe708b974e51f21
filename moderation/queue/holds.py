"""Legal holds: staff keep a mention's content as evidence should it disappear at the source.

A mention the re-check finds gone (`listener.sources.recheck`) is hidden and its words dropped;
under an active hold its last known content is first copied to `mention_evidence` with its
SHA-256. Reading that copy needs a reason and writes an access-log row (who, when, why) in the
same transaction as the read. Lifting the hold purges the copied content (the hash and the
access log stay) and never brings the mention's words back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import EvidenceAccess, LegalHold, Mention, MentionEvidence, User, utcnow
from listener.sources.recheck import sha256_hex
from moderation.queue import audit
from moderation.queue.errors import NotFound, QueueError


class EvidencePurged(QueueError):
    """The evidence existed but was purged when its hold was lifted."""

    status = 410
    type_slug = "evidence-purged"
    title = "Evidence purged"


@dataclass(frozen=True)
class HoldState:
    """A mention's holds (newest first), its evidence copies and whether it is gone."""

    mention_id: int
    deleted_at_source: datetime | None
    holds: list[LegalHold]
    evidence: list[MentionEvidence]

    @property
    def held(self) -> bool:
        """Whether any hold is active."""
        return any(hold.lifted_at is None for hold in self.holds)


def evidence_intact(evidence: MentionEvidence) -> bool:
    """Whether the stored payload still hashes to the SHA-256 recorded when it was captured."""
    return evidence.payload is not None and sha256_hex(evidence.payload) == evidence.sha256


async def _mention(session: AsyncSession, mention_id: int) -> Mention:
    mention = await session.get(Mention, mention_id)
    if mention is None:
        raise NotFound(f"mention {mention_id} does not exist")
    return mention


async def _active_holds(session: AsyncSession, mention_id: int) -> list[LegalHold]:
    return list(
        (
            await session.execute(
                select(LegalHold)
                .where(LegalHold.mention_id == mention_id, LegalHold.lifted_at.is_(None))
                .order_by(LegalHold.id)
            )
        ).scalars()
    )


async def place_hold(
    session: AsyncSession, *, mention_id: int, reason: str, actor: User, actor_label: str
) -> tuple[LegalHold, bool]:
    """Put the mention under a legal hold; an active hold is returned as is (False: not new)."""
    await _mention(session, mention_id)
    active = await _active_holds(session, mention_id)
    if active:
        return active[-1], False
    hold = LegalHold(
        mention_id=mention_id,
        reason=reason,
        placed_by_user_id=actor.id,
        placed_by=actor_label,
        placed_at=utcnow(),
    )
    session.add(hold)
    await session.flush()
    audit.record(
        session,
        action="legal_hold_placed",
        actor=actor,
        actor_label=actor_label,
        mention_id=mention_id,
        entity="legal_hold",
        entity_id=hold.id,
        after={"hold_id": hold.id},
    )
    return hold, True


async def lift_hold(
    session: AsyncSession,
    *,
    mention_id: int,
    actor: User,
    actor_label: str,
    reason: str | None = None,
) -> tuple[list[LegalHold], int]:
    """Lift every active hold on the mention and purge its evidence; the lifted holds and how
    many copies were purged. The mention's words stay dropped."""
    await _mention(session, mention_id)
    active = await _active_holds(session, mention_id)
    if not active:
        raise NotFound(f"mention {mention_id} is not under a legal hold")
    now = utcnow()
    for hold in active:
        hold.lifted_at = now
        hold.lifted_by_user_id = actor.id
        hold.lifted_by = actor_label
        hold.lift_reason = reason
    purged = (
        await session.execute(
            update(MentionEvidence)
            .where(MentionEvidence.mention_id == mention_id, MentionEvidence.purged_at.is_(None))
            .values(payload=None, purged_at=now)
            .returning(MentionEvidence.id)
            .execution_options(synchronize_session=False)
        )
    ).scalars()
    purged_ids = sorted(purged)
    await session.flush()
    for hold in active:
        audit.record(
            session,
            action="legal_hold_lifted",
            actor=actor,
            actor_label=actor_label,
            mention_id=mention_id,
            entity="legal_hold",
            entity_id=hold.id,
            after={"hold_id": hold.id, "evidence_purged": purged_ids},
        )
    return active, len(purged_ids)


async def hold_state(session: AsyncSession, *, mention_id: int) -> HoldState:
    """The mention's holds and evidence copies (metadata only: reading this is not logged)."""
    mention = await _mention(session, mention_id)
    holds = (
        await session.execute(
            select(LegalHold)
            .where(LegalHold.mention_id == mention_id)
            .order_by(LegalHold.id.desc())
        )
    ).scalars()
    evidence = (
        await session.execute(
            select(MentionEvidence)
            .where(MentionEvidence.mention_id == mention_id)
            .order_by(MentionEvidence.id)
        )
    ).scalars()
    return HoldState(mention_id, mention.deleted_at_source, list(holds), list(evidence))


async def read_evidence(
    session: AsyncSession, *, mention_id: int, actor: User, actor_label: str, reason: str
) -> list[MentionEvidence]:
    """The mention's evidence copies; each read is logged with who, when and why."""
    await _mention(session, mention_id)
    copies = list(
        (
            await session.execute(
                select(MentionEvidence)
                .where(MentionEvidence.mention_id == mention_id)
                .order_by(MentionEvidence.id)
            )
        ).scalars()
    )
    if not copies:
        raise NotFound(f"mention {mention_id} has no evidence copy")
    readable = [copy for copy in copies if copy.payload is not None]
    if not readable:
        raise EvidencePurged(
            f"the evidence of mention {mention_id} was purged when its legal hold was lifted"
        )
    now = utcnow()
    for copy in readable:
        session.add(
            EvidenceAccess(
                evidence_id=copy.id,
                mention_id=mention_id,
                user_id=actor.id,
                actor=actor_label,
                reason=reason,
                accessed_at=now,
            )
        )
    audit.record(
        session,
        action="evidence_read",
        actor=actor,
        actor_label=actor_label,
        mention_id=mention_id,
        entity="mention_evidence",
        entity_id=mention_id,
        after={"evidence_ids": [copy.id for copy in readable]},
    )
    await session.flush()
    return readable


async def evidence_access_log(session: AsyncSession, *, mention_id: int) -> list[EvidenceAccess]:
    """Every read of the mention's evidence, newest first."""
    await _mention(session, mention_id)
    return list(
        (
            await session.execute(
                select(EvidenceAccess)
                .where(EvidenceAccess.mention_id == mention_id)
                .order_by(EvidenceAccess.accessed_at.desc(), EvidenceAccess.id.desc())
            )
        ).scalars()
    )
