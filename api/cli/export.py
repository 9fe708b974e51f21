"""`luister export`: the mentions a queue filter selects, as CSV, NDJSON or the import's JSONL."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, BinaryIO, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.exc import SQLAlchemyError

from api.cli.common import EXIT_FAILED, err, fail, load_settings, run, stdout_is_tty, wired_sessions
from listener.kit.datetimes import to_instant
from listener.models import Status
from listener.query import QuerySyntaxError, parse
from moderation.queue import export as exporting
from moderation.queue.listing import MentionFilter

Format = Literal["csv", "ndjson", "jsonl"]
Sentiment = Literal["positive", "neutral", "negative"]


def _instant(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return to_instant(value)  # a time without a zone is the organisation's local time
    except ValueError as exc:
        fail(f"--{name}: {exc}")


def export(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="csv, ndjson or jsonl")] = "jsonl",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file (default stdout)")
    ] = None,
    pseudonymise: Annotated[
        bool,
        typer.Option(
            "--pseudonymise",
            help="Authors as keyed hashes; handles, names, URLs, HTML and raw payloads left out",
        ),
    ] = False,
    key_env: Annotated[
        str | None,
        typer.Option(
            help="Name of an environment variable holding your pseudonym key (the same "
            "pseudonyms in every export made with it); default: a fresh key per export"
        ),
    ] = None,
    status: Annotated[list[Status] | None, typer.Option(help="Queue status (repeatable)")] = None,
    source_id: Annotated[int | None, typer.Option(min=1)] = None,
    platform: Annotated[str | None, typer.Option()] = None,
    language: Annotated[str | None, typer.Option()] = None,
    sentiment: Annotated[Sentiment | None, typer.Option()] = None,
    intent: Annotated[str | None, typer.Option()] = None,
    topic: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[str | None, typer.Option()] = None,
    author_id: Annotated[int | None, typer.Option(min=1)] = None,
    assignee_id: Annotated[int | None, typer.Option(min=1)] = None,
    unassigned: Annotated[bool, typer.Option("--unassigned")] = False,
    since: Annotated[
        datetime | None, typer.Option(help="Posted at or after (no zone: local time)")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Posted before")] = None,
    text: Annotated[str | None, typer.Option(help="Text contains")] = None,
    search: Annotated[str | None, typer.Option(help="Full-text search")] = None,
    query: Annotated[
        str | None, typer.Option(help="A query (docs/QUERY.md), e.g. 'storing* lang:nl -test'")
    ] = None,
    min_priority: Annotated[int | None, typer.Option(min=0, max=100)] = None,
    breached: Annotated[bool, typer.Option("--breached")] = False,
) -> None:
    """Export mentions by any queue filter; jsonl is what `luister import` reads back."""
    if query is not None:
        try:
            parse(query, field="--query")
        except QuerySyntaxError as exc:
            fail(exc.detail)
    settings = load_settings()
    anon = None
    if key_env is not None and not pseudonymise:
        fail("--key-env: only with --pseudonymise")
    if pseudonymise:
        if key_env is not None:
            key = os.environ.get(key_env)
            if not key:
                fail(f"--key-env: {key_env} is not set")
            try:
                anon = exporting.Pseudonymiser.with_key(key)
            except ValueError as exc:
                fail(str(exc))
        else:
            anon = exporting.Pseudonymiser.derived(settings.secret_bytes())
    filters = MentionFilter(
        status=[s.value for s in status or []],
        source_id=source_id,
        platform=platform,
        language=language,
        sentiment=sentiment,
        intent=intent,
        topic=topic,
        tag=tag,
        author_id=author_id,
        assignee_id=assignee_id,
        unassigned=unassigned,
        since=_instant(since, "since"),
        until=_instant(until, "until"),
        text=text,
        search=search,
        query=query,
        min_priority=min_priority,
        breached=breached,
    )
    progress = Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not stdout_is_tty(),
    )

    async def _go(sink: BinaryIO) -> int:
        written = 0

        def advance(rows: int) -> None:
            nonlocal written
            written += rows
            progress.advance(task, rows)

        async with wired_sessions(settings) as sessions:
            total = await exporting.count(sessions, filters=filters) if stdout_is_tty() else None
            task = progress.add_task("export", total=total)
            async for chunk in exporting.export(
                sessions, filters=filters, fmt=fmt, anon=anon, on_rows=advance
            ):
                sink.write(chunk)
        return written

    try:
        with progress:
            if out is None:
                rows = run(_go(sys.stdout.buffer))
                sys.stdout.buffer.flush()
            else:
                with out.open("wb") as sink:
                    rows = run(_go(sink))
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"export failed: {type(exc).__name__}: {reason[0] if reason else ''}", EXIT_FAILED)
    where = f" to {out}" if out is not None else ""
    err.print(f"exported {rows} mentions{where} ({fmt}{', pseudonymised' if anon else ''})")
