"""Staff accounts and API tokens: argon2id for passwords, keyed hashes for tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import re
import secrets
import string
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.models import ROLE_SCOPES, ApiToken, Role, Scope, User, utcnow

TOKEN_PREFIX = "lst_"
_ALPHABET = string.ascii_letters + string.digits
_TOKEN_BODY = 32
_CHECKSUM = 6
_TOKEN_RE = re.compile(rf"^{TOKEN_PREFIX}[A-Za-z0-9]{{{_TOKEN_BODY + _CHECKSUM}}}$")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,99}$")

# argon2-cffi's defaults are argon2id with the RFC 9106 low-memory profile.
_hasher = PasswordHasher()
# Password checks take ~64 MiB and tens of ms each: a few threads run them, off the event loop
# (argon2 releases the GIL), so a burst of logins neither stalls the API nor exhausts memory.
_ARGON2 = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="argon2")


class AccountError(ValueError):
    """A request about users or tokens that cannot be honoured; the message says why."""


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    if len(password) < 8:
        raise AccountError("password: must be at least 8 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches the stored hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _decoy_hash() -> str:
    # Checked against when the user does not exist, so that costs what a real check costs.
    return _hasher.hash(secrets.token_urlsafe(16))


def _check(password_hash: str | None, password: str) -> bool:
    return verify_password(password_hash or _decoy_hash(), password)


async def _check_off_loop(password_hash: str | None, password: str) -> bool:
    """One argon2 check (against the decoy when there is no hash), in the argon2 threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_ARGON2, _check, password_hash, password)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM)


def generate_token() -> str:
    """A new token: recognisable prefix, random body, CRC32 checksum (as GitHub's tokens)."""
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_TOKEN_BODY))
    return f"{TOKEN_PREFIX}{body}{_checksum(body)}"


def token_is_well_formed(token: str) -> bool:
    """Whether `token` has our shape and a valid checksum; rejects typos without a lookup."""
    if not _TOKEN_RE.match(token):
        return False
    body = token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + _TOKEN_BODY]
    return hmac.compare_digest(token[-_CHECKSUM:], _checksum(body))


def hash_token(token: str, *, key: bytes) -> str:
    """The keyed hash stored for a token (HMAC-SHA256); the token itself is never stored."""
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    email: str | None = None,
    display_name: str | None = None,
) -> User:
    """Add a staff member; the username must be unused."""
    if not _USERNAME_RE.match(username):
        raise AccountError("username: 2-100 characters, letters, digits and . _ @ - (not first)")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=Role(role).value,
        email=email,
        display_name=display_name,
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise AccountError(f"username: {username!r} is taken") from exc
    return user


async def get_user(session: AsyncSession, *, username: str) -> User:
    """The user called `username`."""
    user = (
        await session.execute(select(User).where(User.username == username))
    ).scalar_one_or_none()
    if user is None:
        raise AccountError(f"user {username!r} does not exist")
    return user


async def authenticate_password(
    session: AsyncSession, *, username: str, password: str
) -> User | None:
    """The active user with these credentials, or None.

    Every outcome (unknown user, inactive user, wrong or right password) costs one argon2
    check, so the time taken tells nothing about which it was.
    """
    user = (
        await session.execute(select(User).where(User.username == username))
    ).scalar_one_or_none()
    matches = await _check_off_loop(user.password_hash if user is not None else None, password)
    if user is None or not user.is_active or not matches:
        return None
    user.last_login_at = utcnow()
    return user


def allowed_scopes(role: str) -> frozenset[Scope]:
    """The scopes a user with `role` may hold."""
    return ROLE_SCOPES[Role(role)]


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: the only moment its secret is known."""

    token: str
    record: ApiToken


async def create_token(
    session: AsyncSession,
    *,
    user: User,
    name: str,
    key: bytes,
    scopes: Iterable[Scope] | None = None,
    expires_at: datetime | None = None,
    max_expires_at: datetime | None = None,
) -> IssuedToken:
    """Issue a token for `user`; scopes default to all the user's role allows.

    With `max_expires_at` the token slides: each use moves `expires_at` on by the idle time
    (`authenticate_token`), never past `max_expires_at`.
    """
    permitted = allowed_scopes(user.role)
    wanted = frozenset(Scope(s) for s in scopes) if scopes is not None else permitted
    if not wanted:
        raise AccountError("scopes: at least one scope is needed")
    excess = wanted - permitted
    if excess:
        raise AccountError(f"scopes: role {user.role} cannot hold {', '.join(sorted(excess))}")
    token = generate_token()
    record = ApiToken(
        user_id=user.id,
        name=name,
        prefix=token[: len(TOKEN_PREFIX) + 4],
        token_hash=hash_token(token, key=key),
        scopes=sorted(wanted),
        expires_at=expires_at,
        max_expires_at=max_expires_at,
    )
    session.add(record)
    await session.flush()
    return IssuedToken(token=token, record=record)


async def revoke_token(session: AsyncSession, *, token_id: int) -> ApiToken:
    """Revoke a token by id; revoking twice is harmless."""
    record = await session.get(ApiToken, token_id)
    if record is None:
        raise AccountError(f"token {token_id} does not exist")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    return record


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user and what this token lets them do."""

    user: User
    token: ApiToken
    scopes: frozenset[Scope]

    @property
    def label(self) -> str:
        """How the audit log names this caller."""
        return f"{self.user.username} (token {self.token.prefix}…)"


async def authenticate_token(
    session: AsyncSession, *, token: str, key: bytes, idle: timedelta | None = None
) -> Principal | None:
    """The principal for a presented token, or None when it is unknown, revoked or expired.

    A sliding (login) token's expiry moves to `idle` from now, up to its maximum.
    """
    if not token_is_well_formed(token):
        return None
    row = (
        await session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == hash_token(token, key=key))
        )
    ).one_or_none()
    if row is None:
        return None
    record, user = row
    now = utcnow()
    if record.revoked_at is not None or not user.is_active:
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None
    # Scopes are re-checked against the role now: a demoted user's old token loses power.
    scopes = frozenset(Scope(s) for s in record.scopes) & allowed_scopes(user.role)
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        values: dict[str, datetime] = {"last_used_at": now}
        if record.max_expires_at is not None and idle is not None:
            values["expires_at"] = min(now + idle, record.max_expires_at)
        await session.execute(update(ApiToken).where(ApiToken.id == record.id).values(**values))
    return Principal(user=user, token=record, scopes=scopes)


async def list_own_tokens(session: AsyncSession, *, user_id: int) -> list[ApiToken]:
    """The user's tokens that still work (not revoked, not expired), newest first."""
    now = utcnow()
    rows = await session.execute(
        select(ApiToken)
        .where(
            ApiToken.user_id == user_id,
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
        .order_by(ApiToken.id.desc())
    )
    return list(rows.scalars())


async def revoke_own_token(
    session: AsyncSession, *, user_id: int, token_id: int
) -> ApiToken | None:
    """Revoke one of the user's tokens; None when they have no token with that id."""
    record = await session.get(ApiToken, token_id)
    if record is None or record.user_id != user_id:
        return None
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    return record
