"""Share of voice: our brand against competitors and across product lines, each a query."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from listener.kit.datetimes import Instant
from listener.rest.deps import Admin, Reader, SessionDep
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.queue import voice
from moderation.queue.voice_schemas import ShareOfVoiceOut, SubjectIn, SubjectOut, SubjectPatch

router = APIRouter(prefix="/api/v1/share-of-voice", tags=["share of voice"])


@router.get("", responses=problem_responses(401, 403, 404))
async def share_of_voice(
    session: SessionDep,
    _: Reader,
    period: Annotated[Literal["day", "week"], Query(description="Buckets: UTC days or weeks")] = (
        "week"
    ),
    since: Annotated[Instant | None, Query(description="Default: 28 days before today")] = None,
    until: Annotated[Instant | None, Query(description="Default: the end of today (UTC)")] = None,
    subject: Annotated[
        list[str] | None,
        Query(max_length=voice.MAX_SUBJECTS, description="Subject names (default: all)"),
    ] = None,
) -> ShareOfVoiceOut:
    """Volume, sentiment, reach and share of each subject, in total and per day or week.

    A mention matching two subjects counts for both; mentions by our own accounts are left out.
    """
    found = await voice.share_of_voice(
        session, since=since, until=until, period=period, names=subject
    )
    return ShareOfVoiceOut.of(found)


@router.get("/subjects", responses=problem_responses(401, 403))
async def list_subjects(session: SessionDep, _: Reader) -> list[SubjectOut]:
    """The subjects compared: brand, competitors, product lines."""
    return [SubjectOut.of(s) for s in await voice.list_subjects(session)]


@router.post(
    "/subjects",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
)
async def create_subject(body: SubjectIn, session: SessionDep, _: Admin) -> SubjectOut:
    """Add a subject; its query is checked (422 naming the column)."""
    subject = await voice.create_subject(session, name=body.name, query=body.query, kind=body.kind)
    await session.commit()
    return SubjectOut.of(subject)


@router.patch("/subjects/{subject_id}", responses=problem_responses(401, 403, 404, 409, 422))
async def update_subject(
    subject_id: IdPath, body: SubjectPatch, session: SessionDep, _: Admin
) -> SubjectOut:
    """Rename a subject, or change its query or kind."""
    subject = await voice.update_subject(
        session, subject_id=subject_id, name=body.name, query=body.query, kind=body.kind
    )
    await session.commit()
    return SubjectOut.of(subject)


@router.delete(
    "/subjects/{subject_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def delete_subject(subject_id: IdPath, session: SessionDep, _: Admin) -> None:
    """Forget a subject."""
    await voice.delete_subject(session, subject_id=subject_id)
    await session.commit()
