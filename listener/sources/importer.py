"""JSONL import: one `MentionIn` object per line, bad lines reported and quarantined."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.sources.ingest import IngestReport, ingest_mentions, quarantine_item


@dataclass(frozen=True)
class LineError:
    """A line that was not imported, and why."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did, with the bad lines named."""

    totals: IngestReport = field(default_factory=IngestReport)
    errors: list[LineError] = field(default_factory=list)


async def import_lines(
    sessions: async_sessionmaker[AsyncSession],
    lines: Iterable[bytes],
    *,
    batch_size: int = 500,
    source_id: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_error: Callable[[LineError], None] | None = None,
) -> ImportReport:
    """Import JSONL lines in batches; each batch commits on its own, so a stop loses nothing."""
    report = ImportReport()
    batch: list[tuple[int, Any]] = []

    async def flush() -> None:
        if not batch:
            return
        async with sessions() as session, session.begin():
            result = await ingest_mentions(session, [obj for _, obj in batch], source_id=source_id)
        for rejection in result.rejections:
            _error(LineError(batch[rejection.index][0], rejection.reason))
        result.rejections = []
        report.totals.add(result)
        batch.clear()

    def _error(error: LineError) -> None:
        report.errors.append(error)
        if on_error is not None:
            on_error(error)

    parse_failures: list[tuple[int, bytes, str]] = []
    for number, raw in enumerate(lines, start=1):
        if on_progress is not None:
            on_progress(len(raw))
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.strip())
            if not isinstance(obj, dict):
                raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
        except RecursionError:
            parse_failures.append((number, raw, "JSON nested too deeply"))
            _error(LineError(number, "JSON nested too deeply"))
            continue
        except (ValueError, UnicodeDecodeError) as exc:
            reason = f"not valid JSON: {exc}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            parse_failures.append((number, raw, reason))
            _error(LineError(number, reason))
            continue
        batch.append((number, obj))
        if len(batch) >= batch_size:
            await flush()
    await flush()

    if parse_failures:
        async with sessions() as session, session.begin():
            for number, raw, reason in parse_failures:
                await quarantine_item(
                    session,
                    source_id=source_id,
                    stage="parse",
                    payload=raw.decode("utf-8", errors="replace"),
                    error=f"line {number}: {reason}",
                )
        report.totals.rejected += len(parse_failures)
    report.errors.sort(key=lambda e: e.line)
    return report
