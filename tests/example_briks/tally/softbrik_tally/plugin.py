"""An example Brik with no schema: it only hears domain events (`softbrik_event`)."""

from __future__ import annotations

from typing import Any

from softbrik.plugin import BrikManifest, hookimpl

HEARD: list[Any] = []


@hookimpl
def softbrik_brik() -> BrikManifest:
    return BrikManifest(
        key="tally",
        name="Tally",
        description="Counts events (an example Brik).",
        price_cents=600,
    )


@hookimpl
async def softbrik_event(event: Any) -> None:
    HEARD.append(event)
