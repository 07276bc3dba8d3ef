"""A team's data: export as a ZIP, deletion at closure, and `softbrik filestorage verify`."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile


async def team_id(drive, platform):
    return platform.decode_id((await drive.ok("{ team { id } }"))["team"]["id"], "Team")


async def test_export_is_a_zip_of_the_tree(drive, team, softbrik_app, local_store):
    from softbrik_filestorage import service

    platform = softbrik_app.state.rt.extras["platform"]
    docs = await drive.mkdir("Docs")
    await drive.upload("a.txt", b"A", docs)
    await drive.upload("a.txt", b"A2", docs)  # the current version is exported
    await drive.upload("top.bin", b"T")
    noise = os.urandom(1_000_000)
    await drive.upload("noise.bin", noise)
    gone = await drive.upload("gone.txt", b"G")
    await drive.ok("mutation($id: ID!) { filestorageDelete(id: $id) }", {"id": gone["id"]})
    home = await drive.my_files()
    await drive.upload("mine.txt", b"M", home)
    exported = await service.export_team(await team_id(drive, platform), platform)
    pieces = [piece async for piece in exported["filestorage.zip"]]
    # Streamed: the 1 MB of noise comes out in pieces, never whole.
    assert max(len(piece) for piece in pieces) < 300_000
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.read("noise.bin") == noise
    user = platform.decode_id(team.admin.id, "User")
    assert sorted(archive.namelist()) == [
        "Docs/",
        "Docs/a.txt",
        f"My files (user {user})/",
        f"My files (user {user})/mine.txt",
        "noise.bin",
        "top.bin",
    ]
    assert archive.read("Docs/a.txt") == b"A2"


async def test_delete_team_removes_every_row_and_blob(
    drive, team_factory, make_drive, softbrik_app, blob_store, config
):
    """R-CLOSE-3: versions, trash, uploads in progress and links included; other teams kept."""
    from softbrik_filestorage import service
    from softbrik_filestorage.models import Chunk, Item, ShareLink, Upload, Usage, Version

    platform = softbrik_app.state.rt.extras["platform"]
    config.chunk_bytes = 10
    file = await drive.upload("a.txt", b"one")
    await drive.upload("a.txt", b"two")
    await drive.ok(
        "mutation($i: CreateShareLinkInput!) { filestorageCreateShareLink(input: $i) { id } }",
        {"i": {"fileId": file["id"]}},
    )
    trashed = await drive.upload("t.txt", b"t")
    await drive.ok("mutation($id: ID!) { filestorageDelete(id: $id) }", {"id": trashed["id"]})
    upload = await drive.start("u.bin", 20)
    await drive.chunk(upload["id"], 0, b"0123456789")
    other = make_drive((await team_factory.sign_up(["filestorage"])).admin.token)
    await other.upload("theirs.txt", b"theirs")
    mine = await team_id(drive, platform)
    await service.delete_team(mine, platform)
    await service.delete_team(mine, platform)  # idempotent
    for model in (Item, Version, Upload, Chunk, ShareLink, Usage):
        assert await model.filter(team_id=mine).count() == 0, model
    keys = await blob_store.keys("")
    assert keys and all(not key.startswith(f"team/{mine}/") for key in keys)
    assert await other.names() == ["theirs.txt"]


def command(softbrik_app, softbrik_db, local_store, *args):
    """Run `softbrik filestorage <args> [more]` against this test's database and blobs."""
    settings = softbrik_app.state.rt.settings
    env = {
        **os.environ,
        "SOFTBRIK_DATABASE_URL": softbrik_db.url,
        "SOFTBRIK_BLOB_STORE": "local",
        "SOFTBRIK_LOG_JSON": "0",
        # The command's blob store is the data dir's: this test's directory.
        "SOFTBRIK_DATA_DIR": str(local_store.root.parent),
    }
    keys_dir = settings.data_dir / "keys"
    if keys_dir.exists():
        shutil.copytree(keys_dir, local_store.root.parent / "keys", dirs_exist_ok=True)

    def run(*more):
        return subprocess.run(
            [sys.executable, "-m", "softbrik", "filestorage", *args, *more],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    return run


async def test_export_command_streams_the_zip_to_a_file(
    drive, softbrik_app, softbrik_db, local_store, tmp_path
):
    platform = softbrik_app.state.rt.extras["platform"]
    docs = await drive.mkdir("Docs")
    data = os.urandom(300_000)
    await drive.upload("big.bin", data, docs)
    out = tmp_path / "drive.zip"
    mine = await team_id(drive, platform)
    done = command(softbrik_app, softbrik_db, local_store, "export", "--team", str(mine))(str(out))
    assert done.returncode == 0, done.stderr
    assert f"bytes written to {out}" in done.stdout
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["Docs/", "Docs/big.bin"]
        assert archive.read("Docs/big.bin") == data


async def test_verify_recomputes_usage_and_reports_drift(
    drive, softbrik_app, softbrik_db, local_store, tmp_path
):
    """`softbrik filestorage verify` runs as a command, against the same database and blobs."""
    from softbrik_filestorage.models import Usage

    platform = softbrik_app.state.rt.extras["platform"]
    await drive.upload("a.bin", b"a" * 100)
    await drive.upload("b.bin", b"b" * 50)
    mine = await team_id(drive, platform)
    await Usage.filter(team_id=mine).update(used_bytes=999, charged_bytes=999)  # drift
    run = command(softbrik_app, softbrik_db, local_store, "verify", "--team", str(mine))
    done = run()
    assert done.returncode == 1, done.stderr
    assert f"team {mine}: DRIFT used 999 (actual 150)" in done.stdout
    done = run("--fix")
    assert done.returncode == 0, done.stderr
    done = run()
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"team {mine}: ok used 150 (actual 150)" in done.stdout
    assert (await drive.usage())["usedBytes"] == 150
