"""The ASGI application: every domain's endpoints behind one error path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from api.desk import install_desk
from api.desk.render import STATIC_URL
from api.desk.session import COOKIE as DESK_COOKIE
from api.embedded import EmbeddedRunner
from api.wiring import JOBS, session_factory
from listener import __version__
from listener.accounts import endpoints as accounts
from listener.alerts import endpoints as alerts
from listener.db import engine_from_settings
from listener.digest import endpoints as digest
from listener.kit.heap import freeze_startup_heap
from listener.kit.http import make_client
from listener.nlp import endpoints as nlp
from listener.rest import health
from listener.rest import metrics as metrics_endpoint
from listener.rest.docs import install_docs, install_openapi
from listener.rest.metrics import RequestMetrics
from listener.rest.problems import install_error_handlers
from listener.rest.rate_limits import close_rate_limits, install_rate_limits
from listener.settings import Settings, get_settings
from listener.sources import endpoints as sources
from listener.stream import endpoints as stream
from listener.webhooks import endpoints as webhooks
from moderation.incidents import endpoints as incidents
from moderation.outbox.endpoints import questions, replies, templates
from moderation.privacy import endpoints as privacy
from moderation.queue.endpoints import (
    audit,
    authors,
    bulk,
    holds,
    mentions,
    own_accounts,
    search,
    triage,
    views,
)
from moderation.queue.endpoints import export as export_endpoint
from moderation.queue.endpoints import voice as share_of_voice
from moderation.queue.tasks import TriageRunner, arq_enqueue

#: Every domain's endpoints, in the order the API documentation lists them.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    accounts.router,
    export_endpoint.router,  # before mentions: /mentions/export is not a mention id
    mentions.router,
    sources.router,
    nlp.router,
    digest.router,
    alerts.router,
    replies.router,
    questions.router,
    templates.router,
    triage.router,
    bulk.router,
    views.router,
    search.router,
    share_of_voice.router,
    authors.router,
    audit.router,
    holds.router,
    own_accounts.router,
    privacy.router,
    incidents.router,
    webhooks.router,
    stream.router,
    metrics_endpoint.router,
)

DESCRIPTION = """
Luister listens to public conversation about your organisation and helps staff respond well.

Every endpoint except `/healthz`, `/readyz` and these docs needs an API token:
`Authorization: Bearer lst_…`; each operation names the scope it needs (`x-required-scope`).
Errors are RFC 9457 `application/problem+json`. Requests are rate limited per token (per
address without one): every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset`; over the limit the answer is 429 with `Retry-After`.
Writes carry the queue `version` you saw; a stale one gets 409 with the current state.
"""


def create_app(settings: Settings | None = None, *, engine: AsyncEngine | None = None) -> FastAPI:
    """Build the API; pass an engine to share one (tests), else one is made from settings."""
    settings = settings or get_settings()
    owns_engine = engine is None
    engine = engine or engine_from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Embedded mode: without Redis the API process runs the background jobs itself.
        runner = None
        if settings.run_jobs and settings.redis_url is None:
            if getattr(app.state, "http_client", None) is None:
                app.state.http_client = make_client(settings)
            runner = EmbeddedRunner(
                app.state.sessions, settings, JOBS, client=app.state.http_client
            )
            app.state.runner = runner
            runner.start()
        if getattr(app.state, "freeze_heap_after_startup", False):
            freeze_startup_heap()  # `luister serve` only (listener/kit/heap.py)
        yield
        await app.state.triage.stop()
        if runner is not None:
            await runner.stop()
        client = getattr(app.state, "http_client", None)
        if client is not None:
            await client.aclose()
        await close_rate_limits(app)
        if owns_engine:
            await engine.dispose()

    app = FastAPI(
        title="Luister",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, with its assets from the app itself
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(settings, engine)
    app.state.token_key = settings.secret_bytes()
    install_error_handlers(app)
    install_rate_limits(app, token_cookie=DESK_COOKIE, exempt_prefixes=(f"{STATIC_URL}/",))
    app.add_middleware(RequestMetrics)  # outermost: times every answer, 429s included
    # Bulk jobs run here without Redis; with Redis they are enqueued for the workers.
    app.state.triage = TriageRunner(
        app.state.sessions, settings, enqueue=arq_enqueue(settings) if settings.redis_url else None
    )
    for router in ROUTERS:
        app.include_router(router)
    install_docs(app)
    install_openapi(app)
    install_desk(app)  # the web desk at `/`, after the API so its routes never shadow one
    return app
