"""The web edge: client addresses behind trusted proxies, CSRF checks and secure headers."""

from softbrik.web.guard import CSRF_HEADERS, WebGuard, client_address, refusal

__all__ = ["CSRF_HEADERS", "WebGuard", "client_address", "refusal"]
