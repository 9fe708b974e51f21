"""What a background job is given, and how jobs are declared once for both ways to run them.

A job is a plain `async def job(ctx, *args)`. `ctx` holds the `sessions` factory, the
`settings`, the process's guarded HTTP `client` and a `redis` whose `enqueue_job` hands work to
another job: arq's own pool in a worker, an in-process stand-in in the embedded runner. The
wiring (`api.wiring`) declares every job once, with its schedule; `api.worker` builds arq's
settings from that list and `api.embedded` runs the same list inside `luister serve`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from listener.settings import Settings

JobContext = dict[str, Any]
# A coroutine function, as arq requires (an awaitable-returning callable is not enough).
JobFunction = Callable[..., Coroutine[Any, Any, Any]]


@dataclass(frozen=True)
class Task:
    """Work run on demand: enqueued by a periodic sweep or by a request."""

    function: JobFunction
    #: Jobs that commit as they go (bulk actions) may run longer than the usual timeout.
    at_least_seconds: int = 0

    @property
    def name(self) -> str:
        """The name jobs are enqueued under."""
        return self.function.__name__

    def timeout(self, settings: Settings) -> int:
        """Seconds the job may run before it is given up."""
        return max(self.at_least_seconds, settings.job_timeout_seconds)


@dataclass(frozen=True)
class Periodic:
    """Work run on a wall-clock schedule: at these seconds of the minute (and these minutes)."""

    function: JobFunction
    second: frozenset[int]
    minute: frozenset[int] | None = None
    run_at_startup: bool = False
    #: A fixed timeout; None means `at_least_seconds` or the job timeout, whichever is longer.
    timeout_seconds: int | None = None
    at_least_seconds: int = 0

    @property
    def name(self) -> str:
        """The job's name."""
        return self.function.__name__

    def timeout(self, settings: Settings) -> int:
        """Seconds one run may take."""
        if self.timeout_seconds is not None:
            return self.timeout_seconds
        return max(self.at_least_seconds, settings.job_timeout_seconds)

    def due_at(self, moment: datetime) -> bool:
        """Whether the schedule names the second `moment` falls in."""
        if moment.second not in self.second:
            return False
        return self.minute is None or moment.minute in self.minute


@dataclass(frozen=True)
class JobList:
    """Every background job of a deployment, declared once."""

    tasks: tuple[Task, ...]
    periodic: tuple[Periodic, ...]

    def task(self, name: str) -> Task:
        """The on-demand job called `name`."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no background job named {name!r}")

    @property
    def names(self) -> list[str]:
        """Every job's name, on-demand jobs first."""
        return [t.name for t in self.tasks] + [p.name for p in self.periodic]
