"""Fixtures for the digest tests: the hand-counted history and a real SMTP server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.db import make_engine, make_sessionmaker
from listener.digest.builder import build_digest
from listener.digest.document import DigestDocument
from listener.digest.periods import Period
from tests.conftest import _empty_tables as empty_tables
from tests.digest.data import TZ, History, store_history

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w47(database_url: str) -> DigestDocument:
    """The 2026-W47 digest (Amsterdam, 8 h target) of the history, built once per module."""
    engine = make_engine(database_url)
    try:
        await empty_tables(engine)
        sessions = make_sessionmaker(engine)
        async with sessions() as session, session.begin():
            await store_history(session)
        async with sessions() as session:
            return await build_digest(
                session, period=Period.week("2026-W47", TZ), target_hours=8, now=NOW
            )
    finally:
        await empty_tables(engine)
        await engine.dispose()


@pytest.fixture
async def history(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[History]:
    """The history of tests/digest/data.py, committed."""
    async with sessions() as session, session.begin():
        stored = await store_history(session)
    yield stored


@dataclass
class Inbox:
    """Messages the test SMTP server accepted."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    def to(self, address: str) -> list[EmailMessage]:
        """The messages addressed to `address`."""
        return [m for m in self.messages if m["To"] == address]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        """Refuse the addresses in `refuse` permanently (550), take the rest."""
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message as a parsed email."""
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) and its port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
