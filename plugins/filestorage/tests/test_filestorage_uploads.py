"""Resumable uploads and the quota: nothing is visible until an upload completes, and no stage
of an interrupted upload leaves bytes counted or stored; parallel uploads never pass the quota."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import timedelta


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


DATA = os.urandom(100_000)
CHUNK = 32 * 1024  # four chunks: 3 full ones and 1 of 1696 bytes


async def nothing_left(drive, store, usage_before=0):
    """No file, no bytes counted or reserved, no blob at all."""
    assert await drive.names() == []
    usage = await drive.usage()
    assert usage["usedBytes"] == usage_before
    assert usage["reservedBytes"] == 0
    assert await store.keys("") == []


async def test_chunks_in_any_order_then_complete(drive, blob_store, config):
    config.chunk_bytes = CHUNK
    upload = await drive.start("video.mp4", len(DATA), sha256=sha(DATA))
    assert (upload["chunkSize"], upload["chunkCount"]) == (CHUNK, 4)
    for index in (3, 1, 0, 2):
        body = await drive.chunk(upload["id"], index, DATA[index * CHUNK : (index + 1) * CHUNK])
        assert not body.get("errors"), body
    # Nothing visible while uploading; the whole size is reserved.
    assert await drive.names() == []
    assert (await drive.usage())["reservedBytes"] == len(DATA)
    done = await drive.complete(upload["id"])
    assert not done.get("errors"), done
    file = done["data"]["filestorageCompleteUpload"]
    assert (file["name"], int(file["size"]), file["sha256"]) == ("video.mp4", len(DATA), sha(DATA))
    assert await drive.usage() == {
        "usedBytes": len(DATA),
        "reservedBytes": 0,
        "quotaBytes": config.quota_bytes,
        "availableBytes": config.quota_bytes - len(DATA),
    }
    # The sealed chunks are the file: nothing was copied or sealed again.
    keys = await blob_store.keys("")
    assert len(keys) == 4 and all("/u/" in key for key in keys)
    data = await drive.ok(
        "query($id: ID!) { filestorage { file(id: $id) { downloadUrl } } }", {"id": file["id"]}
    )
    url = data["filestorage"]["file"]["downloadUrl"]
    assert (await drive.download(url)).content == DATA
    # A range across chunk boundaries reads only the chunks it covers.
    response = await drive.download(url, {"Range": f"bytes={CHUNK - 10}-{2 * CHUNK + 9}"})
    assert response.status_code == 206
    assert response.content == DATA[CHUNK - 10 : 2 * CHUNK + 10]
    response = await drive.download(url, {"Range": "bytes=-5"})
    assert response.content == DATA[-5:]
    # A chunk sent after completion is refused and changes nothing.
    body = await drive.chunk(upload["id"], 0, b"x" * CHUNK)
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert sorted(await blob_store.keys("")) == sorted(keys)


async def test_the_checksum_holds_whatever_order_and_repeats(drive, local_store, config):
    """In order, the SHA-256 is computed while the chunks arrive; a chunk sent again with other
    bytes replaces the first (its blob is deleted) and the checksum is then computed from what
    is stored."""
    config.chunk_bytes = CHUNK
    pieces = [DATA[i * CHUNK : (i + 1) * CHUNK] for i in range(4)]
    in_order = await drive.start("a.bin", len(DATA), sha256=sha(DATA))
    for index, piece in enumerate(pieces):
        await drive.chunk(in_order["id"], index, piece)
    done = await drive.complete(in_order["id"])
    assert done["data"]["filestorageCompleteUpload"]["sha256"] == sha(DATA)
    changed = bytes(CHUNK)
    other = DATA[:CHUNK] + changed + DATA[2 * CHUNK :]
    again = await drive.start("b.bin", len(DATA))
    for index, piece in enumerate(pieces):
        await drive.chunk(again["id"], index, piece)
    await drive.chunk(again["id"], 1, changed)
    done = await drive.complete(again["id"])
    file = done["data"]["filestorageCompleteUpload"]
    assert file["sha256"] == sha(other)
    assert len(await local_store.keys("")) == 8
    data = await drive.ok(
        "query($id: ID!) { filestorage { file(id: $id) { downloadUrl } } }", {"id": file["id"]}
    )
    assert (await drive.download(data["filestorage"]["file"]["downloadUrl"])).content == other


async def test_resume_after_a_dropped_connection(drive, local_store, config):
    config.chunk_bytes = CHUNK
    upload = await drive.start("a.bin", len(DATA))
    await drive.chunk(upload["id"], 0, DATA[:CHUNK])
    await drive.chunk(upload["id"], 2, DATA[2 * CHUNK : 3 * CHUNK])
    # The client comes back and asks what arrived.
    data = await drive.ok(
        "query($id: ID!) { filestorage { upload(id: $id) { receivedChunks status } } }",
        {"id": upload["id"]},
    )
    assert data["filestorage"]["upload"] == {"receivedChunks": [0, 2], "status": "OPEN"}
    # Sending a chunk again replaces it (idempotent).
    await drive.chunk(upload["id"], 0, DATA[:CHUNK])
    done = await drive.complete(upload["id"])
    assert done["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert done["errors"][0]["extensions"]["missingChunks"] == [1, 3]
    await drive.chunk(upload["id"], 1, DATA[CHUNK : 2 * CHUNK])
    await drive.chunk(upload["id"], 3, DATA[3 * CHUNK :])
    done = await drive.complete(upload["id"])
    assert done["data"]["filestorageCompleteUpload"]["sha256"] == sha(DATA)


async def test_a_wrong_chunk_size_or_index_is_refused_and_stores_nothing(
    drive, local_store, config
):
    config.chunk_bytes = CHUNK
    upload = await drive.start("a.bin", len(DATA))
    for index, data, field in [
        (0, DATA[: CHUNK + 1], "size"),  # too long: refused while streaming
        (0, DATA[: CHUNK - 1], "chunk"),  # too short
        (3, DATA[:CHUNK], "size"),  # the last chunk is shorter
        (4, DATA[:10], "index"),
        (-1, DATA[:10], "index"),
    ]:
        body = await drive.chunk(upload["id"], index, data)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
        assert body["errors"][0]["extensions"]["field"] == field
    assert [k for k in await local_store.keys("") if "/u/" in k] == []


async def test_a_checksum_mismatch_keeps_nothing(drive, blob_store, config):
    config.chunk_bytes = CHUNK
    upload = await drive.start("a.bin", len(DATA), sha256=sha(b"something else"))
    for index in range(4):
        await drive.chunk(upload["id"], index, DATA[index * CHUNK : (index + 1) * CHUNK])
    done = await drive.complete(upload["id"])
    assert done["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert done["errors"][0]["extensions"]["field"] == "sha256"
    await nothing_left(drive, blob_store)


async def test_an_upload_interrupted_at_every_stage_leaves_nothing(
    drive, blob_store, config, clock, softbrik_app
):
    """Started only; some chunks sent; all chunks sent but never completed; aborted: after
    abort or the idle cleanup, nothing is visible, counted, reserved or stored."""
    from softbrik_filestorage import service

    platform = softbrik_app.state.rt.extras["platform"]
    config.chunk_bytes = CHUNK
    started_only = await drive.start("a.bin", len(DATA))
    some = await drive.start("b.bin", len(DATA))
    await drive.chunk(some["id"], 1, DATA[CHUNK : 2 * CHUNK])
    all_sent = await drive.start("c.bin", len(DATA))
    for index in range(4):
        await drive.chunk(all_sent["id"], index, DATA[index * CHUNK : (index + 1) * CHUNK])
    aborted = await drive.start("d.bin", len(DATA))
    await drive.chunk(aborted["id"], 0, DATA[:CHUNK])
    await drive.ok(
        "mutation($id: ID!) { filestorageAbortUpload(uploadId: $id) { status } }",
        {"id": aborted["id"]},
    )
    assert await drive.names() == []
    assert (await drive.usage())["reservedBytes"] == 3 * len(DATA)
    # Still within the idle time: the cleanup leaves them be.
    clock.advance(clock.now() + timedelta(hours=config.upload_idle_hours - 1))
    assert await service.cleanup_uploads(platform) == 0
    clock.advance(clock.now() + timedelta(hours=2))
    assert await service.cleanup_uploads(platform) == 3
    await nothing_left(drive, blob_store)
    status = "query($id: ID!) { filestorage { upload(id: $id) { status } } }"
    for upload in (started_only, some, all_sent, aborted):
        data = await drive.ok(status, {"id": upload["id"]})
        assert data["filestorage"]["upload"]["status"] == "ABORTED"
    # A late chunk or completion of an expired upload is refused.
    body = await drive.chunk(some["id"], 0, DATA[:CHUNK])
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    done = await drive.complete(all_sent["id"])
    assert done["errors"][0]["extensions"]["code"] == "CONFLICT"
    await nothing_left(drive, blob_store)


async def test_a_multipart_upload_that_breaks_off_leaves_nothing(drive, local_store, softbrik_app):
    """The request body ends early (a client that went away): nothing stored or counted."""
    from softbrik_filestorage import service

    platform = softbrik_app.state.rt.extras["platform"]
    data = await drive.ok("{ team { id } }")
    team_id = platform.decode_id(data["team"]["id"], "Team")
    user_id = platform.decode_id(
        drive_user := (await drive.ok("{ me { id } }"))["me"]["id"], "User"
    )
    assert drive_user
    actor = service.Actor(team_id, user_id, platform)

    async def breaks_off():
        yield b"x" * 1000
        raise ConnectionResetError("client went away")

    try:
        await service.upload_file(actor, None, "a.bin", None, 5000, breaks_off())
    except ConnectionResetError:
        pass
    else:
        raise AssertionError("the upload should have failed")
    await nothing_left(drive, local_store)


async def test_the_quota_refuses_what_does_not_fit(drive, local_store, config):
    config.quota_bytes = 1000
    await drive.upload("a.bin", b"x" * 600)
    error = await drive.upload_error("b.bin", b"x" * 401)
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["reason"] == "QUOTA_EXCEEDED"
    assert error["extensions"]["availableBytes"] == 400
    error = await drive.error(
        "mutation($i: StartUploadInput!) { filestorageStartUpload(input: $i) { id } }",
        {"i": {"name": "c.bin", "size": 401}},
    )
    assert error["extensions"]["code"] == "CONFLICT"
    await drive.upload("b.bin", b"x" * 400)
    assert (await drive.usage())["availableBytes"] == 0
    assert await drive.names() == ["a.bin", "b.bin"]


async def test_parallel_uploads_at_the_quotas_edge_never_exceed_it(drive, local_store, config):
    """Ten uploads of 300 bytes race for 1000 bytes: exactly three win, on SQLite and on
    PostgreSQL (where they run on separate connections), and the figures add up."""
    config.quota_bytes = 1000
    results = await asyncio.gather(
        *[
            drive.multipart(
                "mutation($file: Upload!) { filestorageUpload(file: $file) { id } }",
                {},
                "file",
                os.urandom(300),
                f"f{i}.bin",
            )
            for i in range(10)
        ]
    )
    won = [r for r in results if not r.get("errors")]
    lost = [r for r in results if r.get("errors")]
    assert len(won) == 3
    assert {r["errors"][0]["extensions"]["reason"] for r in lost} == {"QUOTA_EXCEEDED"}
    usage = await drive.usage()
    assert (usage["usedBytes"], usage["reservedBytes"]) == (900, 0)
    assert len(await drive.names()) == 3
    # Resumable uploads reserve at the start, so the same holds for them.
    starts = await asyncio.gather(
        *[
            drive.gql.execute(
                "mutation($i: StartUploadInput!) { filestorageStartUpload(input: $i) { id } }",
                {"i": {"name": f"r{i}.bin", "size": 60}},
                token=drive.token,
            )
            for i in range(5)
        ]
    )
    assert sum(1 for s in starts if not s.get("errors")) == 1
    assert (await drive.usage())["reservedBytes"] == 60


async def test_parallel_uploads_of_the_same_name_become_versions(drive, local_store):
    results = await asyncio.gather(*[drive.upload("same.txt", f"v{i}".encode()) for i in range(4)])
    assert len({r["id"] for r in results}) == 1
    assert sorted(r["version"] for r in results) == [1, 2, 3, 4]


async def test_events_tell_uploads_and_a_nearly_full_quota_once(
    drive, local_store, config, softbrik_app
):
    from softbrik_filestorage.service import NEARLY_FULL, UPLOADED

    config.quota_bytes = 1000
    await drive.upload("a.bin", b"x" * 500)
    await drive.upload("b.bin", b"x" * 420)  # 920 >= 90 %
    await drive.upload("c.bin", b"x" * 10)
    rows = await _events()
    assert [t for t in rows if t == UPLOADED] == [UPLOADED] * 3
    assert [t for t in rows if t == NEARLY_FULL] == [NEARLY_FULL]


async def test_events_name_no_private_file(drive, local_store, softbrik_app):
    """R-SEC-4: the team's events reach every Brik it uses, third parties' too: a member's own
    file is told as private, without its name; a team drive file by name (upload and deletion
    alike)."""
    import json

    from tortoise import Tortoise

    home = await drive.my_files()
    mine = await drive.upload("salary-talk.txt", b"mine", home)
    await drive.upload("menu.txt", b"for all")
    await drive.ok("mutation($id: ID!) { filestorageDelete(id: $id) }", {"id": mine["id"]})
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT type, payload FROM event WHERE type LIKE 'FILESTORAGE_FILE_%' ORDER BY id"
    )
    told = [
        (r["type"], json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"])
        for r in rows
    ]
    assert [(t, p.get("name"), p["private"]) for t, p in told] == [
        ("FILESTORAGE_FILE_UPLOADED", None, True),
        ("FILESTORAGE_FILE_UPLOADED", "menu.txt", False),
        ("FILESTORAGE_FILE_DELETED", None, True),
    ]
    assert "salary-talk" not in repr(rows)


async def _events():
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    rows = await conn.execute_query_dict("SELECT type FROM event ORDER BY id")
    return [row["type"] for row in rows]


async def test_chunks_put_straight_to_their_link(
    drive, team, team_factory, make_drive, blob_store, config, http
):
    """The fast way: PUT each chunk's bytes to `chunkUrl` + index, streamed, no multipart."""
    config.chunk_bytes = CHUNK
    member = await team_factory.invite(team, ["filestorage"])
    colleague = make_drive(member.token)
    data = await colleague.ok(
        "mutation($i: StartUploadInput!) { filestorageStartUpload(input: $i) { id chunkUrl } }",
        {"i": {"name": "fast.bin", "size": len(DATA), "sha256": sha(DATA)}},
    )
    upload = data["filestorageStartUpload"]
    url = upload["chunkUrl"]
    response = await http.put(f"{url}0", content=DATA[: CHUNK + 1])
    assert response.status_code == 400
    assert response.json()["field"] == "size"
    response = await http.put(f"{url}4", content=b"x")
    assert (response.status_code, response.json()["field"]) == (400, "index")
    forged = url.replace("/upload/", "/upload/x")
    assert (await http.put(f"{forged}0", content=DATA[:CHUNK])).status_code == 403
    for index in range(4):
        response = await http.put(
            f"{url}{index}", content=DATA[index * CHUNK : (index + 1) * CHUNK]
        )
        assert response.status_code == 200, response.text
    assert response.json() == {"receivedChunks": [0, 1, 2, 3]}
    done = await colleague.complete(upload["id"])
    file = done["data"]["filestorageCompleteUpload"]
    assert file["sha256"] == sha(DATA)
    assert len(await blob_store.keys("")) == 4
    # After completion, and for a member whose access ended, the link refuses.
    assert (await http.put(f"{url}0", content=DATA[:CHUNK])).status_code == 409
    other = await colleague.start("other.bin", 3)
    other_url = (
        await colleague.ok(
            "query($id: ID!) { filestorage { upload(id: $id) { chunkUrl } } }", {"id": other["id"]}
        )
    )["filestorage"]["upload"]["chunkUrl"]
    await drive.ok("mutation($u: ID!) { endAccessNow(userId: $u) { removalOn } }", {"u": member.id})
    assert (await http.put(f"{other_url}0", content=b"abc")).status_code == 403
