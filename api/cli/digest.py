"""`luister digest …`: build and send digests, manage recipient lists, check for spikes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.cli.common import EXIT_FAILED, err, fail, in_session, load_settings, run, wired_sessions
from listener.digest import service
from listener.digest.builder import build_digest
from listener.digest.delivery import DeliveryReport, deliver_due
from listener.digest.document import DigestDocument
from listener.digest.errors import DigestError
from listener.digest.periods import Period, PeriodError, parse_period
from listener.digest.query import MentionFilter
from listener.digest.render import FORMATS, render
from listener.models import Delivery, Digest, RecipientList, utcnow
from listener.settings import Settings

T = TypeVar("T")
CLI_ACTOR = "cli"

digest_app = typer.Typer(
    help="Weekly digests, their recipients and spike alerts.", no_args_is_help=True
)
lists_app = typer.Typer(help="Who receives the digest, and what they follow.", no_args_is_help=True)
alerts_app = typer.Typer(help="Spike alerts on volume and negative share.", no_args_is_help=True)
digest_app.add_typer(lists_app, name="lists")
digest_app.add_typer(alerts_app, name="alerts")

WeekOption = Annotated[str | None, typer.Option("--week", help="ISO week, e.g. 2026-W47")]
FromOption = Annotated[
    datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (with --to)")
]
ToOption = Annotated[
    datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included")
]
TzOption = Annotated[
    str | None, typer.Option("--tz", help="Time zone of weeks and days (default: setting)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout")]
QueryOption = Annotated[
    str | None,
    typer.Option("--query", help='Only mentions matching this query, e.g. "storing OR outage"'),
]


def _query(text: str | None) -> str | None:
    """The --query value tidied, or exit 2 naming the column and what was expected there."""
    try:
        return service.check_query(text)
    except DigestError as exc:
        fail(f"--{exc.detail}")


def _period(
    settings: Settings,
    week: str | None,
    first: datetime | None,
    last: datetime | None,
    tz: str | None,
) -> Period:
    try:
        return parse_period(
            week=week,
            first=first.date() if first else None,
            last=last.date() if last else None,
            timezone=tz or settings.digest_timezone,
            now=utcnow(),
        )
    except PeriodError as exc:
        fail(str(exc))


async def _with_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    async with wired_sessions(settings) as sessions:
        return await work(sessions)


@digest_app.command("build")
def build(
    week: WeekOption = None,
    first: FromOption = None,
    last: ToOption = None,
    tz: TzOption = None,
    fmt: Annotated[str, typer.Option("--format", help="json, md or html")] = "md",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to FILE instead of stdout")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the text: en or nl")] = "en",
    recipient_list: Annotated[
        str | None, typer.Option("--list", help="Use this recipient list's filters and language")
    ] = None,
    topic: Annotated[list[str] | None, typer.Option(help="Only these topics (repeat)")] = None,
    source: Annotated[
        list[str] | None, typer.Option(help="Only these sources or platforms")
    ] = None,
    language: Annotated[
        list[str] | None, typer.Option(help="Only mentions in these languages")
    ] = None,
    query: QueryOption = None,
    store: Annotated[
        bool, typer.Option("--store", help="Also keep it (listed in the API)")
    ] = False,
) -> None:
    """Build the digest of a week (default: the last full one) or a date range."""
    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if lang not in ("en", "nl"):
        fail(f"--lang must be en or nl, not {lang!r}")
    query = _query(query)
    settings = load_settings()
    period = _period(settings, week, first, last, tz)

    async def _build(session: AsyncSession) -> tuple[DigestDocument, str]:
        filt = MentionFilter.of(
            topics=topic or [], sources=source or [], languages=language or [], query=query
        )
        chosen = None
        if recipient_list is not None:
            chosen = await service.get_list(session, name=recipient_list)
        if store:
            digest = await service.store_digest(
                session,
                period=period,
                settings=settings,
                recipient_list=chosen,
                language=lang,  # type: ignore[arg-type]
                filt=filt,
                actor=CLI_ACTOR,
            )
            return DigestDocument.model_validate(digest.data), digest.language
        if chosen is not None:
            filt, language_used = service.list_filter(chosen), chosen.language
        else:
            language_used = lang
        data = await build_digest(
            session,
            period=period,
            filt=filt,
            language=language_used,  # type: ignore[arg-type]
            target_hours=settings.digest_response_target_hours,
        )
        return data, language_used

    try:
        data, used = run(in_session(_build, settings=settings))
    except DigestError as exc:
        fail(exc.detail)
    output = render(data, fmt, used)
    if out is None:
        print(output)
    else:
        out.write_text(output, encoding="utf-8")
    err.print(
        f"digest {period.label} ({period.first_day} – {period.last_day}, {period.timezone}): "
        f"{data.volume.total} mentions" + (f", written to {out}" if out else "")
    )


@digest_app.command("send")
def send(
    week: WeekOption = None,
    first: FromOption = None,
    last: ToOption = None,
    recipient_list: Annotated[
        list[str] | None, typer.Option("--list", help="Only these lists (default: all enabled)")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Send even a quiet digest, or to a disabled list")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Build the digest for each list and email it now; exits 1 if an email did not go out."""
    settings = load_settings()
    if not settings.smtp_host:
        fail("email delivery is not configured: set LUISTER_SMTP_HOST (and friends)", EXIT_FAILED)
    period = _period(settings, week, first, last, None)

    async def _send(
        sessions: async_sessionmaker[AsyncSession],
    ) -> tuple[list[dict[str, Any]], DeliveryReport]:
        results = []
        async with sessions() as session, session.begin():
            if recipient_list:
                lists = [await service.get_list(session, name=n) for n in recipient_list]
            else:
                lists = [rl for rl in await service.all_lists(session) if rl.enabled]
            for rl in lists:
                digest = await service.store_digest(
                    session, period=period, settings=settings, recipient_list=rl, actor=CLI_ACTOR
                )
                queued = await service.queue_digest(
                    session,
                    digest=digest,
                    recipient_list=rl,
                    settings=settings,
                    force=force,
                    actor=CLI_ACTOR,
                )
                results.append(
                    {
                        "list": rl.name,
                        "digest_id": digest.id,
                        "queued": queued,
                        "skipped": digest.skipped_reason,
                    }
                )
        report = await deliver_due(sessions, settings=settings)
        return results, report

    try:
        results, report = run(_with_sessions(settings, _send))
    except DigestError as exc:
        fail(exc.detail)
    for r in results:
        err.print(
            f"{r['list']}: digest {r['digest_id']}, {r['queued']} emails queued"
            + (f" ({r['skipped']})" if r["skipped"] else "")
        )
    summary = {
        "period": period.label,
        "lists": results,
        "sent": len(report.sent),
        "retrying": len(report.retrying),
        "failed": len(report.failed),
    }
    err.print(
        f"sent {summary['sent']}, will retry {summary['retrying']}, failed {summary['failed']}"
    )
    if as_json:
        print(json.dumps(summary))
    if report.retrying or report.failed:
        raise typer.Exit(EXIT_FAILED)


@digest_app.command("list")
def list_digests(as_json: JsonOption = False) -> None:
    """List stored digests with how their emails are doing."""

    async def _list(session: AsyncSession) -> list[tuple[Digest, dict[str, int]]]:
        digests = list(
            (
                await session.execute(
                    select(Digest).order_by(Digest.period_start.desc(), Digest.id.desc()).limit(100)
                )
            ).scalars()
        )
        counts = await service.delivery_counts(session, digest_ids=[d.id for d in digests])
        return [(d, counts[d.id]) for d in digests]

    for digest, counts in run(in_session(_list)):
        if as_json:
            print(
                json.dumps(
                    {
                        "id": digest.id,
                        "period": digest.period_label,
                        "recipient_list_id": digest.recipient_list_id,
                        "mentions": digest.mention_count,
                        "deliveries": counts,
                        "skipped_reason": digest.skipped_reason,
                    }
                )
            )
        else:
            states = (
                ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
                or digest.skipped_reason
                or "not sent"
            )
            owner = digest.recipient_list_id or "-"
            print(
                f"{digest.id}\t{digest.period_label}\tlist {owner}\t"
                f"{digest.mention_count} mentions\t{states}"
            )


@digest_app.command("deliveries")
def deliveries(digest_id: int, as_json: JsonOption = False) -> None:
    """Show each email of a digest: address, status, attempts, last error."""

    async def _rows(session: AsyncSession) -> list[Delivery]:
        await service.get_digest(session, digest_id=digest_id)
        return await service.deliveries_of(session, digest_ids=[digest_id])

    try:
        rows = run(in_session(_rows))
    except DigestError as exc:
        fail(exc.detail)
    for d in rows:
        if as_json:
            print(
                json.dumps(
                    {
                        "id": d.id,
                        "recipient": d.recipient,
                        "status": d.status,
                        "attempts": d.attempts,
                        "last_error": d.last_error,
                        "next_attempt_at": d.next_attempt_at.isoformat(),
                    }
                )
            )
        else:
            print(f"{d.id}\t{d.recipient}\t{d.status}\t{d.attempts} attempts\t{d.last_error or ''}")


@lists_app.command("add")
def lists_add(
    name: str,
    email: Annotated[list[str], typer.Option(help="An address (repeat)")],
    lang: Annotated[str, typer.Option("--lang", help="Digest language: en or nl")] = "en",
    topic: Annotated[list[str] | None, typer.Option(help="Only these topics (repeat)")] = None,
    source: Annotated[
        list[str] | None, typer.Option(help="Only these sources or platforms")
    ] = None,
    language: Annotated[list[str] | None, typer.Option(help="Only these mention languages")] = None,
    send_when_quiet: Annotated[bool, typer.Option(help="Send even when nothing was heard")] = False,
    query: QueryOption = None,
    alerts: Annotated[bool, typer.Option(help="Also receive spike alerts")] = True,
) -> None:
    """Add a recipient list."""
    values = {
        "query": _query(query),
        "name": name,
        "emails": email,
        "language": lang,
        "topics": topic or [],
        "sources": source or [],
        "languages": language or [],
        "send_when_quiet": send_when_quiet,
        "receive_alerts": alerts,
    }

    async def _add(session: AsyncSession) -> RecipientList:
        return await service.create_list(session, values=values, actor=CLI_ACTOR)

    try:
        rl = run(in_session(_add))
    except DigestError as exc:
        fail(exc.detail)
    err.print(f"recipient list {rl.name} (id {rl.id}) with {len(rl.emails)} addresses")


@lists_app.command("list")
def lists_list(as_json: JsonOption = False) -> None:
    """List recipient lists and what they follow."""
    for rl in run(in_session(service.all_lists)):
        state = service.list_state(rl)
        if as_json:
            print(json.dumps({"id": rl.id, **state}))
        else:
            follows = "; ".join(
                [
                    f"{k}: {', '.join(state[k])}"
                    for k in ("topics", "sources", "languages")
                    if state[k]
                ]
                + ([f"query: {rl.query}"] if rl.query else [])
            )
            print(
                f"{rl.id}\t{rl.name}\t{rl.language}\t{', '.join(rl.emails)}\t"
                f"{follows or 'everything'}"
            )


@lists_app.command("remove")
def lists_remove(name: str) -> None:
    """Remove a recipient list (its past digests stay)."""

    async def _remove(session: AsyncSession) -> None:
        rl = await service.get_list(session, name=name)
        await service.delete_list(session, list_id=rl.id, actor=CLI_ACTOR)

    try:
        run(in_session(_remove))
    except DigestError as exc:
        fail(exc.detail)
    err.print(f"recipient list {name} removed")


@alerts_app.command("check")
def alerts_check(
    at: Annotated[
        datetime | None, typer.Option(help="Check the hour ending at this UTC time (default: now)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the last full hour for spikes now and raise the alerts it deserves."""
    from listener.alerts import alert_payload, check_spikes
    from listener.digest.tasks import hour_floor

    settings = load_settings()
    moment = (at.replace(tzinfo=UTC) if at and at.tzinfo is None else at) or utcnow()

    async def _check(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
        alerts = await check_spikes(sessions, settings=settings, window_end=hour_floor(moment))
        await deliver_due(sessions, settings=settings)
        return [alert_payload(a) for a in alerts]

    raised = run(_with_sessions(settings, _check))
    for alert in raised:
        if as_json:
            print(json.dumps(alert))
        err.print(
            f"alert {alert['id']}: {alert['metric']} spike for {alert['dimension']} "
            f"{alert['key']} ({alert['observed']} against {alert['baseline']})"
        )
    err.print(
        f"{len(raised)} alerts raised for the hour ending {hour_floor(moment):%Y-%m-%d %H:%M} UTC"
    )
