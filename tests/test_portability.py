"""A team's data for the team: every Brik's `softbrik_export_team` files, gathered by the core."""

import zipfile
from types import SimpleNamespace

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


async def test_every_briks_files_are_gathered_for_the_team(tmp_path, team_factory):
    await team_factory.sign_up(["notes"])
    team = await Team.first()
    registry = load(
        tmp_path,
        exporter("alpha", {"alpha/a.csv": b"a"}),
        exporter("beta", {"beta/b.csv": b"b", "beta/c.json": b"c"}),
    )
    rt = SimpleNamespace(briks=registry, extras={})
    files = await export_team(rt, team.id)  # type: ignore[arg-type]
    tag = str(team.id).encode()
    assert files == {"alpha/a.csv": b"a" + tag, "beta/b.csv": b"b" + tag, "beta/c.json": b"c" + tag}


async def test_a_streamed_file_is_written_to_the_zip_piece_by_piece(tmp_path):
    async def pieces():
        for i in range(3):
            yield f"piece {i}\n".encode()

    archive = tmp_path / "team.zip"
    await write_zip({"b/streamed.txt": pieces(), "a/small.csv": b"x,y\n"}, archive)
    with zipfile.ZipFile(archive) as opened:
        assert opened.namelist() == ["a/small.csv", "b/streamed.txt"]
        assert opened.read("b/streamed.txt") == b"piece 0\npiece 1\npiece 2\n"


async def test_two_briks_giving_one_name_is_an_error_naming_both(tmp_path, team_factory):
    await team_factory.sign_up(["notes"])
    team = await Team.first()
    registry = load(
        tmp_path, exporter("alpha", {"same.csv": b"a"}), exporter("beta", {"same.csv": b"b"})
    )
    with pytest.raises(ValueError, match=r"'alpha' and 'beta' both export same\.csv"):
        await export_team(SimpleNamespace(briks=registry, extras={}), team.id)  # type: ignore[arg-type]


async def test_a_missing_team_is_not_found(softbrik_app, softbrik_reset):
    with pytest.raises(NotFound):
        await export_team(softbrik_app.state.rt, 999)
