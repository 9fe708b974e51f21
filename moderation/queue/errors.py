"""Errors the queue rules raise; the API turns each into a problem+json response."""

from __future__ import annotations

from listener.errors import LuisterError


class QueueError(LuisterError):
    """Base class of the queue's errors: a 400 unless a subclass says otherwise."""


class NotFound(QueueError):
    """The item does not exist."""

    status = 404
    type_slug = "not-found"
    title = "Not found"


class StaleVersion(QueueError):
    """The caller saw an older version; `current` holds the state as it is now."""

    status = 409
    type_slug = "stale-version"
    title = "The item changed since you loaded it"


class IllegalTransition(QueueError):
    """The status change is not allowed from the current status."""

    status = 409
    type_slug = "illegal-transition"
    title = "Status change not allowed"


class InvalidRequest(QueueError):
    """The request is well-formed but refers to something unusable (e.g. an unknown user)."""

    status = 400
    type_slug = "invalid-request"
    title = "Invalid request"


class ClaimedByOther(QueueError):
    """Another staff member holds a live claim on the item; `claim` says who and until when."""

    status = 409
    type_slug = "claimed"
    title = "Someone else is working on this item"


class Conflict(QueueError):
    """The request conflicts with the current state (e.g. an undo window that has closed)."""

    status = 409
    type_slug = "conflict"
    title = "Conflict with the current state"


class NotPermitted(QueueError):
    """The caller's role does not allow this (e.g. forcing past a claim needs an admin)."""

    status = 403
    type_slug = "forbidden"
    title = "Forbidden"
