"""Errors of the gateway, each mapped to the interface's error shape (infcode -1)."""

from __future__ import annotations


class GatewayError(Exception):
    """Any refusal. ``message`` becomes ``err_msg``; ``http_status`` the HTTP status."""

    http_status = 200

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(GatewayError):
    """A field of the request is missing or invalid (names the field and the value)."""


class BusinessError(GatewayError):
    """The request is well formed but the business rules refuse it."""


class AuthError(GatewayError):
    """Gateway authentication failed (HTTP 401, as the CSB/TIF gateways answer)."""

    http_status = 401


class ForbiddenError(GatewayError):
    """An institution asked for another institution's data: refused, nothing revealed."""
