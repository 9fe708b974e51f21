"""Errors of the digest and alert services; each carries the HTTP status the API answers with."""

from __future__ import annotations


class DigestError(Exception):
    """Base class: a problem type slug, a title and an HTTP status."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DigestError):
    """The digest, list or alert does not exist."""

    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(DigestError):
    """The request clashes with the current state (a taken name, no email configured, …)."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class Invalid(DigestError):
    """The input is well-formed but not usable (an unknown week, a malformed address, …)."""

    status = 422
    slug = "invalid"
    title = "Invalid request"
