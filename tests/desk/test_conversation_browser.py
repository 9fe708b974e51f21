"""The conversation, reply and questions screens in Chromium, on the served demo.

Each test plants or picks its own items (the demo server is shared by every browser test).
"""

from __future__ import annotations

import asyncio
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from listener.db import make_engine, make_sessionmaker
from listener.models import Mention, OutboxMessage, Source, utcnow
from listener.sources.ingest import ingest_mentions
from tests.desk.browser import DeskServer, axe_violations, chromium
from tests.factories import mention

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("desk-browser")]

PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
JOOST_POST = "117457002168344005"  # a demo mention the sandbox knows (Joost's flat tyre)


async def _run(database_url: str, work: Any) -> Any:
    engine = make_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        for attempt in range(20):
            try:
                async with sessions() as session, session.begin():
                    return await work(session)
            except OperationalError as exc:  # the served app wrote first: SQLite says so at once
                if "locked" not in str(exc) or attempt == 19:
                    raise
                await asyncio.sleep(0.25)
    finally:
        await engine.dispose()


def db(server: DeskServer, work: Any) -> Any:
    """Run `work(session)` in one transaction on the served database (in a thread of its own:
    Playwright's sync API keeps an event loop running in this one)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _run(server.database_url, work)).result()


def plant(server: DeskServer, text: str, *, name: str = "Plant", html: str | None = None) -> int:
    """A new mention of our own on the demo's first Mastodon source; its id."""
    tag = os.urandom(4).hex()

    async def work(session: Any) -> int:
        source_id = (
            (
                await session.execute(
                    select(Source.id).where(Source.kind == "mastodon").order_by(Source.id)
                )
            )
            .scalars()
            .first()
        )
        item = mention(
            int.from_bytes(os.urandom(3), "big"),
            text=text,
            html=html,
            external_id=f"https://mastodon.example/users/plant/statuses/{tag}",
            url=f"https://mastodon.example/@plant/{tag}",
            author={
                "platform_id": f"plant-{tag}",
                "handle": f"@plant{tag}@mastodon.example",
                "display_name": name,
            },
            created_at=utcnow().isoformat(),
        )
        report = await ingest_mentions(session, [item], source_id=source_id)
        return int(report.new_mention_ids[0])

    return int(db(server, work))


def test_a_mention_carrying_script_payloads_stays_inert(desk_server: DeskServer) -> None:
    mention_id = plant(
        desk_server,
        f"Hi {PAYLOAD} javascript:alert(1)",
        name=f"Eve {PAYLOAD}",
        html=f'<p>Hi {PAYLOAD} <a href="javascript:alert(1)">click</a></p>',
    )
    with chromium(desk_server) as browser:
        page = browser.page("anna", path="/queue")
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(desk_server.url(f"/mentions/{mention_id}"))
        page.locator(".post.highlight").wait_for()
        page.keyboard.press("n")
        page.keyboard.type(PAYLOAD + " @bram")
        page.get_by_role("button", name="Add note").click()
        page.locator("mark.at", has_text="@bram").wait_for()
        page.reload()
        page.locator(".post.highlight").wait_for()
        page.wait_for_timeout(500)

        assert dialogs == []
        assert page.locator("main script, main img[onerror]").count() == 0
        assert page.locator('main a[href^="javascript"]').count() == 0
        assert "<script>alert(1)</script>" in page.locator(".note-body").first.inner_text()
        assert page.evaluate("typeof window.alert") == "function"  # never replaced, never run
    assert browser.outside == []


def test_reply_then_undo_inside_the_window(desk_server: DeskServer) -> None:
    mention_id = plant(desk_server, "Does the app log rides offline?", name="Ria")
    with chromium(desk_server) as browser:
        page = browser.page("anna", path=f"/mentions/{mention_id}")
        page.keyboard.press("r")
        box = page.locator("#reply-text")
        assert box.evaluate("el => el === document.activeElement")
        page.keyboard.type("Yes Ria 👨‍👩‍👧, offline rides sync later.")
        counter = page.locator("#reply-count")
        assert counter.inner_text() == f"{len('Yes Ria , offline rides sync later.') + 1} / 500"
        page.get_by_role("button", name="Send").click()
        countdown = page.locator(".countdown")
        countdown.wait_for()
        assert re.match(r"Sending in \d+ s", countdown.inner_text())
        page.get_by_role("button", name="Undo").click()
        page.get_by_text("Undone: the reply did not go out.").wait_for()
        page.locator(".reply-draft .chip", has_text="Draft").wait_for(timeout=20_000)
        assert page.locator(".countdown").count() == 0

    async def status(session: Any) -> list[str]:
        rows = await session.execute(
            select(OutboxMessage.status).where(OutboxMessage.mention_id == mention_id)
        )
        return list(rows.scalars())

    assert db(desk_server, status) == ["draft"]


def test_an_undo_lands_even_when_a_live_refresh_replaced_the_panel_meanwhile(
    desk_server: DeskServer,
) -> None:
    """A live refresh can swap the outbox panel while the Undo it holds is on its way: the undo's
    answer must show in the panel on the page, not in the one that was taken away."""
    mention_id = plant(desk_server, "Is there a night tariff?", name="Noor")
    with chromium(desk_server) as browser:
        page = browser.page("anna", path=f"/mentions/{mention_id}")
        page.keyboard.press("r")
        page.keyboard.type("Yes Noor, after 23:00.")
        page.get_by_role("button", name="Send").click()
        page.locator(".countdown").wait_for()
        # As the undo leaves, put a fresh copy of the panel in place of the one that sent it,
        # the way a live refresh answering at that moment does.
        page.evaluate(
            """() => document.addEventListener("htmx:beforeSend", (event) => {
                if (!event.detail.elt.matches('[hx-post$="/undo"]')) return;
                const old = document.getElementById("outbox-panel");
                const copy = old.cloneNode(true);
                old.replaceWith(copy);
                htmx.process(copy);
            }, {once: true})"""
        )
        page.get_by_role("button", name="Undo").click()
        page.get_by_text("Undone: the reply did not go out.").wait_for()
        page.locator(".reply-draft .chip", has_text="Draft").wait_for(timeout=5_000)
        assert page.locator(".countdown").count() == 0


def test_an_outbox_answer_read_before_a_newer_one_never_replaces_it(
    desk_server: DeskServer,
) -> None:
    """A live refresh that read the outbox before an undo committed can answer after the undo:
    the panel it brings (an older stamp) must not put the countdown back."""
    mention_id = plant(desk_server, "Can I rent a helmet at the dock?", name="Sem")
    panel = '<div id="outbox-panel" hx-swap-oob="true" data-stamp="{}"><p class="{}">x</p></div>'
    # Live refreshes from other activity may ask too: each gets the answer of the moment.
    answer = {"body": panel.format(1, "older")}
    # Refresh the panel and say, once htmx has handled the answer, what the panel shows.
    refresh = """() => new Promise(resolve => {
        // Only the outbox's own answer counts (live refreshes of other panels answer too).
        const done = (event) => {
            const path = (event.detail.pathInfo || {}).requestPath || "";
            if (!path.endsWith("/outbox")) return;
            document.body.removeEventListener("htmx:afterOnLoad", done);
            resolve(document.querySelector("#outbox-panel p") ?.className || "unchanged");
        };
        document.body.addEventListener("htmx:afterOnLoad", done);
        setTimeout(() => resolve("no answer"), 10000);
        htmx.trigger("#outbox-panel", "refresh");
    })"""
    with chromium(desk_server) as browser:
        page = browser.page("anna", path=f"/mentions/{mention_id}")
        page.locator("#outbox-panel").wait_for(state="attached")
        page.route(
            f"**/reply/{mention_id}/outbox",
            lambda route: route.fulfill(status=200, content_type="text/html", body=answer["body"]),
        )
        assert page.evaluate(refresh) == "unchanged"
        answer["body"] = panel.format(10**19, "newer")
        assert page.evaluate(refresh) == "newer"


def test_a_colleague_opening_the_mention_shows_up_within_two_seconds(
    desk_server: DeskServer,
) -> None:
    mention_id = plant(desk_server, "Who else is looking at this?", name="Piet")
    path = f"/mentions/{mention_id}"
    with chromium(desk_server) as browser:
        bram = browser.page("bram", path=path)
        bram.get_by_text("Nobody else is viewing this.").wait_for()
        bram.locator("body[data-live-state='open']").wait_for(state="attached")
        browser.page("anna", path=path).locator(".post.highlight").wait_for()
        bram.get_by_text("Anna is viewing").wait_for(timeout=2_000)


@pytest.mark.parametrize("locale", ["en-GB", "nl-NL"])
def test_conversation_and_questions_pages_have_no_serious_axe_violations(
    desk_server: DeskServer, locale: str
) -> None:
    mention_id = plant(desk_server, "Accessibility check: the route planner", name="Axel")
    with chromium(desk_server) as browser:
        page = browser.page("bram", locale=locale, path=f"/mentions/{mention_id}")
        page.locator(".post.highlight").wait_for()
        page.keyboard.press("1")  # a correction form open, too
        assert axe_violations(page) == []
        page.goto(desk_server.url("/questions"))
        assert page.locator("html").get_attribute("lang") == locale[:2]
        assert axe_violations(page) == []


def _close_undo_window(
    server: DeskServer, *, mention_id: int | None = None, question_id: int | None = None
) -> None:
    """Let our scheduled row leave now instead of after the 30-second undo window."""

    async def work(session: Any) -> None:
        mine = (
            OutboxMessage.mention_id == mention_id
            if mention_id is not None
            else OutboxMessage.question_id == question_id
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "scheduled", mine)
            .values(scheduled_at=utcnow())
        )

    db(server, work)


def test_a_reply_in_the_sandbox_is_sent_and_shows_as_sent_live(desk_server: DeskServer) -> None:
    async def find(session: Any) -> int | None:
        return (
            await session.execute(select(Mention.id).where(Mention.external_id == JOOST_POST))
        ).scalar_one_or_none()

    mention_id = db(desk_server, find)
    if mention_id is None:
        pytest.skip("the demo has no sandbox mention to answer")
    with chromium(desk_server) as browser:
        page = browser.page("bram", path=f"/mentions/{mention_id}")
        page.keyboard.press("r")
        page.keyboard.type("Sterkte Joost, de band is snel geplakt!")
        page.get_by_role("button", name="Send").click()
        page.locator(".countdown").wait_for()
        _close_undo_window(desk_server, mention_id=mention_id)
        sent = page.locator(".reply-sent", has_text="Sterkte Joost")
        sent.wait_for(timeout=20_000)
        assert sent.get_by_role("link", name="Open on the platform").count() == 1


def test_a_question_in_the_sandbox_gets_its_answers_live(desk_server: DeskServer) -> None:
    with chromium(desk_server) as browser:
        page = browser.page("bram", path="/questions")
        sources = page.locator("#ask-source option").all_inner_texts()
        sandbox = next((s for s in sources if s.endswith("(mastodon)")), None)
        if sandbox is None:
            pytest.skip("the demo has no Mastodon source to ask on")
        page.get_by_label("Where to ask").select_option(label=sandbox)
        page.keyboard.press("Escape")  # leave the select: keys work again
        page.keyboard.press("q")
        page.keyboard.type("Which route should the next bike lane take? #fietsbaan")
        page.get_by_role("button", name="Ask", exact=True).click()
        page.wait_for_url(re.compile(r"/questions/\d+$"))
        question_id = int(page.url.rsplit("/", 1)[1])
        _close_undo_window(desk_server, question_id=question_id)
        page.locator("#answers .answers li").first.wait_for(timeout=30_000)
        assert re.search(r"[1-9]\d* answers", page.locator("#answers").inner_text())
