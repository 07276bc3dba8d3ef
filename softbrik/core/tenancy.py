"""Row-level security on PostgreSQL: the database's own wall between teams (R-ACC-4).

The services filter every query by the caller's team; this is the second wall behind them. Every
table with a `team_id` column (the core's and every Brik's, found from the Tortoise models) and
the team table itself get a policy that shows a row only when it belongs to the tenant of the
connection, or when the connection does platform work:

- the tenant and the platform flag live in context variables of the running task
  (`enter_team`, `platform_job`), so every task a request starts inherits them;
- each time a connection is taken from the pool (`asyncpg`'s `setup`, before any statement, also
  the one that starts a transaction) they are written into the connection's settings
  `softbrik.team_id` and `softbrik.platform`. Every checkout writes both, so nothing set for one
  request is left on the connection for the next (the pool also runs `RESET ALL` when a
  connection comes back);
- a request starts with neither (`no_tenant`): until sign-in has found the caller's team, the
  team tables show nothing. Sign-in, sign-up, log-in by e-mail, invitations, webhooks, the jobs,
  the event relay and the CLI are platform work and say so with `platform_job("why")`.

The policies are written by `softbrik migrate` (as the owner of the tables), and bind the
application only when it connects as another role without BYPASSRLS (README, Security): the
owner and superusers are not subject to them. `SOFTBRIK_ROW_LEVEL_SECURITY=1` makes the app set
the tenant on its connections; SQLite has no row-level security and ignores all of this.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "PLATFORM_SETTING",
    "SET_TENANCY",
    "TEAM_SETTING",
    "Tenancy",
    "apply_policies",
    "apply_to_connection",
    "current",
    "enter_team",
    "grant_sql",
    "no_tenant",
    "platform_job",
    "team_tables",
]

log = logging.getLogger("softbrik.tenancy")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

TEAM_SETTING = "softbrik.team_id"
PLATFORM_SETTING = "softbrik.platform"
POLICY = "softbrik_tenant"


@dataclass(frozen=True)
class Tenancy:
    """Whose rows the running task may see: one team's, all (platform work, with its reason),
    or none."""

    team_id: int | None = None
    platform: str | None = None


NOBODY = Tenancy()
_tenancy: contextvars.ContextVar[Tenancy | None] = contextvars.ContextVar(
    "softbrik_tenancy", default=None
)
default_tenancy = NOBODY
"""What a task that never set its tenancy gets. The test suite makes it platform work, so that
tests may read any row directly; the app itself sets `no_tenant` on every request it serves."""


def current() -> Tenancy:
    found = _tenancy.get()
    return default_tenancy if found is None else found


@contextmanager
def _entered(tenancy: Tenancy) -> Iterator[None]:
    token = _tenancy.set(tenancy)
    try:
        yield
    finally:
        _tenancy.reset(token)


class platform_job:  # lower case: it reads as what it marks, `with platform_job("billing")`
    """Run a block, or an async function (as a decorator), as platform work: every team's rows
    are visible and writable.

    Only for work that is not done for one team's caller: jobs, the event relay, the CLI,
    sign-up before the team exists, finding who signs in. `reason` names the work; each use is
    greppable.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self._tokens: list[contextvars.Token[Tenancy | None]] = []

    def __enter__(self) -> None:
        self._tokens.append(_tenancy.set(Tenancy(platform=self.reason)))

    def __exit__(self, *exc: object) -> None:
        _tenancy.reset(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        reason = self.reason

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            with platform_job(reason):
                return await fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def no_tenant() -> Any:
    """Run the block with no tenant: the team tables show nothing until `enter_team`."""
    return _entered(NOBODY)


def enter_team(team_id: int) -> None:
    """From here on, in this task and the tasks it starts, the tenant is `team_id`.

    Called once the caller is known (sign-in); the enclosing `no_tenant` block ends it.
    """
    _tenancy.set(Tenancy(team_id=int(team_id)))


# -- the connection side -------------------------------------------------------------------

SET_TENANCY = (
    f"SELECT set_config('{TEAM_SETTING}', $1, false), set_config('{PLATFORM_SETTING}', $2, false)"
)


async def apply_to_connection(connection: Any) -> None:
    """asyncpg pool `setup`: write the running task's tenancy into the connection's settings."""
    tenancy = current()
    team = "" if tenancy.team_id is None else str(tenancy.team_id)
    await connection.execute(SET_TENANCY, team, "on" if tenancy.platform else "")


def team_tables() -> list[tuple[str, str]]:
    """(table, column) of every table of team data in the loaded Tortoise apps: the team
    table by its `id`, every other by its `team_id` column."""
    from tortoise import Tortoise

    from softbrik.core.accounts.models import Team

    found: dict[str, str] = {}
    for models in Tortoise.apps.values():
        for model in models.values():
            meta = model._meta
            if meta.abstract:
                continue
            if model is Team:
                found[meta.db_table] = "id"
            elif "team_id" in meta.fields_db_projection.values():
                found[meta.db_table] = "team_id"
    return sorted(found.items())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def policy_sql(table: str, column: str) -> str:
    """The statements that put `table` behind the tenant wall (idempotent)."""
    visible = (
        f"(current_setting('{PLATFORM_SETTING}', true) = 'on' "
        f"OR {_quote(column)} = NULLIF(current_setting('{TEAM_SETTING}', true), '')::integer)"
    )
    t = _quote(table)
    return (
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY; "
        f"DROP POLICY IF EXISTS {POLICY} ON {t}; "
        f"CREATE POLICY {POLICY} ON {t} USING {visible} WITH CHECK {visible}"
    )


def grant_sql(role: str) -> str:
    """What the application's role may do: read and write rows, use the id sequences.
    Not own tables, not alter them, not bypass the policies."""
    r = _quote(role)
    return (
        f"GRANT USAGE ON SCHEMA public TO {r}; "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}; "
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {r}"
    )


async def apply_policies(connection: Any, app_role: str | None = None) -> list[str]:
    """Write the policies of every team table (and the app role's grants) through a Tortoise
    connection of the tables' owner; returns the tables now behind the wall."""
    tables = team_tables()
    script = "; ".join(policy_sql(table, column) for table, column in tables)
    if app_role:
        script += "; " + grant_sql(app_role)
    await connection.execute_script(script)
    log.info("row-level security applied", extra={"tables": len(tables), "app_role": app_role})
    return [table for table, _ in tables]
