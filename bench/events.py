"""Live events through one process (issue 3, item 5).

One uvicorn process (the real app, as `softbrik serve` runs it) with N administrators'
`billingEvents` subscriptions connected over graphql-transport-ws (N = 1, 100, 1000), held by a
second process. The bench then changes the team M times through `updatePaymentMethod` (each
change commits one PAYMENT_METHOD_UPDATED event) and measures:

- latency: from the event's `occurredAt` (taken just before its commit) to the moment the LAST
  of the N subscribers received it: p50 and p99 over the M events;
- throughput: M changes sent by 4 concurrent writers; events per second delivered to every
  subscriber (M / time from the first write to the last delivery), and deliveries per second.

Both with the in-process broker and with Redis (`SOFTBRIK_REDIS_URL`, or BENCH_REDIS_URL; the
Redis rows are skipped without one). The baseline, measured in the same run, is one subscriber
on the in-process broker: every row shows its latency and throughput as a ratio of it.

    python -m bench events [--sizes 1,100,1000] [--events 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Server, machine, table

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token } }"
UPDATE_CARD = 'mutation { updatePaymentMethod(paymentMethod: "pm_card_visa") { last4 } }'
SUBSCRIBE = "subscription { billingEvents { id type occurredAt } }"
WRITERS = 4


# --- the subscribers' process ---------------------------------------------------------------


async def _subscriber(url: str, token: str, ready: asyncio.Event, seen: dict[str, Any]) -> Any:
    import websockets

    ws = await websockets.connect(
        url, subprotocols=["graphql-transport-ws"], max_queue=None, ping_interval=None
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": token}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
    await ws.send(json.dumps({"type": "ping"}))
    while json.loads(await ws.recv())["type"] != "pong":
        pass
    ready.set()
    return ws


async def _subscribers(url: str, token: str, count: int, events: int, conn: Any) -> None:
    seen: dict[str, list[float]] = {}  # event id -> [occurred, last received, receivers]
    sockets = []
    for start in range(0, count, 50):  # connect in batches, as clients arrive
        batch = [
            _subscriber(url, token, asyncio.Event(), seen)
            for _ in range(start, min(count, start + 50))
        ]
        sockets.extend(await asyncio.gather(*batch))
    conn.send("ready")

    async def read(ws: Any) -> None:
        got = 0
        while got < events:
            message = json.loads(await ws.recv())
            if message.get("type") == "ping":
                await ws.send('{"type":"pong"}')
                continue
            if message.get("type") != "next":
                continue
            now = time.time()
            event = message["payload"]["data"]["billingEvents"]
            if event["type"] != "PAYMENT_METHOD_UPDATED":
                continue
            got += 1
            entry = seen.get(event["id"])
            if entry is None:
                occurred = datetime.fromisoformat(event["occurredAt"]).timestamp()
                seen[event["id"]] = [occurred, now, 1]
            else:
                entry[1] = max(entry[1], now)
                entry[2] += 1

    await asyncio.gather(*(read(ws) for ws in sockets))
    conn.send({key: value for key, value in seen.items()})
    await asyncio.gather(*(ws.close() for ws in sockets))


def _subscribers_process(url: str, token: str, count: int, events: int, conn: Any) -> None:
    asyncio.run(_subscribers(url, token, count, events, conn))


# --- one measurement ------------------------------------------------------------------------


def measure(env: dict[str, str], log: Path, count: int, events: int) -> dict[str, float]:
    with Server("softbrik.app:create_app", env, log) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            tag = uuid.uuid4().hex[:8]
            signed_up = http.post(
                "/graphql",
                json={
                    "query": SIGN_UP,
                    "variables": {
                        "i": {
                            "teamName": f"Bench {tag}",
                            "name": "Bench",
                            "email": f"bench-{tag}@example.com",
                            "password": "a long enough bench password",
                            "paymentMethod": "pm_card_visa",
                        }
                    },
                },
            ).json()
            token = signed_up["data"]["signUp"]["token"]
        ws_url = server.url.replace("http://", "ws://") + "/graphql"
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=_subscribers_process, args=(ws_url, f"Bearer {token}", count, events, child)
        )
        process.start()
        try:
            if not parent.poll(600):
                raise RuntimeError("the subscribers did not connect")
            assert parent.recv() == "ready"
            started = time.time()
            asyncio.run(_write(server.url, token, events))
            written = time.time()
            if not parent.poll(600):
                raise RuntimeError("the events did not all arrive")
            seen: dict[str, list[float]] = parent.recv()
        finally:
            process.join(60)
            if process.is_alive():
                process.kill()
    assert len(seen) == events and all(entry[2] == count for entry in seen.values()), (
        "an event was lost or duplicated"
    )
    latencies = sorted((entry[1] - entry[0]) * 1000 for entry in seen.values())
    last = max(entry[1] for entry in seen.values())
    return {
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "events_per_s": events / (last - started),
        "writes_per_s": events / (written - started),
        "deliveries_per_s": events * count / (last - started),
    }


async def _write(url: str, token: str, events: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    remaining = list(range(events))
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as http:

        async def writer() -> None:
            while remaining:
                remaining.pop()
                body = (await http.post("/graphql", json={"query": UPDATE_CARD})).json()
                assert "errors" not in body, body

        await asyncio.gather(*(writer() for _ in range(WRITERS)))


# --- the run --------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench events")
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("SOFTBRIK_REDIS_URL")
    brokers = [("in-process", None)] + ([("redis", redis_url)] if redis_url else [])
    print(machine())
    print(f"{args.events} events, {WRITERS} concurrent writers; SQLite; one server process")
    results: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for broker, url in brokers:
            for count in [1, *sizes] if broker == "in-process" and 1 not in sizes else sizes:
                data = Path(tmp) / f"{broker}-{count}"
                env = {
                    "SOFTBRIK_DATA_DIR": str(data),
                    "SOFTBRIK_ARGON2_MEMORY_KIB": "1024",
                    "SOFTBRIK_ARGON2_TIME_COST": "1",
                    "SOFTBRIK_LOG_LEVEL": "WARNING",
                    "SOFTBRIK_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:",
                    "SOFTBRIK_MAX_SUBSCRIPTIONS_PER_CONNECTION": "5",
                }
                if url:
                    env["SOFTBRIK_REDIS_URL"] = url
                else:
                    env["SOFTBRIK_REDIS_URL"] = ""
                print(f"measuring {broker} broker, {count} subscribers …", flush=True)
                results[(broker, count)] = measure(
                    env, Path(tempfile.gettempdir()) / "bench-events-server.log", count, args.events
                )
    base = results[("in-process", 1)]
    rows = []
    for (broker, count), r in results.items():
        rows.append(
            [
                broker,
                count,
                f"{r['p50']:.1f}",
                f"{r['p99']:.1f}",
                f"{r['p50'] / base['p50']:.2f}",
                f"{r['events_per_s']:.0f}",
                f"{r['events_per_s'] / base['events_per_s']:.2f}",
                f"{r['deliveries_per_s']:.0f}",
            ]
        )
    print(
        table(
            [
                "broker",
                "subscribers",
                "p50 ms",
                "p99 ms",
                "p50 / baseline",
                "events/s",
                "events/s / baseline",
                "deliveries/s",
            ],
            rows,
        )
    )
    print("baseline: 1 subscriber, in-process broker, same run")
