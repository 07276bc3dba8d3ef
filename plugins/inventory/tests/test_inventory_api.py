"""The Inventory GraphQL API (API.md): the seat gate, tenant isolation, errors, query counts."""

from __future__ import annotations

import asyncio

import pytest

from conftest import make_team

CREATE_LOCATION = """
mutation($input: CreateLocationInput!) { inventoryCreateLocation(input: $input) { id name path } }
"""
CREATE_PRODUCT = """
mutation($input: CreateProductInput!) { inventoryCreateProduct(input: $input) { id sku } }
"""
RECEIVE = """
mutation($input: StockInput!) { inventoryReceiveStock(input: $input) {
  id kind quantity product { sku } toLocation { path } } }
"""
SHIP = """
mutation($input: ShipStockInput!) { inventoryShipStock(input: $input) { id quantity } }
"""
TRANSFER = """
mutation($input: TransferStockInput!) { inventoryTransferStock(input: $input) { id } }
"""
PRODUCT = (
    "query($sku: String!) { inventory { product(sku: $sku) { id sku onHand reserved available } } }"
)


async def setup(gql, token, sku="A-1"):
    main = (await gql.ok(CREATE_LOCATION, {"input": {"name": "Main"}}, token))[
        "inventoryCreateLocation"
    ]
    shelf = (
        await gql.ok(CREATE_LOCATION, {"input": {"name": "Shelf", "parentId": main["id"]}}, token)
    )["inventoryCreateLocation"]
    product = (
        await gql.ok(
            CREATE_PRODUCT,
            {"input": {"sku": sku, "name": "Widget", "reorderPoint": 2, "reorderQuantity": 10}},
            token,
        )
    )["inventoryCreateProduct"]
    return main, shelf, product


async def test_the_api_md_operations_work_end_to_end(gql, team):
    main, shelf, product = await setup(gql, team.token)
    assert shelf["path"] == "Main/Shelf"
    received = await gql.ok(
        RECEIVE,
        {
            "input": {
                "productId": product["id"],
                "locationId": main["id"],
                "quantity": 10,
                "idempotencyKey": "r1",
            }
        },
        team.token,
    )
    assert received["inventoryReceiveStock"]["kind"] == "RECEIPT"
    assert received["inventoryReceiveStock"]["toLocation"] == {"path": "Main"}
    await gql.ok(
        TRANSFER,
        {
            "input": {
                "productId": product["id"],
                "fromLocationId": main["id"],
                "toLocationId": shelf["id"],
                "quantity": 4,
                "idempotencyKey": "t1",
            }
        },
        team.token,
    )
    await gql.ok(
        SHIP,
        {
            "input": {
                "productId": product["id"],
                "locationId": shelf["id"],
                "quantity": 3,
                "idempotencyKey": "s1",
            }
        },
        team.token,
    )
    data = await gql.ok(PRODUCT, {"sku": "A-1"}, team.token)
    assert data["inventory"]["product"] == {
        "id": product["id"],
        "sku": "A-1",
        "onHand": 7,
        "reserved": 0,
        "available": 7,
    }


async def test_insufficient_stock_answers_conflict(gql, team):
    main, _, product = await setup(gql, team.token)
    error = await gql.error(
        SHIP,
        {"input": {"productId": product["id"], "locationId": main["id"], "quantity": 1}},
        team.token,
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["field"] == "quantity"


async def test_bad_input_names_the_field(gql, team):
    main, _, product = await setup(gql, team.token)
    error = await gql.error(
        RECEIVE,
        {"input": {"productId": product["id"], "locationId": main["id"], "quantity": 0}},
        team.token,
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "quantity"
    error = await gql.error(CREATE_PRODUCT, {"input": {"sku": " ", "name": "x"}}, team.token)
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "sku")
    error = await gql.error(CREATE_PRODUCT, {"input": {"sku": "A-1", "name": "again"}}, team.token)
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("CONFLICT", "sku")


QUERIES = [
    "{ inventory { products { nodes { id } } } }",
    '{ inventory { product(sku: "A-1") { id } } }',
    "{ inventory { locations { id } } }",
    "{ inventory { balances { nodes { onHand } } } }",
    "{ inventory { movements { nodes { id } } } }",
    "{ inventory { reservations { nodes { id } } } }",
    "{ inventory { reorderSuggestions { quantity } } }",
    "{ inventory { settings { allowNegative } } }",
    "{ inventory { verify { what } } }",
]
MUTATIONS = [
    'mutation { inventoryCreateLocation(input: {name: "X"}) { id } }',
    'mutation { inventoryCreateProduct(input: {sku: "X", name: "X"}) { id } }',
    'mutation { inventoryUpdateProduct(input: {id: "UHJvZHVjdDox", name: "Y"}) { id } }',
    'mutation { inventoryReceiveStock(input: {productId: "UHJvZHVjdDox", locationId: "TG9jYXRpb246MQ", quantity: 1}) { id } }',
    'mutation { inventoryShipStock(input: {productId: "UHJvZHVjdDox", locationId: "TG9jYXRpb246MQ", quantity: 1}) { id } }',
    'mutation { inventoryTransferStock(input: {productId: "UHJvZHVjdDox", fromLocationId: "TG9jYXRpb246MQ", toLocationId: "TG9jYXRpb246Mg", quantity: 1}) { id } }',
    'mutation { inventoryAdjustStock(input: {productId: "UHJvZHVjdDox", locationId: "TG9jYXRpb246MQ", change: 1}) { id } }',
    'mutation { inventoryReverseMovement(input: {movementId: "TW92ZW1lbnQ6MQ"}) { id } }',
    'mutation { inventoryReserveStock(input: {productId: "UHJvZHVjdDox", locationId: "TG9jYXRpb246MQ", quantity: 1}) { id } }',
    'mutation { inventoryReleaseReservation(id: "UmVzZXJ2YXRpb246MQ") { id } }',
    'mutation { inventoryStartCount(locationId: "TG9jYXRpb246MQ") { id } }',
    'mutation { inventorySubmitCount(input: {countId: "U3RvY2tDb3VudDox", lines: []}) { id } }',
    "mutation { inventorySetAllowNegative(allowed: true) { allowNegative } }",
]


async def test_a_user_without_an_inventory_seat_is_refused_every_field(gql, team_factory, platform):
    """R-ACC-3: FORBIDDEN, naming the Brik, for every query and mutation."""
    other = await make_team(gql, team_factory, briks=[])
    for document in QUERIES + MUTATIONS:
        error = await gql.error(document, token=other.token)
        assert error["extensions"]["code"] == "FORBIDDEN", document
        assert error["extensions"]["brik"] == "inventory", document
    error = await gql.error(QUERIES[0])
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_another_teams_ids_answer_not_found_like_missing_ones(gql, team_factory, team):
    main, shelf, product = await setup(gql, team.token)
    movement = (
        await gql.ok(
            RECEIVE,
            {"input": {"productId": product["id"], "locationId": main["id"], "quantity": 5}},
            team.token,
        )
    )["inventoryReceiveStock"]
    reservation = (
        await gql.ok(
            "mutation($input: StockInput!) { inventoryReserveStock(input: $input) { id } }",
            {"input": {"productId": product["id"], "locationId": main["id"], "quantity": 1}},
            team.token,
        )
    )["inventoryReserveStock"]
    count = (
        await gql.ok(
            "mutation($id: ID!) { inventoryStartCount(locationId: $id) { id } }",
            {"id": main["id"]},
            team.token,
        )
    )["inventoryStartCount"]
    intruder = await make_team(gql, team_factory)
    i_main, _, i_product = await setup(gql, intruder.token, sku="B-1")
    cases = [
        ("query($id: ID!) { inventory { product(id: $id) { sku } } }", {"id": product["id"]}),
        (
            "query($id: ID!) { inventory { balances(productId: $id) { nodes { onHand } } } }",
            {"id": product["id"]},
        ),
        (
            "query($id: ID!) { inventory { movements(locationId: $id) { nodes { id } } } }",
            {"id": main["id"]},
        ),
        ("query($id: ID!) { inventory { count(id: $id) { id } } }", {"id": count["id"]}),
        (
            RECEIVE,
            {"input": {"productId": product["id"], "locationId": i_main["id"], "quantity": 1}},
        ),
        (
            RECEIVE,
            {"input": {"productId": i_product["id"], "locationId": main["id"], "quantity": 1}},
        ),
        (
            SHIP,
            {
                "input": {
                    "productId": i_product["id"],
                    "locationId": i_main["id"],
                    "quantity": 1,
                    "reservationId": reservation["id"],
                }
            },
        ),
        (
            TRANSFER,
            {
                "input": {
                    "productId": i_product["id"],
                    "fromLocationId": i_main["id"],
                    "toLocationId": shelf["id"],
                    "quantity": 1,
                }
            },
        ),
        (
            "mutation($id: ID!) { inventoryReverseMovement(input: {movementId: $id}) { id } }",
            {"id": movement["id"]},
        ),
        (
            "mutation($id: ID!) { inventoryReleaseReservation(id: $id) { id } }",
            {"id": reservation["id"]},
        ),
        ("mutation($id: ID!) { inventoryStartCount(locationId: $id) { id } }", {"id": main["id"]}),
        (
            'mutation($id: ID!) { inventoryUpdateProduct(input: {id: $id, name: "x"}) { id } }',
            {"id": product["id"]},
        ),
        (
            'mutation($id: ID!) { inventoryCreateLocation(input: {name: "x", parentId: $id}) { id } }',
            {"id": main["id"]},
        ),
    ]
    missing = {"id": "UHJvZHVjdDo5OTk5OQ"}  # Product:99999
    for document, variables in cases:
        error = await gql.error(document, variables, intruder.token)
        assert error["extensions"]["code"] == "NOT_FOUND", (document, error)
    theirs = await gql.error(cases[0][0], cases[0][1], intruder.token)
    absent = await gql.error(cases[0][0], missing, intruder.token)
    assert theirs["message"] == absent["message"]
    # Nothing of the first team moved.
    data = await gql.ok(PRODUCT, {"sku": "A-1"}, team.token)
    assert data["inventory"]["product"]["onHand"] == 5
    listed = await gql.ok("{ inventory { products { nodes { sku } } } }", token=intruder.token)
    assert listed["inventory"]["products"]["nodes"] == [{"sku": "B-1"}]


LISTS = """
{ inventory {
  products(first: 50) { nodes { id sku onHand reserved available } pageInfo { hasNextPage endCursor } }
  balances(first: 50) { nodes { product { sku onHand } location { path } onHand available } }
  movements(first: 50) { nodes { id kind product { sku available } fromLocation { path } toLocation { path } } }
  reservations(first: 50) { nodes { id quantity } }
  reorderSuggestions { product { sku onHand } quantity }
  locations { id path }
} }
"""


async def test_no_list_query_costs_more_sql_with_more_rows(gql, team, count_queries):
    main, _, _ = await setup(gql, team.token)

    async def add(n, start):
        for i in range(start, start + n):
            p = (
                await gql.ok(
                    CREATE_PRODUCT,
                    {"input": {"sku": f"P-{i}", "name": "P", "reorderPoint": 100}},
                    team.token,
                )
            )["inventoryCreateProduct"]
            await gql.ok(
                RECEIVE,
                {"input": {"productId": p["id"], "locationId": main["id"], "quantity": 3}},
                team.token,
            )
            await gql.ok(
                "mutation($input: StockInput!) { inventoryReserveStock(input: $input) { id } }",
                {"input": {"productId": p["id"], "locationId": main["id"], "quantity": 1}},
                team.token,
            )

    async def statements():
        with count_queries() as counter:
            await gql.ok(LISTS, token=team.token)
        return counter.count

    await add(2, 0)
    small = await statements()
    await add(10, 2)
    large = await statements()
    assert small == large
    assert large <= 14


RECEIVE_ONE = """
mutation($p: ID!, $l: ID!) {
  a: inventoryReceiveStock(input: {productId: $p, locationId: $l, quantity: 5}) { id }
}
"""
FOUR_MOVES = """
mutation($p: ID!, $l: ID!, $s: ID!) {
  a: inventoryReceiveStock(input: {productId: $p, locationId: $l, quantity: 5}) { id }
  b: inventoryShipStock(input: {productId: $p, locationId: $l, quantity: 1}) { id }
  c: inventoryTransferStock(
    input: {productId: $p, fromLocationId: $l, toLocationId: $s, quantity: 1}) { id }
  d: inventoryAdjustStock(input: {productId: $p, locationId: $l, change: -1}) { id }
}
"""


async def test_a_move_looks_up_its_locations_once_and_settings_only_when_short(
    gql, team, count_queries
):
    """A move reads its internal and the team's virtual locations in one query, the virtual ones
    once per request, and the team's settings only when stock would go below zero: one receive
    costs 12 statements (was 14), four moves in one request 45 (was 53)."""
    main, shelf, product = await setup(gql, team.token)
    variables = {"p": product["id"], "l": main["id"], "s": shelf["id"]}
    await gql.ok(RECEIVE_ONE, variables, team.token)  # the virtual locations exist from here

    async def statements(document):
        with count_queries() as counter:
            await gql.ok(document, variables, team.token)
        return counter.statements

    one = await statements(RECEIVE_ONE)
    four = await statements(FOUR_MOVES)
    assert (len(one), len(four)) == (12, 45)
    locations = [s for s in four if 'FROM "inventory_location"' in s]
    assert len(locations) == 4  # one per move, the virtual ones only in the first
    assert 'OR "kind" IN' in locations[0]
    assert not any('OR "kind" IN' in s for s in locations[1:])
    assert not any("inventory_settings" in s for s in one + four)


async def test_the_settings_are_read_when_stock_would_go_below_zero(gql, team):
    """Read in the move's own transaction, so a change earlier in the same request counts."""
    main, _, product = await setup(gql, team.token)
    ship = """mutation($p: ID!, $l: ID!) {
      inventorySetAllowNegative(allowed: true) { allowNegative }
      inventoryShipStock(input: {productId: $p, locationId: $l, quantity: 2}) { quantity }
    }"""
    data = await gql.ok(ship, {"p": product["id"], "l": main["id"]}, team.token)
    assert data["inventoryShipStock"] == {"quantity": 2}
    after = await gql.ok(PRODUCT, {"sku": "A-1"}, team.token)
    assert after["inventory"]["product"]["onHand"] == -2


async def test_pages_follow_the_cursor(gql, team):
    for i in range(5):
        await gql.ok(CREATE_PRODUCT, {"input": {"sku": f"S-{i}", "name": "S"}}, team.token)
    seen, after = [], None
    while True:
        data = await gql.ok(
            "query($after: String) { inventory { products(first: 2, after: $after) { nodes { sku } pageInfo { hasNextPage endCursor } } } }",
            {"after": after},
            team.token,
        )
        page = data["inventory"]["products"]
        seen += [n["sku"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"S-{i}" for i in range(5)]
    error = await gql.error(
        "{ inventory { products(first: 1000) { nodes { sku } } } }", token=team.token
    )
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "first",
    )


async def test_parallel_requests_over_graphql_never_oversell(gql, team):
    main, _, product = await setup(gql, team.token)
    await gql.ok(
        RECEIVE,
        {"input": {"productId": product["id"], "locationId": main["id"], "quantity": 4}},
        team.token,
    )
    bodies = await asyncio.gather(
        *(
            gql.execute(
                SHIP,
                {"input": {"productId": product["id"], "locationId": main["id"], "quantity": 1}},
                team.token,
            )
            for _ in range(9)
        )
    )
    ok = [b for b in bodies if not b.get("errors")]
    codes = {b["errors"][0]["extensions"]["code"] for b in bodies if b.get("errors")}
    assert len(ok) == 4
    assert codes == {"CONFLICT"}
    data = await gql.ok(PRODUCT, {"sku": "A-1"}, team.token)
    assert data["inventory"]["product"]["onHand"] == 0


async def test_only_admins_allow_negative_stock(gql, team_factory, platform):
    handle = await team_factory.sign_up(["inventory"])
    member = await team_factory.invite(handle, ["inventory"])
    error = await gql.error(
        "mutation { inventorySetAllowNegative(allowed: true) { allowNegative } }",
        token=member.token,
    )
    assert error["extensions"]["code"] == "FORBIDDEN"
    data = await gql.ok(
        "mutation { inventorySetAllowNegative(allowed: true) { allowNegative } }",
        token=handle.admin.token,
    )
    assert data["inventorySetAllowNegative"] == {"allowNegative": True}


@pytest.mark.parametrize("kind", ["RECEIPT"])
async def test_movements_filter_by_kind(gql, team, kind):
    main, _, product = await setup(gql, team.token)
    await gql.ok(
        RECEIVE,
        {"input": {"productId": product["id"], "locationId": main["id"], "quantity": 2}},
        team.token,
    )
    data = await gql.ok(
        "query($kind: MovementKind) { inventory { movements(kind: $kind) { nodes { kind quantity } } } }",
        {"kind": kind},
        team.token,
    )
    assert data["inventory"]["movements"]["nodes"] == [{"kind": "RECEIPT", "quantity": 2}]


async def test_stock_low_reaches_the_inventory_stock_events_subscription(gql, team, subscriptions):
    main, _, product = await setup(gql, team.token)  # reorder point 2
    await gql.ok(
        RECEIVE,
        {"input": {"productId": product["id"], "locationId": main["id"], "quantity": 5}},
        team.token,
    )
    async with subscriptions(team.token) as conn:
        sub = await conn.subscribe(
            "subscription { inventoryStockEvents { type sku productId available reorderPoint suggestedQuantity } }"
        )
        await conn.ping()
        await gql.ok(
            SHIP,
            {"input": {"productId": product["id"], "locationId": main["id"], "quantity": 3}},
            team.token,
        )
        assert (await sub.next()) == {
            "inventoryStockEvents": {
                "type": "INVENTORY_STOCK_LOW",
                "sku": "A-1",
                "productId": product["id"],
                "available": 2,
                "reorderPoint": 2,
                "suggestedQuantity": 10,
            }
        }
