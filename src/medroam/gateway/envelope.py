"""The request and response envelopes (national-interface §2.2–§2.4).

Reading is lenient the way real HIS clients need (§2.10–2.11): ``infver`` and
``recer_sys_code`` take any value, optional fields may be missing, empty or the string
``"null"``, ``msgid`` is an opaque string of at most 30 characters, the region fields may
be empty, and unknown fields are ignored. What must hold is refused precisely: the
field's name, the problem and the value it got.

Writing is strict: the six documented response fields, in order, ``infcode`` a JSON
number (0 or -1), times as ``yyyyMMddHHmmssSSS``.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from medroam.gateway.errors import InputError
from medroam.gateway.registry import Envelope

_EMPTY = (None, "", "null", "NULL", "None")
# 4-digit national codes and the longer provincial ones (2203A, 13203, 100001).
_INFNO = re.compile(r"[0-9]{4,6}[A-Za-z]?")
_REGION = re.compile(r"[0-9]{6}")
INFNO_MAX_LEN = 6
# Field → maximum length (lenient: the larger of the lengths seen in the spec copies).
_MAX_LEN = {
    "mdtrtarea_admvs": 6,
    "insuplc_admdvs": 6,
    "recer_sys_code": 30,
    "infver": 10,
    "opter_type": 3,
    "opter": 30,
    "opter_name": 50,
    "fixmedins_code": 30,
    "fixmedins_name": 200,
    "sign_no": 30,
    "signtype": 10,
}
# NUL and lone surrogates: valid JSON escapes, but no database, log or UTF-8 writer takes them
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S")


def parse_json(body: bytes) -> Any:
    """The JSON value of a UTF-8 body (a BOM is tolerated); floats become ``Decimal``."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"request body is not UTF-8: byte {exc.start} is 0x{body[exc.start]:02x}"
        ) from None
    if not text.strip():
        raise InputError("request body is empty: expected the JSON envelope")
    try:
        doc = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InputError("request body is not valid JSON: nested too deeply") from None
    if _SUSPECT_ESCAPE.search(text):  # only a \\u escape can smuggle them in
        check_text(doc)
    return doc


def _bad_character(text: str) -> str:
    """What makes ``text`` unstorable, or ``""``: a NUL (PostgreSQL refuses it) or a lone
    UTF-16 surrogate (``"\\ud800"`` in JSON; no UTF-8 form exists)."""
    found = _BAD_CHARACTER.search(text)
    if found is None:
        return ""
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000)"
    return f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not a character"


def check_text(doc: Any, path: str = "") -> None:
    """Refuse, naming the field, any string (value or key) of ``doc`` with a NUL or a lone
    surrogate: no handler, database or log can take them."""
    stack: list[tuple[Any, str]] = [(doc, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            problem = _bad_character(value)
            if problem:
                raise InputError(f"{where or 'request body'}: {problem}")
        elif isinstance(value, dict):
            for key, item in value.items():
                key_text = str(key)
                problem = _bad_character(key_text)
                if problem:
                    raise InputError(f"{where or 'request body'}: a field name {problem}")
                stack.append((item, f"{where}.{key_text}" if where else key_text))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))


def _refuse_constant(name: str) -> Any:
    raise InputError(f"request body is not valid JSON: {name} is not a number")


def _text(raw: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = raw.get(key)
    if value in _EMPTY:
        if required:
            raise InputError(f"{key}: is required (必填)")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise InputError(f"{key}: must be a string, got {_show(value)}")
    text = str(value).strip()
    if not text and required:
        raise InputError(f"{key}: is required (必填)")
    limit = _MAX_LEN.get(key)
    if limit is not None and len(text) > limit:
        raise InputError(f"{key}: longer than {limit} characters ({len(text)}): {text[:40]!r}")
    return text


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_infno(value: Any, where: str = "infno") -> str:
    """A transaction code: 4–6 digits, optionally followed by one letter (``2203A``)."""
    if value in _EMPTY:
        raise InputError(f"{where}: is required (必填)")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{where}: must be a string, got {_show(value)}")
    text = str(value).strip()
    if len(text) > INFNO_MAX_LEN:
        raise InputError(
            f"{where}: longer than {INFNO_MAX_LEN} characters ({len(text)}): {text[:20]!r}"
        )
    if not _INFNO.fullmatch(text):
        raise InputError(f"{where}: {text!r} is not a transaction code (4 to 6 digits)")
    return text.upper()


def _region(raw: dict[str, Any], key: str) -> str:
    value = _text(raw, key)
    if value and not _REGION.fullmatch(value):
        raise InputError(f"{key}: must be a 6-digit region code or empty, got {value!r}")
    return value


def _inf_time(raw: dict[str, Any]) -> datetime | None:
    value = raw.get("inf_time")
    if value in _EMPTY:
        return None
    if not isinstance(value, str):
        raise InputError(f"inf_time: must be a string yyyy-MM-dd HH:mm:ss, got {_show(value)}")
    text = value.strip()
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise InputError(f"inf_time: must be a time yyyy-MM-dd HH:mm:ss, got {text[:30]!r}")


def parse_envelope(
    doc: Any, *, path_infno: str | None = None, max_msgid_len: int = 30
) -> tuple[Envelope, dict[str, Any]]:
    """The envelope and the ``input`` object of a request document.

    ``path_infno`` is the code named by the path (``…/callService/1101``): it stands in
    for a missing ``infno`` and must agree with a present one.
    """
    if not isinstance(doc, dict):
        raise InputError(f"request body must be a JSON object (the envelope), got {_show(doc)}")
    if doc.get("infno") in _EMPTY and path_infno is not None:
        infno = parse_infno(path_infno, "path infno")
    else:
        infno = parse_infno(doc.get("infno"))
        if path_infno is not None:
            from_path = parse_infno(path_infno, "path infno")
            if from_path != infno:
                raise InputError(
                    f"infno: the path names {from_path} but the envelope's infno is {infno}"
                )

    msgid = _text(doc, "msgid", required=True)
    if len(msgid) > max_msgid_len:
        raise InputError(f"msgid: longer than {max_msgid_len} characters ({len(msgid)})")
    if not msgid.isprintable() or any(c.isspace() for c in msgid):
        raise InputError(f"msgid: must not contain spaces or control characters: {msgid!r}")

    fixmedins_code = _text(doc, "fixmedins_code", required=True)

    if "input" not in doc or doc["input"] is None:
        raise InputError("input: is required (必填): the transaction's input object")
    inp = doc["input"]
    if isinstance(inp, str) and inp.strip() in ("", "null", "{}"):
        inp = {}
    if isinstance(inp, str):
        raise InputError(
            "input: must be a JSON object; encrypted input (enc_type SM4) is not supported"
        )
    if not isinstance(inp, dict):
        raise InputError(f"input: must be a JSON object, got {_show(inp)}")

    envelope = Envelope(
        infno=infno,
        msgid=msgid,
        mdtrtarea_admvs=_region(doc, "mdtrtarea_admvs"),
        insuplc_admdvs=_region(doc, "insuplc_admdvs"),
        recer_sys_code=_text(doc, "recer_sys_code"),
        infver=_text(doc, "infver"),
        opter_type=_text(doc, "opter_type"),
        opter=_text(doc, "opter"),
        opter_name=_text(doc, "opter_name"),
        inf_time=_inf_time(doc),
        fixmedins_code=fixmedins_code,
        fixmedins_name=_text(doc, "fixmedins_name"),
        sign_no=_text(doc, "sign_no"),
        signtype=_text(doc, "signtype"),
    )
    return envelope, inp


# --- the response ----------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    """``yyyyMMddHHmmssSSS`` (refmsg_time, respond_time)."""
    return moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"


def new_refmsgid(region: str, moment: datetime) -> str:
    """inf_refmsgid: receiver region (6) + yyyyMMddHHmmss (14) + serial (10) = 30 chars."""
    region = region if _REGION.fullmatch(region or "") else "000000"
    return f"{region}{moment:%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def response_envelope(
    *,
    infcode: int,
    inf_refmsgid: str,
    received_at: datetime,
    responded_at: datetime,
    err_msg: str = "",
    output: dict[str, Any] | None = None,
    warn_msg: str = "",
) -> dict[str, Any]:
    """The response envelope in the documented order (§2.4), plus ``warn_msg`` if any."""
    env: dict[str, Any] = {
        "infcode": infcode,
        "inf_refmsgid": inf_refmsgid,
        "refmsg_time": stamp(received_at),
        "respond_time": stamp(responded_at),
        "err_msg": err_msg[:200] if err_msg else "",
        "output": output,
    }
    if warn_msg:
        env["warn_msg"] = warn_msg
    return env
