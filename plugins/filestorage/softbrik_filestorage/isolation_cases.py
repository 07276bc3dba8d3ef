"""Tenant isolation cases of the File storage Brik's ID-taking fields (R-ACC-4).

A pytest plugin (entry point `pytest11` in this distribution), collected by the isolation matrix
of `softbrik.testing`: each field is called by another team with the victim team's id and must
answer exactly as for an id that does not exist.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from softbrik.testing import IsolationCase, IsolationWorld

UPLOAD = """
mutation($file: Upload!, $folderId: ID) {
  filestorageUpload(file: $file, folderId: $folderId) { id }
}
"""
CHECK = """
{ filestorage {
  folders { id name trashedAt }
  files { id name size version lockedBy trashedAt shareLinks { id revokedAt } }
  trash { files { id } folders { id } }
  usage { usedBytes }
  myFiles { folders { id name shares { id access } } files { id name } }
} }
"""
MY_FILES = "{ filestorage { myFiles { id } } }"
NODE = "query($id: ID!) { node(id: $id) { id __typename ... on File { name } } }"
PRIVATE_FOLDER = """
mutation($i: CreateFolderInput!) { filestorageCreateFolder(input: $i) { id } }
"""


async def _folder(world: IsolationWorld) -> str:
    data = await world.as_victim(
        "mutation($i: CreateFolderInput!) { filestorageCreateFolder(input: $i) { id } }",
        {"i": {"name": f"folder {world.canary}"}},
    )
    return str(data["filestorageCreateFolder"]["id"])


async def _private_folder(world: IsolationWorld) -> str:
    """A folder in the victim admin's own files."""
    home = (await world.as_victim(MY_FILES))["filestorage"]["myFiles"]["id"]
    data = await world.as_victim(
        PRIVATE_FOLDER, {"i": {"name": f"private {world.canary}", "parentId": home}}
    )
    return str(data["filestorageCreateFolder"]["id"])


async def _share(world: IsolationWorld) -> str:
    """The victim admin's folder shared with the victim's member."""
    data = await world.as_victim(
        "mutation($i: ShareInput!) { filestorageShare(input: $i) { id } }",
        {
            "i": {
                "id": await _private_folder(world),
                "userId": world.victim_member.id,
                "access": "READ",
            }
        },
    )
    return str(data["filestorageShare"]["id"])


async def _attackers_private_folder(world: IsolationWorld) -> dict[str, Any]:
    token = world.attacker.admin.token
    home = (await world.gql.ok(MY_FILES, token=token))["filestorage"]["myFiles"]["id"]
    data = await world.gql.ok(
        PRIVATE_FOLDER,
        {"i": {"name": f"attacker {secrets.token_hex(4)}", "parentId": home}},
        token=token,
    )
    return {"folder": data["filestorageCreateFolder"]["id"]}


async def _victims_member(world: IsolationWorld) -> dict[str, Any]:
    return {"user": world.victim_member.id}


async def _upload_file(world: IsolationWorld, token: str, name: str) -> str:
    body = await world.multipart(
        UPLOAD, {"folderId": None}, {"file": f"{name} {world.canary}".encode()}, token
    )
    assert not body.get("errors"), body
    return str(body["data"]["filestorageUpload"]["id"])


async def _file(world: IsolationWorld) -> str:
    return await _upload_file(world, world.victim.admin.token, "victim")


async def _delete(world: IsolationWorld, id: str) -> str:
    await world.as_victim("mutation($id: ID!) { filestorageDelete(id: $id) }", {"id": id})
    return id


async def _trashed_file(world: IsolationWorld) -> str:
    return await _delete(world, await _file(world))


async def _trashed_folder(world: IsolationWorld) -> str:
    return await _delete(world, await _folder(world))


async def _upload(world: IsolationWorld) -> str:
    data = await world.as_victim(
        "mutation($i: StartUploadInput!) { filestorageStartUpload(input: $i) { id } }",
        {"i": {"name": f"upload {world.canary}", "size": 3}},
    )
    return str(data["filestorageStartUpload"]["id"])


async def _version(world: IsolationWorld) -> str:
    file_id = await _file(world)
    data = await world.as_victim(
        "query($id: ID!) { filestorage { file(id: $id) { versions { id } } } }", {"id": file_id}
    )
    return str(data["filestorage"]["file"]["versions"][0]["id"])


async def _share_link(world: IsolationWorld) -> str:
    data = await world.as_victim(
        "mutation($id: ID!) { filestorageCreateShareLink(input: {fileId: $id}) { id } }",
        {"id": await _file(world)},
    )
    return str(data["filestorageCreateShareLink"]["id"])


async def _victim_user(world: IsolationWorld) -> str:
    return world.victim_member.id


async def _attackers_file(world: IsolationWorld) -> dict[str, Any]:
    return {"file": await _upload_file(world, world.attacker.admin.token, "attacker")}


def _case(field: str, document: str, make_id: Any, **options: Any) -> IsolationCase:
    return IsolationCase(field, document, make_id, check=CHECK, **options)


def cases() -> list[IsolationCase]:
    query = "query($id: ID!) { filestorage { %s } }"
    mutation = "mutation($id: ID!) { %s }"
    return [
        _case(
            "CreateFolderInput.parentId",
            mutation % 'filestorageCreateFolder(input: {name: "x", parentId: $id}) { id }',
            _folder,
        ),
        _case(
            "StartUploadInput.folderId",
            mutation % 'filestorageStartUpload(input: {name: "x", size: 3, folderId: $id}) { id }',
            _folder,
        ),
        _case(
            "CreateShareLinkInput.fileId",
            mutation % "filestorageCreateShareLink(input: {fileId: $id}) { id url }",
            _file,
        ),
        _case("FilestorageQuery.file(id)", query % "file(id: $id) { id name }", _file),
        _case("Query.node(id)@File", NODE, _file),
        _case("Query.node(id)@Folder", NODE, _folder),
        _case("Query.node(id)@Folder", NODE, _private_folder),
        _case("FilestorageQuery.folder(id)", query % "folder(id: $id) { id name }", _folder),
        _case(
            "FilestorageQuery.files(folderId)", query % "files(folderId: $id) { id name }", _folder
        ),
        _case(
            "FilestorageQuery.folders(folderId)",
            query % "folders(folderId: $id) { id name }",
            _folder,
        ),
        _case("FilestorageQuery.upload(id)", query % "upload(id: $id) { id name }", _upload),
        _case(
            "Mutation.filestorageAbortUpload(uploadId)",
            mutation % "filestorageAbortUpload(uploadId: $id) { id }",
            _upload,
        ),
        _case(
            "Mutation.filestorageCompleteUpload(uploadId)",
            mutation % "filestorageCompleteUpload(uploadId: $id) { id }",
            _upload,
        ),
        _case(
            "Mutation.filestorageUploadChunk(uploadId)",
            "mutation($id: ID!, $chunk: Upload!) "
            "{ filestorageUploadChunk(uploadId: $id, index: 0, chunk: $chunk) { id } }",
            _upload,
            files={"chunk": b"abc"},
        ),
        _case(
            "Mutation.filestorageUpload(folderId)",
            "mutation($id: ID!, $file: Upload!) "
            "{ filestorageUpload(file: $file, folderId: $id) { id } }",
            _folder,
            files={"file": b"planted"},
        ),
        _case("Mutation.filestorageCopy(id)", mutation % "filestorageCopy(id: $id) { id }", _file),
        _case(
            "Mutation.filestorageCopyFolder(id)",
            mutation % "filestorageCopyFolder(id: $id) { id }",
            _folder,
        ),
        _case(
            "Mutation.filestorageCopyFolder(id)",
            mutation % "filestorageCopyFolder(id: $id) { id }",
            _private_folder,
        ),
        _case(
            "Mutation.filestorageCopyFolder(folderId)",
            "mutation($id: ID!, $folder: ID!) "
            "{ filestorageCopyFolder(id: $folder, folderId: $id) { id } }",
            _folder,
            variables=_attackers_private_folder,
        ),
        _case(
            "ShareInput.id",
            "mutation($id: ID!, $user: ID!) "
            "{ filestorageShare(input: {id: $id, userId: $user, access: WRITE}) { id } }",
            _private_folder,
            variables=_victims_member,
        ),
        _case(
            "ShareInput.userId",
            "mutation($id: ID!, $folder: ID!) "
            "{ filestorageShare(input: {id: $folder, userId: $id, access: READ}) { id } }",
            _victim_user,
            variables=_attackers_private_folder,
        ),
        _case("Mutation.filestorageUnshare(id)", mutation % "filestorageUnshare(id: $id)", _share),
        _case(
            "Mutation.filestorageCopy(folderId)",
            "mutation($id: ID!, $file: ID!) { filestorageCopy(id: $file, folderId: $id) { id } }",
            _folder,
            variables=_attackers_file,
        ),
        _case(
            "Mutation.filestorageMove(id)",
            mutation % "filestorageMove(id: $id) { __typename }",
            _file,
        ),
        _case(
            "Mutation.filestorageMove(folderId)",
            "mutation($id: ID!, $file: ID!) "
            "{ filestorageMove(id: $file, folderId: $id) { __typename } }",
            _folder,
            variables=_attackers_file,
        ),
        _case(
            "Mutation.filestorageRename(id)",
            mutation % 'filestorageRename(id: $id, name: "stolen") { __typename }',
            _file,
        ),
        _case("Mutation.filestorageDelete(id)", mutation % "filestorageDelete(id: $id)", _file),
        _case("Mutation.filestorageLock(id)", mutation % "filestorageLock(id: $id) { id }", _file),
        _case(
            "Mutation.filestorageUnlock(id)", mutation % "filestorageUnlock(id: $id) { id }", _file
        ),
        _case(
            "Mutation.filestorageRestore(id)",
            mutation % "filestorageRestore(id: $id) { id }",
            _trashed_file,
        ),
        _case(
            "Mutation.filestorageRestoreFolder(id)",
            mutation % "filestorageRestoreFolder(id: $id) { id }",
            _trashed_folder,
        ),
        _case(
            "Mutation.filestorageDeleteForever(id)",
            mutation % "filestorageDeleteForever(id: $id)",
            _trashed_file,
        ),
        _case(
            "Mutation.filestorageRestoreVersion(versionId)",
            mutation % "filestorageRestoreVersion(versionId: $id) { id }",
            _version,
        ),
        _case(
            "Mutation.filestorageRevokeShareLink(id)",
            mutation % "filestorageRevokeShareLink(id: $id) { id }",
            _share_link,
        ),
    ]


@pytest.hookimpl
def pytest_softbrik_isolation_cases(config: Any) -> list[IsolationCase]:
    return cases()
