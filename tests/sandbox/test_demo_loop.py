"""`make run`'s demo closes the loop offline: a reply, a like and a question go out to the
sandbox and the answers come back within seconds; the command line works with the printed
exports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.test_demo import _free_port, _wait_for


def _banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    banner = ""
    for _ in range(200):
        line = process.stdout.readline()
        if not line:
            break
        banner += line
        if "LUISTER_DATA_DIR" in line:
            break
    return banner


def _until(check: object, within: float) -> object:
    deadline = time.monotonic() + within
    while True:
        found = check()  # type: ignore[operator]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


@pytest.mark.slow
def test_the_demo_replies_likes_and_hears_answers_in_its_sandbox(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    env |= {"LUISTER_DATA_DIR": str(tmp_path / "data"), "LUISTER_OUTBOX_UNDO_SECONDS": "0"}
    errors = (tmp_path / "stderr.txt").open("w")
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
        stderr=errors,
        text=True,
    )
    try:
        banner = _banner(process)
        token = re.search(r"API token\s+:\s+(lst_\w+)", banner)
        exports = dict(re.findall(r"export (LUISTER_\w+)=(\S+)", banner))
        assert token and set(exports) == {"LUISTER_DATABASE_URL", "LUISTER_DATA_DIR"}, banner
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/healthz")
        sandbox = re.search(
            r"Sandbox platform \(Mastodon\) on (http://127\.0\.0\.1:\d+)", _text(tmp_path)
        )
        assert sandbox, _text(tmp_path)
        api = httpx.Client(
            base_url=f"{base}/api/v1",
            headers={"Authorization": f"Bearer {token.group(1)}"},
            timeout=30,
        )
        mentions = api.get("/mentions", params={"platform": "mastodon", "limit": 50}).json()
        ours = "@fietsbaan@mastodon.example"
        heard = [m for m in mentions["items"] if m["author"]["handle"] != ours]
        [target, other] = heard[:2]

        reply = api.post(
            f"/mentions/{target['id']}/replies", json={"body": "Thanks for sharing!", "send": True}
        )
        like = api.post(f"/mentions/{target['id']}/appreciations", json={"action": "like"})
        question = api.post(
            "/questions",
            json={"mention_id": other["id"], "body": "What would make your rides better?"},
        )
        assert reply.status_code == 201, reply.text
        assert like.status_code == 201, like.text
        assert question.status_code == 201, question.text
        started = time.monotonic()

        def _sent() -> bool:
            return api.get(f"/replies/{reply.json()['id']}").json()["status"] == "sent"

        def _answers() -> list[object]:
            view = api.get(f"/questions/{question.json()['question']['id']}").json()
            return list(view["answers"])

        assert _until(_sent, 30)
        answers = _until(_answers, 30)
        heard_after = time.monotonic() - started
        page = httpx.get(sandbox.group(1), timeout=10).text

        assert answers, "no answer heard"
        assert heard_after < 30
        assert "Thanks for sharing!" in page  # the sandbox has our reply

        cli_env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")} | exports
        digest = subprocess.run(
            [sys.executable, "-m", "api", "digest", "build", "--week", "2026-W47"],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        poll = subprocess.run(
            [sys.executable, "-m", "api", "sources", "poll", "2"],
            cwd=tmp_path,
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert digest.returncode == 0, digest.stderr
        assert "# Listening digest 2026-W47" in digest.stdout
        assert poll.returncode == 0, poll.stderr
    finally:
        process.terminate()
        process.wait(timeout=30)
        errors.close()


def _text(tmp_path: Path) -> str:
    return (tmp_path / "stderr.txt").read_text()
