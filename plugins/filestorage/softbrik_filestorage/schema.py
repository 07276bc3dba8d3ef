"""GraphQL of the File storage Brik: `filestorage { … }` and `filestorage*` mutations.

Resolvers stay thin: decode ids, call one service function, map rows to types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload as UploadScalar
from strawberry.types import Info

from softbrik.plugin import BadUserInput, NotFound, brik_context
from softbrik_filestorage import service
from softbrik_filestorage.models import FILE, FOLDER, Item, ShareLink
from softbrik_filestorage.models import Upload as UploadRow
from softbrik_filestorage.models import Version as VersionRow
from softbrik_filestorage.service import Actor

MAX_SMALL_UPLOAD = 2**40


def actor(info: Info[Any, Any]) -> Actor:
    ctx = brik_context(info)
    return Actor(ctx.team_id, ctx.user_id, ctx.platform, ctx.is_admin)


def decode(info: Info[Any, Any], global_id: strawberry.ID, type_name: str, field: str) -> int:
    return brik_context(info).platform.decode_id(str(global_id), type_name, field)


def decode_optional(
    info: Info[Any, Any], global_id: strawberry.ID | None, type_name: str, field: str
) -> int | None:
    return None if global_id is None else decode(info, global_id, type_name, field)


def encode(info: Info[Any, Any], type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(brik_context(info).platform.encode_id(type_name, pk))


def decode_item(info: Info[Any, Any], global_id: strawberry.ID, field: str = "id") -> int:
    """A File or a Folder id (the two share one table)."""
    platform = brik_context(info).platform
    try:
        return platform.decode_id(str(global_id), "File", field)
    except NotFound:
        return platform.decode_id(str(global_id), "Folder", field)


@strawberry.type
class StorageUsage:
    used_bytes: float = strawberry.field(description="Bytes of every version, trash included.")
    reserved_bytes: float = strawberry.field(description="Bytes held by uploads in progress.")
    quota_bytes: float
    available_bytes: float


@strawberry.type
class FileVersion:
    row: strawberry.Private[VersionRow]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "FileVersion", self.row.id)

    @strawberry.field
    def number(self) -> int:
        return self.row.number

    @strawberry.field
    def size(self) -> float:
        return float(self.row.size)

    @strawberry.field
    def sha256(self) -> str:
        return self.row.sha256

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def created_by(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "User", self.row.created_by_id)

    @strawberry.field(description="A short-lived signed link that streams this version.")
    def download_url(self, info: Info[Any, Any]) -> str:
        ctx = brik_context(info)
        return service.download_url(ctx.platform, ctx.team_id, ctx.user_id, self.row)


@strawberry.type(name="ShareLink")
class ShareLinkOut:
    row: strawberry.Private[ShareLink]
    token: strawberry.Private[str | None] = None

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "ShareLink", self.row.id)

    @strawberry.field(description="The public link; shown only when it is created.")
    def url(self) -> str | None:
        return service.share_url(self.token) if self.token else None

    @strawberry.field
    def expires_at(self) -> datetime | None:
        return self.row.expires_at

    @strawberry.field
    def has_password(self) -> bool:
        return self.row.password_hash is not None

    @strawberry.field
    def downloads(self) -> int:
        return self.row.downloads

    @strawberry.field
    def max_downloads(self) -> int | None:
        return self.row.max_downloads

    @strawberry.field
    def revoked_at(self) -> datetime | None:
        return self.row.revoked_at


def item_id(info: Info[Any, Any], row: Item) -> strawberry.ID:
    return encode(info, "File" if row.kind == FILE else "Folder", row.id)


@strawberry.type
class Folder:
    row: strawberry.Private[Item]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return item_id(info, self.row)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def modified_at(self) -> datetime:
        return self.row.modified_at

    @strawberry.field
    def trashed_at(self) -> datetime | None:
        return self.row.trashed_at

    @strawberry.field(description="The folders from the top down to this one's parent.")
    async def path(self, info: Info[Any, Any]) -> list[Folder]:
        rows = await service.path_of(brik_context(info).team_id, self.row)
        return [Folder(row=row) for row in rows]

    @strawberry.field
    async def folders(
        self, info: Info[Any, Any], first: int = 100, offset: int = 0
    ) -> list[Folder]:
        rows = await service.list_items(
            brik_context(info).team_id, self.row.id, FOLDER, first, offset
        )
        return [Folder(row=row) for row in rows]

    @strawberry.field
    async def files(self, info: Info[Any, Any], first: int = 100, offset: int = 0) -> list[File]:
        rows = await service.list_items(
            brik_context(info).team_id, self.row.id, FILE, first, offset
        )
        return [File(row=row) for row in rows]


@strawberry.type
class File:
    row: strawberry.Private[Item]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return item_id(info, self.row)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="Bytes of the current version.")
    def size(self) -> float:
        return float(self.row.size)

    @strawberry.field
    def content_type(self) -> str:
        return self.row.content_type

    @strawberry.field
    def sha256(self) -> str | None:
        return self.row.sha256

    @strawberry.field
    def version(self) -> int:
        return self.row.version_count

    @strawberry.field
    def folder_id(self, info: Info[Any, Any]) -> strawberry.ID | None:
        return encode(info, "Folder", self.row.parent_id) if self.row.parent_id else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def created_by(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "User", self.row.created_by_id)

    @strawberry.field
    def modified_at(self) -> datetime:
        return self.row.modified_at

    @strawberry.field
    def modified_by(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "User", self.row.modified_by_id)

    @strawberry.field
    def trashed_at(self) -> datetime | None:
        return self.row.trashed_at

    @strawberry.field
    def locked_by(self, info: Info[Any, Any]) -> strawberry.ID | None:
        holder, _ = service.lock_holder(self.row, brik_context(info).now())
        return encode(info, "User", holder) if holder else None

    @strawberry.field
    def locked_until(self, info: Info[Any, Any]) -> datetime | None:
        return service.lock_holder(self.row, brik_context(info).now())[1]

    @strawberry.field(description="A short-lived signed link that streams the current version.")
    def download_url(self, info: Info[Any, Any]) -> str | None:
        if self.row.version_id is None or self.row.trashed_at is not None:
            return None
        ctx = brik_context(info)
        return service.download_url(ctx.platform, ctx.team_id, ctx.user_id, self.row.version_id)

    @strawberry.field(description="Newest first.")
    async def versions(self, info: Info[Any, Any]) -> list[FileVersion]:
        rows = await service.versions(brik_context(info).team_id, self.row)
        return [FileVersion(row=row) for row in rows]

    @strawberry.field
    async def share_links(self, info: Info[Any, Any]) -> list[ShareLinkOut]:
        rows = await service.share_links(brik_context(info).team_id, self.row)
        return [ShareLinkOut(row=row) for row in rows]


@strawberry.type
class FileUpload:
    row: strawberry.Private[UploadRow]
    received: strawberry.Private[list[int]]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "FileUpload", self.row.id)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def size(self) -> float:
        return float(self.row.size)

    @strawberry.field
    def chunk_size(self) -> int:
        return self.row.chunk_size

    @strawberry.field
    def chunk_count(self) -> int:
        return service.chunk_count(self.row)

    @strawberry.field(description="Indexes of the chunks stored so far (resume with the rest).")
    def received_chunks(self) -> list[int]:
        return self.received

    @strawberry.field(description="OPEN, ASSEMBLING, DONE or ABORTED.")
    def status(self) -> str:
        return self.row.status.upper()

    @strawberry.field
    def expires_at(self) -> datetime:
        return self.row.expires_at


FileOrFolder = Annotated[File | Folder, strawberry.union("FileOrFolder")]


def file_or_folder(row: Item) -> FileOrFolder:
    return File(row=row) if row.kind == FILE else Folder(row=row)


async def _upload_out(row: UploadRow) -> FileUpload:
    return FileUpload(row=row, received=await service.received_chunks(row))


@strawberry.type
class Trash:
    items: strawberry.Private[list[Item]]

    @strawberry.field
    def files(self) -> list[File]:
        return [File(row=row) for row in self.items if row.kind == FILE]

    @strawberry.field
    def folders(self) -> list[Folder]:
        return [Folder(row=row) for row in self.items if row.kind == FOLDER]


@strawberry.type
class FilestorageQuery:
    @strawberry.field
    async def usage(self, info: Info[Any, Any]) -> StorageUsage:
        figures = await service.usage(brik_context(info).team_id)
        return StorageUsage(
            used_bytes=float(figures.used_bytes),
            reserved_bytes=float(figures.reserved_bytes),
            quota_bytes=float(figures.quota_bytes),
            available_bytes=float(figures.available_bytes),
        )

    @strawberry.field
    async def folder(self, info: Info[Any, Any], id: strawberry.ID) -> Folder:
        pk = decode(info, id, "Folder", "id")
        return Folder(row=await service.get_item(brik_context(info).team_id, pk, FOLDER))

    @strawberry.field
    async def file(self, info: Info[Any, Any], id: strawberry.ID) -> File:
        pk = decode(info, id, "File", "id")
        return File(row=await service.get_item(brik_context(info).team_id, pk, FILE))

    @strawberry.field(description="The top of the drive, or a folder: its files, by name.")
    async def files(
        self,
        info: Info[Any, Any],
        folder_id: strawberry.ID | None = None,
        first: int = 100,
        offset: int = 0,
    ) -> list[File]:
        team_id = brik_context(info).team_id
        folder = await service.get_folder(
            team_id, decode_optional(info, folder_id, "Folder", "folderId")
        )
        rows = await service.list_items(team_id, folder.id if folder else None, FILE, first, offset)
        return [File(row=row) for row in rows]

    @strawberry.field(description="The top of the drive, or a folder: its folders, by name.")
    async def folders(
        self,
        info: Info[Any, Any],
        folder_id: strawberry.ID | None = None,
        first: int = 100,
        offset: int = 0,
    ) -> list[Folder]:
        team_id = brik_context(info).team_id
        folder = await service.get_folder(
            team_id, decode_optional(info, folder_id, "Folder", "folderId")
        )
        rows = await service.list_items(
            team_id, folder.id if folder else None, FOLDER, first, offset
        )
        return [Folder(row=row) for row in rows]

    @strawberry.field(description="Files whose name contains the text (live ones, by name).")
    async def search(self, info: Info[Any, Any], name: str, first: int = 50) -> list[File]:
        rows = await service.search(brik_context(info).team_id, name, first)
        return [File(row=row) for row in rows if row.kind == FILE]

    @strawberry.field
    async def trash(self, info: Info[Any, Any], first: int = 100, offset: int = 0) -> Trash:
        return Trash(items=await service.trash(brik_context(info).team_id, first, offset))

    @strawberry.field(description="One of your uploads in progress (to resume it).")
    async def upload(self, info: Info[Any, Any], id: strawberry.ID) -> FileUpload:
        row = await service.get_upload(actor(info), decode(info, id, "FileUpload", "id"), "id")
        return await _upload_out(row)


@strawberry.input
class CreateFolderInput:
    name: str
    parent_id: strawberry.ID | None = None


@strawberry.input
class StartUploadInput:
    name: str
    size: float
    folder_id: strawberry.ID | None = None
    sha256: str | None = strawberry.field(
        default=None, description="Hex SHA-256 of the whole file; checked at completion."
    )
    content_type: str | None = None


@strawberry.input
class CreateShareLinkInput:
    file_id: strawberry.ID
    expires_at: datetime | None = None
    password: str | None = None
    max_downloads: int | None = None


UPLOAD_READ = 1024 * 1024


async def _stream(upload: Any) -> Any:
    # Starlette reads a spooled upload in a worker thread per call: read big pieces.
    while chunk := await upload.read(UPLOAD_READ):
        yield chunk


async def _size(upload: Any) -> int:
    size = getattr(upload, "size", None)
    if size is None:
        await upload.seek(0, 2)
        size = upload.file.tell()
        await upload.seek(0)
    return int(size)


def _whole(value: float, field: str) -> int:
    if value != int(value) or value < 0 or value > MAX_SMALL_UPLOAD:
        raise BadUserInput("A size is a whole number of bytes.", field=field)
    return int(value)


@strawberry.type
class FilestorageMutation:
    @strawberry.mutation
    async def filestorage_create_folder(
        self, info: Info[Any, Any], input: CreateFolderInput
    ) -> Folder:
        parent = decode_optional(info, input.parent_id, "Folder", "parentId")
        return Folder(row=await service.create_folder(actor(info), input.name, parent))

    @strawberry.mutation(description="A whole file (GraphQL multipart request spec).")
    async def filestorage_upload(
        self,
        info: Info[Any, Any],
        file: UploadScalar,
        folder_id: strawberry.ID | None = None,
        name: str | None = None,
    ) -> File:
        folder = decode_optional(info, folder_id, "Folder", "folderId")
        upload: Any = file
        row = await service.upload_file(
            actor(info),
            folder,
            name or upload.filename or "",
            upload.content_type,
            await _size(upload),
            _stream(upload),
        )
        return File(row=row)

    @strawberry.mutation(description="Open a resumable upload; its size is reserved at once.")
    async def filestorage_start_upload(
        self, info: Info[Any, Any], input: StartUploadInput
    ) -> FileUpload:
        folder = decode_optional(info, input.folder_id, "Folder", "folderId")
        row = await service.start_upload(
            actor(info),
            folder,
            input.name,
            _whole(input.size, "size"),
            input.sha256,
            input.content_type,
        )
        return await _upload_out(row)

    @strawberry.mutation(description="Send one chunk (any order; again to replace it).")
    async def filestorage_upload_chunk(
        self, info: Info[Any, Any], upload_id: strawberry.ID, index: int, chunk: UploadScalar
    ) -> FileUpload:
        pk = decode(info, upload_id, "FileUpload", "uploadId")
        row = await service.put_chunk(actor(info), pk, index, _stream(chunk))
        return await _upload_out(row)

    @strawberry.mutation(description="Assemble, check the size and SHA-256, and show the file.")
    async def filestorage_complete_upload(
        self, info: Info[Any, Any], upload_id: strawberry.ID
    ) -> File:
        pk = decode(info, upload_id, "FileUpload", "uploadId")
        return File(row=await service.complete_upload(actor(info), pk))

    @strawberry.mutation
    async def filestorage_abort_upload(
        self, info: Info[Any, Any], upload_id: strawberry.ID
    ) -> FileUpload:
        pk = decode(info, upload_id, "FileUpload", "uploadId")
        return await _upload_out(await service.abort_upload(actor(info), pk))

    @strawberry.mutation
    async def filestorage_rename(
        self, info: Info[Any, Any], id: strawberry.ID, name: str
    ) -> FileOrFolder:
        row = await service.rename(actor(info), decode_item(info, id), name)
        return file_or_folder(row)

    @strawberry.mutation(description="Move into a folder (no folderId: to the top).")
    async def filestorage_move(
        self, info: Info[Any, Any], id: strawberry.ID, folder_id: strawberry.ID | None = None
    ) -> FileOrFolder:
        folder = decode_optional(info, folder_id, "Folder", "folderId")
        row = await service.move(actor(info), decode_item(info, id), folder)
        return file_or_folder(row)

    @strawberry.mutation
    async def filestorage_copy(
        self,
        info: Info[Any, Any],
        id: strawberry.ID,
        folder_id: strawberry.ID | None = None,
        name: str | None = None,
    ) -> File:
        pk = decode(info, id, "File", "id")
        folder = decode_optional(info, folder_id, "Folder", "folderId")
        return File(row=await service.copy_file(actor(info), pk, folder, name))

    @strawberry.mutation(description="To the trash (a folder with everything in it).")
    async def filestorage_delete(self, info: Info[Any, Any], id: strawberry.ID) -> bool:
        await service.delete(actor(info), decode_item(info, id))
        return True

    @strawberry.mutation(description="Restore a file from the trash to its folder.")
    async def filestorage_restore(self, info: Info[Any, Any], id: strawberry.ID) -> File:
        pk = decode(info, id, "File", "id")
        return File(row=await service.restore(actor(info), pk, FILE))

    @strawberry.mutation(description="Restore a folder (and what was in it) from the trash.")
    async def filestorage_restore_folder(self, info: Info[Any, Any], id: strawberry.ID) -> Folder:
        pk = decode(info, id, "Folder", "id")
        return Folder(row=await service.restore(actor(info), pk, FOLDER))

    @strawberry.mutation(description="Delete from the trash for good; the space is freed.")
    async def filestorage_delete_forever(self, info: Info[Any, Any], id: strawberry.ID) -> bool:
        await service.delete_forever(actor(info), decode_item(info, id))
        return True

    @strawberry.mutation(description="Make an old version current again (as a new version).")
    async def filestorage_restore_version(
        self, info: Info[Any, Any], version_id: strawberry.ID
    ) -> File:
        pk = decode(info, version_id, "FileVersion", "versionId")
        return File(row=await service.restore_version(actor(info), pk))

    @strawberry.mutation(description="Lock a file against others' changes; it expires by itself.")
    async def filestorage_lock(
        self, info: Info[Any, Any], id: strawberry.ID, minutes: int | None = None
    ) -> File:
        return File(row=await service.lock(actor(info), decode(info, id, "File", "id"), minutes))

    @strawberry.mutation(description="Unlock your lock (an admin may break anyone's).")
    async def filestorage_unlock(self, info: Info[Any, Any], id: strawberry.ID) -> File:
        return File(row=await service.unlock(actor(info), decode(info, id, "File", "id")))

    @strawberry.mutation(description="A public read-only link to a file; the url is shown once.")
    async def filestorage_create_share_link(
        self, info: Info[Any, Any], input: CreateShareLinkInput
    ) -> ShareLinkOut:
        pk = decode(info, input.file_id, "File", "fileId")
        link, token = await service.create_share_link(
            actor(info), pk, input.expires_at, input.password, input.max_downloads
        )
        return ShareLinkOut(row=link, token=token)

    @strawberry.mutation(description="Revoke a share link; it stops working at once.")
    async def filestorage_revoke_share_link(
        self, info: Info[Any, Any], id: strawberry.ID
    ) -> ShareLinkOut:
        pk = decode(info, id, "ShareLink", "id")
        return ShareLinkOut(row=await service.revoke_share_link(actor(info), pk))
