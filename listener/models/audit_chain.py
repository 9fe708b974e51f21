"""The audit log as a hash chain: every entry is sealed when the transaction that wrote it commits.

Each entry gets a position (`seq`, contiguous), the id and hash of the entry before it, and
`hash` = SHA-256 over a canonical serialisation of its fields and `prev_hash`. Editing an entry,
inserting one or removing one breaks a link that `luister audit verify` names.

Sealing happens in one place for every writer (the queue, the outbox, the digest, the tagger,
tests): a session hook. `after_flush` notes the ids of entries a session inserted; `before_commit`
takes the one-row chain head (`audit_chain`) with `SELECT … FOR UPDATE` on PostgreSQL (SQLite
has one writer at a time, and the transaction already holds it), numbers the entries after the
head and moves the head, all inside the committing transaction. The lock is taken as late as
possible and held only until the commit, so concurrent writers queue for a moment but can never
fork the chain, and the order of the chain is the order of commits.

Retention may delete the oldest entries: the head row then keeps a checkpoint (`base_seq`, and
the id and hash the first kept entry links to), so the rest still verifies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Integer,
    Row,
    String,
    Table,
    bindparam,
    event,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from listener.models.base import Base, utcnow
from listener.models.mentions import BigId
from listener.models.queue import AuditEntry

#: What the first entry of an empty chain links to.
GENESIS = "0" * 64
#: Bumped if the canonical form ever changes (old entries keep verifying under their version).
CHAIN_VERSION = 1
#: Where a session keeps the ids of the entries it inserted and has not sealed yet.
PENDING_KEY = "luister.audit.pending"
_CHUNK = 500


class AuditChain(Base):
    """The chain's head (last sealed entry) and checkpoint (first kept entry): one row, id 1."""

    __tablename__ = "audit_chain"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    head_seq: Mapped[int] = mapped_column(BigId, default=0)
    head_id: Mapped[int | None] = mapped_column(BigId)
    head_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    base_seq: Mapped[int] = mapped_column(BigId, default=1)
    base_prev_id: Mapped[int | None] = mapped_column(BigId)
    base_prev_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def _timestamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers: sorted keys, no spaces, ASCII, no NaN."""
    return json.dumps(
        dict(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def entry_fields(row: Any, *, seq: int, prev_id: int | None, prev_hash: str) -> dict[str, Any]:
    """What of an entry (a row or an `AuditEntry`) the chain protects, with its link."""
    return {
        "v": CHAIN_VERSION,
        "seq": seq,
        "id": row.id,
        "prev_id": prev_id,
        "prev_hash": prev_hash,
        "created_at": _timestamp(row.created_at),
        "mention_id": row.mention_id,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "action": row.action,
        "actor": row.actor,
        "actor_user_id": row.actor_user_id,
        "before": row.before,
        "after": row.after,
    }


def entry_hash(row: Any, *, seq: int, prev_id: int | None, prev_hash: str) -> str:
    """SHA-256 (hex) of the entry's canonical form, linked to the entry before it."""
    return hashlib.sha256(
        canonical(entry_fields(row, seq=seq, prev_id=prev_id, prev_hash=prev_hash))
    ).hexdigest()


def _audit_table() -> Table:
    table = AuditEntry.__table__
    assert isinstance(table, Table)
    return table


def _chain_table() -> Table:
    table = AuditChain.__table__
    assert isinstance(table, Table)
    return table


def entry_columns() -> list[Any]:
    """The columns verification and sealing read, as stored."""
    t = _audit_table()
    return [
        t.c.id,
        t.c.seq,
        t.c.prev_id,
        t.c.prev_hash,
        t.c.hash,
        t.c.created_at,
        t.c.mention_id,
        t.c.entity,
        t.c.entity_id,
        t.c.action,
        t.c.actor,
        t.c.actor_user_id,
        t.c.before,
        t.c.after,
    ]


def lock_head(session: Session) -> Row[Any]:
    """The chain head, locked until the transaction ends (created from the log if missing)."""
    chain = _chain_table()
    stmt = select(chain).where(chain.c.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    head = session.execute(stmt).first()
    if head is not None:
        return head
    # A new database, or an emptied one: start after the last sealed entry, if there is one.
    audit = _audit_table()
    last = session.execute(
        select(audit.c.seq, audit.c.id, audit.c.hash)
        .where(audit.c.seq.is_not(None))
        .order_by(audit.c.seq.desc())
        .limit(1)
    ).first()
    values: dict[str, Any] = {"id": 1, "updated_at": utcnow()}
    values |= {"head_seq": 0, "head_id": None, "head_hash": GENESIS}
    values |= {"base_seq": 1, "base_prev_id": None, "base_prev_hash": GENESIS}
    if last is not None:
        values |= {"head_seq": last.seq, "head_id": last.id, "head_hash": last.hash}
    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(chain).values(**values).on_conflict_do_nothing())
    head = session.execute(stmt).first()
    assert head is not None
    return head


def seal(session: Session, entry_ids: Sequence[int]) -> int:
    """Chain the unsealed entries among `entry_ids` after the head, in id order; how many."""
    audit, chain = _audit_table(), _chain_table()
    head = lock_head(session)
    seq, prev_id, prev_hash = head.head_seq, head.head_id, head.head_hash
    sealed: dict[int, dict[str, Any]] = {}
    wanted = sorted(set(entry_ids))
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(
            select(*entry_columns())
            .where(audit.c.id.in_(wanted[start : start + _CHUNK]), audit.c.seq.is_(None))
            .order_by(audit.c.id)
        ).all()
        for row in rows:
            seq += 1
            digest = entry_hash(row, seq=seq, prev_id=prev_id, prev_hash=prev_hash)
            sealed[row.id] = {
                "seq": seq,
                "prev_id": prev_id,
                "prev_hash": prev_hash,
                "hash": digest,
            }
            prev_id, prev_hash = row.id, digest
    if not sealed:
        return 0
    session.execute(
        update(audit)
        .where(audit.c.id == bindparam("b_id"))
        .values(
            seq=bindparam("b_seq"),
            prev_id=bindparam("b_prev_id"),
            prev_hash=bindparam("b_prev_hash"),
            hash=bindparam("b_hash"),
        ),
        [
            {"b_id": entry_id, **{f"b_{k}": v for k, v in link.items()}}
            for entry_id, link in sealed.items()
        ],
    )
    session.execute(
        update(chain)
        .where(chain.c.id == 1)
        .values(head_seq=seq, head_id=prev_id, head_hash=prev_hash, updated_at=utcnow())
    )
    _refresh_loaded(session, sealed)
    return len(sealed)


def _refresh_loaded(session: Session, sealed: Mapping[int, Mapping[str, Any]]) -> None:
    # Entries still in the session show their link without another read.
    for entry in _loaded_entries(session.identity_map.values()):
        link = sealed.get(entry.id)
        if link is not None:
            for name, value in link.items():
                set_committed_value(entry, name, value)


def _loaded_entries(objects: Iterable[object]) -> list[AuditEntry]:
    return [o for o in objects if isinstance(o, AuditEntry)]


@event.listens_for(Session, "after_flush")
def _note_new_entries(session: Session, _context: Any) -> None:
    new = [o.id for o in session.new if isinstance(o, AuditEntry)]
    if new:
        session.info.setdefault(PENDING_KEY, []).extend(new)


@event.listens_for(Session, "before_commit")
def _seal_before_commit(session: Session) -> None:
    if PENDING_KEY not in session.info and not _loaded_entries(session.new):
        return
    session.flush()
    pending: list[int] = session.info.pop(PENDING_KEY, [])
    if pending:
        seal(session, pending)


@event.listens_for(Session, "after_transaction_end")
def _forget_unsealed(session: Session, transaction: Any) -> None:
    # A rolled-back transaction's entries are gone; its ids must not leak into the next one.
    if transaction.parent is None:
        session.info.pop(PENDING_KEY, None)
