"""Email details on a real SMTP server: languages, refusals, giving up, quiet weeks, TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from listener.digest import service
from listener.digest.delivery import deliver_due
from listener.digest.periods import Period
from listener.models import AuditEntry, RecipientList, utcnow
from listener.settings import Settings
from tests.digest.conftest import Inbox, free_port
from tests.digest.data import TZ, History
from tests.digest.helpers import deliveries_by_recipient, queue_week, smtp_settings


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """These behaviours are the SMTP client's, not the database's: SQLite is enough."""
    from listener import migrate
    from tests.conftest import fresh_database

    url = fresh_database("sqlite", tmp_path_factory.mktemp("db"), "digest-mail")
    migrate.upgrade(url)
    return url


async def test_a_dutch_list_gets_the_dutch_digest(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    history: History,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    settings = smtp_settings(settings, port)
    await queue_week(sessions, settings, emails=["redactie@fietsbaan.example"], language="nl")
    await deliver_due(sessions, settings=settings)
    [message] = inbox.messages
    assert message["Subject"] == "Luisterdigest 2026-W47"


async def test_a_refused_address_fails_at_once_and_the_others_still_get_theirs(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    history: History,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    inbox.refuse.add("bram@fietsbaan.example")
    settings = smtp_settings(settings, port)
    await queue_week(sessions, settings)

    report = await deliver_due(sessions, settings=settings)

    assert (len(report.sent), len(report.failed)) == (1, 1)
    bram = (await deliveries_by_recipient(sessions))["bram@fietsbaan.example"]
    assert (bram.status, bram.attempts) == ("failed", 1)
    assert bram.last_error is not None and "550" in bram.last_error
    async with sessions() as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert {"build", "queue", "sent", "failed"} <= set(actions)


async def test_a_delivery_gives_up_after_the_last_attempt(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, history: History
) -> None:
    settings = smtp_settings(settings, free_port(), delivery_max_attempts=2)
    await queue_week(sessions, settings, emails=["anna@fietsbaan.example"])
    await deliver_due(sessions, settings=settings)
    after_retry = utcnow() + dt.timedelta(hours=1)
    final = await deliver_due(sessions, settings=settings, now=after_retry)
    assert len(final.failed) == 1
    gave_up = (await deliveries_by_recipient(sessions))["anna@fietsbaan.example"]
    assert (gave_up.status, gave_up.attempts) == ("failed", 2)


async def test_a_quiet_week_goes_out_only_to_lists_that_ask_for_it(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    history: History,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    settings = smtp_settings(settings, port)
    skipped = await queue_week(sessions, settings, week="2026-W30")
    assert skipped.quiet and skipped.skipped_reason and "quiet" in skipped.skipped_reason
    async with sessions() as session, session.begin():
        rl = await service.create_list(
            session,
            values={"name": "always", "emails": ["ceo@fietsbaan.example"], "send_when_quiet": True},
            actor="test",
        )
        digest = await service.store_digest(
            session, period=Period.week("2026-W30", TZ), settings=settings, recipient_list=rl
        )
        await service.queue_digest(session, digest=digest, recipient_list=rl, settings=settings)
    await deliver_due(sessions, settings=settings)
    assert [m["To"] for m in inbox.messages] == ["ceo@fietsbaan.example"]
    assert (
        "Nothing was heard" in inbox.messages[0].get_body(preferencelist=("plain",)).get_content()
    )


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Password:
    """Accept only luister / s3cret, and only over TLS (aiosmtpd enforces the latter)."""

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"luister",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)


async def test_starttls_and_login_are_used_when_configured(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    history: History,
    tmp_path: Path,
) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_Password(),
        auth_required=True,
    )
    controller.start()
    try:
        secure = smtp_settings(
            settings,
            port,
            smtp_security="starttls",
            smtp_username="luister",
            smtp_password=SecretStr("s3cret"),
            smtp_ca_file=cert,
        )
        await queue_week(sessions, secure, emails=["anna@fietsbaan.example"])
        wrong = secure.model_copy(update={"smtp_password": SecretStr("wrong")})
        assert len((await deliver_due(sessions, settings=wrong)).retrying) == 1
        later = utcnow() + dt.timedelta(minutes=5)
        report = await deliver_due(sessions, settings=secure, now=later)
    finally:
        controller.stop()
    assert len(report.sent) == 1
    assert inbox.messages[0]["Subject"] == "Listening digest 2026-W47"


async def test_a_recipient_list_holds_its_filters_and_language(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, history: History
) -> None:
    async with sessions() as session, session.begin():
        rl = await service.create_list(
            session,
            values={
                "name": "nl",
                "emails": ["a@b.example"],
                "language": "nl",
                "topics": ["outage"],
            },
            actor="test",
        )
        digest = await service.store_digest(
            session, period=Period.week("2026-W47", TZ), settings=settings, recipient_list=rl
        )
    assert (digest.language, digest.mention_count) == ("nl", 5)
    assert digest.key == f"list-{rl.id}:2026-W47:{TZ}"
    async with sessions() as session:
        stored = await session.get(RecipientList, rl.id)
    assert stored is not None and stored.topics == ["outage"]
