"""The table-driven DRG grouper (drg-dip.md §5): MDC → ADRG → DRG, first match wins.

``group(case, scheme)`` validates the case, tries the MDCs in the scheme's order (each
entry condition is data), inside an entered MDC tries the procedural ADRGs, then the
optional QY check, then the medical ADRGs, each in table order; an entered MDC whose
ADRGs all fail falls through to the next MDC, and a case no MDC takes is ``0000``. The
severity split (MCC/CC with the exclusion tables, §5.4) picks the DRG.

Every result carries a trace of structured steps (rule, subject, codes, note); the CLI and
UI render it (``short_trace``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from medroam.domain.drg.scheme import AdrgRule, GrouperOptions, MdcRule, QyMode, Scheme

UNGROUPABLE_DRG = "0000"


class GroupStatus(StrEnum):
    GROUPED = "grouped"  # 分组成功
    AMBIGUOUS = "ambiguous"  # 歧义病案 (QY)
    UNGROUPABLE = "ungroupable"  # 无法入组 (0000)
    CHECK_FAILED = "check_failed"  # 信息校验不通过


class Severity(StrEnum):
    MCC = "MCC"
    CC = "CC"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class GroupCase:
    """One inpatient stay as the grouper sees it (from the settlement list).

    ``diagnoses`` and ``procedures`` are normalised codes, principal first. ``sex``: 1 male,
    2 female, 0/9 unknown (blocks MDCM/MDCN). ``age_days`` is needed when ``age_years`` is
    0; ``weight_g`` (新生儿出生体重) for neonates. ``dept``, ``los`` and ``leaving_type``
    are carried for payment; CHS-DRG 1.1 grouping does not use them.
    """

    case_id: str
    sex: int | None
    age_years: int | None
    age_days: int | None
    weight_g: int | None
    diagnoses: tuple[str, ...]
    procedures: tuple[str, ...] = ()
    dept: str = ""
    los: int | None = None
    leaving_type: str = ""


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One rule that fired (or was checked and rejected), as data."""

    rule: str  # validate | mdc | mdc.fallthrough | adrg | qy | cce | mcc | cc | drg | 0000
    subject: str  # MDC, ADRG or DRG code, or the diagnosis code examined
    codes: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class GroupResult:
    case_id: str
    status: GroupStatus
    mdc: str  # "MDCB", "" when none
    adrg: str  # "BR2", "BQY" for QY, "" when none
    drg: str  # "BR21", "BQY", "0000", "" when validation failed
    severity: Severity | None
    trace: tuple[TraceStep, ...]
    problems: tuple[str, ...] = ()  # validation failures, one reason each


# --- code normalisation -------------------------------------------------------------

_LOWER_X = re.compile(r"(?<=[0-9.])X")


def normalize_diagnosis(code: str) -> str:
    """Trim, upper-case, and write the ``x`` of 医保版 extensions in lower case.

    ``" i63.900 "`` → ``"I63.900"``; ``"r75.X00X001"`` → ``"R75.x00x001"``; a leading
    ``X`` (chapter XX codes such as ``X59.900``) and the letter after ``+`` stay upper.
    """
    s = code.strip().upper().replace(" ", "")
    return _LOWER_X.sub("x", s) if "X" in s else s


def normalize_procedure(code: str) -> str:
    """Trim and write the ``x`` of extensions in lower case (``"50.5100X001"``)."""
    s = code.strip().replace(" ", "")
    return s.replace("X", "x")


# --- validation ---------------------------------------------------------------------


def validate(case: GroupCase, scheme: Scheme, options: GrouperOptions) -> tuple[str, ...]:
    """Reasons the case cannot be grouped (信息校验不通过); empty when it can."""
    problems: list[str] = []
    if not case.diagnoses or not case.diagnoses[0]:
        problems.append("missing principal diagnosis")
    if case.sex is None:
        problems.append("missing sex")
    elif case.sex not in (0, 1, 2, 9):
        problems.append(f"invalid sex {case.sex} (1 male, 2 female, 0/9 unknown)")
    if case.age_years is None:
        problems.append("missing age")
    elif case.age_years < 0:
        problems.append(f"invalid age {case.age_years}")
    elif case.age_years == 0:
        if case.age_days is None:
            problems.append("age_days is required when age is 0")
        elif case.age_days < 0 or case.age_days > 366:
            problems.append(f"invalid age_days {case.age_days}")
        elif (
            options.require_newborn_weight
            and case.age_days <= options.neonate_max_days
            and case.weight_g is None
        ):
            problems.append("birth weight is required for a neonate")
    if case.weight_g is not None and case.weight_g <= 0:
        problems.append(f"invalid weight {case.weight_g}")
    if options.require_known_diagnoses:
        known = scheme.known_diagnoses
        for code in case.diagnoses:
            if code and code not in known:
                problems.append(f"unknown diagnosis code {code}")
    return tuple(problems)


# --- grouping -----------------------------------------------------------------------


def group(case: GroupCase, scheme: Scheme, options: GrouperOptions | None = None) -> GroupResult:
    """Group one case with ``scheme`` (options default to the scheme's own)."""
    opts = scheme.options if options is None else options
    problems = validate(case, scheme, opts)
    if problems:
        step = TraceStep("validate", case.case_id, (), "; ".join(problems))
        return GroupResult(
            case.case_id, GroupStatus.CHECK_FAILED, "", "", "", None, (step,), problems
        )

    pdx = case.diagnoses[0]
    others = tuple(dict.fromkeys(d for d in case.diagnoses[1:] if d and d != pdx))
    all_dx = (pdx, *others)
    px = case.procedures
    or_set = scheme.or_procedures
    any_or = any(p in or_set for p in px)
    first_or = bool(px) and px[0] in or_set
    or_ok = first_or if opts.principal_procedure_only else any_or
    trace: list[TraceStep] = []

    for mdc in scheme.mdcs:
        entry = _enter(mdc, case, pdx, all_dx, or_ok)
        if entry is None:
            continue
        trace.append(TraceStep("mdc", mdc.code, entry[0], entry[1]))
        for rule in mdc.procedural:
            hit = _match(rule, case, pdx, all_dx, px, or_ok, any_or, opts)
            if hit is not None:
                return _finish(case, scheme, mdc, rule, hit, others, trace)
        if (
            opts.qy_mode is not QyMode.OFF
            and mdc.principal_dx is not None  # not for MDCA, entered by procedure
            and (any_or if opts.qy_mode is QyMode.ANY_OR_PROCEDURE else first_or)
        ):
            qy = f"{mdc.letter}QY"
            codes = tuple(p for p in px if p in or_set)
            trace.append(TraceStep("qy", qy, codes, "OR procedure matches no procedural ADRG"))
            return GroupResult(
                case.case_id, GroupStatus.AMBIGUOUS, mdc.code, qy, qy, None, tuple(trace)
            )
        for rule in mdc.medical:
            hit = _match(rule, case, pdx, all_dx, px, or_ok, any_or, opts)
            if hit is not None:
                return _finish(case, scheme, mdc, rule, hit, others, trace)
        trace.append(TraceStep("mdc.fallthrough", mdc.code, (), "no ADRG of the MDC matched"))

    trace.append(TraceStep("0000", UNGROUPABLE_DRG, (pdx,), "no MDC/ADRG takes the case"))
    return GroupResult(
        case.case_id,
        GroupStatus.UNGROUPABLE,
        "",
        "",
        UNGROUPABLE_DRG,
        None,
        tuple(trace),
    )


def _enter(
    mdc: MdcRule, case: GroupCase, pdx: str, all_dx: tuple[str, ...], or_ok: bool
) -> tuple[tuple[str, ...], str] | None:
    """The MDC's entry test: ``(codes, note)`` when it passes, else None."""
    if mdc.principal_dx is None:
        if mdc.principal_procedure_or and or_ok:
            return (case.procedures[:1], "principal procedure is an OR procedure")
        return None
    if pdx not in mdc.principal_dx:
        return None
    if mdc.sex is not None and case.sex != mdc.sex:
        return None
    if mdc.max_age_years is not None and (
        case.age_years is None or case.age_years > mdc.max_age_years
    ):
        return None
    if mdc.min_trauma_sites is not None:
        sites = mdc.trauma_sites
        hit = {sites[d] for d in all_dx if d in sites}
        if len(hit) < mdc.min_trauma_sites:
            return None
        return ((pdx,), "principal diagnosis in 主诊表; trauma sites: " + "、".join(sorted(hit)))
    return ((pdx,), "principal diagnosis in 主诊表")


def _match(
    rule: AdrgRule,
    case: GroupCase,
    pdx: str,
    all_dx: tuple[str, ...],
    px: tuple[str, ...],
    or_ok: bool,
    any_or: bool,
    opts: GrouperOptions,
) -> tuple[str, ...] | None:
    """The codes that satisfied the rule, or None. All parts present are ANDed."""
    codes: tuple[str, ...] = ()
    if rule.catch_all:
        return codes
    s = rule.principal_dx
    if s is not None:
        if pdx not in s:
            return None
        codes = (pdx,)
    if rule.min_age_days is not None or rule.max_age_days is not None:
        days = case.age_days if case.age_years == 0 else None
        if days is None:
            return None
        if rule.max_age_days is not None and days > rule.max_age_days:
            return None
        if rule.min_age_days is not None and days < rule.min_age_days:
            return None
    if rule.min_weight_g is not None or rule.max_weight_g is not None:
        w = case.weight_g
        if w is None:
            return None
        if rule.min_weight_g is not None and w < rule.min_weight_g:
            return None
        if rule.max_weight_g is not None and w > rule.max_weight_g:
            return None
    s = rule.principal_px
    if s is not None:
        if not px:
            return None
        if opts.principal_procedure_only:
            if px[0] not in s:
                return None
            codes = (*codes, px[0])
        else:
            found = [p for p in px if p in s]
            if not found:
                return None
            codes = (*codes, found[0])
    s = rule.any_dx
    if s is not None:
        found = [d for d in all_dx if d in s]
        if not found:
            return None
        codes = (*codes, found[0])
    expr = rule.procedures
    if expr is not None:
        tables = expr.tables
        matched: list[str | None] = []
        for t in tables:
            matched.append(next((p for p in px if p in t), None))
        for alt in expr.alternatives:
            if all(matched[i] is not None for i in alt):
                codes = (*codes, *(m for i in alt if (m := matched[i]) is not None))
                break
        else:
            return None
    if rule.needs_or_procedure:
        if not or_ok:
            return None
        if px:
            codes = (*codes, px[0])
    if rule.no_or_procedure and any_or:
        return None
    return codes


def _finish(
    case: GroupCase,
    scheme: Scheme,
    mdc: MdcRule,
    rule: AdrgRule,
    hit: tuple[str, ...],
    others: tuple[str, ...],
    trace: list[TraceStep],
) -> GroupResult:
    trace.append(TraceStep("adrg", rule.code, hit, rule.shape))
    if len(rule.drgs) == 1:
        drg = rule.drgs[0]
        sev: Severity | None = None
    else:
        sev = severity(case.diagnoses[0], others, scheme, trace)
        drg = choose_subgroup(rule, sev)
    trace.append(TraceStep("drg", drg, (), scheme.drg_names.get(drg, "")))
    return GroupResult(
        case.case_id, GroupStatus.GROUPED, mdc.code, rule.code, drg, sev, tuple(trace)
    )


_ABSENT = "\0"


def severity(
    pdx: str, others: tuple[str, ...], scheme: Scheme, trace: list[TraceStep] | None = None
) -> Severity:
    """MCC / CC / none after the exclusion tables (drg-dip.md §5.4).

    An MCC or CC counts unless its exclusion table equals the principal diagnosis's table
    (``表 7-n``); one without a table (无) always counts. All secondaries are scanned.
    """
    table = scheme.cce.get(pdx)
    if trace is not None:
        trace.append(TraceStep("cce", pdx, (), table or "no exclusion table"))
    has_mcc = has_cc = False
    for d in others:
        t = scheme.mcc.get(d, _ABSENT)
        kind = "mcc"
        if t == _ABSENT:
            t = scheme.cc.get(d, _ABSENT)
            kind = "cc"
            if t == _ABSENT:
                continue
        counts = t is None or t != table
        if trace is not None:
            if counts:
                note = f"counts ({t or '无'})"
            else:
                note = f"excluded: same table as the principal diagnosis ({t})"
            trace.append(TraceStep(kind, d, (), note))
        if counts:
            if kind == "mcc":
                has_mcc = True
            else:
                has_cc = True
    if has_mcc:
        return Severity.MCC
    if has_cc:
        return Severity.CC
    return Severity.NONE


def choose_subgroup(rule: AdrgRule, sev: Severity) -> str:
    """Family 1/3/5: MCC→1, CC→3, else 5; 3/5: MCC or CC→3; 1/5: MCC→1, else 5; 9: 9."""
    by_digit = {d[3]: d for d in rule.drgs}
    if sev is Severity.MCC and "1" in by_digit:
        return by_digit["1"]
    if sev is not Severity.NONE and "3" in by_digit:
        return by_digit["3"]
    if "5" in by_digit:
        return by_digit["5"]
    return by_digit.get("9", rule.drgs[-1])


def short_trace(result: GroupResult) -> str:
    """A one-line rendering of the trace for CSV output."""
    parts: list[str] = []
    for s in result.trace:
        if s.rule == "validate":
            parts.append(f"check failed: {s.note}")
        elif s.rule in ("mdc", "adrg"):
            parts.append(f"{s.subject}[{' '.join(s.codes)}]" if s.codes else s.subject)
        elif s.rule == "mdc.fallthrough":
            parts.append(f"{s.subject} no ADRG")
        elif s.rule == "cce":
            parts.append(f"CCE {s.note}")
        elif s.rule in ("mcc", "cc"):
            flag = "+" if s.note.startswith("counts") else "-"
            parts.append(f"{s.rule.upper()}{flag}{s.subject}")
        elif s.rule == "qy":
            parts.append(f"{s.subject}[{' '.join(s.codes)}]")
        elif s.rule in ("drg", "0000"):
            parts.append(f"={s.subject}")
    return " > ".join(parts)
