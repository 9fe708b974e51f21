"""Our own accounts (admins): their posts are our responses, never items to triage."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from listener.models import OwnAccount
from listener.own_accounts import list_own_accounts
from listener.rest.deps import Admin, SessionDep, SettingsDep
from listener.rest.params import IdPath
from listener.rest.problems import problem_responses
from moderation.queue import own

router = APIRouter(prefix="/api/v1/own-accounts", tags=["own accounts"])


class OwnAccountIn(BaseModel):
    """An account that speaks for us: give its handle, its platform id, or both."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "platform": "mastodon",
                    "handle": "@fietsbaan@mastodon.example",
                    "label": "Fietsbaan",
                }
            ]
        }
    )

    platform: str = Field(min_length=1, max_length=32, examples=["mastodon"])
    handle: str | None = Field(
        default=None, max_length=512, examples=["@fietsbaan@mastodon.example"]
    )
    platform_id: str | None = Field(default=None, max_length=512)
    label: str | None = Field(default=None, max_length=200, examples=["Fietsbaan"])


class OwnAccountOut(BaseModel):
    """One of our accounts."""

    id: int
    platform: str
    handle: str | None
    platform_id: str | None
    label: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: OwnAccount) -> OwnAccountOut:
        """From the row."""
        return cls(
            id=row.id,
            platform=row.platform,
            handle=row.handle,
            platform_id=row.platform_id,
            label=row.label,
            created_at=row.created_at,
        )


class OwnAccountCreated(OwnAccountOut):
    """The account, and how many of its posts left the queue."""

    left_queue: int


class OwnAccountsOut(BaseModel):
    """Every account configured as ours."""

    items: list[OwnAccountOut]


class OwnAccountRemoved(BaseModel):
    """How many of the account's posts entered the queue again."""

    id: int
    requeued: int


@router.get("", responses=problem_responses(401, 403))
async def list_accounts(session: SessionDep, principal: Admin) -> OwnAccountsOut:
    """Our own accounts, oldest first."""
    return OwnAccountsOut(items=[OwnAccountOut.of(a) for a in await list_own_accounts(session)])


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 409, 422)
)
async def add_account(
    body: OwnAccountIn, session: SessionDep, settings: SettingsDep, principal: Admin
) -> OwnAccountCreated:
    """Mark an account as ours: its posts leave the queue, its replies answer mentions."""
    account, left = await own.add_account(
        session,
        settings=settings,
        platform=body.platform,
        handle=body.handle,
        platform_id=body.platform_id,
        label=body.label,
    )
    await session.commit()
    return OwnAccountCreated(**OwnAccountOut.of(account).model_dump(), left_queue=left)


@router.delete("/{account_id}", responses=problem_responses(401, 403, 404))
async def remove_account(
    account_id: IdPath, session: SessionDep, settings: SettingsDep, principal: Admin
) -> OwnAccountRemoved:
    """Stop treating the account as ours: its posts enter the queue again."""
    requeued = await own.remove_account(session, settings=settings, account_id=account_id)
    await session.commit()
    return OwnAccountRemoved(id=account_id, requeued=requeued)
