"""The queue's filter parameters, read once for every endpoint that selects mentions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Query

from listener import query as query_language
from listener.kit import MAX_DB_INT
from listener.kit.datetimes import Instant
from listener.models import Status
from listener.rest.deps import Reader, SessionDep
from listener.rest.params import OptionalIdQuery
from moderation.queue import views
from moderation.queue.listing import MentionFilter

QUERY_DOC = (
    "A query in Luister's query language (docs/QUERY.md): words (case and accents do not "
    'matter), "exact phrases", `AND`, `OR`, `NOT` or `-word`, parentheses, `fiets*` (prefix), '
    "`a NEAR/3 b` (at most 3 words apart), and fields: `author:`, `platform:`, `lang:`, "
    "`source:` (id or name), `sentiment:`, `intent:`, `topic:`, `has:link`, "
    "`followers:>1000` (also >=, <, <=, =), `after:2026-11-01`, `before:2026-12-01`. Terms "
    "next to each other must all match; AND binds tighter than OR. A query that cannot be read "
    "is a 422 whose detail names the column and what was expected there."
)
QUERY_EXAMPLES = {
    "outage": {
        "summary": "Dutch complaints about the outage",
        "value": '(storing OR "ligt eruit" OR storingen) lang:nl -test',
    },
    "reach": {
        "summary": "Negative posts by big accounts since November",
        "value": "sentiment:negative followers:>=1000 after:2026-11-01",
    },
    "proximity": {
        "summary": "App words near 'crash', with a link",
        "value": "app* NEAR/3 crash* has:link",
    },
}


@dataclass(frozen=True)
class Selection:
    """What the query selects, and the sort of the saved view it came from (if any)."""

    filters: MentionFilter
    view_sort: str | None = None


async def queue_selection(
    session: SessionDep,
    principal: Reader,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    source_id: OptionalIdQuery = None,
    platform: str | None = None,
    language: str | None = None,
    sentiment: Literal["positive", "neutral", "negative"] | None = None,
    intent: Annotated[str | None, Query(max_length=32, examples=["complaint"])] = None,
    topic: str | None = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    author_id: OptionalIdQuery = None,
    assignee_id: OptionalIdQuery = None,
    unassigned: bool = False,
    mine: Annotated[bool, Query(description="Assigned to me")] = False,
    since: Instant | None = None,
    until: Instant | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text contains")] = None,
    query: Annotated[
        str | None,
        Query(
            max_length=query_language.MAX_QUERY_LENGTH,
            description=QUERY_DOC,
            openapi_examples=QUERY_EXAMPLES,
        ),
    ] = None,
    min_priority: Annotated[int | None, Query(ge=0, le=100)] = None,
    breached: Annotated[bool, Query(description="Waiting past the SLA due time")] = False,
    due_within_minutes: Annotated[
        int | None, Query(ge=1, le=7 * 24 * 60, description="SLA due soon, not yet breached")
    ] = None,
    view: Annotated[
        int | None,
        Query(ge=1, le=MAX_DB_INT, description="A saved view's id; other filters narrow it"),
    ] = None,
) -> Selection:
    """The queue filter the query parameters (and the saved view they name) describe."""
    filters = MentionFilter(
        status=[s.value for s in status_ or []],
        source_id=source_id,
        platform=platform,
        language=language,
        sentiment=sentiment,
        intent=intent,
        topic=topic,
        tag=tag,
        author_id=author_id,
        assignee_id=principal.user.id if mine else assignee_id,
        unassigned=unassigned,
        since=since,
        until=until,
        text=q,
        query=_checked(query),
        min_priority=min_priority,
        breached=breached,
        due_within_minutes=due_within_minutes,
    )
    if view is None:
        return Selection(filters)
    saved = await views.get_view(session, view_id=view, user_id=principal.user.id)
    stored = views.mention_filter(saved.filters, user_id=principal.user.id)
    narrowed = stored.narrowed_by(filters)
    if stored.query and filters.query:
        # Both queries hold: the request's narrows the view's instead of replacing it.
        narrowed.query = f"({stored.query}) AND ({filters.query})"
    return Selection(narrowed, view_sort=saved.sort)


def _checked(text: str | None) -> str | None:
    """The query as given, once it parses (422 naming the column otherwise); blank means none."""
    if text is None or not text.strip():
        return None
    query_language.parse(text, field="query")
    return text


QueueSelection = Annotated[Selection, Depends(queue_selection)]
