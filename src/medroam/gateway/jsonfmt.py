"""JSON output with exact decimal numbers.

The interface wants amounts as JSON numbers with 2 decimals and ratios with 4. The
standard ``json`` module can only write floats, so this tiny writer emits ``Decimal`` as
its exact literal. Everything else is delegated to ``json`` for correct string escaping.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

# The standard library's C string quoting without ASCII escaping: exactly what
# ``json.dumps(text, ensure_ascii=False)`` writes for a string.
_quote: Callable[[str], str] = encode_basestring


def dumps(obj: Any, *, indent: int | None = None) -> str:
    parts: list[str] = []
    if indent is None:
        _compact(obj, parts.append)
    else:
        _write(obj, parts, indent, 0)
    return "".join(parts)


def _compact(obj: Any, put: Callable[[str], Any]) -> None:
    """The compact form (every interface answer): exact types first, since an envelope
    is thousands of small strings, ints and dicts (``json.dumps`` per value cost 10 µs)."""
    t = type(obj)
    if t is str:
        put(_quote(obj))
    elif t is dict:
        if not obj:
            put("{}")
            return
        sep = "{"
        for key, value in obj.items():
            put(sep)
            put(_quote(key if type(key) is str else str(key)))
            put(":")
            _compact(value, put)
            sep = ","
        put("}")
    elif t is int:
        put(int.__repr__(obj))
    elif obj is None:
        put("null")
    elif t is bool:
        put("true" if obj else "false")
    elif t is Decimal:
        if not obj.is_finite():
            raise ValueError("non-finite decimal")
        put(format(obj, "f"))
    elif t is list or t is tuple:
        if not obj:
            put("[]")
            return
        sep = "["
        for value in obj:
            put(sep)
            _compact(value, put)
            sep = ","
        put("]")
    else:  # subclasses (IntEnum, OrderedDict, MappingProxyType …): the general writer
        parts: list[str] = []
        _write(obj, parts, None, 0)
        put("".join(parts))


def _write(obj: Any, out: list[str], indent: int | None, level: int) -> None:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError("non-finite decimal")
        out.append(format(obj, "f"))
    elif obj is None or isinstance(obj, (bool, int, str)):
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
            out.append(("," if i else "") + nl + pad_in + _quote(str(key)))
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


def _pads(indent: int | None, level: int) -> tuple[str, str, str]:
    if indent is None:
        return "", "", ""
    return "\n", " " * (indent * level), " " * (indent * (level + 1))
