"""The File storage Brik's rows. Content lives in sealed blobs (`Platform.blobs`)."""

from __future__ import annotations

from tortoise import fields

from softbrik.plugin import TeamScoped

FOLDER = "folder"
FILE = "file"
READ = "read"
WRITE = "write"


class Item(TeamScoped):
    """A folder or a file. Names are unique among the live items of a folder (`live_name`)."""

    team_id: int

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=6)
    parent: fields.ForeignKeyNullableRelation[Item] = fields.ForeignKeyField(
        "filestorage.Item", related_name=False, null=True, on_delete=fields.CASCADE
    )
    parent_id: int | None
    parent_key = fields.BigIntField(default=0)
    """The id of the parent, 0 at the top: the unique index treats the top like any folder."""
    ancestors = fields.CharField(max_length=1024, default="/", db_index=True)
    """Ids from the top down, "/3/8/": a subtree is one prefix query."""
    name = fields.CharField(max_length=255)
    live_name = fields.CharField(max_length=255, null=True)
    """The name while live, NULL in the trash, so trashed items never block a name."""
    size = fields.BigIntField(default=0)
    content_type = fields.CharField(max_length=255, default="application/octet-stream")
    sha256 = fields.CharField(max_length=64, null=True)
    version_id = fields.BigIntField(null=True)
    version_count = fields.IntField(default=0)
    created_by_id = fields.BigIntField()
    created_at = fields.DatetimeField()
    modified_by_id = fields.BigIntField()
    modified_at = fields.DatetimeField()
    trashed_at = fields.DatetimeField(null=True)
    trashed_by_id = fields.BigIntField(null=True)
    trash_root_id = fields.BigIntField(null=True)
    """The item whose deletion put this one in the trash (itself for what the user deleted)."""
    locked_by_id = fields.BigIntField(null=True)
    locked_until = fields.DatetimeField(null=True)
    owner_id = fields.BigIntField(null=True, db_index=True)
    """NULL in the team drive (every seated member sees it), else the member whose own files
    hold the item (only that member and those it is shared with see it)."""

    class Meta:
        table = "filestorage_item"
        unique_together = (("team", "parent_key", "live_name"),)

    @property
    def subtree_prefix(self) -> str:
        return f"{self.ancestors}{self.id}/"

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.ancestors.strip("/").split("/") if part]

    @property
    def is_home(self) -> bool:
        """A member's own files (parent_key is minus the member's id: one per member)."""
        return self.parent_key < 0


class Version(TeamScoped):
    """One content of a file: the newest is the current content of the file."""

    team_id: int

    id = fields.BigIntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "filestorage.Item", related_name=False, on_delete=fields.CASCADE
    )
    item_id: int
    number = fields.IntField()
    blob = fields.CharField(max_length=100)
    """The sealed blob, or for a resumable upload the prefix of its chunks (`u/<token>/`).

    Copies share it: it is deleted with the last version that refers to it."""
    upload_id = fields.BigIntField(null=True)
    """Set when the content is the chunks of this upload, in order (nothing was copied)."""
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)
    content_type = fields.CharField(max_length=255)
    created_by_id = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "filestorage_version"
        unique_together = (("item", "number"),)


class Usage(TeamScoped):
    """The bytes of a team: `used` by stored versions, `charged` = used + reserved by open uploads.

    An upload reserves its size with one conditional UPDATE of `charged`, so parallel uploads
    can never pass the quota together.
    """

    team_id: int

    id = fields.BigIntField(primary_key=True)
    used_bytes = fields.BigIntField(default=0)
    charged_bytes = fields.BigIntField(default=0)
    nearly_full = fields.BooleanField(default=False)

    class Meta:
        table = "filestorage_usage"
        unique_together = (("team",),)


class Upload(TeamScoped):
    """An upload in progress: its reservation, the chunks received, where it will land."""

    team_id: int

    id = fields.BigIntField(primary_key=True)
    token = fields.CharField(max_length=32, unique=True)
    user_id = fields.BigIntField()
    folder_id = fields.BigIntField(null=True)
    name = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=255)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64, null=True)
    chunk_size = fields.BigIntField()
    reserved_bytes = fields.BigIntField()
    status = fields.CharField(max_length=10, default="open")
    """open → assembling → done, or aborted; only open and assembling hold a reservation."""
    blob = fields.CharField(max_length=100, null=True)
    """Where the assembled content goes, set before assembly (cleanup deletes it on failure)."""
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "filestorage_upload"


class Chunk(TeamScoped):
    team_id: int
    upload_id: int
    id = fields.BigIntField(primary_key=True)
    upload: fields.ForeignKeyRelation[Upload] = fields.ForeignKeyField(
        "filestorage.Upload", related_name=False, on_delete=fields.CASCADE
    )
    index = fields.IntField()
    size = fields.BigIntField()
    key = fields.CharField(max_length=100, null=True)
    """The sealed blob of this chunk (a new one for every attempt)."""

    class Meta:
        table = "filestorage_chunk"
        unique_together = (("upload", "index"),)


class ShareLink(TeamScoped):
    """A public, read-only link to a file: optional password and expiry, revocable, counted."""

    team_id: int

    id = fields.BigIntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "filestorage.Item", related_name=False, on_delete=fields.CASCADE
    )
    item_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255, null=True)
    expires_at = fields.DatetimeField(null=True)
    max_downloads = fields.IntField(null=True)
    downloads = fields.IntField(default=0)
    revoked_at = fields.DatetimeField(null=True)
    created_by_id = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "filestorage_share_link"


class Share(TeamScoped):
    """Another member may read or write an item of a member (a folder with all it holds).

    Deleting the row revokes it at once.
    """

    team_id: int

    id = fields.BigIntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "filestorage.Item", related_name=False, on_delete=fields.CASCADE
    )
    item_id: int
    user_id = fields.BigIntField(db_index=True)
    access = fields.CharField(max_length=5)
    created_by_id = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "filestorage_share"
        unique_together = (("item", "user_id"),)
