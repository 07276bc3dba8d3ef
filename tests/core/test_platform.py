"""What the platform gives Briks beyond now/emit/seal/open (softbrik.plugin.Platform)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from softbrik.core.blobs import LocalBlobStore, S3BlobStore
from softbrik.core.errors import Forbidden, NotFound
from softbrik.core.platform import CorePlatform
from softbrik.schema.ids import decode_any, encode_id
from softbrik.testing import REGION

DATA = os.urandom(200_000)


async def chunked(data: bytes, size: int = 30_000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read(blobs, team_id, key, start=0, end=None) -> bytes:
    return b"".join([c async for c in blobs.read(team_id, key, start, end)])


@pytest.fixture
def platform(softbrik_app, softbrik_reset) -> CorePlatform:
    platform: CorePlatform = softbrik_app.state.rt.extras["platform"]
    return platform


@pytest.fixture(params=["local", "s3"])
def blob_platform(request, softbrik_app, softbrik_reset, tmp_path):
    """A platform over a fresh local directory or S3 bucket (moto)."""
    if request.param == "local":
        store = LocalBlobStore(tmp_path / "blobs")
    else:
        aws = request.getfixturevalue("aws")
        store = S3BlobStore(aws.new_bucket(), aws.endpoint_url, REGION)
    rt = dataclasses.replace(softbrik_app.state.rt, blobs=store)
    return CorePlatform(rt), store


async def test_brik_blobs_are_sealed_scoped_and_ranged(blob_platform):
    """R-SEC-1: the store holds only ciphertext, under the team's prefix (R-CLOSE-3)."""
    platform, store = blob_platform
    blobs = platform.blobs("files")
    assert await blobs.write(7, "v/1", chunked(DATA)) == len(DATA)
    assert await store.keys("") == ["team/7/files/v/1"]
    stored = b"".join([c async for c in store.get("team/7/files/v/1")])
    assert DATA[:1000] not in stored and len(stored) > len(DATA)
    assert await read(blobs, 7, "v/1") == DATA
    assert await read(blobs, 7, "v/1", 65_000, 140_000) == DATA[65_000:140_000]
    assert await read(blobs, 7, "v/1", 199_990) == DATA[199_990:]
    assert await blobs.size(7, "v/1") == len(DATA)
    assert await blobs.size(7, "v/2") is None
    assert await blobs.keys(7) == ["v/1"]
    assert await blobs.keys(8) == []


async def test_a_blob_does_not_open_for_another_team_or_brik(blob_platform):
    platform, store = blob_platform
    await platform.blobs("files").write(7, "a", chunked(b"secret"))
    # Copy the ciphertext to team 8's and to another Brik's place: neither opens it.
    sealed = [c async for c in store.get("team/7/files/a")]
    for key in ("team/8/files/a", "team/7/other/a"):
        await store.put(key, chunked(b"".join(sealed)))
    from softbrik.core.crypto import DecryptionError

    await platform.blobs("files").write(8, "b", chunked(b"x"))  # team 8 gets a key
    with pytest.raises(DecryptionError):
        await read(platform.blobs("files"), 8, "a")
    with pytest.raises(DecryptionError):
        await read(platform.blobs("other"), 7, "a")


async def test_a_failed_write_keeps_the_old_blob_and_delete_team_removes_all(blob_platform):
    platform, store = blob_platform
    blobs = platform.blobs("files")
    await blobs.write(7, "a", chunked(b"old"))

    async def failing() -> AsyncIterator[bytes]:
        yield b"new"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        await blobs.write(7, "a", failing())
    assert await read(blobs, 7, "a") == b"old"
    await blobs.write(7, "b/c", chunked(b"c"))
    await platform.blobs("other").write(7, "x", chunked(b"x"))
    assert await blobs.delete_team(7) == 2
    assert await store.keys("") == ["team/7/other/x"]
    with pytest.raises(LookupError):
        await read(blobs, 7, "a")


@pytest.mark.parametrize("key", ["../x", "a/../b", "/a", "a//b", "a b", ""])
async def test_blob_keys_cannot_escape(platform, key):
    with pytest.raises(ValueError):
        await platform.blobs("files").write(1, key, chunked(b"x"))


async def test_signed_tokens_carry_claims_until_they_expire(platform, clock):
    token = platform.sign("download", {"file": 3, "team": 1}, timedelta(minutes=5))
    assert platform.verify("download", token) == {"file": 3, "team": 1}
    with pytest.raises(Forbidden):
        platform.verify("share", token)  # another purpose
    _, _, mac = token.partition(".")
    forged = platform.sign("download", {"file": 4, "team": 1}, timedelta(minutes=5))
    with pytest.raises(Forbidden):
        platform.verify("download", forged.partition(".")[0] + "." + mac)
    for bad in ("", "x", "x.y", token + "x"):
        with pytest.raises(Forbidden):
            platform.verify("download", bad)
    clock.advance(clock.now() + timedelta(minutes=5))
    with pytest.raises(Forbidden):
        platform.verify("download", token)


async def test_secrets_are_hashed_and_checked(platform):
    hashed = await platform.hash_secret("open sesame")
    assert "open sesame" not in hashed
    assert await platform.check_secret(hashed, "open sesame")
    assert not await platform.check_secret(hashed, "open sesame!")
    assert not await platform.check_secret("not a hash", "open sesame")


async def test_has_seat_answers_for_the_users_own_team_only(platform, gql, team_factory):
    """R-ACC-3: a seat is per user and Brik; another team's user has none here."""
    team = await team_factory.sign_up(["notes"])
    other = await team_factory.sign_up([])
    member = await team_factory.invite(team, [])
    team_id = decode_any((await gql.ok("{ team { id } }", token=team.admin.token))["team"]["id"])[1]
    other_id = decode_any((await gql.ok("{ team { id } }", token=other.admin.token))["team"]["id"])[
        1
    ]
    admin_id = decode_any(team.admin.id)[1]
    member_id = decode_any(member.id)[1]
    assert await platform.has_seat(team_id, admin_id, "notes")
    assert not await platform.has_seat(team_id, member_id, "notes")
    assert not await platform.has_seat(other_id, admin_id, "notes")
    assert not await platform.has_seat(team_id, 10**9, "notes")


def test_ids_are_the_schemas_global_ids(softbrik_app):
    platform = softbrik_app.state.rt.extras["platform"]
    assert platform.encode_id("File", 12) == encode_id("File", 12)
    assert platform.decode_id(encode_id("File", 12), "File") == 12
    with pytest.raises(NotFound) as caught:
        platform.decode_id(encode_id("Folder", 12), "File", field="fileId")
    assert caught.value.extensions["field"] == "fileId"
    with pytest.raises(NotFound):
        platform.decode_id("garbage", "File")
