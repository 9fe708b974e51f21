"""The retention job: every configured rule, applied once an hour (cheap when nothing is due)."""

from __future__ import annotations

from typing import Any

from moderation.privacy.retention import apply_retention


async def retention_job(ctx: dict[str, Any]) -> dict[str, int]:
    """arq cron (hourly): drop raw payloads, pseudonymise quiet authors, cut old audit entries."""
    settings = ctx["settings"]
    if (
        settings.retention_raw_days is None
        and settings.retention_author_days is None
        and settings.retention_audit_years is None
    ):
        return {}
    report = await apply_retention(ctx["sessions"], settings=settings)
    return report.as_dict()
