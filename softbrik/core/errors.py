"""Domain errors. The GraphQL layer maps each to `extensions.code` (API.md, Errors)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class BadUserInput(DomainError):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, field: str | None = None, **extensions: Any) -> None:
        if field is not None:
            extensions["field"] = field
        super().__init__(message, **extensions)
        self.field = field


class Conflict(DomainError):
    code = "CONFLICT"


class PaymentFailed(DomainError):
    code = "PAYMENT_FAILED"


class RateLimited(DomainError):
    code = "RATE_LIMITED"
