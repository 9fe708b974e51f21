"""`luister audit …`: check that nobody edited, inserted or removed an audit entry."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.common import EXIT_FAILED, err, load_settings, run, wired_sessions
from moderation.privacy.chain import ChainReport, verify_chain

audit_app = typer.Typer(help="The audit log's hash chain.", no_args_is_help=True)


@audit_app.callback()
def _audit() -> None:
    """The audit log's hash chain."""


@audit_app.command("verify")
def verify(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout")
    ] = False,
) -> None:
    """Walk the chain: exit 0 when intact, 1 naming the first edited, inserted or removed entry."""
    settings = load_settings()

    async def _go() -> ChainReport:
        async with wired_sessions(settings) as sessions, sessions() as session:
            return await _verify(session)

    report = run(_go())
    if as_json:
        print(json.dumps(report.as_dict()))
    if report.problem is None:
        err.print(
            f"audit chain intact: {report.entries} entries (positions {report.base_seq}"
            f"–{report.head_seq}), head {report.head_hash}"
        )
        return
    err.print(f"[bold red]audit chain broken:[/] {report.problem.detail}", markup=True)
    raise typer.Exit(EXIT_FAILED)


async def _verify(session: AsyncSession) -> ChainReport:
    try:
        return await verify_chain(session)
    finally:
        await session.rollback()
