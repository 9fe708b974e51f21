"""Real `luister serve` and `luister worker` processes: start-up, HTTP, clean shutdown.

The API tests run the app in-process; these start the ways in as an operator does, so the
lifespan (embedded runner, pools) and the signal handling are exercised too.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from listener import migrate
from listener.accounts.service import create_token, create_user
from listener.db import make_engine, make_sessionmaker
from listener.models import Role
from listener.settings import Settings
from listener.sources.ingest import ingest_mentions
from tests.conftest import TEST_SECRET
from tests.connectors.servers import free_port
from tests.factories import mention

PASSWORD = "correct horse battery"
# Bounds on attempts, not on the machine's speed: 600 x 0.2 s covers a slow start-up.
START_ATTEMPTS = 600
SHUTDOWN_SECONDS = 30


@dataclass
class Process:
    """A running `luister` command whose output is collected by reader threads."""

    popen: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.stdout) + "".join(self.stderr)

    def stop(self) -> int:
        """SIGTERM, then the exit code (killed after SHUTDOWN_SECONDS)."""
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=SHUTDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(f"no exit within {SHUTDOWN_SECONDS} s of SIGTERM") from None


def _drain(stream: object, into: list[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        into.append(line)


@contextmanager
def running(*args: str, env: dict[str, str], cwd: Path) -> Iterator[Process]:
    """Run `python -m api ARGS`; killed on the way out if the block did not stop it."""
    popen = subprocess.Popen(
        [sys.executable, "-m", "api", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process = Process(popen)
    for stream, into in ((popen.stdout, process.stdout), (popen.stderr, process.stderr)):
        threading.Thread(target=_drain, args=(stream, into), daemon=True).start()
    try:
        yield process
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait()


def _base_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_")}
    return env | {
        "LUISTER_DATABASE_URL": database_url,
        "LUISTER_DATA_DIR": str(tmp_path / "data"),
        "LUISTER_SECRET_KEY": TEST_SECRET,
    }


async def _seed(database_url: str) -> str:
    """An admin with a password and a token, and one mention; returns the token."""
    engine = make_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            user = await create_user(session, username="ops", password=PASSWORD, role=Role.ADMIN)
            key = Settings(secret_key=TEST_SECRET).secret_bytes()
            issued = await create_token(session, user=user, name="process-test", key=key)
            await ingest_mentions(session, [mention(1, text="Is the app down again?")])
        return issued.token
    finally:
        await engine.dispose()


def _wait_until_healthy(process: Process, url: str) -> None:
    for _ in range(START_ATTEMPTS):
        if process.popen.poll() is not None:
            raise AssertionError(f"exited with {process.popen.returncode}:\n{process.output()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered:\n{process.output()}")


@dataclass
class Lifecycle:
    """What one process did from start to SIGTERM: HTTP answers, exit code, its stderr."""

    answers: dict[str, httpx.Response]
    exit_code: int
    stderr: str
    output: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    """Migrate a SQLite database, serve it, drive it over HTTP, then SIGTERM."""
    tmp_path = tmp_path_factory.mktemp("serve")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'luister.db'}"
    migrate.upgrade(database_url)
    token = asyncio.run(_seed(database_url))
    port = free_port()
    with running("serve", "--host", "127.0.0.1", "--port", str(port),
                 env=_base_env(tmp_path, database_url), cwd=tmp_path) as server:  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        _wait_until_healthy(server, f"{base}/healthz")
        bearer = {"Authorization": f"Bearer {token}"}
        answers = {
            "readyz": httpx.get(f"{base}/readyz", timeout=10),
            "login": httpx.post(
                f"{base}/api/v1/auth/login",
                json={"username": "ops", "password": PASSWORD},
                timeout=10,
            ),
            "mentions": httpx.get(f"{base}/api/v1/mentions", headers=bearer, timeout=10),
            "anonymous": httpx.get(f"{base}/api/v1/mentions", timeout=10),
        }
        code = server.stop()
        return Lifecycle(answers, code, "".join(server.stderr), server.output())


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    """Start a worker on a queue of its own, wait for its first health check, then SIGTERM."""
    from redis import Redis

    from tests.conftest import REDIS_URL, _missing_service

    if not REDIS_URL:
        _missing_service("Redis", "LUISTER_TEST_REDIS_URL")
    assert REDIS_URL is not None
    tmp_path = tmp_path_factory.mktemp("worker")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'luister.db'}"
    migrate.upgrade(database_url)
    queue = f"luister:test:processes:{os.getpid()}:{tmp_path.name}"
    env = _base_env(tmp_path, database_url) | {
        "LUISTER_REDIS_URL": REDIS_URL,
        "LUISTER_QUEUE_NAME": queue,
    }
    redis = Redis.from_url(REDIS_URL)
    try:
        with running("worker", env=env, cwd=tmp_path) as worker:
            for _ in range(START_ATTEMPTS):
                if redis.exists(f"{queue}:health-check") or worker.popen.poll() is not None:
                    break
                time.sleep(0.2)
            assert worker.popen.poll() is None, worker.output()
            assert redis.exists(f"{queue}:health-check"), worker.output()
            code = worker.stop()
            return Lifecycle({}, code, "".join(worker.stderr), worker.output())
    finally:
        redis.delete(f"{queue}:health-check")
        redis.close()


def test_serve_answers_health_login_and_mentions(served: Lifecycle) -> None:
    assert served.answers["readyz"].status_code == 200
    assert served.answers["login"].status_code == 201, served.answers["login"].text
    mentions = served.answers["mentions"]
    assert mentions.status_code == 200, mentions.text
    assert [m["text"] for m in mentions.json()["items"]] == ["Is the app down again?"]
    assert served.answers["anonymous"].status_code == 401


def test_serve_shuts_down_cleanly_on_sigterm(served: Lifecycle) -> None:
    assert "Application shutdown complete" in served.output
    assert "Traceback" not in served.stderr, served.output
    assert served.exit_code in (0, -signal.SIGTERM), served.output


def test_serve_exits_0_on_sigterm(served: Lifecycle) -> None:
    assert served.exit_code == 0


@pytest.mark.slow
@pytest.mark.redis
def test_worker_shuts_down_cleanly_on_sigterm_with_exit_0(worked: Lifecycle) -> None:
    assert "Traceback" not in worked.stderr, worked.output
    assert worked.exit_code == 0, worked.output
