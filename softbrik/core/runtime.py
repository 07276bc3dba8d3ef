"""The platform's services for one process, handed to every domain service function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from softbrik.core.clock import Clock
from softbrik.core.metrics import Metrics

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from softbrik.briks import BrikRegistry
    from softbrik.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    briks: BrikRegistry
    mailer: Any
    gateway: Any
    vault: Any = None
    blobs: Any = None
    events: Any = None
    """The process's `EventBus` (softbrik.core.events.bus)."""
    metrics: Metrics = field(default_factory=Metrics)
    audit: Any = None
    """The process's `AuditLog` (softbrik.core.security.audit)."""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def hasher(self) -> PasswordHasher:
        from softbrik.core.accounts.passwords import hasher

        return hasher(self.settings.argon2_time_cost, self.settings.argon2_memory_kib)

    def brik_price(self, key: str) -> int | None:
        brik = self.briks.get(key)
        return brik.manifest.price_cents if brik else None
