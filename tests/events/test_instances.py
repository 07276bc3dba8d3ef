"""Several instances: two real `softbrik serve` processes on one PostgreSQL and one Redis.

A change made through the first reaches a subscriber connected to the second (DESIGN.md,
Events). Needs SOFTBRIK_TEST_POSTGRES_URL and SOFTBRIK_REDIS_URL (required in CI).
"""

import asyncio
import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from softbrik.testing import (
    Subscriptions,
    _create_postgres_database,
    _drop_postgres_database,
    require_service,
)
from tests.test_serve import free_port

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token user { id } } }"
ASSIGN = "mutation($u: ID!, $b: String!) { assignBrik(userId: $u, brik: $b) { id } }"
BILLING_EVENTS = "subscription { billingEvents { id type message } }"


def start_server(env, log):
    port = free_port()
    with log.open("ab") as out:  # a file, not a pipe nobody reads: a full pipe stalls a server
        process = subprocess.Popen(
            [sys.executable, "-m", "softbrik", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.terminate()
    pytest.fail(f"server did not become ready:\n{log.read_text()[-3000:]}")


@pytest.fixture
async def two_servers(tmp_path):
    admin_url = os.environ.get("SOFTBRIK_TEST_POSTGRES_URL")
    redis_url = os.environ.get("SOFTBRIK_REDIS_URL")
    require_service("PostgreSQL (SOFTBRIK_TEST_POSTGRES_URL)", bool(admin_url))
    require_service("Redis (SOFTBRIK_REDIS_URL)", bool(redis_url))
    url, name = await _create_postgres_database(admin_url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOFTBRIK_")},
        "SOFTBRIK_DATABASE_URL": url,
        "SOFTBRIK_REDIS_URL": redis_url,
        "SOFTBRIK_REDIS_PREFIX": f"softbrik-test-{uuid.uuid4().hex[:10]}:",
        "SOFTBRIK_DATA_DIR": str(tmp_path / "data"),  # shared, like a shared key and config
        "SOFTBRIK_ARGON2_MEMORY_KIB": "1024",
        "SOFTBRIK_ARGON2_TIME_COST": "1",
        "SOFTBRIK_LOG_LEVEL": "WARNING",
    }
    processes = []
    try:
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "softbrik", "migrate"],
            env=env,
            check=True,
            capture_output=True,
        )
        first, first_url = await asyncio.to_thread(start_server, env, tmp_path / "first.log")
        processes.append(first)
        second, second_url = await asyncio.to_thread(start_server, env, tmp_path / "second.log")
        processes.append(second)
        yield first_url, second_url
    finally:
        for name in ("first.log", "second.log"):
            if (tmp_path / name).exists():  # shown when the test fails
                print(f"--- {name}\n{(tmp_path / name).read_text()[-5000:]}")
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)
        await _drop_postgres_database(admin_url, name)


async def test_a_change_on_one_instance_reaches_a_subscriber_on_another(two_servers):
    first, second = two_servers
    async with httpx.AsyncClient(base_url=first, timeout=30) as one:
        signed_up = (
            await one.post(
                "/graphql",
                json={
                    "query": SIGN_UP,
                    "variables": {
                        "i": {
                            "teamName": "Acme",
                            "name": "Ann",
                            "email": f"ann-{uuid.uuid4().hex[:6]}@acme.dk",
                            "password": "a good password",
                            "paymentMethod": "pm_card_visa",
                        }
                    },
                },
            )
        ).json()["data"]["signUp"]
        token = signed_up["token"]
        async with (
            httpx.AsyncClient(base_url=second, timeout=30) as two,
            Subscriptions.connect(two, "/graphql", token) as conn,
        ):
            sub = await conn.subscribe(BILLING_EVENTS)
            await conn.ping()
            done = await one.post(
                "/graphql",
                json={
                    "query": ASSIGN,
                    "variables": {"u": signed_up["user"]["id"], "b": "filestorage"},
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert "errors" not in done.json(), done.json()
            seen = []
            while "SEAT_ADDED" not in seen:
                seen.append((await sub.next(wait=20))["billingEvents"]["type"])
            assert seen.count("SEAT_ADDED") == 1
