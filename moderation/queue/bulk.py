"""Bulk actions over a list of ids or everything matching a filter, with an exact undo.

The most requested moderation feature (Chatwoot issue #13535 "select all matching this filter",
Ozone issue #43). The selection is frozen into `bulk_job_items` when the job is
created, so "everything matching" means what the moderator saw. Each item records its state
before the action; an undo (within the window) restores exactly that state for every item that
nobody has touched since (same version), and skips, with a reason, the ones someone has.
Undo is a restoration, not a transition: it may return an item to "new".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import TypeAdapter
from pydantic.dataclasses import dataclass as validated_dataclass
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from listener.events import MENTION_UPDATED, record_mention_events
from listener.models import BulkJob, BulkJobItem, MentionTag, QueueItem, Role, Status, User
from moderation.queue import audit
from moderation.queue.errors import Conflict, InvalidRequest, NotFound, NotPermitted
from moderation.queue.listing import MentionFilter, matching_ids, tags_for
from moderation.queue.tags import ensure_tags, normalize_tag
from moderation.queue.workflow import (
    TRANSITIONS,
    check_assignee,
    check_force,
    claim_is_live,
    queue_state,
    transition_changes,
)

BulkAction = Literal["status", "spam", "assign", "tag", "untag", "undo"]
ACTIONS: tuple[BulkAction, ...] = ("status", "spam", "assign", "tag", "untag")
MAX_ITEMS = 10_000
_RESTORED = (
    "status",
    "status_changed_at",
    "status_reason",
    "assignee_id",
    "snoozed_until",
    "snooze_until_author",
    "first_response_at",
    "sla_outcome",
)
_TIMES = frozenset({"status_changed_at", "snoozed_until", "first_response_at"})


def _json_safe(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def snapshot(item: QueueItem, tags: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Everything a bulk action may change on an item, JSON-ready (undo restores it)."""
    return {name: _json_safe(getattr(item, name)) for name in _RESTORED} | {"tags": list(tags)}


def _restored(before: dict[str, Any]) -> dict[str, Any]:
    return {
        name: datetime.fromisoformat(before[name])
        if name in _TIMES and before[name] is not None
        else before[name]
        for name in _RESTORED
    }


@validated_dataclass(frozen=True)
class BulkParams:
    """What to do to each item: what the endpoint asks for and what the job applies.

    Stored on the job as `as_json()` (the action has its own column); `of_job` reads it back.
    """

    action: BulkAction
    status: Status | None = None
    assignee_id: int | None = None
    tags: tuple[str, ...] = ()
    reason: str | None = None
    force: bool = False

    def as_json(self) -> dict[str, Any]:
        """The parameters as stored on the job (an undo keeps only `force`)."""
        if self.action == "undo":
            return {"force": self.force}
        stored: dict[str, Any] = _PARAMS.dump_python(self, mode="json", exclude={"action"})
        return stored

    @classmethod
    def of_job(cls, job: BulkJob) -> BulkParams:
        """The parameters a job was created with."""
        return _PARAMS.validate_python({**job.params, "action": job.action})


_PARAMS = TypeAdapter(BulkParams)


async def _validated(session: AsyncSession, params: BulkParams, actor: User) -> BulkParams:
    if params.action not in ACTIONS:
        raise InvalidRequest(f"action: expected one of {', '.join(ACTIONS)}")
    check_force(actor, params.force)
    if params.action == "status" and params.status is None:
        raise InvalidRequest("status: required for a status change")
    if params.action == "spam":
        return BulkParams(
            action="spam", status=Status.SPAM, reason=params.reason, force=params.force
        )
    if params.action == "assign" and params.assignee_id is not None:
        await check_assignee(session, assignee_id=params.assignee_id)
    if params.action in ("tag", "untag"):
        tags = tuple(sorted({normalize_tag(t) for t in params.tags}))
        if not tags:
            raise InvalidRequest("tags: name at least one tag")
        return BulkParams(action=params.action, tags=tags, force=params.force)
    return params


async def _resolve(
    session: AsyncSession, *, ids: list[int] | None, filters: MentionFilter | None
) -> list[int]:
    if ids is not None:
        wanted = sorted(set(ids))
        if len(wanted) > MAX_ITEMS:
            raise InvalidRequest(f"ids: at most {MAX_ITEMS} per bulk action")
        found = set(
            (
                await session.execute(
                    select(QueueItem.mention_id).where(QueueItem.mention_id.in_(wanted))
                )
            ).scalars()
        )
        missing = [i for i in wanted if i not in found]
        if missing:
            shown = ", ".join(str(i) for i in missing[:10])
            raise InvalidRequest(f"ids: no such mentions: {shown}")
        return wanted
    if filters is None:
        raise InvalidRequest("give either 'ids' or a 'filter'")
    matched = await matching_ids(session, filters=filters, limit=MAX_ITEMS)
    if len(matched) > MAX_ITEMS:
        raise InvalidRequest(f"filter: matches more than {MAX_ITEMS} mentions; narrow it")
    return matched


async def _create(
    session: AsyncSession,
    *,
    params: BulkParams,
    selection: dict[str, Any],
    mention_ids: list[int],
    actor: User,
    actor_label: str,
    undo_of_id: int | None = None,
) -> BulkJob:
    job = BulkJob(
        action=params.action,
        params=params.as_json(),
        selection=selection,
        requested_by=actor.id,
        requested_by_label=actor_label,
        state="queued",
        total=len(mention_ids),
        undo_of_id=undo_of_id,
    )
    session.add(job)
    try:
        await session.flush()
    except IntegrityError as exc:  # two undo requests raced; the unique key let one through
        raise Conflict(f"bulk job {undo_of_id} is already being undone") from exc
    if mention_ids:
        await session.execute(
            insert(BulkJobItem),
            [{"job_id": job.id, "mention_id": m, "state": "pending"} for m in mention_ids],
        )
    audit.record(
        session,
        action=f"bulk_{params.action}_requested",
        actor=actor,
        actor_label=actor_label,
        entity="bulk_job",
        entity_id=job.id,
        after={"total": job.total, "params": job.params, "selection": selection},
    )
    return job


async def request_bulk(
    session: AsyncSession,
    *,
    params: BulkParams,
    ids: list[int] | None,
    filters: MentionFilter | None,
    selection: dict[str, Any],
    actor: User,
    actor_label: str,
) -> BulkJob:
    """Freeze the selection into a queued job (the runner applies it)."""
    params = await _validated(session, params, actor)
    mention_ids = await _resolve(session, ids=ids, filters=filters)
    return await _create(
        session,
        params=params,
        selection=selection,
        mention_ids=mention_ids,
        actor=actor,
        actor_label=actor_label,
    )


async def get_job(session: AsyncSession, *, job_id: int) -> BulkJob:
    """A bulk job as it stands."""
    job = await session.get(BulkJob, job_id, populate_existing=True)
    if job is None:
        raise NotFound(f"bulk job {job_id} does not exist")
    return job


async def undone_by(session: AsyncSession, *, job_id: int) -> int | None:
    """The id of the job that undid this one, if any."""
    found = await session.execute(select(BulkJob.id).where(BulkJob.undo_of_id == job_id))
    return found.scalar_one_or_none()


async def request_undo(
    session: AsyncSession, *, job_id: int, actor: User, actor_label: str, now: datetime
) -> BulkJob:
    """Queue a job that puts every item the bulk job changed back as it was."""
    original = await get_job(session, job_id=job_id)
    if original.action == "undo":
        raise Conflict("an undo cannot be undone; run the action again instead")
    if original.requested_by != actor.id and actor.role != Role.ADMIN.value:
        raise NotPermitted("only whoever ran the bulk action, or an admin, may undo it")
    if original.state not in ("done", "failed"):
        raise Conflict(f"bulk job {job_id} is still {original.state}; undo it when it has finished")
    if original.undo_until is None or now > original.undo_until:
        closed = original.undo_until.isoformat() if original.undo_until else "never opened"
        raise Conflict(f"the undo window of bulk job {job_id} has closed ({closed})")
    if await undone_by(session, job_id=job_id) is not None:
        raise Conflict(f"bulk job {job_id} is already undone")
    applied = list(
        (
            await session.execute(
                select(BulkJobItem.mention_id)
                .where(BulkJobItem.job_id == job_id, BulkJobItem.state == "applied")
                .order_by(BulkJobItem.mention_id)
            )
        ).scalars()
    )
    return await _create(
        session,
        params=BulkParams(action="undo", force=BulkParams.of_job(original).force),
        selection={"undo_of": job_id},
        mention_ids=applied,
        actor=actor,
        actor_label=actor_label,
        undo_of_id=job_id,
    )


@dataclass
class _Outcome:
    state: str
    reason: str | None = None
    changes: dict[str, Any] | None = None
    tags: list[str] | None = None


def _decide(
    job: BulkJob,
    params: BulkParams,
    item: QueueItem,
    tags: list[str],
    undo: tuple[dict[str, Any], int] | None,
    now: datetime,
) -> _Outcome:
    """What the job does to one item: apply (with which changes), leave as is, or skip (why)."""
    holder = item.claimed_by
    if claim_is_live(item, now) and holder != job.requested_by and not params.force:
        return _Outcome("skipped", f"claimed by user {holder}")
    if job.action == "undo":
        if undo is None or undo[0] is None:
            return _Outcome("skipped", "no state recorded before the action")
        before, after_version = undo
        if item.version != after_version:
            return _Outcome(
                "skipped", f"changed since (version {item.version}, not {after_version})"
            )
        return _Outcome("applied", changes=_restored(before), tags=list(before["tags"]))
    if job.action in ("status", "spam") and params.status is not None:
        to = params.status
        if item.status == to.value:
            return _Outcome("unchanged")
        if to not in TRANSITIONS[Status(item.status)]:
            return _Outcome("skipped", f"cannot move from {item.status} to {to.value}")
        return _Outcome(
            "applied", changes=transition_changes(item, to, now=now, reason=params.reason)
        )
    if job.action == "assign":
        if item.assignee_id == params.assignee_id:
            return _Outcome("unchanged")
        return _Outcome("applied", changes={"assignee_id": params.assignee_id})
    wanted = set(params.tags)
    new = sorted(set(tags) | wanted) if job.action == "tag" else sorted(set(tags) - wanted)
    if new == sorted(tags):
        return _Outcome("unchanged")
    return _Outcome("applied", changes={}, tags=new)


async def _retag(session: AsyncSession, job: BulkJob, retagged: dict[int, list[str]]) -> None:
    """Make each item's tags exactly as decided, in two statements per chunk."""
    if not retagged:
        return
    names = {n for tags in retagged.values() for n in tags}
    ids = await ensure_tags(session, names=names, created_by=job.requested_by)
    await session.execute(delete(MentionTag).where(MentionTag.mention_id.in_(list(retagged))))
    rows = [
        {"mention_id": m, "tag_id": ids[n], "added_by": job.requested_by}
        for m, tags in retagged.items()
        for n in tags
    ]
    if rows:
        await session.execute(insert(MentionTag), rows)


async def run_chunk(
    session: AsyncSession, *, job: BulkJob, mention_ids: list[int], now: datetime
) -> tuple[int, int]:
    """Apply the job to these pending items in the caller's transaction; (applied, skipped)."""
    items = {
        i.mention_id: i
        for i in (
            await session.execute(
                select(QueueItem)
                .where(QueueItem.mention_id.in_(mention_ids))
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalars()
    }
    tags = {m: list(t) for m, t in (await tags_for(session, mention_ids=mention_ids)).items()}
    undo: dict[int, tuple[dict[str, Any], int]] = {}
    if job.action == "undo":
        rows = await session.execute(
            select(BulkJobItem.mention_id, BulkJobItem.before, BulkJobItem.after_version).where(
                BulkJobItem.job_id == job.undo_of_id, BulkJobItem.mention_id.in_(mention_ids)
            )
        )
        undo = {m: (before, version) for m, before, version in rows}
    params = BulkParams.of_job(job)
    updates, results, retagged = [], [], {}
    applied = skipped = 0
    for mention_id in mention_ids:
        item = items.get(mention_id)
        current = tags.get(mention_id, [])
        outcome = (
            _Outcome("skipped", "mention no longer exists")
            if item is None
            else _decide(job, params, item, current, undo.get(mention_id), now)
        )
        result: dict[str, Any] = {"job_id": job.id, "mention_id": mention_id}
        result |= {"state": outcome.state, "reason": outcome.reason}
        if outcome.state == "applied" and item is not None:
            applied += 1
            changes = outcome.changes or {}
            updates.append(
                {"mention_id": mention_id, **changes, "version": item.version + 1}
                | {"updated_at": now}
            )
            if outcome.tags is not None:
                retagged[mention_id] = outcome.tags
            result |= {"before": snapshot(item, current), "after_version": item.version + 1}
            after_tags = outcome.tags if outcome.tags is not None else current
            audit.record(
                session,
                mention_id=mention_id,
                action=f"bulk_{job.action}",
                actor=None,
                actor_user_id=job.requested_by,
                actor_label=job.requested_by_label,
                before=queue_state(item) | {"tags": current},
                after=queue_state(item)
                | {k: _json_safe(v) for k, v in changes.items() if k in queue_state(item)}
                | {"version": item.version + 1, "tags": after_tags, "bulk_job_id": job.id},
            )
        elif outcome.state == "skipped":
            skipped += 1
        results.append(result)
    if updates:
        await session.execute(update(QueueItem), updates)
    await _retag(session, job, retagged)
    await session.execute(update(BulkJobItem), results)
    changed = [u["mention_id"] for u in updates]
    await record_mention_events(
        session, MENTION_UPDATED, changed, changes=_bulk_changes(job), extra={"bulk_job_id": job.id}
    )
    return applied, skipped


def _bulk_changes(job: BulkJob) -> list[str]:
    """What a bulk action changes, in the event's terms."""
    if job.action == "assign":
        return ["assignee"]
    if job.action in ("tag", "untag"):
        return ["tags"]
    if job.action == "undo":
        return ["status", "assignee", "tags"]
    return ["status"]
