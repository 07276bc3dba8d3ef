"""Finding, validating and registering Briks (DESIGN.md, Plugins).

Installed: the process found the Brik's entry point. Enabled: the settings let it load.
Assigned: a user has a seat for it (billing's business, not this module's).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from softbrik import hookspecs
from softbrik.core.db import DbApp
from softbrik.plugin import (
    KEY_PATTERN,
    MAX_PRICE_CENTS,
    MIN_PRICE_CENTS,
    BrikManifest,
    BrikSchema,
)
from softbrik.settings import Settings

ENTRY_POINT_GROUP = "softbrik.briks"
log = logging.getLogger("softbrik.briks")


class BrikLoadError(Exception):
    """A Brik could not be loaded; the message names it. Start-up stops."""

    def __init__(self, brik: str, message: str) -> None:
        super().__init__(f"Brik {brik!r}: {message}")
        self.brik = brik


@dataclass
class Brik:
    manifest: BrikManifest
    plugin: object
    distribution: str
    schema: BrikSchema | None = None
    hooks: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.manifest.key

    @property
    def db_app(self) -> DbApp | None:
        models = self.manifest.models
        if not models:
            return None
        migrations = self.manifest.migrations or models.rsplit(".", 1)[0] + ".migrations"
        return DbApp(self.key, models, migrations)


@dataclass
class BrikRegistry:
    """The Briks this process loaded, and the plugin manager that calls their hooks."""

    pm: pluggy.PluginManager
    briks: dict[str, Brik]

    def __iter__(self) -> Any:
        return iter(self.briks.values())

    def __contains__(self, key: object) -> bool:
        return key in self.briks

    def get(self, key: str) -> Brik | None:
        return self.briks.get(key)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def call_one(self, brik: Brik, hook: str, **kwargs: Any) -> Any:
        """Call one Brik's implementation of a hook (None when it has none)."""
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin is brik.plugin:
                return impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
        return None

    def db_apps(self) -> list[DbApp]:
        return [app for brik in self for app in [brik.db_app] if app is not None]


def plugin_manager(trace: bool = False) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("softbrik")
    pm.add_hookspecs(hookspecs)
    if trace:
        pm.trace.root.setwriter(lambda message: log.info("hook %s", message.rstrip()))
        pm.enable_tracing()
    return pm


def discover(settings: Settings) -> list[EntryPoint]:
    """The enabled Briks' entry points, in a stable order."""
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    enabled = []
    for ep in found:
        if settings.briks is not None and ep.name not in settings.briks:
            continue
        if ep.name in settings.disabled_briks:
            continue
        enabled.append(ep)
    return enabled


def load_briks(
    settings: Settings, extra: Sequence[tuple[ModuleType | object, str]] = ()
) -> BrikRegistry:
    """Load, validate and register every enabled Brik (and `extra` (plugin, distribution) pairs).

    Raises `BrikLoadError` naming the Brik on any problem, so no half-built app ever starts.
    """
    pm = plugin_manager(settings.trace_hooks)
    candidates: list[tuple[str, object, str, bool]] = []
    for ep in discover(settings):
        dist = ep.dist.name if ep.dist else "?"
        try:
            module = ep.load()
        except Exception as exc:
            raise BrikLoadError(ep.name, f"cannot be imported from {ep.value}: {exc}") from exc
        candidates.append((ep.name, module, dist, True))
    for plugin, dist in extra:
        candidates.append((getattr(plugin, "__name__", type(plugin).__name__), plugin, dist, False))

    briks: dict[str, Brik] = {}
    for name, plugin, dist, from_entry_point in candidates:
        try:
            pm.register(plugin, name=f"brik:{name}")
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise BrikLoadError(name, f"has an invalid hook: {exc}") from exc
        except ValueError as exc:
            raise BrikLoadError(name, str(exc)) from exc
        manifest = _call_one(pm, plugin, "softbrik_brik", name)
        if not isinstance(manifest, BrikManifest):
            raise BrikLoadError(name, "softbrik_brik() must return a BrikManifest")
        manifest = replace(manifest, version=_version(dist, manifest.version))
        _validate_manifest(name if from_entry_point else manifest.key, manifest, from_entry_point)
        if manifest.key in briks:
            other = briks[manifest.key].distribution
            raise BrikLoadError(manifest.key, f"is provided by both {other} and {dist}")
        schema = _call_one(pm, plugin, "softbrik_schema", manifest.key)
        if schema is not None and not isinstance(schema, BrikSchema):
            raise BrikLoadError(manifest.key, "softbrik_schema() must return a BrikSchema")
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        briks[manifest.key] = Brik(manifest, plugin, dist, schema, hooks)

    for brik in briks.values():
        missing = [dep for dep in brik.manifest.dependencies if dep not in briks]
        if missing:
            raise BrikLoadError(brik.key, f"needs Briks that are not loaded: {', '.join(missing)}")
    return BrikRegistry(pm, briks)


def _call_one(pm: pluggy.PluginManager, plugin: object, hook: str, brik: str) -> Any:
    for impl in getattr(pm.hook, hook).get_hookimpls():
        if impl.plugin is plugin:
            try:
                return impl.function()
            except Exception as exc:
                raise BrikLoadError(brik, f"{hook}() failed: {exc!r}") from exc
    return None


def _version(distribution: str, declared: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return declared


def _validate_manifest(name: str, manifest: BrikManifest, from_entry_point: bool) -> None:
    key = manifest.key
    if not KEY_PATTERN.match(key):
        raise BrikLoadError(
            name, f"key {key!r} must be 2 to 30 lowercase letters and digits, starting a letter"
        )
    if from_entry_point and key != name:
        raise BrikLoadError(name, f"declares key {key!r} but its entry point is named {name!r}")
    if not manifest.name.strip():
        raise BrikLoadError(key, "has no name")
    price = manifest.price_cents
    if not isinstance(price, int) or not MIN_PRICE_CENTS <= price <= MAX_PRICE_CENTS:
        raise BrikLoadError(
            key,
            f"price {price!r} must be whole cents from {MIN_PRICE_CENTS} to {MAX_PRICE_CENTS}"
            " per user per month (R-PROD-2)",
        )
    if manifest.currency != "EUR":
        raise BrikLoadError(key, "prices are in EUR only (R-BILL-4)")
    prefix = key.upper() + "_"
    wrong = [event for event in manifest.events if not event.startswith(prefix)]
    if wrong:
        raise BrikLoadError(key, f"event types must start with {prefix}: {', '.join(wrong)}")
    if manifest.models:
        try:
            importlib.import_module(manifest.models)
        except Exception as exc:
            raise BrikLoadError(key, f"models module {manifest.models} fails: {exc!r}") from exc


def brik_keys(briks: Iterable[Brik]) -> list[str]:
    return [brik.key for brik in briks]
