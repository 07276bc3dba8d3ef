"""Seats: which member uses which Brik, and until when (R-ACC-2, -3, R-BILL-6, -14, -15).

Every change runs in one transaction that the caller may extend (billing charges an added seat
in the same transaction, so a declined charge leaves nothing added: R-BILL-20).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from softbrik.core.accounts.models import Role, Seat, Team, User
from softbrik.core.accounts.seat_events import (
    SEAT_ADDED,
    SEAT_REMOVAL_SCHEDULED,
    SEAT_REMOVED,
    USER_ACCESS_ENDED,
    record_seat_event,
)
from softbrik.core.accounts.service import revoke_sessions
from softbrik.core.calendar import BillingCalendar
from softbrik.core.clock import local_date
from softbrik.core.errors import BadUserInput, Conflict, NotFound
from softbrik.core.events.log import record
from softbrik.core.runtime import Runtime

SeatListener = Callable[[Runtime, Team, Seat], Awaitable[None]]


def team_calendar(team: Team) -> BillingCalendar:
    return BillingCalendar(team.anchor_day, team.calendar_from)


def team_today(rt: Runtime, team: Team) -> date:
    return local_date(rt.clock.now(), team.timezone)


def active_seats(today: date) -> Q:
    """Seats in use on a local date: started, and not past a pending removal."""
    return Q(starts_on__lte=today) & (Q(ends_on__isnull=True) | Q(ends_on__gt=today))


async def team_member(team: Team, user_id: int) -> User:
    """A user of this team, or NOT_FOUND exactly as for an id that does not exist."""
    user = await User.get_or_none(id=user_id, team_id=team.id)
    if user is None:
        raise NotFound("No such user.", field="userId")
    return user


def check_brik(rt: Runtime, brik: str) -> str:
    if brik not in rt.briks:
        raise BadUserInput(f"Unknown Brik: {brik}.", field="brik")
    return brik


def check_still_member(user: User, today: date) -> None:
    if user.access_ended_at is not None or (
        user.removal_on is not None and user.removal_on <= today
    ):
        raise Conflict("This person is no longer a member of the team.", field="userId")


async def active_brik_keys(rt: Runtime, user: User, team: Team) -> set[str]:
    """The Briks this user may use right now (R-ACC-3)."""
    if user.access_ended_at is not None or team.status in ("SUSPENDED", "CLOSED"):
        return set()
    today = team_today(rt, team)
    keys = await Seat.filter(active_seats(today), user_id=user.id).values_list("brik", flat=True)
    return {str(key) for key in keys}


async def assign_brik(
    rt: Runtime, team: Team, user_id: int, brik: str, on_added: SeatListener | None = None
) -> Seat:
    """Give a member a Brik from today (R-ACC-2). Undoes a pending removal at no cost (R-BILL-14).

    Billing charges a new seat in the transaction (R-BILL-5); `on_added` runs after, in it too.
    """
    brik = check_brik(rt, brik)
    today = team_today(rt, team)
    async with in_transaction():
        user = await team_member(team, user_id)
        # One assignment per member at a time: a second one waits, then finds the seat.
        await User.filter(id=user.id).select_for_update().first()
        check_still_member(user, today)
        if user.removal_on is not None:
            raise Conflict("This person's removal is pending; restore them first.", field="userId")
        current = (
            await Seat.filter(active_seats(today), user_id=user.id, brik=brik)
            .select_for_update()
            .first()
        )
        if current is not None and current.ends_on is None:
            raise Conflict(f"{user.name} has {brik} already.", field="brik")
        if current is not None:
            current.ends_on = None
            await current.save(update_fields=["ends_on"])
            current.user = user
            # A removal undone after the cut-off: the drafted renewal now has the seat.
            from softbrik.core.billing.service import recompose_draft

            await recompose_draft(rt, team)
            return current
        seat = await Seat.create(
            team=team, user=user, brik=brik, starts_on=today, created_at=rt.clock.now()
        )
        seat.user = user
        # R-BILL-5, -13, -15: charged at once, prorated; a decline rolls the seat back.
        from softbrik.core.billing.service import charge_added_seats

        await charge_added_seats(rt, team, user, [seat])
        if on_added is not None:
            await on_added(rt, team, seat)
        await record_seat_event(rt, team, SEAT_ADDED, seat, user)
    return seat


async def unassign_brik(rt: Runtime, team: Team, user_id: int, brik: str) -> Seat:
    """Take a Brik from a member at the end of the period (R-BILL-6, -14, -15)."""
    brik = check_brik(rt, brik)
    today = team_today(rt, team)
    async with in_transaction():
        user = await team_member(team, user_id)
        seat = (
            await Seat.filter(active_seats(today), user_id=user.id, brik=brik)
            .select_for_update()
            .first()
        )
        if seat is None:
            raise NotFound(f"{user.name} has no {brik} seat.", field="brik")
        if seat.ends_on is not None:
            raise Conflict("This seat's removal is scheduled already.", field="brik")
        seat.ends_on = team_calendar(team).removal_ends_on(today)
        await seat.save(update_fields=["ends_on"])
        seat.user = user
        await record_seat_event(rt, team, SEAT_REMOVAL_SCHEDULED, seat, user)
    return seat


async def _other_admins(team: Team, user: User, today: date) -> bool:
    return (
        await User.filter(team_id=team.id, role=Role.ADMIN, access_ended_at__isnull=True)
        .exclude(id=user.id)
        .filter(Q(removal_on__isnull=True) | Q(removal_on__gt=today))
        .exists()
    )


async def remove_user(rt: Runtime, team: Team, user_id: int) -> User:
    """Remove a member at the end of the period; billed until then (R-BILL-6, -14)."""
    today = team_today(rt, team)
    async with in_transaction():
        user = await team_member(team, user_id)
        await User.filter(id=user.id).select_for_update().first()
        check_still_member(user, today)
        if user.removal_on is not None:
            raise Conflict("This person's removal is scheduled already.", field="userId")
        if user.role == Role.ADMIN and not await _other_admins(team, user, today):
            raise Conflict("The team's last administrator cannot be removed.", field="userId")
        user.removal_on = team_calendar(team).removal_ends_on(today)
        await user.save(update_fields=["removal_on"])
        await _schedule_seat_removals(rt, team, user, today)
    return user


async def restore_user(rt: Runtime, team: Team, user_id: int) -> User:
    """Undo a pending removal, at no cost, any time before it takes effect (R-BILL-6, -14)."""
    today = team_today(rt, team)
    async with in_transaction():
        user = await team_member(team, user_id)
        removal_on = user.removal_on
        if removal_on is None:
            raise Conflict("This person has no pending removal.", field="userId")
        if removal_on <= today:
            raise Conflict("The removal has taken effect already.", field="userId")
        await Seat.filter(user_id=user.id, ends_on=removal_on).update(ends_on=None)
        user.removal_on = None
        user.access_ended_at = None
        await user.save(update_fields=["removal_on", "access_ended_at"])
        # Undone after the cut-off: the drafted renewal now has the seats (R-BILL-14, -15).
        from softbrik.core.billing.service import recompose_draft

        await recompose_draft(rt, team)
    return user


async def end_access_now(rt: Runtime, team: Team, user_id: int) -> User:
    """End a member's access at once; the period stays charged (R-BILL-6)."""
    today = team_today(rt, team)
    async with in_transaction():
        user = await team_member(team, user_id)
        if user.access_ended_at is not None:
            raise Conflict("This person's access has ended already.", field="userId")
        if user.role == Role.ADMIN and not await _other_admins(team, user, today):
            raise Conflict("The team's last administrator cannot be locked out.", field="userId")
        if user.removal_on is None:
            user.removal_on = team_calendar(team).removal_ends_on(today)
            await _schedule_seat_removals(rt, team, user, today)
        user.access_ended_at = rt.clock.now()
        await user.save(update_fields=["removal_on", "access_ended_at"])
        await revoke_sessions(rt, user.id)
        # Not a billing event: it tells live subscriptions to check their access again.
        await record(rt.clock, team.id, USER_ACCESS_ENDED, {"user_id": user.id})
    return user


async def _schedule_seat_removals(rt: Runtime, team: Team, user: User, today: date) -> None:
    """End the user's open seats on `user.removal_on`, telling each (R-BILL-6)."""
    seats = await Seat.filter(active_seats(today), user_id=user.id, ends_on__isnull=True).order_by(
        "id"
    )
    for seat in seats:
        seat.ends_on = user.removal_on
        await seat.save(update_fields=["ends_on"])
        await record_seat_event(rt, team, SEAT_REMOVAL_SCHEDULED, seat, user)


async def end_due_seats(rt: Runtime) -> int:
    """Tell `SEAT_REMOVED` for every seat whose scheduled removal has taken effect.

    Due work: run from a job (and by whatever moves the test clock). Each seat is told once
    (`ended_at` marks it), in the same transaction. Returns how many seats ended.
    """
    now = rt.clock.now()
    # Time zones differ per team, so pick candidates by the earliest possible local date.
    candidates = await Seat.filter(
        ends_on__isnull=False, ended_at__isnull=True, ends_on__lte=now.date() + timedelta(days=1)
    ).values_list("id", flat=True)
    ended = 0
    for seat_id in candidates:
        async with in_transaction():
            seat = await Seat.filter(id=seat_id, ended_at__isnull=True).select_for_update().first()
            if seat is None or seat.ends_on is None:
                continue
            team = await Team.get(id=seat.team_id)
            if seat.ends_on > team_today(rt, team):
                continue
            seat.ended_at = now
            await seat.save(update_fields=["ended_at"])
            user = await User.get(id=seat.user_id)
            await record_seat_event(rt, team, SEAT_REMOVED, seat, user)
            ended += 1
    return ended
