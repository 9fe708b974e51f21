"""Every failure leaves as problem+json: out-of-range ids, bad cursors and unexpected crashes."""

from __future__ import annotations

import logging

import httpx
import pytest

from listener.kit import encode_cursor
from listener.models import Role
from tests.conftest import MakeStaff, Staff

PROBLEM = "application/problem+json"
HUGE = "99999999999999999999999"


@pytest.fixture
async def admin(make_staff: MakeStaff) -> Staff:
    """An admin: every endpoint below is open to them."""
    return await make_staff(Role.ADMIN, username="boss")


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/mentions/{HUGE}",
        f"/api/v1/mentions/{HUGE}/claim",
        f"/api/v1/mentions/{HUGE}/corrections",
        f"/api/v1/replies/{HUGE}",
        f"/api/v1/sources/{HUGE}",
        f"/api/v1/digests/{HUGE}",
        f"/api/v1/alerts/{HUGE}",
        f"/api/v1/topics/{HUGE}",
        f"/api/v1/views/{HUGE}",
        f"/api/v1/authors/{HUGE}",
        f"/api/v1/questions/{HUGE}",
        f"/api/v1/templates/{HUGE}",
        f"/api/v1/bulk/{HUGE}",
        f"/api/v1/mentions?source_id={HUGE}",
        f"/api/v1/audit?mention_id={HUGE}",
    ],
)
async def test_an_id_no_column_can_hold_is_a_422_problem(
    client: httpx.AsyncClient, admin: Staff, path: str
) -> None:
    response = await client.get(path, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:luister:problem:validation"


async def test_the_largest_id_a_column_holds_is_a_plain_404(
    client: httpx.AsyncClient, admin: Staff
) -> None:
    response = await client.get("/api/v1/mentions/2147483647", headers=admin.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_a_cursor_holding_a_huge_id_is_a_400_problem(
    client: httpx.AsyncClient, admin: Staff
) -> None:
    for path in ("/api/v1/digests", "/api/v1/alerts"):
        response = await client.get(
            path, params={"cursor": encode_cursor(10**30)}, headers=admin.headers
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == PROBLEM
        assert "cursor" in response.json()["detail"]


async def test_an_if_match_beyond_any_version_is_a_400_problem(
    client: httpx.AsyncClient, admin: Staff
) -> None:
    response = await client.post(
        "/api/v1/mentions/1/status",
        json={"status": "resolved"},
        headers={**admin.headers, "If-Match": f'"{HUGE}"'},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


async def test_an_unexpected_error_is_a_500_problem_with_a_correlation_id_in_the_log(
    client: httpx.AsyncClient,
    admin: Staff,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def _crash(*_: object, **__: object) -> None:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr("moderation.queue.endpoints.mentions.get_mention_detail", _crash)
    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/v1/mentions/1", headers=admin.headers)

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    correlation_id = body["correlation_id"]
    assert response.headers["X-Correlation-ID"] == correlation_id
    assert body["status"] == 500
    assert "fire" not in response.text  # internals stay in the log
    logged = [r for r in caplog.records if getattr(r, "correlation_id", None) == correlation_id]
    assert len(logged) == 1
    assert correlation_id in logged[0].getMessage()
    assert logged[0].exc_info is not None
    assert "the disk caught fire" in caplog.text


async def test_the_app_still_answers_after_an_unexpected_error(
    client: httpx.AsyncClient, admin: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def _crash(*_: object, **__: object) -> None:
        raise RuntimeError("once")

    monkeypatch.setattr("moderation.queue.endpoints.mentions.get_mention_detail", _crash)
    assert (await client.get("/api/v1/mentions/1", headers=admin.headers)).status_code == 500
    monkeypatch.undo()
    response = await client.get("/api/v1/mentions/1", headers=admin.headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
