"""`softbrik serve` on the embedded defaults: a fresh data directory, a working API."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOFTBRIK_")},
        "SOFTBRIK_DATA_DIR": str(tmp_path / "data"),
        "SOFTBRIK_ARGON2_MEMORY_KIB": "1024",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "softbrik", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
        else:
            pytest.fail("server did not become ready")
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        yield base, tmp_path / "data"
    finally:
        process.terminate()
        process.wait(timeout=10)


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
