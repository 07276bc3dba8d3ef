"""File blobs: a local directory by default, S3 in production (DESIGN.md, Embedded defaults).

A blob store holds bytes under string keys ("team/42/crm/…"); it knows nothing of teams or
encryption. Callers store what `Vault.seal_stream` produced, so the store only ever sees
ciphertext (R-SEC-1), and delete a team's prefix at closure (R-CLOSE-3).

Writes are atomic: a reader sees the whole new blob or nothing, never a partial one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from softbrik.settings import Settings

__all__ = [
    "BlobNotFound",
    "BlobStore",
    "InvalidBlobKey",
    "LocalBlobStore",
    "S3BlobStore",
    "blob_store_from_settings",
]

READ_CHUNK = 64 * 1024
S3_PART_SIZE = 8 * 1024 * 1024


class BlobNotFound(LookupError):
    """No blob under this key."""


class InvalidBlobKey(ValueError):
    """A key that could escape the store or is not portable between stores."""


@runtime_checkable
class BlobStore(Protocol):
    """Bytes under string keys, written atomically and read whole, by range or streamed."""

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Store the concatenated chunks under `key`, replacing any blob; return bytes written.

        If `chunks` raises, nothing is stored and the previous blob (if any) is kept.
        """
        ...

    def get(self, key: str) -> AsyncIterator[bytes]:
        """Stream the blob; raise `BlobNotFound` (on first iteration) if there is none."""
        ...

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of the blob (shorter if it ends before `end`)."""
        ...

    async def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None if there is no blob under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Delete the blob; no error if there is none."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every blob whose key starts with `prefix`; return how many."""
        ...

    async def keys(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with `prefix`."""
        ...


def validate_key(key: str) -> str:
    """Reject keys that could escape a directory or differ between stores."""
    if (
        not key
        or key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or ".." in key
        or any(part in ("", ".") for part in key.split("/"))
    ):
        raise InvalidBlobKey(f"invalid blob key {key!r}")
    return key


def _validate_prefix(prefix: str) -> str:
    if prefix.startswith("/") or "\\" in prefix or "\x00" in prefix or ".." in prefix:
        raise InvalidBlobKey(f"invalid blob key prefix {prefix!r}")
    return prefix


class LocalBlobStore:
    """Blobs as files under `root`; a write goes to a temporary file renamed into place."""

    TMP_DIR = ".tmp"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        validate_key(key)
        if key.split("/", 1)[0] == self.TMP_DIR:
            raise InvalidBlobKey(f"invalid blob key {key!r}")
        path = self.root.joinpath(*key.split("/"))
        # Belt and braces against symlinks or anything validate_key missed.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise InvalidBlobKey(f"invalid blob key {key!r}")
        return path

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        path = self._path(key)
        tmp_dir = self.root / self.TMP_DIR
        await asyncio.to_thread(tmp_dir.mkdir, mode=0o700, parents=True, exist_ok=True)
        tmp = tmp_dir / f"{secrets.token_hex(12)}.part"
        fd = await asyncio.to_thread(os.open, tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        written = 0
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    await asyncio.to_thread(f.write, chunk)
                    written += len(chunk)
                await asyncio.to_thread(f.flush)
                await asyncio.to_thread(os.fsync, f.fileno())
            await asyncio.to_thread(path.parent.mkdir, mode=0o700, parents=True, exist_ok=True)
            await asyncio.to_thread(os.replace, tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise
        return written

    async def get(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            f = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc
        try:
            while chunk := await asyncio.to_thread(f.read, READ_CHUNK):
                yield chunk
        finally:
            f.close()

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        path = self._path(key)
        if start < 0 or end < start:
            raise ValueError(f"invalid range [{start}, {end})")

        def read() -> bytes:
            try:
                with path.open("rb") as f:
                    f.seek(start)
                    return f.read(end - start)
            except FileNotFoundError as exc:
                raise BlobNotFound(key) from exc

        return await asyncio.to_thread(read)

    async def size(self, key: str) -> int | None:
        path = self._path(key)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            return None

    def _delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        # Tidy now-empty directories up to the root.
        parent = path.parent
        root = self.root.resolve()
        while parent.resolve() != root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
        return True

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    def _keys(self, prefix: str) -> list[str]:
        _validate_prefix(prefix)
        # Walk only the directory the prefix points into.
        directory = PurePosixPath(prefix).parent if "/" in prefix else PurePosixPath()
        start = self.root.joinpath(*directory.parts)
        if not start.is_dir():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(start):
            if Path(dirpath) == self.root and self.TMP_DIR in dirnames:
                dirnames.remove(self.TMP_DIR)
            for name in filenames:
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)

    async def keys(self, prefix: str = "") -> list[str]:
        return await asyncio.to_thread(self._keys, prefix)

    async def delete_prefix(self, prefix: str) -> int:
        def delete_all() -> int:
            return sum(self._delete(key) for key in self._keys(prefix))

        return await asyncio.to_thread(delete_all)


class S3BlobStore:
    """Blobs in an S3 bucket; writes are multipart uploads (8 MiB parts), aborted on failure.

    A blob smaller than one part is written with a single PutObject. boto3 is blocking, so each
    call runs in a worker thread.
    """

    def __init__(
        self, bucket: str, endpoint_url: str | None = None, region: str = "eu-west-1"
    ) -> None:
        import boto3

        self.bucket = bucket
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    async def _call(self, method: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self._client, method), **kwargs)

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        validate_key(key)
        buffer = bytearray()
        written = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                buffer += chunk
                written += len(chunk)
                while len(buffer) >= S3_PART_SIZE:
                    if upload_id is None:
                        response = await self._call(
                            "create_multipart_upload", Bucket=self.bucket, Key=key
                        )
                        upload_id = response["UploadId"]
                    part = bytes(buffer[:S3_PART_SIZE])
                    del buffer[:S3_PART_SIZE]
                    number = len(parts) + 1
                    response = await self._call(
                        "upload_part",
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=part,
                    )
                    parts.append({"PartNumber": number, "ETag": response["ETag"]})
            if upload_id is None:
                await self._call("put_object", Bucket=self.bucket, Key=key, Body=bytes(buffer))
                return written
            if buffer:
                number = len(parts) + 1
                response = await self._call(
                    "upload_part",
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=bytes(buffer),
                )
                parts.append({"PartNumber": number, "ETag": response["ETag"]})
            await self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return written
        except BaseException:
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(
                        self._call(
                            "abort_multipart_upload",
                            Bucket=self.bucket,
                            Key=key,
                            UploadId=upload_id,
                        )
                    )
            raise

    def _is_missing(self, exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        return code in ("404", "NoSuchKey", "NotFound")

    async def get(self, key: str) -> AsyncIterator[bytes]:
        validate_key(key)
        try:
            response = await self._call("get_object", Bucket=self.bucket, Key=key)
        except self._client.exceptions.ClientError as exc:
            if self._is_missing(exc):
                raise BlobNotFound(key) from exc
            raise
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_CHUNK):
                yield chunk
        finally:
            body.close()

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        validate_key(key)
        if start < 0 or end < start:
            raise ValueError(f"invalid range [{start}, {end})")
        if start == end:
            return b""
        try:
            response = await self._call(
                "get_object", Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}"
            )
        except self._client.exceptions.ClientError as exc:
            if self._is_missing(exc):
                raise BlobNotFound(key) from exc
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return b""
            raise
        body = response["Body"]
        try:
            data: bytes = await asyncio.to_thread(body.read)
        finally:
            body.close()
        return data

    async def size(self, key: str) -> int | None:
        validate_key(key)
        try:
            response = await self._call("head_object", Bucket=self.bucket, Key=key)
        except self._client.exceptions.ClientError as exc:
            if self._is_missing(exc):
                return None
            raise
        return int(response["ContentLength"])

    async def delete(self, key: str) -> None:
        validate_key(key)
        await self._call("delete_object", Bucket=self.bucket, Key=key)

    async def keys(self, prefix: str = "") -> list[str]:
        _validate_prefix(prefix)

        def list_all() -> list[str]:
            paginator = self._client.get_paginator("list_objects_v2")
            found: list[str] = []
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                found.extend(item["Key"] for item in page.get("Contents", []))
            return sorted(found)

        return await asyncio.to_thread(list_all)

    async def delete_prefix(self, prefix: str) -> int:
        keys = await self.keys(prefix)
        for i in range(0, len(keys), 1000):
            batch = keys[i : i + 1000]
            response = await self._call(
                "delete_objects",
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            if response.get("Errors"):
                raise RuntimeError(f"S3 refused to delete some blobs: {response['Errors'][:3]}")
        return len(keys)


def blob_store_from_settings(settings: Settings) -> BlobStore:
    """The blob store the settings choose: a directory under `data_dir`, or an S3 bucket."""
    if settings.blob_store == "s3":
        if not settings.s3_bucket:
            raise ValueError("SOFTBRIK_S3_BUCKET is required when SOFTBRIK_BLOB_STORE=s3")
        return S3BlobStore(settings.s3_bucket, settings.aws_endpoint_url, settings.aws_region)
    return LocalBlobStore(settings.data_dir / "blobs")
