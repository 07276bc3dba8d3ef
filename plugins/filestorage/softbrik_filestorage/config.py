"""The File storage Brik's settings, read from the environment (prefix SOFTBRIK_FILESTORAGE_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

GIB = 1024**3
MIB = 1024**2


class FilestorageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOFTBRIK_FILESTORAGE_", extra="ignore")

    quota_bytes: int = 100 * GIB
    """Each team's quota (the one plan's); versions, trash and uploads in progress count."""
    nearly_full_percent: int = 90
    trash_days: int = 30
    upload_idle_hours: int = 24
    chunk_bytes: int = 8 * MIB
    """Size of every chunk of a resumable upload but the last."""
    link_minutes: int = 5
    """How long a download link from GraphQL works."""
    lock_minutes: int = 30
    """Default and longest time a lock holds without being renewed."""
    cleanup_minutes: int = 10
    """How often the server purges old trash and idle uploads (0: never; use the command)."""


CONFIG = FilestorageSettings()
