"""`GET /metrics` for Prometheus, and the middleware that times every request.

Protection: `/metrics` needs a token with the `metrics` scope (made for a scraper by an admin:
`luister tokens create --user ADMIN --scope metrics`) or the `admin` scope. Prometheus sends it
with `authorization: {type: Bearer, credentials_file: ...}` in its scrape config.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from listener import metrics
from listener.rest.deps import MetricsReader, SessionDep
from listener.rest.problems import problem_responses

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403),
    },
)
async def get_metrics(_: MetricsReader, session: SessionDep) -> Response:
    """This process's metrics and the queue's depth, in the Prometheus text format."""
    depth = await metrics.queue_depth(session)
    # Rendering takes a while with many series: off the event loop, so requests go on meanwhile.
    text = await asyncio.to_thread(metrics.render, depth)
    return Response(text, media_type=metrics.CONTENT_TYPE_LATEST)


def route_label(scope: Scope) -> str:
    """The route template that answered (never the raw path), or `<unmatched>`."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return f"{scope.get('root_path', '')}{path}" if scope.get("root_path") else path
    return "<unmatched>"


class RequestMetrics:
    """Observe each HTTP request's duration by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            metrics.HTTP_REQUEST_SECONDS.labels(
                method=scope.get("method", ""),
                route=route_label(scope),
                status=f"{status // 100}xx",
            ).observe(time.perf_counter() - started)
