"""The Relay `Node` interface and `node(id)`: another team's id answers NOT_FOUND."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.types import Info

from softbrik.core.errors import NotFound
from softbrik.schema.ids import decode_any

NodeLoader = Callable[[Any, int], Awaitable[Any]]
LOADERS: dict[str, NodeLoader] = {}


@strawberry.interface
class Node:
    id: strawberry.ID


def node_loader(type_name: str) -> Callable[[NodeLoader], NodeLoader]:
    """Register how to load a node of `type_name` for a context (always within its team)."""

    def register(loader: NodeLoader) -> NodeLoader:
        LOADERS[type_name] = loader
        return loader

    return register


@strawberry.type
class NodeQuery:
    @strawberry.field
    async def node(self, info: Info[Any, Any], id: strawberry.ID) -> Node | None:
        info.context.require_user()
        type_name, pk = decode_any(id)
        loader = LOADERS.get(type_name)
        brik_node = info.schema._softbrik_owners.nodes.get(type_name)  # type: ignore[attr-defined]
        found = None
        if loader is not None:
            found = await loader(info.context, pk)
        elif brik_node is not None:
            brik, load = brik_node
            await info.context.require_seat(brik)  # R-ACC-3, as on every field of the Brik
            found = await load(info.context.brik_context_for(brik), pk)
        if found is None:
            raise NotFound("Nothing has this id.", field="id")
        return found  # type: ignore[no-any-return]
