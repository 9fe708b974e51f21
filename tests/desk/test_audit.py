"""The audit screen: the log filtered by who, action, kind and time, paged, escaped, read-only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.models import Role
from moderation.queue import audit
from tests.desk.conftest import SignIn

XSS = '<script>alert("x")</script>'


async def _entries(
    sessions: async_sessionmaker[AsyncSession], rows: list[tuple[str, str, int | None, datetime]]
) -> None:
    async with sessions() as session, session.begin():
        for action, actor, user_id, at in rows:
            entry = audit.record(
                session,
                action=action,
                actor=None,
                actor_label=actor,
                actor_user_id=user_id,
                mention_id=7,
                before={"status": "new"},
                after={"status": "resolved", "note": XSS},
            )
            entry.created_at = at


def _actions(html: str) -> list[str]:
    return re.findall(r'<td><span class="chip">([^<]+)</span></td>', html)


async def test_filters_by_person_action_and_days(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    anna = await desk_sign_in(Role.MODERATOR, username="anna")
    await _entries(
        sessions,
        [
            ("status", "anna", anna.staff.id, datetime(2026, 11, 2, 9, tzinfo=UTC)),
            ("claim", "anna", anna.staff.id, datetime(2026, 11, 3, 9, tzinfo=UTC)),
            ("status", "system", None, datetime(2026, 11, 5, 9, tzinfo=UTC)),
        ],
    )
    analyst = await desk_sign_in(Role.ANALYST)  # the audit log is for every reader, as in the API
    everything = await analyst.client.get("/audit")
    assert everything.status_code == 200
    assert _actions(everything.text) == ["status", "claim", "status"]  # newest first
    assert f'<option value="{anna.staff.id}">anna</option>' in everything.text
    by_anna = await analyst.client.get(f"/audit?user={anna.staff.id}")
    assert _actions(by_anna.text) == ["claim", "status"]
    statuses = await analyst.client.get("/audit?action=status")
    assert _actions(statuses.text) == ["status", "status"]
    days = await analyst.client.get("/audit?since=2026-11-03&until=2026-11-04")
    assert _actions(days.text) == ["claim"]
    none = await analyst.client.get("/audit?action=nothing-like-this")
    assert "No entries match these filters." in none.text
    # Nothing to change here: no form posts anywhere on the page but the header's own.
    assert 'method="post" action="/audit' not in everything.text


async def test_pages_follow_the_cursor_and_bad_input_is_named(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reader = await desk_sign_in(Role.MODERATOR)
    await _entries(
        sessions,
        [("status", f"p{i}", None, datetime(2026, 11, 1, 9, i, tzinfo=UTC)) for i in range(55)],
    )
    first = await reader.client.get("/audit?action=status")
    assert len(_actions(first.text)) == 50
    older = re.search(r'href="(/audit\?[^"]*cursor=[^"]+)"', first.text)
    assert older, "a link to the older entries"
    second = await reader.client.get(older.group(1).replace("&amp;", "&"))
    assert len(_actions(second.text)) == 5
    assert "cursor=" not in re.sub(r'href="/audit\?[^"]*"', "", second.text)
    for query, words in (
        ("since=yesterday", "write a date as 2026-11-30"),
        ("since=2026-11-05&until=2026-11-01", "the last day comes before the first"),
        ("mention=abc", "write a whole number"),
        ("until=9999-12-31", "write a date as 2026-11-30"),
        ("user=99999999999999999999", "write a whole number"),
        ("cursor=garbage", "this page link is not valid any more"),
    ):
        answer = await reader.client.get(f"/audit?{query}")
        assert answer.status_code == 200, query
        assert words in answer.text, query
    dutch = await reader.client.get("/audit?since=gisteren", headers={"Accept-Language": "nl"})
    assert "schrijf een datum als 2026-11-30" in dutch.text


async def test_states_and_names_in_the_log_stay_text(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    reader = await desk_sign_in(Role.ANALYST)
    await _entries(sessions, [("status", XSS, None, datetime(2026, 11, 1, tzinfo=UTC))])
    page = await reader.client.get("/audit")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(" in page.text


def test_every_word_the_sources_digest_and_audit_templates_use_is_translated() -> None:
    from pathlib import Path

    from api.desk.i18n import catalogue

    texts = catalogue()
    templates = Path(__file__).parents[2] / "api/desk/templates"
    used: set[str] = set()
    for screen in ("sources", "digest", "audit"):
        for path in (templates / screen).glob("*.html"):
            used |= set(re.findall(r"\bt\('([a-z_.]+[a-z_])'", path.read_text(encoding="utf-8")))
    assert used, "the templates name their words"
    for lang in ("en", "nl"):
        assert used <= set(texts[lang]), (lang, sorted(used - set(texts[lang])))
    states = {"ok", "failing", "paused", "waiting", "unknown_kind"}
    assert {f"sources.state.{s}" for s in states} <= set(texts["nl"])
    from api.desk.screens.sources import DONE

    assert {f"sources.done.{d}" for d in DONE} <= set(texts["nl"])
    credentials = {"set", "env", "missing", "unreadable"}
    assert {f"sources.credentials.{c}" for c in credentials} <= set(texts["nl"])
