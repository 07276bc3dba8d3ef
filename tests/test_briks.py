"""The Brik plugin system (DESIGN.md, Plugins; R-PROD-2, R-ACC-3)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import strawberry

from softbrik.briks import BrikLoadError, load_briks
from softbrik.plugin import BrikManifest, BrikSchema, hookimpl
from softbrik.schema.compose import build_schema
from softbrik.testing import settings_for_tests

ROOT = Path(__file__).parent.parent


def brik(key="extra", price=700, schema=None, **manifest):
    """A plugin object, as a Brik module would be."""

    class Plugin:
        @hookimpl
        def softbrik_brik(self):
            return BrikManifest(
                key=key, name=key.title(), description="", price_cents=price, **manifest
            )

        @hookimpl
        def softbrik_schema(self):
            return schema

    return Plugin()


def load(tmp_path, *plugins, **settings):
    return load_briks(
        settings_for_tests(tmp_path, briks=["notes"], **settings),
        extra=[(p, "test-dist") for p in plugins],
    )


async def test_the_catalog_lists_installed_briks_with_version_and_price(gql):
    data = await gql.ok("{ briks { key name description priceCents currency version } }")
    notes = [b for b in data["briks"] if b["key"] == "notes"]
    assert notes == [
        {
            "key": "notes",
            "name": "Notes",
            "description": "Team notes (an example Brik).",
            "priceCents": 700,
            "currency": "EUR",
            "version": "1.2.3",  # from the pip-installed distribution
        }
    ]


async def test_brik_fields_need_a_sign_in(gql):
    error = await gql.error("{ notes { notes { title } } }")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    error = await gql.error('mutation { notesAdd(title: "x") { title } }')
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_brik_fields_need_a_seat(gql, team_factory):
    """R-ACC-3: FORBIDDEN, naming the Brik, for a user without a seat."""
    team = await team_factory.sign_up([])
    for query in ["{ notes { who } }", 'mutation { notesAdd(title: "x") { title } }']:
        error = await gql.error(query, token=team.admin.token)
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["extensions"]["brik"] == "notes"


async def test_a_seat_opens_the_briks_queries_and_mutations(gql, team_factory):
    team = await team_factory.sign_up(["notes"])
    added = await gql.ok(
        'mutation { notesAdd(title: "Hej", body: "hemmelig") { title body } }',
        token=team.admin.token,
    )
    assert added["notesAdd"] == {"title": "Hej", "body": "hemmelig"}
    data = await gql.ok("{ notes { notes { title body } who } }", token=team.admin.token)
    assert data["notes"]["notes"] == [{"title": "Hej", "body": "hemmelig"}]
    # The Brik's context names the Brik and carries its per-request extras (softbrik_context).
    assert re.fullmatch(r"notes:\d+:hej", data["notes"]["who"])


async def test_brik_input_errors_keep_their_code_and_field(gql, team_factory):
    team = await team_factory.sign_up(["notes"])
    error = await gql.error('mutation { notesAdd(title: " ") { title } }', token=team.admin.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "title"


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (brik(price=500), "price 500"),
        (brik(price=1001), "price 1001"),
        (brik(key="Bad-Key"), "key 'Bad-Key'"),
        (brik(dependencies=("nosuch",)), "needs Briks that are not loaded: nosuch"),
        (brik(events=("WRONG_PREFIX",)), "event types must start with EXTRA_"),
        (brik(currency="USD"), "EUR only"),
        (brik(models="no.such.module"), "models module no.such.module"),
        (brik(key="notes"), "is provided by both"),
    ],
)
def test_a_bad_manifest_stops_start_up_naming_the_brik(tmp_path, plugin, message):
    with pytest.raises(BrikLoadError, match=re.escape(message)) as caught:
        load(tmp_path, plugin)
    assert caught.value.brik in ("extra", "Bad-Key", "notes")


def test_a_misspelt_hook_stops_start_up(tmp_path):
    class Plugin:
        @hookimpl
        def softbrik_brik(self):
            return BrikManifest(key="typo", name="Typo", description="", price_cents=700)

        @hookimpl
        def softbrik_evnet(self, event):  # misspelt
            pass

    with pytest.raises(BrikLoadError, match=r"'.*': has an invalid hook.*softbrik_evnet"):
        load(tmp_path, Plugin())


def test_a_failing_manifest_hook_names_the_brik(tmp_path):
    class Plugin:
        @hookimpl
        def softbrik_brik(self):
            raise RuntimeError("boom")

    with pytest.raises(BrikLoadError, match="softbrik_brik\\(\\) failed: RuntimeError\\('boom'\\)"):
        load(tmp_path, Plugin())


@strawberry.type
class ClashMutation:
    @strawberry.mutation
    def notes_add(self) -> bool:
        return True


@strawberry.type
class UnprefixedMutation:
    @strawberry.mutation
    def delete_everything(self) -> bool:
        return True


@strawberry.type
class CoreClashQuery:
    @strawberry.field
    def ping(self) -> bool:
        return True


def test_mutations_must_carry_the_briks_prefix(tmp_path):
    registry = load(tmp_path, brik(schema=BrikSchema(mutations=[UnprefixedMutation])))
    with pytest.raises(BrikLoadError, match="'deleteEverything' must be prefixed with 'extra'"):
        build_schema(registry)


def test_a_clash_names_both_briks(tmp_path):
    registry = load(tmp_path, brik(key="notesx", schema=BrikSchema(mutations=[ClashMutation])))
    with pytest.raises(BrikLoadError, match="must be prefixed with 'notesx'"):
        build_schema(registry)
    registry = load(tmp_path, brik(key="me", schema=BrikSchema(query=CoreClashQuery)))
    with pytest.raises(BrikLoadError, match="Query field 'me' clashes with the core's"):
        build_schema(registry)


def test_settings_enable_and_disable_briks(tmp_path):
    assert "notes" in load_briks(settings_for_tests(tmp_path))
    assert "notes" not in load_briks(settings_for_tests(tmp_path, disabled_briks=["notes"]))
    assert list(load_briks(settings_for_tests(tmp_path, briks=[])).briks) == []


def run_cli(example_briks_dir, *args, **env):
    environment = {
        **os.environ,
        "PYTHONPATH": str(example_briks_dir),
        "SOFTBRIK_LOG_JSON": "0",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "softbrik", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=example_briks_dir,
        check=False,
    )


def test_softbrik_plugins_lists_a_pip_installed_brik(example_briks_dir):
    done = run_cli(example_briks_dir, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    import json

    rows = {row["key"]: row for row in json.loads(done.stdout)}
    assert rows["notes"]["version"] == "1.2.3"
    assert rows["notes"]["price_cents"] == 700
    assert rows["notes"]["distribution"] == "softbrik-notes"
    assert "softbrik_schema" in rows["notes"]["hooks"]


def test_softbrik_schema_prints_the_briks_parts(example_briks_dir):
    done = run_cli(example_briks_dir, "schema")
    assert done.returncode == 0, done.stderr
    assert "notes: NotesQuery!" in done.stdout
    assert "notesAdd(" in done.stdout
    assert "signUp(input: SignUpInput!): AuthPayload!" in done.stdout


def test_a_blocked_brik_is_absent_from_the_schema(example_briks_dir):
    done = run_cli(example_briks_dir, "schema", SOFTBRIK_DISABLED_BRIKS='["notes"]')
    assert done.returncode == 0, done.stderr
    assert "notesAdd" not in done.stdout


BOUNDARY = re.compile(r"^\s*(?:from|import)\s+softbrik\b(?:\.(\w+))?", re.MULTILINE)


def test_briks_import_only_the_plugin_api():
    """DESIGN.md: a Brik imports from the core only softbrik.plugin (softbrik.testing in tests)."""
    sources = [*ROOT.glob("plugins/*/**/*.py"), *ROOT.glob("tests/example_briks/**/*.py")]
    assert sources
    offenders = []
    for path in sources:
        for match in BOUNDARY.finditer(path.read_text()):
            module = match.group(1)
            if module not in ("plugin", "testing"):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert offenders == []


def test_the_hook_specs_are_documented():
    from softbrik import hookspecs

    specs = [getattr(hookspecs, n) for n in dir(hookspecs) if n.startswith("softbrik_")]
    assert len(specs) >= 10
    for spec in specs:
        assert spec.__doc__ and len(spec.__doc__.strip()) > 40, spec.__name__


async def test_a_failing_startup_hook_names_the_brik(tmp_path):
    from softbrik.app import run_brik_hooks

    class Plugin:
        @hookimpl
        def softbrik_brik(self):
            return BrikManifest(key="flaky", name="Flaky", description="", price_cents=700)

        @hookimpl
        async def softbrik_startup(self, app):
            raise ConnectionError("no upstream")

    registry = load(tmp_path, Plugin())
    with pytest.raises(BrikLoadError, match=r"Brik 'flaky': softbrik_startup\(\) failed"):
        await run_brik_hooks(registry, "softbrik_startup", app=None, platform=None)
