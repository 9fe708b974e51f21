"""Authors across platforms: the person's history, and linking records that are one person."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from listener.rest.deps import Reader, SessionDep, SettingsDep, Triager
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.queue import authors
from moderation.queue.listing import MentionFilter, list_mentions
from moderation.queue.schemas import MentionOut, MentionPage
from moderation.queue.triage_schemas import AuthorNoteIn, AuthorNoteOut, AuthorProfileOut, LinkIn

router = APIRouter(prefix="/api/v1/authors", tags=["authors"])


@router.get("/{author_id}", responses=problem_responses(401, 403, 404))
async def get_author(author_id: IdPath, session: SessionDep, _: Reader) -> AuthorProfileOut:
    """Show one person across their linked identities: history, sentiment, response times."""
    return AuthorProfileOut.of(await authors.author_profile(session, author_id=author_id))


@router.get("/{author_id}/mentions", responses=problem_responses(400, 401, 403, 404))
async def author_mentions(
    author_id: IdPath,
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
    sort: Literal["newest", "priority"] = "newest",
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: str | None = None,
) -> MentionPage:
    """List everything the person said, on every linked identity."""
    group = (await authors.identities_of(session, author_ids=[author_id]))[author_id]
    rows, next_cursor = await list_mentions(
        session,
        filters=MentionFilter(author_ids=sorted(group)),
        sort=sort,
        limit=min(limit or settings.page_size_default, settings.page_size_max),
        cursor=cursor,
    )
    return MentionPage(items=[MentionOut.of(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{author_id}/links",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def link_author(
    author_id: IdPath, body: LinkIn, session: SessionDep, principal: Triager
) -> AuthorProfileOut:
    """Link another author record to this one as the same person."""
    await authors.link_authors(
        session,
        author_id=author_id,
        other_id=body.other_author_id,
        actor=principal.user,
        note=body.note,
    )
    await session.commit()
    return AuthorProfileOut.of(await authors.author_profile(session, author_id=author_id))


@router.delete("/{author_id}/links/{other_id}", responses=problem_responses(401, 403, 404))
async def unlink_author(
    author_id: IdPath, other_id: IdPath, session: SessionDep, principal: Triager
) -> AuthorProfileOut:
    """Remove the link between two author records."""
    await authors.unlink_authors(
        session, author_id=author_id, other_id=other_id, actor=principal.user
    )
    await session.commit()
    return AuthorProfileOut.of(await authors.author_profile(session, author_id=author_id))


@router.post(
    "/{author_id}/notes",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
)
async def add_author_note(
    author_id: IdPath, body: AuthorNoteIn, session: SessionDep, principal: Triager
) -> AuthorNoteOut:
    """Keep an internal note about the person."""
    note = await authors.add_author_note(
        session, author_id=author_id, body=body.body, actor=principal.user
    )
    await session.commit()
    return AuthorNoteOut.of(note, principal.user.username)
