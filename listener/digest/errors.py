"""Errors of the digest and alert services; each carries the HTTP status the API answers with."""

from __future__ import annotations

from listener.errors import LuisterError


class DigestError(LuisterError):
    """Base class of the digest and alert services' errors."""


class NotFound(DigestError):
    """The digest, list or alert does not exist."""

    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(DigestError):
    """The request clashes with the current state (a taken name, no email configured, …)."""

    status = 409
    type_slug = "conflict"
    title = "Conflict"


class Invalid(DigestError):
    """The input is well-formed but not usable (an unknown week, a malformed address, …)."""

    status = 422
    type_slug = "invalid"
    title = "Invalid request"
