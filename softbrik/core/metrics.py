"""Operators' metrics in the Prometheus text format, served at `/metrics`.

One registry per runtime, so two apps in one process (tests, benchmarks) never mix their counts.
Counters are bumped where things happen (requests, GraphQL errors, jobs, Brik handler failures);
figures that live in the database (events not yet published, how far each Brik's cursor lags)
are read at scrape time, so they are true even after a restart. Labels carry no customer data:
routes are named by their template, never by ids.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ROUTES = ("/graphql", "/healthz", "/readyz", "/metrics", "/webhooks/stripe")


def route_of(path: str) -> str:
    """A bounded label for a request path: a known route, a Brik's mount, or `other`."""
    if path in ROUTES:
        return path
    if path.startswith("/invoices/"):
        return "/invoices/{id}.pdf"
    if path.startswith("/briks/"):
        key = path.split("/", 3)[2]
        return f"/briks/{key}" if key.isidentifier() else "other"
    return "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "softbrik_http_requests",
            "HTTP requests answered, by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "softbrik_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.graphql_errors = Counter(
            "softbrik_graphql_errors",
            "GraphQL errors answered, by extensions.code.",
            ["code"],
            registry=r,
        )
        self.job_runs = Counter(
            "softbrik_job_runs",
            "Runs of periodic jobs, by job and outcome (ok or failed).",
            ["job", "outcome"],
            registry=r,
        )
        self.job_last_success = Gauge(
            "softbrik_job_last_success_timestamp_seconds",
            "When each job last finished without error (Unix time).",
            ["job"],
            registry=r,
        )
        self.handler_failures = Counter(
            "softbrik_event_handler_failures",
            "Failed `softbrik_event` calls, by Brik.",
            ["brik"],
            registry=r,
        )
        self.unpublished_events = Gauge(
            "softbrik_events_unpublished",
            "Committed events not yet published to subscribers.",
            registry=r,
        )
        self.delivery_lag = Gauge(
            "softbrik_event_delivery_lag",
            "Events in the log after each Brik's cursor.",
            ["brik"],
            registry=r,
        )

    def request(self, path: str, method: str, status: int, seconds: float) -> None:
        route = route_of(path)
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    async def read_database(self, rt: Any) -> None:
        """Refresh the figures that live in the database."""
        from softbrik.core.events.delivery import consumer_name
        from softbrik.core.events.log import last_position
        from softbrik.core.events.models import Event, EventCursor

        self.unpublished_events.set(await Event.filter(published_at__isnull=True).count())
        top = await last_position()
        keys = {consumer_name(b.key): b.key for b in rt.events.delivery.handlers()}
        cursors = await EventCursor.filter(consumer__in=list(keys)).values_list(
            "consumer", "position"
        )
        for name, position in cursors:
            self.delivery_lag.labels(keys[name]).set(max(top - position, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
