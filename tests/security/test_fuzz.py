"""A bounded schemathesis run against a served app finds no server error (R-SEC-3).

schemathesis reads the schema by introspection from a real `softbrik serve` process and sends
generated queries and mutations, valid and invalid arguments alike, as a signed-in admin with
every Brik (a fresh team per operation). No answer may be a 5xx or an `INTERNAL_SERVER_ERROR`.
The run is seeded (`derandomize`) and bounded (`EXAMPLES` per operation), so it is the same
every time and takes well under a minute.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from tests.test_serve import serving

EXAMPLES = 20
# Our scalars: well-formed values and junk, so parsing them is fuzzed too. An Upload can only
# be a file of a multipart request, so any value written in the query must be refused.
WELL_FORMED = {
    "Date": st.dates().map(date.isoformat),
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
    "Upload": st.nothing(),
}
for scalar, values in WELL_FORMED.items():
    schemathesis.graphql.scalar(scalar, st.one_of(values, st.text(max_size=30)).map(nodes.String))


def sign_up(base: str, name: str) -> str:
    """A fresh team with every Brik: the token of its admin."""
    query = "mutation($i: SignUpInput!) { signUp(input: $i) { token } }"
    team = {
        "teamName": f"Fuzz {name}",
        "name": "Fay",
        "email": f"fay-{name.lower()}@fuzz.dk",
        "password": "a good password",
        "paymentMethod": "pm_card_visa",
        "briks": ["filestorage", "inventory"],
    }
    body = httpx.post(f"{base}/graphql", json={"query": query, "variables": {"i": team}}).json()
    token: str = body["data"]["signUp"]["token"]
    return token


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("fuzz") / "data") as base:
        yield base


@pytest.fixture(scope="module")
def graphql_schema(fuzzed_server: str) -> Any:
    return schemathesis.graphql.from_url(f"{fuzzed_server}/graphql")


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def test_no_generated_request_makes_a_server_error(graphql_schema: Any, fuzzed_server: str):
    """Each operation is fuzzed as the admin of a team of its own: schemathesis reuses ids
    from earlier answers, so `endAccessNow` or `logOut` may end that admin's session."""
    operations = [result.ok() for result in graphql_schema.get_all_operations()]
    assert len(operations) > 40  # every query and mutation field, Briks' included
    token = ""

    def no_server_error(case: Any) -> None:
        response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code < 500, (case.body, response.text)
        body = response.json()
        errors = body.get("errors") or [] if isinstance(body, dict) else []
        codes = [(error.get("extensions") or {}).get("code") for error in errors]
        assert "INTERNAL_SERVER_ERROR" not in codes, (case.body, body)

    for operation in operations:
        token = sign_up(fuzzed_server, operation.label.replace(" ", "").replace(".", ""))
        FUZZ(given(case=operation.as_strategy())(no_server_error))()
