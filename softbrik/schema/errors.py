"""Error codes in `extensions.code`, and masking of everything unexpected (API.md, Errors)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from softbrik.core.errors import DomainError

log = logging.getLogger("softbrik.errors")
CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "PAYMENT_FAILED",
    "RATE_LIMITED",
    "ACCOUNT_LOCKED",
    "QUERY_TOO_COMPLEX",  # a document over a limit (softbrik/schema/limits.py)
    "INTERNAL_SERVER_ERROR",
}


def code_of(error: GraphQLError) -> str:
    """The `extensions.code` that `coded` gives (or gave) an error."""
    original = error.original_error
    code = (error.extensions or {}).get("code")
    if original is None and code in CODES:
        return str(code)
    if isinstance(original, DomainError):
        return original.code
    if original is None or isinstance(original, GraphQLError) or _refused_value(error):
        return str(code) if code in CODES else "BAD_USER_INPUT"
    return "INTERNAL_SERVER_ERROR"


def coded(error: GraphQLError, request_id: str | None) -> GraphQLError:
    original = error.original_error
    if original is None and (error.extensions or {}).get("code") in CODES:
        return error  # coded already
    extensions: dict[str, Any] = {"code": code_of(error)}
    if isinstance(original, DomainError):
        message = original.message
        extensions.update(original.extensions)
    elif original is None or isinstance(original, GraphQLError) or _refused_value(error):
        # Parsing, validation and variable errors: the request itself is wrong.
        message = error.message
    else:
        log.error(
            "unexpected error",
            exc_info=(type(original), original, original.__traceback__),
            extra={"request_id": request_id, "path": error.path},
        )
        message = f"Unexpected error. Quote request id {request_id} to support."
    if request_id:
        extensions["requestId"] = request_id
    return GraphQLError(
        message,
        nodes=error.nodes,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def _refused_value(error: GraphQLError) -> bool:
    """A scalar refusing a value written in the query: graphql-core keeps the scalar's
    ValueError or TypeError as the original error of a validation error (no path)."""
    return error.path is None and isinstance(error.original_error, ValueError | TypeError)


class ErrorCodes(SchemaExtension):
    """Gives every error a code, and masks unexpected ones with the request id."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not getattr(result, "errors", None):
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        result.errors = [coded(error, request_id) for error in result.errors or []]
        metrics = getattr(getattr(context, "rt", None), "metrics", None)
        if metrics is not None:
            for error in result.errors:
                metrics.graphql_errors.labels((error.extensions or {}).get("code", "")).inc()
