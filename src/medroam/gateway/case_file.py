"""The ``medroam calc`` case format: one settlement, written with the interface's names.

A case is a JSON object with the nodes ``person``, ``filings``, ``visit``, ``cuminfo``
(year-to-date accumulators) and ``feedetail`` (the 2204/2301 fee lines). Field names and
code values are those of the national interface; amounts are decimal strings or JSON
integers in yuan (never JSON floats, which cannot hold an exact amount). The format is
documented in docs/case-format.md.

Every problem raises :class:`CaseError` naming the field path and quoting the value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from medroam.domain.accumulators import Accumulators
from medroam.domain.catalogue import PRICE_SCALE, QTY_SCALE, FeeLine
from medroam.domain.codes import AssistanceCategory, FilingType, InstitutionLevel
from medroam.domain.filing import Filing, FilingChannel, FilingStatus
from medroam.domain.identity import IdNumberError, validate_id_number
from medroam.domain.money import MoneyError, div_round, format_yuan, yuan_to_fen
from medroam.domain.settlement import AccountState, Person, Visit
from medroam.refdata.regions import is_known_region

_COUNT_KEYS = frozenset({"ip_admissions"})
_EMERGENCY_MED_TYPES = frozenset({"13", "24"})


class CaseError(ValueError):
    """A case file field is missing or invalid."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


@dataclass(frozen=True, slots=True)
class Case:
    description: str
    person: Person
    account: AccountState
    filings: tuple[Filing, ...]
    visit: Visit
    emergency: bool
    ytd: Accumulators
    lines: tuple[FeeLine, ...]
    fixmedins_name: str


def load_case_text(text: str, *, source: str = "case") -> Case:
    try:
        # Decimal keeps every literal exact; amounts written as JSON numbers with decimals
        # are refused field by field (see _money), quantities and prices may use them.
        raw = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise CaseError(
            source, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    if not isinstance(raw, dict):
        raise CaseError(source, "a case must be a JSON object")
    return parse_case(raw)


def parse_case(raw: dict[str, Any]) -> Case:
    person_raw = _node(raw, "person")
    visit_raw = _node(raw, "visit")
    person = _person(person_raw)
    visit, emergency = _visit(visit_raw, person)
    account = AccountState(
        balance=_balance(person_raw, "balc"),
        mutual_aid_balance=_balance(person_raw, "mulaid_balc"),
    )
    filings_raw = raw.get("filings", [])
    if not isinstance(filings_raw, list):
        raise CaseError("filings", "must be a list (may be empty)")
    filings = tuple(_filing(f, f"filings[{i}]", person) for i, f in enumerate(filings_raw))
    ytd = _cuminfo(raw.get("cuminfo", {}))
    lines_raw = raw.get("feedetail")
    if not isinstance(lines_raw, list) or not lines_raw:
        raise CaseError("feedetail", "must be a non-empty list of fee lines")
    seen: set[str] = set()
    lines: list[FeeLine] = []
    for i, item in enumerate(lines_raw):
        line = _line(item, f"feedetail[{i}]")
        if line.line_id in seen:
            raise CaseError(f"feedetail[{i}].feedetl_sn", f"{line.line_id!r} is used twice")
        seen.add(line.line_id)
        lines.append(line)
    return Case(
        description=str(raw.get("description", "")),
        person=person,
        account=account,
        filings=filings,
        visit=visit,
        emergency=emergency,
        ytd=ytd,
        lines=tuple(lines),
        fixmedins_name=str(visit_raw.get("fixmedins_name", "")),
    )


# --- nodes ----------------------------------------------------------------------------


def _node(raw: dict[str, Any], name: str) -> dict[str, Any]:
    node = raw.get(name)
    if not isinstance(node, dict):
        raise CaseError(name, "is missing or is not an object")
    return node


def _str(node: dict[str, Any], key: str, path: str, *, required: bool = True) -> str:
    value = node.get(key)
    if value is None or value == "" or value == "null":
        if required:
            raise CaseError(f"{path}.{key}", "is required")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise CaseError(f"{path}.{key}", f"must be a string, got {value!r}")
    return str(value).strip()


def _code(node: dict[str, Any], key: str, path: str, allowed: frozenset[str]) -> str:
    value = _str(node, key, path)
    if value not in allowed:
        raise CaseError(
            f"{path}.{key}", f"unknown code {value!r} (allowed: {', '.join(sorted(allowed))})"
        )
    return value


def _region(node: dict[str, Any], key: str, path: str) -> str:
    value = _str(node, key, path)
    if len(value) != 6 or not value.isdigit():
        raise CaseError(f"{path}.{key}", f"must be a 6-digit region code, got {value!r}")
    if not is_known_region(value):
        raise CaseError(
            f"{path}.{key}",
            f"unknown region code {value!r} (未知医保区划: not a province, pooling region or "
            "district of one)",
        )
    return value


def _date(node: dict[str, Any], key: str, path: str, *, required: bool = True) -> date | None:
    value = _str(node, key, path, required=required)
    if not value:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise CaseError(f"{path}.{key}", f"must be yyyy-MM-dd or yyyy-MM-dd HH:mm:ss, got {value!r}")


def _req_date(node: dict[str, Any], key: str, path: str) -> date:
    d = _date(node, key, path)
    assert d is not None
    return d


def _money(node: dict[str, Any], key: str, path: str, *, default: str | None = None) -> int:
    value = node.get(key, default)
    if value is None:
        raise CaseError(f"{path}.{key}", "is required")
    if isinstance(value, Decimal) and value != value.to_integral_value():
        raise CaseError(f"{path}.{key}", f'write the amount {value} as a string, e.g. "{value}"')
    try:
        return yuan_to_fen(value if not isinstance(value, Decimal) else str(value), field=key)
    except MoneyError as exc:
        raise CaseError(f"{path}.{key}", str(exc).split(": ", 1)[-1]) from None


def _balance(node: dict[str, Any], key: str) -> int:
    """An account balance or mutual-aid quota: an amount that is never negative."""
    amount = _money(node, key, "person", default="0")
    if amount < 0:
        raise CaseError(f"person.{key}", f"a balance must not be negative, got {node.get(key)!r}")
    return amount


def _decimal(node: dict[str, Any], key: str, path: str, places: int) -> Decimal:
    value = node.get(key)
    if value is None or value == "":
        raise CaseError(f"{path}.{key}", "is required")
    if isinstance(value, bool):
        raise CaseError(f"{path}.{key}", f"must be a number, got {value!r}")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise CaseError(f"{path}.{key}", f"{value!r} is not a number") from None
    if not d.is_finite() or d != d.quantize(Decimal(1).scaleb(-places)):
        raise CaseError(f"{path}.{key}", f"{value!r} must have at most {places} decimals")
    return d


def _flag(node: dict[str, Any], key: str, path: str, default: str = "0") -> bool:
    value = str(node.get(key, default)).strip()
    if value in ("0", "false", "False"):
        return False
    if value in ("1", "true", "True"):
        return True
    raise CaseError(f"{path}.{key}", f"must be 0 or 1, got {value!r}")


def _person(node: dict[str, Any]) -> Person:
    path = "person"
    cert_type = _str(node, "psn_cert_type", path, required=False) or "01"
    certno = _str(node, "certno", path)
    brdy = _date(node, "brdy", path, required=False)
    gender = _str(node, "gend", path, required=False)
    if cert_type == "01":
        try:
            idn = validate_id_number(certno)
        except IdNumberError as exc:
            raise CaseError(f"{path}.certno", f"{certno!r}: {exc}") from None
        brdy = brdy or idn.birth_date
        gender = gender or idn.gender
        if brdy != idn.birth_date:
            raise CaseError(
                f"{path}.brdy", f"{brdy} does not match the ID number's birth date {idn.birth_date}"
            )
    if brdy is None:
        raise CaseError(f"{path}.brdy", "is required when the certificate is not an ID card")
    insutype = _str(node, "insutype", path)
    if not insutype.isdigit():
        raise CaseError(f"{path}.insutype", f"unknown insutype {insutype!r}")
    psn_type = _str(node, "psn_type", path)
    if not psn_type.isdigit():
        raise CaseError(f"{path}.psn_type", f"unknown psn_type {psn_type!r}")
    assistance_raw = _str(node, "assistance_category", path, required=False)
    assistance: AssistanceCategory | None = None
    if assistance_raw:
        try:
            assistance = AssistanceCategory(assistance_raw)
        except ValueError:
            raise CaseError(
                f"{path}.assistance_category",
                f"unknown category {assistance_raw!r}"
                f" (allowed: {', '.join(c.value for c in AssistanceCategory)})",
            ) from None
    chronic = node.get("opsp_dise_codes", [])
    if not isinstance(chronic, list) or not all(isinstance(c, str) for c in chronic):
        raise CaseError(f"{path}.opsp_dise_codes", "must be a list of disease codes")
    return Person(
        psn_no=_str(node, "psn_no", path),
        name=_str(node, "psn_name", path),
        cert_type=cert_type,
        cert_no=certno,
        gender=gender or "0",
        birth_date=brdy,
        insutype=insutype,
        psn_type=psn_type,
        insured_region=_region(node, "insuplc_admdvs", path),
        civil_servant=_flag(node, "cvlserv_flag", path),
        assistance=assistance,
        chronic_diseases=frozenset(chronic),
    )


_LEVELS = frozenset(level.value for level in InstitutionLevel)


def _visit(node: dict[str, Any], person: Person) -> tuple[Visit, bool]:
    path = "visit"
    begin = _req_date(node, "begntime", path)
    settle_day = _date(node, "setl_time", path, required=False) or begin
    if settle_day < begin:
        raise CaseError(f"{path}.setl_time", f"{settle_day} is before begntime {begin}")
    if begin < person.birth_date:
        raise CaseError(f"{path}.begntime", f"{begin} is before the person's birth date")
    med_type = _str(node, "med_type", path)
    exp = node.get("exp_content") or {}
    if isinstance(exp, str):
        try:
            exp = json.loads(exp) if exp.strip() else {}
        except json.JSONDecodeError:
            raise CaseError(f"{path}.exp_content", "is not valid JSON") from None
    if not isinstance(exp, dict):
        raise CaseError(f"{path}.exp_content", "must be an object or a JSON string")
    # Emergency: med_type 13/24, or the cross-province extension keys (interface §7.3).
    emergency = (
        med_type in _EMERGENCY_MED_TYPES
        or str(exp.get("IPT_TYPE", "")) == "2"
        or str(exp.get("OTP_ER_REFL_FLAG", "")) in ("1", "3")
        or _flag(node, "emergency", path)
    )
    account_flag = _str(node, "acct_used_flag", path, required=False) or "0"
    if account_flag not in ("0", "1", "2"):
        raise CaseError(f"{path}.acct_used_flag", f"must be 0, 1 or 2, got {account_flag!r}")
    visit = Visit(
        visit_id=_str(node, "mdtrt_id", path, required=False) or "CALC-1",
        med_type=med_type,
        institution_code=_str(node, "fixmedins_code", path),
        institution_level=_code(node, "hosp_lv", path, _LEVELS),
        treatment_region=_region(node, "mdtrtarea_admvs", path),
        begin=begin,
        settle_date=settle_day,
        disease_code=_str(node, "dise_codg", path, required=False) or None,
        account_flag=account_flag,
        mid_settlement=_flag(node, "mid_setl_flag", path),
        admission_counted=_flag(node, "admission_counted", path),
        deductible_applied=_money(node, "deductible_applied", path, default="0"),
    )
    return visit, emergency


def _filing(node: Any, path: str, person: Person) -> Filing:
    if not isinstance(node, dict):
        raise CaseError(path, "must be an object")
    ftype_raw = _str(node, "filing_type", path)
    try:
        ftype = FilingType(ftype_raw)
    except ValueError:
        raise CaseError(
            f"{path}.filing_type",
            f"unknown filing type {ftype_raw!r} (allowed: "
            f"{', '.join(t.value for t in FilingType)})",
        ) from None
    valid_from = _req_date(node, "valid_from", path)
    valid_to = _date(node, "valid_to", path, required=False)
    status_raw = _str(node, "status", path, required=False) or "active"
    try:
        status = FilingStatus(status_raw)
    except ValueError:
        raise CaseError(f"{path}.status", f"unknown status {status_raw!r}") from None
    try:
        return Filing(
            filing_id=_str(node, "filing_id", path, required=False) or f"{path}",
            psn_no=person.psn_no,
            insured_region=person.insured_region,
            filing_type=ftype,
            destination=_region(node, "destination", path),
            valid_from=valid_from,
            valid_to=valid_to,
            filed_at=datetime.combine(valid_from, datetime.min.time()),
            channel=FilingChannel.COUNTER,
            status=status,
            version=1,
            commitment_only=False,
            reason="",
        )
    except ValueError as exc:
        raise CaseError(path, str(exc)) from None


def _cuminfo(node: Any) -> Accumulators:
    if not isinstance(node, dict):
        raise CaseError("cuminfo", "must be an object of accumulator → value")
    values: dict[str, int] = {}
    for key, value in node.items():
        if key in _COUNT_KEYS:
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, str))
                or not str(value).isdigit()
            ):
                raise CaseError(f"cuminfo.{key}", f"must be a whole count, got {value!r}")
            values[key] = int(value)
        else:
            values[key] = _money(node, key, "cuminfo")
            if values[key] < 0:
                raise CaseError(f"cuminfo.{key}", f"must not be negative, got {value!r}")
    return Accumulators(values)


def cuminfo_document(ytd: Accumulators) -> dict[str, str | int]:
    """Accumulators in the ``cuminfo`` format (the inverse of reading ``cuminfo``): yuan
    strings with two decimals, counts (``ip_admissions``) as integers. So ``cuminfo_after``
    of one case can be the ``cuminfo`` of the next."""
    return {
        key: value if key in _COUNT_KEYS else format_yuan(value)
        for key, value in sorted(dict(ytd).items())
    }


def _line(node: Any, path: str) -> FeeLine:
    if not isinstance(node, dict):
        raise CaseError(path, "must be an object")
    amount = _money(node, "det_item_fee_sumamt", path)
    qty = _decimal(node, "cnt", path, 4)
    price = _decimal(node, "pric", path, 6)
    if qty == 0:
        raise CaseError(f"{path}.cnt", "quantity must not be zero")
    if price < 0:
        raise CaseError(f"{path}.pric", f"price must not be negative, got {price}")
    if (amount < 0) != (qty < 0) and amount != 0:
        raise CaseError(
            f"{path}.det_item_fee_sumamt",
            "amount and quantity must have the same sign (refund lines have both negative)",
        )
    qty_units = int(qty * QTY_SCALE)
    price_units = int(price * PRICE_SCALE)
    expected = div_round(qty_units * price_units, PRICE_SCALE * QTY_SCALE // 100)
    if abs(expected - amount) > 1:
        raise CaseError(
            f"{path}.det_item_fee_sumamt",
            f"{node.get('det_item_fee_sumamt')} "
            f"differs from pric × cnt = {Decimal(expected) / 100:.2f}",
        )
    approval = _str(node, "hosp_appr_flag", path, required=False) or "0"
    if approval not in ("0", "1", "2"):
        raise CaseError(f"{path}.hosp_appr_flag", f"must be 0, 1 or 2, got {approval!r}")
    return FeeLine(
        line_id=_str(node, "feedetl_sn", path),
        list_code=_str(node, "med_list_codg", path),
        amount=amount,
        quantity=qty_units,
        unit_price=price_units,
        hosp_approval=approval,
        hospital_code=_str(node, "medins_list_codg", path, required=False),
        refund_of=_str(node, "init_feedetl_sn", path, required=False) or None,
    )
