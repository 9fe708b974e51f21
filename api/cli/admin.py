"""Administrative commands: configuration, migrations, users and tokens."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.common import err, fail, in_session, load_settings, run
from listener import migrate
from listener.accounts.service import (
    AccountError,
    create_token,
    create_user,
    get_user,
    revoke_token,
)
from listener.models import ApiToken, Role, Scope, User, utcnow
from moderation.queue import search

config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Create and migrate the database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Manage staff accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="Issue and revoke API tokens.", no_args_is_help=True)


@config_app.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout")] = False,
) -> None:
    """Print the effective settings with secrets masked."""
    shown = load_settings().masked()
    if as_json:
        print(json.dumps(shown, default=str))
        return
    for name, value in shown.items():
        print(f"LUISTER_{name.upper()}={'' if value is None else value}")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "heads") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = load_settings()
    migrate.upgrade(settings.database_url, revision)
    err.print(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, or 'base' for none")] = "-1",
) -> None:
    """Revert migrations down to REVISION (default: one step)."""
    settings = load_settings()
    migrate.downgrade(settings.database_url, revision)
    err.print(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    migrate.current(load_settings().database_url)


@db_app.command("search-index")
def db_search_index(
    kind: Annotated[
        str | None,
        typer.Argument(help="gin (the default: cheap to write) or rum (ranks in the index)"),
    ] = None,
) -> None:
    """Show or switch PostgreSQL's full-text index: gin, or rum for fast relevance search.

    RUM (the rum extension) hands out matches best first, so sort=relevance reads only its page,
    but every stored mention takes longer to index (docs/OPERATIONS.md). Writes to mentions
    wait while the index builds; restart `luister serve` afterwards.
    """

    async def _work(session: AsyncSession) -> tuple[str | None, bool, bool]:
        if session.get_bind().dialect.name != "postgresql":
            return "fts5", False, False
        changed = await search.use_index(session, kind) if kind else False
        return await search.index_kind(session), await search.rum_available(session), changed

    if kind and load_settings().database_url.startswith("sqlite"):
        fail("SQLite searches with FTS5: there is no index to choose")
    if kind:
        err.print(f"building the {kind} search index (writes to mentions wait meanwhile)…")
    try:
        current, available, changed = run(in_session(_work))
    except search.SearchIndexError as exc:
        fail(str(exc))
    print(current)
    if current == "fts5":
        err.print("SQLite: full-text search with FTS5; there is no index to choose")
        return
    err.print(f"rum extension on this server: {'available' if available else 'not available'}")
    if kind:
        err.print(
            f"search index is now {current}; restart `luister serve` and the workers"
            if changed
            else f"search index was already {current}"
        )


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="admin, moderator or analyst")] = Role.MODERATOR,
    email: Annotated[str | None, typer.Option()] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
) -> None:
    """Create a staff account (asks for the password unless --password-stdin)."""
    password = _read_password(password_stdin)

    async def _create(session: AsyncSession) -> User:
        return await create_user(
            session, username=username, password=password, role=role, email=email
        )

    try:
        user = run(in_session(_create))
    except AccountError as exc:
        fail(str(exc))
    err.print(f"created user {user.username} (id {user.id}, role {user.role})")


@users_app.command("list")
def users_list() -> None:
    """List staff accounts."""

    async def _list(session: AsyncSession) -> list[User]:
        return list((await session.execute(select(User).order_by(User.id))).scalars())

    for user in run(in_session(_list)):
        state = "active" if user.is_active else "disabled"
        print(f"{user.id}\t{user.username}\t{user.role}\t{state}")


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Option("--user", help="Username the token acts as")],
    name: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    scope: Annotated[
        list[Scope] | None,
        typer.Option(help="read, triage, admin or metrics; repeat; default: all the role allows"),
    ] = None,
    expires_days: Annotated[int | None, typer.Option(min=1, help="Expire after N days")] = None,
) -> None:
    """Create an API token and print it once on stdout."""
    settings = load_settings()

    async def _create(session: AsyncSession) -> tuple[str, ApiToken]:
        owner = await get_user(session, username=user)
        expires = utcnow() + timedelta(days=expires_days) if expires_days else None
        issued = await create_token(
            session,
            user=owner,
            name=name,
            key=settings.secret_bytes(),
            scopes=scope or None,
            expires_at=expires,
        )
        return issued.token, issued.record

    try:
        token, record = run(in_session(_create, settings=settings))
    except AccountError as exc:
        fail(str(exc))
    err.print(
        f"token {record.id} for {user} with scopes {', '.join(record.scopes)}; "
        "it is shown only now, store it safely:"
    )
    print(token)


@tokens_app.command("revoke")
def tokens_revoke(token_id: int) -> None:
    """Revoke the token with TOKEN_ID; it stops working at once."""

    async def _revoke(session: AsyncSession) -> ApiToken:
        return await revoke_token(session, token_id=token_id)

    try:
        run(in_session(_revoke))
    except AccountError as exc:
        fail(str(exc))
    err.print(f"token {token_id} revoked")


@tokens_app.command("list")
def tokens_list() -> None:
    """List tokens (prefix, owner, scopes, state); secrets are never shown."""

    async def _list(session: AsyncSession) -> list[tuple[ApiToken, str]]:
        rows = await session.execute(
            select(ApiToken, User.username)
            .join(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.id)
        )
        return [(t, u) for t, u in rows.all()]

    for token, username in run(in_session(_list)):
        state = "revoked" if token.revoked_at else "active"
        print(f"{token.id}\t{token.prefix}…\t{username}\t{','.join(token.scopes)}\t{state}")
