"""Public share links: checked on every access (expiry, revocation, password, the creator's own
access, download limit), counted, never granting more than the creator has."""

from __future__ import annotations

from datetime import timedelta

CREATE = """mutation($i: CreateShareLinkInput!) {
  filestorageCreateShareLink(input: $i) { id url expiresAt hasPassword downloads maxDownloads }
}"""
REVOKE = "mutation($id: ID!) { filestorageRevokeShareLink(id: $id) { revokedAt url } }"


async def share(drive, file_id, **options):
    data = await drive.ok(CREATE, {"i": {"fileId": file_id, **options}})
    link: dict = data["filestorageCreateShareLink"]
    return link


async def test_a_link_downloads_without_sign_in_and_counts(drive, blob_store, http):
    file = await drive.upload("flyer.pdf", b"%PDF flyer")
    link = await share(drive, file["id"])
    assert link["url"].startswith("/briks/filestorage/share/")
    for _ in range(2):
        response = await http.get(link["url"])
        assert response.status_code == 200
        assert response.content == b"%PDF flyer"
    response = await http.get(link["url"], headers={"Range": "bytes=5-"})
    assert (response.status_code, response.content) == (206, b"flyer")
    data = await drive.ok(
        "query($id: ID!) { filestorage { file(id: $id) { shareLinks { downloads url } } } }",
        {"id": file["id"]},
    )
    # Counted; the url is shown only once, when the link is made.
    assert data["filestorage"]["file"]["shareLinks"] == [{"downloads": 3, "url": None}]
    # A link serves the file's current content.
    await drive.upload("flyer.pdf", b"%PDF flyer v2")
    assert (await http.get(link["url"])).content == b"%PDF flyer v2"
    assert (await http.get(link["url"] + "x")).status_code == 404


async def test_a_link_after_expiry_or_revocation_is_refused(drive, http, clock, local_store):
    file = await drive.upload("a.txt", b"a")
    expiring = await share(
        drive, file["id"], expiresAt=(clock.now() + timedelta(hours=1)).isoformat()
    )
    revoked = await share(drive, file["id"])
    assert (await http.get(expiring["url"])).status_code == 200
    await drive.ok(REVOKE, {"id": revoked["id"]})
    assert (await http.get(revoked["url"])).status_code == 410
    clock.advance(clock.now() + timedelta(hours=1))
    assert (await http.get(expiring["url"])).status_code == 410
    error = await drive.error(
        CREATE, {"i": {"fileId": file["id"], "expiresAt": clock.now().isoformat()}}
    )
    assert error["extensions"]["field"] == "expiresAt"


async def test_a_password_is_checked_on_every_access(drive, http, local_store):
    file = await drive.upload("a.txt", b"secret")
    link = await share(drive, file["id"], password="open sesame")
    assert link["hasPassword"] is True
    assert (await http.get(link["url"])).status_code == 401
    assert (await http.get(link["url"], headers={"X-Share-Password": "wrong"})).status_code == 401
    response = await http.get(link["url"], headers={"X-Share-Password": "open sesame"})
    assert response.content == b"secret"
    response = await http.post(link["url"], data={"password": "open sesame"})
    assert response.content == b"secret"


async def test_a_download_limit_is_never_passed(drive, http, local_store):
    import asyncio

    file = await drive.upload("a.txt", b"a")
    link = await share(drive, file["id"], maxDownloads=2)
    statuses = await asyncio.gather(*[http.get(link["url"]) for _ in range(5)])
    assert sorted(r.status_code for r in statuses) == [200, 200, 410, 410, 410]


async def test_a_link_never_grants_more_than_its_creator_has(
    drive, team, team_factory, make_drive, http, local_store
):
    member = await team_factory.invite(team, ["filestorage"])
    colleague = make_drive(member.token)
    file = await colleague.upload("a.txt", b"a")
    link = await share(colleague, file["id"])
    assert (await http.get(link["url"])).status_code == 200
    await drive.ok("mutation($u: ID!) { endAccessNow(userId: $u) { removalOn } }", {"u": member.id})
    assert (await http.get(link["url"])).status_code == 403
    # A file in the trash is not served either.
    own = await drive.upload("b.txt", b"b")
    own_link = await share(drive, own["id"])
    await drive.ok("mutation($id: ID!) { filestorageDelete(id: $id) }", {"id": own["id"]})
    assert (await http.get(own_link["url"])).status_code == 404
