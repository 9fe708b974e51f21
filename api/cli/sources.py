"""`luister sources …`: add, list, poll, test, pause and resume sources."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.common import EXIT_FAILED, err, fail, in_session, load_settings, run, wired_sessions
from connectors.http import FetchError, describe_error
from connectors.registry import UnknownKind, get_connector, list_kinds
from listener.kit.http import make_client
from listener.models import Source
from listener.settings import Settings
from listener.sources import service
from listener.sources.credentials import masked_config
from listener.sources.polling import PollOutcome, kept_items, poll_source

sources_app = typer.Typer(help="Manage what Luister listens to.", no_args_is_help=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="A connector setting as key=value (repeat); JSON values allowed"),
]


def _parse_settings(pairs: list[str] | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--set {pair!r}: expected key=value")
        try:
            config[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[key.strip()] = value
    return config


def _url_field(kind: str) -> str:
    """The connector setting a bare URL argument fills in (url, instance_url, base_url …)."""
    fields = get_connector(kind).config_model.model_fields
    if "url" in fields:
        return "url"
    url_fields = [n for n in fields if n.endswith("_url")]
    required = [n for n in url_fields if fields[n].is_required()]
    if not (required or url_fields):
        fail(f"{kind} sources take no URL; use --set")
    return (required or url_fields)[0]


def _config(kind: str, url: str | None, pairs: list[str] | None) -> dict[str, Any]:
    try:
        get_connector(kind)
    except UnknownKind as exc:
        fail(f"KIND: {exc}")
    config = _parse_settings(pairs)
    if url is not None:
        config[_url_field(kind)] = url
    return config


def _default_name(kind: str, url: str | None, config: dict[str, Any]) -> str:
    parts = urlsplit(url) if url else None
    where = f"{parts.hostname}{parts.path}" if parts and parts.hostname else "source"
    extra = next((str(v) for k, v in config.items() if k in ("hashtag", "query", "community")), "")
    name = re.sub(r"[^\w.:@-]+", "-", f"{kind}:{where}:{extra}".strip(":-")).strip("-")
    return name[:200]


@sources_app.command("kinds")
def kinds() -> None:
    """List the kinds of source and their settings."""
    for kind in list_kinds():
        model = get_connector(kind).config_model
        fields = ", ".join(
            f"{n}{'' if f.is_required() else '?'}" for n, f in model.model_fields.items()
        )
        print(f"{kind}\t{fields}")


@sources_app.command("add")
def add(
    kind: Annotated[str, typer.Argument(help="rss, mastodon, bluesky, reddit, …")],
    url: Annotated[str | None, typer.Argument(help="The feed, instance or site URL")] = None,
    name: Annotated[str | None, typer.Option(help="Unique name (default from the URL)")] = None,
    set_: SetOption = None,
    interval: Annotated[int, typer.Option(min=30, max=86_400, help="Seconds between polls")] = 300,
) -> None:
    """Add a source; it is polled within one tick of `luister serve` or a worker."""
    config = _config(kind, url, set_)
    settings = load_settings()
    chosen = name or _default_name(kind, url, config)

    async def _add(session: AsyncSession) -> int:
        source = await service.create_source(
            session,
            kind=kind,
            name=chosen,
            config=config,
            key=settings.secret_bytes(),
            poll_interval_seconds=interval,
        )
        return source.id

    try:
        source_id = run(in_session(_add, settings=settings))
    except service.SourceError as exc:
        fail(str(exc))
    err.print(f"added source {source_id} ({chosen}); polled every {interval} s")
    print(source_id)


@sources_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout")] = False,
) -> None:
    """List sources with their state, last error and counts."""

    async def _list(session: AsyncSession) -> list[service.SourceStatus]:
        return await service.source_statuses(session)

    for status in run(in_session(_list)):
        s = status.source
        state = "paused" if s.paused_reason or not s.enabled else "active"
        if as_json:
            print(
                json.dumps(
                    {
                        "id": s.id,
                        "kind": s.kind,
                        "name": s.name,
                        "state": state,
                        "config": masked_config(s.config),
                        "keep": s.keep_query,
                        "mentions": status.mentions,
                        "last_error": s.last_error,
                        "paused_reason": s.paused_reason,
                        "consecutive_failures": s.consecutive_failures,
                    }
                )
            )
        else:
            problem = s.paused_reason or s.last_error or ""
            keep = f"\tkeep: {s.keep_query}" if s.keep_query else ""
            print(
                f"{s.id}\t{s.kind}\t{s.name}\t{state}\t{status.mentions} mentions\t{problem}{keep}"
            )


def _print_outcome(outcome: PollOutcome) -> None:
    if outcome.skipped:
        fail(f"source {outcome.source_id} was not polled: {outcome.skipped}", EXIT_FAILED)
    if not outcome.ok:
        fail(f"poll of source {outcome.source_id} failed: {outcome.error}", EXIT_FAILED)
    assert outcome.report is not None
    counts = outcome.report.counts()
    err.print(
        f"source {outcome.source_id}: {counts['new']} new, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['rejected']} rejected"
    )
    print(json.dumps(counts))


@sources_app.command("poll")
def poll(source_id: int) -> None:
    """Poll a source now, even if it is not due or is paused, and print the counts."""
    from api.sandbox.demo import attached

    async def _poll(settings: Settings) -> PollOutcome:
        async with wired_sessions(settings) as sessions, make_client(settings) as client:
            return await poll_source(
                sessions, source_id=source_id, settings=settings, client=client, force=True
            )

    with attached(load_settings()) as settings:  # the demo's sandbox, if this is its database
        _print_outcome(run(_poll(settings)))


@sources_app.command("test")
def test(
    kind: Annotated[str, typer.Argument(help="rss, mastodon, bluesky, reddit, …")],
    url: Annotated[str, typer.Option("--url", help="The feed, instance or site URL")],
    set_: SetOption = None,
) -> None:
    """Fetch once through the guarded client and print the items as JSON lines; stores nothing.

    With a keep-filter (`--set keep='…'`) only the items it keeps are printed, and the count
    says how many of the fetched items a poll would store.
    """
    config = _config(kind, url, set_)
    try:
        connector_config, keep, _ = service.split_keep(config)
        model = service.validate_config(kind, connector_config)
    except service.SourceError as exc:
        fail(str(exc))
    settings = load_settings()

    async def _fetch() -> Any:
        async with make_client(settings) as client:
            return await get_connector(kind).fetch(client=client, config=model, cursor={})

    try:
        result = run(_fetch())
    except FetchError as exc:
        fail(describe_error(exc))
    except Exception as exc:  # a dry run reports, it never dumps a traceback
        fail(describe_error(exc), EXIT_FAILED)
    # The source the poll would see, unsaved: its keep-filter, and the name `source:` matches.
    draft = Source(kind=kind, name=_default_name(kind, url, connector_config), keep_query=keep)
    kept = kept_items(draft, list(result.items))
    for item in kept:
        print(item.model_dump_json())
    for rejected in result.rejected:
        err.print(f"rejected item {rejected.external_id or '?'}: {rejected.reason}", markup=False)
    if keep is None:
        err.print(f"{len(result.items)} items, {len(result.rejected)} rejected")
    else:
        err.print(
            f"{len(result.items)} items, {len(kept)} kept by the keep-filter, "
            f"{len(result.rejected)} rejected"
        )


def _set_state(source_id: int, *, paused: str | None) -> None:
    async def _change(session: AsyncSession) -> None:
        source = await service.get_source(session, source_id=source_id)
        if paused is None:
            service.resume(source)
        else:
            service.pause(source, paused)

    try:
        run(in_session(_change))
    except service.SourceNotFound as exc:
        fail(str(exc))


@sources_app.command("pause")
def pause(
    source_id: int, reason: Annotated[str, typer.Option(help="Why")] = "paused by staff"
) -> None:
    """Stop polling a source."""
    _set_state(source_id, paused=reason)
    err.print(f"source {source_id} paused")


@sources_app.command("resume")
def resume(source_id: int) -> None:
    """Poll a paused source again, starting now."""
    _set_state(source_id, paused=None)
    err.print(f"source {source_id} resumed")
