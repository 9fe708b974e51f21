"""Spike alerts: list them, read one, run the hourly check now."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.alerts.notify import check_spikes
from listener.digest import service
from listener.digest.schemas import AlertCheckIn, AlertOut, AlertPage
from listener.digest.tasks import hour_floor
from listener.kit import decode_id_cursor, encode_cursor
from listener.models import utcnow
from listener.rest.deps import Admin, Reader, SessionDep, SettingsDep
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["digests"])

Limit = Annotated[int, Query(ge=1, le=200)]


@router.get("/alerts", responses=problem_responses(400, 401, 403))
async def list_alerts(
    session: SessionDep, _: Reader, limit: Limit = 50, cursor: str | None = None
) -> AlertPage:
    """List spike alerts, newest first, each with what drove it."""
    alerts = await service.list_alerts(session, limit=limit + 1, before_id=decode_id_cursor(cursor))
    page = alerts[:limit]
    return AlertPage(
        items=[AlertOut.of(a) for a in page],
        next_cursor=encode_cursor(page[-1].id) if len(alerts) > limit else None,
    )


@router.get("/alerts/{alert_id}", responses=problem_responses(401, 403, 404))
async def get_alert(alert_id: IdPath, session: SessionDep, _: Reader) -> AlertOut:
    """Get one spike alert."""
    return AlertOut.of(await service.get_alert(session, alert_id=alert_id))


@router.post("/alerts/check", responses=problem_responses(401, 403, 422))
async def check_alerts_now(
    request: Request, settings: SettingsDep, principal: Admin, body: AlertCheckIn | None = None
) -> list[AlertOut]:
    """Run the spike check for the hour ending at `at` (default: the last full hour)."""
    at = (body or AlertCheckIn()).at or utcnow()
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    raised = await check_spikes(sessions, settings=settings, window_end=hour_floor(at))
    return [AlertOut.of(a) for a in raised]
