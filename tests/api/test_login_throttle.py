"""Login throttling (per account and per address, in the database), uniform timing, and login
tokens that expire (sliding) and that their owner can list and revoke. Both databases."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.accounts import service, throttle
from listener.accounts.throttle import LoginThrottled, ThrottlePolicy, address_key
from listener.models import ApiToken, Role, User, utcnow
from listener.models.accounts import LoginThrottle
from tests.conftest import MakeStaff, Staff

PROBLEM = "application/problem+json"
PASSWORD = "correct horse"  # what make_staff gives every user


@pytest.fixture
async def ana(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="ana")


async def _login(
    client: httpx.AsyncClient, username: str, password: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password, **extra}
    )


async def _time_passes(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Every wait is over (as if the backoff had elapsed)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(LoginThrottle).values(locked_until=utcnow() - timedelta(seconds=1))
        )


# -- throttling over HTTP ----------------------------------------------------------------------


async def test_forty_wrong_passwords_are_throttled_and_the_right_one_waits_too(
    client: httpx.AsyncClient,
    ana: Staff,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The clock stands still while the guesses arrive, however slow the machine is: a wait
    # that ran out between two slow requests would otherwise let one more guess be checked.
    frozen = utcnow()
    monkeypatch.setattr("listener.accounts.signin.utcnow", lambda: frozen)
    statuses = [(await _login(client, "ana", f"guess-{n}")).status_code for n in range(40)]
    # Five failures are free; the lock after the fifth refuses the next 35 unchecked.
    assert statuses == [401] * 5 + [429] * 35

    refused = await _login(client, "ana", PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["retry_after"] == 1
    assert refused.json()["type"] == "urn:luister:problem:login-throttled"

    monkeypatch.undo()
    await _time_passes(sessions)
    accepted = await _login(client, "ana", PASSWORD)
    assert accepted.status_code == 201, accepted.text
    # The success cleared the account: the next typo is a plain 401 again.
    assert (await _login(client, "ana", "typo")).status_code == 401


async def test_the_wait_doubles_with_each_failure_after_the_free_ones(
    client: httpx.AsyncClient, ana: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    waits = []
    for _ in range(5):
        assert (await _login(client, "ana", "wrong")).status_code == 401
    for _ in range(5):
        throttled = await _login(client, "ana", "wrong")
        assert throttled.status_code == 429
        waits.append(int(throttled.headers["retry-after"]))
        await _time_passes(sessions)
        assert (await _login(client, "ana", "wrong")).status_code == 401
    assert waits == [1, 2, 4, 8, 16]


async def test_an_unknown_user_is_throttled_like_a_known_one(
    client: httpx.AsyncClient,
) -> None:
    statuses = [(await _login(client, "nobody", "pw")).status_code for _ in range(7)]
    assert statuses == [401] * 5 + [429] * 2


async def test_one_address_guessing_at_many_accounts_is_throttled(
    client: httpx.AsyncClient, ana: Staff
) -> None:
    # 20 failures per address are free; spread over accounts, each stays under its own limit.
    statuses = [(await _login(client, f"user{n % 5}", "pw")).status_code for n in range(22)]
    assert statuses == [401] * 20 + [429] * 2
    # A right password from that address waits too: the address is what is throttled.
    assert (await _login(client, "ana", PASSWORD)).status_code == 429


# -- the throttle service: atomic across sessions, exact backoff, addresses --------------------


def _policy(**overrides: Any) -> ThrottlePolicy:
    return ThrottlePolicy(**overrides)


async def test_attempts_in_flight_at_once_count_against_each_other(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    policy = _policy(free_per_account=3)
    now = utcnow()

    async def attempt() -> bool:
        async with sessions() as session:
            try:
                await throttle.begin(
                    session,
                    username="ana",
                    address="203.0.113.9",
                    secret=b"k",
                    policy=policy,
                    now=now,
                )
            except LoginThrottled:
                await session.rollback()
                return False
            await session.commit()
            return True  # let through to the password check, which has not finished yet

    let_through = await asyncio.gather(*(attempt() for _ in range(12)))
    # Two free attempts, and the third holds the account while its password is checked.
    assert sum(let_through) == 3


async def test_backoff_is_exponential_and_capped() -> None:
    policy = _policy(backoff=timedelta(seconds=2), max_backoff=timedelta(seconds=60))
    waits = [policy.wait_after(n, throttle.ACCOUNT) for n in range(3, 12)]
    assert waits[:2] == [None, None]
    assert [w.total_seconds() for w in waits[2:] if w] == [2, 4, 8, 16, 32, 60, 60]
    assert policy.wait_after(10**6, throttle.ACCOUNT) == timedelta(seconds=60)


async def test_old_failures_are_forgotten(sessions: async_sessionmaker[AsyncSession]) -> None:
    policy = _policy(free_per_account=2, forget_after=timedelta(hours=1))
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    async def fail(at: datetime) -> None:
        async with sessions() as session:
            attempt = await throttle.begin(
                session, username="ana", address="198.51.100.1", secret=b"k", policy=policy, now=at
            )
            await throttle.finish(session, attempt, ok=False, policy=policy, now=at)
            await session.commit()

    await fail(start)
    await fail(start + timedelta(seconds=1))  # the second failure locks for a second
    async with sessions() as session:
        with pytest.raises(LoginThrottled):
            await throttle.begin(
                session,
                username="ana",
                address="198.51.100.1",
                secret=b"k",
                policy=policy,
                now=start + timedelta(seconds=1.5),
            )
    later = start + timedelta(hours=2)
    async with sessions() as session:
        await throttle.forget_old(session, policy=policy, now=later)
        await session.commit()
        assert (await session.execute(select(LoginThrottle))).first() is None
    await fail(later)  # counted from one again: no lock
    async with sessions() as session:
        failures = (await session.execute(select(LoginThrottle.failures))).scalars().all()
        assert sorted(failures) == [1, 1]


def test_an_ipv6_client_is_counted_by_its_64_network() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key(None) == "unknown"


async def test_the_table_holds_no_username_or_address(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _login(client, "secret-name", "pw")
    async with sessions() as session:
        keys = (await session.execute(select(LoginThrottle.key))).scalars().all()
    assert len(keys) == 2 and not any("secret-name" in k or "127.0.0.1" in k for k in keys)


# -- uniform timing: every outcome costs one argon2 check ----------------------------------------


async def test_every_outcome_costs_one_password_check(
    client: httpx.AsyncClient,
    ana: Staff,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[str] = []
    real = service.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checks.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(service, "verify_password", counting)
    async with sessions() as session, session.begin():
        await service.create_user(session, username="gone", password=PASSWORD, role=Role.ANALYST)
        await session.execute(update(User).where(User.username == "gone").values(is_active=False))
    outcomes = {
        ("nobody", "pw-1"): 401,
        ("ana", "pw-2"): 401,
        ("gone", PASSWORD): 401,
        ("ana", PASSWORD): 201,
    }
    for (username, password), expected in outcomes.items():
        assert (await _login(client, username, password)).status_code == expected
    assert checks == ["pw-1", "pw-2", PASSWORD, PASSWORD]


# -- login tokens expire (sliding, capped) -------------------------------------------------------


async def test_a_login_token_expires_when_unused_and_each_use_extends_it(
    client: httpx.AsyncClient, ana: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    issued = (await _login(client, "ana", PASSWORD)).json()
    expires = datetime.fromisoformat(issued["expires_at"])
    latest = datetime.fromisoformat(issued["max_expires_at"])
    now = utcnow()
    assert abs(expires - (now + timedelta(hours=24))) < timedelta(minutes=1)
    assert abs(latest - (now + timedelta(days=30))) < timedelta(minutes=1)
    headers = {"Authorization": f"Bearer {issued['token']}"}

    # Unused for a while: its expiry is near. One use moves it a full idle period on.
    async with sessions() as session, session.begin():
        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == issued["id"])
            .values(last_used_at=now - timedelta(hours=23), expires_at=now + timedelta(hours=1))
        )
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    async with sessions() as session:
        token = await session.get(ApiToken, issued["id"])
        assert token is not None and token.expires_at is not None
        assert token.expires_at > now + timedelta(hours=23)

        # Never past the maximum, however often it is used.
        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == issued["id"])
            .values(last_used_at=None, max_expires_at=now + timedelta(hours=2))
        )
        await session.commit()
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    async with sessions() as session:
        token = await session.get(ApiToken, issued["id"])
        assert token is not None and token.expires_at == now + timedelta(hours=2)

        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == issued["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    expired = await client.get("/api/v1/me", headers=headers)
    assert expired.status_code == 401
    assert expired.headers["content-type"] == PROBLEM


# -- owners list and revoke their own tokens -----------------------------------------------------


async def test_owners_list_and_revoke_their_own_tokens(
    client: httpx.AsyncClient, ana: Staff, make_staff: MakeStaff
) -> None:
    other = await make_staff(Role.ADMIN, username="bo")
    login = (await _login(client, "ana", PASSWORD, token_name="laptop")).json()
    laptop = {"Authorization": f"Bearer {login['token']}"}

    listed = await client.get("/api/v1/me/tokens", headers=ana.headers)
    assert listed.status_code == 200
    tokens = {t["name"]: t for t in listed.json()}
    assert set(tokens) == {"test", "laptop"}  # not bo's
    assert tokens["test"]["current"] and not tokens["laptop"]["current"]
    assert tokens["laptop"]["expires_at"] and tokens["test"]["expires_at"] is None
    assert "token" not in tokens["laptop"] and login["token"].startswith(tokens["laptop"]["prefix"])

    bos_tokens = (await client.get("/api/v1/me/tokens", headers=other.headers)).json()
    (bos_token,) = bos_tokens
    refused = await client.delete(f"/api/v1/me/tokens/{bos_token['id']}", headers=ana.headers)
    assert refused.status_code == 404 and refused.headers["content-type"] == PROBLEM
    assert (await client.get("/api/v1/me", headers=other.headers)).status_code == 200
    missing = await client.delete("/api/v1/me/tokens/999999", headers=ana.headers)
    assert missing.status_code == 404
    too_big = await client.delete(f"/api/v1/me/tokens/{2**31 + 1}", headers=ana.headers)
    assert too_big.status_code == 422

    revoked = await client.delete(f"/api/v1/me/tokens/{login['id']}", headers=ana.headers)
    assert revoked.status_code == 204
    assert (await client.get("/api/v1/me", headers=laptop)).status_code == 401
    again = await client.delete(f"/api/v1/me/tokens/{login['id']}", headers=ana.headers)
    assert again.status_code == 204  # revoking twice is harmless
    remaining = (await client.get("/api/v1/me/tokens", headers=ana.headers)).json()
    assert [t["name"] for t in remaining] == ["test"]

    # Revoking the token in use signs out.
    assert (
        await client.delete(f"/api/v1/me/tokens/{tokens['test']['id']}", headers=ana.headers)
    ).status_code == 204
    assert (await client.get("/api/v1/me/tokens", headers=ana.headers)).status_code == 401
