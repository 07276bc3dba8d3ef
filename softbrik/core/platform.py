"""The core's implementation of `softbrik.plugin.Platform`: what Briks get from the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping
from datetime import datetime
from typing import Any

from softbrik.core.events.log import record
from softbrik.core.runtime import Runtime
from softbrik.plugin import DomainEvent


class CorePlatform:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def now(self) -> datetime:
        return self.rt.clock.now()

    async def emit(
        self,
        team_id: int,
        type: str,
        payload: Mapping[str, Any],
        actor_id: int | None = None,
    ) -> None:
        await record(self.rt.clock, team_id, type, payload, actor_id)

    def events(
        self,
        team_id: int,
        types: Collection[str] | None = None,
        after: int | None = None,
    ) -> AsyncIterator[DomainEvent]:
        stream: AsyncIterator[DomainEvent] = self.rt.events.stream(team_id, types, after)
        return stream

    async def seal(self, team_id: int, plaintext: bytes, purpose: str) -> bytes:
        sealed: bytes = await self.rt.vault.seal(team_id, plaintext, purpose)
        return sealed

    async def open(self, team_id: int, sealed: bytes, purpose: str) -> bytes:
        opened: bytes = await self.rt.vault.open(team_id, sealed, purpose)
        return opened
