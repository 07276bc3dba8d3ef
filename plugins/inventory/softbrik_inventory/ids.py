"""Opaque ids of the Brik's objects, shaped as the platform's: base64 of `Type:pk`.

A malformed id, an id of another type and an id of another team all answer NOT_FOUND, exactly
like a missing one (DESIGN.md, Tenancy).
"""

from __future__ import annotations

import base64
import binascii

from softbrik.plugin import NotFound


def encode(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode(global_id: str, type_name: str, field: str = "id") -> int:
    """The primary key in an id of the expected type, or NOT_FOUND naming `field`."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        found, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        pk = int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise NotFound(f"No {type_name.lower()} has this id.", field=field) from exc
    if found != type_name or pk <= 0 or pk > 2**62:
        raise NotFound(f"No {type_name.lower()} has this id.", field=field)
    return pk
