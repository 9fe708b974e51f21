"""Login throttling: exponential backoff per account and per address, kept in the database.

Every attempt is counted before the password is checked, atomically (one UPDATE … RETURNING
per key), so attempts in flight at once, in one process or many, count against each other.
The first `free` failures cost nothing; the attempt that reaches the limit holds a short
pending lock while its password is checked, and a failure then locks the key for
`backoff × 2^(n - free)` (capped). While a key is locked every attempt, even one with the right
password, is refused with 429 and Retry-After, without checking the password.

A success clears the account's record; an address keeps its record (one good login from an
address must not let it guess at other accounts freely) but that attempt no longer counts.
Failures older than `forget_after` are forgotten.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, delete, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from listener.errors import LuisterError
from listener.models.accounts import LoginThrottle
from listener.models.base import UTCDateTime
from listener.settings import Settings

ACCOUNT = "account"
ADDRESS = "address"
# How long the attempt that reached the limit holds the key while its password is checked.
PENDING = timedelta(seconds=10)


class LoginThrottled(LuisterError):
    """Too many failed logins for this account or from this address: wait, then try again."""

    status = 429
    type_slug = "login-throttled"
    title = "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins; try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, and how the wait grows after them."""

    free_per_account: int = 5
    free_per_address: int = 20
    backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(hours=24)

    @classmethod
    def of(cls, settings: Settings) -> ThrottlePolicy:
        """The policy the settings describe."""
        return cls(
            free_per_account=settings.login_free_attempts,
            free_per_address=settings.login_free_attempts_per_address,
            backoff=timedelta(seconds=settings.login_backoff_seconds),
            max_backoff=timedelta(seconds=settings.login_backoff_max_seconds),
            forget_after=timedelta(hours=settings.login_forget_hours),
        )

    def free(self, kind: str) -> int:
        """Failures allowed before backoff for keys of `kind`."""
        return self.free_per_account if kind == ACCOUNT else self.free_per_address

    def wait_after(self, failures: int, kind: str) -> timedelta | None:
        """How long a key must wait after its `failures`-th failure (None: not at all)."""
        over = failures - self.free(kind)
        if over < 0:
            return None
        return min(self.max_backoff, self.backoff * (1 << min(over, 30)))


@dataclass(frozen=True)
class _Reserved:
    kind: str
    key: str
    failures: int  # this attempt included


@dataclass(frozen=True)
class Attempt:
    """A login attempt that was let through to the password check; settle it with `finish`."""

    reserved: tuple[_Reserved, ...]


def _keyed(kind: str, value: str, secret: bytes) -> str:
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def address_key(address: str | None) -> str:
    """What one address is counted as: itself, an IPv6 address by its /64 network."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _insert(session: AsyncSession) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LoginThrottle)


def _where(kind: str, key: str) -> list[ColumnElement[bool]]:
    return [LoginThrottle.kind == kind, LoginThrottle.key == key]


async def _reserve(
    session: AsyncSession, *, kind: str, key: str, policy: ThrottlePolicy, now: datetime
) -> int | None:
    """Count one attempt on `key`; its failure count, or None when the key is locked."""
    await session.execute(
        _insert(session)
        .values(kind=kind, key=key, failures=0, last_attempt_at=now)
        .on_conflict_do_nothing(index_elements=["kind", "key"])
    )
    t = LoginThrottle
    counted = case((t.last_attempt_at < now - policy.forget_after, 1), else_=t.failures + 1)
    pending = literal(now + PENDING, UTCDateTime())
    row = (
        await session.execute(
            update(t)
            .where(*_where(kind, key), or_(t.locked_until.is_(None), t.locked_until <= now))
            .values(
                failures=counted,
                last_attempt_at=now,
                # Reaching the limit: hold the key while this attempt's password is checked.
                locked_until=case((counted >= policy.free(kind), pending), else_=None),
            )
            .returning(t.failures)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    return row if row is None else int(row)


async def _wait_left(session: AsyncSession, *, kind: str, key: str, now: datetime) -> int:
    until = (
        await session.execute(select(LoginThrottle.locked_until).where(*_where(kind, key)))
    ).scalar_one_or_none()
    seconds = (until - now).total_seconds() if until is not None else 1
    return max(1, math.ceil(seconds))


async def _failed(
    session: AsyncSession, slot: _Reserved, *, policy: ThrottlePolicy, now: datetime
) -> None:
    wait = policy.wait_after(slot.failures, slot.kind)
    if wait is not None:
        await session.execute(
            update(LoginThrottle)
            .where(*_where(slot.kind, slot.key))
            .values(locked_until=now + wait)
            .execution_options(synchronize_session=False)
        )


async def forget_old(session: AsyncSession, *, policy: ThrottlePolicy, now: datetime) -> None:
    """Drop records nobody tried for `forget_after` (commit it on its own: it skips rows others
    hold, so it never waits for a login in flight and cannot deadlock with one)."""
    t = LoginThrottle
    old = (
        select(t.id)
        .where(
            t.last_attempt_at < now - policy.forget_after,
            or_(t.locked_until.is_(None), t.locked_until <= now),
        )
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        delete(t).where(t.id.in_(old)).execution_options(synchronize_session=False)
    )


async def begin(
    session: AsyncSession,
    *,
    username: str,
    address: str | None,
    secret: bytes,
    policy: ThrottlePolicy,
    now: datetime,
) -> Attempt:
    """Count an attempt for `username` from `address`; LoginThrottled when either must wait.

    The caller commits right after (so other processes see the attempt), checks the password
    and calls `finish`. On LoginThrottled it rolls back: a refused attempt checked nothing,
    so it counts nowhere.
    """
    reserved: list[_Reserved] = []
    keys = (
        (ADDRESS, _keyed(ADDRESS, address_key(address), secret)),
        (ACCOUNT, _keyed(ACCOUNT, username.strip().casefold(), secret)),
    )
    for kind, key in keys:
        failures = await _reserve(session, kind=kind, key=key, policy=policy, now=now)
        if failures is None:
            raise LoginThrottled(await _wait_left(session, kind=kind, key=key, now=now))
        reserved.append(_Reserved(kind, key, failures))
    return Attempt(tuple(reserved))


async def finish(
    session: AsyncSession, attempt: Attempt, *, ok: bool, policy: ThrottlePolicy, now: datetime
) -> None:
    """Settle an attempt: a failure may lock its keys, a success clears the account."""
    t = LoginThrottle
    for slot in attempt.reserved:
        if not ok:
            await _failed(session, slot, policy=policy, now=now)
            continue
        values: dict[str, object]
        if slot.kind == ACCOUNT:
            values = {"failures": 0, "locked_until": None}
        else:
            # The address keeps its record, less this attempt, and loses the pending hold.
            values = {"failures": case((t.failures > 0, t.failures - 1), else_=0)}
            if policy.wait_after(slot.failures, slot.kind) is not None:
                values["locked_until"] = None
        await session.execute(
            update(t)
            .where(*_where(slot.kind, slot.key))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
