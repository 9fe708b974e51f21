"""The incident job: one function for arq workers and the in-process runner."""

from __future__ import annotations

from typing import Any

from moderation.incidents.service import detect_incidents


async def detect_incidents_job(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq cron: group new bursts into incidents and let new members join open ones."""
    async with ctx["sessions"]() as session, session.begin():
        report = await detect_incidents(session)
    return report.as_dict()
