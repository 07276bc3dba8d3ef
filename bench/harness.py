"""What the benchmarks share: a real server in a subprocess, and a load generator in another.

`Server` starts uvicorn in its own process on a free loopback port, exactly as
`softbrik serve` does (uvloop, httptools), around an app factory named `module:function`.
`LoadGenerator` drives it from a second process with a small keep-alive HTTP/1.1 client
written on raw asyncio streams: it costs far less per request than the server, so the
figures are the server's (check with `ceiling()`: the load generator against /healthz).
`interleaved()` alternates the sides of a comparison in short rounds, so that a slower
moment of the machine weighs on both sides alike.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class Server:
    """uvicorn serving `factory` ("module:function" returning an ASGI app) in a subprocess.

    With `BENCH_PROFILE=/path/profile.txt` in the environment, the server runs under
    pyinstrument and writes its profile there when it stops (and a `.pyisession`, for
    `pyinstrument --load=... --show-all`).
    """

    def __init__(self, factory: str, env: dict[str, str], log: Path) -> None:
        self.factory = factory
        self.env = env
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> Server:
        env = {**os.environ, **self.env}
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.harness", "serve", self.factory, str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server stopped; see {self.log}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"the server did not start; see {self.log}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGINT, as Ctrl+C: uvicorn shuts down, then Python unwinds (writing a profile).
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve(factory: str, port: int) -> None:
    """The server process: what `softbrik serve` runs, around the given app factory."""
    import uvicorn

    from softbrik.logs import configure
    from softbrik.settings import Settings

    settings = Settings()
    configure(settings.log_level, settings.log_json)
    module, _, function = factory.partition(":")
    app = getattr(importlib.import_module(module), function)()
    profile = os.environ.get("BENCH_PROFILE")
    if not profile:
        uvicorn.run(app, host=HOST, port=port, log_config=None, proxy_headers=False)
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        uvicorn.run(app, host=HOST, port=port, log_config=None, proxy_headers=False)
    except KeyboardInterrupt:
        pass
    finally:
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=True, show_all=False))
        if profiler.last_session is not None:
            profiler.last_session.save(profile + ".pyisession")


# --- the load generator ---------------------------------------------------------------------


@dataclass
class Request:
    """One HTTP request, sent as the same bytes every time."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def graphql(cls, query: str, token: str | None = None) -> Request:
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        return cls("POST", "/graphql", headers, json.dumps({"query": query}).encode())

    def encode(self, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"host: {HOST}:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method == "POST":
            lines.append(f"content-length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Measurement:
    """Requests answered in `seconds`, and each one's latency in seconds."""

    requests: int = 0
    seconds: float = 0.0
    failures: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the server process's CPU time (all threads) meanwhile

    def add(self, other: Measurement) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.failures += other.failures
        self.latencies.extend(other.latencies)
        self.cpu_seconds += other.cpu_seconds

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_second(self) -> float:
        """Requests per second of server CPU: what one free core would serve."""
        return self.requests / self.cpu_seconds if self.cpu_seconds else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)


async def _connection(
    port: int, request: bytes, deadline: float, result: Measurement, check_errors: bool
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    clock = time.perf_counter
    try:
        while True:
            started = clock()
            if started >= deadline:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            at = head.lower().find(b"content-length:")
            if at < 0:
                raise RuntimeError(f"a response without content-length: {head[:200]!r}")
            length = int(head[at + 15 : head.index(b"\r\n", at)])
            body = await reader.readexactly(length)
            result.latencies.append(clock() - started)
            result.requests += 1
            if head[9:12] != b"200" or (check_errors and b'"errors"' in body):
                result.failures += 1
    finally:
        writer.close()


async def _load(port: int, request: bytes, seconds: float, concurrency: int) -> Measurement:
    result = Measurement()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_connection(port, request, deadline, result, True) for _ in range(concurrency))
    )
    result.seconds = time.perf_counter() - started
    return result


def _load_in_process(port: int, request: bytes, seconds: float, concurrency: int) -> Measurement:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        pass
    return asyncio.run(_load(port, request, seconds, concurrency))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LoadGenerator:
    """A process of its own that sends requests over `concurrency` keep-alive connections.

    With the server's `pid`, each measurement also records the server's CPU time, so that
    requests per CPU-second can be compared when other work shares the machine.
    """

    def __init__(self, port: int, concurrency: int = 8, pid: int | None = None) -> None:
        self.port = port
        self.concurrency = concurrency
        self.pid = pid
        self.pool = ProcessPoolExecutor(max_workers=1)
        self.pool.submit(time.sleep, 0).result()  # start the process before measuring

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown()

    def measure(self, request: Request, seconds: float) -> Measurement:
        cpu = cpu_seconds(self.pid) if self.pid else 0.0
        future = self.pool.submit(
            _load_in_process, self.port, request.encode(self.port), seconds, self.concurrency
        )
        result = future.result()
        if self.pid:
            result.cpu_seconds = cpu_seconds(self.pid) - cpu
        return result

    def interleaved(
        self,
        requests: Sequence[Request],
        seconds: float,
        rounds: int,
        min_requests: int = 30,
    ) -> list[list[Measurement]]:
        """Each request measured in `rounds` rounds, alternating (AB BA AB ...).

        A round lasts `seconds`, or longer when needed for about `min_requests` answers to the
        slowest request (measured in a warm-up). Returns the rounds of each request.
        """
        warm = [self.measure(request, max(0.5, seconds / 2)) for request in requests]
        slowest = min(m.rps for m in warm) or 1.0
        length = max(seconds, min_requests / slowest)
        measured: list[list[Measurement]] = [[] for _ in requests]
        for round_ in range(rounds):
            order = list(range(len(requests)))
            if round_ % 2:
                order.reverse()
            for index in order:
                measured[index].append(self.measure(requests[index], length))
        return measured

    def ceiling(self, seconds: float = 1.0) -> Measurement:
        """What the load generator reaches against /healthz, the cheapest route."""
        return self.measure(Request("GET", "/healthz"), seconds)


# --- printing -------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, so that it can go into the README as printed."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def machine() -> str:
    """A line about where the figures were measured."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def total(rounds: Sequence[Measurement]) -> Measurement:
    """All rounds of one side as one measurement."""
    result = Measurement()
    for measurement in rounds:
        result.add(measurement)
    return result


def ratio(
    numerator: Sequence[Measurement], denominator: Sequence[Measurement], cpu: bool = False
) -> float:
    """The median over the rounds of numerator/denominator throughput (robust to a busy
    moment of the machine, which weighs on both sides of one round alike); with `cpu`, of
    requests per server CPU-second."""

    def of(m: Measurement) -> float:
        return m.per_cpu_second if cpu else m.rps

    pairs = zip(numerator, denominator, strict=True)
    ratios = [of(n) / of(d) for n, d in pairs if of(d)]
    return statistics.median(ratios) if ratios else 0.0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit("usage: python -m bench.harness serve MODULE:FACTORY PORT")
