"""Full-text search over mentions: one API over PostgreSQL text search and SQLite FTS5."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from listener.models import Status
from listener.rest.deps import Reader, SessionDep, SettingsDep
from listener.rest.params import OptionalIdQuery
from listener.rest.problems import problem_responses
from moderation.queue.listing import MentionFilter, list_mentions
from moderation.queue.schemas import MentionOut, MentionPage

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.get("", responses=problem_responses(400, 401, 403))
async def search_mentions(
    session: SessionDep,
    settings: SettingsDep,
    _: Reader,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description='Words, "a phrase", -excluded, a OR b, prefix*',
            examples=['"app down" OR storing -test'],
        ),
    ],
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    platform: str | None = None,
    language: str | None = None,
    sentiment: Literal["positive", "neutral", "negative"] | None = None,
    tag: str | None = None,
    author_id: OptionalIdQuery = None,
    sort: Annotated[
        Literal["newest", "relevance", "priority"],
        Query(
            description="newest: a stream of the latest matches (fast at any size); relevance: "
            "best matches first (with PostgreSQL's default GIN index every match is ranked, so "
            "very common words take longer; `luister db search-index rum` ranks in the index)"
        ),
    ] = "newest",
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: str | None = None,
) -> MentionPage:
    """Search mentions by their words, stemmed in each mention's own language."""
    filters = MentionFilter(
        status=[s.value for s in status_ or []],
        platform=platform,
        language=language,
        sentiment=sentiment,
        tag=tag,
        author_id=author_id,
        search=q,
    )
    rows, next_cursor = await list_mentions(
        session,
        filters=filters,
        sort=sort,
        limit=min(limit or settings.page_size_default, settings.page_size_max),
        cursor=cursor,
    )
    return MentionPage(items=[MentionOut.of(r) for r in rows], next_cursor=next_cursor)
