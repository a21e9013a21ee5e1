"""Structured request logs with personal data masked.

One line per request (logger ``medroam.gateway``): a JSON object with infno, msgid,
institution, infcode, HTTP status and the time taken. Request and response bodies are
logged at debug level only when the settings ask for it. Every value that is logged goes
through :func:`mask`: names (``psn_name`` …) keep their first character, ID numbers
(``certno`` …, and any 18-character resident ID number inside free text) keep the first
6 and last 4 characters, so no log line shows a person whole.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from typing import Any

from medroam.domain.identity import mask_id_number, mask_name

logger = logging.getLogger("medroam.gateway")

NAME_KEYS = frozenset(
    {
        "psn_name",
        "patn_name",
        "coner_name",
        "opter_name",
        "diag_dr_name",
        "chfpdr_name",
        "oper_dr_name",
        "anst_dr_name",
        "bilg_dr_name",
        "atddr_name",
        "dr_name",
        "name",
    }
)
ID_KEYS = frozenset(
    {
        "certno",
        "mdtrt_cert_no",
        "psn_cert_no",
        "card_sn",
        "idcard",
        "id_number",
        "tel",
        "coner_tel",
        "emp_tel",
        "addr",
        "curr_addr",
        "coner_addr",
    }
)
_ID_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def _mask_text(text: str) -> str:
    return _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(0)), text)


def mask(value: Any, key: str = "") -> Any:
    """A copy of a JSON-like value with names and ID numbers masked."""
    k = key.lower()
    if isinstance(value, dict):
        return {kk: mask(vv, str(kk)) for kk, vv in value.items()}
    if isinstance(value, list):
        return [mask(v, key) for v in value]
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        if k in NAME_KEYS:
            return mask_name(text)
        if k in ID_KEYS:
            return mask_id_number(text)
        return _mask_text(text) if isinstance(value, str) else value
    return value


def _dump(fields: dict[str, Any]) -> str:
    return json.dumps(mask(fields), ensure_ascii=False, default=str, separators=(",", ":"))


def log_request(**fields: Any) -> None:
    """One structured line per answered request (info; warning for failures)."""
    level = logging.INFO if fields.get("infcode") == 0 else logging.WARNING
    if logger.isEnabledFor(level):
        logger.log(level, _dump({"event": "request", **fields}))


def log_body(direction: str, ref: str, body: Any) -> None:
    """A request or response body at debug level, masked."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(_dump({"event": direction, "ref": ref, "body": body}))


# What a database error's text can carry of the request: the statement's parameters
# (SQLAlchemy prints them unless the engine hides them) and PostgreSQL's DETAIL line
# ("Key (certno)=(…) already exists"). Both are cut from logged tracebacks.
_PARAMETERS = re.compile(r"\[parameters: .*?\]$", re.MULTILINE | re.DOTALL)
_DETAIL = re.compile(r"^DETAIL: .*$", re.MULTILINE)
# A driver's own message can quote a value (``invalid input syntax for type integer:
# "…"``): quoted text in the exception lines of database errors is cut too.
_DB_ERROR_LINE = re.compile(r"^(?:psycopg|sqlalchemy\.exc|sqlite3)[^\n]*$", re.MULTILINE)
_QUOTED = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'")


def scrub(text: str) -> str:
    """A traceback or error text fit for a log: SQL parameters and DETAIL lines removed,
    resident ID numbers masked."""
    text = _PARAMETERS.sub("[parameters: hidden]", text)
    text = _DETAIL.sub("DETAIL: (hidden)", text)
    text = _DB_ERROR_LINE.sub(lambda m: _QUOTED.sub('"…"', m.group(0)), text)
    return _mask_text(text)


def log_internal_error(ref: str, **fields: Any) -> None:
    """The exception being handled, with its traceback (SQL parameters and DETAIL lines
    removed, ID numbers masked: :func:`scrub`) and the reference the client gets."""
    trace = scrub(traceback.format_exc())
    logger.error("%s\n%s", _dump({"event": "internal_error", "ref": ref, **fields}), trace)


def configure(level: str = "INFO") -> None:
    """Log to stderr at ``level`` (used by ``medroam serve``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger("medroam")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
