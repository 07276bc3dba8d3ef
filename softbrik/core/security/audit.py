"""The audit log (R-SEC-3): what every operation did, kept cheap and free of personal data.

Requests hand their entry to `AuditLog.add`, which only appends to a buffer: the entries are
written by one bulk INSERT per batch (at most `SOFTBRIK_AUDIT_BATCH_SIZE` entries, at the latest
`SOFTBRIK_AUDIT_FLUSH_SECONDS` after the first one), in a task of its own, so a request never
waits for the audit log. `flush` writes what is buffered now (the scan job and tests call it).
A crash loses at most the last second of entries; a failed write is logged with its count.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from softbrik.core.security.models import AuditEntry
from softbrik.core.tenancy import platform_job

if TYPE_CHECKING:
    from softbrik.core.runtime import Runtime

log = logging.getLogger("softbrik.audit")

DENIED_CODES = frozenset({"NOT_FOUND", "FORBIDDEN"})
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def outcome_of(codes: list[str]) -> str:
    """`ok`, or the distinct error codes of an answer in a stable order."""
    return ",".join(sorted(set(codes)))[:100] if codes else "ok"


def denied_of(codes: list[str]) -> int:
    return min(sum(1 for code in codes if code in DENIED_CODES), 32767)


@dataclass(frozen=True)
class Actor:
    """Who an entry is about: the signed-in user, or the account a sign-in or token named."""

    user_id: int | None = None
    team_id: int | None = None
    admin: bool = False

    @classmethod
    def of(cls, user: Any) -> Actor:
        """The actor of an accounts `User`."""
        return cls(user.id, user.team_id, user.role == "ADMIN")


class AuditLog:
    """The process's buffer of audit entries, written in batches (see the module's docstring)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._pending: list[dict[str, Any]] = []
        self._timer: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        self._key: bytes | None = None

    def subject(self, email: str) -> str:
        """A keyed hash of an e-mail address: the same account gives the same value, and the
        address cannot be read back or guessed without the server's secret key."""
        if self._key is None:
            from softbrik.core.platform import signing_key

            self._key = hmac.new(signing_key(self.rt), b"audit-subject", hashlib.sha256).digest()
        normalized = email.strip().lower().encode()
        return hmac.new(self._key, normalized, hashlib.sha256).hexdigest()

    def add(
        self,
        kind: str,
        actor: Actor,
        client_address: str,
        *,
        operation: str = "",
        selection: str = "",
        codes: list[str] | None = None,
        duration_ms: int = 0,
        token: str = "",
        subject: str | None = None,
        size: int = 0,
    ) -> None:
        """Buffer one entry, stamped with the runtime's clock."""
        codes = codes or []
        # A plain dict: building the model is left to the write, off the request's path.
        self._pending.append(
            dict(
                at=self.rt.clock.now(),
                team_id=actor.team_id,
                user_id=actor.user_id,
                admin=actor.admin,
                kind=kind[:16],
                operation=operation[:100],
                selection=selection[:255],
                client_address=client_address[:64],
                outcome=outcome_of(codes),
                denied=denied_of(codes),
                duration_ms=max(0, min(duration_ms, 2**31 - 1)),
                token=token[:8],
                subject=subject,
                size=size,
            )
        )
        if len(self._pending) >= self.rt.settings.audit_batch_size:
            self._spawn(self.flush())
        elif self._timer is None or self._timer.done():
            self._timer = self._spawn(self._flush_later())

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        # Entries are added when an operation has ended, outside any transaction: the write,
        # which inherits the caller's context, uses the plain connection.
        task = asyncio.create_task(work, name="softbrik:audit")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return task

    async def _flush_later(self) -> None:
        # The timer only waits; the write is a task of its own, so stopping the timer at
        # shutdown never interrupts a write.
        await asyncio.sleep(self.rt.settings.audit_flush_seconds)
        self._spawn(self.flush())

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Write every buffered entry now, in one INSERT; returns how many."""
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            # Entries of every team and of nobody's: platform work for row-level security.
            with platform_job("audit log: writes a batch of entries"):
                await AuditEntry.bulk_create([AuditEntry(**fields) for fields in batch])
        except Exception:
            log.exception("audit entries lost", extra={"entries": len(batch)})
            return 0
        return len(batch)

    async def settle(self) -> None:
        """Wait for the writes under way."""
        writes = [task for task in self._writes if task is not self._timer]
        await asyncio.gather(*writes, return_exceptions=True)

    async def close(self) -> None:
        """Finish the writes under way and write what is buffered (the app's shutdown)."""
        await self._stop_timer()
        await self.settle()
        await self.flush()

    async def discard(self) -> None:
        """Forget what is buffered, once the writes under way are done (tests, before a test's
        tables are emptied). A write is never cancelled: that could leave its transaction
        open on the connection."""
        await self._stop_timer()
        await self.settle()
        self._pending = []

    async def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None


async def prune(rt: Runtime) -> int:
    """Delete audit entries older than SOFTBRIK_AUDIT_RETENTION_DAYS, and failed sign-ins older
    than the throttling window; returns how many rows."""
    from softbrik.core.accounts.service import forget_failed_sign_ins

    cutoff = rt.clock.now() - timedelta(days=rt.settings.audit_retention_days)
    deleted: int = await AuditEntry.filter(at__lt=cutoff).delete()
    return deleted + await forget_failed_sign_ins(rt)
