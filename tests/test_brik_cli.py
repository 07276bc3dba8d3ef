"""Brik commands: `softbrik <key> …` from a Brik's `softbrik_cli` hook, with a ready platform."""

from softbrik.schema.ids import decode_any
from tests.test_briks import run_cli


async def test_a_briks_commands_are_mounted_under_its_key(example_briks_dir):
    done = run_cli(example_briks_dir, "--help")
    assert done.returncode == 0, done.stderr
    assert "notes" in done.stdout
    done = run_cli(example_briks_dir, "notes", "--help")
    assert done.returncode == 0, done.stderr
    assert "count" in done.stdout
    assert "Count a team's notes" in done.stdout


async def test_a_brik_command_gets_an_initialised_database_and_platform(
    example_briks_dir, gql, team_factory, softbrik_app, softbrik_db
):
    team = await team_factory.sign_up(["notes"])
    await gql.ok(
        'mutation { notesAdd(title: "a", body: "hemmelig") { title } }', token=team.admin.token
    )
    await gql.ok('mutation { notesAdd(title: "b", body: "xy") { title } }', token=team.admin.token)
    team_id = decode_any((await gql.ok("{ team { id } }", token=team.admin.token))["team"]["id"])[1]
    settings = softbrik_app.state.rt.settings
    done = run_cli(
        example_briks_dir,
        "notes",
        "count",
        "--team",
        str(team_id),
        SOFTBRIK_DATABASE_URL=softbrik_db.url,
        SOFTBRIK_DATA_DIR=str(settings.data_dir),
        SOFTBRIK_TEST_CLOCK="1",
        SOFTBRIK_TEST_CLOCK_START="2026-03-01T12:00:00+00:00",
    )
    assert done.returncode == 0, done.stderr
    # The bodies were opened with the team's key through the platform; the time is its clock's.
    assert "2 notes, 10 bytes, at 2026-03-01T12:00:00+00:00" in done.stdout
