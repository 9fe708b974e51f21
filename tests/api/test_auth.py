"""Every endpoint but health and docs needs a valid token; roles and scopes limit what it does."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.accounts.service import revoke_token
from listener.models import ApiToken, Role, Scope
from tests.conftest import MakeStaff

PROBLEM = "application/problem+json"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/docs", "/openapi.json"])
async def test_health_and_docs_are_open(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200


async def test_readyz_reports_the_database(client: httpx.AsyncClient) -> None:
    body = (await client.get("/readyz")).json()
    assert body == {"status": "ready", "checks": {"database": "ok"}}


async def test_missing_token_is_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/mentions")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401


@pytest.mark.parametrize(
    "token",
    ["nonsense", "lst_" + "a" * 38, "lst_" + "A" * 32 + "000000"],
)
async def test_bad_tokens_are_401(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/api/v1/mentions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM


async def test_valid_token_reads_the_queue(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    analyst = await make_staff(Role.ANALYST)
    response = await client.get("/api/v1/mentions", headers=analyst.headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_revoked_token_stops_working(
    client: httpx.AsyncClient,
    make_staff: MakeStaff,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    staff = await make_staff(Role.MODERATOR)
    assert (await client.get("/api/v1/me", headers=staff.headers)).status_code == 200
    async with sessions() as session, session.begin():
        token_id = (await session.execute(select(ApiToken.id))).scalar_one()
        await revoke_token(session, token_id=token_id)
    assert (await client.get("/api/v1/me", headers=staff.headers)).status_code == 401


async def test_analyst_cannot_triage(client: httpx.AsyncClient, make_staff: MakeStaff) -> None:
    analyst = await make_staff(Role.ANALYST)
    response = await client.post(
        "/api/v1/mentions/1/status", json={"status": "open", "version": 1}, headers=analyst.headers
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert "triage" in response.json()["detail"]


async def test_read_only_token_of_a_moderator_cannot_triage(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    moderator = await make_staff(Role.MODERATOR, scopes=[Scope.READ])
    response = await client.post(
        "/api/v1/mentions/1/status",
        json={"status": "open", "version": 1},
        headers=moderator.headers,
    )
    assert response.status_code == 403


async def test_me_shows_role_and_scopes(client: httpx.AsyncClient, make_staff: MakeStaff) -> None:
    moderator = await make_staff(Role.MODERATOR, username="mia")
    body = (await client.get("/api/v1/me", headers=moderator.headers)).json()
    assert body["username"] == "mia"
    assert body["role"] == "moderator"
    assert body["scopes"] == ["read", "triage"]


async def test_login_with_password_issues_a_working_token(
    client: httpx.AsyncClient, make_staff: MakeStaff
) -> None:
    await make_staff(Role.ANALYST, username="ana")
    wrong = await client.post("/api/v1/auth/login", json={"username": "ana", "password": "nope"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == PROBLEM

    issued = await client.post(
        "/api/v1/auth/login", json={"username": "ana", "password": "correct horse"}
    )
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("lst_")
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["scopes"] == ["read"]


async def test_tokens_are_stored_only_as_hashes(
    make_staff: MakeStaff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    staff = await make_staff(Role.ADMIN)
    async with sessions() as session:
        stored = (await session.execute(select(ApiToken))).scalar_one()
    assert staff.token not in (stored.token_hash, stored.prefix)
    assert len(stored.token_hash) == 64
    assert staff.token.startswith(stored.prefix)
