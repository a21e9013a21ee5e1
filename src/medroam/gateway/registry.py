"""Transaction handlers, one per ``infno``, and what the dispatcher needs to know of them.

A handler is a plain function ``(ctx, inp) -> output``: ``inp`` is the request's
``input`` object wrapped in a :class:`~medroam.gateway.reader.Node` (path ``input``),
the return value is the ``output`` object (``None`` for transactions documented as
"输出：无"). A handler raises :class:`~medroam.gateway.errors.InputError` or
:class:`~medroam.gateway.errors.BusinessError` to refuse; the dispatcher turns either
into ``infcode -1`` and rolls back everything the handler wrote.

Handlers register themselves with :func:`handler`; the modules under
``medroam.gateway.handlers`` are imported by :func:`load_handlers`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from medroam.gateway.reader import Node


@dataclass(frozen=True, slots=True)
class Institution:
    """The authenticated caller."""

    code: str  # fixmedins_code
    name: str
    region: str  # admdvs of the place of treatment
    level: str  # InstitutionLevel value
    kind: str  # hospital / pharmacy / clinic
    networked: bool  # 跨省联网


@dataclass(frozen=True, slots=True)
class Envelope:
    """The request envelope (交易输入参数), parsed."""

    infno: str
    msgid: str
    mdtrtarea_admvs: str
    insuplc_admdvs: str
    recer_sys_code: str
    infver: str
    opter_type: str
    opter: str
    opter_name: str
    inf_time: datetime | None
    fixmedins_code: str
    fixmedins_name: str
    sign_no: str
    signtype: str = ""


@dataclass(slots=True)
class RequestContext:
    """Everything a handler may use: the unit of work, the caller, the clock, settings."""

    session: Session
    institution: Institution
    envelope: Envelope
    now: datetime  # timezone-aware
    settings: dict[str, Any] = field(default_factory=dict)
    # Set by a handler that produced a file response (9102): raw bytes and a filename.
    file_response: tuple[bytes, str] | None = None
    # Set by a handler with a warning for the answer's ``warn_msg`` (e.g. audit findings).
    warn_msg: str = ""


HandlerFn = Callable[[RequestContext, Node], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    infno: str
    fn: HandlerFn
    name: str  # 中文 transaction name, for logs and errors
    state_changing: bool  # writes: idempotent on msgid, logged with its response
    reversible: bool = False  # may be undone by 2601


_REGISTRY: dict[str, HandlerSpec] = {}


def handler(
    infno: str, name: str, *, state_changing: bool, reversible: bool = False
) -> Callable[[HandlerFn], HandlerFn]:
    def register(fn: HandlerFn) -> HandlerFn:
        if infno in _REGISTRY:
            raise RuntimeError(f"infno {infno} registered twice")
        _REGISTRY[infno] = HandlerSpec(infno, fn, name, state_changing, reversible)
        return fn

    return register


def get_handler(infno: str) -> HandlerSpec | None:
    return _REGISTRY.get(infno)


def registered() -> dict[str, HandlerSpec]:
    return dict(_REGISTRY)


def load_handlers() -> None:
    """Import every module of ``medroam.gateway.handlers`` so that they register."""
    package = importlib.import_module("medroam.gateway.handlers")
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")
