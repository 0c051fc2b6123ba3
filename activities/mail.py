"""The SMTP adapter: customer emails go through the server at `AFTERSALES_SMTP_URL`."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import unquote, urlsplit

import aiosmtplib

from db.types import utcnow


@dataclass(frozen=True)
class OutgoingEmail:
    id: str
    to: str
    subject: str
    body: str


class SmtpMailer:
    """`smtp://[user:password@]host[:port]` uses STARTTLS when the server offers it;
    `smtps://` speaks TLS from the first byte (port 465 by default)."""

    def __init__(self, url: str, sender: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("AFTERSALES_SMTP_URL must look like smtp://user:pass@host:587")
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    def message(self, email: OutgoingEmail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = format_datetime(utcnow())
        # Derived from the email's id, so a resend after a lost acknowledgement carries the
        # same Message-ID and mail clients thread or drop it as the same message.
        message["Message-ID"] = f"<{email.id}@aftersales.invalid>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(email.body)
        return message

    async def send(self, email: OutgoingEmail) -> None:
        await aiosmtplib.send(
            self.message(email),
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.implicit_tls,
            start_tls=None if not self.implicit_tls else False,
            timeout=self.timeout,
        )
