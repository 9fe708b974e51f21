"""Screenshots of every desk screen in English and Dutch, for docs/DESK.md.

    python -m scripts.desk_screenshots            # all screens, both languages
    python -m scripts.desk_screenshots sources    # only the screens named

It builds the demo database in a temporary directory (`luister demo --no-serve`, the same
server the browser tests use: tests/desk/browser.py), serves it on a loopback port, and drives
Debian's chromium through Playwright (set LUISTER_TEST_CHROMIUM if it lives elsewhere). Every
request a page makes must stay on 127.0.0.1; the run fails otherwise. The PNGs land in
docs/screens/<screen>-<lang>.png.

`SCREENS` below is the one list of what is shot: add a screen there and it is shot in both
languages. A top-level desk page that no screen covers is reported at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screens"
#: The languages shot, with the browser locale that asks for each.
LANGUAGES = {"en": "en-GB", "nl": "nl-NL"}
VIEWPORT = {"width": 1280, "height": 800}

Page = Any  # playwright.sync_api.Page, imported lazily (the script runs without it to --list)


def _first_queue_item(page: Page, base: str) -> str:
    """The conversation of the first mention in the queue (a demo mention)."""
    page.goto(f"{base}/queue")
    link = page.locator("[data-keylist] [data-row] a[data-open]").first
    link.wait_for(timeout=15_000)
    href = link.get_attribute("href")
    if not href:
        raise RuntimeError("the demo queue shows no mention to open")
    return str(href)


def _first_source(page: Page, base: str) -> str:
    """The page of a healthy source (else the first one)."""
    page.goto(f"{base}/sources")
    healthy = page.locator("table.sources tr:has(.chip-ok) a[data-open]")
    link = healthy if healthy.count() else page.locator("table.sources a[data-open]")
    href = link.first.get_attribute("href")
    if not href:
        raise RuntimeError("the demo has no source")
    return str(href)


def _first_incident(page: Page, base: str) -> str:
    """The first incident (the list itself when the demo has none)."""
    page.goto(f"{base}/incidents?status=all")
    link = page.locator("[data-keylist] a[data-open]")
    href = link.first.get_attribute("href") if link.count() else None
    return str(href or "/incidents")


def _settle(page: Page) -> None:
    """Let htmx finish what the page asked for on load."""
    page.wait_for_load_state("networkidle")


def _digest_ready(page: Page) -> None:
    page.locator("article.digest").wait_for(timeout=120_000)
    _settle(page)


def _open_shortcuts(page: Page) -> None:
    _settle(page)
    page.locator("body").press("?")
    page.locator("#shortcuts-dialog[open]").wait_for()


def _reply_part(page: Page) -> None:
    _settle(page)
    page.locator("#reply").scroll_into_view_if_needed()


@dataclass(frozen=True)
class Screen:
    """One picture: where to go, as whom, what to do first, and what to shoot."""

    name: str
    path: str | Callable[[Page, str], str]
    user: str | None = "anna"
    prepare: Callable[[Page], None] = _settle
    element: str | None = None  # shoot only this element; else the full page


#: Every screen of the desk, in the order docs/DESK.md shows them.
SCREENS: tuple[Screen, ...] = (
    Screen("login", "/login", user=None),
    Screen("queue", "/queue"),
    Screen("conversation", _first_queue_item),
    Screen("reply", _first_queue_item, prepare=_reply_part, element="#reply"),
    Screen("incidents", "/incidents?status=all"),
    Screen("incident", _first_incident),
    Screen("questions", "/questions"),
    Screen("sources", "/sources", user="ops"),
    Screen("source", _first_source, user="ops"),
    Screen("digest", "/digest", prepare=_digest_ready),
    Screen("audit", "/audit", user="ops"),
    Screen("shortcuts", "/queue", prepare=_open_shortcuts),
)


def uncovered_pages() -> list[str]:
    """Top-level desk pages (GET /<name>) that no screen visits."""
    from api.desk.app import DESK_ROUTERS

    shot = {s.path.split("?")[0] for s in SCREENS if isinstance(s.path, str)}
    found = []
    for router in DESK_ROUTERS:
        for route in router.routes:
            path = getattr(route, "path", "")
            methods: set[str] = getattr(route, "methods", None) or set()
            if "GET" in methods and path.count("/") == 1 and path not in shot | {"/", "/live"}:
                found.append(path)
    return sorted(set(found))


def shoot(names: list[str] | None = None) -> list[Path]:
    """Serve the demo and take every screen (or those named) in every language."""
    sys.path.insert(0, str(ROOT))
    from tests.desk.browser import chromium, serve_demo

    chosen = [s for s in SCREENS if not names or s.name in names]
    unknown = set(names or []) - {s.name for s in SCREENS}
    if unknown:
        raise SystemExit(f"unknown screen(s): {', '.join(sorted(unknown))}; see --list")
    OUT.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with (
        tempfile.TemporaryDirectory(prefix="luister-shots-") as tmp,
        serve_demo(Path(tmp)) as server,
        chromium(server) as browser,
    ):
        for lang, locale in LANGUAGES.items():
            signed_in: dict[str | None, Page] = {}  # one sign-in per person and language
            for screen in chosen:
                page = signed_in.get(screen.user)
                if page is None:
                    page = browser.page(screen.user, locale=locale, path="/queue")
                    page.set_viewport_size(VIEWPORT)
                    if screen.user is not None:
                        signed_in[screen.user] = page
                path = screen.path
                target = path if isinstance(path, str) else path(page, server.base)
                page.goto(server.url(target))
                screen.prepare(page)
                out = OUT / f"{screen.name}-{lang}.png"
                if screen.element and page.locator(screen.element).count():
                    page.locator(screen.element).first.screenshot(path=str(out))
                else:
                    page.screenshot(path=str(out), full_page=True)
                if screen.user is None:
                    page.context.close()
                written.append(out)
                print(f"  {out.relative_to(ROOT)}", flush=True)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("screens", nargs="*", help="only these screens (default: all)")
    parser.add_argument("--list", action="store_true", help="list the screens and exit")
    args = parser.parse_args(argv)
    if args.list:
        for s in SCREENS:
            print(s.name)
        return 0
    written = shoot(args.screens or None)
    print(f"{len(written)} screenshots in {OUT.relative_to(ROOT)}/")
    missing = uncovered_pages()
    if missing:
        print(f"desk pages no screen covers (add them to SCREENS): {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
