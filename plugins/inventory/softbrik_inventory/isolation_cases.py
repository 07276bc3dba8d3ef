"""Tenant isolation cases of the Inventory Brik's ID-taking fields (R-ACC-4).

A pytest plugin (entry point `pytest11` in this distribution), collected by the isolation matrix
of `softbrik.testing`: each field is called by another team with the victim team's id and must
answer exactly as for an id that does not exist. Where a call needs other ids, they are the
attacker's own, so only the id under test belongs to the victim.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from softbrik.testing import IsolationCase, IsolationWorld, StreamCase, TeamHandle

CHECK = """
{ inventory {
  products { nodes { id sku name onHand reserved } }
  locations { id name }
  movements { nodes { id quantity } }
  reservations { nodes { id status } }
} }
"""


async def _call(world: IsolationWorld, token: str, query: str, variables: dict[str, Any]) -> Any:
    return await world.gql.ok(query, variables, token=token)


def _mark(world: IsolationWorld, token: str) -> str:
    """The victim's canary in the victim's data; a fresh name in the attacker's."""
    team = world.victim if token == world.victim.admin.token else world.attacker
    return f"{team.canary}-{secrets.token_hex(3)}"


async def _product(world: IsolationWorld, token: str) -> str:
    mark = _mark(world, token)
    data = await _call(
        world,
        token,
        "mutation($i: CreateProductInput!) { inventoryCreateProduct(input: $i) { id } }",
        {"i": {"sku": f"sku-{mark}", "name": f"product {mark}"}},
    )
    return str(data["inventoryCreateProduct"]["id"])


async def _location(world: IsolationWorld, token: str, name: str = "store") -> str:
    data = await _call(
        world,
        token,
        "mutation($i: CreateLocationInput!) { inventoryCreateLocation(input: $i) { id } }",
        {"i": {"name": f"{name} {_mark(world, token)}"}},
    )
    return str(data["inventoryCreateLocation"]["id"])


async def _receive(world: IsolationWorld, token: str, product: str, location: str) -> str:
    data = await _call(
        world,
        token,
        "mutation($i: StockInput!) { inventoryReceiveStock(input: $i) { id } }",
        {"i": {"productId": product, "locationId": location, "quantity": 5}},
    )
    return str(data["inventoryReceiveStock"]["id"])


def _victim(world: IsolationWorld) -> str:
    return world.victim.admin.token


def _attacker(world: IsolationWorld) -> str:
    return world.attacker.admin.token


async def victim_product(world: IsolationWorld) -> str:
    return await _product(world, _victim(world))


async def victim_location(world: IsolationWorld) -> str:
    return await _location(world, _victim(world))


async def victim_movement(world: IsolationWorld) -> str:
    token = _victim(world)
    return await _receive(world, token, await _product(world, token), await _location(world, token))


async def victim_reservation(world: IsolationWorld) -> str:
    token = _victim(world)
    product, location = await _product(world, token), await _location(world, token)
    await _receive(world, token, product, location)
    data = await _call(
        world,
        token,
        "mutation($i: StockInput!) { inventoryReserveStock(input: $i) { id } }",
        {"i": {"productId": product, "locationId": location, "quantity": 2}},
    )
    return str(data["inventoryReserveStock"]["id"])


async def _start_count(world: IsolationWorld, token: str, location: str) -> str:
    data = await _call(
        world,
        token,
        "mutation($l: ID!) { inventoryStartCount(locationId: $l) { id } }",
        {"l": location},
    )
    return str(data["inventoryStartCount"]["id"])


async def victim_count(world: IsolationWorld) -> str:
    return await _start_count(world, _victim(world), await victim_location(world))


async def victim_import(world: IsolationWorld) -> str:
    """A finished import of the victim's uploaded file (with the victim's canary in it)."""
    from softbrik_inventory import imports

    body = await world.multipart(
        "mutation($file: Upload!) { inventoryImportFile(file: $file, kind: LOCATIONS) { id } }",
        {},
        {"file": f"path\nstore {_mark(world, _victim(world))}\n".encode()},
        _victim(world),
    )
    await imports.settle()
    return str(body["data"]["inventoryImportFile"]["id"])


async def attackers_stock(world: IsolationWorld) -> dict[str, Any]:
    """The attacker's own product, two locations and stock in the first."""
    token = _attacker(world)
    product, location = await _product(world, token), await _location(world, token)
    other = await _location(world, token, "other")
    await _receive(world, token, product, location)
    return {"prod": product, "loc": location, "to": other}


async def attackers_count(world: IsolationWorld) -> dict[str, Any]:
    token = _attacker(world)
    return {"count": await _start_count(world, token, await _location(world, token))}


def _case(field: str, document: str, make_id: Any, **options: Any) -> IsolationCase:
    return IsolationCase(field, document, make_id, check=CHECK, **options)


def _mutation(call: str, extra: str = "") -> str:
    if extra == STOCK:  # declare only the attacker's ids the call uses
        extra = "".join(f", ${name}: ID!" for name in ("prod", "loc", "to") if f"${name}" in call)
    return f"mutation($id: ID!{extra}) {{ {call} {{ id }} }}"


STOCK_EVENTS = "subscription($after: String) { inventoryStockEvents(after: $after) { type sku } }"


async def emit_stock_low(world: IsolationWorld, team: TeamHandle) -> None:
    """Stock of a product with the team's canary in its SKU falls to its reorder point."""
    token = team.admin.token
    sku = f"sku-{team.canary}-{secrets.token_hex(3)}"
    product = await _call(
        world,
        token,
        "mutation($i: CreateProductInput!) { inventoryCreateProduct(input: $i) { id } }",
        {"i": {"sku": sku, "name": sku, "reorderPoint": 4, "reorderQuantity": 10}},
    )
    product_id = product["inventoryCreateProduct"]["id"]
    location = await _location(world, token)
    await _receive(world, token, product_id, location)  # 5 in stock
    await _call(
        world,
        token,
        "mutation($i: ShipStockInput!) { inventoryShipStock(input: $i) { id } }",
        {"i": {"productId": product_id, "locationId": location, "quantity": 2}},
    )


def _query(call: str) -> str:
    return f"query($id: ID!) {{ inventory {{ {call} }} }}"


STOCK = ", $prod: ID!, $loc: ID!, $to: ID!"


def cases() -> list[IsolationCase]:
    stock = attackers_stock
    receive = "inventoryReceiveStock(input: {%s, quantity: 1})"
    ship = "inventoryShipStock(input: {%s, quantity: 1})"
    adjust = "inventoryAdjustStock(input: {%s, change: 1})"
    transfer = "inventoryTransferStock(input: {%s, quantity: 1})"
    return [
        _case(
            "StockInput.productId",
            _mutation(receive % "productId: $id, locationId: $loc", STOCK),
            victim_product,
            variables=stock,
        ),
        _case(
            "StockInput.locationId",
            _mutation(receive % "productId: $prod, locationId: $id", STOCK),
            victim_location,
            variables=stock,
        ),
        _case(
            "ShipStockInput.productId",
            _mutation(ship % "productId: $id, locationId: $loc", STOCK),
            victim_product,
            variables=stock,
        ),
        _case(
            "ShipStockInput.locationId",
            _mutation(ship % "productId: $prod, locationId: $id", STOCK),
            victim_location,
            variables=stock,
        ),
        _case(
            "ShipStockInput.reservationId",
            _mutation(ship % "productId: $prod, locationId: $loc, reservationId: $id", STOCK),
            victim_reservation,
            variables=stock,
        ),
        _case(
            "AdjustStockInput.productId",
            _mutation(adjust % "productId: $id, locationId: $loc", STOCK),
            victim_product,
            variables=stock,
        ),
        _case(
            "AdjustStockInput.locationId",
            _mutation(adjust % "productId: $prod, locationId: $id", STOCK),
            victim_location,
            variables=stock,
        ),
        _case(
            "TransferStockInput.productId",
            _mutation(transfer % "productId: $id, fromLocationId: $loc, toLocationId: $to", STOCK),
            victim_product,
            variables=stock,
        ),
        _case(
            "TransferStockInput.fromLocationId",
            _mutation(transfer % "productId: $prod, fromLocationId: $id, toLocationId: $to", STOCK),
            victim_location,
            variables=stock,
        ),
        _case(
            "TransferStockInput.toLocationId",
            _mutation(
                transfer % "productId: $prod, fromLocationId: $loc, toLocationId: $id", STOCK
            ),
            victim_location,
            variables=stock,
        ),
        _case(
            "CreateLocationInput.parentId",
            _mutation('inventoryCreateLocation(input: {name: "x", parentId: $id})'),
            victim_location,
        ),
        _case(
            "UpdateProductInput.id",
            _mutation('inventoryUpdateProduct(input: {id: $id, name: "stolen"})'),
            victim_product,
        ),
        _case(
            "ReverseMovementInput.movementId",
            _mutation("inventoryReverseMovement(input: {movementId: $id})"),
            victim_movement,
        ),
        _case(
            "Mutation.inventoryReleaseReservation(id)",
            _mutation("inventoryReleaseReservation(id: $id)"),
            victim_reservation,
        ),
        _case(
            "Mutation.inventoryStartCount(locationId)",
            _mutation("inventoryStartCount(locationId: $id)"),
            victim_location,
        ),
        _case(
            "SubmitCountInput.countId",
            _mutation(
                "inventorySubmitCount(input: {countId: $id, "
                "lines: [{productId: $prod, quantity: 1}]})",
                STOCK,
            ),
            victim_count,
            variables=attackers_stock,
        ),
        _case(
            "CountLineInput.productId",
            _mutation(
                "inventorySubmitCount(input: {countId: $count, "
                "lines: [{productId: $id, quantity: 1}]})",
                ", $count: ID!",
            ),
            victim_product,
            variables=attackers_count,
        ),
        _case("InventoryQuery.product(id)", _query("product(id: $id) { id sku }"), victim_product),
        _case("InventoryQuery.count(id)", _query("count(id: $id) { id status }"), victim_count),
        _case(
            "InventoryQuery.importJob(id)",
            _query("importJob(id: $id) { id status filename errors { message } }"),
            victim_import,
        ),
        _case(
            "InventoryQuery.balances(productId)",
            _query("balances(productId: $id) { pageInfo { hasNextPage } }"),
            victim_product,
        ),
        _case(
            "InventoryQuery.balances(locationId)",
            _query("balances(locationId: $id) { pageInfo { hasNextPage } }"),
            victim_location,
        ),
        _case(
            "InventoryQuery.movements(productId)",
            _query("movements(productId: $id) { nodes { id quantity } }"),
            victim_product,
        ),
        _case(
            "InventoryQuery.movements(locationId)",
            _query("movements(locationId: $id) { nodes { id quantity } }"),
            victim_location,
        ),
        _case(
            "InventoryQuery.reservations(productId)",
            _query("reservations(productId: $id) { nodes { id status } }"),
            victim_product,
        ),
    ]


@pytest.hookimpl
def pytest_softbrik_isolation_cases(config: Any) -> list[IsolationCase | StreamCase]:
    # `after: "0"`: the attacker's stream first replays every stock event since the start.
    stream = StreamCase(
        "Subscription.inventoryStockEvents", STOCK_EVENTS, emit_stock_low, {"after": "0"}
    )
    return [*cases(), stream]
