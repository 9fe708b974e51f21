"""The parse pool: work runs in a worker process within a CPU budget; errors come back whole."""

from __future__ import annotations

import os

import pytest

from connectors._parse_pool import TooExpensive, parse_in_pool, parse_limits
from connectors.http import InvalidPayload
from tests.connectors import parse_jobs


async def test_work_runs_in_another_process_and_its_worker_is_reused() -> None:
    first_pid, value = await parse_in_pool(parse_jobs.echo, {"a": [1, 2]}, what="doc")
    second_pid, _ = await parse_in_pool(parse_jobs.echo, None, what="doc")
    assert value == {"a": [1, 2]}
    assert first_pid != os.getpid()
    assert second_pid == first_pid


async def test_a_connector_error_comes_back_as_itself() -> None:
    with pytest.raises(InvalidPayload, match=r"^not a feed$"):
        await parse_in_pool(parse_jobs.refuse, "not a feed", what="doc")


async def test_an_error_that_cannot_travel_comes_back_as_a_readable_one() -> None:
    with pytest.raises(InvalidPayload, match=r"^Local: carries a lock$"):
        await parse_in_pool(parse_jobs.raise_unpicklable, what="doc")


@pytest.mark.parametrize(
    "job", [parse_jobs.spin_in_python, parse_jobs.backtrack], ids=["python", "regex"]
)
async def test_work_over_its_cpu_budget_is_stopped_and_its_worker_replaced(job: object) -> None:
    assert callable(job)
    with parse_limits(budget_seconds=0.2, workers=1):
        before, _ = await parse_in_pool(parse_jobs.echo, None, what="doc")
        with pytest.raises(TooExpensive) as raised:
            await parse_in_pool(job, what="https://example.com/feed.xml")
        after, _ = await parse_in_pool(parse_jobs.echo, None, what="doc")
    assert str(raised.value) == (
        "https://example.com/feed.xml: too expensive to parse: over its CPU budget of 0.2 s; "
        "skipped"
    )
    assert after != before  # an interrupted worker is never reused


@pytest.mark.slow  # the kernel's limit is whole seconds of CPU
async def test_c_code_that_never_yields_is_ended_by_the_kernel() -> None:
    with parse_limits(budget_seconds=0.1, workers=1):
        with pytest.raises(TooExpensive, match="the parser process died while parsing it"):
            await parse_in_pool(parse_jobs.spin_in_c, what="doc")
        _, value = await parse_in_pool(parse_jobs.echo, "still works", what="doc")
    assert value == "still works"
