"""The queue in Chromium: triage by keyboard alone, a colleague's claim arriving live, and no
accessibility violations in English and Dutch (nothing leaves 127.0.0.1: chromium() checks)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.desk.browser import PASSWORD, DeskServer, axe_violations, chromium

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("desk-browser")]


def _statuses(server: DeskServer, ids: list[int]) -> dict[int, str]:
    path = make_url(server.database_url).database
    assert path
    with sqlite3.connect(path) as db:
        marks = ",".join("?" * len(ids))
        rows = db.execute(
            f"SELECT mention_id, status FROM queue_items WHERE mention_id IN ({marks})", ids
        ).fetchall()
    return {int(m): str(s) for m, s in rows}


def _sign_in_by_keyboard(page: Any, server: DeskServer, user: str) -> None:
    page.goto(server.url("/queue"))
    page.wait_for_url("**/login**")
    # Chromium applies `autofocus` at its next rendering update, which can come after "load":
    # keys typed before it went nowhere, and a loaded CI machine signed in with a short name.
    page.locator("#username:focus").wait_for()
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.locator("#password:focus").wait_for()
    page.keyboard.type(PASSWORD)
    assert page.input_value("#username") == user
    assert page.input_value("#password") == PASSWORD
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)
    page.wait_for_selector("tr[data-row]")


def _selected(page: Any) -> int:
    return int(page.locator('[data-row][aria-selected="true"]').get_attribute("data-row"))


def _select(page: Any, mention_id: int) -> None:
    """Move the selection to a row with j and k."""
    order = [
        int(i)
        for i in page.locator("tr[data-row]").evaluate_all("rows => rows.map(r => r.dataset.row)")
    ]
    for _ in range(len(order) + 1):
        current = _selected(page)
        if current == mention_id:
            return
        page.keyboard.press("j" if order.index(current) < order.index(mention_id) else "k")
    raise AssertionError(f"could not select {mention_id}")


def _row(page: Any, mention_id: int) -> Any:
    return page.locator(f'tr[data-row="{mention_id}"]')


def _waiting_ids(page: Any) -> list[int]:
    return [
        int(i)
        for i in page.locator("tr[data-row]").evaluate_all(
            "rows => rows.filter(r => ['new', 'open', 'escalated'].includes(r.dataset.status)"
            " && !r.classList.contains('held')).map(r => r.dataset.row)"
        )
    ]


def _wait_for_status(page: Any, mention_id: int, status: str) -> None:
    """Wait for the row to show `status`; on a refusal, fail with the toast the user saw."""
    try:
        page.wait_for_selector(f'tr[data-row="{mention_id}"][data-status="{status}"]')
    except Exception as error:
        toasts = page.locator(".toast").all_inner_texts()
        raise AssertionError(f"row {mention_id} never showed {status}; toasts: {toasts}") from error


def test_triage_ten_items_by_keyboard_alone(desk_server: DeskServer) -> None:
    with chromium(desk_server) as browser:
        page = browser.context().new_page()
        _sign_in_by_keyboard(page, desk_server, "anna")
        waiting = _waiting_ids(page)
        assert len(waiting) >= 10, "the demo queue holds at least ten waiting items"
        # Earlier tests on this shared demo may have claimed or closed rows: each step moves
        # (with j and k) to the next row that was waiting and free when the page opened.
        plan = [
            "claim+resolve",
            "resolve",
            "spam",
            "snooze-hour",
            "snooze-author",
            "select",
            "select",
            "select",
            "resolve",
            "spam",
        ]
        done: dict[int, str] = {}
        for step, mention_id in zip(plan, waiting, strict=False):
            _select(page, mention_id)
            row = _row(page, mention_id)
            if step == "claim+resolve":
                page.keyboard.press("c")
                row.locator(".claim.mine").wait_for()
                page.keyboard.press("e")
                done[mention_id] = "resolved"
            elif step == "resolve":
                page.keyboard.press("e")
                done[mention_id] = "resolved"
            elif step == "spam":
                page.keyboard.press("#")
                done[mention_id] = "spam"
            elif step.startswith("snooze"):
                page.keyboard.press("s")
                page.keyboard.press("1" if step == "snooze-hour" else "3")
                done[mention_id] = "snoozed"
            else:
                page.keyboard.press("x")
                assert row.locator("input[data-select]").is_checked()
                done[mention_id] = "bulk"
            if step != "select":
                _wait_for_status(page, mention_id, done[mention_id])
        # e on a row that is resolved already says so, and leaves every other row alone.
        resolved_first = next(iter(done))
        _select(page, resolved_first)
        before = _statuses(desk_server, _waiting_ids(page))
        page.keyboard.press("e")
        page.locator(".toast", has_text="This one is resolved already").wait_for()
        assert _statuses(desk_server, list(before)) == before
        # The three ticked rows: resolved together with Shift+E, undone with u, resolved again.
        bulk = [m for m, s in done.items() if s == "bulk"]
        page.keyboard.press("Shift+E")
        page.locator(".toast", has_text="Resolved 3").wait_for()
        assert set(_statuses(desk_server, bulk).values()) == {"resolved"}
        page.keyboard.press("u")
        page.locator(".toast", has_text="Undone: 3 restored").wait_for()
        assert "resolved" not in set(_statuses(desk_server, bulk).values())
        for mention_id in bulk:
            done[mention_id] = "resolved"
        page.wait_for_selector(f'tr[data-row="{bulk[0]}"]')
        for mention_id in bulk:
            _select(page, mention_id)
            page.keyboard.press("x")
        page.keyboard.press("Shift+E")
        page.locator(".toast", has_text="Resolved 3").wait_for()

        assert _statuses(desk_server, list(done)) == done
        assert len(done) == 10

        page.keyboard.press("?")
        dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        dialog.wait_for()
        assert dialog.get_by_text("Claim or release").is_visible()
        page.keyboard.press("Escape")
        page.locator("#main").focus()  # leave the dialog's trigger: keys go to the list again
        page.keyboard.press("j")
        opened = _selected(page)
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/mentions/{opened}")
        assert not browser.console_errors, browser.console_errors


def test_a_key_pressed_the_moment_a_row_is_replaced_still_acts_on_it(
    desk_server: DeskServer,
) -> None:
    """htmx wires a swapped-in row's buttons only when it settles (20 ms later by default): a
    key pressed right after a claim's answer or a live refresh must not be lost."""
    with chromium(desk_server) as browser:
        page = browser.page("anna", path="/queue")
        mention_id = _waiting_ids(page)[-2]
        _select(page, mention_id)
        # The row is replaced as an answer replaces it (with the desk's settle delay), and e
        # arrives as the very next event, as a keypress right after the swap would.
        page.evaluate(
            """id => {
                const row = document.querySelector(`tr[data-row="${id}"]`);
                const delay = htmx.config.defaultSettleDelay;
                htmx.swap(row, row.outerHTML, {swapStyle: "outerHTML", settleDelay: delay});
                setTimeout(() => document.dispatchEvent(
                    new KeyboardEvent("keydown", {key: "e", bubbles: true})), 0);
            }""",
            mention_id,
        )
        _wait_for_status(page, mention_id, "resolved")
        assert _statuses(desk_server, [mention_id])[mention_id] == "resolved"


def test_a_colleagues_claim_arrives_live_and_writing_over_it_is_refused(
    desk_server: DeskServer,
) -> None:
    with chromium(desk_server) as browser:
        anna = browser.page("anna", path="/queue")
        bram = browser.page("bram", path="/queue")
        mention_id = _waiting_ids(anna)[-1]
        assert mention_id in _waiting_ids(bram)
        bram.locator("body[data-live-state='open']").wait_for(state="attached")
        _row(bram, mention_id).locator("td.sla").click()

        claimed = _row(anna, mention_id).locator("[data-key=c]")
        claimed.click()
        _row(anna, mention_id).locator(".claim.mine").wait_for()
        started = time.monotonic()
        _row(bram, mention_id).get_by_text("claimed by Anna").wait_for(timeout=2000)
        assert time.monotonic() - started < 2

        bram.keyboard.press("e")
        toast = bram.locator(".toast-error", has_text="Anna has claimed this item")
        toast.wait_for()
        assert _statuses(desk_server, [mention_id])[mention_id] != "resolved"
        assert "/queue" in bram.url  # no reload happened: the same page got the news


@pytest.mark.parametrize(
    ("user", "locale", "dialog_name"),
    [
        ("anna", "en-GB", "Keyboard shortcuts"),
        ("bram", "nl-NL", "Sneltoetsen"),
    ],
)
def test_the_queue_has_no_accessibility_violations(
    desk_server: DeskServer, user: str, locale: str, dialog_name: str
) -> None:
    with chromium(desk_server) as browser:
        page = browser.page(user, locale=locale, path="/queue")
        assert axe_violations(page) == []
        page.keyboard.press("j")
        page.keyboard.press("s")
        assert axe_violations(page) == []
        page.keyboard.press("Escape")
        page.keyboard.press("?")
        page.get_by_role("dialog", name=dialog_name).wait_for()
        assert axe_violations(page) == []
