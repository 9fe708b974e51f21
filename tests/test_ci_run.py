""".ci/run refuses to test without PostgreSQL or Redis, naming the one it cannot reach.

The services are pointed at a closed port (127.0.0.1:1): the real ones are never stopped.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "run"
CLOSED = "127.0.0.1:1"


def check_services(**urls: str) -> subprocess.CompletedProcess[str]:
    """Run only the script's service checks, with the given test URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUISTER_TEST_")}
    env |= {"CI_RUN_CHECK_ONLY": "1", **urls}
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("variable", "url", "name"),
    [
        ("LUISTER_TEST_DATABASE_URL", f"postgresql+asyncpg://postgres@{CLOSED}/test", "PostgreSQL"),
        ("LUISTER_TEST_REDIS_URL", f"redis://{CLOSED}/0", "Redis"),
    ],
    ids=["postgresql", "redis"],
)
def test_unreachable_service_fails_the_run_naming_it(variable: str, url: str, name: str) -> None:
    result = check_services(**{variable: url})
    assert result.returncode != 0
    assert f"CI FAILED: {name} cannot be reached at {CLOSED}" in result.stderr


@pytest.mark.postgres
@pytest.mark.redis
def test_reachable_services_pass_the_check(redis_url: str) -> None:
    from tests.conftest import PG_URL, _missing_service

    if not PG_URL:
        _missing_service("PostgreSQL", "LUISTER_TEST_DATABASE_URL")
    assert PG_URL is not None
    result = check_services(LUISTER_TEST_DATABASE_URL=PG_URL, LUISTER_TEST_REDIS_URL=redis_url)
    assert result.returncode == 0, result.stderr
    assert "CI=true" in result.stdout
