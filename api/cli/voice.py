"""`luister voice`: share of voice, and the subjects (brand, competitors, product lines)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.common import EXIT_BAD_INPUT, err, fail, in_session, load_settings, run
from listener.errors import LuisterError
from listener.kit.datetimes import to_instant
from listener.query import QuerySyntaxError, parse
from moderation.queue import voice
from moderation.queue.voice_schemas import ShareOfVoiceOut, SubjectOut

voice_app = typer.Typer(
    help="Share of voice: our brand against competitors and across product lines.",
    no_args_is_help=True,
)
subjects_app = typer.Typer(help="The subjects compared, each a query.", no_args_is_help=True)
voice_app.add_typer(subjects_app, name="subjects")

Kind = Literal["brand", "competitor", "product"]

#: What `luister demo` compares: Fietsbaan and two competitors in the samples. A hashtag is one
#: word (#GroeneFiets is `groenefiets`), so the competitor's name is a phrase or that word.
DEMO_SUBJECTS: list[tuple[str, str, Kind]] = [
    ("Fietsbaan", "fietsbaan*", "brand"),
    ("Velomax", "velomax*", "competitor"),
    ("Groene Fiets", '"groene fiets" OR groenefiets*', "competitor"),
]


async def add_demo_subjects(
    session: AsyncSession, *, subjects: list[tuple[str, str, Kind]] | None = None
) -> list[int]:
    """Add the demo's share-of-voice subjects (DEMO_SUBJECTS by default); their ids."""
    added = []
    for name, query, kind in DEMO_SUBJECTS if subjects is None else subjects:
        subject = await voice.create_subject(session, name=name, query=query, kind=kind)
        added.append(subject.id)
    return added


def subjects_line(subjects: list[tuple[str, str, Kind]] | None = None) -> str:
    """The subjects in one line, as the demo's banner lists them: "Fietsbaan (brand), ..."."""
    return ", ".join(f"{name} ({kind})" for name, _, kind in subjects or DEMO_SUBJECTS)


def _instant(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return to_instant(value)
    except ValueError as exc:
        fail(f"--{name}: {exc}")


@voice_app.command("show")
def show(
    period: Annotated[Literal["day", "week"], typer.Option(help="day or week (UTC)")] = "week",
    since: Annotated[datetime | None, typer.Option(help="Default: 28 days ago")] = None,
    until: Annotated[datetime | None, typer.Option(help="Default: the end of today")] = None,
    subject: Annotated[list[str] | None, typer.Option(help="Subject name (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout")] = False,
) -> None:
    """Each subject's mentions, sentiment, reach and share, in total and per day or week."""
    settings = load_settings()
    start, end = _instant(since, "since"), _instant(until, "until")

    async def _go(session: AsyncSession) -> ShareOfVoiceOut:
        found = await voice.share_of_voice(
            session, since=start, until=end, period=period, names=subject
        )
        return ShareOfVoiceOut.of(found)

    try:
        out = run(in_session(_go, settings=settings))
    except LuisterError as exc:
        fail(exc.detail or str(exc), EXIT_BAD_INPUT)
    if as_json:
        print(out.model_dump_json(indent=2))
        return
    if not out.subjects:
        err.print("no subjects yet: add one with `luister voice subjects add NAME QUERY`")
        return
    print("period\tsubject\tmentions\tshare\tnet_sentiment\treach\treach_share")
    for bucket in out.buckets:
        for v in bucket.subjects:
            net = "" if v.net_sentiment is None else f"{v.net_sentiment:+.2f}"
            print(
                f"{bucket.start}\t{v.name}\t{v.mentions}\t{v.share:.1%}\t{net}\t{v.reach}"
                f"\t{v.reach_share:.1%}"
            )
    for v in out.totals:
        net = "" if v.net_sentiment is None else f"{v.net_sentiment:+.2f}"
        print(
            f"total\t{v.name}\t{v.mentions}\t{v.share:.1%}\t{net}\t{v.reach}\t{v.reach_share:.1%}"
        )


@subjects_app.command("list")
def list_subjects() -> None:
    """The subjects, one per line: id, kind, name, query."""

    async def _go(session: AsyncSession) -> list[SubjectOut]:
        return [SubjectOut.of(s) for s in await voice.list_subjects(session)]

    for s in run(in_session(_go)):
        print(f"{s.id}\t{s.kind}\t{s.name}\t{s.query}")


@subjects_app.command("add")
def add_subject(
    name: Annotated[str, typer.Argument(help="e.g. Velomax")],
    query: Annotated[str, typer.Argument(help="A query (docs/QUERY.md), e.g. 'velomax*'")],
    kind: Annotated[Kind, typer.Option(help="brand, competitor or product")] = "competitor",
) -> None:
    """Add a subject; a query that cannot be read exits 2 naming the column."""
    try:
        parse(query, field="QUERY")
    except QuerySyntaxError as exc:
        fail(exc.detail)
    if not 1 <= len(name) <= 100:
        fail("NAME: 1 to 100 characters")

    async def _go(session: AsyncSession) -> int:
        subject = await voice.create_subject(session, name=name, query=query, kind=kind)
        return subject.id

    try:
        subject_id = run(in_session(_go))
    except LuisterError as exc:
        fail(exc.detail or str(exc))
    err.print(f"added subject {subject_id} ({name})")
    print(subject_id)


@subjects_app.command("remove")
def remove_subject(subject_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Forget a subject."""

    async def _go(session: AsyncSession) -> None:
        await voice.delete_subject(session, subject_id=subject_id)

    try:
        run(in_session(_go))
    except LuisterError as exc:
        fail(exc.detail or str(exc))
    err.print(f"removed subject {subject_id}")
