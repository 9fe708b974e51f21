"""The ASGI application: every domain's endpoints behind one error path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from api.embedded import EmbeddedRunner
from api.wiring import JOBS, session_factory
from listener import __version__
from listener.accounts import endpoints as accounts
from listener.alerts import endpoints as alerts
from listener.db import engine_from_settings
from listener.digest import endpoints as digest
from listener.kit.http import make_client
from listener.nlp import endpoints as nlp
from listener.rest import health
from listener.rest.problems import install_error_handlers
from listener.settings import Settings, get_settings
from listener.sources import endpoints as sources
from moderation.outbox.endpoints import questions, replies, templates
from moderation.privacy import endpoints as privacy
from moderation.queue.endpoints import audit, authors, bulk, holds, mentions, search, triage, views
from moderation.queue.tasks import TriageRunner, arq_enqueue

#: Every domain's endpoints, in the order the API documentation lists them.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    accounts.router,
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
    authors.router,
    audit.router,
    holds.router,
    privacy.router,
)

DESCRIPTION = """
Luister listens to public conversation about your organisation and helps staff respond well.

Every endpoint except `/healthz`, `/readyz` and these docs needs an API token:
`Authorization: Bearer lst_…`. Errors are RFC 9457 `application/problem+json`.
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
        yield
        await app.state.triage.stop()
        if runner is not None:
            await runner.stop()
        client = getattr(app.state, "http_client", None)
        if client is not None:
            await client.aclose()
        if owns_engine:
            await engine.dispose()

    app = FastAPI(
        title="Luister",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(settings, engine)
    app.state.token_key = settings.secret_bytes()
    install_error_handlers(app)
    # Bulk jobs run here without Redis; with Redis they are enqueued for the workers.
    app.state.triage = TriageRunner(
        app.state.sessions, settings, enqueue=arq_enqueue(settings) if settings.redis_url else None
    )
    for router in ROUTERS:
        app.include_router(router)
    return app
