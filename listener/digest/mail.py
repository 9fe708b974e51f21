"""Email: compose the digest and alert messages, and hand them to an SMTP server.

A digest email is multipart/alternative (Markdown as the text part, HTML as the other) with the
charts as image/png parts inside multipart/related, referenced from the HTML by cid:. That is
the structure common mail clients (Gmail, Outlook, Apple Mail) display inline.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from listener.digest.document import DigestDocument
from listener.digest.messages import text
from listener.digest.render import to_html, to_markdown
from listener.settings import Settings


class SendError(Exception):
    """The SMTP server did not take the message; `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _domain(settings: Settings) -> str:
    address = settings.smtp_from.rsplit("<", 1)[-1].rstrip(">")
    return address.rsplit("@", 1)[-1] or "luister.invalid"


def _envelope(settings: Settings, *, to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=_domain(settings))
    return message


def digest_message(
    settings: Settings,
    *,
    data: DigestDocument,
    language: str,
    to: str,
    charts: Mapping[str, bytes],
) -> EmailMessage:
    """The digest email for one recipient, with the charts inline."""
    subject = text(language, "title", label=data.period.label)
    message = _envelope(settings, to=to, subject=subject)
    message.set_content(to_markdown(data, language))
    cids = {name: make_msgid(domain=_domain(settings)) for name in charts}
    html = to_html(data, language, images={name: "cid:" + cid[1:-1] for name, cid in cids.items()})
    message.add_alternative(html, subtype="html")
    # The HTML alternative is the last part; the charts go beside it in multipart/related.
    *_, html_part = message.iter_parts()
    assert isinstance(html_part, EmailMessage)
    for name, png in charts.items():
        html_part.add_related(png, "image", "png", cid=cids[name], filename=f"{name}.png")
    return message


def alert_message(
    settings: Settings, *, subject: str, body_text: str, body_html: str, to: str
) -> EmailMessage:
    """A spike alert email (text and HTML)."""
    message = _envelope(settings, to=to, subject=subject)
    message.set_content(body_text)
    message.add_alternative(body_html, subtype="html")
    return message


def _tls_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.smtp_ca_file is not None:
        context.load_verify_locations(cafile=str(settings.smtp_ca_file))
    return context


def send_message(settings: Settings, message: EmailMessage) -> None:
    """Deliver one message over SMTP (blocking; run it in a thread)."""
    if not settings.smtp_host:
        raise SendError("email delivery is not configured (set LUISTER_SMTP_HOST)")
    timeout = settings.smtp_timeout_seconds
    try:
        if settings.smtp_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=timeout,
                context=_tls_context(settings),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=_tls_context(settings))
            if settings.smtp_username:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_username, password)
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise SendError(
            f"recipient refused: {exc.recipients}", permanent=all(c >= 500 for c in codes)
        ) from exc
    except smtplib.SMTPDataError as exc:
        # A 5xx answer to the message itself will not change on a retry (RFC 5321 4.2.1).
        raise SendError(_describe(exc), permanent=exc.smtp_code >= 500) from exc
    except smtplib.SMTPResponseException as exc:
        # Login and sender problems are configuration: worth retrying once an admin fixes it.
        raise SendError(_describe(exc)) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"{type(exc).__name__}: {exc}") from exc


def _describe(exc: smtplib.SMTPResponseException) -> str:
    reply = exc.smtp_error
    said = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return f"SMTP {exc.smtp_code}: {said}"
