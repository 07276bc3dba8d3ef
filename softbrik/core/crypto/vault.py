"""Envelope encryption per team (R-SEC-1, R-SEC-2) and crypto-shredding (R-CLOSE-3, R-CLOSE-4).

Each team has one 256-bit data key, stored only wrapped (`TeamKey`). Data is sealed with
AES-256-GCM under it; the associated data binds the team and the purpose, so a ciphertext copied
to another team's row, or to another field of the same team, does not open.

Layouts (all integers big-endian):

- `seal`: ``0x01 | nonce (12) | ciphertext + tag (16)``.
- `seal_stream` (the STREAM construction, for blobs of any size with flat memory):
  ``0x02 | nonce prefix (8)`` then segments of `SEGMENT_SIZE` plaintext bytes, each
  ``ciphertext + tag (16)``, nonce = prefix + u32 segment index. The last segment holds
  ``size % SEGMENT_SIZE`` bytes (possibly none) and is flagged final in its associated data, so
  truncation, reordering and splicing between streams are all detected. Segment *i* starts at
  ``STREAM_HEADER_SIZE + i * (SEGMENT_SIZE + 16)``, which lets `open_range` decrypt only the
  segments that cover an HTTP byte range.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tortoise.backends.base.client import TransactionalDBClient

from softbrik.core.clock import Clock, SystemClock
from softbrik.core.crypto.errors import DecryptionError, KeyDestroyed
from softbrik.core.crypto.models import TeamKey
from softbrik.core.crypto.providers import KeyProvider

__all__ = [
    "SEGMENT_SIZE",
    "STREAM_HEADER_SIZE",
    "Vault",
    "stream_ciphertext_size",
    "stream_plaintext_size",
]

SEAL_FORMAT = 0x01
STREAM_FORMAT = 0x02
NONCE_SIZE = 12
TAG_SIZE = 16
SEGMENT_SIZE = 64 * 1024
STREAM_PREFIX_SIZE = 8
STREAM_HEADER_SIZE = 1 + STREAM_PREFIX_SIZE
MAX_SEGMENTS = 2**32

ReadRange = Callable[[int, int], Awaitable[bytes]]


def _aad(kind: int, team_id: int, purpose: str) -> bytes:
    # Team first as a fixed-width integer, purpose last: no two (team, purpose) pairs collide.
    return b"softbrik" + struct.pack(">Bq", kind, team_id) + purpose.encode()


def _segment_aad(header: bytes, team_id: int, purpose: str, final: bool) -> bytes:
    return header + (b"\x01" if final else b"\x00") + _aad(STREAM_FORMAT, team_id, purpose)


def stream_ciphertext_size(plaintext_size: int) -> int:
    """Size of the sealed stream of `plaintext_size` bytes."""
    segments = plaintext_size // SEGMENT_SIZE + 1
    return STREAM_HEADER_SIZE + plaintext_size + segments * TAG_SIZE


def stream_plaintext_size(ciphertext_size: int) -> int:
    """Size of the plaintext in a sealed stream of `ciphertext_size` bytes."""
    body = ciphertext_size - STREAM_HEADER_SIZE
    full, last = divmod(body, SEGMENT_SIZE + TAG_SIZE)
    if body < TAG_SIZE or last < TAG_SIZE:
        raise DecryptionError("not a sealed stream: impossible size")
    return full * SEGMENT_SIZE + last - TAG_SIZE


class _KeyCache:
    """Unwrapped data keys, in memory only, for a short time (LRU with TTL)."""

    def __init__(self, max_entries: int, ttl: float) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self._entries: OrderedDict[int, tuple[float, AESGCM]] = OrderedDict()

    def get(self, team_id: int) -> AESGCM | None:
        entry = self._entries.get(team_id)
        if entry is None:
            return None
        expires, aead = entry
        if expires < time.monotonic():
            del self._entries[team_id]
            return None
        self._entries.move_to_end(team_id)
        return aead

    def put(self, team_id: int, aead: AESGCM) -> None:
        if self.ttl <= 0 or self.max_entries <= 0:
            return
        self._entries[team_id] = (time.monotonic() + self.ttl, aead)
        self._entries.move_to_end(team_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def drop(self, team_id: int) -> None:
        self._entries.pop(team_id, None)

    def clear(self) -> None:
        self._entries.clear()


class Vault:
    """Seals and opens a team's data under the team's data key.

    One Vault per process; it holds a short-lived cache of unwrapped data keys. A key destroyed by
    another process stays usable here for at most `cache_ttl` seconds.
    """

    def __init__(
        self,
        provider: KeyProvider,
        *,
        clock: Clock | None = None,
        cache_ttl: float = 300.0,
        cache_size: int = 1024,
    ) -> None:
        self.provider = provider
        self.clock: Clock = clock or SystemClock()
        self._cache = _KeyCache(cache_size, cache_ttl)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        # Teams whose key this process created inside a database transaction that may still
        # roll back: their key is not cached until a read outside any transaction.
        self._uncommitted: set[int] = set()

    @staticmethod
    def _context(team_id: int) -> dict[str, str]:
        return {"team": str(team_id)}

    def _lock(self, team_id: int) -> asyncio.Lock:
        lock = self._locks.get(team_id)
        if lock is None:
            lock = self._locks[team_id] = asyncio.Lock()
        return lock

    async def _key(self, team_id: int, *, create: bool) -> AESGCM:
        aead = self._cache.get(team_id)
        if aead is not None:
            return aead
        # One unwrap (or KMS GenerateDataKey) per team at a time in this process.
        async with self._lock(team_id):
            aead = self._cache.get(team_id)
            if aead is not None:
                return aead
            # A key created in a transaction that rolls back must not outlive it in the cache:
            # data sealed later under it would have no wrapped key anywhere.
            in_transaction = isinstance(TeamKey._meta.db, TransactionalDBClient)
            if not in_transaction:
                self._uncommitted.discard(team_id)
            cacheable = team_id not in self._uncommitted
            row = await TeamKey.get_or_none(team_id=team_id)
            if row is None:
                if not create:
                    raise KeyDestroyed(f"team {team_id} has no data key")
                key, wrapped = await self.provider.generate_data_key(self._context(team_id))
                # The unique team_id decides between processes racing to create the key: the
                # loser reads the winner's row and never uses its own key.
                row, created = await TeamKey.get_or_create(
                    team_id=team_id,
                    defaults={
                        "wrapped": wrapped,
                        "provider": self.provider.name,
                        "wrapped_by": self.provider.master_of(wrapped),
                    },
                )
                if not created:
                    key = await self.provider.unwrap(bytes(row.wrapped), self._context(team_id))
                elif in_transaction:
                    self._uncommitted.add(team_id)
                    cacheable = False
            else:
                key = await self.provider.unwrap(bytes(row.wrapped), self._context(team_id))
            aead = AESGCM(key)
            if cacheable:
                self._cache.put(team_id, aead)
            return aead

    # -- key lifecycle -----------------------------------------------------------------------

    async def ensure_key(self, team_id: int) -> None:
        """Create the team's data key if it has none.

        Call it when the team is registered, in the registration's transaction: the first seal
        would create the key anyway, but then inside whatever transaction it runs in.
        """
        await self._key(team_id, create=True)

    async def rotate(self, team_id: int) -> None:
        """Re-wrap the team's data key under the provider's current master key.

        The data key itself is unchanged, so no data is re-encrypted.
        """
        row = await TeamKey.get_or_none(team_id=team_id)
        if row is None:
            raise KeyDestroyed(f"team {team_id} has no data key")
        await self.rewrap(row)

    async def rewrap(self, row: TeamKey) -> bool:
        """Re-wrap `row`'s data key under the current master key; False if the row changed
        meanwhile (destroyed, or re-wrapped by another run), which is then left as it is."""
        wrapped = await self.provider.rewrap(bytes(row.wrapped), self._context(row.team_id))
        changed = await TeamKey.filter(id=row.id, wrapped=bytes(row.wrapped)).update(
            wrapped=wrapped,
            wrapped_by=self.provider.master_of(wrapped),
            rotated_at=self.clock.now(),
        )
        return bool(changed)

    async def destroy(self, team_id: int) -> bool:
        """Crypto-shred the team (R-CLOSE-4): delete its data key; its data never opens again.

        Returns whether a key existed. Irreversible.
        """
        async with self._lock(team_id):
            deleted = await TeamKey.filter(team_id=team_id).delete()
            self._cache.drop(team_id)
        return bool(deleted)

    def forget_cached_keys(self) -> None:
        """Drop every unwrapped key from memory."""
        self._cache.clear()

    # -- small values --------------------------------------------------------------------------

    async def seal(self, team_id: int, plaintext: bytes, purpose: str) -> bytes:
        """Encrypt `plaintext` for `team_id` and `purpose` (e.g. "crm.contact.notes")."""
        aead = await self._key(team_id, create=True)
        nonce = secrets.token_bytes(NONCE_SIZE)
        header = bytes([SEAL_FORMAT])
        ct = aead.encrypt(nonce, plaintext, header + _aad(SEAL_FORMAT, team_id, purpose))
        return header + nonce + ct

    async def open(self, team_id: int, sealed: bytes, purpose: str) -> bytes:
        """Decrypt what `seal` returned for the same team and purpose.

        Raises `DecryptionError` if it does not authenticate, `KeyDestroyed` if the team's key
        is gone.
        """
        if len(sealed) < 1 + NONCE_SIZE + TAG_SIZE or sealed[0] != SEAL_FORMAT:
            raise DecryptionError("not a sealed value")
        aead = await self._key(team_id, create=False)
        nonce = sealed[1 : 1 + NONCE_SIZE]
        try:
            return aead.decrypt(
                nonce, sealed[1 + NONCE_SIZE :], sealed[:1] + _aad(SEAL_FORMAT, team_id, purpose)
            )
        except InvalidTag as exc:
            raise DecryptionError("sealed value does not open for this team and purpose") from exc

    # -- streams -------------------------------------------------------------------------------

    async def seal_stream(
        self, team_id: int, chunks: AsyncIterator[bytes], purpose: str
    ) -> AsyncIterator[bytes]:
        """Encrypt a stream of any size, holding at most one segment in memory."""
        aead = await self._key(team_id, create=True)
        prefix = secrets.token_bytes(STREAM_PREFIX_SIZE)
        header = bytes([STREAM_FORMAT]) + prefix
        yield header
        buffer = bytearray()
        index = 0
        async for chunk in chunks:
            buffer += chunk
            while len(buffer) >= SEGMENT_SIZE:
                # A full segment is never the final one: the final segment is always short.
                yield self._seal_segment(
                    aead, header, index, bytes(buffer[:SEGMENT_SIZE]), team_id, purpose, False
                )
                del buffer[:SEGMENT_SIZE]
                index += 1
        yield self._seal_segment(aead, header, index, bytes(buffer), team_id, purpose, True)

    @staticmethod
    def _seal_segment(
        aead: AESGCM,
        header: bytes,
        index: int,
        plaintext: bytes,
        team_id: int,
        purpose: str,
        final: bool,
    ) -> bytes:
        if index >= MAX_SEGMENTS:
            raise ValueError("stream too long")
        nonce = header[1:] + struct.pack(">I", index)
        return aead.encrypt(nonce, plaintext, _segment_aad(header, team_id, purpose, final))

    @staticmethod
    def _open_segment(
        aead: AESGCM,
        header: bytes,
        index: int,
        ciphertext: bytes,
        team_id: int,
        purpose: str,
        final: bool,
    ) -> bytes:
        nonce = header[1:] + struct.pack(">I", index)
        try:
            return aead.decrypt(nonce, ciphertext, _segment_aad(header, team_id, purpose, final))
        except InvalidTag as exc:
            raise DecryptionError(
                f"segment {index} of the sealed stream does not open (tampered, truncated, "
                "reordered, or another team's or purpose's)"
            ) from exc

    @staticmethod
    def _check_header(header: bytes) -> None:
        if len(header) != STREAM_HEADER_SIZE or header[0] != STREAM_FORMAT:
            raise DecryptionError("not a sealed stream")

    async def open_stream(
        self, team_id: int, chunks: AsyncIterator[bytes], purpose: str
    ) -> AsyncIterator[bytes]:
        """Decrypt what `seal_stream` produced, segment by segment.

        Plaintext is yielded as each segment authenticates; a later segment can still fail
        (`DecryptionError`), so a caller streaming to a client must abort the response then.
        """
        aead = await self._key(team_id, create=False)
        sealed_segment = SEGMENT_SIZE + TAG_SIZE
        buffer = bytearray()
        header: bytes | None = None
        index = 0
        async for chunk in chunks:
            buffer += chunk
            if header is None:
                if len(buffer) < STREAM_HEADER_SIZE:
                    continue
                header = bytes(buffer[:STREAM_HEADER_SIZE])
                del buffer[:STREAM_HEADER_SIZE]
                self._check_header(header)
            # Strictly more than one full segment: a full segment at the very end is truncation,
            # which the final flag of the last segment detects below.
            while len(buffer) > sealed_segment:
                yield self._open_segment(
                    aead, header, index, bytes(buffer[:sealed_segment]), team_id, purpose, False
                )
                del buffer[:sealed_segment]
                index += 1
        if header is None:
            raise DecryptionError("not a sealed stream")
        # The final segment is always shorter than a full one (it may be empty).
        if not TAG_SIZE <= len(buffer) < sealed_segment:
            raise DecryptionError("sealed stream is truncated")
        yield self._open_segment(aead, header, index, bytes(buffer), team_id, purpose, True)

    async def open_range(
        self,
        team_id: int,
        read_range: ReadRange,
        plaintext_size: int,
        start: int,
        end: int,
        purpose: str,
    ) -> AsyncIterator[bytes]:
        """Decrypt plaintext bytes [start, end) of a sealed stream, reading only what covers them.

        `read_range(a, b)` returns ciphertext bytes [a, b) of the stored stream (for example
        `lambda a, b: store.get_range(key, a, b)`); `plaintext_size` is the stream's plaintext
        size (`stream_plaintext_size(stored size)`). Yields one piece per covering segment.
        """
        if not 0 <= start <= end <= plaintext_size:
            raise ValueError(f"range [{start}, {end}) outside 0..{plaintext_size}")
        if start == end:
            return
        aead = await self._key(team_id, create=False)
        header = await read_range(0, STREAM_HEADER_SIZE)
        self._check_header(header)
        last_index = plaintext_size // SEGMENT_SIZE
        for index in range(start // SEGMENT_SIZE, (end - 1) // SEGMENT_SIZE + 1):
            offset = STREAM_HEADER_SIZE + index * (SEGMENT_SIZE + TAG_SIZE)
            length = min(SEGMENT_SIZE, plaintext_size - index * SEGMENT_SIZE) + TAG_SIZE
            ciphertext = await read_range(offset, offset + length)
            if len(ciphertext) != length:
                raise DecryptionError("sealed stream is truncated")
            plaintext = self._open_segment(
                aead, header, index, ciphertext, team_id, purpose, index == last_index
            )
            base = index * SEGMENT_SIZE
            yield plaintext[max(start - base, 0) : min(end - base, len(plaintext))]
