"""A team's data for the team: every Brik's `softbrik_export_team` files, gathered by the core."""

import csv
import dataclasses
import io
import json
import zipfile

import pytest

from softbrik.core.accounts.models import Team
from softbrik.core.errors import NotFound
from softbrik.core.portability import export_team, write_zip
from softbrik.plugin import BrikManifest, hookimpl
from tests.test_briks import load


def exporter(key: str, files: dict[str, bytes]) -> object:
    class Plugin:
        @hookimpl
        def softbrik_brik(self) -> BrikManifest:
            return BrikManifest(key=key, name=key.title(), description="", price_cents=700)

        @hookimpl
        async def softbrik_export_team(self, team_id: int) -> dict[str, bytes]:
            return {name: data + str(team_id).encode() for name, data in files.items()}

    Plugin.__name__ = f"{key.title()}Brik"  # the registry names a plugin by its class
    return Plugin()


def with_briks(softbrik_app, registry):
    return dataclasses.replace(softbrik_app.state.rt, briks=registry, extras={})


async def test_every_briks_files_are_gathered_for_the_team(tmp_path, team_factory, softbrik_app):
    await team_factory.sign_up(["notes"])
    team = await Team.first()
    registry = load(
        tmp_path,
        exporter("alpha", {"alpha/a.csv": b"a"}),
        exporter("beta", {"beta/b.csv": b"b", "beta/c.json": b"c"}),
    )
    files = await export_team(with_briks(softbrik_app, registry), team.id)
    tag = str(team.id).encode()
    briks = {name: data for name, data in files.items() if not name.startswith("softbrik/")}
    assert briks == {"alpha/a.csv": b"a" + tag, "beta/b.csv": b"b" + tag, "beta/c.json": b"c" + tag}


def rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


async def test_the_core_exports_the_team_members_seats_and_invoices(
    team_factory, softbrik_app, gql
):
    """Portability before closure (R-CLOSE-3 deletes everything after): the team's own data,
    without a secret and without another team's."""
    team = await team_factory.sign_up(["notes"], name="Export ApS")
    member = await team_factory.invite(team, ["notes"], name="Mette")
    other = await team_factory.sign_up(["notes"])
    row = await Team.get(name="Export ApS")
    files = await export_team(softbrik_app.state.rt, row.id)

    about = json.loads(files["softbrik/team.json"])
    assert about["name"] == "Export ApS" and about["card"] == "VISA 4242"
    members = rows(files["softbrik/members.csv"])
    assert {m["email"] for m in members} == {team.admin.email, member.email}
    assert {m["role"] for m in members} == {"ADMIN", "MEMBER"}
    seats = rows(files["softbrik/seats.csv"])
    assert sorted(s["email"] for s in seats) == sorted([team.admin.email, member.email])
    assert {s["brik"] for s in seats} == {"notes"}
    invoices = rows(files["softbrik/invoices.csv"])
    assert invoices, "the first month is invoiced at sign-up (R-BILL-1)"
    listed = await gql.ok("{ team { invoices { number } } }", token=team.admin.token)
    numbers = [i["number"] for i in listed["team"]["invoices"]]
    assert sorted(i["number"] for i in invoices) == sorted(numbers)
    for invoice in invoices:
        assert files[f"softbrik/invoices/{invoice['number']}.pdf"].startswith(b"%PDF")

    everything = b"".join(data for data in files.values() if isinstance(data, bytes))
    assert other.admin.email.encode() not in everything
    assert other.canary.encode() not in everything
    for secret in ("argon2", "pm_card", "token"):
        assert secret.encode() not in everything


async def test_a_streamed_file_is_written_to_the_zip_piece_by_piece(tmp_path):
    async def pieces():
        for i in range(3):
            yield f"piece {i}\n".encode()

    archive = tmp_path / "team.zip"
    await write_zip({"b/streamed.txt": pieces(), "a/small.csv": b"x,y\n"}, archive)
    with zipfile.ZipFile(archive) as opened:
        assert opened.namelist() == ["a/small.csv", "b/streamed.txt"]
        assert opened.read("b/streamed.txt") == b"piece 0\npiece 1\npiece 2\n"


async def test_two_briks_giving_one_name_is_an_error_naming_both(
    tmp_path, team_factory, softbrik_app
):
    await team_factory.sign_up(["notes"])
    team = await Team.first()
    registry = load(
        tmp_path, exporter("alpha", {"same.csv": b"a"}), exporter("beta", {"same.csv": b"b"})
    )
    with pytest.raises(ValueError, match=r"'alpha' and 'beta' both export same\.csv"):
        await export_team(with_briks(softbrik_app, registry), team.id)


async def test_a_missing_team_is_not_found(softbrik_app, softbrik_reset):
    with pytest.raises(NotFound):
        await export_team(softbrik_app.state.rt, 999)
