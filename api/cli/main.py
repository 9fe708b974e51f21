"""`luister`: run the service, load data, administer it."""

from __future__ import annotations

import json
import secrets
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.accounts import accounts_app
from api.cli.admin import config_app, db_app, tokens_app, users_app
from api.cli.audit import audit_app
from api.cli.backup import backup, restore
from api.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    err,
    fail,
    load_settings,
    require_schema,
    run,
    stdout_is_tty,
    wired_sessions,
)
from api.cli.digest import digest_app
from api.cli.export import export
from api.cli.nlp import app as nlp_app
from api.cli.people import people_app
from api.cli.sources import sources_app
from api.cli.triage import triage_app
from api.cli.voice import voice_app
from listener import __version__, migrate
from listener.settings import Settings
from listener.sources.importer import ImportReport, LineError, import_lines

app = typer.Typer(
    help="Luister: hear what is said about your organisation and answer well.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(sources_app, name="sources")
app.add_typer(triage_app, name="triage")
app.add_typer(nlp_app, name="nlp")
app.add_typer(digest_app, name="digest")
app.add_typer(people_app, name="people")
app.add_typer(audit_app, name="audit")
app.add_typer(accounts_app, name="accounts")
app.add_typer(voice_app, name="voice")
app.command("backup")(backup)
app.command("restore")(restore)
app.command("export")(export)

REPO_SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "mentions.jsonl"
# Fietsbaan's own voice in the samples: its accounts and its staff member on the forum.
DEMO_OWN_ACCOUNTS: list[dict[str, str | None]] = [
    {"platform": "mastodon", "handle": "@fietsbaan@mastodon.example", "label": "Fietsbaan"},
    {"platform": "bluesky", "handle": "fietsbaan.bsky.example", "label": "Fietsbaan"},
    {"platform": "discourse", "handle": "Ruben_Fietsbaan", "label": "Ruben | Fietsbaan"},
]


def _version(value: bool) -> None:
    if value:
        print(f"luister {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version")
    ] = False,
) -> None:
    """Luister: hear what is said about your organisation and answer well."""


def _serve(settings: Settings) -> None:
    import uvicorn

    from api.http.app import create_app
    from api.sandbox import demo as sandbox

    require_schema(settings)
    # The demo's database comes with a sandbox platform: serve it alongside, on loopback.
    try:
        started = sandbox.start(settings)
    except (OSError, RuntimeError, ValueError) as exc:
        fail(f"the demo's sandbox platform cannot start: {exc}", EXIT_FAILED)
    if started is not None:
        sandbox_server, settings = started
        err.print(
            f"Sandbox platform (Mastodon) on {sandbox_server.url}: the demo's Mastodon sources "
            "post, like, boost and hear answers there"
        )
    err.print(f"Luister {__version__} on http://{settings.host}:{settings.port} (docs at /docs)")
    # uvicorn shuts down cleanly on SIGTERM, then raises the signal again to the handler that
    # was there before it: make that one a clean exit, so a stopped service exits 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = create_app(settings)
    app.state.freeze_heap_after_startup = True  # this process lives on: see listener/kit/heap.py
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,  # then whatever still runs is cancelled
    )
    server = uvicorn.Server(config)
    app.state.server = server  # open event streams end once it is told to stop
    try:
        server.run()
    finally:
        if started is not None:
            started[0].stop()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Serve the API (and, without Redis, run the jobs in-process)."""
    settings = load_settings()
    updates = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    _serve(settings.model_copy(update=updates))


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    yield from stream


def _import(
    settings: Settings, stream: BinaryIO, *, total: int | None, batch_size: int, quiet: bool
) -> ImportReport:
    def report_error(error: LineError) -> None:
        if not quiet:
            err.print(f"line {error.line}: {error.reason}", soft_wrap=True, markup=False)

    async def _go(on_progress: Callable[[int], None] | None) -> ImportReport:
        async with wired_sessions(settings) as sessions:
            return await import_lines(
                sessions,
                _lines(stream),
                batch_size=batch_size,
                on_progress=on_progress,
                on_error=report_error,
            )

    if not stdout_is_tty() or quiet:
        return run(_go(None))
    columns = [TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("import", total=total)
        return run(_go(lambda n: progress.advance(task, n)))


@app.command()
def worker() -> None:
    """Run an arq worker: polls, sends replies, digests and alerts (needs LUISTER_REDIS_URL)."""
    from api.worker import run_worker, worker_settings

    settings = load_settings()
    try:
        settings_class = worker_settings(settings)
    except ValueError as exc:
        fail(str(exc))
    require_schema(settings)
    err.print("Luister worker starting")
    run_worker(settings_class)


@app.command("import")
def import_file(
    file: Annotated[str, typer.Argument(help="A JSONL file of mentions, or - for stdin")],
    as_json: Annotated[
        bool, typer.Option("--json", help="End with one JSON object of counts on stdout")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Mentions per batch")] = 500,
) -> None:
    """Import mentions from JSONL (one MentionIn per line); exits 2 if any line was rejected."""
    settings = load_settings()
    if file != "-" and not Path(file).is_file():
        fail(f"{file}: no such file")
    try:
        if file == "-":
            report = _import(
                settings, sys.stdin.buffer, total=None, batch_size=batch_size, quiet=False
            )
        else:
            path = Path(file)
            with path.open("rb") as stream:
                report = _import(
                    settings, stream, total=path.stat().st_size, batch_size=batch_size, quiet=False
                )
    except (SQLAlchemyError, OSError) as exc:
        # Bad lines never get here (they are reported and quarantined): the database or the
        # file failed. Batches committed before the failure stay; importing again is harmless.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(
            f"import stopped: {type(exc).__name__}: {reason[0] if reason else 'failed'} "
            "(batches imported before it are kept; importing again is safe)",
            EXIT_FAILED,
        )
    counts = report.totals.counts()
    err.print(
        f"imported: {counts['new']} new, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['rejected']} rejected"
        + (" (rejected lines are in quarantine)" if counts["rejected"] else "")
    )
    if as_json:
        print(json.dumps(counts))
    if counts["rejected"]:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def demo(
    db: Annotated[Path, typer.Option(help="SQLite file to create afresh")] = Path(
        "luister-demo.db"
    ),
    samples: Annotated[Path, typer.Option(help="JSONL file of mentions to load")] = REPO_SAMPLES,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set up, then exit")] = False,
) -> None:
    """Start afresh on a demo database: migrate, create an admin, load samples, serve."""
    from api.cli.accounts import add_own_accounts
    from api.cli.common import demo_exports, in_session
    from api.cli.voice import add_demo_subjects, subjects_line
    from api.sandbox import demo as sandbox
    from listener.accounts.service import create_token, create_user
    from listener.alerts.tasks import alert_tick
    from listener.models import Role
    from listener.nlp.taxonomy import DEFAULT_TAXONOMY
    from listener.nlp.topics_store import import_topics, taxonomy_items
    from moderation.incidents.service import detect_incidents

    if not samples.is_file():
        fail(f"--samples: {samples} does not exist")
    base = load_settings()
    path = db.resolve()
    for suffix in ("", "-wal", "-shm", sandbox.STATE_SUFFIX):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    updates: dict[str, object] = {"database_url": f"sqlite+aiosqlite:///{path}"}
    if port is not None:
        updates["port"] = port
    settings = base.model_copy(update=updates)
    migrate.upgrade(settings.database_url)
    password = secrets.token_urlsafe(12)

    async def _admin(session: AsyncSession) -> str:
        user = await create_user(session, username="admin", password=password, role=Role.ADMIN)
        issued = await create_token(session, user=user, name="demo", key=settings.secret_bytes())
        # The demo shows topics: start from the built-in example taxonomy.
        await import_topics(session, items=taxonomy_items(DEFAULT_TAXONOMY), actor="demo")
        # Fietsbaan's own accounts: their posts are its responses, not mentions to triage.
        await add_own_accounts(session, settings=settings, accounts=DEMO_OWN_ACCOUNTS)
        # Share of voice: Fietsbaan against the two competitors the samples talk about.
        await add_demo_subjects(session)
        return issued.token

    token = run(in_session(_admin, settings=settings))
    with samples.open("rb") as stream:
        report = _import(settings, stream, total=None, batch_size=500, quiet=True)
    counts = report.totals.counts()

    async def _catch_up() -> tuple[int, int]:
        # The samples arrived after the fact: the spike check catches up on their hours now,
        # as the hourly job would, so the demo's outage alert is there from the start; and
        # its bursts are grouped into incidents, as the five-minute job would.
        async with wired_sessions(settings) as sessions:
            raised = len((await alert_tick(sessions, settings=settings))["alerts"])
            async with sessions() as session, session.begin():
                grouped = await detect_incidents(session)
        return raised, len(grouped.created)

    alerts, incidents = run(_catch_up())
    # A sandbox Mastodon on loopback, so replies, likes and questions really go out.
    state = sandbox.set_up(settings, samples=samples)
    url = f"http://{settings.host}:{settings.port}"
    print(
        "\n".join(
            [
                "",
                f"Luister demo: {counts['new']} sample mentions loaded into {path}",
                f"  own accounts: {len(DEMO_OWN_ACCOUNTS)} (Fietsbaan's posts are its responses)",
                f"  spike alerts: {alerts} raised on the samples' hours",
                f"  incidents   : {incidents} bursts of similar mentions grouped",
                f"  voice       : share of voice of {subjects_line()}",
                f"  the desk    : {url}/  (sign in as admin with the password below)",
                f"  admin login : admin / {password}",
                f"  API token   : {token}",
                "  (shown once; they are stored only as hashes)",
                f"  try         : curl -H 'Authorization: Bearer {token}' {url}/api/v1/mentions",
                f"  API docs    : {url}/docs",
                f"  sandbox     : {len(state.source_ids) if state else 0} Mastodon sources "
                "post to a sandbox on 127.0.0.1 (started with the API); the community there "
                "answers questions within seconds",
                "  command line: to use `luister` with this database, first run",
                *(f"    {line}" for line in demo_exports(path, settings)),
                "",
            ]
        ),
        flush=True,
    )
    if not no_serve:
        _serve(settings)
