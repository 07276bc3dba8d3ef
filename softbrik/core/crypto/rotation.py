"""Master key rotation (R-SEC-2): every team's data key re-wrapped, no data re-encrypted.

`rotate_keys` is what `softbrik keys rotate` runs. A run first finishes any earlier run that was
interrupted (data keys still wrapped under another master key); only when none is left does it
make a new master key. So running it again after a crash, or twice at once, is safe: each row is
re-wrapped with a compare-and-set on its old wrapping, and a row done by the other run is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from softbrik.core.crypto.errors import CryptoError
from softbrik.core.crypto.models import TeamKey
from softbrik.core.crypto.providers import LocalKeyProvider
from softbrik.core.crypto.vault import Vault

__all__ = ["RotationError", "RotationReport", "rotate_keys"]

log = logging.getLogger("softbrik.crypto.rotation")

BATCH = 200

Progress = Callable[[int, int], None]


class RotationError(CryptoError):
    """Data keys were left under an older master key (made meanwhile by a stale process)."""


@dataclass
class RotationReport:
    master: str
    """The master key every data key is wrapped under now."""
    resumed: bool
    """True when the run finished an earlier, interrupted one instead of making a new master."""
    rewrapped: int = 0
    skipped: int = 0
    """Rows changed by someone else meanwhile (destroyed, or re-wrapped by another run)."""
    retired: list[int] = field(default_factory=list)
    """Master key versions deleted from the local key file (`retire_old`)."""


async def _pending(master: str) -> int:
    count: int = await TeamKey.exclude(wrapped_by=master).count()
    return count


async def rotate_keys(
    vault: Vault, *, retire_old: bool = False, progress: Progress | None = None
) -> RotationReport:
    """Re-wrap every team's data key under a new master key (or finish an interrupted run).

    With the local key file a new master key version is made; with KMS the vault's provider must
    already name the key to move to (see `KmsKeyProvider`), and keys already under it are done.
    `retire_old` then deletes the older local master key versions, so wrappings under them (in
    old backups too) no longer open.
    """
    provider = vault.provider
    master = await provider.current_master()
    total = await _pending(master)
    if isinstance(provider, LocalKeyProvider):
        resumed = total > 0
        if not resumed:
            await provider.rotate()
            master = await provider.current_master()
            total = await _pending(master)
    else:
        # Moving to another KMS key: an earlier run got part of the way if some rows are there.
        resumed = total > 0 and await TeamKey.filter(wrapped_by=master).exists()
    log.info("key rotation started", extra={"master": master, "keys": total, "resumed": resumed})
    report = RotationReport(master=master, resumed=resumed)
    if progress:
        progress(0, total)
    last_id = 0
    while True:
        # Keyset pages in id order: memory stays flat, and rows re-wrapped meanwhile drop out.
        rows = (
            await TeamKey.filter(id__gt=last_id)
            .exclude(wrapped_by=master)
            .order_by("id")
            .limit(BATCH)
        )
        if not rows:
            break
        for row in rows:
            if await vault.rewrap(row):
                report.rewrapped += 1
            else:
                report.skipped += 1
            last_id = row.id
            if progress:
                progress(report.rewrapped + report.skipped, total)
        log.info(
            "key rotation progress",
            extra={"master": master, "rewrapped": report.rewrapped, "of": total},
        )
    left = await _pending(master)
    if left:
        # Keys made meanwhile by a process that had not yet seen the new master: run again.
        raise RotationError(f"{left} data keys are still wrapped under an older master key")
    if retire_old and isinstance(provider, LocalKeyProvider):
        report.retired = await provider.retire(int(master.removeprefix("local:")))
    vault.forget_cached_keys()
    log.info(
        "key rotation done",
        extra={
            "master": master,
            "rewrapped": report.rewrapped,
            "skipped": report.skipped,
            "retired": report.retired,
        },
    )
    return report
