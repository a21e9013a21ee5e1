"""The agency API as its own FastAPI application, mounted under ``/api/v1``.

A sub-application (rather than routes added to the gateway's app) keeps the agency API's
OpenAPI document (``/api/v1/openapi.json``, docs at ``/api/v1/docs``) and its JSON error
handlers to itself: the national interface keeps answering HTTP 200 envelopes, the agency
API answers REST status codes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine

from medroam import __version__
from medroam.api.clearing_routes import install as install_clearing_routes
from medroam.api.errors import document_errors, install_error_handlers
from medroam.api.mutual_aid_routes import install as install_mutual_aid_routes
from medroam.api.routes import router

AGENCY_PREFIX = "/api/v1"
CHINA_TZ = timezone(timedelta(hours=8), "CST")

DESCRIPTION = """\
The agency REST API of medroam (经办机构接口): insured persons (参保人), filings (备案),
designated institutions (定点医药机构) and their gateway credentials, benefit policies
(参保地支付政策), the place-of-treatment catalogue (就医地目录) and settlement queries.

Authenticate with `Authorization: Bearer <agency token>`. A token has a role —
`insured_place` (参保地经办), `treatment_place` (就医地经办), `province` (省级), `nation`
(国家级) — and a region; a call outside the role's region is answered 403.
`medroam seed --demo` writes tokens for every role into var/demo-fixtures.json.

Every error is JSON: `{"status": 403, "error": "forbidden", "message": "…"}` (plus
`details` naming the fields for 422). All data of the demo nation is SYNTHETIC.
"""

TAGS = [
    {"name": "persons", "description": "参保人: register, get, list (ID numbers masked)."},
    {"name": "filings", "description": "备案: make, change, cancel, query, history."},
    {"name": "institutions", "description": "定点医药机构 and their gateway credentials."},
    {"name": "policies", "description": "参保地支付政策: versions, in force, upload."},
    {"name": "catalogue", "description": "就医地目录: lookup by code, search by name."},
    {"name": "settlements", "description": "结算 (read-only)."},
    {"name": "mutual-aid", "description": "个人账户共济: grant, end, list."},
]


def china_now() -> datetime:
    return datetime.now(CHINA_TZ)


SWAGGER_STATIC = "/static/vendor/swagger-ui"  # bundled by medroam.web (no CDN)


async def offline_docs() -> HTMLResponse:
    """Swagger UI from the package's own copy of swagger-ui-dist, not a CDN."""
    return get_swagger_ui_html(
        openapi_url=AGENCY_PREFIX + "/openapi.json",
        title="medroam agency API · 经办接口文档",
        swagger_js_url=SWAGGER_STATIC + "/swagger-ui-bundle.js",
        swagger_css_url=SWAGGER_STATIC + "/swagger-ui.css",
        swagger_favicon_url=SWAGGER_STATIC + "/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )


def create_agency_app(engine: Engine, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The agency API over ``engine`` (migrated); ``clock`` gives "now" (China time)."""
    app = FastAPI(
        title="medroam agency API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        docs_url=None,  # served below from the bundled Swagger UI (works offline)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.add_api_route("/docs", offline_docs, methods=["GET"], include_in_schema=False)
    app.state.engine = engine
    app.state.clock = clock or china_now
    install_error_handlers(app)
    app.include_router(router)
    install_clearing_routes(app)  # clearing, statements, prepayment
    install_mutual_aid_routes(app)  # 个人账户共济 grants
    openapi = app.openapi

    def documented() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(openapi())
        return app.openapi_schema

    app.openapi = documented  # type: ignore[method-assign]
    return app


def mount_agency_api(
    app: FastAPI, engine: Engine, *, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """Mount the agency API under ``/api/v1`` of ``app`` (e.g. the gateway's)."""
    agency = create_agency_app(engine, clock=clock)
    app.mount(AGENCY_PREFIX, agency)
    return agency
