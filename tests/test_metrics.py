"""/metrics: what operators scrape, who may scrape it, and that labels never carry ids."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from softbrik.app import create_app
from softbrik.core.accounts.models import Team
from softbrik.core.events.log import record
from softbrik.core.jobs import run_once


@pytest.fixture
def rt(softbrik_app):
    return softbrik_app.state.rt


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(http) -> dict[tuple[str, frozenset], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def value(figures, name: str, **labels: str) -> float:
    return figures.get((name, frozenset(labels.items())), 0.0)


async def test_requests_and_graphql_errors_are_counted_by_route_and_code(http, gql):
    before = await scrape(http)
    await http.get("/healthz")
    await gql.error("{ nosuchfield }")
    await http.get("/invoices/SW52b2ljZTo0Mg==.pdf")  # an id in the path: not a label
    after = await scrape(http)

    requests = "softbrik_http_requests_total"
    ok = {"route": "/healthz", "method": "GET", "status": "200"}
    assert value(after, requests, **ok) == value(before, requests, **ok) + 1
    pdf = {"route": "/invoices/{id}.pdf", "method": "GET", "status": "401"}
    assert value(after, requests, **pdf) == value(before, requests, **pdf) + 1
    code = "softbrik_graphql_errors_total"
    assert (
        value(after, code, code="BAD_USER_INPUT") == value(before, code, code="BAD_USER_INPUT") + 1
    )
    count = "softbrik_http_request_duration_seconds_count"
    assert value(after, count, route="/graphql") > value(before, count, route="/graphql")
    assert not any("SW52b2ljZTo0Mg" in str(labels) for _, labels in after)


async def test_event_figures_come_from_the_database(http, rt, team_factory, events_settled):
    team = await team_factory.sign_up()
    await events_settled()
    figures = await scrape(http)
    assert value(figures, "softbrik_events_unpublished") == 0
    lags = [v for (name, _), v in figures.items() if name == "softbrik_event_delivery_lag"]
    assert lags and set(lags) == {0}

    # A Brik that cannot keep up shows as lag until it catches up.
    await rt.events.delivery.stop()
    try:
        await record(rt.clock, (await Team.get(name=team.name)).id, "LAGGING", {})
        figures = await scrape(http)
        lags = [v for (name, _), v in figures.items() if name == "softbrik_event_delivery_lag"]
        assert lags and min(lags) >= 1
    finally:
        await rt.events.delivery.start()
    await events_settled()


async def test_job_runs_and_failures_are_counted(rt):
    ok = ("softbrik_job_runs_total", "ok")

    async def works(rt):
        return 3

    async def fails(rt):
        raise RuntimeError("boom")

    before = samples(rt.metrics.render().decode())
    assert await run_once("metrics_test", works, rt) == 3
    with pytest.raises(RuntimeError):
        await run_once("metrics_test", fails, rt)
    after = samples(rt.metrics.render().decode())
    for outcome in ("ok", "failed"):
        labels = {"job": "metrics_test", "outcome": outcome}
        assert value(after, ok[0], **labels) == value(before, ok[0], **labels) + 1
    assert value(after, "softbrik_job_last_success_timestamp_seconds", job="metrics_test") > 0


@pytest.mark.parametrize(
    ("env", "token", "sent", "status"),
    [
        ("production", None, None, 404),  # no token set: closed in production
        ("production", "s3cret-scrape", None, 404),
        ("production", "s3cret-scrape", "wrong", 404),
        ("production", "s3cret-scrape", "s3cret-scrape", 200),
        ("development", "s3cret-scrape", None, 404),  # a set token is always required
        ("development", None, None, 200),
    ],
)
async def test_who_may_scrape(http, env, token, sent, status):
    base = http._transport.app.state.rt
    settings = base.settings.model_copy(update={"env": env, "metrics_token": token})
    app = create_app(settings, briks=base.briks, manage_db=False)
    headers = {"authorization": f"Bearer {sent}"} if sent else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 200:
        assert "softbrik_http_requests" in response.text
