"""The desk in Chromium: signing in, shortcuts, accessibility; nothing leaves 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.desk.browser import DeskServer, axe_violations, chromium

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("desk-browser")]


def test_sign_in_by_keyboard_and_see_the_shortcuts(desk_server: DeskServer) -> None:
    with chromium(desk_server) as browser:
        page = browser.page()
        assert "/login" in page.url
        assert axe_violations(page) == []
        page.keyboard.type("anna")
        page.keyboard.press("Tab")
        page.keyboard.type("correct horse battery")
        page.keyboard.press("Enter")
        page.wait_for_url("**/queue")
        page.keyboard.press("?")
        dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
        dialog.wait_for()
        assert dialog.is_visible()
        assert axe_violations(page) == []
        page.keyboard.press("Escape")
        assert not dialog.is_visible()


def test_dutch_interface_for_a_dutch_browser(desk_server: DeskServer) -> None:
    with chromium(desk_server) as browser:
        page = browser.page("bram", locale="nl-NL", path="/queue")
        assert page.locator("html").get_attribute("lang") == "nl"
        assert page.get_by_role("link", name="Wachtrij").is_visible()
        assert axe_violations(page) == []
