"""The audit log (R-SEC-3): every operation recorded, cheaply, without secrets or personal data."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta

from softbrik.core.security.audit import prune
from softbrik.core.security.models import AuditEntry
from softbrik.schema.ids import decode_any

PASSWORD = "correct horse battery"
LOG_IN = "mutation LogIn($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }"


async def test_every_operation_is_recorded_with_who_what_where_and_outcome(
    gql, team_factory, entries, clock
):
    team = await team_factory.sign_up()
    user_id = decode_any(team.admin.id)[1]
    await gql.ok("query Me { me { id } team { name } }", token=team.admin.token)
    await gql.error('query Peek { node(id: "VXNlcjo5OTk5") { id } }', token=team.admin.token)

    found = await entries(user_id=user_id)
    me = next(e for e in found if e.operation == "Me")
    assert (me.kind, me.selection, me.outcome, me.denied) == ("query", "me,team", "ok", 0)
    assert me.client_address == "203.0.113.7"
    assert me.admin is True
    assert me.team_id is not None
    assert me.at == clock.now()  # the runtime's clock, not the wall clock
    assert me.duration_ms >= 0
    peek = next(e for e in found if e.operation == "Peek")
    assert (peek.outcome, peek.denied) == ("NOT_FOUND", 1)
    sign_up = (await entries(selection="signUp"))[0]
    assert sign_up.kind == "mutation" and sign_up.user_id is None


async def test_nothing_secret_or_personal_reaches_the_audit_log_or_the_logs(
    gql, team_factory, entries, caplog
):
    caplog.set_level(logging.DEBUG, logger="softbrik")
    team = await team_factory.sign_up(email="ada@example.com")
    token = (await gql.ok(LOG_IN, {"e": "ada@example.com", "p": PASSWORD}))["logIn"]["token"]
    await gql.error(LOG_IN, {"e": "ada@example.com", "p": "wrong password 1"})
    await gql.ok("{ me { email } }", token=token)
    await gql.error("query($n: String!) { team { name } x: node(id: $n) { id } }", {"n": "zz"})

    rows = await entries()
    assert len(rows) == 5
    stored = " ".join(str(value) for row in rows for value in row.__dict__.values())
    logged = caplog.text
    for secret in (PASSWORD, "wrong password 1", token, team.admin.token, "ada@example.com", "zz"):
        assert secret not in stored
        assert secret not in logged


async def test_sign_ins_carry_a_keyed_hash_of_the_email_tried(gql, team_factory, entries):
    """The same account gives the same hash; the hash is not the plain SHA-256 of the address
    (a keyed hash: nobody can test guesses against it without the server's key)."""
    team = await team_factory.sign_up(email="bo@example.com")
    await gql.error(LOG_IN, {"e": "bo@example.com", "p": "nope nope 1"})
    await gql.error(LOG_IN, {"e": " BO@example.com", "p": "nope nope 2"})
    await gql.ok(LOG_IN, {"e": "bo@example.com", "p": PASSWORD})
    await gql.error(LOG_IN, {"e": "nobody@example.com", "p": "nope nope 3"})

    logins = await entries(kind="login")
    refused = "UNAUTHENTICATED"
    assert [e.outcome for e in logins] == [refused, refused, "ok", refused]
    bo, bo_again, bo_ok, nobody = (e.subject for e in logins)
    assert bo == bo_again == bo_ok != nobody
    assert bo != hashlib.sha256(b"bo@example.com").hexdigest()
    # The account the e-mail named, for the detectors; an unknown e-mail names nobody.
    assert {e.user_id for e in logins[:3]} == {decode_any(team.admin.id)[1]}
    assert logins[3].user_id is None


async def test_a_subscription_over_websocket_is_recorded(team_factory, subscriptions, entries, rt):
    team = await team_factory.sign_up()
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe("subscription Feed { billingEvents { id } }")
        await sub.complete()
    found: list[AuditEntry] = []
    for _ in range(500):  # the operation ends in the server's task once it sees `complete`
        found = await entries(kind="subscription")
        if found:
            break
        await asyncio.sleep(0.01)
    assert [(e.operation, e.selection, e.client_address) for e in found] == [
        ("Feed", "billingEvents", "203.0.113.8")
    ]
    assert found[0].user_id == decode_any(team.admin.id)[1]


async def test_requests_do_not_write_the_audit_log_one_batch_does(
    gql, team_factory, rt, count_queries
):
    """Cheap: a request adds its entry to a buffer; one INSERT writes the whole batch."""
    team = await team_factory.sign_up()
    await rt.audit.flush()
    with count_queries() as during:
        for _ in range(5):
            await gql.ok("{ me { id } }", token=team.admin.token)
    assert not [s for s in during.statements if "audit_entry" in s]
    with count_queries() as flushing:
        assert await rt.audit.flush() == 5
    inserts = [s for s in flushing.statements if "audit_entry" in s]
    assert len(inserts) == 1 and "INSERT" in inserts[0].upper()


async def test_a_full_batch_is_written_without_waiting(gql, team_factory, rt, tune, entries):
    team = await team_factory.sign_up()
    await rt.audit.flush()
    with tune(audit_batch_size=3, audit_flush_seconds=3600):
        for _ in range(3):
            await gql.ok("{ me { id } }", token=team.admin.token)
        for _ in range(500):
            if not rt.audit.pending:
                break
            await asyncio.sleep(0.01)
        assert rt.audit.pending == 0
        assert len(await AuditEntry.filter(selection="me")) == 3


async def test_old_entries_are_pruned_after_the_retention(gql, team_factory, rt, clock, entries):
    team = await team_factory.sign_up()
    await gql.ok("{ me { id } }", token=team.admin.token)
    await rt.audit.flush()
    clock.advance(clock.now() + timedelta(days=89))
    await gql.ok("{ team { name } }", token=team.admin.token)
    await rt.audit.flush()
    clock.advance(clock.now() + timedelta(days=2))
    assert await prune(rt) == 2  # signUp and me, 91 days old
    assert [e.selection for e in await entries()] == ["team"]
