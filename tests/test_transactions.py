"""Transactions survive a task cancelled while it opens one (a server cancels tasks: shutdown,
a closed WebSocket, the end of a billing worker's run)."""

from __future__ import annotations

import asyncio

from tortoise.transactions import in_transaction

from softbrik.core.accounts.models import Team


async def _opens_a_transaction() -> None:
    async with in_transaction():
        await Team.all().count()


async def test_a_task_cancelled_while_opening_a_transaction_frees_the_connection(softbrik_db):
    """Cancelled inside BEGIN, more times than the pool has connections: the lock (SQLite) or
    the connection (PostgreSQL's pool) it took goes back, and the next transaction opens."""
    for steps in (1, 1, 1, 1, 1, 1, 2, 3, 4, 5):  # one step on runs it into BEGIN's wait
        task = asyncio.create_task(_opens_a_transaction())
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await asyncio.wait_for(_opens_a_transaction(), timeout=10)
    await asyncio.wait_for(Team.all().count(), timeout=10)
