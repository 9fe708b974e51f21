"""Faults in the scaled deployment: Redis restarted, PostgreSQL connections cut mid-poll.

Real processes on 127.0.0.1 (bench/chaos.py, small): one `luister worker`, one `luister serve`,
a redis-server of this test's own (the one restarted: never the shared one), a database of its
own (only its connections are terminated) and a feed server whose feeds gain items between the
faults. The same worker process must come through both faults and store every served item
once; `/readyz` must name the failing dependency meanwhile. Waits poll for outcomes with
generous bounds; nothing is timed.
"""

from __future__ import annotations

import asyncio
import shutil

import pytest

from bench.chaos import ChaosReport, run_chaos
from tests.conftest import PG_URL, _missing_service, _worker

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def report() -> ChaosReport:
    if not PG_URL:
        _missing_service("PostgreSQL", "LUISTER_TEST_DATABASE_URL")
    if shutil.which("redis-server") is None:
        _missing_service("redis-server (the binary: this test restarts a Redis of its own)", "PATH")
    return asyncio.run(
        run_chaos(
            workers=1,
            sources=6,
            items=2,
            new_items=2,
            database=f"luister_chaos_{_worker()}",
            say=lambda _: None,
            hold=1.0,
            settle=2.0,
        )
    )


def test_the_worker_survives_both_faults(report: ChaosReport) -> None:
    assert report.workers_alive, report.worker_output
    assert [p.name for p in report.phases] == ["baseline", "Redis restarted", "PostgreSQL cut"]


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_every_served_item_is_stored_once(report: ChaosReport, phase: int) -> None:
    tally = report.phases[phase]
    assert tally.expected == 6 * (2 + 2 * phase)
    assert (tally.lost, tally.duplicates) == (0, 0), tally
    assert tally.stored == tally.expected, tally


def test_readyz_names_redis_while_it_is_down(report: ChaosReport) -> None:
    seen = report.phases[1].readyz
    assert seen.startswith("503"), seen
    assert '"redis":"unreachable' in seen.replace(" ", ""), seen
    assert '"database":"ok"' in seen.replace(" ", ""), seen


def test_readyz_names_the_database_while_it_refuses_connections(report: ChaosReport) -> None:
    seen = report.phases[2].readyz
    assert seen.startswith("503"), seen
    assert '"database":"unreachable' in seen.replace(" ", ""), seen
    assert report.phases[2].note.split()[0] != "0", "no connection was terminated"
