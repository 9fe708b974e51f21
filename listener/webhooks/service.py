"""Webhook subscriptions: create (the secret is shown once), change, rotate, replay, read the log.

Services flush and never commit: the endpoint owns the transaction. Secrets are stored
encrypted with a key derived from `LUISTER_SECRET_KEY` (`signing.seal`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.http import AllowList, BlockedAddress, check_address
from listener.errors import LuisterError
from listener.events import last_event_id
from listener.models import utcnow
from listener.models.events import WebhookDelivery, WebhookSubscription
from listener.settings import Settings
from listener.webhooks import signing


class WebhookNotFound(LuisterError):
    """No subscription with this id."""

    status = 404
    type_slug = "not-found"
    title = "Not found"


class WebhookUrlRefused(LuisterError):
    """The URL points where Luister may not send (SSRF rules) or is not a web URL."""

    status = 422
    type_slug = "webhook-url-refused"
    title = "Webhook URL refused"


def check_url(url: str, settings: Settings) -> str:
    """Refuse URLs that are not http(s) or whose host is a non-public address not allowed.

    Host names are checked again at every delivery, at connect time, by the guarded client
    (their addresses may change); here a literal address is refused at once.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRefused("url: expected an http or https URL with a host")
    if parts.username or parts.password:
        raise WebhookUrlRefused("url: credentials in the URL are not allowed")
    try:
        ip = ipaddress.ip_address(parts.hostname.strip("[]"))
    except ValueError:
        ip = None  # a name: checked when it is resolved, at each delivery
    if ip is not None:
        try:
            check_address(ip, AllowList.parse(settings.http_allow_hosts))
        except BlockedAddress as exc:
            raise WebhookUrlRefused(
                f"url: {exc}; add the address to LUISTER_HTTP_ALLOW_HOSTS if it is meant"
            ) from exc
    return url


@dataclass(frozen=True)
class Created:
    """A subscription with the secret to show once."""

    subscription: WebhookSubscription
    secret: str


async def get_subscription(session: AsyncSession, *, webhook_id: int) -> WebhookSubscription:
    """The subscription, as stored now; 404 if there is none."""
    sub = await session.get(WebhookSubscription, webhook_id, populate_existing=True)
    if sub is None:
        raise WebhookNotFound(f"webhook {webhook_id} does not exist")
    return sub


async def list_subscriptions(session: AsyncSession) -> list[WebhookSubscription]:
    """Every subscription, oldest first."""
    stmt = select(WebhookSubscription).order_by(WebhookSubscription.id)
    return list((await session.execute(stmt)).scalars())


async def create_subscription(
    session: AsyncSession,
    *,
    url: str,
    events: list[str],
    filter: dict[str, Any] | None,
    description: str | None,
    settings: Settings,
    created_by: int | None,
) -> Created:
    """Subscribe `url` to `events` from now on (events already in the log are not sent)."""
    check_url(url, settings)
    secret = signing.new_secret()
    sub = WebhookSubscription(
        url=url,
        events=events,
        filter=filter or {},
        description=description,
        enabled=True,
        secret_enc=signing.seal(secret, key=settings.secret_bytes()),
        cursor=await last_event_id(session),
        attempts=0,
        created_by=created_by,
    )
    session.add(sub)
    await session.flush()
    return Created(sub, secret)


def _reset_retries(sub: WebhookSubscription) -> None:
    sub.attempts = 0
    sub.failing_since = None
    sub.next_attempt_at = None


async def update_subscription(
    session: AsyncSession, *, webhook_id: int, changes: dict[str, Any], settings: Settings
) -> WebhookSubscription:
    """Apply a PATCH; enabling a disabled subscription starts its retries afresh."""
    sub = await get_subscription(session, webhook_id=webhook_id)
    if "url" in changes:
        sub.url = check_url(changes["url"], settings)
    if "events" in changes:
        sub.events = changes["events"]
    if "filter" in changes:
        sub.filter = changes["filter"] or {}
    if "description" in changes:
        sub.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != sub.enabled:
        sub.enabled = changes["enabled"]
        sub.disabled_reason = None if sub.enabled else "disabled by an admin"
        _reset_retries(sub)
    sub.updated_at = utcnow()
    await session.flush()
    return sub


async def delete_subscription(session: AsyncSession, *, webhook_id: int) -> None:
    """Remove the subscription and its delivery log."""
    sub = await get_subscription(session, webhook_id=webhook_id)
    await session.delete(sub)
    await session.flush()


async def rotate_secret(
    session: AsyncSession, *, webhook_id: int, settings: Settings, now: datetime | None = None
) -> Created:
    """A new secret (shown once); the current one keeps signing for the overlap window."""
    sub = await get_subscription(session, webhook_id=webhook_id)
    now = now or utcnow()
    key = settings.secret_bytes()
    secret = signing.new_secret()
    overlap = timedelta(hours=settings.webhook_rotation_overlap_hours)
    if overlap > timedelta(0):
        sub.previous_secret_enc = sub.secret_enc
        sub.previous_until = now + overlap
    else:
        sub.previous_secret_enc = None
        sub.previous_until = None
    sub.secret_enc = signing.seal(secret, key=key)
    sub.updated_at = now
    await session.flush()
    return Created(sub, secret)


def signing_secrets(sub: WebhookSubscription, *, key: bytes, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous during overlap."""
    found = [signing.unseal(sub.secret_enc, key=key)]
    if sub.previous_secret_enc and sub.previous_until and sub.previous_until > now:
        found.append(signing.unseal(sub.previous_secret_enc, key=key))
    return found


async def replay(
    session: AsyncSession, *, webhook_id: int, from_event_id: int
) -> WebhookSubscription:
    """Deliver again from `from_event_id` on, in order (same webhook-id as the first time)."""
    sub = await get_subscription(session, webhook_id=webhook_id)
    sub.cursor = from_event_id - 1
    _reset_retries(sub)
    sub.updated_at = utcnow()
    await session.flush()
    return sub


async def list_deliveries(
    session: AsyncSession, *, webhook_id: int, limit: int, before_id: int | None = None
) -> list[WebhookDelivery]:
    """The delivery log of one subscription, newest first."""
    await get_subscription(session, webhook_id=webhook_id)
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    return list((await session.execute(stmt)).scalars())


async def purge_deliveries(session: AsyncSession, *, before: datetime) -> int:
    """Drop delivery-log rows older than `before`; return how many."""
    result = await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.created_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
