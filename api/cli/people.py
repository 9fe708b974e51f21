"""`luister people …`: a person's rights, erasure and access, from the command line."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, err, fail, in_session, load_settings, run
from listener.errors import LuisterError
from moderation.privacy import service
from moderation.privacy.render import render_html
from moderation.privacy.schemas import ErasureOut, PersonDataOut
from moderation.queue.errors import NotFound

CLI_ACTOR = "cli"

people_app = typer.Typer(
    help="A person's rights: erase them, or export everything held about them.",
    no_args_is_help=True,
)

AuthorArg = Annotated[int, typer.Argument(min=1, help="The author id (any linked identity)")]


class Format(enum.StrEnum):
    """How `export` writes the data."""

    JSON = "json"
    HTML = "html"


@people_app.command("erase")
def erase(
    author_id: AuthorArg,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask (needed when not on a terminal)")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout")
    ] = False,
) -> None:
    """Erase a person on every linked identity: words and names go, counts stay.

    Exits 0 when done (also when there was nothing left to erase), 2 for an unknown author or
    a missing --yes, 1 when the work failed.
    """
    settings = load_settings()
    if not yes:
        if not sys.stdin.isatty():
            fail("erasure cannot be undone: pass --yes to confirm it")
        if not typer.confirm(
            f"Erase author {author_id} and every identity linked to it? This cannot be undone."
        ):
            fail("nothing erased", EXIT_FAILED)

    async def _go(session: AsyncSession) -> service.ErasureReport:
        return await service.erase_person(
            session,
            author_id=author_id,
            secret=settings.secret_bytes(),
            actor=None,
            actor_label=CLI_ACTOR,
        )

    try:
        report = run(in_session(_go, settings=settings))
    except NotFound as exc:
        fail(exc.detail, EXIT_BAD_INPUT)
    except LuisterError as exc:
        fail(exc.detail or str(exc), EXIT_FAILED)
    out = ErasureOut.of(report)
    if out.already_erased:
        err.print(f"author {author_id}: nothing left to erase")
    else:
        counts = out.counts
        err.print(
            f"author {author_id}: erased {counts.authors} identities and {counts.mentions} "
            f"mentions; cancelled {counts.outbox_cancelled} replies"
            + (f"; kept {out.held_mentions} under legal hold" if out.held_mentions else "")
        )
    if as_json:
        print(out.model_dump_json())


@people_app.command("export")
def export(
    author_id: AuthorArg,
    fmt: Annotated[Format, typer.Option("--format", help="json or html")] = Format.JSON,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout")
    ] = None,
) -> None:
    """Export everything held about a person (all linked identities); the read is audited."""
    settings = load_settings()

    async def _go(session: AsyncSession) -> PersonDataOut:
        records = await service.person_records(session, author_id=author_id)
        service.record_access(
            session,
            author_id=author_id,
            records=records,
            fmt=fmt.value,
            actor=None,
            actor_label=CLI_ACTOR,
        )
        return PersonDataOut.of(records)

    try:
        data = run(in_session(_go, settings=settings))
    except NotFound as exc:
        fail(exc.detail, EXIT_BAD_INPUT)
    text = (
        render_html(data)
        if fmt is Format.HTML
        else json.dumps(data.model_dump(mode="json"), ensure_ascii=False, indent=2)
    )
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        try:
            out.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"--out: {exc}", EXIT_FAILED)
        out.chmod(0o600)
    err.print(
        f"author {author_id}: {len(data.identities)} identities, {len(data.mentions)} mentions"
        + (f" written to {out}" if out is not None else "")
    )
