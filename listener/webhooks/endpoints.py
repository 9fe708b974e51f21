"""Webhook subscriptions (admin): create, list, change, delete, rotate, the log, replay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from listener.kit import decode_id_cursor, encode_cursor
from listener.rest.deps import Admin, SessionDep, SettingsDep
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from listener.webhooks import service
from listener.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    ReplayIn,
    WebhookIn,
    WebhookOut,
    WebhookUpdate,
    WebhookWithSecret,
)

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

Limit = Annotated[int, Query(ge=1, le=200)]


def _with_secret(created: service.Created) -> WebhookWithSecret:
    out = WebhookOut.of(created.subscription)
    return WebhookWithSecret(**out.model_dump(), secret=created.secret)


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
async def create_webhook(
    body: WebhookIn, session: SessionDep, settings: SettingsDep, principal: Admin
) -> WebhookWithSecret:
    """Subscribe a URL to events from now on; the answer holds the secret, shown only once."""
    created = await service.create_subscription(
        session,
        url=body.url,
        events=body.events,
        filter=body.filter.model_dump(exclude_none=True) if body.filter else None,
        description=body.description,
        settings=settings,
        created_by=principal.user.id,
    )
    await session.commit()
    return _with_secret(created)


@router.get("/webhooks", responses=problem_responses(401, 403))
async def list_webhooks(session: SessionDep, _: Admin) -> list[WebhookOut]:
    """Every subscription (without secrets)."""
    return [WebhookOut.of(s) for s in await service.list_subscriptions(session)]


@router.get("/webhooks/{webhook_id}", responses=problem_responses(401, 403, 404))
async def get_webhook(webhook_id: IdPath, session: SessionDep, _: Admin) -> WebhookOut:
    """One subscription and where its delivery stands."""
    return WebhookOut.of(await service.get_subscription(session, webhook_id=webhook_id))


@router.patch("/webhooks/{webhook_id}", responses=problem_responses(401, 403, 404, 422))
async def update_webhook(
    webhook_id: IdPath,
    body: WebhookUpdate,
    session: SessionDep,
    settings: SettingsDep,
    _: Admin,
) -> WebhookOut:
    """Change the URL, events, filter or description; `enabled: true` resumes a disabled one."""
    changes = body.model_dump(exclude_unset=True)
    if "filter" in changes and body.filter is not None:
        changes["filter"] = body.filter.model_dump(exclude_none=True)
    sub = await service.update_subscription(
        session, webhook_id=webhook_id, changes=changes, settings=settings
    )
    await session.commit()
    return WebhookOut.of(sub)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def delete_webhook(webhook_id: IdPath, session: SessionDep, _: Admin) -> Response:
    """Remove a subscription and its delivery log."""
    await service.delete_subscription(session, webhook_id=webhook_id)
    await session.commit()
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/rotate", responses=problem_responses(401, 403, 404))
async def rotate_webhook_secret(
    webhook_id: IdPath, session: SessionDep, settings: SettingsDep, _: Admin
) -> WebhookWithSecret:
    """A new secret, shown once; the old one also signs during the overlap window."""
    created = await service.rotate_secret(session, webhook_id=webhook_id, settings=settings)
    await session.commit()
    return _with_secret(created)


@router.get("/webhooks/{webhook_id}/deliveries", responses=problem_responses(400, 401, 403, 404))
async def list_webhook_deliveries(
    webhook_id: IdPath,
    session: SessionDep,
    _: Admin,
    limit: Limit = 50,
    cursor: str | None = None,
) -> DeliveryPage:
    """The delivery log, newest first: event, attempt, response code, duration, error, retry."""
    rows = await service.list_deliveries(
        session, webhook_id=webhook_id, limit=limit + 1, before_id=decode_id_cursor(cursor)
    )
    page = rows[:limit]
    return DeliveryPage(
        items=[DeliveryOut.of(d) for d in page],
        next_cursor=encode_cursor(page[-1].id) if len(rows) > limit else None,
    )


@router.post("/webhooks/{webhook_id}/replay", responses=problem_responses(401, 403, 404, 422))
async def replay_webhook(
    webhook_id: IdPath, body: ReplayIn, session: SessionDep, _: Admin
) -> WebhookOut:
    """Deliver again from an event id on, in order, each with its original `webhook-id`."""
    sub = await service.replay(session, webhook_id=webhook_id, from_event_id=body.from_event_id)
    await session.commit()
    return WebhookOut.of(sub)
