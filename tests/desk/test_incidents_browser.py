"""Incidents in Chromium on the demo (which detects its incidents when it is built): opened by
keyboard, previewed, and free of serious accessibility problems in English and Dutch."""

from __future__ import annotations

import re

import pytest

from tests.desk.browser import DeskServer, axe_violations, chromium

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("desk-browser")]


def test_incidents_open_by_keyboard_and_pass_axe_in_both_languages(
    desk_server: DeskServer,
) -> None:
    with chromium(desk_server) as browser:
        for user, locale, words in (
            ("anna", "en-GB", ("Incidents", "Answer everyone", "Preview", "authors will get")),
            (
                "bram",
                "nl-NL",
                ("Incidenten", "Iedereen beantwoorden", "Voorbeeld", "auteurs krijgen"),
            ),
        ):
            page = browser.page(user, locale=locale, path="/incidents?status=all")
            assert page.get_by_role("heading", level=1, name=words[0]).is_visible()
            problems = {"/incidents": axe_violations(page)}
            first = page.locator("#incident-rows a[data-open]").first
            href = first.get_attribute("href")
            assert href and re.fullmatch(r"/incidents/\d+", href)
            page.keyboard.press("j")  # the first row starts selected: j, k and back to it
            page.keyboard.press("k")
            page.keyboard.press("Enter")
            page.wait_for_url(f"**{href}")
            assert page.locator("#incident-members a[data-open]").count() > 0
            assert page.get_by_role("heading", level=2, name=words[1]).is_visible()
            problems[href] = axe_violations(page)
            # The preview is read-only: the shared demo server keeps its outbox as it was.
            page.keyboard.press("w")
            page.keyboard.type("Hi {{author_name}}, thank you for your patience.")
            page.get_by_role("button", name=words[2], exact=True).click()
            page.locator("#answer-preview .incident-preview").wait_for()
            assert words[3] in page.locator("#answer-preview").inner_text()
            problems[href + " (preview)"] = axe_violations(page)
            assert all(found == [] for found in problems.values()), (user, problems)

        analyst = browser.page("petra", locale="nl-NL", path="/incidents?status=all")
        analyst.locator("#incident-rows a[data-open]").first.click()
        analyst.wait_for_url(re.compile(r".*/incidents/\d+$"))
        assert analyst.locator("main textarea, main [hx-post]").count() == 0
        assert axe_violations(analyst) == []
        assert not browser.console_errors, browser.console_errors
        assert not browser.outside, browser.outside
