"""The queue screen: what it lists and in which order, its filters, search, and every write
(claim, resolve, spam, snooze, bulk with undo) going through the queue's rules."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.desk.i18n import catalogue
from listener.models import Mention, MentionTopic, QueueItem, Role, Status, Topic, User
from listener.sources.ingest import ingest_mentions
from moderation.queue import claims, workflow
from tests.desk.conftest import SignIn
from tests.factories import mention
from tests.moderation.staff import staff_user

Sessions = async_sessionmaker[AsyncSession]
_ROW = re.compile(r'<tr data-row="(\d+)"')


async def _ingest(sessions: Sessions, *items: dict[str, Any]) -> list[int]:
    async with sessions() as session, session.begin():
        return (await ingest_mentions(session, list(items))).new_mention_ids


async def _set(sessions: Sessions, mention_id: int, **values: Any) -> None:
    """Put a queue item (and its mention's labels) in a known state."""
    mention_values = {k: values.pop(k) for k in ("intents", "sentiment_label") if k in values}
    async with sessions() as session, session.begin():
        if values:
            await session.execute(
                update(QueueItem).where(QueueItem.mention_id == mention_id).values(**values)
            )
        if mention_values:
            await session.execute(
                update(Mention).where(Mention.id == mention_id).values(**mention_values)
            )


def _priority(score: int, reason: str) -> dict[str, Any]:
    return {
        "priority": score,
        "priority_explain": {"score": score, "band": "high", "reason": reason, "factors": []},
    }


async def _item(sessions: Sessions, mention_id: int) -> QueueItem:
    async with sessions() as session:
        return await workflow.get_queue_item(session, mention_id=mention_id)


def _rows(html: str) -> list[int]:
    return [int(found) for found in _ROW.findall(html)]


@pytest.fixture
async def colleague(sessions: Sessions) -> User:
    async with sessions() as session, session.begin():
        user = await staff_user(session, "anna", Role.MODERATOR)
        user.display_name = "Anna"
        return user


async def test_the_queue_lists_waiting_mentions_by_priority_with_reasons_as_the_api_does(
    desk_sign_in: SignIn, sessions: Sessions
) -> None:
    low, high, middle, done = await _ingest(sessions, *(mention(n) for n in range(1, 5)))
    await _set(sessions, low, **_priority(10, "a quiet remark"))
    await _set(sessions, high, **_priority(80, "angry customer with 20k followers"))
    await _set(sessions, middle, **_priority(50, "a question about refunds"))
    await _set(sessions, done, status="resolved", **_priority(90, "already handled"))
    desk = await desk_sign_in(Role.MODERATOR)

    page = await desk.client.get("/queue")

    assert page.status_code == 200
    assert _rows(page.text) == [high, middle, low]
    assert "angry customer with 20k followers" in page.text
    assert "already handled" not in page.text
    api = await desk.client.get(
        "/api/v1/mentions",
        params={"sort": "priority", "status": ["new", "open", "escalated"]},
        headers=desk.staff.headers,
    )
    assert [item["id"] for item in api.json()["items"]] == _rows(page.text)
    every = await desk.client.get("/queue?status=all")
    assert _rows(every.text) == [done, high, middle, low]


async def test_filters_narrow_the_queue_and_a_bad_one_says_what_is_wrong(
    desk_sign_in: SignIn, sessions: Sessions
) -> None:
    question, complaint, dutch = await _ingest(
        sessions,
        mention(1),
        mention(2),
        mention(3, platform="reddit", source="reddit-test", language="nl"),
    )
    await _set(sessions, question, intents=["question"], sentiment_label="neutral")
    await _set(sessions, complaint, intents=["complaint"], sentiment_label="negative")
    desk = await desk_sign_in(Role.MODERATOR)

    assert _rows((await desk.client.get("/queue?intent=question")).text) == [question]
    assert _rows((await desk.client.get("/queue?sentiment=negative")).text) == [complaint]
    assert _rows((await desk.client.get("/queue?platform=reddit")).text) == [dutch]
    assert _rows((await desk.client.get("/queue?language=nl")).text) == [dutch]
    assert _rows((await desk.client.get("/queue?status=resolved")).text) == []

    bad = await desk.client.get("/queue?sentiment=furious")
    assert bad.status_code == 422
    assert "Choose positive, neutral or negative." in bad.text


async def test_claim_resolve_spam_and_snooze_change_the_item_and_answer_with_its_row(
    desk_sign_in: SignIn, sessions: Sessions
) -> None:
    first, second, third = await _ingest(sessions, *(mention(n) for n in range(1, 4)))
    desk = await desk_sign_in(Role.MODERATOR)
    client, headers = desk.client, desk.headers

    claimed = await client.post(f"/queue/{first}/claim", headers=headers)
    assert claimed.status_code == 200
    assert "claimed by you" in claimed.text
    assert "Claimed for 10 minutes." in claimed.text
    assert (await _item(sessions, first)).claimed_by == desk.staff.id
    released = await client.post(f"/queue/{first}/claim", headers=headers)
    assert "Claim released." in released.text
    assert (await _item(sessions, first)).claimed_by is None

    resolved = await client.post(
        f"/queue/{first}/status", data={"action": "resolve", "version": 1}, headers=headers
    )
    assert resolved.status_code == 200
    assert _rows(resolved.text) == [first]
    assert 'data-status="resolved"' in resolved.text
    assert (await _item(sessions, first)).status == Status.RESOLVED

    spam = await client.post(
        f"/queue/{second}/status", data={"action": "spam", "version": 1}, headers=headers
    )
    assert "Marked as spam." in spam.text
    assert (await _item(sessions, second)).status == Status.SPAM

    snoozed = await client.post(
        f"/queue/{third}/snooze", data={"until": "author", "version": 1}, headers=headers
    )
    assert "Snoozed until the author writes again." in snoozed.text
    item = await _item(sessions, third)
    assert (item.status, item.snooze_until_author) == (Status.SNOOZED, True)

    page = await client.get("/queue")
    assert _rows(page.text) == []  # nothing is waiting any more
    wrong = await client.post(
        f"/queue/{third}/snooze", data={"until": "forever", "version": 2}, headers=headers
    )
    assert "Snooze for an hour, until tomorrow or until the author writes." in wrong.text


async def test_a_stale_version_says_who_changed_it_and_shows_the_row_as_it_is_now(
    desk_sign_in: SignIn, sessions: Sessions, colleague: User
) -> None:
    (item_id,) = await _ingest(sessions, mention(1))
    desk = await desk_sign_in(Role.MODERATOR)
    page = await desk.client.get("/queue")
    assert 'data-version="1"' in page.text
    async with sessions() as session, session.begin():
        await workflow.change_status(
            session,
            mention_id=item_id,
            status=Status.ESCALATED,
            version=1,
            actor=colleague,
            actor_label="anna",
        )

    answer = await desk.client.post(
        f"/queue/{item_id}/status", data={"action": "resolve", "version": 1}, headers=desk.headers
    )

    assert answer.status_code == 200
    assert "Changed by Anna meanwhile; refreshed." in answer.text
    assert 'data-version="2"' in answer.text
    assert 'data-status="escalated"' in answer.text
    assert (await _item(sessions, item_id)).status == Status.ESCALATED


async def test_a_colleagues_claim_refuses_the_write_and_names_them(
    desk_sign_in: SignIn, sessions: Sessions, colleague: User
) -> None:
    (item_id,) = await _ingest(sessions, mention(1))
    async with sessions() as session, session.begin():
        await claims.claim_item(
            session, mention_id=item_id, actor=colleague, actor_label="anna", minutes=10
        )
    desk = await desk_sign_in(Role.MODERATOR)
    assert "claimed by Anna" in (await desk.client.get("/queue")).text

    answer = await desk.client.post(
        f"/queue/{item_id}/status", data={"action": "resolve", "version": 1}, headers=desk.headers
    )
    assert "Anna has claimed this item; nothing was changed." in answer.text
    taken = await desk.client.post(f"/queue/{item_id}/claim", headers=desk.headers)
    assert "Anna has claimed this item" in taken.text
    assert (await _item(sessions, item_id)).status == Status.NEW


async def test_bulk_resolve_shows_an_undo_toast_that_puts_everything_back(
    desk_sign_in: SignIn, sessions: Sessions
) -> None:
    first, second, third = await _ingest(sessions, *(mention(n) for n in range(1, 4)))
    desk = await desk_sign_in(Role.MODERATOR)

    answer = await desk.client.post(
        "/queue/bulk", data={"action": "resolve", "ids": [first, second]}, headers=desk.headers
    )

    assert answer.status_code == 200
    assert answer.headers["HX-Retarget"] == "#toasts"
    assert "Resolved 2; 0 skipped." in answer.text
    undo = re.search(r'hx-post="(/queue/bulk/\d+/undo)"', answer.text)
    assert undo, answer.text
    assert [(await _item(sessions, i)).status for i in (first, second, third)] == [
        "resolved",
        "resolved",
        "new",
    ]

    undone = await desk.client.post(undo.group(1), headers=desk.headers)
    assert "Undone: 2 restored" in undone.text
    assert [(await _item(sessions, i)).status for i in (first, second)] == ["new", "new"]
    again = await desk.client.post(undo.group(1), headers=desk.headers)
    assert "already undone" in again.text

    tagged = await desk.client.post(
        "/queue/bulk", data={"action": "tag", "ids": [third], "tag": "Refund"}, headers=desk.headers
    )
    assert "Tagged 1; 0 skipped." in tagged.text
    assert "#refund" in (await desk.client.get("/queue")).text
    nothing = await desk.client.post("/queue/bulk", data={"action": "spam"}, headers=desk.headers)
    assert "Select at least one mention first" in nothing.text


async def test_search_highlights_matches_and_a_script_in_a_mention_stays_text(
    desk_sign_in: SignIn, sessions: Sessions
) -> None:
    evil, other = await _ingest(
        sessions,
        mention(1, text="Fietsbaan kapot bij het station <script>alert(1)</script> echt"),
        mention(2, text="Alles prima vandaag"),
    )
    desk = await desk_sign_in(Role.MODERATOR)

    page = await desk.client.get("/queue", params={"q": "kapot"})

    assert _rows(page.text) == [evil]
    assert "<mark>kapot</mark>" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text
    plain = await desk.client.get("/queue")
    assert "<script>alert(1)" not in plain.text
    assert set(_rows(plain.text)) == {evil, other}
    assert "<mark>" not in plain.text


async def test_an_analyst_sees_no_write_controls_and_a_forged_write_is_refused(
    desk_sign_in: SignIn, sessions: Sessions
) -> None:
    (item_id,) = await _ingest(sessions, mention(1))
    desk = await desk_sign_in(Role.ANALYST)

    page = await desk.client.get("/queue")

    assert _rows(page.text) == [item_id]
    for control in ('data-key="c"', 'data-key="e"', "data-select", "/queue/bulk", 'data-key="r"'):
        assert control not in page.text
    forged = await desk.client.post(
        f"/queue/{item_id}/status", data={"action": "resolve", "version": 1}, headers=desk.headers
    )
    assert forged.status_code == 403
    bulk = await desk.client.post(
        "/queue/bulk", data={"action": "spam", "ids": [item_id]}, headers=desk.headers
    )
    assert bulk.status_code == 403
    assert (await _item(sessions, item_id)).status == Status.NEW


async def test_a_saved_view_keeps_the_filters_and_applies_them(
    desk_sign_in: SignIn, sessions: Sessions
) -> None:
    calm, angry = await _ingest(sessions, mention(1), mention(2))
    await _set(sessions, angry, sentiment_label="negative")
    desk = await desk_sign_in(Role.MODERATOR)

    saved = await desk.client.post(
        "/queue/views",
        data={"name": "Angry people", "sentiment": "negative", "csrf_token": desk.csrf},
    )

    assert saved.status_code == 303
    view_url = saved.headers["location"]
    page = await desk.client.get(view_url)
    assert "Angry people" in page.text
    assert _rows(page.text) == [angry]
    home = await desk.client.get("/queue")
    assert f'href="{view_url}"' in home.text
    assert set(_rows(home.text)) == {calm, angry}


async def test_live_refresh_and_pages_answer_with_rows(
    desk_sign_in: SignIn, sessions: Sessions
) -> None:
    ids = await _ingest(sessions, *(mention(n) for n in range(1, 4)))
    desk = await desk_sign_in(Role.MODERATOR)
    row = await desk.client.get(f"/queue/row/{ids[0]}", headers={"HX-Request": "true"})
    assert _rows(row.text) == [ids[0]]
    rows = await desk.client.get("/queue/rows", headers={"HX-Request": "true"})
    assert sorted(_rows(rows.text)) == sorted(ids)
    gone = await desk.client.get("/queue/rows?cursor=nonsense", headers={"HX-Request": "true"})
    assert gone.status_code == 400


def test_the_queue_speaks_english_and_dutch_with_the_same_words() -> None:
    texts = catalogue()
    english = {k for k in texts["en"] if k.startswith("queue.")}
    dutch = {k for k in texts["nl"] if k.startswith("queue.")}
    assert english == dutch
    assert texts["nl"]["queue.title"] == "Wachtrij"


async def test_the_query_box_narrows_the_queue_and_names_a_bad_column(
    desk_sign_in: SignIn, sessions: async_sessionmaker[AsyncSession]
) -> None:
    desk = await desk_sign_in(Role.MODERATOR)
    async with sessions() as session, session.begin():
        await ingest_mentions(
            session,
            [
                mention(9101, text="De app heeft weer een storing bij het station"),
                mention(9102, text="Lovely ride along the canal today"),
            ],
        )
    page = await desk.client.get("/queue", params={"query": "storing* AND NOT canal"})
    assert page.status_code == 200
    assert "weer een storing" in page.text
    assert "along the canal" not in page.text
    bad = await desk.client.get("/queue", params={"query": "(storing AND lang:"})
    assert bad.status_code == 422
    assert "column 19" in bad.text


async def test_topics_show_as_labels_in_the_readers_language_in_rows_and_filters(
    desk_sign_in: SignIn, sessions: Sessions
) -> None:
    [mid] = await _ingest(sessions, mention(1, text="De app geeft een storing"))
    async with sessions() as session, session.begin():
        topic = Topic(
            name="app_website",
            keywords={},
            labels={"en": "App and website", "nl": "App en website"},
        )
        session.add(topic)
        await session.flush()
        session.add(MentionTopic(mention_id=mid, topic_id=topic.id, spans=[]))
    desk = await desk_sign_in(Role.MODERATOR)

    dutch = (await desk.client.get("/queue", headers={"Accept-Language": "nl"})).text
    english = (await desk.client.get("/queue", headers={"Accept-Language": "en"})).text

    assert '<span class="chip chip-topic">App en website</span>' in dutch
    assert '<option value="app_website">App en website</option>' in dutch
    assert '<span class="chip chip-topic">App and website</span>' in english
    assert ">app_website<" not in dutch + english
