"""The one domain error base: every refusal Luister answers with carries its own HTTP status.

Services raise subclasses; the API answers each as RFC 9457 `application/problem+json` (one
handler in `listener.rest.problems`), the CLI prints its `detail`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LuisterError(Exception):
    """Base class: an HTTP status, a problem type slug, a title, a detail and extra fields."""

    status: int = 400
    type_slug: str | None = "bad-request"
    title: str = "Bad request"

    def __init__(
        self, detail: str = "", *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers) if headers else None
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        body: dict[str, Any] = {
            "type": f"urn:luister:problem:{self.type_slug}" if self.type_slug else "about:blank",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        return body | self.extra
