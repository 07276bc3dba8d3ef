"""Copies of files and folders: all or nothing, quota reserved at once for the whole copy,
names made free deterministically, sealed blobs shared and deleted with their last version."""

from __future__ import annotations

import asyncio

COPY = """mutation($id: ID!, $to: ID, $n: String) {
  filestorageCopy(id: $id, folderId: $to, name: $n) { id name sha256 downloadUrl }
}"""
COPY_FOLDER = """mutation($id: ID!, $to: ID, $n: String) {
  filestorageCopyFolder(id: $id, folderId: $to, name: $n) { id name }
}"""
FOREVER = "mutation($id: ID!) { filestorageDeleteForever(id: $id) }"
DELETE = "mutation($id: ID!) { filestorageDelete(id: $id) }"
TREE = """query($id: ID!) { filestorage { folder(id: $id) {
  files { name downloadUrl version }
  folders { name files { name downloadUrl } folders { name files { name } } }
} } }"""


async def tree(drive):
    """Project/ a.txt, Docs/ b.txt, Docs/Deep/ c.txt, and a trashed gone.txt in Docs."""
    project = await drive.mkdir("Project")
    docs = await drive.mkdir("Docs", project)
    deep = await drive.mkdir("Deep", docs)
    await drive.upload("a.txt", b"v1", project)
    await drive.upload("a.txt", b"aaa", project)  # two versions: only the current is copied
    await drive.upload("b.txt", b"bbbb", docs)
    await drive.upload("c.txt", b"ccccc", deep)
    gone = await drive.upload("gone.txt", b"gone", docs)
    await drive.ok(DELETE, {"id": gone["id"]})
    return project, docs, deep


async def content(drive, url):
    return (await drive.download(url)).content


async def test_a_file_copy_shares_the_sealed_content_and_counts_it(drive, blob_store):
    file = await drive.upload("a.txt", b"abc")
    folder = await drive.mkdir("F")
    same_folder = (await drive.ok(COPY, {"id": file["id"]}))["filestorageCopy"]
    assert same_folder["name"] == "a (2).txt"
    other = (await drive.ok(COPY, {"id": file["id"], "to": folder}))["filestorageCopy"]
    assert other["name"] == "a.txt"
    assert await content(drive, other["downloadUrl"]) == b"abc"
    assert (await drive.usage())["usedBytes"] == 9
    assert len(await blob_store.keys("")) == 1  # one sealed blob, three versions refer to it
    # A given name that is taken is refused, not changed.
    error = await drive.error(COPY, {"id": file["id"], "to": folder, "n": "a.txt"})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("CONFLICT", "name")
    # The blob goes with the last version that refers to it.
    for gone in (file, same_folder):
        await drive.ok(DELETE, {"id": gone["id"]})
        await drive.ok(FOREVER, {"id": gone["id"]})
    assert await content(drive, other["downloadUrl"]) == b"abc"
    assert len(await blob_store.keys("")) == 1
    await drive.ok(DELETE, {"id": other["id"]})
    await drive.ok(FOREVER, {"id": other["id"]})
    assert await blob_store.keys("") == []
    assert (await drive.usage())["usedBytes"] == 0


async def test_a_folder_copies_deep_with_its_live_content(drive, local_store):
    project, _docs, deep = await tree(drive)
    before = (await drive.usage())["usedBytes"]
    copy = (await drive.ok(COPY_FOLDER, {"id": project}))["filestorageCopyFolder"]
    assert copy["name"] == "Project (2)"
    assert await drive.names() == ["Project/", "Project (2)/"]
    copied = (await drive.ok(TREE, {"id": copy["id"]}))["filestorage"]["folder"]
    assert [(f["name"], f["version"]) for f in copied["files"]] == [("a.txt", 1)]
    assert await content(drive, copied["files"][0]["downloadUrl"]) == b"aaa"
    [docs_copy] = copied["folders"]
    assert [f["name"] for f in docs_copy["files"]] == ["b.txt"]  # gone.txt was in the trash
    assert await content(drive, docs_copy["files"][0]["downloadUrl"]) == b"bbbb"
    assert docs_copy["folders"] == [{"name": "Deep", "files": [{"name": "c.txt"}]}]
    # The current versions' bytes are counted again; the stored blobs are not written again.
    assert (await drive.usage())["usedBytes"] == before + 3 + 4 + 5
    # Again: the next free name, deterministically; and into another folder.
    again = (await drive.ok(COPY_FOLDER, {"id": project}))["filestorageCopyFolder"]
    assert again["name"] == "Project (3)"
    inside = (await drive.ok(COPY_FOLDER, {"id": deep, "to": project}))["filestorageCopyFolder"]
    assert inside["name"] == "Deep"
    # Not into itself.
    error = await drive.error(COPY_FOLDER, {"id": project, "to": deep})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "folderId",
    )


async def test_a_copy_that_does_not_fit_or_fails_half_way_leaves_nothing(
    drive, local_store, config, monkeypatch
):
    from softbrik_filestorage import service

    project, docs, _deep = await tree(drive)
    used = (await drive.usage())["usedBytes"]
    keys = sorted(await local_store.keys(""))
    config.quota_bytes = used + 11  # the copy needs 12
    error = await drive.error(COPY_FOLDER, {"id": project})
    assert (error["extensions"]["code"], error["extensions"]["reason"]) == (
        "CONFLICT",
        "QUOTA_EXCEEDED",
    )
    assert await drive.names() == ["Project/"]
    config.quota_bytes = used + 12
    # A failure after some items were made (Deep would nest too deep) undoes all of them.
    monkeypatch.setattr(service, "MAX_DEPTH", 3)
    error = await drive.error(COPY_FOLDER, {"id": project, "to": docs})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert await drive.names(docs) == ["Deep/", "b.txt"]
    usage = await drive.usage()
    assert (usage["usedBytes"], usage["reservedBytes"]) == (used, 0)
    assert sorted(await local_store.keys("")) == keys
    monkeypatch.setattr(service, "MAX_DEPTH", 40)
    await drive.ok(COPY_FOLDER, {"id": project})
    assert (await drive.usage())["availableBytes"] == 0


async def test_parallel_copies_at_the_quotas_edge_never_exceed_it(drive, local_store, config):
    file = await drive.upload("a.bin", b"x" * 300)
    config.quota_bytes = 1000
    results = await asyncio.gather(
        *[
            drive.gql.execute(COPY, {"id": file["id"], "n": f"c{i}.bin"}, token=drive.token)
            for i in range(6)
        ]
    )
    assert sum(1 for r in results if not r.get("errors")) == 2
    usage = await drive.usage()
    assert (usage["usedBytes"], usage["reservedBytes"]) == (900, 0)
    assert len(await drive.names()) == 3


async def test_restoring_a_version_shares_its_blob(drive, local_store):
    await drive.upload("a.txt", b"one")
    file = await drive.upload("a.txt", b"two")
    data = await drive.ok(
        "query($id: ID!) { filestorage { file(id: $id) { versions { id number } } } }",
        {"id": file["id"]},
    )
    first = data["filestorage"]["file"]["versions"][-1]["id"]
    restored = await drive.ok(
        "mutation($id: ID!) { filestorageRestoreVersion(versionId: $id) { version downloadUrl } }",
        {"id": first},
    )
    assert restored["filestorageRestoreVersion"]["version"] == 3
    assert await content(drive, restored["filestorageRestoreVersion"]["downloadUrl"]) == b"one"
    assert len(await local_store.keys("")) == 2
    assert (await drive.usage())["usedBytes"] == 9


async def test_a_copy_of_a_chunked_upload_shares_its_chunks(
    drive, blob_store, config, softbrik_app
):
    from softbrik_filestorage import service

    platform = softbrik_app.state.rt.extras["platform"]
    config.chunk_bytes = 1000
    data = bytes(range(256)) * 10  # three chunks
    upload = await drive.start("big.bin", len(data))
    for index in range(3):
        await drive.chunk(upload["id"], index, data[index * 1000 : (index + 1) * 1000])
    original = (await drive.complete(upload["id"]))["data"]["filestorageCompleteUpload"]
    copy = (await drive.ok(COPY, {"id": original["id"]}))["filestorageCopy"]
    keys = await blob_store.keys("")
    assert len(keys) == 3
    assert all(d.ok and not d.stray_blobs for d in await service.verify(platform))
    await drive.ok(DELETE, {"id": original["id"]})
    await drive.ok(FOREVER, {"id": original["id"]})
    assert await content(drive, copy["downloadUrl"]) == data
    assert await blob_store.keys("") == keys
    await drive.ok(DELETE, {"id": copy["id"]})
    await drive.ok(FOREVER, {"id": copy["id"]})
    assert await blob_store.keys("") == []
    assert all(d.ok and not d.stray_blobs for d in await service.verify(platform))
