"""A team's data in open formats (portability): the files of every Brik's `softbrik_export_team`,
gathered by the core, so an operator can hand a company everything it keeps with Softbrik."""

from __future__ import annotations

import inspect
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

from softbrik.core.errors import NotFound
from softbrik.core.runtime import Runtime

Content = bytes | AsyncIterator[bytes]
"""A file's bytes, or an async iterator of them for what is too large to hold in memory."""


async def export_team(rt: Runtime, team_id: int) -> dict[str, Content]:
    """Every Brik's files for the team, by name (each Brik names its own, e.g. `inventory/…`).

    A Brik that gives a name another Brik gave already is an error naming both: nothing is
    overwritten silently.
    """
    from softbrik.core.accounts.models import Team, TeamStatus

    if not await Team.exists(id=team_id, status__not=TeamStatus.CLOSED):
        raise NotFound(f"No team {team_id} (or it is closed).", field="team")
    platform = rt.extras.get("platform")
    files: dict[str, Content] = {}
    owners: dict[str, str] = {}
    for brik in rt.briks:
        found = rt.briks.call_one(brik, "softbrik_export_team", team_id=team_id, platform=platform)
        if inspect.isawaitable(found):
            found = await found
        for name, data in (found or {}).items():
            if name in files:
                raise ValueError(f"Briks {owners[name]!r} and {brik.key!r} both export {name}.")
            files[name], owners[name] = data, brik.key
    return files


async def write_zip(files: dict[str, Content], path: Path) -> None:
    """The files in one ZIP archive, in name order; a streamed file is read once, piece by
    piece, never whole in memory."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            data = files[name]
            if isinstance(data, bytes):
                archive.writestr(name, data)
                continue
            with archive.open(name, "w", force_zip64=True) as entry:
                async for piece in data:
                    entry.write(piece)
