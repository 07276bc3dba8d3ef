"""Seats: assigning Briks and removing people (R-ACC-2, -3, R-BILL-6, -14, -15).

Every test's team signs up on 12 January 2026 (anchor 12): the period is 12 Jan to 12 Feb and
its cut-off is 10 February.
"""

from datetime import UTC, datetime

ASSIGN = "mutation($u: ID!, $b: String!) { assignBrik(userId: $u, brik: $b) { id brik startsOn endsOn user { id } } }"
UNASSIGN = "mutation($u: ID!, $b: String!) { unassignBrik(userId: $u, brik: $b) { brik endsOn } }"
REMOVE = "mutation($u: ID!) { removeUser(userId: $u) { removalOn seats { brik endsOn } } }"
RESTORE = "mutation($u: ID!) { restoreUser(userId: $u) { removalOn seats { brik endsOn } } }"
END_NOW = "mutation($u: ID!) { endAccessNow(userId: $u) { removalOn accessEndedAt } }"
NOTES = "{ notes { notes { title } } }"
ME = "{ me { id } }"


def at(day: str, hour: int = 9) -> datetime:
    y, m, d = map(int, day.split("-"))
    return datetime(y, m, d, hour, tzinfo=UTC)


async def test_assign_gives_access_at_once_and_only_to_that_brik(gql, team_factory):
    """R-ACC-3: a member uses the Briks assigned to them straight away, and no others."""
    team = await team_factory.sign_up(["notes"])
    member = await team_factory.invite(team)
    error = await gql.error(NOTES, token=member.token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["brik"] == "notes"
    seat = (await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token))[
        "assignBrik"
    ]
    assert seat["startsOn"] == "2026-01-12"
    assert seat["endsOn"] is None
    assert seat["user"]["id"] == member.id
    await gql.ok(NOTES, token=member.token)


async def test_assigning_twice_is_a_conflict(gql, team_factory):
    team = await team_factory.sign_up(["notes"])
    error = await gql.error(ASSIGN, {"u": team.admin.id, "b": "notes"}, token=team.admin.token)
    assert error["extensions"]["code"] == "CONFLICT"


async def test_unknown_brik_is_bad_input(gql, team_factory):
    team = await team_factory.sign_up()
    error = await gql.error(ASSIGN, {"u": team.admin.id, "b": "nosuch"}, token=team.admin.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "brik"


async def test_unassign_keeps_access_to_the_end_of_the_period(gql, team_factory, clock):
    """R-BILL-6, R-BILL-14: no credit, the seat stays usable to the period's end."""
    team = await team_factory.sign_up()
    member = await team_factory.invite(team, ["notes"])
    clock.advance(at("2026-01-27"))
    seat = await gql.ok(UNASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    assert seat["unassignBrik"]["endsOn"] == "2026-02-12"
    clock.advance(at("2026-02-11", 22))  # 23:00 local on 11 February: still in the period
    await gql.ok(NOTES, token=member.token)
    clock.advance(at("2026-02-11", 23))  # local midnight: 12 February
    error = await gql.error(NOTES, token=member.token)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_a_removal_after_the_cut_off_ends_with_the_following_period(gql, team_factory, clock):
    """R-BILL-15: 11 February is after the 10 February cut-off."""
    team = await team_factory.sign_up()
    member = await team_factory.invite(team, ["notes"])
    clock.advance(at("2026-02-10"))
    on_cut_off = await gql.ok(UNASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    assert on_cut_off["unassignBrik"]["endsOn"] == "2026-02-12"
    other = await team_factory.invite(team, ["notes"])
    clock.advance(at("2026-02-11"))
    after = await gql.ok(UNASSIGN, {"u": other.id, "b": "notes"}, token=team.admin.token)
    assert after["unassignBrik"]["endsOn"] == "2026-03-12"


async def test_assigning_again_undoes_a_pending_unassign(gql, team_factory, clock):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team, ["notes"])
    await gql.ok(UNASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    seat = (await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token))[
        "assignBrik"
    ]
    assert seat["endsOn"] is None
    assert seat["startsOn"] == "2026-01-12"
    clock.advance(at("2026-03-01"))
    await gql.ok(NOTES, token=member.token)


async def test_remove_user_then_restore(gql, team_factory, clock):
    """R-BILL-6: a removal takes effect at the period's end and can be undone before."""
    team = await team_factory.sign_up()
    member = await team_factory.invite(team, ["notes"])
    removed = (await gql.ok(REMOVE, {"u": member.id}, token=team.admin.token))["removeUser"]
    assert removed["removalOn"] == "2026-02-12"
    assert removed["seats"] == [{"brik": "notes", "endsOn": "2026-02-12"}]
    await gql.ok(NOTES, token=member.token)
    restored = (await gql.ok(RESTORE, {"u": member.id}, token=team.admin.token))["restoreUser"]
    assert restored["removalOn"] is None
    assert restored["seats"] == [{"brik": "notes", "endsOn": None}]
    clock.advance(at("2026-02-20"))
    await gql.ok(NOTES, token=member.token)


async def test_a_removed_user_is_signed_out_when_the_removal_takes_effect(gql, team_factory, clock):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team, ["notes"])
    await gql.ok(REMOVE, {"u": member.id}, token=team.admin.token)
    clock.advance(at("2026-02-12"))
    assert (await gql.ok(ME, token=member.token))["me"] is None
    error = await gql.error(RESTORE, {"u": member.id}, token=team.admin.token)
    assert error["extensions"]["code"] == "CONFLICT"


async def test_end_access_now_cuts_access_but_keeps_the_charge(gql, team_factory):
    """R-BILL-6: access ends at once; the seat stays billed to the period's end."""
    team = await team_factory.sign_up()
    member = await team_factory.invite(team, ["notes"])
    ended = (await gql.ok(END_NOW, {"u": member.id}, token=team.admin.token))["endAccessNow"]
    assert ended["removalOn"] == "2026-02-12"
    assert ended["accessEndedAt"] is not None
    assert (await gql.ok(ME, token=member.token))["me"] is None
    members = await gql.ok(
        "{ team { members { user { id } seats { endsOn } } } }", token=team.admin.token
    )
    seats = next(m["seats"] for m in members["team"]["members"] if m["user"]["id"] == member.id)
    assert seats == [{"endsOn": "2026-02-12"}]


async def test_the_last_admin_cannot_be_removed(gql, team_factory):
    team = await team_factory.sign_up()
    error = await gql.error(REMOVE, {"u": team.admin.id}, token=team.admin.token)
    assert error["extensions"]["code"] == "CONFLICT"


async def test_members_cannot_change_seats(gql, team_factory):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team)
    for query, variables in [
        (ASSIGN, {"u": member.id, "b": "notes"}),
        (UNASSIGN, {"u": member.id, "b": "notes"}),
        (REMOVE, {"u": team.admin.id}),
        (RESTORE, {"u": team.admin.id}),
        (END_NOW, {"u": team.admin.id}),
    ]:
        error = await gql.error(query, variables, token=member.token)
        assert error["extensions"]["code"] == "FORBIDDEN"


async def test_another_teams_users_answer_not_found_like_missing_ones(gql, team_factory):
    """DESIGN.md, Tenancy: another team's id answers exactly as an id that does not exist."""
    ours = await team_factory.sign_up(["notes"])
    theirs = await team_factory.sign_up(["notes"])
    victim = await team_factory.invite(theirs, ["notes"])
    missing = "VXNlcjo5OTk5OTk"  # User:999999
    for query, variables in [
        (ASSIGN, {"b": "notes"}),
        (UNASSIGN, {"b": "notes"}),
        (REMOVE, {}),
        (RESTORE, {}),
        (END_NOW, {}),
    ]:
        theirs_error = await gql.error(query, {**variables, "u": victim.id}, token=ours.admin.token)
        missing_error = await gql.error(query, {**variables, "u": missing}, token=ours.admin.token)
        assert theirs_error["extensions"]["code"] == "NOT_FOUND"
        assert theirs_error["message"] == missing_error["message"]
        assert theirs_error["extensions"]["code"] == missing_error["extensions"]["code"]
    node = await gql.error(
        "query($id: ID!) { node(id: $id) { id } }", {"id": victim.id}, token=ours.admin.token
    )
    assert node["extensions"]["code"] == "NOT_FOUND"
    # Their member still has their seat and access.
    await gql.ok(NOTES, token=victim.token)


async def test_node_resolves_own_users(gql, team_factory):
    team = await team_factory.sign_up()
    data = await gql.ok(
        "query($id: ID!) { node(id: $id) { id ... on User { email } } }",
        {"id": team.admin.id},
        token=team.admin.token,
    )
    assert data["node"] == {"id": team.admin.id, "email": team.admin.email}
