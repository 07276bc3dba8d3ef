"""Opaque global IDs (Relay): base64 of `Type:pk`.

A malformed id is NOT_FOUND, like a missing one.
"""

from __future__ import annotations

import base64
import binascii

from softbrik.core.errors import NotFound


def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_any(global_id: str) -> tuple[str, int]:
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, raw = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        pk = int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise NotFound("Nothing has this id.") from exc
    if not type_name or pk <= 0 or pk > 2**62:
        raise NotFound("Nothing has this id.")
    return type_name, pk


def decode_id(global_id: str, type_name: str, field: str = "id") -> int:
    """The primary key in an id of the expected type, or NOT_FOUND."""
    found_type, pk = decode_any(global_id)
    if found_type != type_name:
        raise NotFound(f"No {type_name.lower()} has this id.", field=field)
    return pk
