"""File storage throughput and memory: `python -m bench filestorage [--sizes 1,100,1024]
[--multipart]`.

A real server (`softbrik.app:create_app` under uvicorn, in its own process, SQLite and the local
blob directory) receives each file through the resumable upload (8 MiB chunks, each PUT to the
upload's chunk link, or with `--multipart` sent through the GraphQL multipart request spec; then
completion: the size and SHA-256 check) and sends it back through its signed download link,
streamed. The baseline, in the same run and on the same disk:
writing the same bytes straight to a file (with fsync) and reading them back. The ratio is the
stack's throughput over the baseline's. The server's peak memory (VmRSS sampled every 5 ms)
above its memory before the file shows whether memory stays flat whatever the size.

After each size, `softbrik filestorage export` (its own process, against the server's database
and blobs) streams the team's whole drive so far into a ZIP file; its peak memory next to the
size of the ZIP shows that the export's memory does not grow with the data either.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.harness import Server
from softbrik.schema.ids import decode_any

MIB = 1024 * 1024
SIZES_MB = (1, 100, 1024)
PIECE = MIB
CHUNK = 8 * MIB

SIGN_UP = """mutation($input: SignUpInput!) { signUp(input: $input) { token } }"""
START = """mutation($i: StartUploadInput!) {
  filestorageStartUpload(input: $i) { id chunkSize chunkCount chunkUrl } }"""
CHUNK_MUTATION = """mutation($id: ID!, $index: Int!, $chunk: Upload!) {
  filestorageUploadChunk(uploadId: $id, index: $index, chunk: $chunk) { id } }"""
COMPLETE = """mutation($id: ID!) {
  filestorageCompleteUpload(uploadId: $id) { id sha256 downloadUrl } }"""


def pattern(size: int) -> bytes:
    """Incompressible bytes, made once per size (1 MiB repeated would be as good for us)."""
    return os.urandom(min(size, PIECE))


def pieces(size: int, block: bytes) -> Any:
    sent = 0
    while sent < size:
        n = min(len(block), size - sent)
        yield block[:n]
        sent += n


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class PeakMemory:
    """Samples a process's resident memory in a thread; `peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = rss_kib(pid)
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def baseline(directory: Path, size: int, block: bytes) -> tuple[float, float]:
    """Seconds to write the bytes straight to a file (fsync) and to read them back."""
    path = directory / f"baseline-{secrets.token_hex(4)}"
    started = time.perf_counter()
    with path.open("wb") as f:
        for piece in pieces(size, block):
            f.write(piece)
        f.flush()
        os.fsync(f.fileno())
    written = time.perf_counter() - started
    started = time.perf_counter()
    with path.open("rb") as f:
        while f.read(PIECE):
            pass
    read = time.perf_counter() - started
    path.unlink()
    return written, read


def graphql(client: httpx.Client, query: str, variables: dict[str, Any], token: str) -> Any:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


def upload(
    client: httpx.Client, token: str, size: int, block: bytes, name: str, multipart: bool = False
) -> str:
    """The resumable upload of `size` bytes, each chunk PUT to its link (or, with `multipart`,
    sent through the GraphQL multipart request spec); returns the download link."""
    digest = hashlib.sha256()
    for piece in pieces(size, block):
        digest.update(piece)
    started = graphql(
        client,
        START,
        {"i": {"name": name, "size": size, "sha256": digest.hexdigest()}},
        token,
    )["filestorageStartUpload"]
    stream = pieces(size, block)
    for index in range(started["chunkCount"]):
        want = min(started["chunkSize"], size - index * started["chunkSize"])
        buffer = bytearray()
        while len(buffer) < want:
            buffer += next(stream)
        if not multipart:
            response = client.put(f"{started['chunkUrl']}{index}", content=bytes(buffer))
            response.raise_for_status()
            continue
        operations = {
            "query": CHUNK_MUTATION,
            "variables": {"id": started["id"], "index": index, "chunk": None},
        }
        response = client.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.chunk"]}),
            },
            files={"0": ("chunk", bytes(buffer), "application/octet-stream")},
            headers={"Authorization": f"Bearer {token}", "X-Softbrik-CSRF": "1"},
        )
        if response.json().get("errors"):
            raise RuntimeError(response.json()["errors"])
    done = graphql(client, COMPLETE, {"id": started["id"]}, token)["filestorageCompleteUpload"]
    if done["sha256"] != digest.hexdigest():
        raise RuntimeError("the stored file's SHA-256 differs")
    return str(done["downloadUrl"])


def download(client: httpx.Client, url: str, size: int) -> None:
    received = 0
    with client.stream("GET", url) as response:
        response.raise_for_status()
        for piece in response.iter_bytes(PIECE):
            received += len(piece)
    if received != size:
        raise RuntimeError(f"downloaded {received} bytes of {size}")


def export(env: dict[str, str], team_id: int, out: Path) -> tuple[int, float, float]:
    """Run the export command: (ZIP bytes, seconds, peak memory in MiB of the process)."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "softbrik", "filestorage", "export", "--team"]
    process = subprocess.Popen(
        [*command, str(team_id), str(out)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with PeakMemory(process.pid) as memory:
        if process.wait() != 0:
            raise RuntimeError("the export command failed")
    seconds = time.perf_counter() - started
    size = out.stat().st_size
    out.unlink()
    return size, seconds, memory.peak / 1024


def mb_s(size: int, seconds: float) -> float:
    return size / MIB / seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench filestorage")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES_MB)), help="sizes in MiB")
    parser.add_argument(
        "--multipart", action="store_true", help="send chunks as GraphQL multipart requests"
    )
    options = parser.parse_args(argv)
    sizes = [int(float(s) * MIB) for s in options.sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="softbrik-bench-fs-") as tmp:
        directory = Path(tmp)
        env = {
            "SOFTBRIK_DATA_DIR": str(directory / "data"),
            "SOFTBRIK_ENV": "production",
            "SOFTBRIK_LOG_LEVEL": "WARNING",
            "SOFTBRIK_ARGON2_TIME_COST": "1",
            "SOFTBRIK_ARGON2_MEMORY_KIB": "1024",
            "SOFTBRIK_FILESTORAGE_QUOTA_BYTES": str(64 * 1024 * MIB),
            "TMPDIR": str(directory),
        }
        log = directory / "server.log"
        rows = []
        with (
            Server("softbrik.app:create_app", env, log) as server,
            httpx.Client(base_url=server.url, timeout=600) as client,
        ):
            assert server.process is not None
            token = client.post(
                "/graphql",
                json={
                    "query": SIGN_UP,
                    "variables": {
                        "input": {
                            "teamName": "Bench",
                            "name": "Bench",
                            "email": "bench@example.com",
                            "password": "bench password 1",
                            "paymentMethod": "pm_card_visa",
                            "briks": ["filestorage"],
                        }
                    },
                },
            ).json()["data"]["signUp"]["token"]
            team_global_id = graphql(client, "{ team { id } }", {}, token)["team"]["id"]
            team_id = decode_any(team_global_id)[1]
            exports = []
            # Warm up (the team's data key, connections), outside the measurements.
            download(client, upload(client, token, 1000, pattern(1000), "warm-up"), 1000)
            for size in sizes:
                block = pattern(size)
                written, read = baseline(directory, size, block)
                with PeakMemory(server.process.pid) as up_memory:
                    started = time.perf_counter()
                    url = upload(client, token, size, block, f"f-{size}.bin", options.multipart)
                    up = time.perf_counter() - started
                with PeakMemory(server.process.pid) as down_memory:
                    started = time.perf_counter()
                    download(client, url, size)
                    down = time.perf_counter() - started
                rows.append(
                    (
                        size,
                        mb_s(size, up),
                        mb_s(size, written),
                        mb_s(size, down),
                        mb_s(size, read),
                        (up_memory.peak - up_memory.start) / 1024,
                        (down_memory.peak - down_memory.start) / 1024,
                        up_memory.peak / 1024,
                    )
                )
                exports.append(export(env, team_id, directory / "export.zip"))
                print(
                    f"{size // MIB:>5} MiB: upload {mb_s(size, up):7.1f} MiB/s "
                    f"(disk {mb_s(size, written):7.1f}, ratio {written / up:.2f}), "
                    f"download {mb_s(size, down):7.1f} MiB/s "
                    f"(disk {mb_s(size, read):7.1f}, ratio {read / down:.2f}), "
                    f"server peak +{rows[-1][5]:.0f} / +{rows[-1][6]:.0f} MiB; "
                    f"export {exports[-1][0] / MIB:.0f} MiB in {exports[-1][1]:.1f} s, "
                    f"peak {exports[-1][2]:.0f} MiB",
                    flush=True,
                )
        print()
        print(
            "| size | upload MiB/s | disk write MiB/s | ratio | download MiB/s | disk read MiB/s "
            "| ratio | server memory peak above start (up / down) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for size, up_s, w_s, down_s, r_s, up_m, down_m, _ in rows:
            print(
                f"| {size // MIB} MiB | {up_s:.1f} | {w_s:.1f} | {up_s / w_s:.2f} | {down_s:.1f} "
                f"| {r_s:.1f} | {down_s / r_s:.3f} | +{up_m:.0f} MiB / +{down_m:.0f} MiB |"
            )
        print()
        print("| drive so far | ZIP | export MiB/s | export process peak memory |")
        print("|---|---|---|---|")
        total = 0
        for (size, *_), (zipped, seconds, peak) in zip(rows, exports, strict=True):
            total += size
            print(
                f"| {total / MIB:.0f} MiB | {zipped / MIB:.0f} MiB | {mb_s(zipped, seconds):.1f} "
                f"| {peak:.0f} MiB |"
            )
