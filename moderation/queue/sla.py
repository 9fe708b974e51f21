"""First-response SLAs: a target per priority band, `due_at` per item, the outcome on response.

As in Chatwoot's SLA policies, an item is *breached* while it waits
past its due time, and the outcome (met or missed) is stamped once, on the first answer.
The band only ever tightens while the item waits: a mention that became urgent
keeps an urgent deadline even if its score later decays.

One clock: the deadline runs from the post's `created_at` (the author's wait), not from when
Luister heard it. A post first heard long after it was written (an import, a backfill) gets
no fresh SLA: it is flagged `heard_late`. Resolving without an answer is its own outcome,
`unanswered`, never "met"; a reopened item that is then answered is judged on that answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_

from listener.models import QueueItem, Status

BANDS = ("low", "medium", "high", "urgent")  # least to most urgent
# Statuses in which the team still owes a first response (snoozed waits; its clock is paused).
WAITING = frozenset({Status.NEW, Status.OPEN, Status.ESCALATED})
RESPONSES = frozenset({Status.ANSWERED, Status.RESOLVED})
UNANSWERED = "unanswered"  # resolved without a first answer
HEARD_LATE = "heard_late"  # first heard too long after posting to hold a deadline


def band_for(score: float, thresholds: Mapping[str, int]) -> str:
    """The band a base score falls in, given the lowest score of each band."""
    for band in ("urgent", "high", "medium"):
        if score >= thresholds[band]:
            return band
    return "low"


def stricter(band: str, other: str | None) -> str:
    """The more urgent of two bands (None counts as no band)."""
    if other is None or other not in BANDS:
        return band
    return band if BANDS.index(band) >= BANDS.index(other) else other


def due_at_for(created_at: datetime, band: str, targets: Mapping[str, int]) -> datetime:
    """When the first response is due for a post written at `created_at`."""
    return created_at + timedelta(minutes=targets[band])


def heard_late(item: QueueItem) -> bool:
    """Whether the item was first heard too long after posting to get an SLA."""
    explain = item.priority_explain
    return isinstance(explain, dict) and bool(explain.get(HEARD_LATE))


def response_changes(item: QueueItem, to: Status, now: datetime) -> dict[str, Any]:
    """The SLA columns to set when `item` moves to `to`.

    An answer stamps `first_response_at` and met/missed (or heard_late) once; resolving without
    an answer stamps `unanswered` and stops no clock for good: reopening clears it.
    """
    if item.first_response_at is not None:
        return {}
    if to is Status.ANSWERED:
        if item.due_at is not None:
            outcome: str | None = "met" if now <= item.due_at else "missed"
        else:
            outcome = HEARD_LATE if heard_late(item) else None
        return {"first_response_at": now, "sla_outcome": outcome}
    if to is Status.RESOLVED:
        return {"sla_outcome": UNANSWERED}
    if to in WAITING and item.sla_outcome == UNANSWERED:
        return {"sla_outcome": None}
    return {}


def is_waiting(item: QueueItem) -> bool:
    """Whether the team still owes this item a first response."""
    return item.first_response_at is None and Status(item.status) in WAITING


def state(item: QueueItem, now: datetime) -> str | None:
    """met / missed / unanswered / heard_late once closed; breached / on_track while waiting;
    heard_late while a late-heard item waits; None without a target."""
    if item.sla_outcome is not None:
        return item.sla_outcome
    if item.due_at is None and heard_late(item):
        return HEARD_LATE
    if item.due_at is None or not is_waiting(item):
        return None
    return "breached" if item.due_at < now else "on_track"


def _waiting() -> ColumnElement[bool]:
    return and_(
        QueueItem.first_response_at.is_(None),
        QueueItem.due_at.is_not(None),
        QueueItem.status.in_([s.value for s in WAITING]),
    )


def breached(now: datetime) -> ColumnElement[bool]:
    """Items waiting past their due time."""
    return and_(_waiting(), QueueItem.due_at < now)


def due_within(now: datetime, minutes: int) -> ColumnElement[bool]:
    """Items not yet breached whose first response is due in the next `minutes`."""
    return and_(
        _waiting(), QueueItem.due_at >= now, QueueItem.due_at < now + timedelta(minutes=minutes)
    )
