"""`make run`'s command end to end: a fresh demo database served with the printed token."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, attempts: int = 300) -> None:
    for _ in range(attempts):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


@pytest.mark.slow
def test_demo_serves_the_samples_to_the_printed_token(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    env["LUISTER_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api",
            "demo",
            "--db",
            str(tmp_path / "demo.db"),
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = ""
        # readline blocks until the next line; the banner is a few dozen lines at most.
        for _ in range(200):
            if "API token" in banner:
                break
            line = process.stdout.readline()
            if not line:
                break
            banner += line
        token_match = re.search(r"API token\s+:\s+(lst_\w+)", banner)
        login_match = re.search(r"admin login\s+:\s+admin / (\S+)", banner)
        assert token_match and login_match, banner
        loaded = int(re.search(r"(\d+) sample mentions", banner).group(1))  # type: ignore[union-attr]
        assert loaded >= 300
        # The share-of-voice subjects the demo compares, in one line.
        assert (
            "  voice       : share of voice of Fietsbaan (brand), Velomax (competitor), "
            "Groene Fiets (competitor)\n" in banner
        ), banner

        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/healthz")
        headers = {"Authorization": f"Bearer {token_match.group(1)}"}
        page = httpx.get(f"{base}/api/v1/mentions?limit=20", headers=headers, timeout=10)
        assert page.status_code == 200
        assert len(page.json()["items"]) == 20
        anonymous = httpx.get(f"{base}/api/v1/mentions", timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        login = httpx.post(
            f"{base}/api/v1/auth/login",
            json={"username": "admin", "password": login_match.group(1)},
            timeout=10,
        )
        assert login.status_code == 201
        # The banner sends people to the desk, where the printed password signs them in.
        assert re.search(rf"the desk\s+:\s+{re.escape(base)}/\s", banner), banner
        with httpx.Client(base_url=base, timeout=10) as browser:
            form = browser.get("/", follow_redirects=True)
            assert '<label for="password">Password</label>' in form.text
            signed_in = browser.post(
                "/login",
                data={"username": "admin", "password": login_match.group(1), "next": "/queue"},
                follow_redirects=True,
            )
            assert signed_in.status_code == 200
            assert str(signed_in.url) == f"{base}/queue"
            assert "data-keylist" in signed_in.text  # the queue's rows, ready for j/k
    finally:
        process.terminate()
        process.wait(timeout=30)
