"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from api.embedded import InProcessRunner
from listener import __version__
from listener.accounts import endpoints as auth
from listener.db import engine_from_settings, make_sessionmaker
from listener.digest import endpoints as digests
from listener.digest.tasks import ListeningSchedule
from listener.nlp import endpoints as nlp_router
from listener.rest import health
from listener.rest.problems import install_error_handlers
from listener.settings import Settings, get_settings
from listener.sources import endpoints as sources
from moderation.outbox.endpoints import questions, replies, templates
from moderation.outbox.followup import install_hooks as install_followup_hooks
from moderation.outbox.tasks import outbox_tick
from moderation.queue.endpoints import audit as audit_router
from moderation.queue.endpoints import authors as authors_router
from moderation.queue.endpoints import bulk as bulk_router
from moderation.queue.endpoints import mentions
from moderation.queue.endpoints import search as search_router
from moderation.queue.endpoints import triage as triage_router
from moderation.queue.endpoints import views as views_router
from moderation.queue.reactions import install as install_triage_hooks
from moderation.queue.tasks import TriageRunner, arq_enqueue

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
        # Embedded mode: without Redis the API process runs the polls itself.
        runner = None
        if settings.run_jobs and settings.redis_url is None:
            runner = InProcessRunner(
                app.state.sessions, settings, extra_ticks=[outbox_tick, ListeningSchedule()]
            )
            runner.start()
            app.state.triage.start()  # snooze wake-ups, score refresh, orphaned bulk jobs
        yield
        await app.state.triage.stop()
        if runner is not None:
            await runner.stop()
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
    app.state.sessions = make_sessionmaker(engine)
    app.state.token_key = settings.secret_bytes()
    install_error_handlers(app)
    install_followup_hooks(settings)
    install_triage_hooks(settings)
    # Bulk jobs run here without Redis; with Redis they are enqueued for the workers.
    app.state.triage = TriageRunner(
        app.state.sessions, settings, enqueue=arq_enqueue(settings) if settings.redis_url else None
    )
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(mentions.router)
    app.include_router(sources.router)
    app.include_router(nlp_router.router)
    app.include_router(digests.router)
    app.include_router(replies.router)
    app.include_router(questions.router)
    app.include_router(templates.router)
    app.include_router(triage_router.router)
    app.include_router(bulk_router.router)
    app.include_router(views_router.router)
    app.include_router(search_router.router)
    app.include_router(authors_router.router)
    app.include_router(audit_router.router)
    return app
