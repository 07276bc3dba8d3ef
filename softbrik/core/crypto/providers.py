"""Key providers: who holds the master key that wraps each team's data key (R-SEC-2).

`LocalKeyProvider` keeps versioned master keys in a 0600 file under the data directory (the
embedded default); `KmsKeyProvider` asks AWS KMS, so the master key never leaves KMS. Both bind
the wrapped key to an encryption context (the team), so a wrapped key copied to another team's
row does not unwrap.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import json
import os
import secrets
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from softbrik.core.crypto.errors import DecryptionError, KeyFileError

if TYPE_CHECKING:
    from softbrik.settings import Settings

__all__ = ["KeyProvider", "KmsKeyProvider", "LocalKeyProvider", "provider_from_settings"]

DATA_KEY_BYTES = 32


@runtime_checkable
class KeyProvider(Protocol):
    """Generates, unwraps and re-wraps 256-bit data keys under a master key."""

    name: str

    async def generate_data_key(self, context: dict[str, str]) -> tuple[bytes, bytes]:
        """Return a fresh data key: (32-byte plaintext key, the key wrapped under `context`)."""
        ...

    async def unwrap(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        """Return the plaintext data key; raise `DecryptionError` if `context` does not match."""
        ...

    async def rewrap(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        """Re-wrap a data key under the current master key, without changing the data key."""
        ...

    async def current_master(self) -> str:
        """The name of the master key new data keys are wrapped under (e.g. "local:2")."""
        ...

    def master_of(self, wrapped: bytes) -> str:
        """The name of the master key that wrapped `wrapped` (as `current_master` names it)."""
        ...


def _context_aad(context: dict[str, str]) -> bytes:
    # Canonical form, so {"a": "1", "b": "2"} binds the same whatever the dict order.
    return json.dumps(context, sort_keys=True, separators=(",", ":")).encode()


# Wrapped blob of the local provider: format byte, master key version (u32), nonce, ct + tag.
_LOCAL_FORMAT = 1
_LOCAL_HEADER = struct.Struct(">BI")
_NONCE_BYTES = 12


class LocalKeyProvider:
    """Master keys in a local JSON file (base64, versioned), created on first use with mode 0600.

    A file that group or others may access is refused: that would let anyone on the host read
    every team's data. `rotate()` adds a master key version; older versions stay to unwrap keys
    wrapped before the rotation until they are re-wrapped (`Vault.rotate`).
    """

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._keys: dict[int, bytes] | None = None
        self._current = 0
        self._loaded_stat: tuple[int, int] | None = None
        self._lock = asyncio.Lock()

    # -- file handling (blocking; called through asyncio.to_thread) --------------------------

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        # Serialises creation and rotation across processes sharing the data directory.
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _read(self) -> tuple[dict[int, bytes], int]:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_IMODE(mode) & 0o077:
                raise KeyFileError(
                    f"key file {self.path} is accessible by group or others "
                    f"(mode {stat.S_IMODE(mode):o}); chmod 600 it"
                )
            with os.fdopen(fd, "rb") as f:
                fd = -1
                raw = json.loads(f.read())
        finally:
            if fd >= 0:
                os.close(fd)
        try:
            keys = {int(v): base64.b64decode(k) for v, k in raw["keys"].items()}
            current = int(raw["current"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFileError(f"key file {self.path} is malformed") from exc
        if current not in keys or any(len(k) != DATA_KEY_BYTES for k in keys.values()):
            raise KeyFileError(f"key file {self.path} is malformed")
        return keys, current

    def _write(self, keys: dict[int, bytes], current: int) -> None:
        data = json.dumps(
            {
                "current": current,
                "keys": {str(v): base64.b64encode(k).decode() for v, k in sorted(keys.items())},
            },
            indent=2,
        ).encode()
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _load_or_create(self) -> tuple[dict[int, bytes], int]:
        with self._file_lock():
            if not self.path.exists():
                self._write({1: AESGCM.generate_key(bit_length=256)}, 1)
            self._loaded_stat = self._stat()
            return self._read()

    def _stat(self) -> tuple[int, int]:
        found = os.stat(self.path)
        return found.st_ino, found.st_mtime_ns

    def _changed_on_disk(self) -> bool:
        try:
            return self._stat() != self._loaded_stat
        except FileNotFoundError:
            return True

    def _rotate_file(self) -> tuple[dict[int, bytes], int]:
        with self._file_lock():
            keys, current = self._read() if self.path.exists() else ({}, 0)
            current = max(keys, default=0) + 1
            keys[current] = AESGCM.generate_key(bit_length=256)
            self._write(keys, current)
            self._loaded_stat = self._stat()
            return keys, current

    async def _master(self, version: int | None = None) -> tuple[int, bytes]:
        """The master key of `version` (default: current), reloading once if it is unknown."""
        async with self._lock:
            stale = self._keys is None or (version is not None and version not in self._keys)
            if not stale and version is None:
                # A new data key must be wrapped under the current master, also right after
                # another process rotated it (`softbrik keys rotate`): one stat tells.
                stale = await asyncio.to_thread(self._changed_on_disk)
            if stale:
                self._keys, self._current = await asyncio.to_thread(self._load_or_create)
            keys = self._keys or {}
            v = self._current if version is None else version
            if v not in keys:
                raise DecryptionError(f"unknown master key version {v}")
            return v, keys[v]

    def _retire_file(self, keep: int) -> list[int]:
        with self._file_lock():
            keys, current = self._read()
            if keep != current:
                raise KeyFileError(f"master key version {keep} is no longer the current one")
            self._write({current: keys[current]}, current)
            return sorted(set(keys) - {current})

    # -- public API ------------------------------------------------------------------------

    async def rotate(self) -> int:
        """Add a new master key version and make it current; return its version number."""
        async with self._lock:
            self._keys, self._current = await asyncio.to_thread(self._rotate_file)
            return self._current

    async def retire(self, keep: int) -> list[int]:
        """Delete every master key version but `keep` (the current one); return those deleted.

        Only once no data key is wrapped under them any more (`rotate_keys` checks): what they
        wrapped, in backups too, no longer unwraps.
        """
        async with self._lock:
            retired = await asyncio.to_thread(self._retire_file, keep)
            self._keys = None  # reloaded on next use, without the retired versions
            return retired

    async def current_master(self) -> str:
        version, _ = await self._master()
        return f"local:{version}"

    def master_of(self, wrapped: bytes) -> str:
        _, version = _LOCAL_HEADER.unpack_from(wrapped)
        return f"local:{version}"

    def _wrap(self, version: int, master: bytes, key: bytes, context: dict[str, str]) -> bytes:
        header = _LOCAL_HEADER.pack(_LOCAL_FORMAT, version)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        ct = AESGCM(master).encrypt(nonce, key, header + _context_aad(context))
        return header + nonce + ct

    async def generate_data_key(self, context: dict[str, str]) -> tuple[bytes, bytes]:
        version, master = await self._master()
        key = AESGCM.generate_key(bit_length=256)
        return key, self._wrap(version, master, key, context)

    async def unwrap(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        if len(wrapped) < _LOCAL_HEADER.size + _NONCE_BYTES + 16:
            raise DecryptionError("wrapped key is too short")
        fmt, version = _LOCAL_HEADER.unpack_from(wrapped)
        if fmt != _LOCAL_FORMAT:
            raise DecryptionError(f"unknown wrapped key format {fmt}")
        _, master = await self._master(version)
        header = wrapped[: _LOCAL_HEADER.size]
        nonce = wrapped[_LOCAL_HEADER.size : _LOCAL_HEADER.size + _NONCE_BYTES]
        try:
            return AESGCM(master).decrypt(
                nonce, wrapped[_LOCAL_HEADER.size + _NONCE_BYTES :], header + _context_aad(context)
            )
        except InvalidTag as exc:
            raise DecryptionError("wrapped key does not open under this context") from exc

    async def rewrap(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        key = await self.unwrap(wrapped, context)
        version, master = await self._master()
        return self._wrap(version, master, key, context)


class KmsKeyProvider:
    """AWS KMS: data keys from GenerateDataKey, bound to the encryption context.

    boto3 is blocking, so each call runs in a worker thread; a boto3 client is thread-safe.
    """

    name = "kms"
    """KMS rotates a key's material itself (EnableKeyRotation) and keeps the old material inside
    KMS, so re-wrapping under the same key changes nothing an attacker could hold: rotation
    here means moving every data key to another KMS key (`softbrik keys rotate --to-key-id`)."""

    def __init__(self, key_id: str, endpoint_url: str | None, region: str = "eu-west-1") -> None:
        import boto3

        self.key_id = key_id
        self._client: Any = boto3.client("kms", endpoint_url=endpoint_url, region_name=region)

    async def generate_data_key(self, context: dict[str, str]) -> tuple[bytes, bytes]:
        response = await asyncio.to_thread(
            self._client.generate_data_key,
            KeyId=self.key_id,
            KeySpec="AES_256",
            EncryptionContext=context,
        )
        return bytes(response["Plaintext"]), bytes(response["CiphertextBlob"])

    async def unwrap(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        # No KeyId: the ciphertext names its key, which may be the key before a rotation to
        # another one. Which keys this process may use is the IAM policy's job (README).
        try:
            response = await asyncio.to_thread(
                self._client.decrypt,
                CiphertextBlob=wrapped,
                EncryptionContext=context,
            )
        except self._client.exceptions.InvalidCiphertextException as exc:
            raise DecryptionError("wrapped key does not open under this context") from exc
        return bytes(response["Plaintext"])

    async def rewrap(self, wrapped: bytes, context: dict[str, str]) -> bytes:
        # ReEncrypt runs inside KMS: the plaintext data key never reaches this process.
        try:
            response = await asyncio.to_thread(
                self._client.re_encrypt,
                CiphertextBlob=wrapped,
                SourceEncryptionContext=context,
                DestinationKeyId=self.key_id,
                DestinationEncryptionContext=context,
            )
        except self._client.exceptions.InvalidCiphertextException as exc:
            raise DecryptionError("wrapped key does not open under this context") from exc
        return bytes(response["CiphertextBlob"])

    async def current_master(self) -> str:
        return f"kms:{self.key_id}"

    def master_of(self, wrapped: bytes) -> str:
        # KMS ciphertext is opaque: what this provider generates or re-wraps is under its key.
        return f"kms:{self.key_id}"


def provider_from_settings(settings: Settings) -> KeyProvider:
    """The key provider the settings choose: a key file under `data_dir`, or AWS KMS."""
    if settings.key_provider == "kms":
        if not settings.kms_key_id:
            raise ValueError("SOFTBRIK_KMS_KEY_ID is required when SOFTBRIK_KEY_PROVIDER=kms")
        return KmsKeyProvider(settings.kms_key_id, settings.aws_endpoint_url, settings.aws_region)
    return LocalKeyProvider(settings.data_dir / "keys" / "master.json")
