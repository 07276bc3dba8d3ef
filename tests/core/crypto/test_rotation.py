"""Master key rotation (R-SEC-2): `rotate_keys` and `softbrik keys rotate` re-wrap every team's
data key under a new master key without re-encrypting data, and resume after an interruption.

Run against the local key file and AWS KMS (moto in server mode).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from softbrik.core.crypto import DecryptionError, KmsKeyProvider, LocalKeyProvider, Vault
from softbrik.core.crypto.models import TeamKey
from softbrik.core.crypto.rotation import rotate_keys
from softbrik.testing import REGION, Aws

pytestmark = pytest.mark.usefixtures("db")

TEAMS = (1, 2, 3, 4, 5)


class Interrupted(Exception):
    """Stands for a crash (or ^C) half-way through a rotation."""


def interrupt_after(rows: int):
    def progress(done: int, total: int) -> None:
        if done >= rows:
            raise Interrupted

    return progress


async def seal_for_every_team(vault: Vault) -> dict[int, bytes]:
    return {team: await vault.seal(team, f"secret of team {team}".encode(), "p") for team in TEAMS}


async def wrappings() -> dict[int, tuple[bytes, str]]:
    return {row.team_id: (bytes(row.wrapped), row.wrapped_by) for row in await TeamKey.all()}


async def assert_opens(vault: Vault, sealed: dict[int, bytes]) -> None:
    for team, blob in sealed.items():
        assert await vault.open(team, blob, "p") == f"secret of team {team}".encode()


def new_kms_key(aws: Aws) -> str:
    key_id: str = aws.client("kms").create_key(Description="softbrik test")["KeyMetadata"]["KeyId"]
    return key_id


def kms(aws: Aws, key_id: str) -> KmsKeyProvider:
    return KmsKeyProvider(key_id, aws.endpoint_url, REGION)


async def test_local_rotation_rewraps_every_key_and_retires_the_old_master(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.json"
    vault = Vault(LocalKeyProvider(path))
    sealed = await seal_for_every_team(vault)
    before = await wrappings()
    assert {by for _, by in before.values()} == {"local:1"}

    report = await rotate_keys(vault, retire_old=True)

    assert (report.master, report.rewrapped, report.resumed, report.retired) == (
        "local:2",
        len(TEAMS),
        False,
        [1],
    )
    after = await wrappings()
    for team, (wrapped, by) in after.items():
        assert by == "local:2"
        assert wrapped[1:5] == (2).to_bytes(4, "big")
        assert wrapped != before[team][0]
    # The old master key is gone from the file: the old wrappings (in a backup, say) no longer
    # unwrap, while data sealed before the rotation opens in another process.
    assert list(json.loads(path.read_text())["keys"]) == ["2"]
    fresh = LocalKeyProvider(path)
    with pytest.raises(DecryptionError):
        await fresh.unwrap(before[1][0], {"team": "1"})
    await assert_opens(Vault(fresh), sealed)
    await assert_opens(vault, sealed)


async def test_local_rotation_interrupted_resumes_without_a_new_master(tmp_path: Path) -> None:
    path = tmp_path / "master.json"
    vault = Vault(LocalKeyProvider(path))
    sealed = await seal_for_every_team(vault)
    with pytest.raises(Interrupted):
        await rotate_keys(vault, progress=interrupt_after(2))
    assert sorted(by for _, by in (await wrappings()).values()) == ["local:1"] * 3 + ["local:2"] * 2

    again = await rotate_keys(Vault(LocalKeyProvider(path)))

    assert (again.master, again.resumed, again.rewrapped) == ("local:2", True, 3)
    assert {by for _, by in (await wrappings()).values()} == {"local:2"}
    assert sorted(json.loads(path.read_text())["keys"]) == ["1", "2"]
    await assert_opens(Vault(LocalKeyProvider(path)), sealed)
    # A finished rotation run again is a new rotation.
    assert (await rotate_keys(vault)).master == "local:3"


async def test_keys_made_after_a_rotation_elsewhere_use_the_new_master(tmp_path: Path) -> None:
    path = tmp_path / "master.json"
    server = Vault(LocalKeyProvider(path))
    await server.ensure_key(1)
    # The command runs in another process: the server's provider has loaded version 1.
    await rotate_keys(Vault(LocalKeyProvider(path)), retire_old=True)
    await server.ensure_key(2)
    assert (await TeamKey.get(team_id=2)).wrapped_by == "local:2"


async def test_kms_rotation_moves_every_key_to_another_kms_key(aws: Aws) -> None:
    old_key, new_key = new_kms_key(aws), new_kms_key(aws)
    vault = Vault(kms(aws, old_key))
    sealed = await seal_for_every_team(vault)
    before = await wrappings()
    assert {by for _, by in before.values()} == {f"kms:{old_key}"}

    report = await rotate_keys(Vault(kms(aws, new_key)))

    assert (report.master, report.rewrapped, report.resumed) == (f"kms:{new_key}", 5, False)
    assert all(
        wrapped != before[team][0] and by == f"kms:{new_key}"
        for team, (wrapped, by) in (await wrappings()).items()
    )
    # KMS itself says which key wrapped each row now: the new one, and never the old one (which
    # can then be disabled and deleted). moto does not enforce a disabled key, so ask directly.
    client = aws.client("kms")
    for team, (wrapped, _) in (await wrappings()).items():
        context = {"team": str(team)}
        opened = client.decrypt(CiphertextBlob=wrapped, EncryptionContext=context)
        assert opened["KeyId"].endswith(new_key)
        with pytest.raises(client.exceptions.ClientError):
            client.decrypt(CiphertextBlob=wrapped, KeyId=old_key, EncryptionContext=context)
    await assert_opens(Vault(kms(aws, new_key)), sealed)


async def test_kms_rotation_interrupted_resumes_and_is_then_a_no_op(aws: Aws) -> None:
    old_key, new_key = new_kms_key(aws), new_kms_key(aws)
    sealed = await seal_for_every_team(Vault(kms(aws, old_key)))
    with pytest.raises(Interrupted):
        await rotate_keys(Vault(kms(aws, new_key)), progress=interrupt_after(3))

    again = await rotate_keys(Vault(kms(aws, new_key)))
    assert (again.rewrapped, again.skipped, again.resumed) == (2, 0, True)
    done = await rotate_keys(Vault(kms(aws, new_key)))
    assert (done.rewrapped, done.resumed) == (0, False)
    await assert_opens(Vault(kms(aws, new_key)), sealed)


async def test_a_row_changed_meanwhile_is_left_alone(tmp_path: Path) -> None:
    """Two runs at once: the compare-and-set on the old wrapping lets one of them win per row."""
    vault = Vault(LocalKeyProvider(tmp_path / "master.json"))
    await vault.ensure_key(1)
    row = await TeamKey.get(team_id=1)
    await vault.provider.rotate()  # type: ignore[attr-defined]
    assert await vault.rewrap(row) is True
    assert await vault.rewrap(row) is False  # `row` still holds the wrapping the first replaced
    await vault.destroy(1)
    assert not await TeamKey.filter(team_id=1).exists()


def softbrik(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "softbrik", *args],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SOFTBRIK_")},
            "SOFTBRIK_LOG_JSON": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_softbrik_keys_rotate(db, tmp_path: Path) -> None:
    """The command on the local key file: progress and structured logs, then data still opens."""
    env = {"SOFTBRIK_DATABASE_URL": db.url, "SOFTBRIK_DATA_DIR": str(tmp_path)}
    path = tmp_path / "keys" / "master.json"
    sealed = await seal_for_every_team(Vault(LocalKeyProvider(path)))

    done = softbrik("keys", "rotate", "--retire-old", **env)

    assert done.returncode == 0, done.stderr
    assert "5 team keys re-wrapped under local:2" in done.stderr
    assert "retired master key versions 1" in done.stderr
    logs = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    finished = [entry for entry in logs if entry["message"] == "key rotation done"]
    assert finished and finished[0]["rewrapped"] == 5
    assert {by for _, by in (await wrappings()).values()} == {"local:2"}
    await assert_opens(Vault(LocalKeyProvider(path)), sealed)


async def test_softbrik_keys_rotate_on_kms_needs_a_key_to_move_to(db, aws: Aws, tmp_path) -> None:
    old_key, new_key = new_kms_key(aws), new_kms_key(aws)
    sealed = await seal_for_every_team(Vault(kms(aws, old_key)))
    env = {
        "SOFTBRIK_DATABASE_URL": db.url,
        "SOFTBRIK_DATA_DIR": str(tmp_path),
        "SOFTBRIK_KEY_PROVIDER": "kms",
        "SOFTBRIK_KMS_KEY_ID": old_key,
        "SOFTBRIK_AWS_ENDPOINT_URL": aws.endpoint_url,
        "SOFTBRIK_AWS_REGION": REGION,
        **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
    }
    refused = softbrik("keys", "rotate", **env)
    assert refused.returncode == 2
    assert "--to-key-id" in refused.stderr

    done = softbrik("keys", "rotate", "--to-key-id", new_key, "--quiet", **env)

    assert done.returncode == 0, done.stderr
    assert f"5 team keys re-wrapped under kms:{new_key}" in done.stderr
    await assert_opens(Vault(kms(aws, new_key)), sealed)
