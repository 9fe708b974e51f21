"""`luister accounts own …`: the accounts that speak for us (their posts are our responses)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.common import err, fail, in_session, load_settings, run
from listener.errors import LuisterError
from listener.models import OwnAccount
from listener.own_accounts import list_own_accounts
from listener.settings import Settings
from moderation.queue import own

accounts_app = typer.Typer(help="Accounts: our own voice on each platform.", no_args_is_help=True)
own_app = typer.Typer(
    help="Our own accounts: their posts never enter the queue; their replies answer mentions.",
    no_args_is_help=True,
)
accounts_app.add_typer(own_app, name="own")

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on stdout")]


def _row(account: OwnAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "platform": account.platform,
        "handle": account.handle,
        "platform_id": account.platform_id,
        "label": account.label,
    }


async def add_own_accounts(
    session: AsyncSession, *, settings: Settings, accounts: list[dict[str, str | None]]
) -> list[dict[str, Any]]:
    """Add several own accounts in one transaction (the demo uses this)."""
    added = []
    for values in accounts:
        account, left = await own.add_account(
            session,
            settings=settings,
            platform=values.get("platform") or "",
            handle=values.get("handle"),
            platform_id=values.get("platform_id"),
            label=values.get("label"),
        )
        added.append(_row(account) | {"left_queue": left})
    return added


@own_app.command("add")
def add(
    platform: Annotated[str, typer.Argument(help="mastodon, bluesky, discourse, reddit, …")],
    handle: Annotated[
        str | None, typer.Option(help="The handle, e.g. @org@mastodon.social")
    ] = None,
    platform_id: Annotated[
        str | None, typer.Option(help="The platform's id of the account")
    ] = None,
    label: Annotated[str | None, typer.Option(help="A name for people, e.g. the brand")] = None,
    as_json: JsonOption = False,
) -> None:
    """Mark an account as ours; its posts already stored leave the queue."""
    settings = load_settings()
    values: dict[str, str | None] = {
        "platform": platform,
        "handle": handle,
        "platform_id": platform_id,
        "label": label,
    }

    async def _go(session: AsyncSession) -> list[dict[str, Any]]:
        return await add_own_accounts(session, settings=settings, accounts=[values])

    try:
        (row,) = run(in_session(_go, settings=settings))
    except LuisterError as exc:
        fail(exc.detail or str(exc))
    err.print(
        f"own account {row['id']}: {row['platform']} {row['handle'] or row['platform_id']} "
        f"({row['left_queue']} of its posts left the queue)"
    )
    if as_json:
        print(json.dumps(row))


@own_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """Our own accounts."""
    settings = load_settings()

    async def _go(session: AsyncSession) -> list[dict[str, Any]]:
        return [_row(a) for a in await list_own_accounts(session)]

    rows = run(in_session(_go, settings=settings))
    if as_json:
        print(json.dumps(rows))
        return
    if not rows:
        err.print("no own accounts configured")
    for row in rows:
        err.print(
            f"{row['id']:>4}  {row['platform']:<10} {row['handle'] or '-':<36} "
            f"{row['platform_id'] or '-':<40} {row['label'] or ''}"
        )


@own_app.command("remove")
def remove(
    account_id: Annotated[int, typer.Argument(help="The id `list` shows")],
    as_json: JsonOption = False,
) -> None:
    """Stop treating an account as ours; its posts enter the queue again."""
    settings = load_settings()

    async def _go(session: AsyncSession) -> int:
        return await own.remove_account(session, settings=settings, account_id=account_id)

    try:
        requeued = run(in_session(_go, settings=settings))
    except LuisterError as exc:
        fail(exc.detail or str(exc))
    err.print(f"own account {account_id} removed; {requeued} of its posts entered the queue")
    if as_json:
        print(json.dumps({"id": account_id, "requeued": requeued}))
