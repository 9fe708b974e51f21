"""Errors of the database-facing NLP services; each carries the HTTP status the API answers with."""

from __future__ import annotations

from typing import Any


class NlpError(Exception):
    """Base class: an HTTP status, a problem type slug and a title, like `QueueError`."""

    status = 400
    type_slug = "invalid-request"
    title = "Invalid request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(NlpError):
    """The mention, topic or model does not exist."""

    status = 404
    type_slug = "not-found"
    title = "Not found"


class InvalidRequest(NlpError):
    """Well-formed, but names something unusable (an unknown topic, say)."""


class Conflict(NlpError):
    """The change conflicts with what is stored (a topic name that is taken, say)."""

    status = 409
    type_slug = "conflict"
    title = "Conflict with the current state"


class NotEnoughData(NlpError):
    """Training cannot start: too few corrections, or none held out to score on."""

    status = 409
    type_slug = "not-enough-data"
    title = "Not enough corrections to train on"
