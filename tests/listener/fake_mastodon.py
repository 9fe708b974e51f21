"""A fake Mastodon for deletion tests: a tag timeline to poll, statuses that can be deleted.

Deleted statuses answer `GET /api/v1/statuses/:id` with 404, as Mastodon does; the server binds
127.0.0.1 only.
"""

from __future__ import annotations

import html
import itertools
import threading
from datetime import timedelta
from typing import Any

from listener.models import utcnow
from tests.connectors.servers import LoopbackServer, Reply, Request


class FakeMastodon:
    """Local statuses on a tag timeline; deleted ones answer 404, as Mastodon does."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.statuses: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.ids = itertools.count(1001)
        self.lock = threading.Lock()
        server.route("/api/v1/timelines/tag/{tag}", self._timeline)
        server.route("/api/v1/statuses/{id}", self._status)

    def post(self, text: str) -> dict[str, Any]:
        """A public status by anna on this instance."""
        status_id = str(next(self.ids))
        status = {
            "id": status_id,
            "created_at": (utcnow() - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "visibility": "public",
            "language": "nl",
            "uri": self.server.url(f"/users/anna/statuses/{status_id}"),
            "url": self.server.url(f"/@anna/{status_id}"),
            "content": f"<p>{html.escape(text)}</p>",
            "account": {"id": "7", "acct": "anna", "url": self.server.url("/@anna")},
            "reblog": None,
        }
        with self.lock:
            self.statuses[status_id] = status
        return status

    def delete(self, status: dict[str, Any]) -> None:
        with self.lock:
            self.deleted.add(status["id"])

    def _timeline(self, request: Request) -> Reply:
        with self.lock:
            live = [s for i, s in self.statuses.items() if i not in self.deleted]
        return Reply.json(sorted(live, key=lambda s: int(s["id"]), reverse=True))

    def _status(self, request: Request) -> Reply:
        with self.lock:
            status = self.statuses.get(request.params["id"])
            gone = request.params["id"] in self.deleted
        if status is None or gone:
            return Reply.json({"error": "Record not found"}, 404)
        return Reply.json(status)
