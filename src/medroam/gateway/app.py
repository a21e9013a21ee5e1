"""The HTTP face of the gateway (FastAPI): the national interface's endpoints.

``POST /fsi/api/rsfComIfsService/callService`` (standard), ``…/callService/{infno}``
(the code in the path must agree with the envelope's), the Jilin path
``/mbs/fmi/fsi/api/callFsiService/callService`` and the Hebei-style paths of one
transaction each (:data:`PER_TRANSACTION_PATHS`). The body is read raw and handed to
:class:`~medroam.gateway.dispatch.Gateway`, whatever the content type (``application/
json``, ``application/json;charset=utf-8``, ``text/plain; charset=utf-8``, or multipart
for 9101). The answer is the JSON envelope with HTTP 200, the raw ZIP for a 9102
download, or HTTP 401 for a gateway-authentication failure. ``GET /health`` answers
``{"status": "ok"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from medroam import __version__
from medroam.api import mount_agency_api
from medroam.api.errors import error_response
from medroam.gateway.dispatch import Gateway, Outcome
from medroam.gateway.errors import InputError
from medroam.gateway.settings import GatewaySettings
from medroam.store import sqlstats
from medroam.web import mount_web

STANDARD_PATH = "/fsi/api/rsfComIfsService/callService"
JILIN_PATH = "/mbs/fmi/fsi/api/callFsiService/callService"
JSON_TYPE = "application/json;charset=utf-8"
# Hebei-style deployments name one path per transaction (national-interface §2.1); the
# code the path stands for fills a missing infno and must agree with a present one.
PER_TRANSACTION_PATHS: dict[str, str] = {
    "/fsi/api/signInSignOutService/signIn": "9001",
    "/fsi/api/fsiPsnInfoService/queryPsnInfo": "1101",
    "/fsi/api/fsiPsnPriorityInfoService/queryPsnPriorityInfo": "2001",
    "/fsi/api/outpatientDocInfoService/outpatientRregistration": "2201",
    "/fsi/api/outpatientDocInfoService/outpatientMdtrtinfoUp": "2203",
    "/fsi/api/outpatientDocInfoService/outpatientFeeListUp": "2204",
    "/fsi/api/outpatientDocInfoService/outpatientFeeListUpCancel": "2205",
    "/fsi/api/outpatientSettleService/preSettletment": "2206",
    "/fsi/api/outpatientSettleService/saveSettletmentV2": "2207",
    "/fsi/api/outpatientSettleService/cancleSettletment": "2208",
    "/fsi/api/hospFeeDtlService/feeDtlUp": "2301",
    "/fsi/api/hospFeeDtlService/feeDtlCl": "2302",
    "/fsi/api/hospSettService/preSett": "2303",
    "/fsi/api/hospSettService/settV2": "2304",
    "/fsi/api/hospSettService/settCl": "2305",
    "/fsi/api/hospitalRegisterService/hospitalRegisterSave": "2401",
    "/fsi/api/dscgService/dischargeProcess": "2402",
    "/fsi/api/hospitalRegisterService/hospitalRegisterEdit": "2403",
    "/fsi/api/hospitalRegisterService/hospitalRegisterCancel": "2404",
    "/fsi/api/dscgService/dischargeUndo": "2405",
    "/fsi/api/reverseService/revsMethod": "2601",
    "/fsi/api/ybSettlementStmtService/stmtTotal": "3201",
    "/fsi/api/ybSettlementStmtService/stmtDetail": "3202",
    "/fsi/api/medinfoupload/setllistinfoupld": "4101",
    "/fsi/api/fsiIntegratedQueryService/querySetlInfo": "5203",
    "/fsi/api/fileupload/upload": "9101",
    "/fsi/api/fileupload/download": "9102",
}


class _BodyTooLargeError(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _response(outcome: Outcome) -> Response:
    extra = {sqlstats.HEADER: outcome.sql.header()} if outcome.sql is not None else None
    if outcome.file is not None:
        content, filename = outcome.file
        return Response(
            content=content,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
        )
    return Response(
        content=outcome.body.encode("utf-8", "replace"),
        status_code=outcome.status,
        media_type=JSON_TYPE,
        headers=extra,
    )


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class GatewayApp(FastAPI):
    """The FastAPI app, with the interface's POST paths answered before FastAPI's routing
    and middleware stack: those calls are the hot path, and they need nothing of it (no
    parameters, no validation, no dependency injection). Everything else (the agency
    API, ``/health``, a GET on an interface path) goes through FastAPI as usual; the
    interface routes are registered there too, for the same answers under other
    methods.

    The hot path hands its blocking work (:meth:`Gateway.process`) to a plain thread pool
    of ``thread_limit`` threads with ``loop.run_in_executor`` rather than Starlette's
    ``run_in_threadpool``: the same bounded concurrency, a third of the hand-off's CPU
    (measured 15 against 47 µs per call at 16 in flight, uvloop), and the answer goes out
    as two ASGI messages without building a Starlette ``Response``."""

    gateway: Gateway
    fast_paths: dict[str, str | None]
    thread_limit: int = 40
    _executor: ThreadPoolExecutor | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path in self.fast_paths:
                await self._interface_call(scope, receive, send, self.fast_paths[path])
                return
            head, _, tail = path.rpartition("/")
            if head == STANDARD_PATH and tail:
                await self._interface_call(scope, receive, send, tail)
                return
        await super().__call__(scope, receive, send)

    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.thread_limit, thread_name_prefix="gateway")
        return self._executor

    def close_executor(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def _interface_call(
        self, scope: Scope, receive: Receive, send: Send, infno: str | None
    ) -> None:
        gateway = self.gateway
        limit = gateway.settings.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        content_type = headers.get("content-type", "application/json")
        declared = headers.get("content-length", "")
        chunks: list[bytes] = []
        size = 0
        too_large = declared.isdigit() and int(declared) > limit
        more = not too_large
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                too_large = True
                break
            chunks.append(chunk)
            more = message.get("more_body", False)
        loop = asyncio.get_running_loop()
        if too_large:
            work = partial(gateway.refuse, InputError(f"request body larger than {limit} bytes"))
        else:
            work = partial(
                gateway.process,
                headers,
                b"".join(chunks),
                content_type=content_type,
                path_infno=infno,
            )
        outcome = await loop.run_in_executor(self.executor(), work)
        if outcome.file is not None:
            await _response(outcome)(scope, receive, send)
            return
        body = outcome.body.encode("utf-8", "replace")
        raw_headers = [
            (b"content-type", _JSON_TYPE_BYTES),
            (b"content-length", str(len(body)).encode("latin-1")),
        ]
        if outcome.sql is not None:
            raw_headers.append((_SQL_HEADER_BYTES, outcome.sql.header().encode("latin-1")))
        await send(
            {"type": "http.response.start", "status": outcome.status, "headers": raw_headers}
        )
        await send({"type": "http.response.body", "body": body})


_JSON_TYPE_BYTES = JSON_TYPE.encode("latin-1")
_SQL_HEADER_BYTES = sqlstats.HEADER.encode("latin-1")


def create_app(
    engine: Engine, settings: GatewaySettings | None = None, *, thread_limit: int | None = None
) -> GatewayApp:
    """The gateway application over ``engine`` (already migrated).

    ``thread_limit``: at most this many requests run their (blocking, database) work at
    once in this process; the default is the thread pool's own (40). A serving worker
    sets it to its connection pool's size.
    """
    gateway = Gateway(engine, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if thread_limit:
            anyio.to_thread.current_default_thread_limiter().total_tokens = thread_limit
        try:
            yield
        finally:
            app.close_executor()

    app = GatewayApp(
        title="medroam gateway",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.gateway = gateway
    if thread_limit:
        app.thread_limit = thread_limit
    app.fast_paths = {STANDARD_PATH: None, JILIN_PATH: None, **PER_TRANSACTION_PATHS}

    async def http_error(_request: Request, exc: Exception) -> Response:
        # unmatched paths and methods outside the mounted agency API: the same JSON error
        # body as the agency API's, not FastAPI's {"detail": ...}
        assert isinstance(exc, StarletteHTTPException)
        message = {404: "no such resource", 405: "method not allowed on this resource"}
        return error_response(exc.status_code, message.get(exc.status_code, str(exc.detail)))

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.router.redirect_slashes = False  # "/api/v1" is not found, not redirected (307)

    async def call(request: Request, infno: str | None = None) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        content_type = request.headers.get("content-type", "application/json")
        try:
            body = await _read_body(request, gateway.settings.max_body_bytes)
        except _BodyTooLargeError:
            return _response(
                await run_in_threadpool(
                    gateway.refuse,
                    InputError(f"request body larger than {gateway.settings.max_body_bytes} bytes"),
                )
            )
        outcome = await run_in_threadpool(
            gateway.process, headers, body, content_type=content_type, path_infno=infno
        )
        return _response(outcome)

    async def call_service(request: Request) -> Response:
        return await call(request)

    async def call_service_infno(request: Request, infno: str) -> Response:
        return await call(request, infno)

    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    app.add_api_route(STANDARD_PATH, call_service, methods=["POST"], include_in_schema=False)
    app.add_api_route(
        STANDARD_PATH + "/{infno}", call_service_infno, methods=["POST"], include_in_schema=False
    )
    app.add_api_route(JILIN_PATH, call_service, methods=["POST"], include_in_schema=False)

    def for_code(code: str) -> Callable[[Request], Awaitable[Response]]:
        async def per_transaction(request: Request) -> Response:
            return await call(request, code)

        return per_transaction

    for path, code in PER_TRANSACTION_PATHS.items():
        app.add_api_route(path, for_code(code), methods=["POST"], include_in_schema=False)
    app.add_api_route("/health", health, methods=["GET"], include_in_schema=False)
    mount_agency_api(app, engine, clock=gateway.settings.clock)  # agency REST API, /api/v1
    mount_web(app, engine, clock=gateway.settings.clock)  # console /, self-service /self/
    return app
