"""Benefit policies (参保地支付政策) from JSON files, validated on load.

The file format is documented in ``medroam/data/policies/README.md``. In short: one JSON
object per file with ``synthetic``, ``source`` and a list of ``policies``; every policy is
explicit (no inheritance between policies); amounts are decimal strings in yuan, ratios
decimal strings, reductions and bonuses decimal strings of percentage points. JSON
numbers with a fraction (floats) are refused wherever they appear.

Every problem is raised as :class:`~medroam.refdata.errors.ReferenceDataError` naming the
file, the policy (``policy 532900/390 from 2024-01-01``), the dotted field path
(``filing.reductions.unfiled``) and quoting the offending value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TypeVar

from medroam.domain.codes import (
    INSUTYPE_EMPLOYEE,
    INSUTYPE_RESIDENT,
    PSN_TYPES_CIVIL_SERVANT,
    AssistanceCategory,
    BenefitStatus,
    FilingType,
    InstitutionLevel,
    ServiceKind,
)
from medroam.domain.money import (
    DEFAULT_ROUNDING,
    RATIO_ONE,
    ROUNDING_STEPS,
    Fen,
    MoneyError,
    Ratio,
    RoundingMode,
    RoundingRule,
    format_yuan,
    parse_ratio,
    pp_to_ratio,
)
from medroam.domain.policy import (
    REDUCTION_BOUNDS,
    AccountCoverage,
    AccountPolicy,
    AssistancePolicy,
    AssistanceTerms,
    BenefitPolicy,
    ChronicMode,
    ChronicPolicy,
    ChronicTerms,
    CivilServantPolicy,
    FilingRules,
    InpatientPolicy,
    LayerBasis,
    LayerFund,
    LevelTerms,
    MutualAidOrder,
    OutpatientPolicy,
    QuotaPeriod,
    SupplementaryLayer,
    TempBase,
    Tier,
    TierBounds,
)
from medroam.refdata import chronic as chronic_refdata
from medroam.refdata import regions as regions_refdata
from medroam.refdata.errors import ReferenceDataError

__all__ = [
    "FORMAT_VERSION",
    "PolicyBook",
    "PolicyContext",
    "load_policy_book",
    "load_policy_file",
    "packaged_context",
    "policy_from_dict",
    "policy_to_dict",
]

FORMAT_VERSION = 1
INSUTYPES = (INSUTYPE_EMPLOYEE, INSUTYPE_RESIDENT)
REQUIRED_LEVELS = (InstitutionLevel.PRIMARY, InstitutionLevel.SECONDARY, InstitutionLevel.TERTIARY)
ALLOWED_LEVELS = frozenset(level.value for level in InstitutionLevel)
TEMP_FILING_TYPES = tuple(t for t in FilingType if not t.long_term)
# Reductions an analyst must state explicitly; the others default to 0.
REQUIRED_REDUCTIONS = (
    BenefitStatus.REFERRAL,
    BenefitStatus.EMERGENCY,
    BenefitStatus.TEMPORARY_OTHER,
    BenefitStatus.UNFILED,
)
GRANULARITIES = ("city", "province")
TEMP_VALIDITY_RANGE = (1, 24)
CHANGE_LOCK_RANGE = (0, 6)
ELDERLY_AGE_RANGE = (0, 120)

_DECIMAL_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CODE6_RE = re.compile(r"^[0-9]{6}$")
_PSN_TYPE_RE = re.compile(r"^[0-9A-Za-z]{1,10}$")
_CENT = Decimal("0.01")

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")


# --------------------------------------------------------------------------- JSON reading


class _JsonFloat(Decimal):
    """A JSON number written with a fraction or exponent: always refused."""


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


def _parse_json(text: str, file: str) -> object:
    try:
        return json.loads(
            text,
            parse_float=_JsonFloat,
            parse_constant=_refuse_constant,
            object_pairs_hook=_no_duplicates,
        )
    except _DuplicateKeyError as exc:
        raise ReferenceDataError(file, "", exc.key, f"duplicate key {exc.key!r}") from exc
    except json.JSONDecodeError as exc:
        raise ReferenceDataError(
            file, "", "(json)", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except ValueError as exc:
        raise ReferenceDataError(file, "", "(json)", f"invalid JSON: {exc}") from exc


def _quote(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(value: object) -> str:
    if isinstance(value, _JsonFloat):
        return f'the JSON number {value} (floats are not allowed; write "{value}")'
    if isinstance(value, bool):
        return f"the JSON boolean {_quote(value)}"
    if isinstance(value, int):
        return f"the JSON number {value}"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {_quote(value)}"
    if isinstance(value, list):
        return f"a JSON array {_quote(value)}"
    return f"a JSON object {_quote(value)}"


# --------------------------------------------------------------------------- field parsers


@dataclass(frozen=True, slots=True)
class _Ctx:
    file: str
    where: str

    def fail(self, field: str, problem: str) -> ReferenceDataError:
        return ReferenceDataError(self.file, self.where, field, problem)


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def _object(
    ctx: _Ctx,
    path: str,
    value: object,
    required: Collection[str],
    optional: Collection[str] = (),
) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ctx.fail(path or "(top level)", f"must be a JSON object, got {_describe(value)}")
    allowed = set(required) | set(optional)
    for key in value:
        if key not in allowed:
            raise ctx.fail(
                _join(path, key),
                f"unknown field {key!r} (allowed here: {', '.join(sorted(allowed))})",
            )
    for key in required:
        if key not in value:
            raise ctx.fail(_join(path, key), "required field is missing")
    return value


def _mapping(ctx: _Ctx, path: str, value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise ctx.fail(path, f"must be a JSON object, got {_describe(value)}")
    return value


def _list(ctx: _Ctx, path: str, value: object, *, nonempty: bool = False) -> list[object]:
    if not isinstance(value, list):
        raise ctx.fail(path, f"must be a JSON array, got {_describe(value)}")
    if nonempty and not value:
        raise ctx.fail(path, "must not be empty")
    return value


def _decimal_text(ctx: _Ctx, path: str, value: object, what: str, example: str) -> str:
    if not isinstance(value, str):
        raise ctx.fail(
            path, f"{what} must be a decimal string such as {example}, got {_describe(value)}"
        )
    if not _DECIMAL_RE.match(value):
        raise ctx.fail(path, f"{_quote(value)} is not a plain decimal such as {example}")
    return value


def _amount(ctx: _Ctx, path: str, value: object) -> Fen:
    text = _decimal_text(ctx, path, value, "an amount in yuan", '"1200.00"')
    d = Decimal(text)
    if d != d.quantize(_CENT):
        raise ctx.fail(path, f"{_quote(value)} has more than 2 decimals (amounts are yuan)")
    if d < 0:
        raise ctx.fail(path, f"{_quote(value)} must not be negative")
    return int(d * 100)


def _cap(ctx: _Ctx, path: str, value: object) -> Fen | None:
    if value is None:
        return None
    fen = _amount(ctx, path, value)
    if fen <= 0:
        raise ctx.fail(path, f"{_quote(value)}: a cap must be greater than 0 (null: no cap)")
    return fen


def _ratio(ctx: _Ctx, path: str, value: object) -> Ratio:
    text = _decimal_text(ctx, path, value, "a ratio", '"0.85"')
    try:
        return parse_ratio(text, field=path)
    except MoneyError as exc:
        d = Decimal(text)
        if d < 0 or d > 1:
            raise ctx.fail(path, f"{_quote(value)} must lie between 0 and 1") from exc
        raise ctx.fail(path, f"{_quote(value)} has more than 4 decimals") from exc


def _points(ctx: _Ctx, path: str, value: object) -> Ratio:
    text = _decimal_text(ctx, path, value, "percentage points", '"10" (10 pp)')
    d = Decimal(text)
    if d != d.quantize(_CENT):
        raise ctx.fail(path, f"{_quote(value)} pp has more than 2 decimals")
    if d < 0 or d > 100:
        raise ctx.fail(path, f"{_quote(value)} pp must lie between 0 and 100")
    return pp_to_ratio(d)


def _int(ctx: _Ctx, path: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.fail(path, f"must be a whole JSON number, got {_describe(value)}")
    if not lo <= value <= hi:
        raise ctx.fail(path, f"{value} must lie between {lo} and {hi}")
    return value


def _bool(ctx: _Ctx, path: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ctx.fail(path, f"must be true or false, got {_describe(value)}")
    return value


def _str(ctx: _Ctx, path: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(path, f"must be a non-empty string, got {_describe(value)}")
    return value


def _code6(ctx: _Ctx, path: str, value: object) -> str:
    if not isinstance(value, str) or not _CODE6_RE.match(value):
        raise ctx.fail(path, f"{_quote(value)} is not a 6-digit code string")
    return value


def _date(ctx: _Ctx, path: str, value: object) -> date:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise ctx.fail(path, f"{_quote(value)} is not a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ctx.fail(path, f"{_quote(value)} is not a valid date") from exc


def _enum(ctx: _Ctx, path: str, value: object, cls: type[E]) -> E:
    allowed = [m.value for m in cls]
    if not isinstance(value, str) or value not in allowed:
        raise ctx.fail(path, f"{_quote(value)} is not one of {', '.join(allowed)}")
    return cls(value)


def _enum_set(ctx: _Ctx, path: str, value: object, cls: type[E]) -> frozenset[E]:
    items = _list(ctx, path, value, nonempty=True)
    out: set[E] = set()
    for i, item in enumerate(items):
        member = _enum(ctx, _join(path, i), item, cls)
        if member in out:
            raise ctx.fail(_join(path, i), f"{_quote(item)} is listed twice")
        out.add(member)
    return frozenset(out)


def _opt(data: Mapping[str, object], key: str, default: object) -> object:
    return data.get(key, default)


# --------------------------------------------------------------------------- context


@dataclass(frozen=True, slots=True)
class PolicyContext:
    """What policies are checked against beyond their own file.

    ``pooling_regions`` maps each pooling region code to its province code and
    ``region_names`` to its name; ``None`` skips the check. ``chronic_codes`` is the set
    of known 门诊慢特病 codes; ``None`` skips that check.
    """

    pooling_regions: Mapping[str, str] | None = None
    chronic_codes: frozenset[str] | None = None
    region_names: Mapping[str, str] | None = None


def _data_dir() -> Traversable:
    return resources.files("medroam").joinpath("data")


@cache
def packaged_context() -> PolicyContext:
    """Context from the packaged ``regions.csv`` and ``chronic_diseases.csv`` (each check
    is skipped when its file is absent)."""
    data = _data_dir()
    pooling: dict[str, str] | None = None
    names: dict[str, str] | None = None
    if data.joinpath(regions_refdata.PACKAGED_NAME).is_file():
        table = regions_refdata.load_regions()
        pooling = {r.code: r.province_code for r in table.pooling_regions()}
        names = {r.code: r.name for r in table.pooling_regions()}
    chronic: frozenset[str] | None = None
    if data.joinpath(chronic_refdata.PACKAGED_NAME).is_file():
        chronic = frozenset(d.code for d in chronic_refdata.load_chronic_diseases())
    return PolicyContext(pooling_regions=pooling, chronic_codes=chronic, region_names=names)


# --------------------------------------------------------------------------- policy parsing

_POLICY_REQUIRED = (
    "region",
    "insutype",
    "effective_from",
    "effective_to",
    "pool_fund_type",
    "outpatient_fund_type",
    "inpatient",
    "outpatient",
    "chronic",
    "layers",
    "civil_servant",
    "assistance",
    "account",
    "filing",
)
# Documentation only, not loaded: "region_name" and "notes".
_POLICY_OPTIONAL = ("synthetic", "source", "region_name", "notes", "rounding")


def _where(data: object, index: int | None) -> str:
    def part(key: str) -> str:
        if isinstance(data, dict):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
        return "?"

    region, insutype, start = part("region"), part("insutype"), part("effective_from")
    label = f"policy {region}/{insutype} from {start}"
    if index is not None and "?" in (region, insutype, start):
        label = f"policy #{index + 1} ({region}/{insutype} from {start})"
    return label


def _level_terms(ctx: _Ctx, path: str, value: object) -> LevelTerms:
    data = _object(ctx, path, value, ("deductible", "ratio"))
    return LevelTerms(
        deductible=_amount(ctx, _join(path, "deductible"), data["deductible"]),
        ratio=_ratio(ctx, _join(path, "ratio"), data["ratio"]),
    )


def _by_level(
    ctx: _Ctx, path: str, value: object, parse: Callable[[_Ctx, str, object], T]
) -> dict[str, T]:
    data = _mapping(ctx, path, value)
    out: dict[str, T] = {}
    for key, item in data.items():
        if key not in ALLOWED_LEVELS:
            raise ctx.fail(
                _join(path, key),
                f"unknown institution level {key!r} (levels are "
                f"{', '.join(sorted(ALLOWED_LEVELS))})",
            )
        out[key] = parse(ctx, _join(path, key), item)
    for level in REQUIRED_LEVELS:
        if level.value not in out:
            raise ctx.fail(
                _join(path, level.value),
                'required level is missing (levels "1", "2" and "3" are required)',
            )
    return out


def _inpatient(ctx: _Ctx, value: object) -> InpatientPolicy:
    path = "inpatient"
    data = _object(
        ctx,
        path,
        value,
        ("levels", "annual_cap"),
        (
            "later_admission_factor",
            "deductible_free_from",
            "retired_bonus",
            "elderly_bonus",
            "elderly_age",
            "referral_terms",
        ),
    )
    levels = _by_level(ctx, _join(path, "levels"), data["levels"], _level_terms)
    free_from = _opt(data, "deductible_free_from", None)
    referral = _opt(data, "referral_terms", None)
    return InpatientPolicy(
        levels=levels,
        annual_cap=_cap(ctx, _join(path, "annual_cap"), data["annual_cap"]),
        later_admission_factor=_ratio(
            ctx,
            _join(path, "later_admission_factor"),
            _opt(data, "later_admission_factor", "1.00"),
        ),
        deductible_free_from=(
            None
            if free_from is None
            else _int(ctx, _join(path, "deductible_free_from"), free_from, 2, 1000)
        ),
        retired_bonus=_points(ctx, _join(path, "retired_bonus"), _opt(data, "retired_bonus", "0")),
        elderly_bonus=_points(ctx, _join(path, "elderly_bonus"), _opt(data, "elderly_bonus", "0")),
        elderly_age=_int(
            ctx, _join(path, "elderly_age"), _opt(data, "elderly_age", 70), *ELDERLY_AGE_RANGE
        ),
        referral_terms=(
            None if referral is None else _level_terms(ctx, _join(path, "referral_terms"), referral)
        ),
    )


def _outpatient(ctx: _Ctx, value: object) -> OutpatientPolicy | None:
    if value is None:
        return None
    path = "outpatient"
    data = _object(
        ctx,
        path,
        value,
        ("annual_deductible", "ratios", "annual_cap"),
        ("retired_bonus", "elderly_bonus", "elderly_age"),
    )
    ratios = _by_level(ctx, _join(path, "ratios"), data["ratios"], _ratio)
    return OutpatientPolicy(
        annual_deductible=_amount(ctx, _join(path, "annual_deductible"), data["annual_deductible"]),
        ratios=ratios,
        annual_cap=_cap(ctx, _join(path, "annual_cap"), data["annual_cap"]),
        retired_bonus=_points(ctx, _join(path, "retired_bonus"), _opt(data, "retired_bonus", "0")),
        elderly_bonus=_points(ctx, _join(path, "elderly_bonus"), _opt(data, "elderly_bonus", "0")),
        elderly_age=_int(
            ctx, _join(path, "elderly_age"), _opt(data, "elderly_age", 70), *ELDERLY_AGE_RANGE
        ),
    )


def _chronic(ctx: _Ctx, value: object, known: frozenset[str] | None) -> ChronicPolicy | None:
    if value is None:
        return None
    path = "chronic"
    data = _object(ctx, path, value, ("diseases",), ("mode", "shares_inpatient_cap"))
    dpath = _join(path, "diseases")
    diseases_raw = _mapping(ctx, dpath, data["diseases"])
    if not diseases_raw:
        raise ctx.fail(dpath, "must list at least one disease (use null for no chronic benefit)")
    diseases: dict[str, ChronicTerms] = {}
    for code, item in diseases_raw.items():
        ipath = _join(dpath, code)
        if known is not None and code not in known:
            raise ctx.fail(
                ipath, f"unknown chronic disease code {code!r} (not in the chronic disease list)"
            )
        terms = _object(
            ctx, ipath, item, ("annual_deductible", "ratio", "quota"), ("quota_period",)
        )
        quota_raw = terms["quota"]
        diseases[code] = ChronicTerms(
            disease_code=code,
            annual_deductible=_amount(
                ctx, _join(ipath, "annual_deductible"), terms["annual_deductible"]
            ),
            ratio=_ratio(ctx, _join(ipath, "ratio"), terms["ratio"]),
            quota=_cap(ctx, _join(ipath, "quota"), quota_raw),
            quota_period=_enum(
                ctx,
                _join(ipath, "quota_period"),
                _opt(terms, "quota_period", QuotaPeriod.YEAR.value),
                QuotaPeriod,
            ),
        )
    return ChronicPolicy(
        diseases=diseases,
        mode=_enum(
            ctx,
            _join(path, "mode"),
            _opt(data, "mode", ChronicMode.OUTPATIENT_CHRONIC.value),
            ChronicMode,
        ),
        shares_inpatient_cap=_bool(
            ctx, _join(path, "shares_inpatient_cap"), _opt(data, "shares_inpatient_cap", True)
        ),
    )


def _tiers(
    ctx: _Ctx, path: str, value: object, threshold: Fen, bounds: TierBounds
) -> tuple[Tier, ...]:
    items = _list(ctx, path, value, nonempty=True)
    tiers: list[Tier] = []
    for i, item in enumerate(items):
        tpath = _join(path, i)
        data = _object(ctx, tpath, item, ("upper", "ratio"))
        upper_raw = data["upper"]
        last = i == len(items) - 1
        upper: Fen | None
        if upper_raw is None:
            if not last:
                raise ctx.fail(
                    _join(tpath, "upper"), "null (unbounded) is allowed only in the last tier"
                )
            upper = None
        else:
            upper = _amount(ctx, _join(tpath, "upper"), upper_raw)
            previous = tiers[-1].upper if tiers else None
            if previous is not None and upper <= previous:
                raise ctx.fail(
                    _join(tpath, "upper"),
                    f"{_quote(upper_raw)} must be greater than the previous tier's "
                    f"upper bound {format_yuan(previous)}",
                )
            floor = threshold if bounds is TierBounds.CUMULATIVE else 0
            if not tiers and upper <= floor:
                raise ctx.fail(
                    _join(tpath, "upper"),
                    f"{_quote(upper_raw)} must be greater than "
                    + (
                        f"the threshold {format_yuan(threshold)} (cumulative bounds)"
                        if bounds is TierBounds.CUMULATIVE
                        else "0"
                    ),
                )
        tiers.append(Tier(upper=upper, ratio=_ratio(ctx, _join(tpath, "ratio"), data["ratio"])))
    return tuple(tiers)


def _layers(ctx: _Ctx, value: object) -> tuple[SupplementaryLayer, ...]:
    path = "layers"
    items = _list(ctx, path, value)
    layers: list[SupplementaryLayer] = []
    for i, item in enumerate(items):
        lpath = _join(path, i)
        data = _object(
            ctx,
            lpath,
            item,
            ("fund", "fund_pay_type", "basis", "threshold", "tiers", "annual_cap"),
            ("tier_bounds", "applies_to"),
        )
        fund = _enum(ctx, _join(lpath, "fund"), data["fund"], LayerFund)
        if any(layer.fund is fund for layer in layers):
            raise ctx.fail(_join(lpath, "fund"), f"{_quote(data['fund'])} appears twice")
        threshold = _amount(ctx, _join(lpath, "threshold"), data["threshold"])
        bounds = _enum(
            ctx,
            _join(lpath, "tier_bounds"),
            _opt(data, "tier_bounds", TierBounds.CUMULATIVE.value),
            TierBounds,
        )
        applies_raw = _opt(data, "applies_to", None)
        layers.append(
            SupplementaryLayer(
                fund=fund,
                fund_pay_type=_code6(ctx, _join(lpath, "fund_pay_type"), data["fund_pay_type"]),
                basis=_enum(ctx, _join(lpath, "basis"), data["basis"], LayerBasis),
                threshold=threshold,
                tiers=_tiers(ctx, _join(lpath, "tiers"), data["tiers"], threshold, bounds),
                annual_cap=_cap(ctx, _join(lpath, "annual_cap"), data["annual_cap"]),
                tier_bounds=bounds,
                applies_to=(
                    frozenset({ServiceKind.INPATIENT, ServiceKind.CHRONIC})
                    if applies_raw is None
                    else _enum_set(ctx, _join(lpath, "applies_to"), applies_raw, ServiceKind)
                ),
            )
        )
    return tuple(layers)


def _civil_servant(ctx: _Ctx, value: object, insutype: str) -> CivilServantPolicy | None:
    if value is None:
        return None
    path = "civil_servant"
    if insutype != INSUTYPE_EMPLOYEE:
        raise ctx.fail(
            path,
            f"the civil-servant subsidy exists only for employees (310), not "
            f"insutype {insutype!r}; use null",
        )
    data = _object(
        ctx, path, value, ("ratio", "annual_cap"), ("covers_deductible", "psn_types", "applies_to")
    )
    psn_raw = _opt(data, "psn_types", None)
    psn_types: frozenset[str] = PSN_TYPES_CIVIL_SERVANT
    if psn_raw is not None:
        ppath = _join(path, "psn_types")
        found: set[str] = set()
        for i, item in enumerate(_list(ctx, ppath, psn_raw, nonempty=True)):
            if not isinstance(item, str) or not _PSN_TYPE_RE.match(item):
                raise ctx.fail(_join(ppath, i), f"{_quote(item)} is not a psn_type code")
            if item in found:
                raise ctx.fail(_join(ppath, i), f"{_quote(item)} is listed twice")
            found.add(item)
        psn_types = frozenset(found)
    applies_raw = _opt(data, "applies_to", None)
    return CivilServantPolicy(
        ratio=_ratio(ctx, _join(path, "ratio"), data["ratio"]),
        annual_cap=_cap(ctx, _join(path, "annual_cap"), data["annual_cap"]),
        covers_deductible=_bool(
            ctx, _join(path, "covers_deductible"), _opt(data, "covers_deductible", True)
        ),
        psn_types=psn_types,
        applies_to=(
            frozenset(ServiceKind)
            if applies_raw is None
            else _enum_set(ctx, _join(path, "applies_to"), applies_raw, ServiceKind)
        ),
    )


def _assistance(ctx: _Ctx, value: object) -> AssistancePolicy | None:
    if value is None:
        return None
    path = "assistance"
    data = _object(ctx, path, value, ("categories",), ("applies_to",))
    cpath = _join(path, "categories")
    raw = _mapping(ctx, cpath, data["categories"])
    if not raw:
        raise ctx.fail(cpath, "must list at least one category (use null for no assistance)")
    categories: dict[AssistanceCategory, AssistanceTerms] = {}
    for key, item in raw.items():
        ipath = _join(cpath, key)
        category = _enum(ctx, ipath, key, AssistanceCategory)
        terms = _object(ctx, ipath, item, ("threshold", "ratio", "annual_cap"))
        categories[category] = AssistanceTerms(
            threshold=_amount(ctx, _join(ipath, "threshold"), terms["threshold"]),
            ratio=_ratio(ctx, _join(ipath, "ratio"), terms["ratio"]),
            annual_cap=_cap(ctx, _join(ipath, "annual_cap"), terms["annual_cap"]),
        )
    applies_raw = _opt(data, "applies_to", None)
    return AssistancePolicy(
        categories=categories,
        applies_to=(
            frozenset(ServiceKind)
            if applies_raw is None
            else _enum_set(ctx, _join(path, "applies_to"), applies_raw, ServiceKind)
        ),
    )


def _account(ctx: _Ctx, value: object, insutype: str) -> AccountPolicy:
    path = "account"
    data = _object(ctx, path, value, ("enabled",), ("coverage", "mutual_aid_order"))
    enabled = _bool(ctx, _join(path, "enabled"), data["enabled"])
    if enabled and insutype != INSUTYPE_EMPLOYEE:
        raise ctx.fail(
            _join(path, "enabled"),
            f"true: only employees (310) have a personal account, not insutype {insutype!r}",
        )
    return AccountPolicy(
        enabled=enabled,
        coverage=_enum(
            ctx,
            _join(path, "coverage"),
            _opt(data, "coverage", AccountCoverage.PERSONAL_SHARE.value),
            AccountCoverage,
        ),
        mutual_aid_order=_enum(
            ctx,
            _join(path, "mutual_aid_order"),
            _opt(data, "mutual_aid_order", MutualAidOrder.OWN_FIRST.value),
            MutualAidOrder,
        ),
    )


def _filing(ctx: _Ctx, value: object, inpatient: InpatientPolicy) -> FilingRules:
    path = "filing"
    data = _object(
        ctx,
        path,
        value,
        ("reductions",),
        (
            "temp_base",
            "reduction_applies_to",
            "temp_validity_months",
            "change_lock_months",
            "granularity",
            "unfiled_direct_settlement",
            "retroactive_before_discharge",
        ),
    )
    rpath = _join(path, "reductions")
    raw = _mapping(ctx, rpath, data["reductions"])
    reductions: dict[BenefitStatus, Ratio] = {}
    for key, item in raw.items():
        ipath = _join(rpath, key)
        status = _enum(ctx, ipath, key, BenefitStatus)
        points = _points(ctx, ipath, item)
        bound = REDUCTION_BOUNDS[status]
        if points > bound:
            raise ctx.fail(
                ipath,
                f"{_quote(item)} pp exceeds the national bound of "
                f"{_points_str(bound)} pp for {status.value} "
                "(domain-rules §2.3)",
            )
        reductions[status] = points
    for status in REQUIRED_REDUCTIONS:
        if status not in reductions:
            raise ctx.fail(
                _join(rpath, status.value),
                'required reduction is missing (state it explicitly, "0" for none)',
            )
    for status in BenefitStatus:
        reductions.setdefault(status, 0)
    at_home = reductions[BenefitStatus.LONG_TERM_AT_HOME]
    referral = reductions[BenefitStatus.REFERRAL]
    if at_home > referral:
        raise ctx.fail(
            _join(rpath, BenefitStatus.LONG_TERM_AT_HOME.value),
            f"{_quote(raw[BenefitStatus.LONG_TERM_AT_HOME.value])} pp exceeds the "
            f"referral reduction of {_points_str(referral)} pp (a long-term person at "
            "home gets no less than the referral level)",
        )
    temp_base = _enum(
        ctx, _join(path, "temp_base"), _opt(data, "temp_base", TempBase.SAME_LEVEL.value), TempBase
    )
    if temp_base is TempBase.REFERRAL and inpatient.referral_terms is None:
        raise ctx.fail(
            _join(path, "temp_base"),
            '"referral" needs inpatient.referral_terms, which this policy lacks',
        )
    validity: dict[FilingType, int] = {t: 6 for t in TEMP_FILING_TYPES}
    validity_raw = _opt(data, "temp_validity_months", None)
    if validity_raw is not None:
        vpath = _join(path, "temp_validity_months")
        vraw = _mapping(ctx, vpath, validity_raw)
        validity = {}
        for key, item in vraw.items():
            ipath = _join(vpath, key)
            ftype = _enum(ctx, ipath, key, FilingType)
            if ftype.long_term:
                raise ctx.fail(
                    ipath,
                    f"{key!r}: long-term filings have no validity period "
                    f"(only {', '.join(t.value for t in TEMP_FILING_TYPES)})",
                )
            validity[ftype] = _int(ctx, ipath, item, *TEMP_VALIDITY_RANGE)
        for ftype in TEMP_FILING_TYPES:
            if ftype not in validity:
                raise ctx.fail(
                    _join(vpath, ftype.value),
                    "required field is missing (give all three temporary filing types)",
                )
    applies_raw = _opt(data, "reduction_applies_to", None)
    granularity = _opt(data, "granularity", "city")
    if granularity not in GRANULARITIES:
        raise ctx.fail(
            _join(path, "granularity"),
            f"{_quote(granularity)} is not one of {', '.join(GRANULARITIES)}",
        )
    assert isinstance(granularity, str)
    return FilingRules(
        reductions=reductions,
        temp_base=temp_base,
        reduction_applies_to=(
            frozenset(ServiceKind)
            if applies_raw is None
            else _enum_set(ctx, _join(path, "reduction_applies_to"), applies_raw, ServiceKind)
        ),
        temp_validity_months=validity,
        change_lock_months=_int(
            ctx,
            _join(path, "change_lock_months"),
            _opt(data, "change_lock_months", 6),
            *CHANGE_LOCK_RANGE,
        ),
        granularity=granularity,
        unfiled_direct_settlement=_bool(
            ctx,
            _join(path, "unfiled_direct_settlement"),
            _opt(data, "unfiled_direct_settlement", True),
        ),
        retroactive_before_discharge=_bool(
            ctx,
            _join(path, "retroactive_before_discharge"),
            _opt(data, "retroactive_before_discharge", True),
        ),
    )


def _policy(
    data_raw: object,
    *,
    file: str,
    index: int | None,
    synthetic: bool,
    source: str,
    context: PolicyContext,
) -> BenefitPolicy:
    ctx = _Ctx(file, _where(data_raw, index))
    data = _object(ctx, "", data_raw, _POLICY_REQUIRED, _POLICY_OPTIONAL)
    region = _code6(ctx, "region", data["region"])
    regions = context.pooling_regions
    if regions is not None and region not in regions:
        raise ctx.fail("region", f"{_quote(region)} is not a pooling region in regions.csv")
    insutype = data["insutype"]
    if insutype not in INSUTYPES:
        raise ctx.fail("insutype", f"{_quote(insutype)} is not one of {', '.join(INSUTYPES)}")
    assert isinstance(insutype, str)
    start = _date(ctx, "effective_from", data["effective_from"])
    end_raw = data["effective_to"]
    end = None if end_raw is None else _date(ctx, "effective_to", end_raw)
    if end is not None and end < start:
        raise ctx.fail(
            "effective_to", f"{_quote(end_raw)} is before effective_from {start.isoformat()}"
        )
    if "synthetic" in data:
        flag = _bool(ctx, "synthetic", data["synthetic"])
        if flag != synthetic:
            raise ctx.fail(
                "synthetic",
                f'{_quote(flag)} contradicts the file\'s "synthetic": {_quote(synthetic)}',
            )
    policy_source = _str(ctx, "source", data["source"]) if "source" in data else source
    for key in ("region_name", "notes"):
        if key in data:
            _str(ctx, key, data[key])
    names = context.region_names
    if (
        "region_name" in data
        and names is not None
        and region in names
        and data["region_name"] != names[region]
    ):
        raise ctx.fail(
            "region_name",
            f"{_quote(data['region_name'])} is not the name of "
            f"{region} in regions.csv ({names[region]!r})",
        )
    inpatient = _inpatient(ctx, data["inpatient"])
    return BenefitPolicy(
        region=region,
        insutype=insutype,
        effective_from=start,
        effective_to=end,
        inpatient=inpatient,
        outpatient=_outpatient(ctx, data["outpatient"]),
        chronic=_chronic(ctx, data["chronic"], context.chronic_codes),
        layers=_layers(ctx, data["layers"]),
        civil_servant=_civil_servant(ctx, data["civil_servant"], insutype),
        assistance=_assistance(ctx, data["assistance"]),
        account=_account(ctx, data["account"], insutype),
        filing=_filing(ctx, data["filing"], inpatient),
        pool_fund_type=_code6(ctx, "pool_fund_type", data["pool_fund_type"]),
        outpatient_fund_type=_code6(ctx, "outpatient_fund_type", data["outpatient_fund_type"]),
        synthetic=synthetic,
        source=policy_source,
        rounding=_rounding(ctx, data["rounding"]) if "rounding" in data else DEFAULT_ROUNDING,
    )


def _rounding(ctx: _Ctx, value: object) -> RoundingRule:
    """``{"step": "0.01" | "0.1" | "1", "mode": "half_up" | "half_even" | "down"}``;
    both keys optional (default 0.01 yuan, half_up)."""
    data = _object(ctx, "rounding", value, (), ("step", "mode"))
    step = ROUNDING_STEPS["0.01"]
    if "step" in data:
        text = data["step"]
        if not isinstance(text, str) or text not in ROUNDING_STEPS:
            raise ctx.fail(
                "rounding.step",
                f"{_quote(text)} is not one of {', '.join(repr(k) for k in ROUNDING_STEPS)}",
            )
        step = ROUNDING_STEPS[text]
    mode = (
        _enum(ctx, "rounding.mode", data["mode"], RoundingMode)
        if "mode" in data
        else RoundingMode.HALF_UP
    )
    return RoundingRule(step, mode)


def policy_from_dict(
    data: object,
    *,
    file: str = "<dict>",
    synthetic: bool | None = None,
    source: str | None = None,
    context: PolicyContext | None = None,
) -> BenefitPolicy:
    """One policy from its JSON object (as :func:`policy_to_dict` writes it).

    ``synthetic`` and ``source`` default to the object's own fields (a policy object that
    lacks them is then taken as synthetic with source "synthetic"). ``context`` defaults to
    :func:`packaged_context`.
    """
    if synthetic is None:
        flag = data.get("synthetic", True) if isinstance(data, dict) else True
        synthetic = flag if isinstance(flag, bool) else True
    if source is None:
        text = data.get("source", "synthetic") if isinstance(data, dict) else "synthetic"
        source = text if isinstance(text, str) else "synthetic"
    return _policy(
        data,
        file=file,
        index=None,
        synthetic=synthetic,
        source=source,
        context=context if context is not None else packaged_context(),
    )


# --------------------------------------------------------------------------- files and book

_TOP_REQUIRED = ("synthetic", "source", "policies")
_TOP_OPTIONAL = ("format_version", "province", "notes")


def _load_text(text: str, file: str, context: PolicyContext) -> list[tuple[BenefitPolicy, str]]:
    top_ctx = _Ctx(file, "")
    top = _object(top_ctx, "", _parse_json(text, file), _TOP_REQUIRED, _TOP_OPTIONAL)
    version = _opt(top, "format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise top_ctx.fail(
            "format_version",
            f"{_quote(version)} is not supported (this loader "
            f"reads format_version {FORMAT_VERSION})",
        )
    synthetic = _bool(top_ctx, "synthetic", top["synthetic"])
    source = _str(top_ctx, "source", top["source"])
    if "notes" in top:
        _str(top_ctx, "notes", top["notes"])
    province_raw = _opt(top, "province", None)
    province = None if province_raw is None else _code6(top_ctx, "province", province_raw)
    items = _list(top_ctx, "policies", top["policies"])
    out: list[tuple[BenefitPolicy, str]] = []
    for i, item in enumerate(items):
        policy = _policy(
            item, file=file, index=i, synthetic=synthetic, source=source, context=context
        )
        if province is not None:
            regions = context.pooling_regions
            actual = regions.get(policy.region) if regions is not None else None
            in_province = (
                actual == province if actual is not None else policy.region[:2] == province[:2]
            )
            if not in_province:
                raise ReferenceDataError(
                    file,
                    _where(item, i),
                    "region",
                    f"{_quote(policy.region)} is not in the file's province {province}",
                )
        out.append((policy, file))
    PolicyBook._from_entries(out)  # overlap check within the file
    return out


def load_policy_file(
    path: Path | str, *, context: PolicyContext | None = None
) -> list[BenefitPolicy]:
    """Every policy of one file, validated (see the module docstring)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferenceDataError(file, "", "(file)", f"cannot be read: {exc}") from exc
    ctx = context if context is not None else packaged_context()
    return [policy for policy, _ in _load_text(text, file, ctx)]


def _span(policy: BenefitPolicy) -> str:
    end = policy.effective_to.isoformat() if policy.effective_to else "open"
    return f"{policy.effective_from.isoformat()}..{end}"


def _overlaps(a: BenefitPolicy, b: BenefitPolicy) -> bool:
    a_end = a.effective_to or date.max
    b_end = b.effective_to or date.max
    return a.effective_from <= b_end and b.effective_from <= a_end


class PolicyBook:
    """All benefit policies, indexed by (region, insutype) and ordered by date."""

    __slots__ = ("_files", "_versions")

    def __init__(self, policies: Iterable[BenefitPolicy] = (), *, file: str = "<policies>") -> None:
        self._versions: dict[tuple[str, str], list[BenefitPolicy]] = {}
        self._files: dict[int, str] = {}
        for policy in policies:
            self._add(policy, file)

    @classmethod
    def _from_entries(cls, entries: Iterable[tuple[BenefitPolicy, str]]) -> PolicyBook:
        book = cls()
        for policy, file in entries:
            book._add(policy, file)
        return book

    def _add(self, policy: BenefitPolicy, file: str) -> None:
        versions = self._versions.setdefault((policy.region, policy.insutype), [])
        for other in versions:
            if _overlaps(policy, other):
                raise ReferenceDataError(
                    file,
                    f"policy {policy.region}/{policy.insutype} from "
                    f"{policy.effective_from.isoformat()}",
                    "effective_from",
                    f"{_span(policy)} overlaps policy {other.region}/{other.insutype} from "
                    f"{other.effective_from.isoformat()} ({_span(other)}) in "
                    f"{self._files[id(other)]}",
                )
        versions.append(policy)
        versions.sort(key=lambda p: p.effective_from)
        self._files[id(policy)] = file

    def find(self, region: str, insutype: str, on: date) -> BenefitPolicy:
        """The policy of ``region`` for ``insutype`` in force on ``on``."""
        versions = self._versions.get((region, insutype), [])
        for policy in versions:
            if policy.in_force(on):
                return policy
        known = ", ".join(_span(p) for p in versions) or "none"
        raise LookupError(
            f"no benefit policy in force for region {region}, insutype {insutype} on "
            f"{on.isoformat()} (versions: {known})"
        )

    def versions(self, region: str, insutype: str) -> tuple[BenefitPolicy, ...]:
        return tuple(self._versions.get((region, insutype), ()))

    def keys(self) -> frozenset[tuple[str, str]]:
        return frozenset(self._versions)

    def file_of(self, policy: BenefitPolicy) -> str:
        """The file a policy of this book was loaded from."""
        return self._files[id(policy)]

    def __iter__(self) -> Iterator[BenefitPolicy]:
        for key in sorted(self._versions):
            yield from self._versions[key]

    def __len__(self) -> int:
        return sum(len(v) for v in self._versions.values())


def _policy_nodes(directory: Path | None) -> list[Traversable]:
    if directory is None:
        root: Traversable = _data_dir().joinpath("policies")
    else:
        root = directory
    if not root.is_dir():
        raise ReferenceDataError(str(root), "", "(directory)", "policy directory not found")
    return sorted(
        (n for n in root.iterdir() if n.name.endswith(".json") and n.is_file()),
        key=lambda n: n.name,
    )


@cache
def _cached_book(directory: str | None) -> PolicyBook:
    context = packaged_context()
    entries: list[tuple[BenefitPolicy, str]] = []
    for node in _policy_nodes(None if directory is None else Path(directory)):
        file = str(node)
        try:
            text = node.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ReferenceDataError(file, "", "(file)", f"cannot be read: {exc}") from exc
        entries.extend(_load_text(text, file, context))
    return PolicyBook._from_entries(entries)


def load_policy_book(directory: Path | str | None = None) -> PolicyBook:
    """Every ``*.json`` policy file of ``directory`` (default: the packaged
    ``medroam/data/policies``), validated and indexed. Cached per directory."""
    return _cached_book(None if directory is None else str(Path(directory).resolve()))


# --------------------------------------------------------------------------- policy → dict


def _yuan(amount: Fen) -> str:
    return format_yuan(amount)


def _opt_yuan(amount: Fen | None) -> str | None:
    return None if amount is None else format_yuan(amount)


def _ratio_str(ratio: Ratio) -> str:
    """8500 → "0.85", 10000 → "1.00", 8750 → "0.875"."""
    whole, frac = divmod(ratio, RATIO_ONE)
    digits = f"{frac:04d}".rstrip("0")
    return f"{whole}.{digits.ljust(2, '0')}"


def _points_str(ratio: Ratio) -> str:
    """1000 → "10", 550 → "5.5", 0 → "0"."""
    whole, frac = divmod(ratio, 100)
    return f"{whole}" if frac == 0 else f"{whole}.{f'{frac:02d}'.rstrip('0')}"


def _kinds(kinds: Iterable[ServiceKind]) -> list[str]:
    return sorted(k.value for k in kinds)


def _terms_dict(terms: LevelTerms) -> dict[str, object]:
    return {"deductible": _yuan(terms.deductible), "ratio": _ratio_str(terms.ratio)}


def _level_order(keys: Iterable[str]) -> list[str]:
    return sorted(keys)


def policy_to_dict(policy: BenefitPolicy) -> dict[str, object]:
    """The JSON object of a policy in the file format, every field explicit (the inverse of
    :func:`policy_from_dict`)."""
    ip = policy.inpatient
    inpatient: dict[str, object] = {
        "levels": {k: _terms_dict(ip.levels[k]) for k in _level_order(ip.levels)},
        "annual_cap": _opt_yuan(ip.annual_cap),
        "later_admission_factor": _ratio_str(ip.later_admission_factor),
        "deductible_free_from": ip.deductible_free_from,
        "retired_bonus": _points_str(ip.retired_bonus),
        "elderly_bonus": _points_str(ip.elderly_bonus),
        "elderly_age": ip.elderly_age,
        "referral_terms": None if ip.referral_terms is None else _terms_dict(ip.referral_terms),
    }
    outpatient: dict[str, object] | None = None
    if policy.outpatient is not None:
        op = policy.outpatient
        outpatient = {
            "annual_deductible": _yuan(op.annual_deductible),
            "ratios": {k: _ratio_str(op.ratios[k]) for k in _level_order(op.ratios)},
            "annual_cap": _opt_yuan(op.annual_cap),
            "retired_bonus": _points_str(op.retired_bonus),
            "elderly_bonus": _points_str(op.elderly_bonus),
            "elderly_age": op.elderly_age,
        }
    chronic: dict[str, object] | None = None
    if policy.chronic is not None:
        ch = policy.chronic
        chronic = {
            "mode": ch.mode.value,
            "shares_inpatient_cap": ch.shares_inpatient_cap,
            "diseases": {
                code: {
                    "annual_deductible": _yuan(t.annual_deductible),
                    "ratio": _ratio_str(t.ratio),
                    "quota": _opt_yuan(t.quota),
                    "quota_period": t.quota_period.value,
                }
                for code, t in sorted(ch.diseases.items())
            },
        }
    layers = [
        {
            "fund": layer.fund.value,
            "fund_pay_type": layer.fund_pay_type,
            "basis": layer.basis.value,
            "threshold": _yuan(layer.threshold),
            "tier_bounds": layer.tier_bounds.value,
            "tiers": [
                {"upper": _opt_yuan(t.upper), "ratio": _ratio_str(t.ratio)} for t in layer.tiers
            ],
            "annual_cap": _opt_yuan(layer.annual_cap),
            "applies_to": _kinds(layer.applies_to),
        }
        for layer in policy.layers
    ]
    civil: dict[str, object] | None = None
    if policy.civil_servant is not None:
        cs = policy.civil_servant
        civil = {
            "ratio": _ratio_str(cs.ratio),
            "annual_cap": _opt_yuan(cs.annual_cap),
            "covers_deductible": cs.covers_deductible,
            "psn_types": sorted(cs.psn_types),
            "applies_to": _kinds(cs.applies_to),
        }
    assistance: dict[str, object] | None = None
    if policy.assistance is not None:
        ap = policy.assistance
        assistance = {
            "categories": {
                c.value: {
                    "threshold": _yuan(ap.categories[c].threshold),
                    "ratio": _ratio_str(ap.categories[c].ratio),
                    "annual_cap": _opt_yuan(ap.categories[c].annual_cap),
                }
                for c in AssistanceCategory
                if c in ap.categories
            },
            "applies_to": _kinds(ap.applies_to),
        }
    fr = policy.filing
    filing: dict[str, object] = {
        "reductions": {s.value: _points_str(fr.reduction(s)) for s in BenefitStatus},
        "temp_base": fr.temp_base.value,
        "reduction_applies_to": _kinds(fr.reduction_applies_to),
        "temp_validity_months": {
            t.value: fr.temp_validity_months[t] for t in FilingType if t in fr.temp_validity_months
        },
        "change_lock_months": fr.change_lock_months,
        "granularity": fr.granularity,
        "unfiled_direct_settlement": fr.unfiled_direct_settlement,
        "retroactive_before_discharge": fr.retroactive_before_discharge,
    }
    return {
        "region": policy.region,
        "insutype": policy.insutype,
        "effective_from": policy.effective_from.isoformat(),
        "effective_to": None if policy.effective_to is None else policy.effective_to.isoformat(),
        "synthetic": policy.synthetic,
        "source": policy.source,
        "pool_fund_type": policy.pool_fund_type,
        "outpatient_fund_type": policy.outpatient_fund_type,
        "inpatient": inpatient,
        "outpatient": outpatient,
        "chronic": chronic,
        "layers": layers,
        "civil_servant": civil,
        "assistance": assistance,
        "account": {
            "enabled": policy.account.enabled,
            "coverage": policy.account.coverage.value,
            "mutual_aid_order": policy.account.mutual_aid_order.value,
        },
        "filing": filing,
        **(
            {}
            if policy.rounding == DEFAULT_ROUNDING
            else {
                "rounding": {
                    "step": next(k for k, v in ROUNDING_STEPS.items() if v == policy.rounding.step),
                    "mode": policy.rounding.mode.value,
                }
            }
        ),
    }
