"""Seeing findings (R-SEC-3): `team { securityFindings }`, the `securityFindings` subscription,
resolving, and `softbrik security findings` for staff."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from softbrik.schema.ids import decode_any
from tests.test_briks import run_cli

FINDINGS = """
query($first: Int, $after: ID, $status: SecurityFindingStatus) {
  team { securityFindings(first: $first, after: $after, status: $status) {
    id type severity status occurredAt occurrences evidence message action user { id }
  } }
}
"""
RESOLVE = "mutation($id: ID!) { resolveSecurityFinding(findingId: $id) { id status resolvedAt } }"


async def reuse_revoked_token(gql: Any, token: str) -> None:
    """The cheapest attack to replay: a signed-out token used three times (REVOKED_TOKEN)."""
    await gql.ok("mutation { logOut }", token=token)
    for _ in range(3):
        await gql.ok("{ me { id } }", token=token)


async def findings_of(gql: Any, token: str, **variables: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await gql.ok(FINDINGS, variables, token=token))["team"][
        "securityFindings"
    ]
    return found


async def test_admins_see_their_teams_findings_newest_first_in_pages(
    gql, team_factory, run_scan, clock
):
    team = await team_factory.sign_up()
    first = await team_factory.invite(team)
    second = await team_factory.invite(team)
    other = await team_factory.sign_up()
    theirs = await team_factory.invite(other)
    await reuse_revoked_token(gql, first.token)
    await run_scan()
    clock.advance(clock.now() + timedelta(minutes=1))
    await reuse_revoked_token(gql, second.token)
    await reuse_revoked_token(gql, theirs.token)
    await run_scan()

    found = await findings_of(gql, team.admin.token)
    assert [f["user"]["id"] for f in found] == [second.id, first.id]
    newest = found[0]
    assert (newest["type"], newest["severity"], newest["status"]) == (
        "REVOKED_TOKEN",
        "MEDIUM",
        "OPEN",
    )
    assert newest["evidence"]["uses"] == 3
    assert newest["message"] == "Et udløbet log-ind-token blev brugt 3 gange."  # team language
    assert newest["occurredAt"] == clock.now().isoformat()
    page = await findings_of(gql, team.admin.token, first=1, after=newest["id"])
    assert [f["id"] for f in page] == [found[1]["id"]]
    # Another team's finding is not in the list, and its id is NOT_FOUND as `after`.
    [their_finding] = await findings_of(gql, other.admin.token)
    error = await gql.error(FINDINGS, {"after": their_finding["id"]}, token=team.admin.token)
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_members_cannot_read_findings(gql, team_factory):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team)
    error = await gql.error(FINDINGS, token=member.token)
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_a_resolved_finding_is_raised_again_only_by_a_new_attack(
    gql, team_factory, run_scan, clock
):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team, password="member password 1")
    await reuse_revoked_token(gql, member.token)
    [finding] = await run_scan()
    resolved = (await gql.ok(RESOLVE, {"id": f"{_id(finding.id)}"}, token=team.admin.token))[
        "resolveSecurityFinding"
    ]
    assert resolved["status"] == "RESOLVED" and resolved["resolvedAt"]
    clock.advance(clock.now() + timedelta(minutes=1))
    assert len(await run_scan()) == 1  # the same evidence, already resolved: nothing new
    await gql.ok("{ me { id } }", token=member.token)  # the token again, after the resolution
    again = await run_scan()
    assert len(again) == 2 and again[0].status == "OPEN"
    assert [f["status"] for f in await findings_of(gql, team.admin.token, status="OPEN")] == [
        "OPEN"
    ]


def _id(pk: int) -> str:
    from softbrik.schema.ids import encode_id

    return encode_id("SecurityFinding", pk)


async def test_admins_get_new_findings_live(gql, team_factory, subscriptions, run_scan):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team)
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(
            "subscription { securityFindings { id type severity user { id } message } }"
        )
        await reuse_revoked_token(gql, member.token)
        await run_scan()
        found = (await sub.next())["securityFindings"]
    assert (found["type"], found["user"]["id"]) == ("REVOKED_TOKEN", member.id)


LIVE_AFTER = "subscription($after: ID) { securityFindings(after: $after) { id user { id } } }"


async def test_a_reconnecting_dashboard_gets_the_findings_it_missed(
    gql, team_factory, subscriptions, run_scan
):
    """R-SEC-3: `securityFindings(after)` first tells the findings newer than the last one
    seen, oldest first, then new ones live, each once; `after` naming no finding of the team
    is NOT_FOUND."""
    team = await team_factory.sign_up()
    members = [await team_factory.invite(team) for _ in range(4)]
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(LIVE_AFTER)
        await conn.ping()
        await reuse_revoked_token(gql, members[0].token)
        await run_scan()
        seen = (await sub.next())["securityFindings"]
    assert seen["user"]["id"] == members[0].id
    for member in members[1:3]:  # while the dashboard is away
        await reuse_revoked_token(gql, member.token)
        await run_scan()
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(LIVE_AFTER, {"after": seen["id"]})
        missed = [(await sub.next())["securityFindings"] for _ in range(2)]
        await conn.ping()
        await reuse_revoked_token(gql, members[3].token)
        await run_scan()
        live = (await sub.next())["securityFindings"]
    assert [f["user"]["id"] for f in missed] == [members[1].id, members[2].id]
    assert live["user"]["id"] == members[3].id
    assert len({seen["id"], *(f["id"] for f in missed), live["id"]}) == 4
    newest = await findings_of(gql, team.admin.token, first=1)
    assert newest[0]["id"] == live["id"]

    async with subscriptions(team.admin.token) as conn:  # nothing newer than the newest
        sub = await conn.subscribe(LIVE_AFTER, {"after": live["id"]})
        await conn.ping()
        await reuse_revoked_token(gql, (await team_factory.invite(team)).token)
        await run_scan()
        assert (await sub.next())["securityFindings"]["id"] not in (live["id"], seen["id"])
        missing = await conn.subscribe(LIVE_AFTER, {"after": _id(10**9)})
        ended = await missing.ended()
    assert ended.codes == ["NOT_FOUND"]


async def test_members_cannot_subscribe_to_findings(team_factory, subscriptions):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team)
    async with subscriptions(member.token) as conn:
        sub = await conn.subscribe("subscription { securityFindings { id } }")
        ended = await sub.ended()
    assert ended.codes == ["FORBIDDEN"]


async def test_staff_list_findings_across_teams_with_filters(
    gql, team_factory, run_scan, example_briks_dir, softbrik_db, softbrik_app
):
    one = await team_factory.sign_up()
    two = await team_factory.sign_up()
    await reuse_revoked_token(gql, one.admin.token)
    await reuse_revoked_token(gql, two.admin.token)
    await run_scan()

    def cli(*args: str) -> list[dict[str, Any]]:
        done = run_cli(
            example_briks_dir,
            "security",
            "findings",
            "--json",
            *args,
            SOFTBRIK_DATABASE_URL=softbrik_db.url,
            SOFTBRIK_DATA_DIR=str(softbrik_app.state.rt.settings.data_dir),
        )
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    everything = cli()
    assert {row["type"] for row in everything} == {"REVOKED_TOKEN"}
    assert len({row["team_id"] for row in everything}) == 2
    [only] = cli("--team", str(everything[0]["team_id"]), "--severity", "MEDIUM")
    assert only["team_id"] == everything[0]["team_id"] and only["evidence"]["uses"] == 3
    assert cli("--type", "enumeration") == []
    assert cli("--status", "RESOLVED") == []
    users = {row["user_id"] for row in everything}
    assert users == {decode_any(one.admin.id)[1], decode_any(two.admin.id)[1]}


async def test_at_closure_the_teams_audit_entries_and_findings_are_deleted(
    gql, team_factory, run_scan, entries
):
    """R-CLOSE-3: the audit log and the findings hold the team's users' ids and addresses."""
    from softbrik.core.security.models import AuditEntry, Finding

    team = await team_factory.sign_up()
    member = await team_factory.invite(team)
    other = await team_factory.sign_up()
    other_member = await team_factory.invite(other)
    await reuse_revoked_token(gql, member.token)
    await reuse_revoked_token(gql, other_member.token)
    assert len(await run_scan()) == 2
    mine = decode_any(member.id)[1]
    assert await AuditEntry.filter(user_id=mine).exists()
    await gql.ok(
        "mutation($n: String!) { requestAccountClosure(teamName: $n) { effectiveOn } }",
        {"n": team.name},
        token=team.admin.token,
    )
    await gql.ok(
        "mutation($to: DateTime!) { advanceTestClock(to: $to) }",
        {"to": "2026-02-12T11:00:00+00:00"},
    )
    await entries()  # buffered entries written
    assert not await AuditEntry.filter(user_id=mine).exists()
    assert [f.user_id for f in await Finding.all()] == [decode_any(other_member.id)[1]]
    assert await AuditEntry.filter(user_id=decode_any(other_member.id)[1]).exists()
