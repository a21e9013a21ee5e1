"""Load the audit rule library (``medroam/data/audit/*.json``) into a ``RuleBook``.

One file per region and edition::

    {"format_version": 1, "synthetic": true, "source": "...",
     "region": "000000", "effective_from": "2025-01-01",
     "rules": [{"code": "GZ10000101007000", "name": "...", "mechanism": "indication_limit",
                "result_type": "明确违规", "window": "当次住院", "scenarios": ["住院"],
                "stages": ["事前", "事中", "事后"], "insutypes": ["310", "390"],
                "severity": "2", "action": "warn", "behaviour": "限适应症",
                "params": {...}, "effective_to": null}]}

Prices and amounts are yuan as decimal strings (never JSON floats), quantities and
ratios decimal strings too. An unknown mechanism, a bad code, a missing or impossible
parameter, an unknown key or a duplicate rule code raises ``ReferenceDataError`` naming
the file, the rule and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from medroam.domain.audit.engine import RuleBook
from medroam.domain.audit.mechanisms import MECHANISMS, ParamError
from medroam.domain.audit.model import (
    Action,
    ResultType,
    Rule,
    RuleMeta,
    Scenario,
    Severity,
    Stage,
    TimeWindow,
)
from medroam.refdata.errors import ReferenceDataError
from medroam.refdata.provinces import _no_duplicates

E = TypeVar("E", bound=StrEnum)
FORMAT_VERSION = 1
RULE_CODE = re.compile(r"^(GZ\d{14}|ZB\d{14}|L\d{6}\d{3})$")
ITEM_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,49}$")
REGION = re.compile(r"^\d{6}$")
INSUTYPES = frozenset({"310", "320", "330", "340", "390", "392", "510"})
_TOP_KEYS = frozenset(
    {"format_version", "synthetic", "source", "region", "effective_from", "rules"}
)
_RULE_REQUIRED = (
    "code",
    "name",
    "mechanism",
    "result_type",
    "window",
    "scenarios",
    "stages",
    "severity",
    "action",
    "behaviour",
    "params",
)
_RULE_KEYS = frozenset({*_RULE_REQUIRED, "insutypes", "effective_to", "note"})


def load_rule_book(paths: Iterable[Path] | None = None) -> RuleBook:
    """Load and validate rule files; ``None`` loads the packaged library (cached)."""
    if paths is None:
        return _packaged()
    rules: list[Rule] = []
    for path in paths:
        rules.extend(parse_rule_file(path.read_text(encoding="utf-8-sig"), str(path)))
    return RuleBook(tuple(rules))


@lru_cache(maxsize=1)
def _packaged() -> RuleBook:
    folder = files("medroam").joinpath("data", "audit")
    rules: list[Rule] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            rules.extend(
                parse_rule_file(
                    entry.read_text(encoding="utf-8-sig"), f"medroam/data/audit/{entry.name}"
                )
            )
    return RuleBook(tuple(rules))


class _Float(str):
    """A JSON float as written, kept so that its refusal can name the rule and field."""


def _first_float(value: Any, path: str) -> tuple[str, str] | None:
    """The path and text of the first JSON float inside ``value``."""
    if isinstance(value, _Float):
        return path, str(value)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_float(item, f"{path}.{key}" if path else key)
            if found:
                return found
    if isinstance(value, list):
        for n, item in enumerate(value):
            found = _first_float(item, f"{path}[{n}]")
            if found:
                return found
    return None


def _refuse_floats(file: str, doc: Any) -> None:
    """Prices and amounts are decimal strings: a JSON float is refused, naming the rule
    (its code, else its number) and the field."""
    rules = doc.get("rules") if isinstance(doc, dict) else None
    for n, rule in enumerate(rules if isinstance(rules, list) else []):
        found = _first_float(rule, "")
        if found:
            code = rule.get("code") if isinstance(rule, dict) else None
            where = f"rule {code}" if isinstance(code, str) and code else f"rule #{n + 1}"
            raise ReferenceDataError(
                file, where, found[0], f"JSON float {found[1]} refused; write a string"
            )
    found = _first_float(doc, "")
    if found:
        raise ReferenceDataError(
            file, "", found[0], f"JSON float {found[1]} refused; write a string"
        )


def parse_rule_file(text: str, file: str) -> list[Rule]:
    """Validate the JSON text of one rule file; ``file`` names it in errors."""
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates(file), parse_float=_Float)
    except json.JSONDecodeError as exc:
        raise ReferenceDataError(file, "", "(json)", f"not JSON: {exc}") from None
    _refuse_floats(file, doc)
    if not isinstance(doc, dict):
        raise ReferenceDataError(file, "", "(top)", "must be an object")
    for key in doc:
        if key not in _TOP_KEYS:
            raise ReferenceDataError(file, "", key, "unknown key")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ReferenceDataError(
            file,
            "",
            "format_version",
            f"must be {FORMAT_VERSION}, got {doc.get('format_version')!r}",
        )
    synthetic = doc.get("synthetic")
    if not isinstance(synthetic, bool):
        raise ReferenceDataError(file, "", "synthetic", "must be true or false")
    if not isinstance(doc.get("source"), str) or not doc["source"].strip():
        raise ReferenceDataError(file, "", "source", "must be a non-empty string")
    region = doc.get("region")
    if not isinstance(region, str) or not REGION.match(region):
        raise ReferenceDataError(file, "", "region", f"must be 6 digits, got {region!r}")
    start = _date(file, "", "effective_from", doc.get("effective_from"))
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ReferenceDataError(file, "", "rules", "must be a non-empty list")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        rule = _rule(file, index, raw, region, start, synthetic)
        if rule.meta.code in seen:
            raise ReferenceDataError(file, f"rule {rule.meta.code}", "code", "duplicate rule code")
        seen.add(rule.meta.code)
        rules.append(rule)
    return rules


def _date(file: str, where: str, field: str, value: object) -> date:
    if not isinstance(value, str):
        raise ReferenceDataError(file, where, field, f"must be a YYYY-MM-DD string, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReferenceDataError(file, where, field, f"not a date: {value!r}") from None


def _enum(file: str, where: str, field: str, value: object, kind: type[E]) -> E:
    try:
        return kind(str(value)) if isinstance(value, str) else kind(repr(value))
    except ValueError:
        allowed = "、".join(m.value for m in kind)
        raise ReferenceDataError(file, where, field, f"{value!r} is not one of {allowed}") from None


def _enum_set(
    file: str, where: str, field: str, value: object, kind: type[E], *, empty_ok: bool = False
) -> frozenset[E]:
    if not isinstance(value, list) or (not value and not empty_ok):
        raise ReferenceDataError(file, where, field, "must be a non-empty list")
    return frozenset(_enum(file, where, field, v, kind) for v in value)


def _rule(file: str, index: int, raw: object, region: str, start: date, synthetic: bool) -> Rule:
    where = f"rule #{index + 1}"
    if not isinstance(raw, dict):
        raise ReferenceDataError(file, where, "(rule)", "must be an object")
    code = raw.get("code")
    if not isinstance(code, str) or not RULE_CODE.match(code):
        raise ReferenceDataError(
            file, where, "code", f"must be GZ/ZB + 14 digits or L + 9 digits, got {code!r}"
        )
    where = f"rule {code}"
    for key in raw:
        if key not in _RULE_KEYS:
            raise ReferenceDataError(file, where, key, "unknown key")
    for key in _RULE_REQUIRED:
        if key not in raw:
            raise ReferenceDataError(file, where, key, "missing")
    name = raw["name"]
    if not isinstance(name, str) or not name.strip():
        raise ReferenceDataError(file, where, "name", "must be a non-empty string")
    mechanism = MECHANISMS.get(raw["mechanism"]) if isinstance(raw["mechanism"], str) else None
    if mechanism is None:
        raise ReferenceDataError(
            file,
            where,
            "mechanism",
            f"unknown mechanism {raw['mechanism']!r} (known: {', '.join(sorted(MECHANISMS))})",
        )
    behaviour = raw["behaviour"]
    if not isinstance(behaviour, str) or not behaviour.strip():
        raise ReferenceDataError(file, where, "behaviour", "must be a non-empty string")
    insutypes = raw.get("insutypes", [])
    if not isinstance(insutypes, list) or any(i not in INSUTYPES for i in insutypes):
        raise ReferenceDataError(
            file, where, "insutypes", f"must be a list of {sorted(INSUTYPES)}, got {insutypes!r}"
        )
    meta = RuleMeta(
        code=code,
        name=name,
        result_type=_enum(file, where, "result_type", raw["result_type"], ResultType),
        window=_enum(file, where, "window", raw["window"], TimeWindow),
        scenarios=_enum_set(file, where, "scenarios", raw["scenarios"], Scenario, empty_ok=True),
        stages=_enum_set(file, where, "stages", raw["stages"], Stage),
        insutypes=frozenset(insutypes),
        severity=_enum(file, where, "severity", raw["severity"], Severity),
        action=_enum(file, where, "action", raw["action"], Action),
        behaviour=behaviour,
    )
    if meta.action is Action.REFUSE and meta.result_type is not ResultType.VIOLATION:
        raise ReferenceDataError(
            file, where, "action", "only a 明确违规 rule may refuse; a 可疑 rule warns or refers"
        )
    end = None
    if raw.get("effective_to") is not None:
        end = _date(file, where, "effective_to", raw["effective_to"])
        if end <= start:
            raise ReferenceDataError(
                file, where, "effective_to", f"{end} is not after effective_from {start}"
            )
    params_raw = raw["params"]
    if not isinstance(params_raw, dict):
        raise ReferenceDataError(file, where, "params", "must be an object")
    params = _params(file, where, mechanism.params, params_raw)
    return Rule(
        meta=meta,
        mechanism=mechanism.name,
        params=params,
        region=region,
        effective_from=start,
        effective_to=end,
        synthetic=synthetic,
    )


# ---------------------------------------------------------------- parameters


def _codes(value: object) -> frozenset[str]:
    if not isinstance(value, list):
        raise ParamError("", "must be a list of codes")
    for v in value:
        if not isinstance(v, str) or not ITEM_CODE.match(v):
            raise ParamError("", f"bad code {v!r}")
    return frozenset(value)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError("", f"must be an integer, got {value!r}")
    return value


def _opt_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _decimal(value: object, scale: int) -> int:
    """A decimal string (or integer) × scale, exactly."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ParamError("", f"must be a decimal string, got {value!r}")
    try:
        scaled = Decimal(value) * scale
    except InvalidOperation:
        raise ParamError("", f"not a number: {value!r}") from None
    if scaled != scaled.to_integral_value():
        raise ParamError("", f"too many decimals: {value!r}")
    return int(scaled)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ParamError("", f"must be true or false, got {value!r}")
    return value


def _pairs(value: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise ParamError("", "must be a non-empty list of [main, included] pairs")
    out: list[tuple[str, str]] = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise ParamError("", f"bad pair {pair!r}: must be [main, included]")
        _codes(pair)
        out.append((pair[0], pair[1]))
    return tuple(out)


def _caps(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ParamError("", "must be an object {code: yuan}")
    _codes(list(value))
    return {code: _decimal(v, 1_000_000) for code, v in value.items()}


def _scenarios(value: object) -> frozenset[Scenario]:
    if not isinstance(value, list):
        raise ParamError("", "must be a list of scenarios")
    return frozenset(_scenario(v) for v in value)


def _scenario(value: object) -> Scenario:
    try:
        return Scenario(value if isinstance(value, str) else repr(value))
    except ValueError:
        raise ParamError(
            "", f"{value!r} is not one of {'、'.join(s.value for s in Scenario)}"
        ) from None


def _enum_param(kind: type[StrEnum]) -> Callable[[object], Any]:
    def conv(value: object) -> Any:
        try:
            return kind(value if isinstance(value, str) else repr(value))
        except ValueError:
            raise ParamError("", f"{value!r} is not one of {', '.join(kind)}") from None

    return conv


def _str(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ParamError("", f"must be a non-empty string, got {value!r}")
    return value


def _converters() -> dict[str, Callable[[object], Any]]:
    from medroam.domain.audit.mechanisms import Per, Target

    return {
        "target": _enum_param(Target),
        "codes": _codes,
        "gender": _str,
        "min_age": _opt_int,
        "max_age": _opt_int,
        "scenarios": _scenarios,
        "min_level": _int,
        "caps": _caps,
        "max_quantity": lambda v: _decimal(v, 10_000),
        "per": _enum_param(Per),
        "pairs": _pairs,
        "same_day": _bool,
        "package": _str,
        "components": _codes,
        "min_components": _int,
        "package_price": lambda v: _decimal(v, 1_000_000),
        "diagnoses": _codes,
        "threshold": lambda v: _decimal(v, 100),
        "days": _int,
        "prefix_len": _int,
        "scenario": _scenario,
        "max_visits": _int,
        "max_ratio": lambda v: _decimal(v, 10_000),
        "min_cases": _int,
        "max_p": lambda v: _decimal(v, 1_000_000),
    }


_CONVERTERS = _converters()


def _params(file: str, where: str, kind: type, raw: dict[str, Any]) -> object:
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(kind)}
    for key in raw:
        if key not in fields:
            raise ReferenceDataError(file, where, f"params.{key}", "unknown parameter")
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in raw:
            has_default = f.default is not dataclasses.MISSING
            if has_default or name in ("min_age", "max_age"):
                continue
            raise ReferenceDataError(file, where, f"params.{name}", "missing")
        try:
            values[name] = _CONVERTERS[name](raw[name])
        except ParamError as exc:
            raise ReferenceDataError(file, where, f"params.{name}", exc.problem) from None
    if "min_age" in fields:
        values.setdefault("min_age", None)
        values.setdefault("max_age", None)
    try:
        return kind(**values)
    except ParamError as exc:
        raise ReferenceDataError(file, where, f"params.{exc.field}", exc.problem) from None
