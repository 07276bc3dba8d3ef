"""HTTPS from `softbrik serve` itself (R-SEC-1): a real self-signed certificate, a real server
process, real TLS requests and WebSocket handshakes."""

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from softbrik.cli import main
from softbrik.testing import Subscriptions
from tests.test_serve import serving


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "softbrik test")])
    now = datetime.now(UTC)  # TLS checks validity against the real time
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


def trusting(cert_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert_file))


def test_serve_speaks_https_with_the_given_certificate(certificate, tmp_path):
    cert_file, key_file = certificate
    verify = trusting(cert_file)
    args = ("--ssl-certfile", str(cert_file), "--ssl-keyfile", str(key_file))
    with serving(tmp_path / "data", *args, verify=verify) as base:
        assert base.startswith("https://")
        health = httpx.get(f"{base}/healthz", verify=verify, timeout=10)
        assert health.status_code == 200
        assert health.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
        answer = httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, verify=verify)
        assert answer.json() == {"data": {"__typename": "Query"}}
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        # The certificate is what is served: a client that does not trust it refuses it...
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{base}/healthz", timeout=10)
        # ...and the port speaks nothing but TLS.
        with pytest.raises(httpx.TransportError):
            httpx.get(base.replace("https://", "http://") + "/healthz", timeout=10)


async def test_https_from_settings_with_websockets_checked_by_origin(certificate, tmp_path):
    """SOFTBRIK_SSL_CERTFILE/_KEYFILE work like the options; over wss, a signed-in
    subscription connection works from an allowed origin and a foreign one is refused (403)."""
    from httpx_ws import WebSocketUpgradeError

    cert_file, key_file = certificate
    verify = trusting(cert_file)
    env = {
        "SOFTBRIK_SSL_CERTFILE": str(cert_file),
        "SOFTBRIK_SSL_KEYFILE": str(key_file),
        "SOFTBRIK_ALLOWED_ORIGINS": "https://app.example.com",
    }
    with serving(tmp_path / "data", env=env, verify=verify) as base:
        sign_up = {
            "query": "mutation($i: SignUpInput!) { signUp(input: $i) { token } }",
            "variables": {
                "i": {
                    "teamName": "Acme",
                    "name": "Ann",
                    "email": "ann@acme.dk",
                    "password": "a good password",
                    "paymentMethod": "pm_card_mastercard",
                }
            },
        }
        async with httpx.AsyncClient(base_url=base, verify=verify, timeout=10) as client:
            token = (await client.post("/graphql", json=sign_up)).json()["data"]["signUp"]["token"]
        for origin in ("https://app.example.com", None):
            headers = {"origin": origin} if origin else {}
            async with (
                httpx.AsyncClient(base_url=base, verify=verify, headers=headers) as client,
                Subscriptions.connect(client, "/graphql", token) as conn,
            ):
                await conn.ping()
        async with httpx.AsyncClient(
            base_url=base, verify=verify, headers={"origin": "https://evil.example"}
        ) as client:
            with pytest.raises(WebSocketUpgradeError) as refused:
                async with Subscriptions.connect(client, "/graphql", token):
                    pass
        assert refused.value.response.status_code == 403


def test_a_certificate_needs_its_key(certificate):
    cert_file, _ = certificate
    result = CliRunner().invoke(main, ["serve", "--ssl-certfile", str(cert_file)])
    assert result.exit_code == 2
    assert "both a certificate and its key" in result.output
