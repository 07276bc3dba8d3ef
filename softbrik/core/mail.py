"""Outgoing e-mail: messages, the `Mailer` port and its two adapters (DESIGN.md, embedded defaults).

- `OutboxMailer` (embedded default) writes every message as an RFC 5322 `.eml` file into an
  outbox directory, so developers and tests can read what would have been sent (`read_outbox`).
- `SmtpMailer` (production) delivers over SMTP with `aiosmtplib`.

`mailer_from_settings` picks one: SMTP when `SOFTBRIK_SMTP_URL` is set, else the outbox.
Texts live in `softbrik.core.mail_templates`; `render` turns a template into subject and text.
"""

from __future__ import annotations

import asyncio
import email.policy
import itertools
import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from softbrik.core.clock import Clock, SystemClock
from softbrik.core.mail_templates import render

if TYPE_CHECKING:
    from softbrik.settings import Settings

__all__ = [
    "Attachment",
    "MailDeliveryError",
    "Mailer",
    "Message",
    "OutboxMailer",
    "SmtpMailer",
    "build_email",
    "mailer_from_settings",
    "read_outbox",
    "render",
]


@dataclass
class Attachment:
    filename: str
    content: bytes
    mime_type: str  # e.g. "application/pdf"


@dataclass
class Message:
    to: list[str]
    subject: str
    text: str
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    reply_to: str | None = None


class MailDeliveryError(Exception):
    """The message could not be handed to the mail server (connection, TLS, auth, refusal)."""


class Mailer(Protocol):
    async def send(self, message: Message) -> None:
        """Deliver `message` (or raise `MailDeliveryError`)."""
        ...


def build_email(message: Message, sender: str, clock: Clock | None = None) -> EmailMessage:
    """The RFC 5322 message for `message`, from `sender` ("Name <addr>" or "addr").

    Header values with line breaks are refused (ValueError), so no header can be injected.
    """
    if not message.to:
        raise ValueError("A message needs at least one recipient.")
    moment = (clock or SystemClock()).now()
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = ", ".join(message.to)
    msg["Subject"] = message.subject
    msg["Date"] = format_datetime(moment)
    msg["Message-ID"] = make_msgid(domain=_domain_of(sender))
    if message.reply_to:
        msg["Reply-To"] = message.reply_to
    msg.set_content(message.text)
    if message.html is not None:
        msg.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        if not maintype or not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.filename,
        )
    return msg


def _domain_of(sender: str) -> str | None:
    address = parseaddr(sender)[1]
    if "@" in address:
        return address.rsplit("@", 1)[1] or None
    return None


class OutboxMailer:
    """Writes each message as `<UTC time>-<sequence>-<random>.eml` into `directory`.

    Files appear atomically (written to a hidden temporary file, then renamed), so a reader never
    sees half a message. Names sort in the order the messages were sent by this process; between
    processes, by wall-clock time (nanoseconds).
    """

    _lock = threading.Lock()
    _last_ns = 0
    _counter = itertools.count()

    def __init__(self, directory: Path, sender: str, clock: Clock | None = None) -> None:
        self.directory = Path(directory)
        self.sender = sender
        self.clock = clock

    async def send(self, message: Message) -> None:
        msg = build_email(message, self.sender, self.clock)
        await asyncio.to_thread(self._write, msg.as_bytes())

    def _next_name(self) -> str:
        with OutboxMailer._lock:
            ns = max(time.time_ns(), OutboxMailer._last_ns + 1)
            OutboxMailer._last_ns = ns
            seq = next(OutboxMailer._counter) % 1_000_000
        seconds, rest = divmod(ns, 1_000_000_000)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds))
        return f"{stamp}.{rest:09d}Z-{seq:06d}-{secrets.token_hex(4)}.eml"

    def _write(self, data: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / self._next_name()
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target


def read_outbox(directory: Path) -> list[EmailMessage]:
    """Every message in an outbox directory, oldest first (empty when there is none)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    parser = BytesParser(policy=email.policy.default)
    messages = []
    for path in sorted(directory.glob("*.eml")):
        with path.open("rb") as handle:
            parsed = parser.parse(handle)
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


@dataclass(frozen=True)
class SmtpConfig:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # implicit TLS (smtps://)
    start_tls: bool | None  # None: upgrade when the server offers STARTTLS
    timeout: float
    cafile: str | None = None  # CA bundle to trust instead of the system's

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Parse `smtp://user:pass@host:port?starttls=1` or `smtps://...` (implicit TLS).

        Query options: `starttls=1|0` (default: STARTTLS when the server offers it on smtp://,
        never on smtps://), `timeout=<seconds>` (default 30), `cafile=<path>` (a CA bundle to
        trust, e.g. a private CA; certificates are always verified).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("The SMTP URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("The SMTP URL needs a host name")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        use_tls = parts.scheme == "smtps"
        start_tls: bool | None = None
        if "starttls" in query:
            start_tls = query["starttls"].lower() in ("1", "true", "yes", "on")
        if use_tls:
            start_tls = False
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if use_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            use_tls=use_tls,
            start_tls=start_tls,
            timeout=float(query.get("timeout", 30)),
            cafile=query.get("cafile") or None,
        )


class SmtpMailer:
    """Delivers over SMTP; any failure to hand the message over raises `MailDeliveryError`."""

    def __init__(self, url: str, sender: str, clock: Clock | None = None) -> None:
        self.config = SmtpConfig.from_url(url)
        self.sender = sender
        self.clock = clock

    async def send(self, message: Message) -> None:
        msg = build_email(message, self.sender, self.clock)
        config = self.config
        envelope_sender = parseaddr(self.sender)[1] or self.sender
        try:
            await aiosmtplib.send(
                msg,
                sender=envelope_sender,
                recipients=[_bare_address(to) for to in message.to],
                hostname=config.hostname,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.use_tls,
                start_tls=config.start_tls,
                timeout=config.timeout,
                cert_bundle=config.cafile,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # The password is never part of the message.
            raise MailDeliveryError(
                f"Could not deliver mail via {config.hostname}:{config.port}: {exc}"
            ) from exc


def _bare_address(recipient: str) -> str:
    address = parseaddr(recipient)[1]
    if not address:
        raise ValueError(f"Not an e-mail address: {recipient!r}")
    return Address(addr_spec=address).addr_spec


def mailer_from_settings(settings: Settings, clock: Clock | None = None) -> Mailer:
    """SMTP when `settings.smtp_url` is set, else the outbox under `settings.outbox_dir`."""
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from, clock)
    return OutboxMailer(settings.outbox_dir, settings.mail_from, clock)
