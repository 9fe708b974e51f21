"""Bulk actions: one action on many mentions, run as a job, with progress and undo."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy import select

from listener.kit import MAX_DB_INT
from listener.models import BulkJob, BulkJobItem, utcnow
from listener.rest.deps import SessionDep, Triager
from listener.rest.idempotency import IdempotencyDep, IdempotentRoute
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.queue import bulk, views
from moderation.queue.bulk import BulkParams
from moderation.queue.tasks import TriageRunner
from moderation.queue.triage_schemas import BulkIn, BulkItemOut, BulkJobOut

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/bulk", tags=["bulk"], route_class=IdempotentRoute)

_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Accepted: poll the job at `Location` (it runs in the background)",
        "model": BulkJobOut,
    }
}


def _runner(request: Request) -> TriageRunner:
    runner: TriageRunner = request.app.state.triage
    return runner


Runner = Annotated[TriageRunner, Depends(_runner)]


async def _start(
    job: BulkJob, session: SessionDep, runner: TriageRunner, request: Request, response: Response
) -> BulkJobOut:
    """Small jobs run before answering (200); larger ones in the background (202 + Location).

    The job's row (and the request's idempotency key) is committed first: from then on the job
    will run, so nothing after the commit may answer with an error that invites a retry. When
    Redis cannot take the job, or the inline run is cut short, the answer is 202: the row stays
    queued and the triage sweep enqueues it (the database is the truth, Redis only the
    trigger); its lease and pending items keep a second runner from applying anything twice.
    """
    await session.commit()
    response.headers["Location"] = str(request.url_for("get_bulk_job", job_id=job.id))
    accepted = BulkJobOut.of(job, undone_by_id=None)  # as committed, needing nothing more
    try:
        if job.total <= runner.settings.bulk_inline_limit:
            await runner.run_now(job.id)
        else:
            await runner.submit(job.id)
            response.status_code = status.HTTP_202_ACCEPTED
        fresh = await bulk.get_job(session, job_id=job.id)
        return BulkJobOut.of(fresh, undone_by_id=await bulk.undone_by(session, job_id=job.id))
    except Exception:
        log.warning(
            "bulk job %s is committed but was not started now; the triage sweep will run it",
            job.id,
            exc_info=True,
        )
        response.status_code = status.HTTP_202_ACCEPTED
        return accepted


@router.post(
    "",
    responses={**_ACCEPTED, **problem_responses(400, 401, 403, 404, 409, 422)},
)
async def start_bulk(
    body: BulkIn,
    session: SessionDep,
    principal: Triager,
    _: IdempotencyDep,
    runner: Runner,
    request: Request,
    response: Response,
) -> BulkJobOut:
    """Apply one action to a list of ids, a filter or a saved view (up to 10,000 mentions).

    Send an `Idempotency-Key` to retry safely: the same key gets the first answer again.
    """
    filters = None
    selection: dict[str, object]
    if body.filter is not None:
        filters = body.filter.for_user(principal.user.id)
        selection = {"filter": body.filter.stored()}
    elif body.view_id is not None:
        view = await views.get_view(session, view_id=body.view_id, user_id=principal.user.id)
        filters = views.mention_filter(view.filters, user_id=principal.user.id)
        selection = {"view_id": view.id, "filter": view.filters}
    else:
        selection = {"ids": len(body.ids or [])}
    job = await bulk.request_bulk(
        session,
        params=BulkParams(
            action=body.action,
            status=body.status,
            assignee_id=body.assignee_id,
            tags=tuple(body.tags),
            reason=body.reason,
            force=body.force,
        ),
        ids=body.ids,
        filters=filters,
        selection=selection,
        actor=principal.user,
        actor_label=principal.label,
    )
    return await _start(job, session, runner, request, response)


@router.get("/{job_id}", responses=problem_responses(401, 403, 404))
async def get_bulk_job(job_id: IdPath, session: SessionDep, _: Triager) -> BulkJobOut:
    """Show a bulk job's progress and outcome."""
    job = await bulk.get_job(session, job_id=job_id)
    return BulkJobOut.of(job, undone_by_id=await bulk.undone_by(session, job_id=job_id))


@router.get("/{job_id}/items", responses=problem_responses(401, 403, 404))
async def bulk_job_items(
    job_id: IdPath,
    session: SessionDep,
    _: Triager,
    state: Literal["pending", "applied", "unchanged", "skipped"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    after: Annotated[
        int | None, Query(ge=1, le=MAX_DB_INT, description="Mention id to continue after")
    ] = None,
) -> list[BulkItemOut]:
    """List what a bulk job did to each mention (filter by state, e.g. skipped, to see why)."""
    await bulk.get_job(session, job_id=job_id)
    stmt = select(BulkJobItem).where(BulkJobItem.job_id == job_id)
    if state:
        stmt = stmt.where(BulkJobItem.state == state)
    if after is not None:
        stmt = stmt.where(BulkJobItem.mention_id > after)
    rows = (await session.execute(stmt.order_by(BulkJobItem.mention_id).limit(limit))).scalars()
    return [BulkItemOut(mention_id=r.mention_id, state=r.state, reason=r.reason) for r in rows]


@router.post(
    "/{job_id}/undo",
    responses={**_ACCEPTED, **problem_responses(401, 403, 404, 409, 422)},
)
async def undo_bulk_job(
    job_id: IdPath,
    session: SessionDep,
    principal: Triager,
    _: IdempotencyDep,
    runner: Runner,
    request: Request,
    response: Response,
) -> BulkJobOut:
    """Undo a bulk action within its window: every item nobody changed since is restored."""
    job = await bulk.request_undo(
        session, job_id=job_id, actor=principal.user, actor_label=principal.label, now=utcnow()
    )
    return await _start(job, session, runner, request, response)
