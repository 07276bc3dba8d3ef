"""Vault: envelope encryption per team (R-SEC-1, R-SEC-2), crypto-shredding (R-CLOSE-3/-4).

Every test runs against the local key file and against AWS KMS (moto).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from tortoise import Tortoise

from softbrik.core.blobs import LocalBlobStore
from softbrik.core.crypto import (
    DecryptionError,
    KeyDestroyed,
    KeyProvider,
    LocalKeyProvider,
    Vault,
)
from softbrik.core.crypto.models import TeamKey
from softbrik.testing import TestDatabase

pytestmark = pytest.mark.usefixtures("db")

CANARY = b"CANARY-7f3a9c-the-secret-margin-of-acme"


async def test_round_trip(provider: KeyProvider) -> None:
    vault = Vault(provider)
    for plaintext in (b"", b"x", CANARY, bytes(range(256)) * 300):
        sealed = await vault.seal(1, plaintext, "crm.note")
        # Random ciphertext may contain any short byte string; only long ones must not show.
        assert len(plaintext) < 16 or plaintext not in sealed
        assert await vault.open(1, sealed, "crm.note") == plaintext


async def test_fresh_nonce_each_seal(provider: KeyProvider) -> None:
    vault = Vault(provider)
    assert await vault.seal(1, CANARY, "p") != await vault.seal(1, CANARY, "p")


async def test_ciphertext_moved_to_another_team_does_not_open(provider: KeyProvider) -> None:
    vault = Vault(provider)
    await vault.ensure_key(2)
    sealed = await vault.seal(1, CANARY, "crm.note")
    with pytest.raises(DecryptionError):
        await vault.open(2, sealed, "crm.note")


async def test_wrong_purpose_does_not_open(provider: KeyProvider) -> None:
    vault = Vault(provider)
    sealed = await vault.seal(1, CANARY, "crm.note")
    with pytest.raises(DecryptionError):
        await vault.open(1, sealed, "crm.phone")


async def test_any_tampered_byte_is_detected(provider: KeyProvider) -> None:
    vault = Vault(provider)
    sealed = await vault.seal(1, CANARY, "crm.note")
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            await vault.open(1, bytes(tampered), "crm.note")
    with pytest.raises(DecryptionError):
        await vault.open(1, sealed[:-1], "crm.note")


async def test_wrapped_key_of_another_team_does_not_unwrap(provider: KeyProvider) -> None:
    vault = Vault(provider)
    await vault.ensure_key(1)
    row = await TeamKey.get(team_id=1)
    with pytest.raises(DecryptionError):
        await provider.unwrap(bytes(row.wrapped), {"team": "2"})


def dump_postgres(url: str) -> bytes:
    """pg_dump's output, with bytea as raw-ish escape text decoded back to bytes."""
    import subprocess

    done = subprocess.run(
        ["pg_dump", "--data-only", "--inserts", url.replace("postgres://", "postgresql://", 1)],
        capture_output=True,
        check=True,
    )
    text = done.stdout.decode()
    raw = bytearray(done.stdout)
    # bytea values appear as '\\x<hex>': decode them so a plaintext inside would show.
    for hexed in re.findall(r"'\\x([0-9a-f]*)'", text):
        raw += bytes.fromhex(hexed)
    return bytes(raw)


def dump_sqlite(path: Path) -> list[bytes]:
    """The database file and its WAL, read by another process: opening and closing them here
    would drop this process's SQLite locks (POSIX), and the next process to close the database
    would then delete the WAL this process still writes to."""
    import subprocess

    files = [str(p) for p in path.parent.glob(path.name + "*") if p.is_file()]
    return [subprocess.run(["cat", f], capture_output=True, check=True).stdout for f in files]


async def test_no_plaintext_or_data_key_at_rest(
    provider: KeyProvider, db: TestDatabase, tmp_path: Path
) -> None:
    """A raw dump of the database and the blob directory holds no plaintext (R-SEC-1)."""
    vault = Vault(provider)
    store = LocalBlobStore(tmp_path / "blobs")
    conn = Tortoise.get_connection("default")
    sealed = await vault.seal(7, CANARY, "crm.note")
    if db.is_postgres:
        await conn.execute_script("CREATE TABLE IF NOT EXISTS crypto_dump_probe (body bytea)")
        await conn.execute_query("INSERT INTO crypto_dump_probe (body) VALUES ($1)", [sealed])
    else:
        await conn.execute_script("CREATE TABLE IF NOT EXISTS crypto_dump_probe (body BLOB)")
        await conn.execute_query("INSERT INTO crypto_dump_probe (body) VALUES (?)", [sealed])

    async def document():
        for _ in range(50):
            yield CANARY * 100

    await store.put("team/7/doc.pdf", vault.seal_stream(7, document(), "files.document"))
    row = await TeamKey.get(team_id=7)
    data_key = await provider.unwrap(bytes(row.wrapped), {"team": "7"})
    if db.is_postgres:
        dumps = [dump_postgres(db.url)]
    else:
        path = Path(db.url.removeprefix("sqlite://"))
        await conn.execute_script("PRAGMA wal_checkpoint(FULL)")
        dumps = dump_sqlite(path)
    await conn.execute_script("DROP TABLE crypto_dump_probe")
    dumps += [p.read_bytes() for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert dumps and any(sealed in d for d in dumps)
    for raw in dumps:
        assert CANARY not in raw
        assert CANARY[:16] not in raw
        assert data_key not in raw


async def test_rotation_keeps_old_data_readable(provider: KeyProvider) -> None:
    vault = Vault(provider)
    sealed = await vault.seal(1, CANARY, "crm.note")
    before = await TeamKey.get(team_id=1)
    if isinstance(provider, LocalKeyProvider):
        assert await provider.rotate() == 2
    await vault.rotate(1)
    after = await TeamKey.get(team_id=1)
    assert after.rotated_at is not None
    assert bytes(after.wrapped) != bytes(before.wrapped)
    # Neither the cache nor the old wrapping is needed to read old data.
    fresh = Vault(provider)
    assert await fresh.open(1, sealed, "crm.note") == CANARY
    assert await vault.open(1, sealed, "crm.note") == CANARY


async def test_local_rotation_uses_the_new_master_key(tmp_path: Path) -> None:
    provider = LocalKeyProvider(tmp_path / "keys.json")
    key, wrapped_v1 = await provider.generate_data_key({"team": "1"})
    await provider.rotate()
    wrapped_v2 = await provider.rewrap(wrapped_v1, {"team": "1"})
    assert wrapped_v1[1:5] == (1).to_bytes(4, "big")
    assert wrapped_v2[1:5] == (2).to_bytes(4, "big")
    # Another process (a fresh provider on the same file) unwraps both versions.
    other = LocalKeyProvider(tmp_path / "keys.json")
    assert await other.unwrap(wrapped_v1, {"team": "1"}) == key
    assert await other.unwrap(wrapped_v2, {"team": "1"}) == key


async def test_destroy_makes_data_unreadable(provider: KeyProvider) -> None:
    """Crypto-shredding at closure (R-CLOSE-4): the team's key is destroyed."""
    vault = Vault(provider)
    sealed = await vault.seal(1, CANARY, "crm.note")
    other_team = await vault.seal(2, CANARY, "crm.note")
    row = await TeamKey.get(team_id=1)
    assert await vault.destroy(1) is True
    assert not await TeamKey.filter(team_id=1).exists()
    with pytest.raises(KeyDestroyed):
        await vault.open(1, sealed, "crm.note")
    with pytest.raises(KeyDestroyed):
        await Vault(provider).open(1, sealed, "crm.note")
    assert await vault.destroy(1) is False
    # Another team is untouched.
    assert await vault.open(2, other_team, "crm.note") == CANARY
    # A key made later for the same id is a different key: old data stays unreadable.
    await vault.seal(1, b"new", "crm.note")
    assert bytes((await TeamKey.get(team_id=1)).wrapped) != bytes(row.wrapped)
    with pytest.raises(DecryptionError):
        await vault.open(1, sealed, "crm.note")


async def test_local_destroy_leaves_nothing_to_unwrap(tmp_path: Path) -> None:
    provider = LocalKeyProvider(tmp_path / "keys.json")
    vault = Vault(provider)
    sealed = await vault.seal(1, CANARY, "crm.note")
    await vault.destroy(1)
    # The master key file is still there, but the only wrapped copy of the data key is gone.
    assert await TeamKey.all().count() == 0
    with pytest.raises(KeyDestroyed):
        await Vault(LocalKeyProvider(tmp_path / "keys.json")).open(1, sealed, "crm.note")


async def test_concurrent_first_seals_make_one_key(provider: KeyProvider) -> None:
    # Two vaults stand for two processes: no shared lock or cache, only the database.
    vaults = [Vault(provider), Vault(provider)]
    sealed = await asyncio.gather(
        *(vaults[i % 2].seal(9, f"v{i}".encode(), "p") for i in range(20))
    )
    assert await TeamKey.filter(team_id=9).count() == 1
    reader = Vault(provider)
    assert [await reader.open(9, s, "p") for s in sealed] == [f"v{i}".encode() for i in range(20)]


async def test_key_cache_expires(provider: KeyProvider) -> None:
    vault = Vault(provider, cache_ttl=0)
    sealed = await vault.seal(1, CANARY, "p")
    await TeamKey.filter(team_id=1).delete()
    with pytest.raises(KeyDestroyed):
        await vault.open(1, sealed, "p")


async def test_key_file_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.json"
    provider = LocalKeyProvider(path)
    await provider.generate_data_key({"team": "1"})
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o077 == 0


async def test_group_or_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    from softbrik.core.crypto import KeyFileError

    path = tmp_path / "master.json"
    await LocalKeyProvider(path).generate_data_key({"team": "1"})
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="group or others"):
        await LocalKeyProvider(path).generate_data_key({"team": "1"})
    path.chmod(0o640)
    with pytest.raises(KeyFileError):
        await LocalKeyProvider(path).generate_data_key({"team": "1"})


def test_provider_from_settings(tmp_path: Path) -> None:
    from softbrik.core.crypto import KmsKeyProvider, provider_from_settings
    from softbrik.settings import Settings

    local = provider_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalKeyProvider)
    assert local.path.is_relative_to(tmp_path)
    with pytest.raises(ValueError, match="KMS_KEY_ID"):
        provider_from_settings(Settings(key_provider="kms"))
    kms = provider_from_settings(Settings(key_provider="kms", kms_key_id="alias/softbrik"))
    assert isinstance(kms, KmsKeyProvider)
    assert kms.key_id == "alias/softbrik"


async def test_key_created_in_a_rolled_back_transaction_is_not_reused(
    provider: KeyProvider,
) -> None:
    from tortoise.transactions import in_transaction

    vault = Vault(provider)

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback):
        async with in_transaction():
            first = await vault.seal(3, b"in tx", "p")
            assert await vault.open(3, first, "p") == b"in tx"
            raise Rollback
    assert not await TeamKey.filter(team_id=3).exists()
    # The next seal makes (and stores) a new key rather than reusing the rolled-back one.
    sealed = await vault.seal(3, CANARY, "p")
    assert await TeamKey.filter(team_id=3).count() == 1
    assert await Vault(provider).open(3, sealed, "p") == CANARY
    # What was sealed in the rolled-back transaction is gone with it.
    with pytest.raises(DecryptionError):
        await Vault(provider).open(3, first, "p")
