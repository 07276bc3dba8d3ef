"""Blob stores: the local directory and S3 (moto) behave alike; writes are atomic."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from softbrik.core.blobs import (
    S3_PART_SIZE,
    BlobNotFound,
    BlobStore,
    InvalidBlobKey,
    LocalBlobStore,
    S3BlobStore,
    blob_store_from_settings,
)
from softbrik.settings import Settings

DATA = os.urandom(300_000)


async def chunked(data: bytes, size: int = 50_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def failing(data: bytes, fail_after: int) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in chunked(data, 1024 * 1024):
        if sent >= fail_after:
            raise RuntimeError("client went away")
        yield chunk
        sent += len(chunk)


async def read_all(store: BlobStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.get(key)])


async def test_put_get_size(blob_store: BlobStore) -> None:
    assert await blob_store.put("team/1/a.bin", chunked(DATA)) == len(DATA)
    assert await read_all(blob_store, "team/1/a.bin") == DATA
    assert await blob_store.size("team/1/a.bin") == len(DATA)
    assert await blob_store.size("team/1/missing") is None
    with pytest.raises(BlobNotFound):
        await read_all(blob_store, "team/1/missing")


async def test_put_replaces(blob_store: BlobStore) -> None:
    await blob_store.put("k", chunked(DATA))
    await blob_store.put("k", chunked(b"short"))
    assert await read_all(blob_store, "k") == b"short"


async def test_empty_blob(blob_store: BlobStore) -> None:
    assert await blob_store.put("team/1/empty", chunked(b"")) == 0
    assert await blob_store.size("team/1/empty") == 0
    assert await read_all(blob_store, "team/1/empty") == b""


async def test_get_range(blob_store: BlobStore) -> None:
    await blob_store.put("team/1/a.bin", chunked(DATA))
    for start, end in [(0, 1), (0, len(DATA)), (1000, 70_000), (len(DATA) - 1, len(DATA))]:
        assert await blob_store.get_range("team/1/a.bin", start, end) == DATA[start:end]
    assert await blob_store.get_range("team/1/a.bin", 10, 10) == b""
    assert await blob_store.get_range("team/1/a.bin", len(DATA) - 5, len(DATA) + 50) == DATA[-5:]
    with pytest.raises(BlobNotFound):
        await blob_store.get_range("team/1/missing", 0, 10)


async def test_keys_delete_and_delete_prefix(blob_store: BlobStore) -> None:
    for key in ["team/1/a", "team/1/sub/b", "team/12/c", "team/2/d"]:
        await blob_store.put(key, chunked(key.encode()))
    assert await blob_store.keys("team/1/") == ["team/1/a", "team/1/sub/b"]
    assert await blob_store.keys("team/1") == ["team/1/a", "team/1/sub/b", "team/12/c"]
    assert len(await blob_store.keys()) == 4
    await blob_store.delete("team/1/a")
    await blob_store.delete("team/1/a")  # no error when already gone
    assert await blob_store.size("team/1/a") is None
    assert await blob_store.delete_prefix("team/1/") == 1
    assert await blob_store.keys() == ["team/12/c", "team/2/d"]
    assert await blob_store.delete_prefix("nothing/") == 0


async def test_large_put_round_trips(blob_store: BlobStore) -> None:
    """More than two S3 parts (8 MiB each): a multipart upload."""
    data = os.urandom(2 * S3_PART_SIZE + 12345)
    assert await blob_store.put("team/1/big", chunked(data, 1024 * 1024)) == len(data)
    assert await blob_store.size("team/1/big") == len(data)
    assert await read_all(blob_store, "team/1/big") == data
    start = S3_PART_SIZE - 3
    assert await blob_store.get_range("team/1/big", start, start + 10) == data[start : start + 10]


@pytest.mark.parametrize("fail_after", [0, 3 * 1024 * 1024, 2 * S3_PART_SIZE + 1024 * 1024])
async def test_failed_put_leaves_no_blob(blob_store: BlobStore, fail_after: int) -> None:
    data = os.urandom(3 * S3_PART_SIZE)
    with pytest.raises(RuntimeError, match="client went away"):
        await blob_store.put("team/1/upload", failing(data, fail_after))
    assert await blob_store.size("team/1/upload") is None
    assert await blob_store.keys() == []
    if isinstance(blob_store, S3BlobStore):
        uploads = blob_store._client.list_multipart_uploads(Bucket=blob_store.bucket)
        assert uploads.get("Uploads", []) == []
    if isinstance(blob_store, LocalBlobStore):
        assert not any(p.is_file() for p in blob_store.root.rglob("*"))


async def test_failed_put_keeps_previous_blob(blob_store: BlobStore) -> None:
    await blob_store.put("team/1/doc", chunked(DATA))
    with pytest.raises(RuntimeError):
        await blob_store.put("team/1/doc", failing(os.urandom(S3_PART_SIZE * 2), 1))
    assert await read_all(blob_store, "team/1/doc") == DATA


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../escape",
        "team/../../escape",
        "team/1/..",
        "/etc/passwd",
        "team\\1\\x",
        "team//1",
        "./team",
        "team/1/",
        "nul\x00byte",
        ".tmp/part",
    ],
)
async def test_local_rejects_path_tricks(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(InvalidBlobKey):
        await store.put(key, chunked(b"x"))
    with pytest.raises(InvalidBlobKey):
        await store.get_range(key, 0, 1)
    with pytest.raises(InvalidBlobKey):
        await store.delete(key)
    assert not (tmp_path / "escape").exists()


async def test_local_rejects_symlink_escape(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "blobs"
    root.mkdir()
    (root / "team").symlink_to(outside)
    store = LocalBlobStore(root)
    with pytest.raises(InvalidBlobKey):
        await store.put("team/x", chunked(b"x"))
    assert not (outside / "x").exists()


async def test_local_prefix_tricks_rejected(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(InvalidBlobKey):
        await store.keys("../")
    with pytest.raises(InvalidBlobKey):
        await store.delete_prefix("/")


def test_blob_store_from_settings(tmp_path: Path) -> None:
    store = blob_store_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "blobs"
    with pytest.raises(ValueError, match="S3_BUCKET"):
        blob_store_from_settings(Settings(blob_store="s3"))
    s3 = blob_store_from_settings(Settings(blob_store="s3", s3_bucket="b"))
    assert isinstance(s3, S3BlobStore)
