"""Staff accounts and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from listener.models.base import Base, JSONType, utcnow


class Role(enum.StrEnum):
    """What a staff member may do: analysts read, moderators triage, admins manage."""

    ADMIN = "admin"
    MODERATOR = "moderator"
    ANALYST = "analyst"


class Scope(enum.StrEnum):
    """What a token may do; a token never exceeds its owner's role."""

    READ = "read"
    TRIAGE = "triage"
    ADMIN = "admin"
    # Only `/metrics`: for a Prometheus scraper's token (admins hold it; `admin` admits too).
    METRICS = "metrics"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.MODERATOR: frozenset({Scope.READ, Scope.TRIAGE}),
    Role.ANALYST: frozenset({Scope.READ}),
}

_ROLE_VALUES = ", ".join(f"'{r.value}'" for r in Role)


class User(Base):
    """A staff member; the password is stored only as an argon2id hash."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN ({_ROLE_VALUES})", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    #: The desk's interface language ("en", "nl"); None follows the browser.
    ui_language: Mapped[str | None] = mapped_column(String(5))


class ApiToken(Base):
    """An API token; only its keyed hash is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    # Set on login tokens: each use moves `expires_at` on (by the idle time), up to this moment.
    max_expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Recent failed sign-ins of one account or one address, and until when the next waits.

    `key` is a keyed hash of the username or the address (an IPv6 address by its /64), so the
    table holds neither. Kept in the database, so every API process sees the same state.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        CheckConstraint("kind IN ('account', 'address')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime] = mapped_column(index=True)
    locked_until: Mapped[datetime | None]
