"""Sharing inside the team: the team drive is every seated member's; a member's own files
(`myFiles`) are theirs alone unless shared, read or write, with another member with a seat;
revoked at once and checked on every access (issue 7, item 6; R-ACC-3)."""

from __future__ import annotations

import pytest

FILE = "query($id: ID!) { filestorage { file(id: $id) { id name owner downloadUrl } } }"
FOLDER = "query($id: ID!) { filestorage { folder(id: $id) { name path { name } } } }"
UNSHARE = "mutation($id: ID!) { filestorageUnshare(id: $id) }"
RENAME = 'mutation($id: ID!) { filestorageRename(id: $id, name: "renamed.txt") { __typename } }'
MOVE = "mutation($id: ID!, $to: ID) { filestorageMove(id: $id, folderId: $to) { __typename } }"
DELETE = "mutation($id: ID!) { filestorageDelete(id: $id) }"
COPY = "mutation($id: ID!, $to: ID) { filestorageCopy(id: $id, folderId: $to) { id owner } }"
MKDIR = "mutation($i: CreateFolderInput!) { filestorageCreateFolder(input: $i) { id owner } }"
SEARCH = "query($n: String!) { filestorage { search(name: $n) { name } } }"
LINK = "mutation($id: ID!) { filestorageCreateShareLink(input: {fileId: $id}) { url } }"


@pytest.fixture
async def colleague(team, team_factory, make_drive):
    """A second member with a filestorage seat, and their user id."""
    member = await team_factory.invite(team, ["filestorage"])
    found = make_drive(member.token)
    found.user_id = member.id
    return found


async def private_tree(drive):
    """The admin's own files: Plans/ holding plan.txt and Drafts/draft.txt."""
    home = await drive.my_files()
    plans = await drive.mkdir("Plans", home)
    drafts = await drive.mkdir("Drafts", plans)
    plan = await drive.upload("plan.txt", b"the plan", plans)
    draft = await drive.upload("draft.txt", b"a draft", drafts)
    return home, plans, drafts, plan, draft


async def codes(member, cases):
    found = []
    for query, variables in cases:
        error = await member.error(query, variables)
        found.append(error["extensions"]["code"])
    return found


async def test_without_a_share_a_member_sees_nothing_of_anothers_own_files(
    drive, colleague, team, local_store
):
    home, plans, _drafts, plan, draft = await private_tree(drive)
    shared = await drive.upload("team.txt", b"for all")
    # The team drive stays everyone's (API.md: filestorage { file(id) }).
    assert (await colleague.ok(FILE, {"id": shared["id"]}))["filestorage"]["file"]["owner"] is None
    assert (await drive.ok(FILE, {"id": plan["id"]}))["filestorage"]["file"][
        "owner"
    ] == team.admin.id
    cases = [
        (FILE, {"id": plan["id"]}),
        (FOLDER, {"id": plans}),
        (FOLDER, {"id": home}),
        ("query($id: ID!) { filestorage { files(folderId: $id) { name } } }", {"id": plans}),
        (RENAME, {"id": plan["id"]}),
        (MOVE, {"id": plan["id"], "to": None}),
        (DELETE, {"id": draft["id"]}),
        (COPY, {"id": plan["id"], "to": None}),
        (LINK, {"id": plan["id"]}),
        ("mutation($id: ID!) { filestorageLock(id: $id) { id } }", {"id": plan["id"]}),
        (MKDIR, {"i": {"name": "x", "parentId": plans}}),
        (
            "mutation($id: ID!) { filestorageCopyFolder(id: $id) { id } }",
            {"id": plans},
        ),
    ]
    assert await codes(colleague, cases) == ["NOT_FOUND"] * len(cases)
    error = await colleague.upload_error("x.txt", b"x", plans)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert (await colleague.ok(SEARCH, {"n": "plan"}))["filestorage"]["search"] == []
    assert await colleague.names() == ["team.txt"]
    # Their own files are their own: a different folder, empty.
    assert await colleague.my_files() != home
    assert await colleague.names(await colleague.my_files()) == []
    # What the owner deletes goes to the owner's trash only.
    await drive.ok(DELETE, {"id": draft["id"]})
    trash = "{ filestorage { trash { files { name } } } }"
    assert (await drive.ok(trash))["filestorage"]["trash"]["files"] == [{"name": "draft.txt"}]
    assert (await colleague.ok(trash))["filestorage"]["trash"]["files"] == []
    error = await colleague.error(
        "mutation($id: ID!) { filestorageRestore(id: $id) { id } }", {"id": draft["id"]}
    )
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_a_read_share_allows_listing_and_downloading_only(
    drive, colleague, team, local_store
):
    _home, plans, drafts, plan, draft = await private_tree(drive)
    await drive.share(plans, colleague.user_id, "READ")
    assert await colleague.names(plans) == ["Drafts/", "plan.txt"]
    url = (await colleague.ok(FILE, {"id": draft["id"]}))["filestorage"]["file"]["downloadUrl"]
    assert (await colleague.download(url)).content == b"a draft"
    # The path starts at what was shared: the owner's own folder above it stays unseen.
    path = (await colleague.ok(FOLDER, {"id": drafts}))["filestorage"]["folder"]["path"]
    assert path == [{"name": "Plans"}]
    assert (await colleague.ok(SEARCH, {"n": "plan"}))["filestorage"]["search"] == [
        {"name": "plan.txt"}
    ]
    shared = (
        await colleague.ok(
            "{ filestorage { sharedWithMe { access owner item { ... on Folder { name } } } } }"
        )
    )["filestorage"]["sharedWithMe"]
    assert shared == [{"access": "READ", "owner": team.admin.id, "item": {"name": "Plans"}}]
    cases = [
        (RENAME, {"id": plan["id"]}),
        (MOVE, {"id": plan["id"], "to": drafts}),
        (DELETE, {"id": plan["id"]}),
        (MKDIR, {"i": {"name": "x", "parentId": plans}}),
        ("mutation($id: ID!) { filestorageLock(id: $id) { id } }", {"id": plan["id"]}),
        (COPY, {"id": draft["id"], "to": plans}),
    ]
    assert await codes(colleague, cases) == ["FORBIDDEN"] * len(cases)
    error = await colleague.upload_error("new.txt", b"new", plans)
    assert error["extensions"]["code"] == "FORBIDDEN"
    # Reading is enough to copy into one's own files; the copy is the reader's.
    mine = await colleague.my_files()
    copy = (await colleague.ok(COPY, {"id": plan["id"], "to": mine}))["filestorageCopy"]
    assert copy["owner"] == colleague.user_id
    assert await drive.names(plans) == ["Drafts/", "plan.txt"]


async def test_a_write_share_allows_upload_rename_and_move_inside(
    drive, colleague, team, local_store
):
    home, plans, drafts, plan, _draft = await private_tree(drive)
    await drive.share(plans, colleague.user_id, "WRITE")
    added = await colleague.upload("notes.txt", b"notes", plans)
    sub = await colleague.ok(MKDIR, {"i": {"name": "Mine", "parentId": plans}})
    # What a sharee adds is in the owner's files: the owner sees it and owns it.
    assert sub["filestorageCreateFolder"]["owner"] == team.admin.id
    assert (await drive.ok(FILE, {"id": added["id"]}))["filestorage"]["file"]["owner"] == (
        team.admin.id
    )
    await colleague.ok(RENAME, {"id": plan["id"]})
    await colleague.ok(MOVE, {"id": added["id"], "to": drafts})
    assert await drive.names(plans) == ["Drafts/", "Mine/", "renamed.txt"]
    assert await drive.names(drafts) == ["draft.txt", "notes.txt"]
    # A new version through the share.
    assert (await colleague.upload("draft.txt", b"v2", drafts))["version"] == 2
    # Moves stay inside: not to the team drive, not into the sharee's own files.
    for target in (None, await colleague.my_files()):
        error = await colleague.error(MOVE, {"id": plan["id"], "to": target})
        assert error["extensions"]["code"] in ("BAD_USER_INPUT", "NOT_FOUND")
        assert error["extensions"]["field"] == "folderId"
    # Nor above what was shared.
    error = await colleague.error(MOVE, {"id": plan["id"], "to": home})
    assert error["extensions"]["code"] == "NOT_FOUND"
    # Only the owner shares.
    error = await colleague.error(
        "mutation($i: ShareInput!) { filestorageShare(input: $i) { id } }",
        {"i": {"id": plans, "userId": team.admin.id, "access": "READ"}},
    )
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_a_share_is_revoked_at_once_and_checked_on_every_access(
    drive, colleague, http, config, local_store
):
    _home, plans, _drafts, plan, _draft = await private_tree(drive)
    share_id = await drive.share(plans, colleague.user_id, "WRITE")
    url = (await colleague.ok(FILE, {"id": plan["id"]}))["filestorage"]["file"]["downloadUrl"]
    # A public link made by the sharee never grants more than the sharee has.
    link = (await colleague.ok(LINK, {"id": plan["id"]}))["filestorageCreateShareLink"]["url"]
    assert (await http.get(link)).status_code == 200
    upload = await colleague.start("late.txt", 4, plans)
    # Read only now: the write is gone at once.
    await drive.share(plans, colleague.user_id, "READ")
    assert (await colleague.error(RENAME, {"id": plan["id"]}))["extensions"]["code"] == "FORBIDDEN"
    await drive.ok(UNSHARE, {"id": share_id})
    assert (await colleague.error(FILE, {"id": plan["id"]}))["extensions"]["code"] == "NOT_FOUND"
    assert (await colleague.download(url)).status_code == 404
    assert (await http.get(link)).status_code == 403
    # An upload started while the share held cannot land after it is revoked.
    assert "errors" not in await colleague.chunk(upload["id"], 0, b"late")
    error = (await colleague.complete(upload["id"]))["errors"][0]
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await drive.names(plans) == ["Drafts/", "plan.txt"]
    usage = await drive.usage()
    assert usage["reservedBytes"] == 0
    assert usage["usedBytes"] == len(b"the plan") + len(b"a draft")


async def test_who_may_share_and_with_whom(
    drive, colleague, team, team_factory, make_drive, local_store
):
    _home, plans, _drafts, plan, _draft = await private_tree(drive)
    seatless = await team_factory.invite(team, [])
    stranger = (await team_factory.sign_up(["filestorage"])).admin
    share = "mutation($i: ShareInput!) { filestorageShare(input: $i) { id access } }"
    team_file = await drive.upload("team.txt", b"t")

    async def refused(item, user, access="READ"):
        error = await drive.error(share, {"i": {"id": item, "userId": user, "access": access}})
        return error["extensions"]["code"], error["extensions"]["field"]

    assert await refused(plans, seatless.id) == ("NOT_FOUND", "userId")
    assert await refused(plans, stranger.id) == ("NOT_FOUND", "userId")
    assert await refused(plans, team.admin.id) == ("BAD_USER_INPUT", "userId")
    assert await refused(team_file["id"], colleague.user_id) == ("BAD_USER_INPUT", "id")
    # Sharing again changes the access; one share per member and item.
    first = await drive.share(plan["id"], colleague.user_id, "READ")
    again = await drive.share(plan["id"], colleague.user_id, "WRITE")
    assert first == again
    shares = "query($id: ID!) { filestorage { file(id: $id) { shares { user access } } } }"
    assert (await drive.ok(shares, {"id": plan["id"]}))["filestorage"]["file"]["shares"] == [
        {"user": colleague.user_id, "access": "WRITE"}
    ]
    # Only the owner sees who has access.
    assert (await colleague.ok(shares, {"id": plan["id"]}))["filestorage"]["file"]["shares"] == []
    # The sharee may give a share up; others cannot touch it.
    other = make_drive((await team_factory.invite(team, ["filestorage"])).token)
    assert (await other.error(UNSHARE, {"id": first}))["extensions"]["code"] == "NOT_FOUND"
    await colleague.ok(UNSHARE, {"id": first})
    assert (await colleague.error(FILE, {"id": plan["id"]}))["extensions"]["code"] == "NOT_FOUND"


async def test_my_files_stay_put_and_restore_to_their_owner(drive, colleague, local_store):
    home, _plans, drafts, _plan, draft = await private_tree(drive)
    for query in (RENAME, DELETE, MOVE):
        error = await drive.error(query, {"id": home, "to": None})
        assert error["extensions"]["code"] == "BAD_USER_INPUT", query
    # A private file whose folder is in the trash restores to its owner's files, never to
    # the team drive.
    await drive.ok(DELETE, {"id": draft["id"]})
    await drive.ok(DELETE, {"id": drafts})
    await drive.ok("mutation($id: ID!) { filestorageRestore(id: $id) { id } }", {"id": draft["id"]})
    assert await drive.names(home) == ["Plans/", "draft.txt"]
    assert await colleague.names() == []


async def test_a_member_without_a_seat_is_refused_sharing(
    drive, team, team_factory, make_drive, local_store
):
    seatless = make_drive((await team_factory.invite(team, [])).token)
    for query in ("{ filestorage { myFiles { id } } }", "{ filestorage { sharedWithMe { id } } }"):
        assert (await seatless.error(query))["extensions"]["code"] == "FORBIDDEN"


async def test_shared_with_me_comes_in_pages_of_live_items(drive, colleague):
    """`sharedWithMe(first, offset)`: newest first, a trashed item takes no place in a page."""
    home = await drive.my_files()
    files = [await drive.upload(f"f{n}.txt", b"x", home) for n in range(4)]
    for file in files:
        await drive.share(file["id"], colleague.user_id, "READ")
    await drive.ok(DELETE, {"id": files[2]["id"]})  # to the trash: no longer shared
    page = "query($f: Int, $o: Int) { filestorage { sharedWithMe(first: $f, offset: $o) { item { ... on File { name } } } } }"

    async def names(first: int, offset: int) -> list[str]:
        found = (await colleague.ok(page, {"f": first, "o": offset}))["filestorage"]
        return [s["item"]["name"] for s in found["sharedWithMe"]]

    assert await names(2, 0) == ["f3.txt", "f1.txt"]
    assert await names(2, 2) == ["f0.txt"]
    assert await names(100, 3) == []
    assert await names(0, 0) == []
