"""`billingEvents` with many subscribers: an event is executed once for every administrator of
the team who gets it, and still only they get it (bench/events.py measures the difference)."""

from contextlib import AsyncExitStack

import pytest

from softbrik.core.accounts.models import Role, Team, User
from softbrik.core.billing.models import Invoice
from softbrik.core.events.log import record
from softbrik.schema.ids import decode_id
from softbrik.testing import SubscriptionEnded


@pytest.fixture
def rt(softbrik_app):
    return softbrik_app.state.rt


WITH_INVOICE = "subscription { billingEvents { type message invoice { number totalCents } } }"


async def connected(stack, subscriptions, token, count=1):
    """`count` subscriptions to WITH_INVOICE, each on its own connection, all running."""
    subs = []
    for _ in range(count):
        conn = await stack.enter_async_context(subscriptions(token))
        subs.append(await conn.subscribe(WITH_INVOICE))
        await conn.ping()  # running once the server answered after it
    return subs


def invoice_reads(statements):
    return [s for s in statements if s.startswith("SELECT") and 'FROM "invoice"' in s]


async def test_an_event_is_executed_once_for_all_the_teams_administrators(
    rt, team_factory, subscriptions, count_queries
):
    ours = await team_factory.sign_up(["notes"])
    second = await team_factory.invite(ours)
    await User.filter(id=decode_id(second.id, "User")).update(role=Role.ADMIN)
    theirs = await team_factory.sign_up(["notes"])
    team_id = (await Team.get(name=ours.name)).id
    their_id = (await Team.get(name=theirs.name)).id
    invoice = await Invoice.get(team_id=team_id)
    their_invoice = await Invoice.get(team_id=their_id)
    async with AsyncExitStack() as stack:
        subs = [
            *await connected(stack, subscriptions, ours.admin.token, 2),
            *await connected(stack, subscriptions, second.token),
        ]
        (their_sub,) = await connected(stack, subscriptions, theirs.admin.token)
        with count_queries() as counter:
            payload = {"invoice_id": invoice.id, "amount_cents": 100, "message": "ours"}
            await record(rt.clock, team_id, "PAYMENT_SUCCEEDED", payload)
            got = [(await sub.next())["billingEvents"] for sub in subs]
        # three subscribers of the team, two people: one execution, one read of the invoice
        assert got == [got[0]] * 3
        assert got[0]["invoice"]["number"] == invoice.number
        assert len(invoice_reads(counter.statements)) == 1
        # Their team's event is executed for them, and ours never reached them.
        payload = {"invoice_id": their_invoice.id, "amount_cents": 100, "message": "theirs"}
        await record(rt.clock, their_id, "PAYMENT_SUCCEEDED", payload)
        theirs_got = (await their_sub.next())["billingEvents"]
        assert theirs_got["message"] == "theirs"
        assert theirs_got["invoice"]["number"] == their_invoice.number


async def test_an_administrator_who_lost_access_gets_nothing_more_while_the_others_do(
    gql, rt, team_factory, subscriptions
):
    team = await team_factory.sign_up(["notes"])
    second = await team_factory.invite(team)
    await User.filter(id=decode_id(second.id, "User")).update(role=Role.ADMIN)
    team_id = (await Team.get(name=team.name)).id
    async with AsyncExitStack() as stack:
        (staying,) = await connected(stack, subscriptions, team.admin.token)
        (leaving,) = await connected(stack, subscriptions, second.token)
        await record(rt.clock, team_id, "REMINDER_SENT", {"message": "both"})
        assert (await staying.next())["billingEvents"]["message"] == "both"
        assert (await leaving.next())["billingEvents"]["message"] == "both"
        await gql.ok(
            "mutation($u: ID!) { endAccessNow(userId: $u) { accessEndedAt } }",
            {"u": second.id},
            token=team.admin.token,
        )
        ended = await leaving.ended()
        assert ended.codes == ["UNAUTHENTICATED"]
        await record(rt.clock, team_id, "REMINDER_SENT", {"message": "after"})
        assert (await staying.next())["billingEvents"]["message"] == "after"
        # the ended subscription got its error, then completed: no event after it
        with pytest.raises(SubscriptionEnded, match="completed"):
            await leaving.next()
