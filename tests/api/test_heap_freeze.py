"""`luister serve` freezes its start-up heap (listener/kit/heap.py); an app built in a test,
without the flag `luister serve` sets, leaves the collector alone."""

from __future__ import annotations

import gc

from sqlalchemy.ext.asyncio import AsyncEngine

from api.http.app import create_app
from listener.settings import Settings


async def test_only_a_served_app_freezes_the_heap_once_started(
    settings: Settings, engine: AsyncEngine
) -> None:
    quiet = settings.model_copy(update={"run_jobs": False})
    gc.unfreeze()
    built = create_app(quiet, engine=engine)
    async with built.router.lifespan_context(built):
        assert gc.get_freeze_count() == 0
    served = create_app(quiet, engine=engine)
    served.state.freeze_heap_after_startup = True  # as `luister serve` sets it
    try:
        async with served.router.lifespan_context(served):
            # Everything alive after start-up (modules, the app, its routes) is out of the
            # collector's full passes; what requests make later is collected as before.
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
