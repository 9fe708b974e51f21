"""`/docs` renders in headless Chromium from a real `luister serve`, with no request leaving
127.0.0.1: Swagger UI's assets come from the app itself.

Playwright for Python drives Debian's chromium (`apt-get install chromium`; never
`playwright install`, which downloads a browser). Without chromium the test is skipped, except
under CI=true, where it fails (.ci/run installs chromium first).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from listener import migrate
from tests.connectors.servers import free_port
from tests.test_processes import _base_env, _wait_until_healthy, running

pytestmark = pytest.mark.slow

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("LUISTER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _need_chromium() -> None:
    found = Path(CHROMIUM).exists() or shutil.which(CHROMIUM)
    if found:
        return
    message = f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if IN_CI:
        pytest.fail(f"{message}; under CI=true the browser test must run")
    pytest.skip(message)


def test_docs_render_offline_in_chromium(tmp_path: Path) -> None:
    _need_chromium()
    try:
        from playwright import sync_api as playwright_api
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is not installed (pip install -e '.[dev]')")
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")

    database_url = f"sqlite+aiosqlite:///{tmp_path / 'luister.db'}"
    migrate.upgrade(database_url)
    port = free_port()
    env = _base_env(tmp_path, database_url) | {"LUISTER_RUN_JOBS": "false"}
    with running(
        "serve", "--host", "127.0.0.1", "--port", str(port), env=env, cwd=tmp_path
    ) as server:
        base = f"http://127.0.0.1:{port}"
        _wait_until_healthy(server, f"{base}/healthz")
        requested: list[str] = []
        failed: list[str] = []
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page()
                page.on("request", lambda request: requested.append(request.url))
                page.on("requestfailed", lambda request: failed.append(request.url))
                page.goto(f"{base}/docs", wait_until="networkidle")
                title = page.locator(".swagger-ui .info .title")
                title.wait_for(timeout=30_000)
                assert "Luister" in title.inner_text()
                # The operations are listed, and they name their scope.
                page.locator(".opblock").first.wait_for(timeout=30_000)
                # Swagger UI renders a long list virtually (only what is near the viewport):
                # scroll to the end, gathering the operations that appear on the way.
                seen: set[str] = set()
                for _ in range(200):
                    seen.update(
                        page.eval_on_selector_all(
                            ".opblock-summary-path",
                            "nodes => nodes.map(n => n.getAttribute('data-path'))",
                        )
                    )
                    if "/metrics" in seen:
                        break
                    page.mouse.wheel(0, 600)
                    page.wait_for_timeout(50)
                assert len(seen) > 50, sorted(seen)
                assert "/metrics" in seen  # the last operation: the list was walked through
            finally:
                browser.close()
        server.stop()

    assert requested, "the page made no request at all"
    outside = [url for url in requested if urlsplit(url).hostname != "127.0.0.1"]
    assert not outside, outside
    assert not failed, failed
    assert f"{base}/openapi.json" in requested
    assert f"{base}/docs/assets/swagger-ui-bundle.js" in requested
