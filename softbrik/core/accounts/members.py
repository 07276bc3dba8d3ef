"""Reading a team's members with their seats, in two statements whatever the team's size."""

from __future__ import annotations

from softbrik.core.accounts.models import Seat, User


async def team_members(team_id: int) -> list[tuple[User, list[Seat]]]:
    """Everyone on the team, oldest first, each with their seats (oldest first)."""
    users = await User.filter(team_id=team_id).order_by("id")
    seats: dict[int, list[Seat]] = {}
    for seat in await Seat.filter(team_id=team_id).order_by("id"):
        seats.setdefault(seat.user_id, []).append(seat)
    return [(user, seats.get(user.id, [])) for user in users]
