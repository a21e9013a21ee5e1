"""JSON output with exact decimal numbers.

The interface wants amounts as JSON numbers with 2 decimals and ratios with 4. The
standard ``json`` module can only write floats, so this tiny writer emits ``Decimal`` as
its exact literal. Everything else is delegated to ``json`` for correct string escaping.

The output is always encodable as UTF-8: a lone surrogate (which has no UTF-8 form and
once made an echoed error message fail with HTTP 500) is written as U+FFFD.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any


def dumps(obj: Any, *, indent: int | None = None) -> str:
    parts: list[str] = []
    _write(obj, parts, indent, 0)
    return "".join(parts)


def _write(obj: Any, out: list[str], indent: int | None, level: int) -> None:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError("non-finite decimal")
        out.append(format(obj, "f"))
    elif isinstance(obj, str):
        out.append(json.dumps(safe_text(obj), ensure_ascii=False))
    elif obj is None or isinstance(obj, (bool, int)):
        out.append(json.dumps(obj, ensure_ascii=False))
    elif isinstance(obj, float):
        raise TypeError("floats are not allowed in interface output; use Decimal")
    elif isinstance(obj, Mapping):
        if not obj:
            out.append("{}")
            return
        nl, pad, pad_in = _pads(indent, level)
        out.append("{")
        for i, (key, value) in enumerate(obj.items()):
            key_text = json.dumps(safe_text(str(key)), ensure_ascii=False)
            out.append(("," if i else "") + nl + pad_in + key_text)
            out.append(": " if indent is not None else ":")
            _write(value, out, indent, level + 1)
        out.append(nl + pad + "}")
    elif isinstance(obj, Sequence):
        if not obj:
            out.append("[]")
            return
        nl, pad, pad_in = _pads(indent, level)
        out.append("[")
        for i, value in enumerate(obj):
            out.append(("," if i else "") + nl + pad_in)
            _write(value, out, indent, level + 1)
        out.append(nl + pad + "]")
    else:
        raise TypeError(f"cannot serialise {type(obj).__name__}")


_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD (so it encodes as UTF-8)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _pads(indent: int | None, level: int) -> tuple[str, str, str]:
    if indent is None:
        return "", "", ""
    return "\n", " " * (indent * level), " " * (indent * (level + 1))
