"""The core's implementation of `softbrik.plugin.Platform`: what Briks get from the platform."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import AsyncIterator, Collection, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from softbrik.core.blobs import BlobStore
from softbrik.core.errors import Forbidden
from softbrik.core.events.log import record
from softbrik.core.runtime import Runtime
from softbrik.plugin import DomainEvent

WRITE_SIZE = 1024 * 1024
"""Sealed segments are handed to the store in pieces of about this size (fewer thread hops)."""
BRIK_KEY = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")
TOKEN_VERSION = "1"


def signing_key(rt: Runtime) -> bytes:
    """`SOFTBRIK_SECRET_KEY`, or a random key kept in `<data_dir>/signing.key` (mode 0600)."""
    if rt.settings.secret_key:
        return hashlib.sha256(rt.settings.secret_key.encode()).digest()
    path = Path(rt.settings.data_dir) / "signing.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        # Another process created it first: use theirs.
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key.hex())
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def _coalesced(chunks: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) >= size:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


class ScopedBlobs:
    """`softbrik.plugin.BrikBlobs`: one Brik's blobs, sealed per team, in the runtime's store."""

    def __init__(self, rt: Runtime, brik: str) -> None:
        self.rt = rt
        self.brik = brik

    @property
    def store(self) -> BlobStore:
        store: BlobStore = self.rt.blobs
        return store

    def _key(self, team_id: int, key: str) -> str:
        if not BRIK_KEY.match(key) or ".." in key:
            raise ValueError(f"invalid blob key {key!r}")
        return f"team/{int(team_id)}/{self.brik}/{key}"

    def _purpose(self, key: str) -> str:
        # Bound to the key: a blob copied under another key, or another Brik's, does not open.
        return f"{self.brik}.blob:{key}"

    async def write(self, team_id: int, key: str, chunks: AsyncIterator[bytes]) -> int:
        stored = self._key(team_id, key)
        size = 0

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in chunks:
                size += len(chunk)
                yield chunk

        sealed = self.rt.vault.seal_stream(team_id, counted(), self._purpose(key))
        await self.store.put(stored, _coalesced(sealed, WRITE_SIZE))
        return size

    async def read(
        self, team_id: int, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        from softbrik.core.blobs import BlobNotFound
        from softbrik.core.crypto.vault import stream_plaintext_size

        stored = self._key(team_id, key)
        purpose = self._purpose(key)
        if start == 0 and end is None:
            # The whole blob: one sequential read, segment after segment.
            async for chunk in self.rt.vault.open_stream(team_id, self.store.get(stored), purpose):
                yield chunk
            return
        sealed_size = await self.store.size(stored)
        if sealed_size is None:
            raise BlobNotFound(stored)
        size = stream_plaintext_size(sealed_size)
        end = size if end is None else min(end, size)
        start = min(start, end)

        async def read_range(a: int, b: int) -> bytes:
            return await self.store.get_range(stored, a, b)

        async for chunk in self.rt.vault.open_range(team_id, read_range, size, start, end, purpose):
            yield chunk

    async def size(self, team_id: int, key: str) -> int | None:
        from softbrik.core.crypto.vault import stream_plaintext_size

        sealed_size = await self.store.size(self._key(team_id, key))
        return None if sealed_size is None else stream_plaintext_size(sealed_size)

    async def delete(self, team_id: int, key: str) -> None:
        await self.store.delete(self._key(team_id, key))

    async def keys(self, team_id: int, prefix: str = "") -> list[str]:
        base = f"team/{int(team_id)}/{self.brik}/"
        return [key[len(base) :] for key in await self.store.keys(base + prefix)]

    async def delete_team(self, team_id: int) -> int:
        deleted: int = await self.store.delete_prefix(f"team/{int(team_id)}/{self.brik}/")
        return deleted


class CorePlatform:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._signing_key: bytes | None = None
        self._blobs: dict[str, ScopedBlobs] = {}

    def now(self) -> datetime:
        return self.rt.clock.now()

    async def emit(
        self,
        team_id: int,
        type: str,
        payload: Mapping[str, Any],
        actor_id: int | None = None,
    ) -> None:
        await record(self.rt.clock, team_id, type, payload, actor_id)

    def events(
        self,
        team_id: int,
        types: Collection[str] | None = None,
        after: int | None = None,
    ) -> AsyncIterator[DomainEvent]:
        stream: AsyncIterator[DomainEvent] = self.rt.events.stream(team_id, types, after)
        return stream

    async def seal(self, team_id: int, plaintext: bytes, purpose: str) -> bytes:
        sealed: bytes = await self.rt.vault.seal(team_id, plaintext, purpose)
        return sealed

    async def open(self, team_id: int, sealed: bytes, purpose: str) -> bytes:
        opened: bytes = await self.rt.vault.open(team_id, sealed, purpose)
        return opened

    # -- blobs ------------------------------------------------------------------------------

    def blobs(self, brik: str) -> ScopedBlobs:
        found = self._blobs.get(brik)
        if found is None:
            found = self._blobs[brik] = ScopedBlobs(self.rt, brik)
        return found

    # -- signed tokens ----------------------------------------------------------------------

    def _key(self) -> bytes:
        if self._signing_key is None:
            self._signing_key = signing_key(self.rt)
        return self._signing_key

    def _mac(self, purpose: str, body: str) -> str:
        message = f"{TOKEN_VERSION}|{purpose}|{body}".encode()
        return _b64(hmac.new(self._key(), message, hashlib.sha256).digest())

    def sign(self, purpose: str, claims: Mapping[str, Any], ttl: timedelta) -> str:
        expires = int((self.now() + ttl).timestamp())
        body = _b64(json.dumps({"c": dict(claims), "e": expires}, separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def verify(self, purpose: str, token: str) -> dict[str, Any]:
        refused = Forbidden("This link is invalid or has expired.")
        body, _, mac = token.partition(".")
        if not body or not mac or not hmac.compare_digest(mac, self._mac(purpose, body)):
            raise refused
        try:
            data = json.loads(_unb64(body))
            claims, expires = data["c"], int(data["e"])
        except (ValueError, KeyError, TypeError) as exc:
            raise refused from exc
        if self.now().timestamp() >= expires or not isinstance(claims, dict):
            raise refused
        return claims

    # -- secrets ----------------------------------------------------------------------------

    async def hash_secret(self, secret: str) -> str:
        hashed: str = await asyncio.to_thread(self.rt.hasher.hash, secret)
        return hashed

    async def check_secret(self, hashed: str, secret: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return bool(await asyncio.to_thread(self.rt.hasher.verify, hashed, secret))
        except (VerificationError, InvalidHashError):
            return False

    # -- seats and ids ----------------------------------------------------------------------

    async def has_seat(self, team_id: int, user_id: int, brik: str) -> bool:
        from softbrik.core.accounts.models import User
        from softbrik.core.accounts.seats import active_brik_keys

        user = await User.get_or_none(id=user_id, team_id=team_id).select_related("team")
        if user is None:
            return False
        return brik in await active_brik_keys(self.rt, user, user.team)

    def audit(
        self,
        request: Any,
        kind: str,
        *,
        team_id: int | None,
        user_id: int | None,
        size: int = 0,
        error: str | None = None,
    ) -> None:
        from softbrik.core.security.audit import Actor
        from softbrik.web import client_address

        self.rt.audit.add(
            kind,
            Actor(user_id, team_id),
            client_address(request),
            codes=[error] if error else [],
            size=size,
        )

    def encode_id(self, type_name: str, pk: int) -> str:
        from softbrik.schema.ids import encode_id

        return encode_id(type_name, pk)

    def decode_id(self, global_id: str, type_name: str, field: str = "id") -> int:
        from softbrik.schema.ids import decode_id

        return decode_id(global_id, type_name, field)
