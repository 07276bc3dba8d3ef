"""Trash (restore to the original place, deterministic renames, purge of only what is old),
and locks that expire by themselves."""

from __future__ import annotations

from datetime import timedelta

DELETE = "mutation($id: ID!) { filestorageDelete(id: $id) }"
RESTORE = "mutation($id: ID!) { filestorageRestore(id: $id) { id name folderId } }"
RESTORE_FOLDER = "mutation($id: ID!) { filestorageRestoreFolder(id: $id) { id name } }"
TRASH = "{ filestorage { trash { files { name trashedAt } folders { name } } } }"


async def test_a_file_restores_to_its_original_folder(drive, blob_store):
    folder = await drive.mkdir("Reports")
    file = await drive.upload("q1.pdf", b"q1", folder)
    await drive.ok(DELETE, {"id": file["id"]})
    assert await drive.names(folder) == []
    trash = (await drive.ok(TRASH))["filestorage"]["trash"]
    assert [f["name"] for f in trash["files"]] == ["q1.pdf"]
    # In the trash the name is free again, and the bytes still count until purged.
    await drive.upload("q1.pdf", b"new", folder)
    restored = (await drive.ok(RESTORE, {"id": file["id"]}))["filestorageRestore"]
    assert restored == {"id": file["id"], "name": "q1 (2).pdf", "folderId": folder}
    assert await drive.names(folder) == ["q1 (2).pdf", "q1.pdf"]
    assert (await drive.ok(TRASH))["filestorage"]["trash"]["files"] == []
    # The trashed file's id answers NOT_FOUND in the live drive while it is in the trash.
    await drive.ok(DELETE, {"id": file["id"]})
    error = await drive.error(
        "query($id: ID!) { filestorage { file(id: $id) { name } } }", {"id": file["id"]}
    )
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_the_rename_on_a_clash_is_deterministic(drive, local_store):
    ids = []
    for _ in range(3):
        ids.append((await drive.upload("a.txt", b"a"))["id"])
        await drive.ok(DELETE, {"id": ids[-1]})
    await drive.upload("a.txt", b"a")
    names = [(await drive.ok(RESTORE, {"id": i}))["filestorageRestore"]["name"] for i in ids]
    assert names == ["a (2).txt", "a (3).txt", "a (4).txt"]


async def test_a_folder_restores_with_everything_in_it(drive, local_store):
    top = await drive.mkdir("Top")
    sub = await drive.mkdir("Sub", top)
    await drive.upload("deep.txt", b"d", sub)
    await drive.upload("top.txt", b"t", top)
    await drive.ok(DELETE, {"id": top})
    assert await drive.names() == []
    search = await drive.ok('{ filestorage { search(name: "deep") { name } } }')
    assert search["filestorage"]["search"] == []
    trash = (await drive.ok(TRASH))["filestorage"]["trash"]
    assert trash == {"files": [], "folders": [{"name": "Top"}]}  # only what was deleted
    await drive.ok(RESTORE_FOLDER, {"id": top})
    assert await drive.names() == ["Top/"]
    assert await drive.names(top) == ["Sub/", "top.txt"]
    assert await drive.names(sub) == ["deep.txt"]


async def test_a_file_whose_folder_is_gone_restores_to_the_top(drive, local_store):
    folder = await drive.mkdir("Old")
    inner = await drive.upload("keep.txt", b"k", folder)
    await drive.ok(DELETE, {"id": inner["id"]})  # first the file, then its folder
    await drive.ok(DELETE, {"id": folder})
    restored = (await drive.ok(RESTORE, {"id": inner["id"]}))["filestorageRestore"]
    assert restored["folderId"] is None
    assert await drive.names() == ["keep.txt"]
    # Restoring the folder later does not bring the file back twice.
    await drive.ok(RESTORE_FOLDER, {"id": folder})
    assert await drive.names(folder) == []


async def test_the_scheduled_purge_removes_only_what_is_older(
    drive, blob_store, clock, softbrik_app, config
):
    from softbrik_filestorage import service

    platform = softbrik_app.state.rt.extras["platform"]
    old = await drive.upload("old.bin", b"o" * 100)
    folder = await drive.mkdir("F")
    await drive.upload("inside.bin", b"i" * 50, folder)
    await drive.ok(DELETE, {"id": old["id"]})
    await drive.ok(DELETE, {"id": folder})
    clock.advance(clock.now() + timedelta(days=10))
    recent = await drive.upload("recent.bin", b"r" * 30)
    await drive.ok(DELETE, {"id": recent["id"]})
    assert (await drive.usage())["usedBytes"] == 180
    clock.advance(clock.now() + timedelta(days=config.trash_days - 10))
    assert await service.purge_trash(platform) == 0  # exactly 30 days: not older yet
    clock.advance(clock.now() + timedelta(seconds=1))
    assert await service.purge_trash(platform) == 3  # old.bin, F and inside.bin
    assert (await drive.usage())["usedBytes"] == 30
    trash = (await drive.ok(TRASH))["filestorage"]["trash"]
    assert [f["name"] for f in trash["files"]] == ["recent.bin"]
    assert trash["folders"] == []
    assert len(await blob_store.keys("")) == 1  # only recent.bin's content
    error = await drive.error(RESTORE, {"id": old["id"]})
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_delete_forever_frees_the_space_at_once(drive, local_store):
    file = await drive.upload("a.bin", b"a" * 70)
    error = await drive.error(
        "mutation($id: ID!) { filestorageDeleteForever(id: $id) }", {"id": file["id"]}
    )
    assert error["extensions"]["code"] == "NOT_FOUND"  # only from the trash
    await drive.ok(DELETE, {"id": file["id"]})
    await drive.ok("mutation($id: ID!) { filestorageDeleteForever(id: $id) }", {"id": file["id"]})
    assert (await drive.usage())["usedBytes"] == 0
    assert await local_store.keys("") == []


async def test_a_lock_keeps_others_out_and_expires_by_itself(
    drive, team, team_factory, make_drive, clock, local_store
):
    """No file stays stuck locked: a lock ends at its time without anyone unlocking it."""
    colleague = make_drive((await team_factory.invite(team, ["filestorage"])).token)
    file = await drive.upload("contract.docx", b"v1")
    locked = await drive.ok(
        "mutation($id: ID!) { filestorageLock(id: $id, minutes: 10) { lockedBy lockedUntil } }",
        {"id": file["id"]},
    )
    assert locked["filestorageLock"]["lockedBy"] == team.admin.id
    # The holder may still work on it; the colleague may not.
    await drive.upload("contract.docx", b"v2")
    for query in [
        DELETE,
        'mutation($id: ID!) { filestorageRename(id: $id, name: "x.docx") { __typename } }',
        "mutation($id: ID!) { filestorageLock(id: $id) { id } }",
        "mutation($id: ID!) { filestorageUnlock(id: $id) { id } }",
    ]:
        error = await colleague.error(query, {"id": file["id"]})
        assert error["extensions"]["code"] == "CONFLICT", query
    error = await colleague.upload_error("contract.docx", b"v3")
    assert error["extensions"]["code"] == "CONFLICT"
    error = await drive.error(
        "mutation($id: ID!) { filestorageLock(id: $id, minutes: 999) { id } }", {"id": file["id"]}
    )
    assert error["extensions"]["field"] == "minutes"
    clock.advance(clock.now() + timedelta(minutes=10))
    data = await colleague.ok(
        "query($id: ID!) { filestorage { file(id: $id) { lockedBy } } }", {"id": file["id"]}
    )
    assert data["filestorage"]["file"]["lockedBy"] is None
    assert (await colleague.upload("contract.docx", b"v3"))["version"] == 3


async def test_an_admin_can_break_a_lock(drive, team, team_factory, make_drive, local_store):
    colleague = make_drive((await team_factory.invite(team, ["filestorage"])).token)
    file = await colleague.upload("a.txt", b"a")
    await colleague.ok("mutation($id: ID!) { filestorageLock(id: $id) { id } }", {"id": file["id"]})
    await drive.ok("mutation($id: ID!) { filestorageUnlock(id: $id) { id } }", {"id": file["id"]})
    await drive.ok(DELETE, {"id": file["id"]})
