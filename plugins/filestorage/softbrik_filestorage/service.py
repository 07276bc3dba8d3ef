"""The File storage Brik's domain: folders, files, versions, uploads, quota, trash, locks, links.

Services never import Strawberry; the schema calls one function per field. Every function takes
the team explicitly and every query filters by it, so another team's ids answer NOT_FOUND
exactly like missing ones.

Invariants:

- Nothing is visible before an upload completes: content goes to a sealed blob first, and one
  transaction then creates the file (or its new version) and counts the bytes.
- `Usage.charged_bytes` = bytes of every stored version + bytes reserved by open uploads, and
  never exceeds the quota: an upload reserves its whole size with one conditional UPDATE before
  the first byte is stored, and gives it back if it fails, is aborted or goes idle.
- The blob store never holds plaintext: `Platform.blobs` seals every blob under the team's key.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import secrets
import zipfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q, Subquery
from tortoise.transactions import in_transaction

from softbrik.plugin import BadUserInput, Conflict, Forbidden, NotFound, Platform
from softbrik_filestorage.config import CONFIG
from softbrik_filestorage.models import (
    FILE,
    FOLDER,
    READ,
    WRITE,
    Chunk,
    Item,
    Share,
    ShareLink,
    Upload,
    Usage,
    Version,
)

BRIK = "filestorage"
UPLOADED = "FILESTORAGE_FILE_UPLOADED"
DELETED = "FILESTORAGE_FILE_DELETED"
NEARLY_FULL = "FILESTORAGE_QUOTA_NEARLY_FULL"
EVENTS = (UPLOADED, DELETED, NEARLY_FULL)
DOWNLOAD_PURPOSE = "filestorage.download"
CHUNK_PURPOSE = "filestorage.chunk"
MAX_NAME = 255
MAX_DEPTH = 40
MAX_PAGE = 100
MAX_COPY = 10_000
HOME_NAME = "My files"
MAX_CHUNKS = 100_000
READ_SIZE = 64 * 1024
GENERIC_TYPE = "application/octet-stream"
RESERVED_NAMES = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Actor:
    """Who acts: a member of a team (from the request's `BrikContext`)."""

    team_id: int
    user_id: int
    platform: Platform
    is_admin: bool = False

    def now(self) -> datetime:
        return self.platform.now()


@dataclass(frozen=True)
class UsageFigures:
    used_bytes: int
    reserved_bytes: int
    quota_bytes: int

    @property
    def available_bytes(self) -> int:
        return max(self.quota_bytes - self.used_bytes - self.reserved_bytes, 0)


# --- names and lookups ---------------------------------------------------------------------


def check_name(name: str, field: str = "name") -> str:
    """A file or folder name that is the same on every system, or BAD_USER_INPUT."""
    name = name.strip()
    if not name:
        raise BadUserInput("A name cannot be empty.", field=field)
    if len(name) > MAX_NAME:
        raise BadUserInput(f"A name may have at most {MAX_NAME} characters.", field=field)
    if name in (".", "..") or "/" in name or "\\" in name or CONTROL.search(name):
        raise BadUserInput(
            "A name cannot be '.' or '..' nor contain '/', '\\' or control characters.",
            field=field,
        )
    if name.endswith("."):
        raise BadUserInput("A name cannot end with a dot.", field=field)
    if name.split(".", 1)[0].strip().lower() in RESERVED_NAMES:
        raise BadUserInput(f"{name!r} is a reserved name on some systems.", field=field)
    return name


async def access(actor: Actor, item: Item) -> str | None:
    """What the actor may do with a live item: WRITE, READ, or None when it does not exist for
    them. The team drive is every seated member's; a member's own files are theirs and, through
    a share on the item or a folder above it, the sharee's (checked on every access)."""
    if item.owner_id is None or item.owner_id == actor.user_id:
        return WRITE
    granted = set(
        await Share.filter(
            team_id=actor.team_id,
            user_id=actor.user_id,
            item_id__in=[item.id, *item.ancestor_ids],
        ).values_list("access", flat=True)
    )
    if not granted:
        return None
    return WRITE if WRITE in granted else READ


async def check_access(
    actor: Actor, item: Item, need: str, field: str = "id", what: str | None = None
) -> Item:
    """The item if the actor may `need` it; NOT_FOUND if they may not see it at all."""
    granted = await access(actor, item)
    if granted is None:
        raise NotFound(f"No {what or item.kind} has this id.", field=field)
    if need == WRITE and granted != WRITE:
        raise Forbidden(f"{item.name!r} is shared with you to read only.", field=field)
    return item


async def get_item(
    actor: Actor, item_id: int, kind: str | None, field: str = "id", need: str = READ
) -> Item:
    """A live item of the team the actor may `need`, or NOT_FOUND (another team's, another
    member's unshared, trashed or missing alike)."""
    query = Item.filter(id=item_id, team_id=actor.team_id, trashed_at__isnull=True)
    if kind:
        query = query.filter(kind=kind)
    item = await query.first()
    if item is None:
        raise NotFound(f"No {kind or 'item'} has this id.", field=field)
    return await check_access(actor, item, need, field)


async def get_folder(
    actor: Actor, folder_id: int | None, field: str = "folderId", need: str = READ
) -> Item | None:
    """The live folder, or None for the top of the team drive."""
    if folder_id is None:
        return None
    return await get_item(actor, folder_id, FOLDER, field, need)


async def home(actor: Actor) -> Item:
    """The actor's own files: a folder only they (and whom they share with) see."""
    return await home_of(actor.platform, actor.team_id, actor.user_id)


async def home_of(platform: Platform, team_id: int, user_id: int) -> Item:
    found = await Item.filter(team_id=team_id, parent_key=-user_id, kind=FOLDER).first()
    if found is not None:
        return found
    now = platform.now()
    try:
        async with in_transaction():
            return await Item.create(
                team_id=team_id,
                kind=FOLDER,
                name=HOME_NAME,
                live_name=HOME_NAME,
                parent_key=-user_id,
                owner_id=user_id,
                created_by_id=user_id,
                created_at=now,
                modified_by_id=user_id,
                modified_at=now,
            )
    except IntegrityError:
        return await Item.get(team_id=team_id, parent_key=-user_id, kind=FOLDER)


def _not_home(item: Item) -> Item:
    if item.is_home:
        raise BadUserInput(
            "Your own files' folder cannot be renamed, moved or deleted.", field="id"
        )
    return item


def _place(folder: Item | None) -> dict[str, Any]:
    """Where an item goes in a folder (None: the top of the team drive); it is whose the
    folder is."""
    if folder is None:
        return {"parent_id": None, "parent_key": 0, "ancestors": "/", "owner_id": None}
    if folder.ancestors.count("/") > MAX_DEPTH:
        raise BadUserInput(f"Folders nest at most {MAX_DEPTH} deep.", field="folderId")
    return {
        "parent_id": folder.id,
        "parent_key": folder.id,
        "ancestors": folder.subtree_prefix,
        "owner_id": folder.owner_id,
    }


def _check_lock(item: Item, actor: Actor) -> None:
    if (
        item.locked_by_id is not None
        and item.locked_by_id != actor.user_id
        and item.locked_until is not None
        and item.locked_until > actor.now()
    ):
        raise Conflict(
            f"{item.name!r} is locked by someone else until {item.locked_until.isoformat()}.",
            field="id",
            lockedUntil=item.locked_until.isoformat(),
        )


async def _name_taken(team_id: int, parent_key: int, name: str, exclude: int | None = None) -> bool:
    query = Item.filter(team_id=team_id, parent_key=parent_key, live_name=name)
    if exclude is not None:
        query = query.exclude(id=exclude)
    return await query.exists()


def _taken(name: str) -> Conflict:
    return Conflict(f"Something named {name!r} is already in this folder.", field="name")


# --- folders and items ---------------------------------------------------------------------


async def create_folder(actor: Actor, name: str, parent_id: int | None) -> Item:
    name = check_name(name)
    try:
        async with in_transaction():
            parent = await get_folder(actor, parent_id, "parentId", WRITE)
            if await _name_taken(actor.team_id, parent.id if parent else 0, name):
                raise _taken(name)
            return await _new_item(actor, FOLDER, name, _place(parent))
    except IntegrityError as exc:
        raise _taken(name) from exc


async def list_items(
    team_id: int, folder_id: int | None, kind: str, first: int = MAX_PAGE, offset: int = 0
) -> list[Item]:
    """A folder's live folders or files by name, one bounded query."""
    first = max(0, min(first, MAX_PAGE))
    return (
        await Item.filter(
            team_id=team_id, parent_key=folder_id or 0, kind=kind, trashed_at__isnull=True
        )
        .order_by("name", "id")
        .offset(max(offset, 0))
        .limit(first)
    )


async def visible(actor: Actor) -> Q:
    """The items the actor sees: the team drive, their own files, what is shared with them."""
    seen = Q(owner_id__isnull=True) | Q(owner_id=actor.user_id)
    shared = await Item.filter(
        team_id=actor.team_id,
        id__in=Subquery(
            Share.filter(team_id=actor.team_id, user_id=actor.user_id).values("item_id")
        ),
    ).values_list("id", "kind", "ancestors")
    for item_id, kind, ancestors in shared:
        seen |= Q(id=item_id)
        if kind == FOLDER:
            seen |= Q(ancestors__startswith=f"{ancestors}{item_id}/")
    return seen


async def search(actor: Actor, text: str, first: int = 50) -> list[Item]:
    text = text.strip()
    if not text:
        raise BadUserInput("Search for at least one character.", field="name")
    first = max(0, min(first, MAX_PAGE))
    return (
        await Item.filter(
            await visible(actor),
            team_id=actor.team_id,
            trashed_at__isnull=True,
            name__icontains=text,
        )
        .order_by("name", "id")
        .limit(first)
    )


async def path_of(actor: Actor, item: Item) -> list[Item]:
    """The folders from the top down to the item's folder that the actor sees (a sharee's
    path starts at what was shared)."""
    ids = item.ancestor_ids
    if not ids:
        return []
    if item.owner_id is not None and item.owner_id != actor.user_id:
        shared = set(
            await Share.filter(
                team_id=actor.team_id, user_id=actor.user_id, item_id__in=ids
            ).values_list("item_id", flat=True)
        )
        ids = ids[next((n for n, i in enumerate(ids) if i in shared), len(ids)) :]
    rows = {row.id: row for row in await Item.filter(team_id=actor.team_id, id__in=ids)}
    return [rows[i] for i in ids if i in rows]


async def _rewrite_subtree(item: Item, old_prefix: str) -> None:
    """Give the item's descendants the item's new ancestors (after a move or a restore)."""
    rows = await Item.filter(team_id=item.team_id, ancestors__startswith=old_prefix)
    if not rows:
        return
    new_prefix = item.subtree_prefix
    for row in rows:
        row.ancestors = new_prefix + row.ancestors[len(old_prefix) :]
    await Item.bulk_update(rows, fields=["ancestors"], batch_size=500)


def _check_target(item: Item, target: Item | None, verb: str) -> None:
    if target is not None and (
        target.id == item.id or target.ancestors.startswith(item.subtree_prefix)
    ):
        raise BadUserInput(f"A folder cannot {verb} into itself.", field="folderId")


async def rename(actor: Actor, item_id: int, name: str) -> Item:
    name = check_name(name)
    try:
        async with in_transaction():
            item = _not_home(await get_item(actor, item_id, None, need=WRITE))
            _check_lock(item, actor)
            if await _name_taken(actor.team_id, item.parent_key, name, exclude=item.id):
                raise _taken(name)
            item.name = item.live_name = name
            item.modified_at, item.modified_by_id = actor.now(), actor.user_id
            await item.save(update_fields=["name", "live_name", "modified_at", "modified_by_id"])
            return item
    except IntegrityError as exc:
        raise _taken(name) from exc


async def move(actor: Actor, item_id: int, folder_id: int | None) -> Item:
    try:
        async with in_transaction():
            item = _not_home(await get_item(actor, item_id, None, need=WRITE))
            _check_lock(item, actor)
            target = await get_folder(actor, folder_id, need=WRITE)
            _check_target(item, target, "move")
            if (target.owner_id if target else None) != item.owner_id:
                raise BadUserInput(
                    "A move stays in the team drive or in one member's own files; "
                    "copy to take something across.",
                    field="folderId",
                )
            if await _name_taken(actor.team_id, target.id if target else 0, item.name, item.id):
                raise _taken(item.name)
            old_prefix = item.subtree_prefix
            for key, value in _place(target).items():
                setattr(item, key, value)
            item.modified_at, item.modified_by_id = actor.now(), actor.user_id
            await item.save()
            if item.kind == FOLDER:
                await _rewrite_subtree(item, old_prefix)
            return item
    except IntegrityError as exc:
        raise _taken("this name") from exc


# --- quota ----------------------------------------------------------------------------------


async def _usage_row(team_id: int) -> Usage:
    row = await Usage.get_or_none(team_id=team_id)
    if row is not None:
        return row
    try:
        async with in_transaction():
            return await Usage.create(team_id=team_id)
    except IntegrityError:
        return await Usage.get(team_id=team_id)


async def usage(team_id: int) -> UsageFigures:
    row = await Usage.get_or_none(team_id=team_id)
    used = row.used_bytes if row else 0
    charged = row.charged_bytes if row else 0
    return UsageFigures(used, charged - used, CONFIG.quota_bytes)


async def _reserve(team_id: int, size: int, used: bool = False, field: str = "size") -> None:
    """Reserve `size` bytes, atomically against every parallel upload (call in a transaction);
    with `used`, count them as stored at once (a copy, whose bytes exist already)."""
    quota = CONFIG.quota_bytes
    reserved = await Usage.filter(team_id=team_id, charged_bytes__lte=quota - size).update(
        charged_bytes=F("charged_bytes") + size,
        **({"used_bytes": F("used_bytes") + size} if used else {}),
    )
    if not reserved:
        figures = await usage(team_id)
        raise Conflict(
            f"Not enough space: {size} bytes needed, {figures.available_bytes} available "
            f"of the team's {quota}.",
            field=field,
            reason="QUOTA_EXCEEDED",
            availableBytes=figures.available_bytes,
        )


async def _after_usage_change(platform: Platform, team_id: int, actor_id: int | None) -> None:
    """Tell once when usage passes the nearly-full mark; re-arm when it drops below."""
    row = await Usage.get(team_id=team_id)
    mark = CONFIG.quota_bytes * CONFIG.nearly_full_percent // 100
    if row.used_bytes >= mark and not row.nearly_full:
        await Usage.filter(id=row.id).update(nearly_full=True)
        await platform.emit(
            team_id,
            NEARLY_FULL,
            {"used_bytes": row.used_bytes, "quota_bytes": CONFIG.quota_bytes},
            actor_id,
        )
    elif row.used_bytes < mark and row.nearly_full:
        await Usage.filter(id=row.id).update(nearly_full=False)


# --- uploads --------------------------------------------------------------------------------


def _content_type(name: str, given: str | None) -> str:
    """The type the client gave, unless it is none or the generic one: then by the name."""
    given = (given or "").strip()
    if given and given != GENERIC_TYPE and len(given) <= 255:
        return given
    return mimetypes.guess_type(name)[0] or GENERIC_TYPE


async def start_upload(
    actor: Actor,
    folder_id: int | None,
    name: str,
    size: int,
    sha256: str | None = None,
    content_type: str | None = None,
    chunk_size: int | None = None,
) -> Upload:
    """Open an upload and reserve its size (R: parallel uploads never pass the quota)."""
    name = check_name(name)
    if size < 0:
        raise BadUserInput("The size cannot be negative.", field="size")
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if not SHA256.match(sha256):
            raise BadUserInput("The SHA-256 must be 64 hexadecimal digits.", field="sha256")
    chunk_size = chunk_size or CONFIG.chunk_bytes
    if chunk_size <= 0 or (size and -(-size // chunk_size) > MAX_CHUNKS):
        raise BadUserInput("The chunk size is out of range.", field="chunkSize")
    await _usage_row(actor.team_id)
    now = actor.now()
    async with in_transaction():
        folder = await get_folder(actor, folder_id, need=WRITE)
        existing = await Item.filter(
            team_id=actor.team_id, parent_key=folder.id if folder else 0, live_name=name
        ).first()
        if existing is not None:
            if existing.kind == FOLDER:
                raise _taken(name)
            _check_lock(existing, actor)
        await _reserve(actor.team_id, size)
        upload = await Upload.create(
            team_id=actor.team_id,
            token=secrets.token_hex(16),
            user_id=actor.user_id,
            folder_id=folder.id if folder else None,
            name=name,
            content_type=_content_type(name, content_type),
            size=size,
            sha256=sha256,
            chunk_size=chunk_size,
            reserved_bytes=size,
            created_at=now,
            expires_at=now + timedelta(hours=CONFIG.upload_idle_hours),
        )
    _hashers[upload.id] = (0, hashlib.sha256())
    while len(_hashers) > HASHERS_KEPT:
        _hashers.popitem(last=False)
    return upload


def chunk_count(upload: Upload) -> int:
    return max(1, -(-upload.size // upload.chunk_size))


def expected_chunk_size(upload: Upload, index: int) -> int:
    if index < chunk_count(upload) - 1:
        return upload.chunk_size
    return upload.size - upload.chunk_size * (chunk_count(upload) - 1)


async def get_upload(actor: Actor, upload_id: int, field: str = "uploadId") -> Upload:
    """The actor's own upload (someone else's answers NOT_FOUND)."""
    upload = await Upload.get_or_none(id=upload_id, team_id=actor.team_id, user_id=actor.user_id)
    if upload is None:
        raise NotFound("No upload has this id.", field=field)
    return upload


async def received_chunks(upload: Upload) -> list[int]:
    found: list[Any] = (
        await Chunk.filter(upload_id=upload.id).order_by("index").values_list("index", flat=True)
    )
    return [int(i) for i in found]


def _chunk_key(upload: Upload, index: int) -> str:
    """A new key for an attempt at a chunk: a chunk sent again never overwrites bytes that a
    completion may already have taken."""
    return f"{_parts_prefix(upload.token)}{index}-{secrets.token_hex(4)}"


def _parts_prefix(token: str) -> str:
    return f"u/{token}/"


HASHERS_KEPT = 1000
_hashers: OrderedDict[int, tuple[int, Any]] = OrderedDict()
"""Per open upload in this process: the next chunk index and the SHA-256 of the chunks before
it, fed while they are received in order, so completing needs no pass over the bytes. An upload
whose chunks come out of order, again, or to another process is hashed at completion instead."""


def _hasher_for(upload: Upload, index: int) -> Any | None:
    state = _hashers.get(upload.id)
    if state is None or state[0] != index:
        return None
    return state[1].copy()


def _hashed(upload: Upload, index: int, hasher: Any | None, replaced: bool) -> None:
    state = _hashers.get(upload.id)
    if replaced or (state is not None and state[0] > index):
        _hashers.pop(upload.id, None)
    elif hasher is not None and state is not None and state[0] == index:
        _hashers[upload.id] = (index + 1, hasher)


async def _limited(
    chunks: AsyncIterator[bytes], limit: int, hasher: Any | None = None
) -> AsyncIterator[bytes]:
    """Pass chunks through, refusing more than `limit` bytes (nothing is stored then)."""
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise BadUserInput(f"More bytes than announced ({limit}).", field="size")
        if hasher is not None:
            hasher.update(chunk)
        yield chunk


async def put_chunk(
    actor: Actor, upload_id: int, index: int, chunks: AsyncIterator[bytes]
) -> Upload:
    """Store one chunk (any order; sending an index again replaces it, so a resume is safe).

    Each attempt is sealed under a new key; one locked transaction then makes it the chunk's,
    unless the upload is no longer open (a completion has taken the chunks): then it is dropped.
    """
    upload = await get_upload(actor, upload_id)
    if upload.status != "open":
        raise Conflict(f"This upload is {upload.status}.", field="uploadId")
    if not 0 <= index < chunk_count(upload):
        raise BadUserInput(
            f"The chunk index must be from 0 to {chunk_count(upload) - 1}.", field="index"
        )
    expected = expected_chunk_size(upload, index)
    key = _chunk_key(upload, index)
    blobs = actor.platform.blobs(BRIK)
    hasher = _hasher_for(upload, index)
    written = await blobs.write(actor.team_id, key, _limited(chunks, expected, hasher))
    if written != expected:
        await blobs.delete(actor.team_id, key)
        raise BadUserInput(
            f"Chunk {index} must have {expected} bytes, not {written}.", field="chunk"
        )
    replaced: str | None = None
    existed = False
    async with in_transaction():
        current = await Upload.filter(id=upload.id).select_for_update().first()
        if current is not None and current.status == "open":
            row = await Chunk.filter(upload_id=upload.id, index=index).first()
            if row is None:
                await Chunk.create(
                    team_id=actor.team_id, upload_id=upload.id, index=index, size=written, key=key
                )
            else:
                existed, replaced = True, row.key or _legacy_key(upload.token, index)
                row.key, row.size = key, written
                await row.save(update_fields=["key", "size"])
            await Upload.filter(id=upload.id).update(
                expires_at=actor.now() + timedelta(hours=CONFIG.upload_idle_hours)
            )
    if current is None or current.status != "open":
        await blobs.delete(actor.team_id, key)
        raise Conflict(f"This upload is {current.status if current else 'gone'}.", field="uploadId")
    if replaced:
        await blobs.delete(actor.team_id, replaced)
    _hashed(upload, index, hasher, existed)
    return upload


def _legacy_key(token: str, index: int) -> str:
    """Where a chunk stored before chunks had a key per attempt is."""
    return f"{_parts_prefix(token)}{index}"


def chunk_url(platform: Platform, upload: Upload) -> str:
    """Where to PUT each chunk's bytes (append the index): a signed link for the upload's
    owner, valid while an upload may stay idle; no multipart, streamed straight into its blob."""
    token = platform.sign(
        CHUNK_PURPOSE,
        {"t": upload.team_id, "u": upload.user_id, "p": upload.id},
        timedelta(hours=CONFIG.upload_idle_hours),
    )
    return f"/briks/{BRIK}/upload/{token}/"


async def chunk_actor(platform: Platform, token: str) -> tuple[Actor, int]:
    """Who sends chunks through a chunk link, and to which upload (the seat checked each time)."""
    claims = platform.verify(CHUNK_PURPOSE, token)
    team_id, user_id, upload_id = int(claims["t"]), int(claims["u"]), int(claims["p"])
    if not await platform.has_seat(team_id, user_id, BRIK):
        raise Forbidden("You have no seat for the filestorage Brik.")
    return Actor(team_id, user_id, platform), upload_id


async def parts(upload_id: int) -> list[tuple[str, int]]:
    """The sealed chunks of a completed upload, in order: (key, size)."""
    found: list[Any] = (
        await Chunk.filter(upload_id=upload_id)
        .order_by("index")
        .values_list("key", "size", "index", "upload__token")
    )
    return [(key or _legacy_key(token, index), int(size)) for key, size, index, token in found]


async def read_content(
    platform: Platform,
    team_id: int,
    blob: str,
    upload_id: int | None,
    start: int = 0,
    end: int | None = None,
) -> AsyncIterator[bytes]:
    """The plaintext of a version, or of bytes [start, end) of it: one blob, or the upload's
    chunks one after another (decrypting only the segments that cover the range)."""
    blobs = platform.blobs(BRIK)
    if upload_id is None:
        whole = start == 0 and end is None
        pieces = blobs.read(team_id, blob) if whole else blobs.read(team_id, blob, start, end)
        async for piece in pieces:
            yield piece
        return
    offset = 0
    for key, size in await parts(upload_id):
        a, b = max(start - offset, 0), size if end is None else min(end - offset, size)
        offset += size
        if a >= b:
            continue
        pieces = blobs.read(team_id, key) if (a, b) == (0, size) else blobs.read(team_id, key, a, b)
        async for piece in pieces:
            yield piece


async def complete_upload(actor: Actor, upload_id: int) -> Item:
    """Check that every chunk is there, check the size and SHA-256, then show the file. The
    version is the chunks as they were stored: no byte is copied."""
    upload = await get_upload(actor, upload_id)
    blob = _parts_prefix(upload.token)
    claimed = await Upload.filter(id=upload.id, status="open").update(
        status="assembling",
        blob=blob,
        expires_at=actor.now() + timedelta(hours=CONFIG.upload_idle_hours),
    )
    if not claimed:
        raise Conflict(f"This upload is {upload.status}.", field="uploadId")
    upload.blob = blob
    have = set(await received_chunks(upload))
    missing = [i for i in range(chunk_count(upload)) if i not in have]
    if missing:
        await Upload.filter(id=upload.id, status="assembling").update(status="open", blob=None)
        raise BadUserInput(
            f"{len(missing)} chunks are missing.", field="uploadId", missingChunks=missing[:100]
        )
    state = _hashers.pop(upload.id, None)
    try:
        if state is not None and state[0] == chunk_count(upload):
            sha256 = state[1].hexdigest()
        else:
            hasher = hashlib.sha256()
            async for piece in read_content(actor.platform, actor.team_id, blob, upload.id):
                hasher.update(piece)
            sha256 = hasher.hexdigest()
        size = sum(size for _, size in await parts(upload.id))
    except BaseException:
        await _abort(actor.platform, upload)
        raise
    return await _finish(actor, upload, size, sha256)


async def upload_file(
    actor: Actor,
    folder_id: int | None,
    name: str,
    content_type: str | None,
    size: int,
    chunks: AsyncIterator[bytes],
) -> Item:
    """A whole file in one request (GraphQL multipart): reserve, store, then show it."""
    upload = await start_upload(actor, folder_id, name, size, None, content_type, max(size, 1))
    blob = f"v/{secrets.token_hex(16)}"
    await Upload.filter(id=upload.id).update(status="assembling", blob=blob)
    upload.blob, upload.status = blob, "assembling"
    hasher = hashlib.sha256()
    try:
        written = await actor.platform.blobs(BRIK).write(
            actor.team_id, blob, _limited(chunks, size, hasher)
        )
    except BaseException:
        await _abort(actor.platform, upload)
        raise
    return await _finish(actor, upload, written, hasher.hexdigest())


async def _finish(actor: Actor, upload: Upload, size: int, sha256: str) -> Item:
    """Check what was stored, then make it visible in one transaction (or undo everything)."""
    _hashers.pop(upload.id, None)
    if size != upload.size:
        await _abort(actor.platform, upload)
        raise BadUserInput(f"Received {size} bytes; {upload.size} were announced.", field="size")
    if upload.sha256 and sha256 != upload.sha256:
        await _abort(actor.platform, upload)
        raise BadUserInput(
            "The file's SHA-256 does not match the one announced; nothing was kept.",
            field="sha256",
        )
    try:
        item = await _commit(actor, upload, size, sha256)
    except IntegrityError:
        # Someone created the same name meanwhile: this upload becomes its new version.
        try:
            item = await _commit(actor, upload, size, sha256)
        except BaseException:
            await _abort(actor.platform, upload)
            raise
    except BaseException:
        await _abort(actor.platform, upload)
        raise
    return item


async def _commit(actor: Actor, upload: Upload, size: int, sha256: str) -> Item:
    team_id = actor.team_id
    async with in_transaction():
        current = await Upload.filter(id=upload.id).select_for_update().first()
        if current is None or current.status != "assembling":
            raise Conflict("This upload was aborted or has expired.", field="uploadId")
        folder = None
        if upload.folder_id is not None:
            folder = await Item.filter(
                id=upload.folder_id, team_id=team_id, trashed_at__isnull=True
            ).first()
            if folder is None:
                raise Conflict("The folder was deleted during the upload.", field="folderId")
            await check_access(actor, folder, WRITE, "folderId")
        item = (
            await Item.filter(
                team_id=team_id, parent_key=upload.folder_id or 0, live_name=upload.name
            )
            .select_for_update()
            .first()
        )
        if item is not None and item.kind == FOLDER:
            raise _taken(upload.name)
        if item is not None:
            _check_lock(item, actor)
        else:
            item = await _new_item(actor, FILE, upload.name, _place(folder))
        assert upload.blob is not None
        chunked = upload.blob == _parts_prefix(upload.token)
        content = Content(
            upload.blob, size, sha256, upload.content_type, upload.id if chunked else None
        )
        await _new_version(actor, item, content)
        await Upload.filter(id=upload.id).update(status="done", reserved_bytes=0)
        await Usage.filter(team_id=team_id).update(
            used_bytes=F("used_bytes") + size,
            charged_bytes=F("charged_bytes") + (size - current.reserved_bytes),
        )
        await _after_usage_change(actor.platform, team_id, actor.user_id)
    return item


@dataclass(frozen=True)
class Content:
    """What a version holds: a sealed blob (shared by copies) and its figures."""

    blob: str
    size: int
    sha256: str
    content_type: str
    upload_id: int | None = None
    """Set when the content is that upload's chunks (`blob` is then their prefix)."""


async def _new_item(actor: Actor, kind: str, name: str, place: dict[str, Any]) -> Item:
    now = actor.now()
    return await Item.create(
        team_id=actor.team_id,
        kind=kind,
        name=name,
        live_name=name,
        created_by_id=actor.user_id,
        created_at=now,
        modified_by_id=actor.user_id,
        modified_at=now,
        **place,
    )


async def _new_version(actor: Actor, item: Item, content: Content) -> Version:
    """Make `content` the file's current content as its next version, and tell it (call in a
    transaction that also counts the bytes)."""
    now = actor.now()
    item.version_count += 1
    version = await Version.create(
        team_id=actor.team_id,
        item_id=item.id,
        number=item.version_count,
        blob=content.blob,
        upload_id=content.upload_id,
        size=content.size,
        sha256=content.sha256,
        content_type=content.content_type,
        created_by_id=actor.user_id,
        created_at=now,
    )
    item.version_id = version.id
    item.size, item.sha256, item.content_type = content.size, content.sha256, content.content_type
    item.modified_at, item.modified_by_id = now, actor.user_id
    await item.save()
    await actor.platform.emit(
        actor.team_id,
        UPLOADED,
        {"file_id": item.id, **_told(item), "size": content.size, "version": version.number},
        actor.user_id,
    )
    return version


async def _abort(platform: Platform, upload: Upload) -> bool:
    """Give back the reservation and delete every byte of the upload. Idempotent."""
    async with in_transaction():
        current = await Upload.filter(id=upload.id).select_for_update().first()
        if current is None or current.status not in ("open", "assembling"):
            return False
        await Upload.filter(id=upload.id).update(status="aborted", reserved_bytes=0)
        await Usage.filter(team_id=upload.team_id).update(
            charged_bytes=F("charged_bytes") - current.reserved_bytes
        )
    _hashers.pop(upload.id, None)
    await _delete_parts(platform, upload.team_id, upload.token, upload.id)
    if current.blob and current.blob != _parts_prefix(upload.token):
        await platform.blobs(BRIK).delete(upload.team_id, current.blob)
    return True


async def _delete_parts(platform: Platform, team_id: int, token: str, upload_id: int) -> None:
    """Every sealed chunk of an upload (replaced attempts too) and its rows."""
    blobs = platform.blobs(BRIK)
    for key in await blobs.keys(team_id, _parts_prefix(token)):
        await blobs.delete(team_id, key)
    await Chunk.filter(upload_id=upload_id).delete()


async def abort_upload(actor: Actor, upload_id: int) -> Upload:
    upload = await get_upload(actor, upload_id)
    if not await _abort(actor.platform, upload):
        raise Conflict(f"This upload is {upload.status}.", field="uploadId")
    upload.status = "aborted"
    return upload


async def cleanup_uploads(platform: Platform) -> int:
    """Abort idle uploads (their bytes and reservations go back). Returns how many."""
    now = platform.now()
    idle = await Upload.filter(status__in=["open", "assembling"], expires_at__lt=now).limit(1000)
    count = 0
    for upload in idle:
        count += await _abort(platform, upload)
    return count


# --- versions -------------------------------------------------------------------------------


async def versions(team_id: int, item: Item) -> list[Version]:
    return await Version.filter(team_id=team_id, item_id=item.id).order_by("-number")


async def get_version(
    actor: Actor, version_id: int, field: str = "versionId", need: str = READ
) -> tuple[Version, Item]:
    """A version of a live file the actor may `need`, with its file; else NOT_FOUND."""
    version = await Version.get_or_none(id=version_id, team_id=actor.team_id)
    item = None
    if version is not None:
        item = await Item.get_or_none(
            id=version.item_id, team_id=actor.team_id, trashed_at__isnull=True
        )
    if version is None or item is None:
        raise NotFound("No version has this id.", field=field)
    await check_access(actor, item, need, field, "version")
    return version, item


def _content(version: Version) -> Content:
    return Content(
        version.blob, version.size, version.sha256, version.content_type, version.upload_id
    )


async def restore_version(actor: Actor, version_id: int) -> Item:
    """Make an old version current again, as a new version (history is never rewritten). The
    new version shares the old one's sealed blob and counts its bytes again."""
    await _usage_row(actor.team_id)
    async with in_transaction():
        version, item = await get_version(actor, version_id, need=WRITE)
        item = await Item.filter(id=item.id).select_for_update().get()
        _check_lock(item, actor)
        await _reserve(actor.team_id, version.size, used=True, field="versionId")
        await _new_version(actor, item, _content(version))
        await _after_usage_change(actor.platform, actor.team_id, actor.user_id)
    return item


async def copy(
    actor: Actor, item_id: int, folder_id: int | None, name: str | None, kind: str
) -> Item:
    """Copy a file, or a folder with all it holds (live items, current versions), in one
    transaction: the bytes of the whole copy are reserved with one conditional UPDATE, and
    either every item is created or none. Copies share the sealed blobs of the originals
    (a blob is deleted when the last version that refers to it goes), so a copy stores no
    bytes but counts them, as the team sees them. The copy is named `name`, or the
    original's name made free as a restore from the trash does (`a (2).txt`)."""
    if name is not None:
        name = check_name(name)
    await _usage_row(actor.team_id)
    async with in_transaction():
        source = await get_item(actor, item_id, kind)
        target = await get_folder(actor, folder_id, need=WRITE)
        _check_target(source, target, "be copied")
        query = Q(id=source.id)
        if source.kind == FOLDER:
            query |= Q(ancestors__startswith=source.subtree_prefix)
        # Locked until the copy commits: nothing it refers to can be trashed and purged.
        rows = await Item.filter(
            query, team_id=actor.team_id, trashed_at__isnull=True
        ).select_for_update()
        if len(rows) > MAX_COPY:
            raise BadUserInput(f"A copy takes at most {MAX_COPY} items at once.", field="id")
        rows.sort(key=lambda row: (row.ancestors.count("/"), row.id))
        wanted = [row.version_id for row in rows if row.version_id is not None]
        contents = {
            version.id: _content(version)
            for version in await Version.filter(team_id=actor.team_id, id__in=wanted)
        }
        await _reserve(actor.team_id, sum(c.size for c in contents.values()), used=True, field="id")
        place = _place(target)
        if name is None:
            name = await _free_name(actor.team_id, place["parent_key"], source.name)
        elif await _name_taken(actor.team_id, place["parent_key"], name):
            raise _taken(name)
        copies: dict[int, Item] = {}
        for row in rows:
            if row.id == source.id:
                copies[row.id] = await _new_item(actor, row.kind, name, place)
            else:
                parent = copies[row.parent_id or 0]
                copies[row.id] = await _new_item(actor, row.kind, row.name, _place(parent))
            if row.version_id is not None:
                await _new_version(actor, copies[row.id], contents[row.version_id])
        await _after_usage_change(actor.platform, actor.team_id, actor.user_id)
    return copies[source.id]


# --- locks ----------------------------------------------------------------------------------


async def lock(actor: Actor, file_id: int, minutes: int | None) -> Item:
    """Lock a file against others' changes for a while; it unlocks itself when time is up."""
    minutes = minutes or CONFIG.lock_minutes
    if not 1 <= minutes <= CONFIG.lock_minutes:
        raise BadUserInput(
            f"A lock lasts from 1 to {CONFIG.lock_minutes} minutes; renew it to keep it.",
            field="minutes",
        )
    async with in_transaction():
        item = await get_item(actor, file_id, FILE, need=WRITE)
        item = await Item.filter(id=item.id).select_for_update().get()
        _check_lock(item, actor)
        item.locked_by_id = actor.user_id
        item.locked_until = actor.now() + timedelta(minutes=minutes)
        await item.save(update_fields=["locked_by_id", "locked_until"])
    return item


async def unlock(actor: Actor, file_id: int) -> Item:
    """The holder unlocks; an admin may break anyone's lock."""
    async with in_transaction():
        item = await get_item(actor, file_id, FILE, need=WRITE)
        if not actor.is_admin:
            _check_lock(item, actor)
        item.locked_by_id = None
        item.locked_until = None
        await item.save(update_fields=["locked_by_id", "locked_until"])
    return item


def lock_holder(item: Item, now: datetime) -> tuple[int | None, datetime | None]:
    if item.locked_until is None or item.locked_until <= now:
        return None, None
    return item.locked_by_id, item.locked_until


# --- trash ----------------------------------------------------------------------------------


async def delete(actor: Actor, item_id: int) -> Item:
    """Move an item (a folder with everything in it) to the trash; its place is kept."""
    now = actor.now()
    async with in_transaction():
        item = _not_home(await get_item(actor, item_id, None, need=WRITE))
        _check_lock(item, actor)
        if item.kind == FOLDER:
            locked = (
                await Item.filter(
                    team_id=actor.team_id,
                    ancestors__startswith=item.subtree_prefix,
                    trashed_at__isnull=True,
                    locked_until__gt=now,
                )
                .exclude(locked_by_id=actor.user_id)
                .first()
            )
            if locked is not None:
                _check_lock(locked, actor)
            await Item.filter(
                team_id=actor.team_id,
                ancestors__startswith=item.subtree_prefix,
                trashed_at__isnull=True,
            ).update(trashed_at=now, trashed_by_id=actor.user_id, trash_root_id=item.id)
        item.trashed_at, item.trashed_by_id, item.trash_root_id = now, actor.user_id, item.id
        item.live_name = None
        await item.save(update_fields=["trashed_at", "trashed_by_id", "trash_root_id", "live_name"])
        await actor.platform.emit(
            actor.team_id,
            DELETED,
            {"item_id": item.id, "kind": item.kind, **_told(item), "trash": True},
            actor.user_id,
        )
    return item


def _told(item: Item) -> dict[str, Any]:
    """What an event says of an item. The team's events reach every Brik the team uses, also
    third parties': a member's own file is told as private, its name to no one."""
    if item.owner_id is not None:
        return {"private": True}
    return {"name": item.name, "private": False}


def _own(actor: Actor) -> Q:
    """The team drive and the actor's own files (where the trash and sharing are theirs)."""
    return Q(owner_id__isnull=True) | Q(owner_id=actor.user_id)


async def trash(actor: Actor, first: int = MAX_PAGE, offset: int = 0) -> list[Item]:
    """What was deleted (not what went along inside a deleted folder), newest first: from the
    team drive and from the actor's own files (also what a sharee deleted there)."""
    first = max(0, min(first, MAX_PAGE))
    return (
        await Item.filter(_own(actor), team_id=actor.team_id, trash_root_id=F("id"))
        .order_by("-trashed_at", "-id")
        .offset(max(offset, 0))
        .limit(first)
    )


async def _free_name(team_id: int, parent_key: int, name: str) -> str:
    """`name`, or `stem (2).ext`, `stem (3).ext`…: the first free one (deterministic)."""
    if not await _name_taken(team_id, parent_key, name):
        return name
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    taken = set(
        await Item.filter(
            team_id=team_id, parent_key=parent_key, live_name__startswith=f"{stem} ("
        ).values_list("live_name", flat=True)
    )
    n = 2
    while True:
        candidate = f"{stem} ({n}){dot}{ext}"
        if candidate not in taken:
            return candidate[:MAX_NAME]
        n += 1


async def restore(actor: Actor, item_id: int, kind: str | None = None) -> Item:
    """Restore from the trash to the original folder; to the top if that folder is gone or
    itself in the trash; renamed `name (2)` if the name was taken meanwhile."""
    async with in_transaction():
        query = Item.filter(_own(actor), id=item_id, team_id=actor.team_id, trash_root_id=item_id)
        if kind:
            query = query.filter(kind=kind)
        item = await query.select_for_update().first()
        if item is None:
            raise NotFound("Nothing in the trash has this id.", field="id")
        parent = None
        if item.parent_id is not None:
            parent = await Item.filter(
                id=item.parent_id, team_id=actor.team_id, trashed_at__isnull=True
            ).first()
        if parent is None and item.owner_id is not None:
            parent = await home_of(actor.platform, actor.team_id, item.owner_id)
        old_prefix = item.subtree_prefix
        place = _place(parent)
        name = await _free_name(actor.team_id, place["parent_key"], item.name)
        for key, value in place.items():
            setattr(item, key, value)
        item.name = item.live_name = name
        item.trashed_at = item.trashed_by_id = item.trash_root_id = None
        item.modified_at, item.modified_by_id = actor.now(), actor.user_id
        await item.save()
        if item.kind == FOLDER:
            await Item.filter(
                team_id=actor.team_id, ancestors__startswith=old_prefix, trash_root_id=item.id
            ).update(trashed_at=None, trashed_by_id=None, trash_root_id=None)
            if old_prefix != item.subtree_prefix:
                await _rewrite_subtree(item, old_prefix)
    return item


async def _purge(platform: Platform, team_id: int, roots: Sequence[Item]) -> int:
    """Delete items (with their subtrees, versions and links) for good; bytes are given back."""
    if not roots:
        return 0
    query = Q(id__in=[r.id for r in roots])
    for root in roots:
        if root.kind == FOLDER:
            query |= Q(ancestors__startswith=root.subtree_prefix)
    async with in_transaction():
        ids = list(await Item.filter(query, team_id=team_id).values_list("id", flat=True))
        gone = await Version.filter(team_id=team_id, item_id__in=ids).values_list(
            "blob", "size", "upload_id"
        )
        freed = sum(size for _, size, _ in gone)
        await ShareLink.filter(team_id=team_id, item_id__in=ids).delete()
        await Share.filter(team_id=team_id, item_id__in=ids).delete()
        await Version.filter(team_id=team_id, item_id__in=ids).delete()
        await Item.filter(team_id=team_id, id__in=ids).delete()
        await Usage.filter(team_id=team_id).update(
            used_bytes=F("used_bytes") - freed, charged_bytes=F("charged_bytes") - freed
        )
        await _after_usage_change(platform, team_id, None)
    # Copies share blobs: a blob goes with the last version that refers to it. A copy locks
    # its (live) originals, so none can refer to a blob of what is purged here meanwhile.
    keys = {blob: upload_id for blob, _, upload_id in gone}
    kept = set(
        await Version.filter(team_id=team_id, blob__in=list(keys)).values_list("blob", flat=True)
    )
    for blob in sorted(set(keys) - kept):
        upload_id = keys[blob]
        if upload_id is None:
            await platform.blobs(BRIK).delete(team_id, blob)
        else:
            await _delete_parts(platform, team_id, blob.split("/")[1], upload_id)
    return len(ids)


async def delete_forever(actor: Actor, item_id: int) -> int:
    item = await Item.filter(
        _own(actor), id=item_id, team_id=actor.team_id, trash_root_id=item_id
    ).first()
    if item is None:
        raise NotFound("Nothing in the trash has this id.", field="id")
    return await _purge(actor.platform, actor.team_id, [item])


async def purge_trash(platform: Platform) -> int:
    """Delete what has been in the trash longer than the retention (only that). How many."""
    cutoff = platform.now() - timedelta(days=CONFIG.trash_days)
    old = await Item.filter(trash_root_id=F("id"), trashed_at__lt=cutoff).limit(1000)
    by_team: dict[int, list[Item]] = {}
    for item in old:
        by_team.setdefault(item.team_id, []).append(item)
    return sum([await _purge(platform, team, items) for team, items in by_team.items()])


async def run_cleanup(platform: Platform) -> dict[str, int]:
    """The periodic work: idle uploads and old trash (server task and CLI command alike)."""
    return {
        "uploads_aborted": await cleanup_uploads(platform),
        "items_purged": await purge_trash(platform),
    }


# --- downloads and share links --------------------------------------------------------------


def download_url(platform: Platform, team_id: int, user_id: int, version: Version | int) -> str:
    """A short-lived signed link (path under the server) that streams the content."""
    version_id = version if isinstance(version, int) else version.id
    token = platform.sign(
        DOWNLOAD_PURPOSE,
        {"t": team_id, "u": user_id, "v": version_id},
        timedelta(minutes=CONFIG.link_minutes),
    )
    return f"/briks/{BRIK}/download/{token}"


@dataclass
class Download:
    """What a download route streams."""

    team_id: int
    blob: str
    name: str
    size: int
    sha256: str
    content_type: str
    upload_id: int | None = None
    user_id: int | None = None
    """Who downloads (a signed-in user's link; None for a share link)."""


def _download(team_id: int, item: Item, version: Version, user_id: int | None = None) -> Download:
    return Download(
        team_id,
        version.blob,
        item.name,
        version.size,
        version.sha256,
        version.content_type,
        version.upload_id,
        user_id,
    )


async def open_download(platform: Platform, token: str) -> Download:
    """The content a download link points to; Forbidden/NotFound when it may not be read."""
    claims = platform.verify(DOWNLOAD_PURPOSE, token)
    team_id, user_id, version_id = int(claims["t"]), int(claims["u"]), int(claims["v"])
    if not await platform.has_seat(team_id, user_id, BRIK):
        raise Forbidden("You have no seat for the filestorage Brik.")
    # Checked again on every use: a share revoked since the link was made closes it.
    version, item = await get_version(Actor(team_id, user_id, platform), version_id)
    return _download(team_id, item, version, user_id)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_share_link(
    actor: Actor,
    file_id: int,
    expires_at: datetime | None,
    password: str | None,
    max_downloads: int | None,
) -> tuple[ShareLink, str]:
    """A public read-only link to a file; returns the link and its token (shown once)."""
    item = await get_item(actor, file_id, FILE, "fileId")
    if expires_at is not None and expires_at <= actor.now():
        raise BadUserInput("The expiry must be in the future.", field="expiresAt")
    if password is not None and len(password) < 4:
        raise BadUserInput("A link password needs at least 4 characters.", field="password")
    if max_downloads is not None and max_downloads < 1:
        raise BadUserInput("Allow at least one download.", field="maxDownloads")
    token = secrets.token_urlsafe(24)
    link = await ShareLink.create(
        team_id=actor.team_id,
        item_id=item.id,
        token_hash=_token_hash(token),
        password_hash=await actor.platform.hash_secret(password) if password else None,
        expires_at=expires_at,
        max_downloads=max_downloads,
        created_by_id=actor.user_id,
        created_at=actor.now(),
    )
    return link, token


def share_url(token: str) -> str:
    return f"/briks/{BRIK}/share/{token}"


async def share_links(team_id: int, item: Item) -> list[ShareLink]:
    return await ShareLink.filter(team_id=team_id, item_id=item.id).order_by("id")


async def revoke_share_link(actor: Actor, link_id: int) -> ShareLink:
    link = await ShareLink.get_or_none(id=link_id, team_id=actor.team_id)
    item = None
    if link is not None:
        item = await Item.get_or_none(id=link.item_id, team_id=actor.team_id)
    if link is None or item is None or await access(actor, item) is None:
        raise NotFound("No share link has this id.", field="id")
    if link.revoked_at is None:
        link.revoked_at = actor.now()
        await link.save(update_fields=["revoked_at"])
    return link


# --- sharing inside the team ----------------------------------------------------------------


async def share(actor: Actor, item_id: int, user_id: int, granted: str) -> Share:
    """Let another member with a seat read, or write in, one of the actor's own items (a folder
    with all it holds). Sharing again changes the access."""
    if granted not in (READ, WRITE):
        raise BadUserInput("The access is READ or WRITE.", field="access")
    item = await get_item(actor, item_id, None)
    if item.owner_id is None:
        raise BadUserInput(
            "Everyone with a seat sees the team drive; share from your own files.", field="id"
        )
    if item.owner_id != actor.user_id:
        raise Forbidden("Only the owner shares an item.", field="id")
    if not await actor.platform.has_seat(actor.team_id, user_id, BRIK):
        raise NotFound("No member with a filestorage seat has this id.", field="userId")
    if user_id == actor.user_id:
        raise BadUserInput("These are your own files already.", field="userId")
    async with in_transaction():
        found = await Share.filter(team_id=actor.team_id, item_id=item.id, user_id=user_id).first()
        if found is None:
            try:
                async with in_transaction():
                    return await Share.create(
                        team_id=actor.team_id,
                        item_id=item.id,
                        user_id=user_id,
                        access=granted,
                        created_by_id=actor.user_id,
                        created_at=actor.now(),
                    )
            except IntegrityError:
                found = await Share.get(team_id=actor.team_id, item_id=item.id, user_id=user_id)
        found.access = granted
        await found.save(update_fields=["access"])
        return found


async def unshare(actor: Actor, share_id: int) -> Share:
    """Revoke a share at once (the owner, or the sharee giving it up)."""
    found = await Share.get_or_none(id=share_id, team_id=actor.team_id)
    if found is None or actor.user_id not in (found.created_by_id, found.user_id):
        raise NotFound("No share has this id.", field="id")
    await Share.filter(id=found.id).delete()
    return found


async def shares_of(actor: Actor, item: Item) -> list[Share]:
    """Who an item is shared with: the owner sees it, others see nothing."""
    if item.owner_id != actor.user_id:
        return []
    return await Share.filter(team_id=actor.team_id, item_id=item.id).order_by("id")


async def shared_with(
    actor: Actor, first: int = MAX_PAGE, offset: int = 0
) -> list[tuple[Share, Item]]:
    """What other members share with the actor (live items), newest first: a page of `first`
    (at most MAX_PAGE) from `offset`, counted over live items only (one bounded query)."""
    found = (
        await Share.filter(
            team_id=actor.team_id, user_id=actor.user_id, item__trashed_at__isnull=True
        )
        .select_related("item")
        .order_by("-id")
        .offset(max(offset, 0))
        .limit(max(0, min(first, MAX_PAGE)))
    )
    return [(share, share.item) for share in found]


class ShareRefused(Exception):
    """Why a share link does not open: an HTTP status and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def open_share(platform: Platform, token: str, password: str | None) -> Download:
    """Check a share link on this access (expiry, revocation, password, the creator's access,
    the download limit), count the download, and return what to stream."""
    link = await ShareLink.get_or_none(token_hash=_token_hash(token))
    if link is None:
        raise ShareRefused(404, "No such link.")
    now = platform.now()
    if link.revoked_at is not None:
        raise ShareRefused(410, "This link was revoked.")
    if link.expires_at is not None and link.expires_at <= now:
        raise ShareRefused(410, "This link has expired.")
    if link.password_hash is not None and (
        not password or not await platform.check_secret(link.password_hash, password)
    ):
        raise ShareRefused(401, "This link needs its password.")
    # A link never grants more than its creator has: no seat (or no longer a member), no file.
    if not await platform.has_seat(link.team_id, link.created_by_id, BRIK):
        raise ShareRefused(403, "This link no longer works.")
    item = await Item.get_or_none(id=link.item_id, team_id=link.team_id, trashed_at__isnull=True)
    if item is None or item.version_id is None:
        raise ShareRefused(404, "The file is no longer there.")
    if await access(Actor(link.team_id, link.created_by_id, platform), item) is None:
        raise ShareRefused(403, "This link no longer works.")
    query = ShareLink.filter(id=link.id, revoked_at__isnull=True)
    if link.max_downloads is not None:
        query = query.filter(downloads__lt=link.max_downloads)
    if not await query.update(downloads=F("downloads") + 1):
        raise ShareRefused(410, "This link has been used up.")
    version = await Version.get(id=item.version_id, team_id=link.team_id)
    return _download(link.team_id, item, version)


# --- data lifecycle and checks --------------------------------------------------------------


class _Sink:
    """What a ZIP is written to: it keeps the bytes until they are taken. Without `seek` and
    `tell`, zipfile writes a stream (sizes after each member's data)."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.pieces.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.pieces)
        self.pieces.clear()
        return data


async def export_zip(
    team_id: int, platform: Platform, progress: Callable[[int, int], None] | None = None
) -> AsyncIterator[bytes]:
    """The team's live tree as one ZIP (current versions), streamed: each piece is yielded as
    soon as it is compressed, so memory stays flat whatever the size. Each member's own files
    are under `My files (user N)/`. `progress(done, total)` counts the items."""
    items = await Item.filter(team_id=team_id, trashed_at__isnull=True).order_by("id")
    by_id = {item.id: item for item in items}
    contents: dict[int, tuple[str, int | None]] = {
        version_id: (blob, upload_id)
        for version_id, blob, upload_id in await Version.filter(
            team_id=team_id, id__in=[i.version_id for i in items if i.version_id]
        ).values_list("id", "blob", "upload_id")
    }

    def name(item: Item) -> str:
        return f"{HOME_NAME} (user {item.owner_id})" if item.is_home else item.name

    def path(item: Item) -> str:
        parts = [name(by_id[i]) for i in item.ancestor_ids if i in by_id]
        return "/".join([*parts, name(item)])

    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:  # type: ignore[call-overload]
        for done, item in enumerate(items, 1):
            if item.kind == FOLDER:
                archive.writestr(path(item) + "/", b"")
            elif item.version_id in contents:
                blob, upload_id = contents[item.version_id]
                with archive.open(path(item), "w", force_zip64=True) as out:
                    async for piece in read_content(platform, team_id, blob, upload_id):
                        out.write(piece)
                        if sink.pieces:
                            yield sink.take()
            if sink.pieces:
                yield sink.take()
            if progress is not None:
                progress(done, len(items))
    yield sink.take()


async def export_team(team_id: int, platform: Platform) -> dict[str, AsyncIterator[bytes]]:
    """`filestorage.zip`, streamed (see `export_zip`)."""
    return {"filestorage.zip": export_zip(team_id, platform)}


async def delete_team(team_id: int, platform: Platform) -> None:
    """Every row and blob of the team, versions, uploads and trash included (R-CLOSE-3)."""
    await ShareLink.filter(team_id=team_id).delete()
    await Share.filter(team_id=team_id).delete()
    await Chunk.filter(team_id=team_id).delete()
    await Upload.filter(team_id=team_id).delete()
    await Version.filter(team_id=team_id).delete()
    await Item.filter(team_id=team_id).update(parent_id=None)
    await Item.filter(team_id=team_id).delete()
    await Usage.filter(team_id=team_id).delete()
    await platform.blobs(BRIK).delete_team(team_id)


@dataclass
class Drift:
    """What `softbrik filestorage verify` found for one team."""

    team_id: int
    recorded_used: int
    actual_used: int
    recorded_charged: int
    actual_charged: int
    missing_blobs: list[str] = field(default_factory=list)
    stray_blobs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.recorded_used == self.actual_used
            and self.recorded_charged == self.actual_charged
            and not self.missing_blobs
        )


async def verify(
    platform: Platform, fix: bool = False, teams: Iterable[int] | None = None, blobs: bool = True
) -> list[Drift]:
    """Recompute each team's usage from its stored versions and open uploads; compare blobs.

    With `fix`, the recorded figures are set to the recomputed ones and stray blobs (sealed
    bytes no row refers to, e.g. left by a crash) are deleted.
    """
    team_ids: set[int] = set(teams) if teams is not None else set()
    if teams is None:
        for model in (Usage, Version, Upload):
            known_teams: list[Any] = await model.all().distinct().values_list("team_id", flat=True)
            team_ids |= {int(t) for t in known_teams}
    found = []
    store = platform.blobs(BRIK)
    for team_id in sorted(team_ids):
        versions_ = await Version.filter(team_id=team_id).values_list("blob", "size", "upload_id")
        open_uploads = await Upload.filter(
            team_id=team_id, status__in=["open", "assembling"]
        ).values_list("token", "blob", "reserved_bytes")
        used = sum(size for _, size, _ in versions_)
        charged = used + sum(reserved for _, _, reserved in open_uploads)
        row = await Usage.get_or_none(team_id=team_id)
        drift = Drift(
            team_id,
            row.used_bytes if row else 0,
            used,
            row.charged_bytes if row else 0,
            charged,
        )
        if blobs:
            stored = set(await store.keys(team_id))
            known = {blob for blob, _, upload_id in versions_ if upload_id is None}
            chunked = {upload_id for _, _, upload_id in versions_ if upload_id is not None}
            known |= set(
                await Chunk.filter(team_id=team_id, upload_id__in=chunked).values_list(
                    "key", flat=True
                )
            )
            drift.missing_blobs = sorted(known - stored)
            in_progress = {blob for _, blob, _ in open_uploads if blob}
            prefixes = tuple(f"u/{token}/" for token, _, _ in open_uploads)
            drift.stray_blobs = sorted(
                key
                for key in stored - known - in_progress
                if not (prefixes and key.startswith(prefixes))
            )
        if fix:
            await _usage_row(team_id)
            await Usage.filter(team_id=team_id).update(used_bytes=used, charged_bytes=charged)
            # Look again right before deleting: an upload may have completed since.
            referenced = (
                set(
                    await Version.filter(team_id=team_id, blob__in=drift.stray_blobs).values_list(
                        "blob", flat=True
                    )
                )
                | set(
                    await Upload.filter(team_id=team_id, blob__in=drift.stray_blobs).values_list(
                        "blob", flat=True
                    )
                )
                | set(
                    await Chunk.filter(team_id=team_id, key__in=drift.stray_blobs).values_list(
                        "key", flat=True
                    )
                )
            )
            active = set(
                await Upload.filter(team_id=team_id, status__in=["open", "assembling"]).values_list(
                    "token", flat=True
                )
            )
            for key in drift.stray_blobs:
                token = key.split("/")[1] if key.startswith("u/") else None
                if key not in referenced and token not in active:
                    await store.delete(team_id, key)
        found.append(drift)
    return found
