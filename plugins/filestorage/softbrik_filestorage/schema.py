"""GraphQL of the File storage Brik: `filestorage { … }` and `filestorage*` mutations.

Resolvers stay thin: decode ids, call one service function, map rows to types.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload as UploadScalar
from strawberry.types import Info

from softbrik.plugin import BadUserInput, BrikContext, Node, NotFound, brik_context
from softbrik_filestorage import service
from softbrik_filestorage.models import FILE, FOLDER, READ, WRITE, Item, ShareLink
from softbrik_filestorage.models import Share as ShareRow
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


def column(attr: str, kind: Any, description: str | None = None) -> Any:
    """A field that shows one attribute of the type's row (sizes as Float: they pass 2^31)."""

    def resolve(root: Any) -> Any:
        value = getattr(root.row, attr)
        return float(value) if kind is float and value is not None else value

    return strawberry.field(resolver=resolve, graphql_type=kind, description=description)


def global_id(type_name: str) -> Any:
    """The Relay id of the type's row."""

    def resolve(root: Any, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, type_name, root.row.id)

    return strawberry.field(resolver=resolve, graphql_type=strawberry.ID)


def user_ref(attr: str, description: str | None = None) -> Any:
    """The id of the User whose id is in the row's `attr` (null when there is none)."""

    def resolve(root: Any, info: Info[Any, Any]) -> strawberry.ID | None:
        user_id = getattr(root.row, attr)
        return None if user_id is None else encode(info, "User", user_id)

    return strawberry.field(
        resolver=resolve, graphql_type=strawberry.ID | None, description=description
    )


@strawberry.type
class StorageUsage:
    used_bytes: float = strawberry.field(description="Bytes of every version, trash included.")
    reserved_bytes: float = strawberry.field(description="Bytes held by uploads in progress.")
    quota_bytes: float
    available_bytes: float


@strawberry.type
class FileVersion:
    row: strawberry.Private[VersionRow]
    id = global_id("FileVersion")
    number = column("number", int)
    size = column("size", float)
    sha256 = column("sha256", str)
    created_at = column("created_at", datetime)
    created_by = user_ref("created_by_id")

    @strawberry.field(description="A short-lived signed link that streams this version.")
    def download_url(self, info: Info[Any, Any]) -> str:
        ctx = brik_context(info)
        return service.download_url(ctx.platform, ctx.team_id, ctx.user_id, self.row)


@strawberry.type(name="ShareLink")
class ShareLinkOut:
    row: strawberry.Private[ShareLink]
    token: strawberry.Private[str | None] = None
    id = global_id("ShareLink")
    expires_at = column("expires_at", datetime | None)
    downloads = column("downloads", int)
    max_downloads = column("max_downloads", int | None)
    revoked_at = column("revoked_at", datetime | None)

    @strawberry.field(description="The public link; shown only when it is created.")
    def url(self) -> str | None:
        return service.share_url(self.token) if self.token else None

    @strawberry.field
    def has_password(self) -> bool:
        return self.row.password_hash is not None


def item_id(info: Info[Any, Any], row: Item) -> strawberry.ID:
    return encode(info, "File" if row.kind == FILE else "Folder", row.id)


def _item_id(root: Any, info: Info[Any, Any]) -> strawberry.ID:
    return item_id(info, root.row)


@strawberry.enum
class ShareAccess(Enum):
    READ = READ
    WRITE = WRITE


@strawberry.type(name="Share")
class ShareOut:
    """A member's access to another member's file or folder (a folder: all it holds)."""

    row: strawberry.Private[ShareRow]
    item_row: strawberry.Private[Item | None] = None
    id = global_id("Share")
    user = user_ref("user_id", "Who may read or write.")
    owner = user_ref("created_by_id", "Whose own files the item is in.")
    created_at = column("created_at", datetime)

    @strawberry.field
    def access(self) -> ShareAccess:
        return ShareAccess(self.row.access)

    @strawberry.field(description="What is shared (when listed in `sharedWithMe`).")
    def item(self) -> FileOrFolder | None:
        return None if self.item_row is None else file_or_folder(self.item_row)


@strawberry.type
class ItemFields(Node):
    """What files and folders both show."""

    row: strawberry.Private[Item]
    name = column("name", str)
    created_at = column("created_at", datetime)
    created_by = user_ref("created_by_id")
    modified_at = column("modified_at", datetime)
    modified_by = user_ref("modified_by_id")
    trashed_at = column("trashed_at", datetime | None)
    owner = user_ref(
        "owner_id", "The member whose own files hold it; null in the team drive (everyone's)."
    )

    id: strawberry.ID = strawberry.field(resolver=_item_id)

    @strawberry.field(description="Who it is shared with (only its owner sees them).")
    async def shares(self, info: Info[Any, Any]) -> list[ShareOut]:
        return [ShareOut(row=row) for row in await service.shares_of(actor(info), self.row)]


@strawberry.type
class Folder(ItemFields):
    @strawberry.field(description="The folders from the top down to this one's parent.")
    async def path(self, info: Info[Any, Any]) -> list[Folder]:
        rows = await service.path_of(actor(info), self.row)
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
class File(ItemFields):
    size = column("size", float, "Bytes of the current version.")
    content_type = column("content_type", str)
    sha256 = column("sha256", str | None)
    version = column("version_count", int)

    @strawberry.field
    def folder_id(self, info: Info[Any, Any]) -> strawberry.ID | None:
        return encode(info, "Folder", self.row.parent_id) if self.row.parent_id else None

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
    id = global_id("FileUpload")
    name = column("name", str)
    size = column("size", float)
    chunk_size = column("chunk_size", int)
    expires_at = column("expires_at", datetime)

    @strawberry.field
    def chunk_count(self) -> int:
        return service.chunk_count(self.row)

    @strawberry.field(description="Indexes of the chunks stored so far (resume with the rest).")
    def received_chunks(self) -> list[int]:
        return self.received

    @strawberry.field(
        description="PUT each chunk's bytes to this link followed by its index "
        "(the fast way: streamed, no multipart)."
    )
    def chunk_url(self, info: Info[Any, Any]) -> str:
        return service.chunk_url(brik_context(info).platform, self.row)

    @strawberry.field(description="OPEN, ASSEMBLING, DONE or ABORTED.")
    def status(self) -> str:
        return self.row.status.upper()


FileOrFolder = Annotated[File | Folder, strawberry.union("FileOrFolder")]


def file_or_folder(row: Item) -> FileOrFolder:
    return File(row=row) if row.kind == FILE else Folder(row=row)


async def load_node(ctx: BrikContext, pk: int, kind: str) -> Item | None:
    """A live file or folder the member may read, for `node(id)`; None answers NOT_FOUND."""
    try:
        return await service.get_item(Actor(ctx.team_id, ctx.user_id, ctx.platform), pk, kind)
    except NotFound:
        return None


async def load_file(ctx: BrikContext, pk: int) -> File | None:
    row = await load_node(ctx, pk, FILE)
    return None if row is None else File(row=row)


async def load_folder(ctx: BrikContext, pk: int) -> Folder | None:
    row = await load_node(ctx, pk, FOLDER)
    return None if row is None else Folder(row=row)


NODES = {"File": load_file, "Folder": load_folder}


async def _listing(
    info: Info[Any, Any], folder_id: strawberry.ID | None, kind: str, first: int, offset: int
) -> list[Item]:
    """The files or folders of a folder the member may read, or of the top of the team drive."""
    folder = await service.get_folder(
        actor(info), decode_optional(info, folder_id, "Folder", "folderId")
    )
    team_id = brik_context(info).team_id
    return await service.list_items(team_id, folder.id if folder else None, kind, first, offset)


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
        return Folder(row=await service.get_item(actor(info), pk, FOLDER))

    @strawberry.field
    async def file(self, info: Info[Any, Any], id: strawberry.ID) -> File:
        pk = decode(info, id, "File", "id")
        return File(row=await service.get_item(actor(info), pk, FILE))

    @strawberry.field(
        description="Your own files: a folder only you see, and those you share it with."
    )
    async def my_files(self, info: Info[Any, Any]) -> Folder:
        return Folder(row=await service.home(actor(info)))

    @strawberry.field(description="What other members share with you, newest first, a page.")
    async def shared_with_me(
        self, info: Info[Any, Any], first: int = 100, offset: int = 0
    ) -> list[ShareOut]:
        found = await service.shared_with(actor(info), first, offset)
        return [ShareOut(row=row, item_row=item) for row, item in found]

    @strawberry.field(description="The top of the team drive, or a folder: its files, by name.")
    async def files(
        self,
        info: Info[Any, Any],
        folder_id: strawberry.ID | None = None,
        first: int = 100,
        offset: int = 0,
    ) -> list[File]:
        return [File(row=row) for row in await _listing(info, folder_id, FILE, first, offset)]

    @strawberry.field(description="The top of the team drive, or a folder: its folders, by name.")
    async def folders(
        self,
        info: Info[Any, Any],
        folder_id: strawberry.ID | None = None,
        first: int = 100,
        offset: int = 0,
    ) -> list[Folder]:
        rows = await _listing(info, folder_id, FOLDER, first, offset)
        return [Folder(row=row) for row in rows]

    @strawberry.field(description="Files you see whose name contains the text (by name).")
    async def search(self, info: Info[Any, Any], name: str, first: int = 50) -> list[File]:
        rows = await service.search(actor(info), name, first)
        return [File(row=row) for row in rows if row.kind == FILE]

    @strawberry.field(description="Deleted from the team drive and from your own files.")
    async def trash(self, info: Info[Any, Any], first: int = 100, offset: int = 0) -> Trash:
        return Trash(items=await service.trash(actor(info), first, offset))

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


@strawberry.input
class ShareInput:
    id: strawberry.ID = strawberry.field(description="A file or folder of your own files.")
    user_id: strawberry.ID
    access: ShareAccess


async def _copy(
    info: Info[Any, Any],
    id: strawberry.ID,
    folder_id: strawberry.ID | None,
    name: str | None,
    kind: str,
) -> Item:
    pk = decode(info, id, "File" if kind == FILE else "Folder", "id")
    folder = decode_optional(info, folder_id, "Folder", "folderId")
    return await service.copy(actor(info), pk, folder, name, kind)


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

    @strawberry.mutation(
        description="Copy a file into a folder (no folderId: the top); no name: `a (2).txt` "
        "when the name is taken."
    )
    async def filestorage_copy(
        self,
        info: Info[Any, Any],
        id: strawberry.ID,
        folder_id: strawberry.ID | None = None,
        name: str | None = None,
    ) -> File:
        return File(row=await _copy(info, id, folder_id, name, FILE))

    @strawberry.mutation(description="Copy a folder with all it holds, all or nothing.")
    async def filestorage_copy_folder(
        self,
        info: Info[Any, Any],
        id: strawberry.ID,
        folder_id: strawberry.ID | None = None,
        name: str | None = None,
    ) -> Folder:
        return Folder(row=await _copy(info, id, folder_id, name, FOLDER))

    @strawberry.mutation(
        description="Let another member with a seat read, or write in, one of your own files "
        "or folders; again to change the access."
    )
    async def filestorage_share(self, info: Info[Any, Any], input: ShareInput) -> ShareOut:
        pk = decode_item(info, input.id)
        user_id = decode(info, input.user_id, "User", "userId")
        row = await service.share(actor(info), pk, user_id, input.access.value)
        return ShareOut(row=row)

    @strawberry.mutation(description="Revoke a share at once (its owner, or its sharee).")
    async def filestorage_unshare(self, info: Info[Any, Any], id: strawberry.ID) -> bool:
        await service.unshare(actor(info), decode(info, id, "Share", "id"))
        return True

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
