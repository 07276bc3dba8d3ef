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
)


class TeamScoped(Model):
    """Base of every row of team data: the row carries its team (DESIGN.md, Tenancy)."""

    team: fields.ForeignKeyRelation[Any] = fields.ForeignKeyField(
        "accounts.Team", related_name=False, on_delete=fields.CASCADE, index=True
    )

    class Meta:
        abstract = True


def tortoise_config(db_url: str, apps: Iterable[DbApp]) -> dict[str, Any]:
    return {
        "connections": {"default": db_url},
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


async def init_db(db_url: str, apps: Iterable[DbApp]) -> None:
    await Tortoise.init(config=tortoise_config(db_url, apps))


async def close_db() -> None:
    await Tortoise.close_connections()
