"""Sources, digest and audit in Chromium: no serious accessibility problem, in English and Dutch."""

from __future__ import annotations

import re

import pytest

from tests.desk.browser import DeskServer, axe_violations, chromium

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("desk-browser")]


def test_sources_digest_and_audit_pass_axe_in_both_languages(desk_server: DeskServer) -> None:
    with chromium(desk_server) as browser:
        for user, locale, words in (
            ("ops", "en-GB", ("Sources", "Weekly digest", "Audit log")),
            ("petra", "nl-NL", ("Bronnen", "Weekoverzicht", "Logboek")),
        ):
            page = browser.page(user, locale=locale, path="/sources")
            assert page.get_by_role("heading", level=1, name=words[0]).is_visible()
            problems = {"/sources": axe_violations(page)}
            first = page.locator("table.sources a[data-open]").first
            href = first.get_attribute("href")
            assert href and re.fullmatch(r"/sources/\d+", href)
            page.keyboard.press("j")  # the first row starts selected: j, k and back to it
            page.keyboard.press("k")
            page.keyboard.press("Enter")
            page.wait_for_url(f"**{href}")
            problems[href] = axe_violations(page)
            page.goto(desk_server.url("/digest"))
            assert page.get_by_role("heading", level=1, name=words[1]).is_visible()
            # A stored digest shows at once; otherwise the preview replaces the progress line.
            page.locator("article.digest").wait_for(timeout=60_000)
            for chart in page.locator("img.digest-chart").all():
                assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
            problems["/digest"] = axe_violations(page)
            page.goto(desk_server.url("/audit"))
            assert page.get_by_role("heading", level=1, name=words[2]).is_visible()
            problems["/audit"] = axe_violations(page)
            assert all(found == [] for found in problems.values()), (user, problems)
        assert not browser.console_errors, browser.console_errors
