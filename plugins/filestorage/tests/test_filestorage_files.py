"""Folders and files: names, moves, uploads, encrypted storage, downloads, versions, isolation."""

from __future__ import annotations

import hashlib
import os

import pytest


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


DATA = os.urandom(150_000)


async def test_upload_then_download_through_a_signed_link(drive, blob_store):
    """Small files go through the GraphQL multipart request spec; downloads stream."""
    file = await drive.upload("report.pdf", DATA)
    assert file["name"] == "report.pdf"
    assert int(file["size"]) == len(DATA)
    assert file["sha256"] == sha(DATA)
    assert file["contentType"] == "application/pdf"
    assert file["version"] == 1
    response = await drive.download(file["downloadUrl"])
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-length"] == str(len(DATA))
    assert "report.pdf" in response.headers["content-disposition"]


async def test_the_blob_store_never_holds_plaintext(drive, blob_store):
    """R-SEC-1, R-SEC-2: every stored byte is sealed under the team's key."""
    marker = b"PLAINTEXT-MARKER-" * 2000
    await drive.upload("secret.txt", marker)
    keys = await blob_store.keys("")
    assert keys and all(key.startswith("team/") for key in keys)
    for key in keys:
        stored = b"".join([chunk async for chunk in blob_store.get(key)])
        assert b"PLAINTEXT-MARKER" not in stored


async def test_range_requests_answer_206_with_only_the_range(drive, blob_store):
    file = await drive.upload("big.bin", DATA)
    url = file["downloadUrl"]
    response = await drive.download(url, {"Range": "bytes=70000-140009"})
    assert response.status_code == 206
    assert response.content == DATA[70_000:140_010]
    assert response.headers["content-range"] == f"bytes 70000-140009/{len(DATA)}"
    response = await drive.download(url, {"Range": "bytes=-10"})
    assert response.content == DATA[-10:]
    response = await drive.download(url, {"Range": "bytes=149990-"})
    assert response.content == DATA[149_990:]
    response = await drive.download(url, {"Range": f"bytes={len(DATA)}-"})
    assert response.status_code == 416


async def test_a_download_link_expires_and_cannot_be_forged(drive, clock, local_store):
    from datetime import timedelta

    file = await drive.upload("a.txt", b"hello")
    url = file["downloadUrl"]
    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert (await drive.download(forged)).status_code == 403
    clock.advance(clock.now() + timedelta(minutes=6))
    assert (await drive.download(url)).status_code == 403


async def test_folders_nest_and_names_are_unique_per_folder(drive, local_store):
    docs = await drive.mkdir("Docs")
    sub = await drive.mkdir("2026", docs)
    await drive.upload("a.txt", b"a", sub)
    await drive.mkdir("2026")  # the same name elsewhere is fine
    error = await drive.error(
        "mutation($i: CreateFolderInput!) { filestorageCreateFolder(input: $i) { id } }",
        {"i": {"name": "2026", "parentId": docs}},
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["field"] == "name"
    # A file and a folder cannot share a name either.
    error = await drive.upload_error("2026", b"x")
    assert error["extensions"]["code"] == "CONFLICT"
    assert await drive.names() == ["2026/", "Docs/"]
    assert await drive.names(sub) == ["a.txt"]
    data = await drive.ok(
        "query($id: ID!) { filestorage { folder(id: $id) { name path { name } files { name } } } }",
        {"id": sub},
    )
    assert data["filestorage"]["folder"] == {
        "name": "2026",
        "path": [{"name": "Docs"}],
        "files": [{"name": "a.txt"}],
    }


@pytest.mark.parametrize(
    "name",
    ["", "  ", "..", ".", "a/b", "a\\b", "CON", "con.txt", "lpt1", "x\x00y", "dot.", "x" * 256],
)
async def test_path_tricks_and_reserved_names_are_refused(drive, name, local_store):
    error = await drive.error(
        "mutation($i: CreateFolderInput!) { filestorageCreateFolder(input: $i) { id } }",
        {"i": {"name": name}},
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "name"


async def test_rename_move_and_no_move_into_its_own_subtree(drive, local_store):
    a = await drive.mkdir("A")
    b = await drive.mkdir("B", a)
    c = await drive.mkdir("C", b)
    file = await drive.upload("f.txt", b"f", c)
    move = "mutation($id: ID!, $to: ID) { filestorageMove(id: $id, folderId: $to) { ... on Folder { id name } ... on File { id name } } }"
    for target in (a, b, c):
        error = await drive.error(move, {"id": a, "to": target})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
    await drive.ok(move, {"id": b, "to": None})  # B (with C) to the top
    assert await drive.names() == ["A/", "B/"]
    data = await drive.ok(
        "query($id: ID!) { filestorage { folder(id: $id) { path { name } } } }", {"id": c}
    )
    assert data["filestorage"]["folder"]["path"] == [{"name": "B"}]
    # The moved subtree's ancestry was rewritten: moving A into C is allowed now, B into C not.
    await drive.ok(move, {"id": a, "to": c})
    error = await drive.error(move, {"id": b, "to": c})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    renamed = await drive.ok(
        'mutation($id: ID!) { filestorageRename(id: $id, name: "g.txt") { ... on File { name } } }',
        {"id": file["id"]},
    )
    assert renamed["filestorageRename"] == {"name": "g.txt"}


async def test_uploading_to_an_existing_name_keeps_the_old_content_as_a_version(drive, local_store):
    first = await drive.upload("plan.txt", b"one")
    second = await drive.upload("plan.txt", b"two!")
    assert second["id"] == first["id"]
    assert second["version"] == 2
    data = await drive.ok(
        "query($id: ID!) { filestorage { file(id: $id) { size versions { id number size sha256 downloadUrl } } } }",
        {"id": first["id"]},
    )
    versions = data["filestorage"]["file"]["versions"]
    assert [v["number"] for v in versions] == [2, 1]
    assert (await drive.download(versions[1]["downloadUrl"])).content == b"one"
    restored = await drive.ok(
        "mutation($v: ID!) { filestorageRestoreVersion(versionId: $v) { version size sha256 downloadUrl } }",
        {"v": versions[1]["id"]},
    )
    assert restored["filestorageRestoreVersion"]["version"] == 3
    assert restored["filestorageRestoreVersion"]["sha256"] == sha(b"one")
    assert (
        await drive.download(restored["filestorageRestoreVersion"]["downloadUrl"])
    ).content == b"one"
    # Every version's bytes count (3 + 4 + 3).
    assert (await drive.usage())["usedBytes"] == 10


async def test_search_and_listing_are_bounded_queries(drive, local_store, count_queries):
    folder = await drive.mkdir("Invoices")
    for i in range(12):
        await drive.upload(f"invoice-{i:02}.pdf", b"%PDF", folder)
    query = """query($f: ID!) { filestorage {
        files(folderId: $f) { id name size sha256 createdAt modifiedBy lockedBy downloadUrl }
        search(name: "INVOICE-0") { name }
    } }"""
    with count_queries() as counter:
        data = await drive.ok(query, {"f": folder})
    assert len(data["filestorage"]["files"]) == 12
    assert [f["name"] for f in data["filestorage"]["search"]] == [
        f"invoice-{i:02}.pdf" for i in range(10)
    ]
    # Session, seat check, folder, files, search: a constant, whatever the number of files.
    assert counter.count <= 8, counter.statements


async def test_another_teams_ids_answer_not_found(drive, team_factory, make_drive, local_store):
    """Tenant isolation: another team's id answers exactly like a missing one."""
    folder = await drive.mkdir("Mine")
    file = await drive.upload("mine.txt", b"mine", folder)
    data = await drive.ok(
        "query($id: ID!) { filestorage { file(id: $id) { versions { id } } } }", {"id": file["id"]}
    )
    version = data["filestorage"]["file"]["versions"][0]["id"]
    link = await drive.ok(
        "mutation($i: CreateShareLinkInput!) { filestorageCreateShareLink(input: $i) { id } }",
        {"i": {"fileId": file["id"]}},
    )
    link_id = link["filestorageCreateShareLink"]["id"]
    other = make_drive((await team_factory.sign_up(["filestorage"])).admin.token)
    cases = [
        ("query($id: ID!) { filestorage { file(id: $id) { name } } }", {"id": file["id"]}),
        ("query($id: ID!) { filestorage { folder(id: $id) { name } } }", {"id": folder}),
        ("query($id: ID!) { filestorage { files(folderId: $id) { name } } }", {"id": folder}),
        ("mutation($id: ID!) { filestorageDelete(id: $id) }", {"id": file["id"]}),
        (
            'mutation($id: ID!) { filestorageRename(id: $id, name: "x") { __typename } }',
            {"id": folder},
        ),
        ("mutation($id: ID!) { filestorageMove(id: $id) { __typename } }", {"id": file["id"]}),
        ("mutation($id: ID!) { filestorageCopy(id: $id) { id } }", {"id": file["id"]}),
        ("mutation($id: ID!) { filestorageLock(id: $id) { id } }", {"id": file["id"]}),
        (
            "mutation($id: ID!) { filestorageRestoreVersion(versionId: $id) { id } }",
            {"id": version},
        ),
        ("mutation($id: ID!) { filestorageRevokeShareLink(id: $id) { id } }", {"id": link_id}),
        (
            "mutation($i: CreateShareLinkInput!) { filestorageCreateShareLink(input: $i) { id } }",
            {"i": {"fileId": file["id"]}},
        ),
        (
            "mutation($i: CreateFolderInput!) { filestorageCreateFolder(input: $i) { id } }",
            {"i": {"name": "x", "parentId": folder}},
        ),
    ]
    for query, variables in cases:
        error = await other.error(query, variables)
        assert error["extensions"]["code"] == "NOT_FOUND", (query, error)
    error = await other.upload_error("x.txt", b"x", folder)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await drive.names(folder) == ["mine.txt"]


async def test_a_user_without_a_seat_is_refused(drive, team, team_factory, make_drive, local_store):
    """R-ACC-3: GraphQL fields and download links alike."""
    member = await team_factory.invite(team, [])
    seatless = make_drive(member.token)
    error = await seatless.error("{ filestorage { usage { usedBytes } } }")
    assert error["extensions"]["code"] == "FORBIDDEN"
    error = await seatless.upload_error("b.txt", b"b")
    assert error["extensions"]["code"] == "FORBIDDEN"
    # A member whose access ends: the link handed out before stops working at once.
    colleague = make_drive((await team_factory.invite(team, ["filestorage"])).token)
    url = (await colleague.upload("c.txt", b"c"))["downloadUrl"]
    assert (await colleague.download(url)).status_code == 200
    await drive.ok(
        "mutation($u: ID!) { endAccessNow(userId: $u) { removalOn } }", {"u": team.members[-1].id}
    )
    assert (await colleague.download(url)).status_code == 403


NODE = """query($id: ID!) { node(id: $id) { id __typename
  ... on File { name size } ... on Folder { name files { name } } } }"""


async def test_files_and_folders_resolve_through_node(
    drive, team, team_factory, make_drive, local_store
):
    """Relay `node(id)`: the same checks as `file(id)` and `folder(id)` (R-ACC-3, R-ACC-4)."""
    folder = await drive.mkdir("Docs")
    file = await drive.upload("a.txt", b"abc", folder)
    found = (await drive.ok(NODE, {"id": file["id"]}))["node"]
    assert found == {"id": file["id"], "__typename": "File", "name": "a.txt", "size": 3.0}
    found = (await drive.ok(NODE, {"id": folder}))["node"]
    assert found == {
        "id": folder,
        "__typename": "Folder",
        "name": "Docs",
        "files": [{"name": "a.txt"}],
    }
    # A colleague sees the team drive, not the admin's own files.
    colleague = make_drive((await team_factory.invite(team, ["filestorage"])).token)
    assert (await colleague.ok(NODE, {"id": folder}))["node"]["name"] == "Docs"
    private = await drive.upload("mine.txt", b"m", await drive.my_files())
    assert (await drive.ok(NODE, {"id": private["id"]}))["node"]["name"] == "mine.txt"
    missing = await colleague.error(NODE, {"id": private["id"]})
    assert missing["extensions"]["code"] == "NOT_FOUND"
    # Another team's ids answer like missing ones; a seatless member is refused.
    other = make_drive((await team_factory.sign_up(["filestorage"])).admin.token)
    stranger = await other.error(NODE, {"id": file["id"]})
    assert {k: v for k, v in stranger.items() if k != "extensions"} == {
        k: v for k, v in missing.items() if k != "extensions"
    }
    assert stranger["extensions"]["code"] == "NOT_FOUND"
    seatless = make_drive((await team_factory.invite(team, [])).token)
    assert (await seatless.error(NODE, {"id": file["id"]}))["extensions"]["code"] == "FORBIDDEN"
    # What is in the trash is not a node.
    await drive.ok("mutation($id: ID!) { filestorageDelete(id: $id) }", {"id": file["id"]})
    assert (await drive.error(NODE, {"id": file["id"]}))["extensions"]["code"] == "NOT_FOUND"
