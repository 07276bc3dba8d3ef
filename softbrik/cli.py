"""The `softbrik` command: serve, migrate, plugins, schema, and each Brik's own commands."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from softbrik.core.tenancy import platform_job
from softbrik.settings import Settings

console = Console(stderr=True)
log = logging.getLogger("softbrik.cli")


def settings() -> Settings:
    return Settings()


def registry(s: Settings) -> Any:
    from softbrik.briks import BrikLoadError, load_briks

    try:
        return load_briks(s)
    except BrikLoadError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise SystemExit(2) from exc


def all_apps(s: Settings) -> list[Any]:
    from softbrik.core.db import CORE_APPS

    return [*CORE_APPS, *registry(s).db_apps()]


@functools.cache
def loaded() -> tuple[Settings, Any]:
    """The settings and the Briks, once per process (Brik commands need both)."""
    s = settings()
    return s, registry(s)


def run_with_platform(fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
    """Run a Brik's async command with a ready platform (see `softbrik.plugin.platform_command`)."""
    from softbrik.app import make_runtime
    from softbrik.core import db

    s, briks = loaded()
    apps = [*db.CORE_APPS, *briks.db_apps()]

    async def run() -> Any:
        if s.is_sqlite:
            s.data_dir.mkdir(parents=True, exist_ok=True)
            await db.migrate(s.db_url, apps)
        await db.init_db(s.db_url, apps, s.row_level_security)
        try:
            rt = make_runtime(s, briks)
            with platform_job(f"cli: {fn.__name__}"):
                return await fn(rt.extras["platform"], *args, **kwargs)
        finally:
            await db.close_db()

    return asyncio.run(run())


class SoftbrikGroup(click.Group):
    """The core's commands, and `softbrik <key> …` for each Brik that adds commands."""

    def _brik_groups(self) -> dict[str, click.Group]:
        cached: dict[str, click.Group] | None = getattr(self, "_briks_cache", None)
        if cached is not None:
            return cached
        groups: dict[str, click.Group] = {}
        _, briks = loaded()
        for brik in briks:
            if "softbrik_cli" not in brik.hooks:
                continue
            group = click.Group(brik.key, help=f"{brik.manifest.name}: {brik.manifest.description}")
            briks.call_one(brik, "softbrik_cli", group=group)
            if group.commands and brik.key not in self.commands:
                groups[brik.key] = group
        self._briks_cache = groups
        return groups

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._brik_groups()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        return self._brik_groups().get(cmd_name)


@click.group(cls=SoftbrikGroup)
def main() -> None:
    """Softbrik: business apps (Briks) for small and medium companies."""
    s = settings()
    from softbrik.logs import configure

    configure(s.log_level, s.log_json)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--ssl-certfile",
    default=None,
    help="PEM certificate: serve HTTPS (R-SEC-1).",
    type=click.Path(),
)
@click.option("--ssl-keyfile", default=None, help="PEM private key of the certificate.")
def serve(host: str, port: int, ssl_certfile: str | None, ssl_keyfile: str | None) -> None:
    """Serve the API with uvicorn (an embedded SQLite database is migrated first).

    With a certificate and key (options, or SOFTBRIK_SSL_CERTFILE/_KEYFILE) it serves HTTPS
    only. Forwarding headers are read by the app itself, and only from
    SOFTBRIK_TRUSTED_PROXIES (softbrik/web/addresses.py), so uvicorn's own are off."""
    import uvicorn

    from softbrik.app import create_app

    s = settings()
    certfile = ssl_certfile or s.ssl_certfile
    keyfile = ssl_keyfile or s.ssl_keyfile
    if bool(certfile) != bool(keyfile):
        raise click.UsageError("HTTPS needs both a certificate and its key.")
    app = create_app(s)
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        log_config=None,
        proxy_headers=False,
    )


@main.command()
def migrate() -> None:
    """Apply every pending migration of the core and of every loaded Brik."""
    from softbrik.core.db import migrate as run

    s = settings()
    if s.is_sqlite:
        s.data_dir.mkdir(parents=True, exist_ok=True)

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_start":
            console.print(f"applying {app_label}.{name} …", end="")
        elif event == "apply_done":
            console.print(" [green]ok[/green]")

    owner_url = s.migrate_database_url or s.db_url
    app_role = database_user(s.db_url) if owner_url != s.db_url else None
    asyncio.run(run(owner_url, all_apps(s), progress=progress, app_role=app_role))
    console.print("[green]database is up to date[/green]")
    if app_role:
        console.print(f"granted {app_role} the use of the tables, behind row-level security")


def database_user(url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(url).username


@main.command()
@click.option("--name", default=None, help="A name for the new migrations.")
def makemigrations(name: str | None) -> None:
    """Write migrations for models that changed (core apps and loaded Briks)."""
    from softbrik.core.db import make_migrations

    written = asyncio.run(make_migrations(all_apps(settings()), name))
    for path in written:
        console.print(f"created {path}")
    if not written:
        console.print("no changes")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List the Briks that loaded: key, name, version, price and hooks."""
    rows = [
        {
            "key": b.key,
            "name": b.manifest.name,
            "version": b.manifest.version,
            "price_cents": b.manifest.price_cents,
            "distribution": b.distribution,
            "hooks": b.hooks,
        }
        for b in registry(settings())
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("key", "name", "version", "price", "distribution", "hooks")
    for row in rows:
        table.add_row(
            row["key"],
            row["name"],
            row["version"],
            f"{row['price_cents'] / 100:.2f} EUR",
            row["distribution"],
            ", ".join(row["hooks"]),
        )
    Console().print(table)


@main.command()
def schema() -> None:
    """Print the GraphQL schema (SDL) with every loaded Brik's parts."""
    from softbrik.schema.compose import build_schema

    sys.stdout.write(build_schema(registry(settings())).as_str() + "\n")


def run_with_runtime(work: Any) -> Any:
    """Run `await work(rt)` with the database connected and a runtime like the server's."""
    from softbrik.app import make_runtime
    from softbrik.core import db

    s = settings()
    briks = registry(s)

    async def run() -> Any:
        await db.init_db(s.db_url, [*db.CORE_APPS, *briks.db_apps()], s.row_level_security)
        try:
            with platform_job("cli"):  # operator commands work across teams
                return await work(make_runtime(s, briks))
        finally:
            await db.close_db()

    return asyncio.run(run())


@main.group()
def teams() -> None:
    """A team's data, for the team."""


@teams.command("export")
@click.argument("team_id", type=int)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def teams_export(team_id: int, output: Path) -> None:
    """Write a ZIP of every Brik's files for a team (its data in open formats)."""
    from softbrik.core.portability import export_team, write_zip

    async def work(rt: Any) -> int:
        files = await export_team(rt, team_id)
        await write_zip(files, output)  # streamed files read from the database and blobs
        return len(files)

    count: int = run_with_runtime(work)
    log.info("team exported", extra={"team_id": team_id, "files": count})
    console.print(f"{count} files written to {output}")


@main.group()
def events() -> None:
    """The event log."""


@events.command("prune")
def events_prune() -> None:
    """Delete events older than SOFTBRIK_EVENT_RETENTION_DAYS (the server does this daily)."""
    from softbrik.core.events.jobs import prune_events
    from softbrik.core.jobs import run_once

    console.print("pruning the event log …")
    deleted = run_with_runtime(lambda rt: run_once("prune_events", prune_events, rt))
    console.print(f"[green]deleted {deleted} events[/green]")


@main.group()
def seats() -> None:
    """Seats of every team."""


@seats.command("end-due")
def seats_end_due() -> None:
    """Tell SEAT_REMOVED for every seat whose scheduled removal has taken effect."""
    from softbrik.core.accounts.seats import end_due_seats
    from softbrik.core.jobs import run_once

    console.print("ending seats whose removal is due …")
    ended = run_with_runtime(lambda rt: run_once("end_due_seats", end_due_seats, rt))
    console.print(f"[green]{ended} seats ended[/green]")


@main.group()
def billing() -> None:
    """Billing work: renewals, retries, reminders, closures (R-BILL, R-CLOSE)."""


@billing.command("run")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Teams billed at once (default: SOFTBRIK_BILLING_WORKERS).",
)
def billing_run(quiet: bool, workers: int | None) -> None:
    """Do all billing work that is due now, once (safe from cron, even two runs at once)."""
    from rich.progress import Progress

    from softbrik.core.billing.job import RunReport, run_due

    async def work(rt: Any) -> RunReport:
        count = workers or rt.settings.billing_workers
        if quiet:
            return await run_due(rt, workers=count)
        with Progress(console=console) as bar:
            task = bar.add_task("billing", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await run_due(rt, progress=progress, workers=count)

    report: RunReport = run_with_runtime(work)
    console.print(f"{report.teams} teams, {report.steps} steps, {len(report.failures)} failures")
    for team_id, message in report.failures:
        console.print(f"[red]team {team_id}:[/red] {message}")
    if report.failures:
        raise SystemExit(1)


@billing.command("credit-note")
@click.argument("number")
@click.option("--reason", required=True, help="Why the invoice is credited (on the note).")
def billing_credit_note(number: str, reason: str) -> None:
    """Credit a finalized invoice in full with a credit note of its own number (R-BILL-18)."""
    from softbrik.core.billing.service import issue_credit_note

    async def work(rt: Any) -> Any:
        return await issue_credit_note(rt, number, reason)

    note = run_with_runtime(work)
    console.print(f"[green]credit note {note.number} credits {number}[/green]")


@main.group()
def keys() -> None:
    """Team data keys and the master key that wraps them (R-SEC-2)."""


@keys.command("rotate")
@click.option(
    "--to-key-id",
    default=None,
    help="KMS: the key to move every data key to (then set SOFTBRIK_KMS_KEY_ID to it).",
)
@click.option(
    "--retire-old",
    is_flag=True,
    help="Local key file: delete the older master keys once nothing is wrapped under them.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def keys_rotate(to_key_id: str | None, retire_old: bool, quiet: bool) -> None:
    """Re-wrap every team's data key under a new master key; data is not re-encrypted.

    Safe to run again after an interruption: it finishes the earlier run first.
    """
    from rich.progress import Progress

    from softbrik.core.crypto import KmsKeyProvider, Vault
    from softbrik.core.crypto.rotation import RotationError, RotationReport, rotate_keys

    s = settings()
    if to_key_id and s.key_provider != "kms":
        raise click.UsageError("--to-key-id is for SOFTBRIK_KEY_PROVIDER=kms")
    if s.key_provider == "kms" and not to_key_id:
        raise click.UsageError(
            "KMS rotates a key's material itself (EnableKeyRotation); to move every data key "
            "to another KMS key, name it with --to-key-id"
        )

    async def work(rt: Any) -> RotationReport:
        vault = rt.vault
        if to_key_id:
            provider = KmsKeyProvider(to_key_id, s.aws_endpoint_url, s.aws_region)
            vault = Vault(provider, clock=rt.clock)
        if quiet:
            return await rotate_keys(vault, retire_old=retire_old)
        with Progress(console=console) as bar:
            task = bar.add_task("re-wrapping team keys", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return await rotate_keys(vault, retire_old=retire_old, progress=progress)

    try:
        report: RotationReport = run_with_runtime(work)
    except RotationError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise SystemExit(1) from exc
    if report.resumed:
        console.print("finished an interrupted rotation")
    console.print(
        f"[green]{report.rewrapped} team keys re-wrapped under {report.master}[/green]"
        f" ({report.skipped} changed meanwhile)"
    )
    if report.retired:
        console.print(f"retired master key versions {', '.join(map(str, report.retired))}")


@main.group()
def security() -> None:
    """The audit log and the threat detection (R-SEC-3)."""


@security.command("scan")
def security_scan() -> None:
    """Run every threat detector over the recent audit log once (the server does it too)."""
    from softbrik.core.jobs import run_once
    from softbrik.core.security.findings import scan

    console.print("scanning the audit log …")
    made = run_with_runtime(lambda rt: run_once("security_scan", scan, rt))
    console.print(f"[green]{made} new findings[/green]")


@security.command("prune")
def security_prune() -> None:
    """Delete audit entries older than SOFTBRIK_AUDIT_RETENTION_DAYS and failed sign-ins older
    than SOFTBRIK_LOGIN_WINDOW_SECONDS (the server does it too)."""
    from softbrik.core.jobs import run_once
    from softbrik.core.security.audit import prune

    console.print("pruning the audit log …")
    deleted = run_with_runtime(lambda rt: run_once("prune_audit", prune, rt))
    console.print(f"[green]deleted {deleted} audit entries and failed sign-ins[/green]")


@security.command("findings")
@click.option("--team", "team_id", type=int, default=None, help="Only this team's (its id).")
@click.option("--type", "kind", default=None, help="Only this type, e.g. CREDENTIAL_STUFFING.")
@click.option("--severity", type=click.Choice(["LOW", "MEDIUM", "HIGH"]), default=None)
@click.option(
    "--status", type=click.Choice(["OPEN", "RESOLVED"]), default=None, help="Default: both."
)
@click.option("--since", type=click.DateTime(), default=None, help="Raised at or after (UTC).")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def security_findings(
    team_id: int | None,
    kind: str | None,
    severity: str | None,
    status: str | None,
    since: Any,
    limit: int,
    as_json: bool,
) -> None:
    """Findings across every team, newest first (staff). Evidence holds counts and client
    addresses, never customer content."""
    from softbrik.core.clock import to_utc
    from softbrik.core.security.findings import all_findings, summary

    async def work(rt: Any) -> list[dict[str, Any]]:
        rows = await all_findings(
            team_id=team_id,
            kind=kind.upper() if kind else None,
            severity=severity,
            status=status,
            since=to_utc(since) if since else None,
            limit=limit,
        )
        return [
            {
                "id": row.id,
                "team_id": row.team_id,
                "user_id": row.user_id,
                "type": row.kind,
                "severity": row.severity.value,
                "status": row.status.value,
                "created_at": row.created_at.isoformat(),
                "last_seen_at": row.last_seen_at.isoformat(),
                "occurrences": row.occurrences,
                "action": row.action,
                "evidence": row.evidence,
                "summary": summary(row),
            }
            for row in rows
        ]

    rows = run_with_runtime(work)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, separators=(",", ":")))
        return
    table = Table("id", "team", "user", "type", "severity", "status", "raised", "seen", "summary")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["team_id"] or "-"),
            str(row["user_id"] or "-"),
            row["type"],
            row["severity"],
            row["status"],
            row["created_at"][:19],
            str(row["occurrences"]),
            row["summary"],
        )
    Console().print(table)
