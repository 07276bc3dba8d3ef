"""Vault streams: large blobs with flat memory, STREAM segments, HTTP byte ranges (R-SEC-1)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from softbrik.core.blobs import LocalBlobStore
from softbrik.core.crypto import (
    SEGMENT_SIZE,
    DecryptionError,
    KeyDestroyed,
    KeyProvider,
    LocalKeyProvider,
    Vault,
)
from softbrik.core.crypto.vault import (
    STREAM_HEADER_SIZE,
    TAG_SIZE,
    stream_ciphertext_size,
    stream_plaintext_size,
)

pytestmark = pytest.mark.usefixtures("db")

SEALED_SEGMENT = SEGMENT_SIZE + TAG_SIZE
PLAINTEXT = os.urandom(3 * 1024 * 1024 + 12345)


async def chunked(data: bytes, size: int = 10_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in chunks])


async def seal(vault: Vault, data: bytes, team: int = 1, purpose: str = "files") -> bytes:
    return await collect(vault.seal_stream(team, chunked(data), purpose))


async def open_(vault: Vault, sealed: bytes, team: int = 1, purpose: str = "files") -> bytes:
    return await collect(vault.open_stream(team, chunked(sealed, 70_001), purpose))


async def test_stream_round_trip(provider: KeyProvider) -> None:
    vault = Vault(provider)
    sealed = await seal(vault, PLAINTEXT)
    assert len(sealed) == stream_ciphertext_size(len(PLAINTEXT))
    assert stream_plaintext_size(len(sealed)) == len(PLAINTEXT)
    assert await open_(vault, sealed) == PLAINTEXT


@pytest.mark.parametrize(
    "size", [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 3 * SEGMENT_SIZE]
)
async def test_stream_sizes_at_segment_boundaries(provider: KeyProvider, size: int) -> None:
    vault = Vault(provider)
    data = PLAINTEXT[:size]
    sealed = await seal(vault, data)
    assert len(sealed) == stream_ciphertext_size(size)
    assert stream_plaintext_size(len(sealed)) == size
    assert await open_(vault, sealed) == data


async def test_stream_yields_segment_by_segment(tmp_path: Path) -> None:
    """Memory stays flat: no piece is larger than one sealed segment."""
    vault = Vault(LocalKeyProvider(tmp_path / "keys.json"))
    pieces = [p async for p in vault.seal_stream(1, chunked(PLAINTEXT, 1_000_000), "files")]
    assert max(len(p) for p in pieces) == SEALED_SEGMENT
    sealed = b"".join(pieces)
    opened = [p async for p in vault.open_stream(1, chunked(sealed, 1_000_000), "files")]
    assert max(len(p) for p in opened) == SEGMENT_SIZE


def segments(sealed: bytes) -> tuple[bytes, list[bytes]]:
    body = sealed[STREAM_HEADER_SIZE:]
    return sealed[:STREAM_HEADER_SIZE], [
        body[i : i + SEALED_SEGMENT] for i in range(0, len(body), SEALED_SEGMENT)
    ]


async def test_stream_tampering_is_detected(provider: KeyProvider) -> None:
    vault = Vault(provider)
    sealed = await seal(vault, PLAINTEXT)
    header, segs = segments(sealed)
    assert len(segs) == len(PLAINTEXT) // SEGMENT_SIZE + 1

    def flip(data: bytes, position: int) -> bytes:
        out = bytearray(data)
        out[position] ^= 0x80
        return bytes(out)

    bad = {
        "last segment dropped": header + b"".join(segs[:-1]),
        "cut mid-segment": sealed[: STREAM_HEADER_SIZE + 5 * SEALED_SEGMENT + 100],
        "last byte dropped": sealed[:-1],
        "only the header": header,
        "empty": b"",
        "segments swapped": header + segs[1] + segs[0] + b"".join(segs[2:]),
        "segment repeated": header + segs[0] + b"".join(segs[:-1]) + segs[-1],
        "byte in a middle segment": flip(sealed, STREAM_HEADER_SIZE + 20 * SEALED_SEGMENT + 7),
        "byte in the header": flip(sealed, 3),
        "format byte": flip(sealed, 0),
        "byte in a tag": flip(sealed, len(sealed) - 1),
        "byte appended": sealed + b"\x00",
    }
    for name, data in bad.items():
        with pytest.raises(DecryptionError):
            await open_(vault, data)
            pytest.fail(f"{name} not detected")


async def test_stream_of_another_team_or_purpose_does_not_open(provider: KeyProvider) -> None:
    vault = Vault(provider)
    await vault.ensure_key(2)
    sealed = await seal(vault, PLAINTEXT[:100_000])
    with pytest.raises(DecryptionError):
        await open_(vault, sealed, team=2)
    with pytest.raises(DecryptionError):
        await open_(vault, sealed, purpose="avatars")


async def test_segments_of_two_streams_do_not_splice(provider: KeyProvider) -> None:
    vault = Vault(provider)
    data = PLAINTEXT[: 3 * SEGMENT_SIZE]
    header_a, segs_a = segments(await seal(vault, data))
    _, segs_b = segments(await seal(vault, data))
    with pytest.raises(DecryptionError):
        await open_(vault, header_a + segs_a[0] + segs_b[1] + b"".join(segs_a[2:]))


async def test_destroyed_key_stream_does_not_open(provider: KeyProvider) -> None:
    vault = Vault(provider)
    sealed = await seal(vault, PLAINTEXT[:1000])
    await vault.destroy(1)
    with pytest.raises(KeyDestroyed):
        await open_(vault, sealed)


RANGES = [
    (0, 1),
    (0, SEGMENT_SIZE),
    (SEGMENT_SIZE - 1, SEGMENT_SIZE + 1),
    (SEGMENT_SIZE, 2 * SEGMENT_SIZE),
    (123, 3 * SEGMENT_SIZE + 7),
    (5 * SEGMENT_SIZE + 3, 5 * SEGMENT_SIZE + 4),
    (len(PLAINTEXT) - 1, len(PLAINTEXT)),
    (len(PLAINTEXT) - SEGMENT_SIZE - 10, len(PLAINTEXT)),
    (0, len(PLAINTEXT)),
    (777, 777),
]


async def test_range_decrypt_reads_only_covering_segments(
    provider: KeyProvider, tmp_path: Path
) -> None:
    vault = Vault(provider)
    store = LocalBlobStore(tmp_path / "blobs")
    await store.put("team/1/video", vault.seal_stream(1, chunked(PLAINTEXT), "files"))
    stored = await store.size("team/1/video")
    assert stored is not None
    size = stream_plaintext_size(stored)
    assert size == len(PLAINTEXT)

    reads: list[tuple[int, int]] = []

    async def read_range(a: int, b: int) -> bytes:
        reads.append((a, b))
        return await store.get_range("team/1/video", a, b)

    for start, end in RANGES:
        reads.clear()
        got = await collect(vault.open_range(1, read_range, size, start, end, "files"))
        assert got == PLAINTEXT[start:end], (start, end)
        covering = (end - 1) // SEGMENT_SIZE - start // SEGMENT_SIZE + 1 if end > start else 0
        ciphertext_read = sum(b - a for a, b in reads)
        assert ciphertext_read <= STREAM_HEADER_SIZE + covering * SEALED_SEGMENT


async def test_range_of_tampered_segment_fails(provider: KeyProvider) -> None:
    vault = Vault(provider)
    sealed = bytearray(await seal(vault, PLAINTEXT[: 4 * SEGMENT_SIZE + 10]))
    sealed[STREAM_HEADER_SIZE + 2 * SEALED_SEGMENT + 5] ^= 1

    async def read_range(a: int, b: int) -> bytes:
        return bytes(sealed[a:b])

    size = 4 * SEGMENT_SIZE + 10
    # Segments 0-1 are intact; segment 2 is not.
    assert await collect(vault.open_range(1, read_range, size, 0, 2 * SEGMENT_SIZE, "files"))
    with pytest.raises(DecryptionError):
        await collect(vault.open_range(1, read_range, size, 2 * SEGMENT_SIZE, size, "files"))
    # A wrong size makes the last segment's length or final flag mismatch.
    for lie in (size - 5, size + 5):
        with pytest.raises(DecryptionError):
            await collect(vault.open_range(1, read_range, lie, lie - 1, lie, "files"))
    with pytest.raises(ValueError):
        await collect(vault.open_range(1, read_range, size, 5, size + 1, "files"))
