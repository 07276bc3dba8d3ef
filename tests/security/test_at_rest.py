"""Encryption at rest through the whole app (R-SEC-1, R-SEC-2) and crypto-shredding at closure
(R-CLOSE-4): what an attacker with a copy of the database and the blob store would hold.

The crypto layer's own tests (tests/core/crypto) prove the same for the vault alone; these go
through GraphQL and a Brik, as customer data really arrives.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

from softbrik.core.accounts.models import Team
from softbrik.core.crypto import DecryptionError, KeyDestroyed, LocalKeyProvider, Vault
from softbrik.core.crypto.models import TeamKey
from softbrik.core.crypto.rotation import rotate_keys
from softbrik.testing import TeamFactory, TestDatabase
from tests.billing.helpers import CLOSE, advance, at
from tests.core.crypto.test_vault import dump_postgres, dump_sqlite

ADD_NOTE = "mutation($t: String!, $b: String!) { notesAdd(title: $t, body: $b) { title } }"


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def team_with_secrets(gql: Any, team_factory: TeamFactory, platform: Any) -> dict[str, Any]:
    """A team with a note (title in clear, body sealed) and a Brik blob, holding its secret."""
    team = await team_factory.sign_up(["notes"])
    secret = f"SECRET-{team.canary}-{secrets.token_hex(8)}"
    title = f"Title {team.canary}"
    await gql.ok(ADD_NOTE, {"t": title, "b": secret}, token=team.admin.token)
    team_id = (await Team.get(name=team.name)).id
    await platform.blobs("notes").write(team_id, "attachment.txt", _chunks(secret.encode() * 64))
    return {"team": team, "team_id": team_id, "secret": secret.encode(), "title": title.encode()}


def read_files(directory: Path, pattern: str) -> list[bytes]:
    return [p.read_bytes() for p in directory.glob(pattern) if p.is_file()]


async def raw_dumps(db: TestDatabase, blobs_dir: Path) -> list[bytes]:
    """The database as a backup would hold it, and every file of the blob store."""
    if db.is_postgres:
        dumps = [dump_postgres(db.url)]
    else:
        path = Path(db.url.removeprefix("sqlite://"))
        await Tortoise.get_connection("default").execute_script("PRAGMA wal_checkpoint(FULL)")
        dumps = dump_sqlite(path)
    return dumps + read_files(blobs_dir, "**/*")


async def test_a_raw_dump_holds_no_plaintext_of_sealed_data(
    gql, team_factory, platform, softbrik_db, softbrik_app
):
    """R-SEC-1: the note body and the Brik's blob are nowhere in clear; the title (not sealed)
    shows, which proves the dump holds the rows."""
    found = await team_with_secrets(gql, team_factory, platform)
    dumps = await raw_dumps(softbrik_db, softbrik_app.state.rt.settings.data_dir / "blobs")
    assert any(found["title"] in d for d in dumps)
    for raw in dumps:
        assert found["secret"] not in raw
        assert found["secret"][:16] not in raw


async def test_a_closed_teams_backed_up_data_never_opens(gql, team_factory, platform, softbrik_app):
    """R-CLOSE-4: copies of a closed team's sealed data (a backup) no longer open, in this
    process or any other, because the team's data key is destroyed."""
    found = await team_with_secrets(gql, team_factory, platform)
    team, team_id = found["team"], found["team_id"]
    rt = softbrik_app.state.rt
    from softbrik_notes.models import Note

    backup_body = bytes((await Note.get(team_id=team_id)).body)
    stored = f"team/{team_id}/notes/attachment.txt"
    backup_blob = b"".join([chunk async for chunk in rt.blobs.get(stored)])
    assert await rt.vault.open(team_id, backup_body, "notes.body") == found["secret"]

    await gql.ok(CLOSE, {"n": team.name}, token=team.admin.token)
    await advance(gql, at("2026-02-12", 12))

    assert not await TeamKey.filter(team_id=team_id).exists()
    fresh = Vault(LocalKeyProvider(rt.settings.data_dir / "keys" / "master.json"))
    for vault in (rt.vault, fresh):
        with pytest.raises(KeyDestroyed):
            await vault.open(team_id, backup_body, "notes.body")
        with pytest.raises(KeyDestroyed):
            async for _ in vault.open_stream(
                team_id, _chunks(backup_blob), "notes.blob:attachment.txt"
            ):
                pass


async def test_a_database_backup_stops_opening_after_rotation_with_retirement(
    gql, team_factory, platform, softbrik_app
):
    """A database backup from before the closure still holds the team's wrapped key, which the
    current master key unwraps; once the master key is rotated and the old one retired
    (`softbrik keys rotate --retire-old`), that backup's key no longer unwraps (README)."""
    found = await team_with_secrets(gql, team_factory, platform)
    team_id = found["team_id"]
    rt = softbrik_app.state.rt
    backup = await TeamKey.get(team_id=team_id)
    provider = LocalKeyProvider(rt.settings.data_dir / "keys" / "master.json")
    assert await provider.unwrap(bytes(backup.wrapped), {"team": str(team_id)})

    await rt.vault.destroy(team_id)
    report = await rotate_keys(Vault(provider), retire_old=True)

    assert report.retired
    with pytest.raises(DecryptionError, match="unknown master key version"):
        await LocalKeyProvider(provider.path).unwrap(bytes(backup.wrapped), {"team": str(team_id)})
