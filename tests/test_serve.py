"""`softbrik serve` on the embedded defaults: a fresh data directory, a working API."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(
    data: Path, *args: str, env: dict[str, str] | None = None, verify: Any = True
) -> Iterator[str]:
    """`softbrik serve` in a subprocess on a free port with `data` as its data directory,
    until it answers /readyz; yields its base URL (https when `args` name a certificate)."""
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOFTBRIK_")},
        "SOFTBRIK_DATA_DIR": str(data),
        "SOFTBRIK_ARGON2_MEMORY_KIB": "1024",
        **(env or {}),
    }
    # Its log goes to a file: a pipe nobody reads would fill up and stall the server.
    log = data.parent / f"serve-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "softbrik", "serve", "--port", str(port), *args],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    scheme = (
        "https" if "--ssl-certfile" in args or "SOFTBRIK_SSL_CERTFILE" in (env or {}) else "http"
    )
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/readyz", timeout=1, verify=verify).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
        else:
            pytest.fail("server did not become ready")
        assert process.poll() is None, log.read_text()
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    with serving(tmp_path / "data") as base:
        yield base, tmp_path / "data"


def test_serve_migrates_sqlite_and_answers(server):
    base, data = server
    body = {
        "query": "mutation($i: SignUpInput!) { signUp(input: $i) { token user { role } } }",
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
    response = httpx.post(f"{base}/graphql", json=body, timeout=10)
    assert response.json()["data"]["signUp"]["user"]["role"] == "ADMIN"
    assert response.headers["x-request-id"]
    token = response.json()["data"]["signUp"]["token"]
    me = httpx.post(
        f"{base}/graphql",
        json={"query": "{ me { email } }"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert me.json() == {"data": {"me": {"email": "ann@acme.dk"}}}
    assert (data / "softbrik.sqlite3").exists()
    key_file = data / "keys" / "master.json"
    if key_file.exists():
        assert key_file.stat().st_mode & 0o077 == 0
