"""Refusals of the settlement services.

They subclass the gateway's error types (``gateway/errors.py`` is a leaf module), so a
handler lets them through and the dispatcher answers ``infcode -1`` with the message;
other callers (CLI, tests, the agency API) catch them as ordinary exceptions.
"""

from __future__ import annotations

from medroam.gateway.errors import BusinessError, InputError


class NotFoundError(BusinessError):
    """An id that is unknown — or belongs to another institution: the answer is the same."""


class RefusedError(BusinessError):
    """The business rules refuse the request; the message says which rule and value."""


class InvalidInputError(InputError):
    """A field value the services cannot accept (names the field and the value)."""
