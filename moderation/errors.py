"""Errors the queue rules raise; the API turns each into a problem+json response."""

from __future__ import annotations

from typing import Any


class QueueError(Exception):
    """Base class: carries the HTTP status and a problem type slug."""

    status = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


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
