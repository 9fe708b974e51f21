"""Ordinary and hostile input is refused at the boundary (422/413), never a 500 or saved corrupt.

Each test is a reproducer from issue 11, run on SQLite and PostgreSQL: a PATCH with `null`,
dates without zone, years out of range, integers beyond the columns, NUL characters and lone
surrogates in text, and a body far over the size cap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.kit import MAX_DB_INT
from listener.models import AuditEntry, Role, Source
from listener.sources.ingest import ingest_mentions, source_for_name
from tests.conftest import MakeStaff, Staff
from tests.factories import mention

PROBLEM = "application/problem+json"
TOO_BIG = MAX_DB_INT + 2  # 2^31 + 1
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
async def admin(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.ADMIN, username="root")


@pytest.fixture
async def mod(make_staff: MakeStaff) -> Staff:
    return await make_staff(Role.MODERATOR, username="mod")


async def _ingest(sessions: async_sessionmaker[AsyncSession], *items: dict[str, Any]) -> list[int]:
    async with sessions() as session, session.begin():
        return list((await ingest_mentions(session, list(items))).new_mention_ids)


def _is_422(response: httpx.Response, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    if field is not None:
        assert field in response.text, body
    return body


# -- PATCH: null for a required field is a 422 and nothing is saved -----------------------------


async def test_a_view_patched_with_null_filters_is_refused_and_views_stay_readable(
    client: httpx.AsyncClient, mod: Staff, admin: Staff
) -> None:
    created = await client.post(
        "/api/v1/views",
        json={"name": "shared", "filters": {"language": "nl"}, "shared": True},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    view_id = created.json()["id"]
    for field in ("filters", "name", "sort", "shared"):
        refused = await client.patch(
            f"/api/v1/views/{view_id}", json={field: None}, headers=admin.headers
        )
        body = _is_422(refused, field)
        assert "null" in body["detail"]

    for staff in (admin, mod):  # the view is shared: everybody reads it
        assert (await client.get("/api/v1/views", headers=staff.headers)).status_code == 200
        listed = await client.get(
            "/api/v1/mentions", params={"view": view_id}, headers=staff.headers
        )
        assert listed.status_code == 200, listed.text
    view = (await client.get(f"/api/v1/views/{view_id}", headers=admin.headers)).json()
    assert view["filters"] == {"language": "nl"} and view["name"] == "shared"


async def test_the_openapi_schema_does_not_offer_null_where_a_patch_refuses_it(
    client: httpx.AsyncClient,
) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    filters = schemas["ViewPatch"]["properties"]["filters"]
    assert "null" not in str(filters)
    language = schemas["TemplatePatch"]["properties"]["language"]
    assert {"type": "null"} in language["anyOf"]  # null clears a template's language


async def test_a_recipient_list_patched_with_null_emails_is_refused_and_lists_stay_readable(
    client: httpx.AsyncClient, admin: Staff
) -> None:
    created = await client.post(
        "/api/v1/recipient-lists",
        json={"name": "comms", "emails": ["comms@example.org"]},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    for field in ("emails", "topics", "name", "language", "enabled"):
        refused = await client.patch(
            f"/api/v1/recipient-lists/{list_id}", json={field: None}, headers=admin.headers
        )
        _is_422(refused, field)
    listed = await client.get("/api/v1/recipient-lists", headers=admin.headers)
    assert listed.status_code == 200
    assert listed.json()[0]["emails"] == ["comms@example.org"]


async def test_templates_and_topics_clear_only_what_may_be_empty(
    client: httpx.AsyncClient, admin: Staff
) -> None:
    template = await client.post(
        "/api/v1/templates",
        json={"name": "thanks", "body": "Thanks!", "language": "en"},
        headers=admin.headers,
    )
    assert template.status_code == 201, template.text
    path = f"/api/v1/templates/{template.json()['id']}"
    for field in ("name", "body", "intents"):
        _is_422(await client.patch(path, json={field: None}, headers=admin.headers), field)
    cleared = await client.patch(path, json={"language": None}, headers=admin.headers)
    assert cleared.status_code == 200 and cleared.json()["language"] is None
    assert (await client.get("/api/v1/templates", headers=admin.headers)).status_code == 200

    topic = await client.post(
        "/api/v1/topics",
        json={"name": "delivery", "description": "parcels", "keywords": {"en": ["parcel"]}},
        headers=admin.headers,
    )
    assert topic.status_code == 201, topic.text
    path = f"/api/v1/topics/{topic.json()['id']}"
    for field in ("name", "keywords"):
        _is_422(await client.patch(path, json={field: None}, headers=admin.headers), field)
    cleared = await client.patch(path, json={"description": None}, headers=admin.headers)
    assert cleared.status_code == 200 and cleared.json()["description"] is None


async def test_a_reply_edit_with_null_text_is_refused(
    client: httpx.AsyncClient, mod: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _ingest(sessions, mention(1))
    draft = await client.post(
        f"/api/v1/mentions/{mention_id}/replies", json={"body": "Hello"}, headers=mod.headers
    )
    assert draft.status_code == 201, draft.text
    edited = await client.patch(
        f"/api/v1/replies/{draft.json()['id']}",
        json={"body": None, "version": draft.json()["version"]},
        headers=mod.headers,
    )
    _is_422(edited, "body")


# -- Sources: a rename keeps `enabled`; a stored config that no longer validates is replaceable --


async def _rss_source(client: httpx.AsyncClient, admin: Staff, name: str = "feed") -> int:
    created = await client.post(
        "/api/v1/sources",
        json={"kind": "rss", "name": name, "config": {"url": "https://news.example/feed.xml"}},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    source_id: int = created.json()["id"]
    return source_id


async def test_renaming_a_paused_source_keeps_it_paused(
    client: httpx.AsyncClient, admin: Staff
) -> None:
    source_id = await _rss_source(client, admin)
    paused = await client.post(
        f"/api/v1/sources/{source_id}/pause", json={"reason": "noisy"}, headers=admin.headers
    )
    assert paused.json()["enabled"] is False
    renamed = await client.patch(
        f"/api/v1/sources/{source_id}", json={"name": "feed-2"}, headers=admin.headers
    )
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["name"], body["enabled"], body["paused_reason"]) == ("feed-2", False, "noisy")
    # A new config does not resume a pause staff chose either; resuming is explicit.
    edited = await client.patch(
        f"/api/v1/sources/{source_id}",
        json={"config": {"url": "https://news.example/other.xml"}},
        headers=admin.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["enabled"] is False
    _is_422(
        await client.patch(
            f"/api/v1/sources/{source_id}", json={"config": None}, headers=admin.headers
        ),
        "config",
    )


async def test_a_new_config_lifts_an_automatic_pause_but_a_rename_does_not(
    client: httpx.AsyncClient, admin: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    source_id = await _rss_source(client, admin)
    async with sessions() as session, session.begin():
        await session.execute(
            update(Source)
            .where(Source.id == source_id)
            .values(paused_reason="paused after 8 failed polls", consecutive_failures=8)
        )
    renamed = await client.patch(
        f"/api/v1/sources/{source_id}", json={"name": "feed-x"}, headers=admin.headers
    )
    assert renamed.json()["paused_reason"] == "paused after 8 failed polls"
    fixed = await client.patch(
        f"/api/v1/sources/{source_id}",
        json={"config": {"url": "https://news.example/fixed.xml"}},
        headers=admin.headers,
    )
    body = fixed.json()
    assert (body["enabled"], body["paused_reason"], body["consecutive_failures"]) == (True, None, 0)


async def test_a_source_created_by_an_import_can_be_given_a_config(
    client: httpx.AsyncClient, admin: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        source_id = await source_for_name(session, name="imported", kind="rss")
    renamed = await client.patch(
        f"/api/v1/sources/{source_id}", json={"name": "imported-2"}, headers=admin.headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["enabled"] is False  # an import's source stays off until resumed
    incomplete = await client.patch(
        f"/api/v1/sources/{source_id}", json={"config": {}}, headers=admin.headers
    )
    _is_422(incomplete, "url")
    given = await client.patch(
        f"/api/v1/sources/{source_id}",
        json={"config": {"url": "https://news.example/feed.xml"}},
        headers=admin.headers,
    )
    assert given.status_code == 200, given.text
    assert given.json()["config"]["url"] == "https://news.example/feed.xml"
    assert given.json()["enabled"] is False


async def test_a_config_whose_credential_cannot_be_read_can_be_replaced(
    client: httpx.AsyncClient, admin: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    created = await client.post(
        "/api/v1/sources",
        json={
            "kind": "mastodon",
            "name": "masto",
            "config": {
                "instance_url": "https://mastodon.example",
                "hashtag": "a",
                "access_token": "tok",
            },
        },
        headers=admin.headers,
    )
    source_id = created.json()["id"]
    async with sessions() as session, session.begin():
        source = await session.get(Source, source_id)
        assert source is not None
        # As if LUISTER_SECRET_KEY had changed: the stored token no longer decrypts.
        source.config = {**source.config, "access_token": {"$enc": "not-a-fernet-token"}}
    kept = await client.patch(
        f"/api/v1/sources/{source_id}",
        json={"config": {"access_token": "new-token"}},
        headers=admin.headers,
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["config"]["hashtag"] == "a"  # the readable values stay
    assert kept.json()["config"]["access_token"] == "********"


# -- One datetime type: dates and naive times are local, out-of-range years are 422 -------------


async def test_date_only_and_naive_since_until_mean_local_time_on_mentions_and_audit(
    client: httpx.AsyncClient, mod: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # 22:30 UTC on 19 November is 23:30 on 19 November in Amsterdam; 23:30 UTC is the 20th there.
    late_19th, early_20th = await _ingest(
        sessions,
        mention(1, created_at="2026-11-19T22:30:00+00:00"),
        mention(2, created_at="2026-11-19T23:30:00+00:00"),
    )
    cases = {
        "since=2026-11-20": [early_20th],
        "until=2026-11-20": [late_19th],
        "since=2026-11-20T00:00:00": [early_20th],
        "since=2026-11-19T23:00:00Z": [early_20th],
        "since=2026-11-19&until=2026-11-21": [early_20th, late_19th],
    }
    for query, expected in cases.items():
        page = await client.get(f"/api/v1/mentions?{query}", headers=mod.headers)
        assert page.status_code == 200, (query, page.text)
        assert [m["id"] for m in page.json()["items"]] == expected, query

    async with sessions() as session, session.begin():
        for n, at in enumerate(("2026-11-19T22:30:00+00:00", "2026-11-19T23:30:00+00:00")):
            session.add(
                AuditEntry(
                    entity="test",
                    entity_id=str(n),
                    action=f"probe-{n}",
                    actor="test",
                    created_at=datetime.fromisoformat(at),
                )
            )
    for path in ("/api/v1/audit", "/api/v1/audit/export.csv"):
        local = await client.get(
            path, params={"since": "2026-11-20", "entity": "test"}, headers=mod.headers
        )
        assert local.status_code == 200, local.text
    entries = (
        await client.get(
            "/api/v1/audit",
            params={"since": "2026-11-20", "until": "2026-11-21T00:00", "entity": "test"},
            headers=mod.headers,
        )
    ).json()["items"]
    assert [e["action"] for e in entries] == ["probe-1"]


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "9999-12-31",
        "1899-12-31T00:00:00Z",
        "3000-01-01T00:00:00Z",
        "2026-02-30",
        "yesterday",
    ],
)
async def test_out_of_range_or_bad_datetimes_are_422(
    client: httpx.AsyncClient,
    mod: Staff,
    admin: Staff,
    sessions: async_sessionmaker[AsyncSession],
    moment: str,
) -> None:
    (mention_id,) = await _ingest(sessions, mention(1))
    for path in ("/api/v1/mentions", "/api/v1/audit", "/api/v1/audit/export.csv"):
        for name in ("since", "until"):
            _is_422(await client.get(path, params={name: moment}, headers=mod.headers), name)
    _is_422(
        await client.post(
            f"/api/v1/mentions/{mention_id}/snooze",
            json={"until": moment, "version": 1},
            headers=mod.headers,
        ),
        "until",
    )
    _is_422(
        await client.post(
            f"/api/v1/mentions/{mention_id}/external-answers",
            json={"answered_at": moment},
            headers=mod.headers,
        ),
        "answered_at",
    )
    _is_422(
        await client.post("/api/v1/alerts/check", json={"at": moment}, headers=admin.headers),
        "at",
    )
    _is_422(
        await client.post(
            "/api/v1/views",
            json={"name": "bad", "filters": {"since": moment}},
            headers=mod.headers,
        ),
        "since",
    )


async def test_a_naive_snooze_until_is_local_time(
    client: httpx.AsyncClient, mod: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _ingest(sessions, mention(1))
    local = (datetime.now(AMSTERDAM) + timedelta(days=2)).replace(microsecond=0, tzinfo=None)
    snoozed = await client.post(
        f"/api/v1/mentions/{mention_id}/snooze",
        json={"until": local.isoformat(), "version": 1},
        headers=mod.headers,
    )
    assert snoozed.status_code == 200, snoozed.text
    stored = datetime.fromisoformat(snoozed.json()["snoozed_until"])
    assert stored == local.replace(tzinfo=AMSTERDAM).astimezone(UTC)


async def test_date_only_answered_at_and_alert_hour_are_accepted(
    client: httpx.AsyncClient, mod: Staff, admin: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _ingest(sessions, mention(1, created_at="2026-11-19T08:00:00+00:00"))
    answered = await client.post(
        f"/api/v1/mentions/{mention_id}/external-answers",
        json={"answered_at": "2026-11-20", "note": "phoned them"},
        headers=mod.headers,
    )
    assert answered.status_code == 201, answered.text
    assert datetime.fromisoformat(answered.json()["responded_at"]) == datetime(
        2026, 11, 19, 23, 0, tzinfo=UTC
    )
    checked = await client.post(
        "/api/v1/alerts/check", json={"at": "2026-11-20T10:30"}, headers=admin.headers
    )
    assert checked.status_code == 200, checked.text


@pytest.mark.parametrize(
    "params",
    [
        {"week": "9999-W52"},
        {"week": "0001-W01"},
        {"week": "2026-W60"},
        {"first_day": "9999-12-25", "last_day": "9999-12-31"},
        {"first_day": "0001-01-01", "last_day": "0001-01-07"},
    ],
)
async def test_digest_periods_out_of_range_are_422(
    client: httpx.AsyncClient, admin: Staff, params: dict[str, str]
) -> None:
    preview = await client.get("/api/v1/digests/preview", params=params, headers=admin.headers)
    _is_422(preview)
    stored = await client.post("/api/v1/digests", json=params, headers=admin.headers)
    _is_422(stored)


async def test_the_last_week_in_range_previews(client: httpx.AsyncClient, admin: Staff) -> None:
    preview = await client.get(
        "/api/v1/digests/preview", params={"week": "2999-W50"}, headers=admin.headers
    )
    assert preview.status_code == 200, preview.text


# -- Integers beyond the columns are 422 ----------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["assignee_id", "source_id", "author_id", "view"],
)
async def test_query_ids_beyond_the_column_are_422(
    client: httpx.AsyncClient, mod: Staff, query: str
) -> None:
    _is_422(
        await client.get("/api/v1/mentions", params={query: TOO_BIG}, headers=mod.headers), query
    )


async def test_body_ids_and_versions_beyond_the_column_are_422(
    client: httpx.AsyncClient, mod: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _ingest(sessions, mention(1))
    writes: list[tuple[str, dict[str, Any]]] = [
        (f"/api/v1/mentions/{mention_id}/assignment", {"assignee_id": TOO_BIG, "version": 1}),
        (f"/api/v1/mentions/{mention_id}/status", {"status": "open", "version": TOO_BIG}),
        (f"/api/v1/mentions/{mention_id}/notes", {"body": "hi", "version": TOO_BIG}),
        ("/api/v1/bulk", {"action": "spam", "ids": [TOO_BIG]}),
        ("/api/v1/bulk", {"action": "spam", "view_id": TOO_BIG}),
        ("/api/v1/views", {"name": "v", "filters": {"assignee_id": TOO_BIG}}),
        (f"/api/v1/mentions/{mention_id}/replies", {"body": "x", "template_id": TOO_BIG}),
    ]
    for path, body in writes:
        response = await client.post(path, json=body, headers=mod.headers)
        _is_422(response)
    assert (await client.get("/api/v1/views", headers=mod.headers)).status_code == 200


# -- NUL characters and lone surrogates never reach the database ---------------------------------


async def test_a_nul_in_q_is_422_on_mentions_and_search(
    client: httpx.AsyncClient, make_staff: MakeStaff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reader = await make_staff(Role.ANALYST)  # read scope suffices to send it
    await _ingest(sessions, mention(1))
    for path in ("/api/v1/mentions", "/api/v1/search"):
        body = _is_422(
            await client.get(path, params={"q": "fiets\x00baan"}, headers=reader.headers), "q"
        )
        assert "NUL" in body["detail"]
        assert (await client.get(path, params={"q": "fiets"}, headers=reader.headers)).is_success
    raw = await client.get("/api/v1/mentions?language=n%00l", headers=reader.headers)
    _is_422(raw, "language")


@pytest.mark.parametrize(
    "raw_body",
    [
        '{"body": "a\\u0000b", "version": 1}',
        '{"body": "a\\ud800b", "version": 1}',
        '{"body": "a\\udc00", "version": 1}',
        '{"body": "ok", "version": 1, "k\\u0000": 1}',
    ],
)
async def test_a_nul_or_lone_surrogate_in_a_note_is_422(
    client: httpx.AsyncClient,
    mod: Staff,
    sessions: async_sessionmaker[AsyncSession],
    raw_body: str,
) -> None:
    (mention_id,) = await _ingest(sessions, mention(1))
    refused = await client.post(
        f"/api/v1/mentions/{mention_id}/notes",
        content=raw_body,
        headers={**mod.headers, "Content-Type": "application/json"},
    )
    _is_422(refused, "body")
    detail = await client.get(f"/api/v1/mentions/{mention_id}", headers=mod.headers)
    assert detail.json()["notes"] == []


async def test_escaped_backslashes_and_paired_surrogates_are_ordinary_text(
    client: httpx.AsyncClient, mod: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _ingest(sessions, mention(1))
    # A backslash followed by "u0000" is six ordinary characters; 😀 is a valid surrogate pair.
    raw = '{"body": "C:\\\\u0000 and \\ud83d\\ude00", "version": 1}'
    created = await client.post(
        f"/api/v1/mentions/{mention_id}/notes",
        content=raw,
        headers={**mod.headers, "Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["note"]["body"] == "C:\\u0000 and \U0001f600"


async def test_nul_in_nested_json_and_in_other_writes_is_422(
    client: httpx.AsyncClient, admin: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _ingest(sessions, mention(1))
    writes: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/sources", {"kind": "rss", "name": "f", "config": {"url": "https://a\x00.b"}}),
        ("/api/v1/views", {"name": "v", "filters": {"text": "\x00"}}),
        (f"/api/v1/mentions/{mention_id}/replies", {"body": "hi\x00"}),
        ("/api/v1/templates", {"name": "t", "body": "x", "intents": ["a\x00"]}),
        ("/api/v1/recipient-lists", {"name": "l", "emails": ["a@b.c"], "topics": ["\x00"]}),
    ]
    for path, body in writes:
        _is_422(await client.post(path, json=body, headers=admin.headers))
    async with sessions() as session:
        assert (await session.execute(select(Source).where(Source.name == "f"))).first() is None
    assert (await client.get("/api/v1/views", headers=admin.headers)).status_code == 200


# -- The body size cap answers 413 before the body is read ---------------------------------------


async def test_a_2_mb_body_is_413_problem(
    client: httpx.AsyncClient, mod: Staff, sessions: async_sessionmaker[AsyncSession]
) -> None:
    (mention_id,) = await _ingest(sessions, mention(1))
    response = await client.post(
        f"/api/v1/mentions/{mention_id}/notes",
        content=b'{"body": "' + b"a" * (2 * 1024 * 1024) + b'", "version": 1}',
        headers={**mod.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["max_bytes"] == 1024 * 1024
    small = await client.post(
        f"/api/v1/mentions/{mention_id}/notes",
        json={"body": "fine", "version": 1},
        headers=mod.headers,
    )
    assert small.status_code == 201


async def _call_app(
    app: Any, *, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, int, bytes]:
    """Drive the ASGI app by hand: (status, chunks it pulled, response body)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {
                "type": "http.request",
                "body": chunks[pulled - 1],
                "more_body": pulled < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/views",
        "raw_path": b"/api/v1/views",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("luister.test", 80),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, pulled, body


async def test_the_cap_refuses_without_reading_the_body(
    client: httpx.AsyncClient, mod: Staff
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    chunk = b"x" * 65536
    chunks = [chunk] * 32  # 2 MiB
    auth = (b"authorization", mod.headers["Authorization"].encode())
    json_type = (b"content-type", b"application/json")

    status, pulled, body = await _call_app(
        app, headers=[auth, json_type, (b"content-length", b"2097152")], chunks=chunks
    )
    assert (status, pulled) == (413, 0)  # Content-Length said enough: not one byte read
    assert b"too-large" in body

    status, pulled, body = await _call_app(app, headers=[auth, json_type], chunks=chunks)
    assert status == 413  # streamed without a length: stopped just past the cap
    assert pulled == 1024 * 1024 // len(chunk) + 1 < len(chunks)
