"""privacy suppressions, and the audit log as a hash chain (backfilled)

Revision ID: 2c1041d476b7
Revises: daf487f2eb3a
Create Date: 2026-12-04 20:05:11.000000

The audit log's foreign keys go: an entry outlives the mention, source or user it names
(cascades and SET NULL would rewrite history and break the chain). Existing entries are chained
in id order with the same canonical form `listener.models.audit_chain` uses (copied here, so the
migration keeps its meaning if the module changes).
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "2c1041d476b7"
down_revision: str | None = "daf487f2eb3a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_GENESIS = "0" * 64
_CHUNK = 1000


def _timestamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _hash(row: Any, *, seq: int, prev_id: int | None, prev_hash: str) -> str:
    fields = {
        "v": 1,
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
    data = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return hashlib.sha256(data.encode("ascii")).hexdigest()


_audit = sa.table(
    "audit_log",
    sa.column("id", _ID),
    sa.column("seq", _ID),
    sa.column("prev_id", _ID),
    sa.column("prev_hash", sa.String(64)),
    sa.column("hash", sa.String(64)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("mention_id", _ID),
    sa.column("entity", sa.String(32)),
    sa.column("entity_id", sa.String(64)),
    sa.column("action", sa.String(64)),
    sa.column("actor", sa.String(200)),
    sa.column("actor_user_id", sa.Integer()),
    sa.column("before", _JSON),
    sa.column("after", _JSON),
)
_chain = sa.table(
    "audit_chain",
    sa.column("id", sa.Integer()),
    sa.column("head_seq", _ID),
    sa.column("head_id", _ID),
    sa.column("head_hash", sa.String(64)),
    sa.column("base_seq", _ID),
    sa.column("base_prev_id", _ID),
    sa.column("base_prev_hash", sa.String(64)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _backfill() -> None:
    bind = op.get_bind()
    seq, prev_id, prev_hash, after_id = 0, None, _GENESIS, 0
    while True:
        rows = bind.execute(
            sa.select(_audit)
            .where(_audit.c.id > after_id, _audit.c.seq.is_(None))
            .order_by(_audit.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            break
        links = []
        for row in rows:
            seq += 1
            digest = _hash(row, seq=seq, prev_id=prev_id, prev_hash=prev_hash)
            links.append(
                {"b_id": row.id, "b_seq": seq, "b_prev_id": prev_id, "b_prev_hash": prev_hash}
                | {"b_hash": digest}
            )
            prev_id, prev_hash, after_id = row.id, digest, row.id
        bind.execute(
            sa.update(_audit)
            .where(_audit.c.id == sa.bindparam("b_id"))
            .values(
                seq=sa.bindparam("b_seq"),
                prev_id=sa.bindparam("b_prev_id"),
                prev_hash=sa.bindparam("b_prev_hash"),
                hash=sa.bindparam("b_hash"),
            ),
            links,
        )
    now = datetime.now(UTC)
    values: dict[str, Any] = {"id": 1, "head_seq": seq, "head_id": prev_id}
    values |= {"head_hash": prev_hash, "base_seq": 1, "base_prev_id": None}
    values |= {"base_prev_hash": _GENESIS, "updated_at": now}
    bind.execute(sa.insert(_chain).values(**values))


def upgrade() -> None:
    op.create_table(
        "privacy_suppressions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('author', 'post')", name=op.f("ck_privacy_suppressions_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_suppressions")),
        sa.UniqueConstraint("key", name=op.f("uq_privacy_suppressions_key")),
    )
    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("head_seq", _ID, nullable=False),
        sa.Column("head_id", _ID, nullable=True),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("base_seq", _ID, nullable=False),
        sa.Column("base_prev_id", _ID, nullable=True),
        sa.Column("base_prev_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_chain_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint("fk_audit_log_mention_id_mentions", type_="foreignkey")
        batch_op.drop_constraint("fk_audit_log_actor_user_id_users", type_="foreignkey")
        batch_op.add_column(sa.Column("seq", _ID, nullable=True))
        batch_op.add_column(sa.Column("prev_id", _ID, nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_audit_log_seq"), ["seq"])
    _backfill()


def downgrade() -> None:
    # The foreign keys come back: entries naming a mention or user that is gone let go of it.
    op.execute(
        "UPDATE audit_log SET mention_id = NULL "
        "WHERE mention_id IS NOT NULL AND mention_id NOT IN (SELECT id FROM mentions)"
    )
    op.execute(
        "UPDATE audit_log SET actor_user_id = NULL "
        "WHERE actor_user_id IS NOT NULL AND actor_user_id NOT IN (SELECT id FROM users)"
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_log_seq"), type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("prev_id")
        batch_op.drop_column("seq")
        batch_op.create_foreign_key(
            "fk_audit_log_actor_user_id_users",
            "users",
            ["actor_user_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            "fk_audit_log_mention_id_mentions",
            "mentions",
            ["mention_id"],
            ["id"],
            ondelete="CASCADE",
        )
    op.drop_table("audit_chain")
    op.drop_table("privacy_suppressions")
