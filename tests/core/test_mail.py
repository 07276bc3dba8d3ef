"""The mailer: outbox files, SMTP through a real aiosmtpd server, and the templates."""

from __future__ import annotations

import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from softbrik.core.mail import (
    Attachment,
    MailDeliveryError,
    Message,
    OutboxMailer,
    SmtpConfig,
    SmtpMailer,
    mailer_from_settings,
    read_outbox,
)
from softbrik.core.mail_templates import TEMPLATES, render
from softbrik.settings import Settings

SENDER = "Softbrik <billing@softbrik.example>"
# The test server takes AUTH over plain TCP on 127.0.0.1 on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PDF = b"%PDF-1.4\n% fake invoice\n\x00\x01\x02binary"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def invoice_message(to: list[str] | None = None) -> Message:
    return Message(
        to=to or ["Admin <admin@team.example>"],
        subject="Faktura 1001 fra Softbrik",
        text="Hej\n\nHer er jeres faktura.\n",
        html="<p>Hej</p>",
        attachments=[Attachment("faktura-1001.pdf", PDF, "application/pdf")],
        reply_to="support@softbrik.example",
    )


def attachments_of(msg: EmailMessage) -> list[tuple[str | None, bytes, str]]:
    found = []
    for part in msg.iter_attachments():
        assert isinstance(part, EmailMessage)
        payload = part.get_content()
        found.append((part.get_filename(), payload, part.get_content_type()))
    return found


def file_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


# --- outbox -----------------------------------------------------------------------------------


async def test_outbox_writes_readable_eml_with_attachment(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    mailer = OutboxMailer(outbox, SENDER)
    await mailer.send(invoice_message())

    [name] = file_names(outbox)
    assert name.endswith(".eml")
    [msg] = read_outbox(outbox)
    assert msg["From"] == SENDER
    assert msg["To"] == "Admin <admin@team.example>"
    assert msg["Subject"] == "Faktura 1001 fra Softbrik"
    assert msg["Reply-To"] == "support@softbrik.example"
    assert msg["Message-ID"].endswith("@softbrik.example>")
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and "Her er jeres faktura." in body.get_content()
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and "<p>Hej</p>" in html.get_content()
    assert attachments_of(msg) == [("faktura-1001.pdf", PDF, "application/pdf")]


async def test_outbox_keeps_sending_order_and_leaves_no_temp_files(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path, SENDER)
    for number in range(20):
        await mailer.send(Message(to=["a@team.example"], subject=f"n{number}", text="x"))
    assert [m["Subject"] for m in read_outbox(tmp_path)] == [f"n{i}" for i in range(20)]
    assert all(name.endswith(".eml") for name in file_names(tmp_path))


async def test_outbox_refuses_header_injection_and_no_recipients(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path, SENDER)
    with pytest.raises(ValueError):
        await mailer.send(Message(to=["a@x.example"], subject="hi\nBcc: evil@x.example", text=""))
    with pytest.raises(ValueError):
        await mailer.send(Message(to=[], subject="hi", text=""))
    assert read_outbox(tmp_path) == []


def test_read_outbox_of_missing_directory_is_empty(tmp_path: Path) -> None:
    assert read_outbox(tmp_path / "nope") == []


def test_mailer_from_settings(tmp_path: Path) -> None:
    outbox = mailer_from_settings(Settings(data_dir=tmp_path, smtp_url=None))
    assert isinstance(outbox, OutboxMailer) and outbox.directory == tmp_path / "outbox"
    smtp = mailer_from_settings(Settings(smtp_url="smtp://u:p%40ss@mail.example:2525"))
    assert isinstance(smtp, SmtpMailer)
    assert smtp.config.password == "p@ss" and smtp.config.port == 2525


def test_smtp_url_parsing() -> None:
    plain = SmtpConfig.from_url("smtp://mail.example")
    assert (plain.port, plain.use_tls, plain.start_tls, plain.username) == (25, False, None, None)
    starttls = SmtpConfig.from_url("smtp://u:p@mail.example:587?starttls=1&timeout=5")
    assert (starttls.port, starttls.start_tls, starttls.timeout) == (587, True, 5.0)
    assert SmtpConfig.from_url("smtp://mail.example?starttls=0").start_tls is False
    implicit = SmtpConfig.from_url("smtps://u:p@mail.example")
    assert (implicit.port, implicit.use_tls, implicit.start_tls) == (465, True, False)
    with pytest.raises(ValueError):
        SmtpConfig.from_url("http://mail.example")


# --- SMTP through a real aiosmtpd server ------------------------------------------------------


class CollectingHandler:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class Authenticator:
    def __init__(self, login: str, password: str) -> None:
        self.login, self.password = login.encode(), password.encode()
        self.attempts: list[bytes] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.attempts.append(auth_data.login)
        ok = (auth_data.login, auth_data.password) == (self.login, self.password)
        # handled=False: aiosmtpd answers the client itself (535 on failure).
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[tuple[Controller, CollectingHandler]]:
    handler = CollectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def auth_smtp_server() -> Iterator[tuple[Controller, CollectingHandler, Authenticator]]:
    handler = CollectingHandler()
    authenticator = Authenticator("mailer", "s3cr:t@pass")
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller, handler, authenticator
    finally:
        controller.stop()


def parse(envelope: Envelope) -> EmailMessage:
    assert isinstance(envelope.content, bytes)
    parsed = BytesParser(policy=email.policy.default).parsebytes(envelope.content)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_smtp_delivers_message_with_attachment_to_all_recipients(
    smtp_server: tuple[Controller, CollectingHandler],
) -> None:
    controller, handler = smtp_server
    handler.envelopes.clear()
    mailer = SmtpMailer(f"smtp://127.0.0.1:{controller.port}", SENDER)
    await mailer.send(invoice_message(["Admin <admin@team.example>", "bookkeeper@team.example"]))

    [envelope] = handler.envelopes
    assert envelope.mail_from == "billing@softbrik.example"
    assert envelope.rcpt_tos == ["admin@team.example", "bookkeeper@team.example"]
    msg = parse(envelope)
    assert msg["Subject"] == "Faktura 1001 fra Softbrik"
    assert attachments_of(msg) == [("faktura-1001.pdf", PDF, "application/pdf")]


async def test_smtp_authenticates(
    auth_smtp_server: tuple[Controller, CollectingHandler, Authenticator],
) -> None:
    controller, handler, authenticator = auth_smtp_server
    handler.envelopes.clear()
    url = f"smtp://mailer:s3cr%3At%40pass@127.0.0.1:{controller.port}"
    await SmtpMailer(url, SENDER).send(invoice_message())
    assert authenticator.attempts[-1] == b"mailer"
    assert len(handler.envelopes) == 1


async def test_smtp_wrong_password_raises_delivery_error(
    auth_smtp_server: tuple[Controller, CollectingHandler, Authenticator],
) -> None:
    controller, handler, _ = auth_smtp_server
    handler.envelopes.clear()
    url = f"smtp://mailer:wrong-password@127.0.0.1:{controller.port}"
    with pytest.raises(MailDeliveryError) as raised:
        await SmtpMailer(url, SENDER).send(invoice_message())
    assert "wrong-password" not in str(raised.value)
    assert handler.envelopes == []


async def test_smtp_to_closed_port_raises_delivery_error() -> None:
    mailer = SmtpMailer(f"smtp://127.0.0.1:{free_port()}?timeout=5", SENDER)
    with pytest.raises(MailDeliveryError, match=r"127\.0\.0\.1"):
        await mailer.send(invoice_message())


# --- TLS: implicit (smtps://) and STARTTLS, with a self-signed certificate -------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture(scope="module")
def smtps_server(
    certificate: tuple[Path, Path],
) -> Iterator[tuple[Controller, CollectingHandler]]:
    handler = CollectingHandler()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), ssl_context=server_tls(certificate)
    )
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def starttls_server(
    certificate: tuple[Path, Path],
) -> Iterator[tuple[Controller, CollectingHandler, Authenticator]]:
    """A submission server as in production: STARTTLS required, AUTH only after it."""
    handler = CollectingHandler()
    authenticator = Authenticator("mailer", "pw")
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        yield controller, handler, authenticator
    finally:
        controller.stop()


async def test_smtps_implicit_tls_delivers(
    smtps_server: tuple[Controller, CollectingHandler], certificate: tuple[Path, Path]
) -> None:
    controller, handler = smtps_server
    handler.envelopes.clear()
    url = f"smtps://127.0.0.1:{controller.port}?cafile={certificate[0]}"
    await SmtpMailer(url, SENDER).send(invoice_message())
    [envelope] = handler.envelopes
    assert attachments_of(parse(envelope))[0][0] == "faktura-1001.pdf"


async def test_smtps_refuses_an_untrusted_certificate(
    smtps_server: tuple[Controller, CollectingHandler],
) -> None:
    controller, handler = smtps_server
    handler.envelopes.clear()
    with pytest.raises(MailDeliveryError):
        await SmtpMailer(f"smtps://127.0.0.1:{controller.port}?timeout=5", SENDER).send(
            invoice_message()
        )
    assert handler.envelopes == []


async def test_starttls_then_auth_delivers(
    starttls_server: tuple[Controller, CollectingHandler, Authenticator],
    certificate: tuple[Path, Path],
) -> None:
    controller, handler, authenticator = starttls_server
    handler.envelopes.clear()
    url = f"smtp://mailer:pw@127.0.0.1:{controller.port}?starttls=1&cafile={certificate[0]}"
    await SmtpMailer(url, SENDER).send(invoice_message())
    assert authenticator.attempts[-1] == b"mailer"
    [envelope] = handler.envelopes
    assert envelope.rcpt_tos == ["admin@team.example"]


# --- templates --------------------------------------------------------------------------------

CONTEXTS: dict[str, dict[str, Any]] = {
    "invitation": dict(
        team_name="Bageriet ApS",
        inviter_name="Mette Hansen",
        invitee_name="Jonas Berg",
        accept_url="https://app.softbrik.example/invite/abc",
        token="inv_7f3a9c",
        expires_on=date(2026, 1, 19),
    ),
    "invoice": dict(
        team_name="Bageriet ApS",
        invoice_number="2026-0001",
        total=123450,
        period_start=date(2026, 1, 12),
        period_end=date(2026, 2, 12),
    ),
    "payment_failed": dict(
        team_name="Bageriet ApS",
        invoice_number="2026-0002",
        total=2500,
        next_retry_on=date(2026, 2, 15),
        suspended=False,
    ),
    "reminder": dict(
        team_name="Bageriet ApS",
        billing_date=date(2026, 2, 12),
        summary_lines=["3 users with Inventory", "1 user with File storage"],
        review_url="https://app.softbrik.example/billing",
    ),
    "security_alert": dict(
        team_name="Bageriet ApS",
        finding_type="UnusualApiCalls",
        severity="HIGH",
        occurred_at=datetime(2026, 1, 20, 9, 30, tzinfo=UTC),
        details="Many failed logins from 203.0.113.7",
    ),
    "account_closed": dict(team_name="Bageriet ApS", closed_on=date(2026, 3, 12)),
}

EXPECTED: dict[tuple[str, str], list[str]] = {
    ("invitation", "da"): ["Jonas Berg", "Mette Hansen", "19. januar 2026", "abc"],
    ("invitation", "en"): ["Jonas Berg", "Mette Hansen", "19 January 2026", "abc"],
    ("invoice", "da"): ["2026-0001", "1.234,50 EUR", "12. januar 2026", "12. februar 2026"],
    ("invoice", "en"): ["2026-0001", "EUR 1,234.50", "12 January 2026", "12 February 2026"],
    ("payment_failed", "da"): ["2026-0002", "25,00 EUR", "15. februar 2026"],
    ("payment_failed", "en"): ["2026-0002", "EUR 25.00", "15 February 2026"],
    ("reminder", "da"): ["12. februar 2026", "- 3 users with Inventory", "/billing"],
    ("reminder", "en"): ["12 February 2026", "- 1 user with File storage", "/billing"],
    ("security_alert", "da"): ["UnusualApiCalls", "HIGH", "20. januar 2026 kl. 09:30 UTC"],
    ("security_alert", "en"): ["UnusualApiCalls", "HIGH", "20 January 2026 at 09:30 UTC"],
    ("account_closed", "da"): ["12. marts 2026"],
    ("account_closed", "en"): ["12 March 2026"],
}


def test_every_template_has_a_context_here() -> None:
    assert set(TEMPLATES) == set(CONTEXTS)


@pytest.mark.parametrize("language", ["da", "en"])
@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_templates_contain_their_context(template: str, language: str) -> None:
    subject, text = render(template, language, **CONTEXTS[template])
    assert "Bageriet ApS" in subject + text
    assert "\n" not in subject
    for expected in EXPECTED[(template, language)]:
        assert expected in subject + text, (template, language, expected)
    for value in CONTEXTS[template].values():
        if isinstance(value, str):
            assert value in subject + text
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("language", ["da", "en"])
def test_invitation_token_is_on_its_own_line(language: str) -> None:
    """R-ACC-3: acceptance tests read the token from the invitation mail."""
    _, text = render("invitation", language, **CONTEXTS["invitation"])
    assert "Token: inv_7f3a9c" in text.splitlines()


def test_payment_failed_variants() -> None:
    """R-BILL-20: each failure tells whether it will be retried or the Briks are suspended."""
    base = CONTEXTS["payment_failed"]
    _, retry = render("payment_failed", "en", **base)
    assert "try again on 15 February 2026" in retry
    _, last = render("payment_failed", "en", **{**base, "next_retry_on": None})
    assert "will not retry" in last
    _, suspended = render(
        "payment_failed", "da", **{**base, "next_retry_on": None, "suspended": True}
    )
    assert "pause" in suspended


def test_unknown_language_falls_back_to_danish_and_unknown_template_raises() -> None:
    assert render("account_closed", "fr", **CONTEXTS["account_closed"]) == render(
        "account_closed", "da", **CONTEXTS["account_closed"]
    )
    assert render("account_closed", **CONTEXTS["account_closed"])[0].startswith("Jeres")
    with pytest.raises(KeyError):
        render("no_such_template", "da")
