"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from api.errors import install_error_handlers
from api.routers import auth, health, mentions, sources
from listener import __version__
from listener.db import engine_from_settings, make_sessionmaker
from listener.jobs.runner import InProcessRunner
from listener.settings import Settings, get_settings

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
            runner = InProcessRunner(app.state.sessions, settings)
            runner.start()
        yield
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
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(mentions.router)
    app.include_router(sources.router)
    return app
