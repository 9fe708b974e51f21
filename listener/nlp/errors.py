"""Errors of the database-facing NLP services; each carries the HTTP status the API answers with."""

from __future__ import annotations

from listener.errors import LuisterError


class NlpError(LuisterError):
    """Base class of the NLP services' errors."""

    status = 400
    type_slug = "invalid-request"
    title = "Invalid request"


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
