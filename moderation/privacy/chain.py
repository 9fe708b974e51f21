"""Checking the audit chain, and cutting its oldest entries without breaking it.

`verify_chain` walks the entries in chain order (`seq`) from the checkpoint to the head and
reports the first one that does not hold: an entry whose hash no longer matches its fields
(edited), a gap in the positions (removed: the entry after the gap names the one it linked to),
an entry outside the chain (inserted: written without being sealed, or before the checkpoint),
or a head or checkpoint that disagrees with the entries. Sealing is in
`listener.models.audit_chain`.

Anyone who can write the database and also recomputes every later hash can rewrite history
without a trace here; against that, keep the head's hash somewhere else (`luister audit verify
--json` prints it) and compare later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import AuditChain, AuditEntry, User, utcnow
from listener.models.audit_chain import GENESIS, entry_columns, entry_hash, lock_head
from moderation.queue import audit

PRUNE_ACTION = "audit.prune"
_CHUNK = 1000

Kind = Literal["edited", "inserted", "removed", "head"]


@dataclass(frozen=True)
class ChainProblem:
    """The first place the chain does not hold."""

    kind: Kind
    entry_id: int | None
    seq: int | None
    detail: str


@dataclass(frozen=True)
class ChainReport:
    """The outcome of one verification."""

    entries: int
    base_seq: int
    head_seq: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        """Whether the chain is intact."""
        return self.problem is None

    def as_dict(self) -> dict[str, Any]:
        """The report as `--json` prints it."""
        problem = self.problem
        return {
            "ok": self.ok,
            "entries": self.entries,
            "base_seq": self.base_seq,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problem": None
            if problem is None
            else {
                "kind": problem.kind,
                "entry_id": problem.entry_id,
                "seq": problem.seq,
                "detail": problem.detail,
            },
        }


async def _head(session: AsyncSession) -> AuditChain | None:
    return (
        await session.execute(
            select(AuditChain).where(AuditChain.id == 1).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def _snapshot(session: AsyncSession) -> None:
    # One consistent view of head and entries while writers go on (PostgreSQL).
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def verify_chain(session: AsyncSession) -> ChainReport:
    """Walk the chain from the checkpoint to the head; the first problem found, if any."""
    await _snapshot(session)
    head = await _head(session)
    if head is None:
        sealed = (
            await session.execute(select(func.count()).where(AuditEntry.seq.is_not(None)))
        ).scalar_one()
        problem = None
        if sealed:
            problem = ChainProblem("head", None, None, "the chain head (audit_chain) is missing")
        else:
            problem = await _unsealed(session)
        return ChainReport(0, 1, 0, GENESIS, problem)
    problem = await _before_checkpoint(session, head.base_seq)
    expected, prev_id, prev_hash = head.base_seq, head.base_prev_id, head.base_prev_hash
    count, cursor = 0, head.base_seq - 1
    while problem is None:
        rows = (
            await session.execute(
                select(*entry_columns())
                .where(AuditEntry.seq > cursor)
                .order_by(AuditEntry.seq)
                .limit(_CHUNK)
            )
        ).all()
        for row in rows:
            problem = _link_problem(row, expected=expected, prev_id=prev_id, prev_hash=prev_hash)
            if problem is None and row.seq > head.head_seq:
                problem = ChainProblem(
                    "inserted",
                    row.id,
                    row.seq,
                    f"entry #{row.id} (position {row.seq}) is beyond the chain head",
                )
            if problem is not None:
                break
            count += 1
            expected += 1
            prev_id, prev_hash, cursor = row.id, row.hash, row.seq
        if len(rows) < _CHUNK:
            break
    if problem is None and expected - 1 != head.head_seq:
        missing = head.head_id if expected == head.head_seq else None
        named = f"entry #{missing}" if missing is not None else "an entry"
        problem = ChainProblem(
            "removed",
            missing,
            expected,
            f"{named} (position {expected}) was removed from the end of the chain",
        )
    if problem is None and (prev_hash != head.head_hash or prev_id != head.head_id):
        problem = ChainProblem(
            "edited",
            prev_id,
            head.head_seq,
            f"entry #{prev_id} (position {head.head_seq}) was edited: the chain head recorded "
            "another hash for it",
        )
    if problem is None:
        problem = await _checkpoint_problem(session, head)
    if problem is None:
        problem = await _unsealed(session)
    return ChainReport(count, head.base_seq, head.head_seq, head.head_hash, problem)


def _link_problem(
    row: Any, *, expected: int, prev_id: int | None, prev_hash: str
) -> ChainProblem | None:
    """What is wrong with `row` as the entry at position `expected`, if anything."""
    if row.seq != expected:
        # A gap: the entry after it still names the last one removed.
        missing = row.prev_id if row.seq == expected + 1 else None
        named = f"entry #{missing}" if missing is not None else "an entry"
        return ChainProblem(
            "removed",
            missing,
            expected,
            f"{named} (position {expected}) was removed; the chain resumes at #{row.id}",
        )
    own = entry_hash(row, seq=row.seq, prev_id=row.prev_id, prev_hash=row.prev_hash or "")
    if own != row.hash:
        return ChainProblem(
            "edited",
            row.id,
            row.seq,
            f"entry #{row.id} (position {row.seq}) was edited: its hash does not match",
        )
    if row.prev_hash != prev_hash or row.prev_id != prev_id:
        # The entry before was edited and re-hashed (or this one re-linked): name the earlier.
        culprit = prev_id if prev_id is not None else row.id
        return ChainProblem(
            "edited",
            culprit,
            row.seq - 1 if prev_id is not None else row.seq,
            f"entry #{culprit} was edited: entry #{row.id} (position {row.seq}) links to "
            "another hash",
        )
    return None


async def _before_checkpoint(session: AsyncSession, base_seq: int) -> ChainProblem | None:
    entry_id = (
        await session.execute(
            select(AuditEntry.id).where(AuditEntry.seq < base_seq).order_by(AuditEntry.seq).limit(1)
        )
    ).scalar_one_or_none()
    if entry_id is None:
        return None
    return ChainProblem(
        "inserted",
        entry_id,
        None,
        f"entry #{entry_id} sits before the checkpoint (position {base_seq})",
    )


async def _unsealed(session: AsyncSession) -> ChainProblem | None:
    entry_id = (
        await session.execute(
            select(AuditEntry.id).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id).limit(1)
        )
    ).scalar_one_or_none()
    if entry_id is None:
        return None
    return ChainProblem(
        "inserted", entry_id, None, f"entry #{entry_id} was written outside the chain"
    )


async def _checkpoint_problem(session: AsyncSession, head: AuditChain) -> ChainProblem | None:
    # Every cut is itself an entry in the chain: the checkpoint must be the last cut's.
    cut = (
        await session.execute(
            select(AuditEntry.id, AuditEntry.after)
            .where(AuditEntry.action == PRUNE_ACTION, AuditEntry.seq.is_not(None))
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
    ).first()
    if cut is None:
        if head.base_seq == 1 and head.base_prev_hash == GENESIS and head.base_prev_id is None:
            return None
        return ChainProblem(
            "head", None, head.base_seq, "the checkpoint moved without a recorded cut"
        )
    after = cut.after or {}
    recorded = (after.get("base_seq"), after.get("base_prev_id"), after.get("base_prev_hash"))
    if recorded != (head.base_seq, head.base_prev_id, head.base_prev_hash):
        return ChainProblem(
            "head",
            cut.id,
            head.base_seq,
            f"the checkpoint differs from the one recorded by cut #{cut.id}",
        )
    return None


@dataclass(frozen=True)
class PruneReport:
    """What one cut of the audit log removed."""

    deleted: int
    base_seq: int


async def prune_audit(
    session: AsyncSession,
    *,
    before: datetime,
    actor: User | None = None,
    actor_label: str | None = "retention",
) -> PruneReport:
    """Delete the chain's entries from the start up to the first one written at or after
    `before`; the head keeps a checkpoint so the rest still verifies. Flushes, never commits."""
    head = await session.run_sync(lock_head)
    first_kept = (
        await session.execute(
            select(func.min(AuditEntry.seq)).where(
                AuditEntry.seq.is_not(None),
                AuditEntry.seq >= head.base_seq,
                AuditEntry.created_at >= before,
            )
        )
    ).scalar_one_or_none()
    if first_kept is None:
        first_kept = head.head_seq + 1
    if first_kept <= head.base_seq:
        return PruneReport(0, head.base_seq)
    last_cut = (
        await session.execute(
            select(AuditEntry.id, AuditEntry.hash).where(AuditEntry.seq == first_kept - 1)
        )
    ).first()
    if last_cut is None or last_cut.hash is None:
        # The chain is already broken there: cutting would hide it; verify names the problem.
        return PruneReport(0, head.base_seq)
    result = await session.execute(
        delete(AuditEntry)
        .where(AuditEntry.seq >= head.base_seq, AuditEntry.seq < first_kept)
        .execution_options(synchronize_session=False)
    )
    deleted = cast(CursorResult[Any], result).rowcount
    await session.execute(
        update(AuditChain)
        .where(AuditChain.id == 1)
        .values(
            base_seq=first_kept,
            base_prev_id=last_cut.id,
            base_prev_hash=last_cut.hash,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        action=PRUNE_ACTION,
        actor=actor,
        actor_label=actor_label,
        entity="audit",
        entity_id=first_kept,
        after={
            "deleted": deleted,
            "before": before.isoformat(),
            "base_seq": first_kept,
            "base_prev_id": last_cut.id,
            "base_prev_hash": last_cut.hash,
        },
    )
    await session.flush()
    return PruneReport(int(deleted or 0), first_kept)
