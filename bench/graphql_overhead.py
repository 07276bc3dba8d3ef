"""What GraphQL costs over a plain JSON endpoint serving the same records (issue 2, item 7).

One uvicorn process (the real app, as `softbrik serve` runs it) answers two routes:
`POST /graphql` with the team's members and their seats, and `GET /plain/members`, a plain
Starlette endpoint returning the same JSON. Both authenticate the same bearer token and read
the same rows with the same service call (`team_members`), so the difference between them is
what the GraphQL layer (Strawberry and graphql-core) costs. Teams of 1, 100 and 1000 members
are measured, each pair interleaved in one run. Targets: GraphQL reaches at least 0.6 of the
plain endpoint's throughput for 1 record and 0.5 for 100 and 1000.

    python -m bench graphql_overhead [--seconds 2] [--rounds 3] [--concurrency 8] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.harness import LoadGenerator, Request, Server, machine, table, total
from bench.harness import ratio as median_ratio

SIZES = (1, 100, 1000)
TARGETS = {1: 0.6, 100: 0.5, 1000: 0.5}
QUERY = (
    "query Members { team { members { user { id name email role } "
    "seats { id brik startsOn endsOn } removalOn accessEndedAt } } }"
)
PASSWORD = "a long enough bench password"


# --- the server side ------------------------------------------------------------------------


def member_json(user: Any, seats: list[Any]) -> dict[str, Any]:
    from softbrik.schema.ids import encode_id

    return {
        "user": {
            "id": encode_id("User", user.id),
            "name": user.name,
            "email": user.email,
            "role": str(user.role.value),
        },
        "seats": [
            {
                "id": encode_id("Seat", seat.id),
                "brik": seat.brik,
                "startsOn": seat.starts_on.isoformat(),
                "endsOn": seat.ends_on.isoformat() if seat.ends_on else None,
            }
            for seat in seats
        ],
        "removalOn": user.removal_on.isoformat() if user.removal_on else None,
        "accessEndedAt": user.access_ended_at.isoformat() if user.access_ended_at else None,
    }


async def plain_members(request: HttpRequest) -> Response:
    """The baseline: the same sign-in and the same rows as the GraphQL query, as plain JSON."""
    from softbrik.app import bearer
    from softbrik.core.accounts import service as accounts
    from softbrik.core.accounts.members import team_members

    rt = request.app.state.rt
    session = await accounts.authenticate(rt, bearer(request.headers.get("authorization")) or "")
    if session is None:
        return JSONResponse({"errors": [{"message": "Sign in first."}]}, status_code=401)
    members = await team_members(session.user.team_id)
    body = {"data": {"team": {"members": [member_json(u, s) for u, s in members]}}}
    return JSONResponse(body)


def server_app() -> Starlette:
    """The real app, plus the plain endpoint (uvicorn factory of the server process)."""
    from softbrik.app import create_app

    app = create_app()
    app.router.routes.insert(0, Route("/plain/members", plain_members))
    return app


# --- setting up -----------------------------------------------------------------------------


async def seed(sizes: tuple[int, ...]) -> dict[int, str]:
    """One team per size with that many members (one seat each); each admin's token."""
    from softbrik.app import make_runtime
    from softbrik.briks import load_briks
    from softbrik.core import db
    from softbrik.core.accounts import service as accounts
    from softbrik.core.accounts.models import Role, Seat, User
    from softbrik.settings import Settings

    settings = Settings()
    briks = load_briks(settings)
    apps = [*db.CORE_APPS, *briks.db_apps()]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await db.migrate(settings.db_url, apps)
    await db.init_db(settings.db_url, apps)
    rt = make_runtime(settings, briks)
    tokens: dict[int, str] = {}
    try:
        for size in sizes:
            form = accounts.SignUp(
                team_name=f"Bench {size}",
                name="Ada Admin",
                email=f"admin{size}@bench.example",
                password=PASSWORD,
                payment_method="pm_card_visa",
                briks=[],
            )
            admin, tokens[size] = await accounts.sign_up(rt, form)
            now = rt.clock.now()
            await User.bulk_create(
                [
                    User(
                        team_id=admin.team_id,
                        email=f"member{i}.{size}@bench.example",
                        name=f"Member {i} of {size}",
                        password_hash=admin.password_hash,
                        role=Role.MEMBER,
                        created_at=now,
                    )
                    for i in range(1, size)
                ]
            )
            users = await User.filter(team_id=admin.team_id).order_by("id")
            await Seat.bulk_create(
                [
                    Seat(
                        team_id=admin.team_id,
                        user_id=user.id,
                        brik="bench",
                        starts_on=now.date(),
                        created_at=now,
                    )
                    for user in users
                ]
            )
    finally:
        await db.close_db()
    return tokens


def check_same_records(base: str, tokens: dict[int, str]) -> None:
    """Both routes must answer the same JSON, or the comparison means nothing."""
    for size, token in tokens.items():
        auth = {"authorization": f"Bearer {token}"}
        plain = httpx.get(f"{base}/plain/members", headers=auth).json()
        graphql = httpx.post(f"{base}/graphql", json={"query": QUERY}, headers=auth).json()
        if plain != graphql:
            raise SystemExit(f"the two routes differ for {size} records:\n{plain}\n{graphql}")
        if len(plain["data"]["team"]["members"]) != size:
            raise SystemExit(f"expected {size} members, got {len(plain['data']['team'])}")


# --- measuring ------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench graphql_overhead")
    parser.add_argument("--seconds", type=float, default=1.0, help="shortest round")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per route and size")
    parser.add_argument("--concurrency", type=int, default=8, help="open connections")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="records per reply")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    options = parser.parse_args(argv)
    sizes = tuple(int(s) for s in options.sizes.split(","))

    with tempfile.TemporaryDirectory(prefix="softbrik-bench-") as tmp:
        env = {
            "SOFTBRIK_DATA_DIR": tmp,
            "SOFTBRIK_ENV": "production",
            "SOFTBRIK_LOG_LEVEL": "WARNING",
            "SOFTBRIK_ARGON2_TIME_COST": "1",
            "SOFTBRIK_ARGON2_MEMORY_KIB": "1024",
        }
        import os

        os.environ.update(env)
        tokens = asyncio.run(seed(sizes))
        log = Path(tmp) / "server.log"
        with (
            Server("bench.graphql_overhead:server_app", env, log) as server,
            LoadGenerator(server.port, options.concurrency, server.pid) as load,
        ):
            check_same_records(server.url, tokens)
            ceiling = load.ceiling()
            rows = []
            missed = []
            for size in sizes:
                auth = {"authorization": f"Bearer {tokens[size]}"}
                plain_rounds, graphql_rounds = load.interleaved(
                    [
                        Request("GET", "/plain/members", auth),
                        Request.graphql(QUERY, tokens[size]),
                    ],
                    options.seconds,
                    options.rounds,
                )
                plain, graphql = total(plain_rounds), total(graphql_rounds)
                if plain.failures or graphql.failures:
                    raise SystemExit(f"failed requests; see {log}")
                ratio = median_ratio(graphql_rounds, plain_rounds)
                cpu_ratio = median_ratio(graphql_rounds, plain_rounds, cpu=True)
                target = TARGETS.get(size)
                if target is not None and ratio < target:
                    missed.append(size)
                rows.append(
                    [
                        size,
                        f"{plain.rps:.0f}",
                        f"{plain.p50:.1f} / {plain.p99:.1f}",
                        f"{graphql.rps:.0f}",
                        f"{graphql.p50:.1f} / {graphql.p99:.1f}",
                        f"**{ratio:.2f}**",
                        f"{cpu_ratio:.2f}",
                        f">= {target}" if target else "",
                    ]
                )
                print(f"  {size} records: ratio {ratio:.2f} (CPU {cpu_ratio:.2f})", flush=True)

    print()
    print(
        table(
            [
                "records",
                "plain req/s",
                "plain p50 / p99 ms",
                "GraphQL req/s",
                "GraphQL p50 / p99 ms",
                "GraphQL / plain",
                "per CPU-second",
                "target",
            ],
            rows,
        )
    )
    print()
    print(f"Machine: {machine()}.")
    print(
        f"{options.concurrency} keep-alive connections; {options.rounds} interleaved rounds "
        f"per route and size, each at least {options.seconds:g} s and 30 requests; the ratio is "
        f"the median of the rounds' ratios of req/s (and of requests per server CPU-second, "
        f"steadier on a busy machine). Load generator against /healthz: {ceiling.rps:.0f} req/s."
    )
    if missed:
        print(f"Below target for {', '.join(map(str, missed))} records.")
        if options.check:
            raise SystemExit(1)
