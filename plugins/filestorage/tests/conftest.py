"""Fixtures of the File storage Brik's tests: a drive client over GraphQL and HTTP, and the
blob store the app uses (a fresh local directory, or an S3 bucket on moto)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from softbrik.testing import GraphQLClient, GraphQLError, blob_store_for

UPLOAD = """
mutation($file: Upload!, $folderId: ID, $name: String) {
  filestorageUpload(file: $file, folderId: $folderId, name: $name) {
    id name size sha256 version contentType downloadUrl
  }
}
"""
CHUNK = """
mutation($id: ID!, $index: Int!, $chunk: Upload!) {
  filestorageUploadChunk(uploadId: $id, index: $index, chunk: $chunk) { id receivedChunks status }
}
"""


@dataclass
class Drive:
    """One member's view of the team's drive, through the public API only."""

    gql: GraphQLClient
    http: httpx.AsyncClient
    token: str

    async def ok(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.gql.ok(query, variables, token=self.token)

    async def error(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.gql.error(query, variables, token=self.token)

    async def multipart(
        self, query: str, variables: dict[str, Any], field: str, data: bytes, filename: str
    ) -> dict[str, Any]:
        return await self.gql.multipart(query, variables, {field: (filename, data)}, self.token)

    async def upload(
        self, name: str, data: bytes, folder_id: str | None = None, as_name: str | None = None
    ) -> dict[str, Any]:
        body = await self.multipart(
            UPLOAD, {"folderId": folder_id, "name": as_name}, "file", data, name
        )
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        file: dict[str, Any] = body["data"]["filestorageUpload"]
        return file

    async def upload_error(
        self, name: str, data: bytes, folder_id: str | None = None
    ) -> dict[str, Any]:
        body = await self.multipart(
            UPLOAD, {"folderId": folder_id, "name": None}, "file", data, name
        )
        assert body.get("errors"), body
        first: dict[str, Any] = body["errors"][0]
        return first

    async def start(
        self, name: str, size: int, folder_id: str | None = None, sha256: str | None = None
    ) -> dict[str, Any]:
        data = await self.ok(
            """mutation($input: StartUploadInput!) {
              filestorageStartUpload(input: $input) { id chunkSize chunkCount receivedChunks status }
            }""",
            {"input": {"name": name, "size": size, "folderId": folder_id, "sha256": sha256}},
        )
        started: dict[str, Any] = data["filestorageStartUpload"]
        return started

    async def chunk(self, upload_id: str, index: int, data: bytes) -> dict[str, Any]:
        return await self.multipart(CHUNK, {"id": upload_id, "index": index}, "chunk", data, "blob")

    async def complete(self, upload_id: str) -> dict[str, Any]:
        return await self.gql.execute(
            "mutation($id: ID!) { filestorageCompleteUpload(uploadId: $id) { id name size sha256 version } }",
            {"id": upload_id},
            token=self.token,
        )

    async def usage(self) -> dict[str, Any]:
        data = await self.ok(
            "{ filestorage { usage { usedBytes reservedBytes quotaBytes availableBytes } } }"
        )
        return {k: int(v) for k, v in data["filestorage"]["usage"].items()}

    async def mkdir(self, name: str, parent_id: str | None = None) -> str:
        data = await self.ok(
            "mutation($input: CreateFolderInput!) { filestorageCreateFolder(input: $input) { id name } }",
            {"input": {"name": name, "parentId": parent_id}},
        )
        folder_id: str = data["filestorageCreateFolder"]["id"]
        return folder_id

    async def my_files(self) -> str:
        """The id of this member's own files (a folder only they and their sharees see)."""
        data = await self.ok("{ filestorage { myFiles { id } } }")
        home: str = data["filestorage"]["myFiles"]["id"]
        return home

    async def share(self, item_id: str, user_id: str, access: str = "READ") -> str:
        data = await self.ok(
            "mutation($i: ShareInput!) { filestorageShare(input: $i) { id access } }",
            {"i": {"id": item_id, "userId": user_id, "access": access}},
        )
        share_id: str = data["filestorageShare"]["id"]
        return share_id

    async def names(self, folder_id: str | None = None) -> list[str]:
        data = await self.ok(
            "query($f: ID) { filestorage { folders(folderId: $f) { name } files(folderId: $f) { name } } }",
            {"f": folder_id},
        )
        fs = data["filestorage"]
        return [f["name"] + "/" for f in fs["folders"]] + [f["name"] for f in fs["files"]]

    async def download(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(url, headers=headers or {})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "s3"])
def blob_store(request: pytest.FixtureRequest, softbrik_app: Any, tmp_path: Any) -> Iterator[Any]:
    """The app's blob store for this test: a fresh directory, or a fresh bucket on moto."""
    rt = softbrik_app.state.rt
    aws = request.getfixturevalue("aws") if request.param == "s3" else None
    store = blob_store_for(request.param, tmp_path / "blobs", aws)
    previous, rt.blobs = rt.blobs, store
    try:
        yield store
    finally:
        rt.blobs = previous


@pytest.fixture
def local_store(softbrik_app: Any, tmp_path: Any) -> Iterator[Any]:
    rt = softbrik_app.state.rt
    store = blob_store_for("local", tmp_path / "blobs")
    previous, rt.blobs = rt.blobs, store
    try:
        yield store
    finally:
        rt.blobs = previous


@pytest.fixture
def config() -> Iterator[Any]:
    """The Brik's settings, restored after the test."""
    from softbrik_filestorage.config import CONFIG

    saved = CONFIG.model_dump()
    try:
        yield CONFIG
    finally:
        for key, value in saved.items():
            setattr(CONFIG, key, value)


@pytest.fixture
async def team(team_factory: Any) -> Any:
    return await team_factory.sign_up(["filestorage"])


@pytest.fixture
def drive(gql: GraphQLClient, http: httpx.AsyncClient, team: Any) -> Drive:
    return Drive(gql, http, team.admin.token)


@pytest.fixture
def make_drive(gql: GraphQLClient, http: httpx.AsyncClient) -> Any:
    return lambda token: Drive(gql, http, token)
