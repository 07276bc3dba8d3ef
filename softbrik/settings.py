"""Settings, read from the environment (prefix SOFTBRIK_) with embedded defaults.

Every setting is listed in the README's table; keep the two in step.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOFTBRIK_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path(".softbrik")
    database_url: str | None = Field(
        default=None, description="Tortoise URL; default: SQLite file under data_dir"
    )
    migrate_database_url: str | None = Field(
        default=None,
        description="the tables' owner, for `softbrik migrate`; default: database_url",
    )
    row_level_security: bool = Field(
        default=False,
        description="PostgreSQL: set the tenant on every connection (softbrik/core/tenancy.py)",
    )
    redis_url: str | None = None
    redis_prefix: str = Field(
        default="softbrik:", description="prefix of every Redis key and channel"
    )
    smtp_url: str | None = Field(default=None, description="smtp://user:pass@host:port")
    mail_from: str = "Softbrik <billing@softbrik.example>"
    support_email: str = "support@softbrik.example"
    public_url: str = "http://127.0.0.1:8000"

    briks: Annotated[list[str] | None, NoDecode] = Field(
        default=None, description="allow-list of Brik keys"
    )
    disabled_briks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trace_hooks: bool = False

    test_clock: bool = False
    test_clock_start: datetime | None = None

    session_ttl_hours: int = 24 * 14
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    invitation_ttl_days: int = 7
    login_attempts_per_account: int = 5
    login_attempts_per_address: int = 20
    login_window_seconds: int = 300

    payment_gateway: Literal["local", "stripe"] = "local"
    stripe_api_key: str | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: str | None = None

    # Billing (R-BILL, R-CLOSE): the seller on invoices (R-BILL-19).
    seller_name: str = "Softbrik ApS"
    seller_address: str = "Vesterbrogade 1\n1620 København V\nDanmark"
    seller_cvr: str = "12345678"

    key_provider: Literal["local", "kms"] = "local"
    kms_key_id: str | None = None
    aws_endpoint_url: str | None = None
    aws_region: str = "eu-west-1"
    blob_store: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    secret_key: str | None = Field(
        default=None,
        description="signs short-lived links; default: a random key in <data_dir>/signing.key",
    )

    # GraphQL hardening (R-SEC-3, softbrik/schema/limits.py).
    max_query_depth: int = Field(default=12, ge=1, description="deepest selection accepted")
    max_aliases: int = Field(default=30, ge=0, description="most aliases in one operation")
    max_tokens: int = Field(default=2000, ge=1, description="most tokens in one document")
    max_field_repeats: int = Field(
        default=20, ge=1, description="most times one selection set may repeat a response name"
    )
    max_batch_operations: int = Field(
        default=0, ge=0, description="operations in one batched POST; 0 turns batching off"
    )
    max_page_size: int = 100

    # The web edge (R-SEC-1, softbrik/web/).
    ssl_certfile: Path | None = Field(default=None, description="PEM certificate: serve HTTPS")
    ssl_keyfile: Path | None = Field(default=None, description="PEM key of ssl_certfile")
    hsts_seconds: int = Field(default=63072000, ge=0, description="HSTS max-age; 0: no HSTS")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="CIDRs whose forwarding headers name the client"
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="other origins whose pages may open WebSockets"
    )

    event_retention_days: int = Field(default=90, description="days the event log keeps events")
    event_relay_interval_seconds: float = Field(
        default=1.0, description="how often the relay looks for unpublished events anyway"
    )
    event_retry_base_seconds: float = Field(
        default=1.0, description="first wait before a failed Brik event handler is retried"
    )
    event_handler_max_attempts: int = Field(
        default=10, description="attempts at one event before a Brik's handler skips it"
    )
    subscription_recheck_seconds: float = Field(
        default=15.0, description="how often a live subscription checks its sign-in and role"
    )
    max_subscriptions_per_connection: int = 20
    ws_ping_interval_seconds: float = Field(
        default=15.0, description="keep-alive pings on GraphQL WebSocket connections"
    )
    due_work_interval_seconds: float = Field(
        default=60, description="how often the server runs due work (seat removals, pruning)"
    )
    billing_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="teams billed at once by `softbrik billing run` and the server's billing job; "
        "each holds a database connection while it works (pool size: ?maxsize= in the URL)",
    )

    metrics_token: str | None = Field(
        default=None,
        description="bearer token for /metrics; without it /metrics is open outside production",
    )
    # The audit log and the threat detection (R-SEC-3).
    audit_retention_days: int = Field(default=90, description="days the audit log keeps entries")
    audit_flush_seconds: float = Field(
        default=1.0, description="longest wait before buffered audit entries are written"
    )
    audit_batch_size: int = Field(default=500, description="audit entries written per INSERT")
    security_scan_interval_seconds: float = Field(
        default=60, description="how often the server runs the threat detectors (0: never)"
    )
    security_window_seconds: int = Field(
        default=900, description="the recent stretch of the audit log each detector looks at"
    )
    security_baseline_days: int = Field(
        default=14, description="history a user's own baseline (requests, downloads) is taken from"
    )
    security_failed_logins_per_account: int = 10
    security_failed_logins_per_address: int = 50
    security_denied_per_user: int = Field(
        default=30, description="NOT_FOUND/FORBIDDEN answers in the window that mean enumeration"
    )
    security_rate_factor: float = 10.0
    security_rate_min_requests: int = 600
    security_download_factor: float = 10.0
    security_download_min_files: int = 100
    security_revoked_token_uses: int = 3

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("briks", "disabled_briks", "trusted_proxies", "allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """Operators write `SOFTBRIK_BRIKS=inventory,filestorage` (JSON lists work too)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [key.strip() for key in text.split(",") if key.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # a ValueError names the bad entry
        return value

    @cached_property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{self.data_dir / 'softbrik.sqlite3'}"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"
