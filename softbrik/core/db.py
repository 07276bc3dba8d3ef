"""Database: Tortoise configuration, the team-scoped model base, transactions.

The core's domains and every Brik are separate Tortoise apps, each with its own migrations
folder, so that a Brik can be installed, upgraded and removed on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise, fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

__all__ = ["CORE_APPS", "DbApp", "TeamScoped", "in_transaction", "tortoise_config"]


@dataclass(frozen=True)
class DbApp:
    """A Tortoise app: a label, its models module and its migrations package."""

    label: str
    models: str
    migrations: str


CORE_APPS: tuple[DbApp, ...] = (
    DbApp("accounts", "softbrik.core.accounts.models", "softbrik.core.accounts.migrations"),
    DbApp("crypto", "softbrik.core.crypto.models", "softbrik.core.crypto.migrations"),
    DbApp("events", "softbrik.core.events.models", "softbrik.core.events.migrations"),
    DbApp("billing", "softbrik.core.billing.models", "softbrik.core.billing.migrations"),
    DbApp("security", "softbrik.core.security.models", "softbrik.core.security.migrations"),
)


class TeamScoped(Model):
    """Base of every row of team data: the row carries its team (DESIGN.md, Tenancy)."""

    team: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "accounts.Team", related_name=False, on_delete=fields.CASCADE, db_index=True
    )

    class Meta:
        abstract = True


def is_postgres(db_url: str) -> bool:
    return db_url.startswith(("postgres://", "postgresql://", "asyncpg://", "psycopg://"))


def tortoise_config(
    db_url: str, apps: Iterable[DbApp], row_level_security: bool = False
) -> dict[str, Any]:
    connection: str | dict[str, Any] = db_url
    if row_level_security and is_postgres(db_url):
        from tortoise.backends.base.config_generator import expand_db_url

        from softbrik.core.tenancy import apply_to_connection

        # Each connection taken from the pool gets the running task's tenant first.
        connection = expand_db_url(db_url)
        connection["credentials"]["setup"] = apply_to_connection
    return {
        "connections": {"default": connection},
        "apps": {
            app.label: {
                "models": [app.models],
                "migrations": app.migrations,
                "default_connection": "default",
            }
            for app in apps
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _guard_sqlite_transactions() -> None:
    """Tortoise's SQLite transaction (1.1) takes the connection's lock, then awaits BEGIN; a
    task cancelled (or failing) in between never gives the lock back, and every later query of
    the process waits for ever (tests/test_transactions.py). This opens it the same way and
    gives the lock back on the way out. Remove when Tortoise does it itself."""
    from tortoise.backends.sqlite.client import SqliteTransactionContext
    from tortoise.connection import get_connections

    async def enter(self: Any) -> Any:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()
            raise
        return self.connection

    SqliteTransactionContext.__aenter__ = enter  # type: ignore[method-assign]


async def init_db(db_url: str, apps: Iterable[DbApp], row_level_security: bool = False) -> None:
    """Connect for the whole process: requests run in other tasks than the lifespan's.

    With `row_level_security` (PostgreSQL), every connection carries the tenant of the task
    that uses it (`softbrik.core.tenancy`)."""
    _guard_sqlite_transactions()
    await Tortoise.init(
        config=tortoise_config(db_url, apps, row_level_security), _enable_global_fallback=True
    )


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(
    db_url: str, apps: Iterable[DbApp], progress: Any = None, app_role: str | None = None
) -> None:
    """Apply every app's committed migrations (Tortoise's own migration engine).

    On PostgreSQL, then put every team table behind row-level security and, given the
    application's role, grant it the use of the tables (`softbrik.core.tenancy`)."""
    from tortoise.migrations.api.migrate import migrate as run

    from softbrik.core.tenancy import apply_policies

    apps = list(apps)
    try:
        await run(config=tortoise_config(db_url, apps), progress=progress)
        if is_postgres(db_url):
            await Tortoise.close_connections()
            await Tortoise.init(config=tortoise_config(db_url, apps))
            await apply_policies(Tortoise.get_connection("default"), app_role)
    finally:
        await Tortoise.close_connections()


async def pending_model_changes(db_url: str, apps: Iterable[DbApp]) -> list[str]:
    """Apps whose models differ from their committed migrations (empty when they agree)."""
    from tortoise.migrations.autodetector import MigrationAutodetector

    apps = list(apps)
    await Tortoise.init(config=tortoise_config(db_url, apps))
    try:
        detector = MigrationAutodetector(
            Tortoise.apps,
            {app.label: {"models": [app.models], "migrations": app.migrations} for app in apps},
        )
        writers = await detector.changes()
        return [writer.app_label for writer in writers]
    finally:
        await Tortoise.close_connections()


async def make_migrations(apps: Iterable[DbApp], name: str | None = None) -> list[str]:
    """Write a migration for every app whose models changed; returns the files written."""
    from tortoise.migrations.autodetector import MigrationAutodetector
    from tortoise.migrations.writer import format_migration_name

    apps = list(apps)
    await Tortoise.init(config=tortoise_config("sqlite://:memory:", apps))
    try:
        detector = MigrationAutodetector(
            Tortoise.apps,
            {app.label: {"models": [app.models], "migrations": app.migrations} for app in apps},
        )
        writers = await detector.changes()
    finally:
        await Tortoise.close_connections()
    written = []
    for writer in writers:
        if name:
            number = int(writer.name.split("_", 1)[0])
            writer.name = format_migration_name(number, name)
        written.append(str(writer.write()))
    return written
