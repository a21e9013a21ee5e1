"""Errors of the agency API: one JSON shape, a fitting status, never a stack trace.

Every error body is ``{"status": 403, "error": "forbidden", "message": "…"}``, with
``details`` (a list of ``{"field", "message"}``) when input failed validation.

* 400 ``bad_request``: well-formed input that the rules refuse (a filing's destination
  inside the insured region …) or malformed JSON;
* 401 ``unauthorized``: no bearer token, or an unknown or inactive one;
* 403 ``forbidden``: the role may not do this, or not in that region;
* 404 ``not_found``: no such person, filing, institution, policy, item or settlement;
* 409 ``conflict``: the request conflicts with what is stored (an existing id, a second
  long-term filing, a locked filing, an overlapping policy version …);
* 422 ``validation_error``: the input does not have the documented form (schema, ID-number
  checksum, policy validator); ``details`` name the fields.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from medroam.gateway.logging import scrub

log = logging.getLogger("medroam.api")

ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
}


class FieldProblem(BaseModel):
    field: str = Field(description="Where the problem is: a dotted path such as `certno`.")
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    status: int = Field(examples=[403])
    error: str = Field(examples=["forbidden"])
    message: str = Field(
        examples=[
            "role insured_place of 110100 may not read persons of 310100 (outside its region)"
        ]
    )
    details: list[FieldProblem] | None = None


class ApiError(Exception):
    """An error answered as :class:`ErrorBody` with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        details: Sequence[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = list(details)
        self.headers = headers


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", [(field, message)])


def error_response(
    status: int,
    message: str,
    details: Sequence[tuple[str, str]] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "status": status,
        "error": ERROR_NAMES.get(status, "error"),
        "message": message,
    }
    if details:
        body["details"] = [{"field": f, "message": m} for f, m in details]
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, parts = parts[0], parts[1:]
        if not parts:
            return where
    return ".".join(parts)


def _validation(exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "the request body is not valid JSON")
    details = [(_field(e.get("loc", ())), str(e.get("msg", "invalid"))) for e in errors]
    first = details[0] if details else ("request", "invalid")
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return error_response(422, f"{first[0]}: {first[1]}{more}", details)


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, exc.details, exc.headers)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = {
            404: "no such resource",
            405: "method not allowed on this resource",
        }.get(exc.status_code, str(exc.detail))
        return error_response(
            exc.status_code, message, headers=dict(exc.headers) if exc.headers else None
        )

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation(exc)

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        trace = "".join(traceback.format_exception(exc))
        log.error("agency API: unexpected error\n%s", scrub(trace))  # no personal data
        return error_response(500, "internal error; the request was not carried out")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": name.replace("_", " ")}
    for status, name in ERROR_NAMES.items()
    if status in (400, 401, 403, 404, 409, 422)
}


# Statuses any operation may answer whatever it does: a malformed request (400), no or a
# wrong token (401), outside the role's region (403), no such resource (404, also for
# another region's settlement), invalid fields (422). Documented on every operation.
COMMON_ERRORS = (400, 401, 403, 404, 422)
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (an OpenAPI document, changed in place) with :data:`COMMON_ERRORS`
    documented on every operation as :class:`ErrorBody`, replacing FastAPI's default 422
    body (``HTTPValidationError``), which this API never answers."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for name, sub in (
        ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        .get("$defs", {})
        .items()
    ):
        components.setdefault(name, sub)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in COMMON_ERRORS:
                entry = responses.get(str(status))
                content = (entry or {}).get("content", {}).get("application/json", {})
                if entry is None or "HTTPValidationError" in str(content.get("schema")):
                    responses[str(status)] = {
                        "description": ERROR_NAMES[status].replace("_", " "),
                        "content": {"application/json": {"schema": dict(_ERROR_REF)}},
                    }
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in components and unused not in str(schema.get("paths")):
            del components[unused]
    return schema
