"""A real desk in a real browser: `luister serve` on the demo database, driven by Chromium.

Playwright for Python drives Debian's chromium (`apt-get install chromium`; never
`playwright install`). Without chromium the browser tests are skipped, except under CI=true,
where they fail (.ci/run installs chromium first).

`DeskServer` is one process for a whole test session (built by the `desk_server` fixture in
tests/desk/conftest.py): the demo database (`luister demo --no-serve`) with three people added,
served on a free loopback port. `Browser.page(user)` signs a person in through the login form
in a fresh browser context. Every request any page makes is recorded; one to anything but
127.0.0.1 is aborted and kept in `outside`, which the tests assert empty. `axe_violations`
runs axe-core (vendored in tests/desk/vendor from the npm registry) on the page.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from listener.accounts.service import create_user
from listener.db import make_engine, make_sessionmaker
from listener.models import Role
from tests.connectors.servers import free_port
from tests.test_processes import Process, _base_env, _wait_until_healthy, running

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("LUISTER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PASSWORD = "correct horse battery"
#: The people the browser tests sign in as: two moderators and an analyst (admin is the demo's).
PEOPLE = {"anna": Role.MODERATOR, "bram": Role.MODERATOR, "petra": Role.ANALYST, "ops": Role.ADMIN}


def need_browser() -> Any:
    """Playwright's sync API, or skip (fail under CI=true) when it or chromium is missing."""
    found = Path(CHROMIUM).exists() or shutil.which(CHROMIUM)
    if not found:
        message = f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(f"{message}; under CI=true the browser tests must run")
        pytest.skip(message)
    try:
        from playwright import sync_api
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is not installed (pip install -e '.[dev]')")
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    return sync_api


async def _add_people(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            for name, role in PEOPLE.items():
                await create_user(
                    session, username=name, password=PASSWORD, role=role, display_name=name.title()
                )
    finally:
        await engine.dispose()


@dataclass
class DeskServer:
    """`luister serve` on a demo database, and where it answers."""

    base: str
    database_url: str
    tmp: Path
    env: dict[str, str]
    process: Process

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `luister …` against the same database."""
        return subprocess.run(
            [sys.executable, "-m", "api", *args],
            env=self.env,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )


@contextmanager
def serve_demo(tmp: Path, *, extra_env: dict[str, str] | None = None) -> Iterator[DeskServer]:
    """Build the demo database in `tmp`, add PEOPLE, and serve it until the block ends."""
    db = tmp / "luister-demo.db"
    database_url = f"sqlite+aiosqlite:///{db}"
    env = _base_env(tmp, database_url) | (extra_env or {})
    built = subprocess.run(
        [sys.executable, "-m", "api", "demo", "--no-serve", "--db", str(db)],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    asyncio.run(_add_people(database_url))
    port = free_port()
    with running("serve", "--host", "127.0.0.1", "--port", str(port), env=env, cwd=tmp) as server:
        base = f"http://127.0.0.1:{port}"
        _wait_until_healthy(server, f"{base}/healthz")
        try:
            yield DeskServer(base=base, database_url=database_url, tmp=tmp, env=env, process=server)
        finally:
            server.stop()


@dataclass
class Browser:
    """One Chromium for a test; each `page(user)` is a new context (its own cookies)."""

    server: DeskServer
    browser: Any
    requested: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def _guard(self, route: Any) -> None:
        url = route.request.url
        self.requested.append(url)
        host = urlsplit(url).hostname
        if host in ("127.0.0.1", "::1") or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def context(self, *, locale: str = "en-GB", bypass_csp: bool = False) -> Any:
        context = self.browser.new_context(locale=locale, bypass_csp=bypass_csp)
        context.route("**/*", self._guard)
        self.contexts.append(context)
        return context

    def page(self, user: str | None = None, *, locale: str = "en-GB", path: str = "/") -> Any:
        """A page signed in as `user` (or not signed in), at `path`."""
        page = self.context(locale=locale).new_page()
        page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        if user is None:
            page.goto(self.server.url(path))
            return page
        page.goto(self.server.url(f"/login?next={path}"))
        page.get_by_label("Username" if locale.startswith("en") else "Gebruikersnaam").fill(user)
        page.get_by_label("Password" if locale.startswith("en") else "Wachtwoord").fill(PASSWORD)
        submit = "Sign in" if locale.startswith("en") else "Aanmelden"
        page.get_by_role("button", name=submit).click()
        page.wait_for_url(lambda url: "/login" not in url)
        return page


@contextmanager
def chromium(server: DeskServer) -> Iterator[Browser]:
    """Chromium for one test; afterwards, no request may have left 127.0.0.1."""
    sync_api = need_browser()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        browser = Browser(server=server, browser=launched)
        out, err = len(server.process.stdout), len(server.process.stderr)
        try:
            yield browser
        except BaseException:
            # What the shared server logged during this test (its requests with their status,
            # any traceback) is printed, so pytest shows it beside the failure.
            lines = server.process.stdout[out:] + server.process.stderr[err:]
            print("desk server during this test:\n" + "".join(lines[-120:]))
            raise
        finally:
            launched.close()
    assert not browser.outside, f"requests left 127.0.0.1: {browser.outside}"


def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of `impacts` on the page as it is now, one line each."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))
            }));
        }"""
    )
    return [
        f"{item['impact']}: {item['id']} ({item['help']}) at {item['nodes']}"
        for item in found
        if item["impact"] in impacts
    ]
