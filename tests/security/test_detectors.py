"""The detectors (R-SEC-3): each replays an attack (a finding) and normal use (none).

Time is the runtime's test clock: history is replayed by moving it, never by sleeping. Where a
detector needs days of history, the history is replayed into the audit log as rows, exactly as
the requests would have left it; the attack itself goes through the API wherever it can.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from softbrik.core.security.audit import Actor
from softbrik.schema.ids import decode_any

PASSWORD = "correct horse battery"
LOG_IN = "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }"
MISSING = ["VXNlcjo5OTk5", "U2VhdDo5OTk5", "SW52b2ljZTo5OTk5"]  # User/Seat/Invoice 9999


def pk(global_id: str) -> int:
    return decode_any(global_id)[1]


async def kinds(run_scan: Any) -> list[str]:
    return [finding.kind for finding in await run_scan()]


def replay(
    rt: Any, clock: Any, actor: Actor, kind: str, per_window: int, days: int, **fields: Any
) -> None:
    """`per_window` entries in each 15-minute window of `days` days before the current window
    (the test clock is set back for each and then forward again), for `actor`."""
    now = clock.now()
    start = now - timedelta(days=days, minutes=15)
    for window in range(days * 24 * 4):
        at = start + timedelta(minutes=15 * window)
        for i in range(per_window):
            clock._now = at + timedelta(seconds=i)
            rt.audit.add(kind, actor, "203.0.113.7", selection="me", **fields)
    clock._now = now


# --- credential stuffing ----------------------------------------------------------------------


async def test_failed_sign_ins_on_one_account_lock_it_and_tell_the_admins(
    gql, team_factory, run_scan, outbox, clock
):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team, email="mo@example.com", password=PASSWORD)
    for attempt in range(10):
        clock.advance(clock.now() + timedelta(seconds=20))
        await gql.error(LOG_IN, {"e": "mo@example.com", "p": f"guess number {attempt}"})

    [finding] = await run_scan()
    assert (finding.kind, finding.severity, finding.user_id) == (
        "CREDENTIAL_STUFFING",
        "HIGH",
        pk(member.id),
    )
    assert finding.evidence["failed_sign_ins"] == 10
    assert "mo@example.com" not in str(finding.evidence)
    assert finding.action == "lock,admins_emailed"
    # The account is locked: once the sign-in throttle has passed, the right password says so,
    # with its own code; the member's sessions have ended.
    clock.advance(clock.now() + timedelta(seconds=301))
    error = await gql.error(LOG_IN, {"e": "mo@example.com", "p": PASSWORD})
    assert error["extensions"]["code"] == "ACCOUNT_LOCKED"
    assert (await gql.ok("{ me { id } }", token=member.token))["me"] is None
    # The team's administrator was told by e-mail, without the password guesses.
    [mail] = [m for m in outbox() if "CREDENTIAL_STUFFING" in m["Subject"]]
    assert mail["To"] == team.admin.email
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "10" in body and "guess number" not in body
    # The attack goes on: still one open finding, seen twice.
    await gql.error(LOG_IN, {"e": "mo@example.com", "p": "guess again"})
    [again] = await run_scan()
    assert (again.id, again.occurrences) == (finding.id, 2)
    # An administrator unlocks the account; the member signs in again.
    await gql.ok(
        "mutation($id: ID!) { unlockUser(userId: $id) { id } }",
        {"id": member.id},
        token=team.admin.token,
    )
    await gql.ok(LOG_IN, {"e": "mo@example.com", "p": PASSWORD})


async def test_a_few_mistyped_passwords_are_normal(gql, team_factory, run_scan, clock):
    await team_factory.sign_up(email="ti@example.com")
    for _ in range(5):  # three typos, then the right password, every day
        clock.advance(clock.now() + timedelta(days=1))
        for typo in range(3):
            await gql.error(LOG_IN, {"e": "ti@example.com", "p": f"typo {typo} horse"})
        await gql.ok(LOG_IN, {"e": "ti@example.com", "p": PASSWORD})
    assert await run_scan() == []


async def test_failed_sign_ins_from_one_address_on_many_accounts(gql, run_scan, tune):
    with tune(security_failed_logins_per_address=12):
        for n in range(12):
            await gql.error(LOG_IN, {"e": f"victim{n}@example.com", "p": "Summer2026!"})
        [finding] = await run_scan()
    assert finding.kind == "CREDENTIAL_STUFFING"
    assert finding.team_id is None  # nobody's team: staff see it (`softbrik security findings`)
    assert finding.evidence["client_address"] == "203.0.113.7"
    assert finding.evidence["accounts"] == 12


# --- enumeration ------------------------------------------------------------------------------


async def test_a_burst_of_not_found_ids_ends_the_users_sessions(
    gql, team_factory, run_scan, outbox
):
    victim = await team_factory.sign_up()
    attacker = await team_factory.sign_up()
    for n in range(3):  # 30 ids tried, aliased ten per request
        aliases = " ".join(f'n{i}: node(id: "{MISSING[i % 3]}{n}{i}") {{ id }}' for i in range(10))
        await gql.execute(f"{{ {aliases} }}", token=attacker.admin.token)

    [finding] = await run_scan()
    assert (finding.kind, finding.severity, finding.user_id) == (
        "ENUMERATION",
        "HIGH",
        pk(attacker.admin.id),
    )
    assert finding.evidence["denied_answers"] == 30
    assert finding.action == "revoke,admins_emailed"
    assert (await gql.ok("{ me { id } }", token=attacker.admin.token))["me"] is None
    assert (await gql.ok("{ me { id } }", token=victim.admin.token))["me"] is not None


async def test_a_few_stale_links_are_normal(gql, team_factory, run_scan, clock):
    team = await team_factory.sign_up()
    for hour in range(24):
        clock.advance(clock.now() + timedelta(hours=1))
        await gql.error(f'{{ node(id: "{MISSING[hour % 3]}") {{ id }} }}', token=team.admin.token)
        await gql.ok("{ me { id } team { name } }", token=team.admin.token)
    assert await run_scan() == []


# --- request rate -----------------------------------------------------------------------------


async def test_requests_far_above_the_users_own_baseline(
    gql, team_factory, run_scan, rt, clock, tune
):
    team = await team_factory.sign_up()
    actor = Actor(
        pk(team.admin.id),
        pk((await gql.ok("{ team { id } }", token=team.admin.token))["team"]["id"]),
        True,
    )
    replay(rt, clock, actor, "query", per_window=2, days=2)
    with tune(security_rate_min_requests=20):
        for _ in range(25):  # twelve times the usual two per window
            await gql.ok("{ me { id } }", token=team.admin.token)
        [finding] = await run_scan()
    assert (finding.kind, finding.severity) == ("REQUEST_RATE", "MEDIUM")
    assert finding.evidence["requests"] >= 25
    assert finding.evidence["baseline_per_window"] == 2.0
    assert finding.action == ""  # medium: seen, not acted on


async def test_a_busy_user_at_their_usual_rate_is_normal(
    gql, team_factory, run_scan, rt, clock, tune
):
    team = await team_factory.sign_up()
    actor = Actor(
        pk(team.admin.id),
        pk((await gql.ok("{ team { id } }", token=team.admin.token))["team"]["id"]),
        True,
    )
    replay(rt, clock, actor, "query", per_window=20, days=2)
    with tune(security_rate_min_requests=20):
        for _ in range(25):
            await gql.ok("{ me { id } }", token=team.admin.token)
        assert await kinds(run_scan) == []


# --- revoked tokens ---------------------------------------------------------------------------


async def test_a_signed_out_token_used_again_and_again(gql, team_factory, run_scan):
    team = await team_factory.sign_up()
    await gql.ok("mutation { logOut }", token=team.admin.token)
    for _ in range(3):
        await gql.ok("{ me { id } }", token=team.admin.token)
    [finding] = await run_scan()
    assert (finding.kind, finding.user_id) == ("REVOKED_TOKEN", pk(team.admin.id))
    assert finding.evidence["uses"] == 3


async def test_one_request_with_an_old_token_after_signing_out_is_normal(
    gql, team_factory, run_scan
):
    team = await team_factory.sign_up()
    await gql.ok("mutation { logOut }", token=team.admin.token)
    await gql.ok("{ me { id } }", token=team.admin.token)  # a tab that was still open
    assert await run_scan() == []


# --- admin sessions from new addresses --------------------------------------------------------


async def test_an_admin_working_from_a_new_address(
    gql, team_factory, run_scan, clock, from_address
):
    team = await team_factory.sign_up(email="boss@example.com")
    await gql.ok("{ team { name } }", token=team.admin.token)
    clock.advance(clock.now() + timedelta(days=1))
    elsewhere = gql.__class__(await from_address("198.51.100.9"))
    token = (await elsewhere.ok(LOG_IN, {"e": "boss@example.com", "p": PASSWORD}))["logIn"]["token"]
    await elsewhere.ok("{ team { members { user { id } } } }", token=token)

    [finding] = await run_scan()
    assert (finding.kind, finding.severity, finding.user_id) == (
        "ADMIN_NEW_ADDRESS",
        "MEDIUM",
        pk(team.admin.id),
    )
    assert finding.evidence["client_address"] == "198.51.100.9"


async def test_an_admin_at_the_usual_address_or_just_signed_up_is_normal(
    gql, team_factory, run_scan, clock, from_address
):
    await team_factory.sign_up(email="same@example.com")
    clock.advance(clock.now() + timedelta(days=1))
    token = (await gql.ok(LOG_IN, {"e": "same@example.com", "p": PASSWORD}))["logIn"]["token"]
    await gql.ok("{ team { name } }", token=token)
    # A new team's admin from another address: no history yet, nothing to compare with.
    other = team_factory.__class__(
        gql.__class__(await from_address("198.51.100.20")), team_factory.outbox_dir
    )
    newcomer = await other.sign_up()
    await other.gql.ok("{ team { name } }", token=newcomer.admin.token)
    assert await run_scan() == []


# --- schema probing ---------------------------------------------------------------------------


async def test_introspection_in_production_is_schema_probing(gql, run_scan, tune):
    with tune(env="production"):
        await gql.execute("{ __schema { types { name } } }")
        await gql.execute('{ __type(name: "User") { fields { name } } }')
        [finding] = await run_scan()
    assert (finding.kind, finding.team_id) == ("SCHEMA_PROBING", None)
    assert finding.evidence == {
        "introspection_requests": 2,
        "client_address": "203.0.113.7",
        "window_seconds": 900,
    }


async def test_typename_in_production_and_introspection_in_development_are_normal(
    gql, team_factory, run_scan, tune, clock
):
    team = await team_factory.sign_up()
    await gql.ok("{ __schema { queryType { name } } }")  # development tools do this
    assert await run_scan() == []
    clock.advance(clock.now() + timedelta(minutes=16))
    with tune(env="production"):
        await gql.ok("{ __typename me { __typename id } }", token=team.admin.token)
        assert await run_scan() == []


# --- bulk downloads ---------------------------------------------------------------------------

UPLOAD = "mutation($file: Upload!) { filestorageUpload(file: $file) { id downloadUrl } }"


async def upload(gql: Any, token: str, data: bytes) -> dict[str, Any]:
    operations = {"query": UPLOAD, "variables": {"file": None}}
    response = await gql.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("report.txt", data, "text/plain")},
        headers={"Authorization": f"Bearer {token}", "X-Softbrik-CSRF": "1"},
    )
    file: dict[str, Any] = response.json()["data"]["filestorageUpload"]
    return file


async def test_downloads_far_above_the_users_history_end_their_sessions(
    gql, team_factory, run_scan, rt, clock, tune, entries
):
    team = await team_factory.sign_up(["filestorage"])
    file = await upload(gql, team.admin.token, b"quarterly numbers " * 100)
    team_id = pk((await gql.ok("{ team { id } }", token=team.admin.token))["team"]["id"])
    replay(rt, clock, Actor(pk(team.admin.id), team_id), "download", per_window=1, days=1)
    with tune(security_download_min_files=10):
        for _ in range(12):
            response = await gql.http.get(file["downloadUrl"])
            assert response.status_code == 200
        downloads = await entries(kind="download", at__gte=clock.now())
        assert len(downloads) == 12
        assert {(e.user_id, e.team_id, e.size) for e in downloads} == {
            (pk(team.admin.id), team_id, 1800)
        }
        [finding] = await run_scan()
    assert (finding.kind, finding.severity) == ("BULK_DOWNLOAD", "HIGH")
    assert finding.evidence["downloads"] == 12
    assert finding.evidence["bytes"] == 12 * 1800
    assert finding.action == "revoke,admins_emailed"
    assert (await gql.ok("{ me { id } }", token=team.admin.token))["me"] is None


async def test_downloads_at_the_users_usual_pace_are_normal(
    gql, team_factory, run_scan, rt, clock, tune
):
    team = await team_factory.sign_up(["filestorage"])
    file = await upload(gql, team.admin.token, b"daily sheet")
    team_id = pk((await gql.ok("{ team { id } }", token=team.admin.token))["team"]["id"])
    replay(rt, clock, Actor(pk(team.admin.id), team_id), "download", per_window=10, days=1)
    with tune(security_download_min_files=10):
        for _ in range(12):
            assert (await gql.http.get(file["downloadUrl"])).status_code == 200
        assert await run_scan() == []


async def test_refused_download_links_are_recorded_without_a_user(gql, entries):
    response = await gql.http.get("/briks/filestorage/download/forged.token")
    assert response.status_code == 403
    [entry] = await entries(kind="download")
    assert (entry.user_id, entry.outcome, entry.denied) == (None, "FORBIDDEN", 1)
