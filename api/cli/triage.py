"""`luister triage …`: rescore the queue, run the triage sweep, export the audit log."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.common import err, fail, in_session, load_settings, run, wired_sessions
from listener.models import QueueItem
from moderation.queue.audit import AuditFilter, export_csv
from moderation.queue.priority import PriorityConfig, refresh_priorities, refresh_stale_priorities
from moderation.queue.sla import WAITING
from moderation.queue.tasks import TriageRunner, triage_sweep

triage_app = typer.Typer(
    help="Triage upkeep: priorities, the sweep, the audit log.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout")]


@triage_app.command("rescore")
def rescore(
    every: Annotated[
        bool, typer.Option("--all", help="Every waiting item, not only those scored long ago")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Recompute priorities and SLA due times (run --all after changing the weights)."""
    settings = load_settings()
    config = PriorityConfig.from_settings(settings)

    async def _go(session: AsyncSession) -> int:
        if not every:
            return await refresh_stale_priorities(
                session, config=config, older_than=timedelta(minutes=10), limit=100_000
            )
        ids = await session.execute(
            select(QueueItem.mention_id).where(QueueItem.status.in_([s.value for s in WAITING]))
        )
        return await refresh_priorities(session, mention_ids=list(ids.scalars()), config=config)

    count = run(in_session(_go, settings=settings))
    err.print(f"rescored {count} waiting mentions")
    if as_json:
        print(json.dumps({"rescored": count}))


@triage_app.command("sweep")
def sweep(as_json: JsonOption = False) -> None:
    """Run one sweep now: wake due snoozes, rescore, forget stale viewers, finish bulk jobs."""
    settings = load_settings()

    async def _go() -> dict[str, int]:
        async with wired_sessions(settings) as sessions:
            report = await triage_sweep(sessions, settings=settings)
            runner = TriageRunner(sessions, settings)
            for job_id in report.orphaned_jobs:
                await runner.run_now(job_id)
        return {
            "woken": report.woken,
            "rescored": report.refreshed,
            "viewers_forgotten": report.presence_purged,
            "bulk_jobs_resumed": len(report.orphaned_jobs),
        }

    counts = run(_go())
    err.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))
    if as_json:
        print(json.dumps(counts))


@triage_app.command("audit")
def audit(
    since: Annotated[datetime | None, typer.Option(help="From (ISO 8601, UTC if no zone)")] = None,
    until: Annotated[datetime | None, typer.Option(help="Until, exclusive")] = None,
    mention: Annotated[int | None, typer.Option(help="One mention's history")] = None,
    user: Annotated[int | None, typer.Option(help="One staff member's actions (user id)")] = None,
) -> None:
    """Write the audit log (or a slice of it) as CSV to stdout."""
    settings = load_settings()
    since, until = (d.replace(tzinfo=d.tzinfo or UTC) if d else None for d in (since, until))
    if since and until and since >= until:
        fail("--since must be before --until")
    filters = AuditFilter(mention_id=mention, actor_user_id=user, since=since, until=until)

    async def _go(session: AsyncSession) -> int:
        lines = 0
        async for line in export_csv(session, filters=filters):
            sys.stdout.write(line)
            lines += 1
        return lines - 1

    count = run(in_session(_go, settings=settings))
    err.print(f"exported {count} audit entries")
