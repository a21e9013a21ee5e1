"""Cross-region filing (异地就医备案) and its effect on a visit's benefit status.

Rules (domain-rules §2): FIL-02 scope, FIL-03 validity, FIL-04 change/cancel lock,
FIL-06 channels, FIL-07 emergency treated as filed, FIL-08 filing before discharge
settlement, FIL-10 long-term care outside the filed area. The parameters come from
:class:`medroam.domain.policy.FilingRules`; time comes in as ``now`` (timezone-aware, in
the local time of the place of insurance: its ``date()`` is the business date).

Region codes are the 6-digit 行政区划 codes (admdvs). A code ending in ``0000`` names a
province and covers every region of it; a code ending in ``00`` names a city (prefecture)
and covers its districts and counties; any other code names one county or district.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from medroam.domain.codes import BenefitStatus, FilingType
from medroam.domain.policy import FilingRules


class FilingError(ValueError):
    """A filing request, change or cancellation that the rules refuse."""


class FilingChannel(StrEnum):
    """Where a filing was made (FIL-06). Every channel produces the same record."""

    NATIONAL_APP = "national_app"  # 国家医保服务平台App
    MINI_PROGRAM = "mini_program"  # 国家异地备案小程序
    GOV_APP = "gov_app"  # 国务院客户端小程序
    COUNTER = "counter"  # 参保地窗口
    PHONE = "phone"  # 电话
    HOSPITAL = "hospital"  # 医院代办 (e.g. filing before discharge settlement)


class FilingStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class FilingEventKind(StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    CANCELLED = "cancelled"


GRANULARITY_PROVINCE = "province"
GRANULARITY_CITY = "city"
MAX_CHANGE_LOCK_MONTHS = 6  # FIL-04: a 参保地 may lock a long-term filing for at most 6 months


@dataclass(frozen=True, slots=True)
class Filing:
    """One filing in its current version."""

    filing_id: str
    psn_no: str
    insured_region: str  # 参保地 admdvs
    filing_type: FilingType
    destination: str  # 就医地 admdvs (province-level XX0000, city-level XXXX00, or county)
    valid_from: date
    valid_to: date | None  # inclusive; None: long-term, open-ended (长期有效)
    filed_at: datetime
    channel: FilingChannel  # the channel it was filed through
    status: FilingStatus
    version: int
    commitment_only: bool  # filed on a personal commitment letter (个人承诺书), documents pending
    reason: str  # the reason given with the latest event (filing, change or cancellation)

    def __post_init__(self) -> None:
        if not self.filing_id.strip():
            raise FilingError("filing_id must not be empty")
        if not self.psn_no.strip():
            raise FilingError("psn_no must not be empty")
        check_region(self.insured_region, "insured_region")
        check_region(self.destination, "destination")
        if self.version < 1:
            raise FilingError(f"filing {self.filing_id}: version must be ≥ 1, got {self.version}")
        if self.status is FilingStatus.ACTIVE:
            if self.filing_type.long_term and self.valid_to is not None:
                raise FilingError(
                    f"filing {self.filing_id}: an active long-term filing is open-ended "
                    f"(valid_to must be empty, got {self.valid_to})"
                )
            if not self.filing_type.long_term and self.valid_to is None:
                raise FilingError(
                    f"filing {self.filing_id}: a temporary filing needs an end date (valid_to)"
                )
            if self.valid_to is not None and self.valid_to < self.valid_from:
                raise FilingError(
                    f"filing {self.filing_id}: valid_to {self.valid_to} is before "
                    f"valid_from {self.valid_from}"
                )

    @property
    def long_term(self) -> bool:
        return self.filing_type.long_term

    @property
    def active(self) -> bool:
        return self.status is FilingStatus.ACTIVE

    def valid_on(self, day: date) -> bool:
        """Whether ``day`` lies inside [valid_from, valid_to] (ignoring FIL-08)."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class FilingRequest:
    """What a person (or a counter clerk on their behalf) asks for."""

    filing_id: str
    psn_no: str
    insured_region: str
    filing_type: FilingType
    destination: str
    valid_from: date
    channel: FilingChannel
    commitment_only: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FilingChanges:
    """A change request; ``None`` leaves a field as it is."""

    channel: FilingChannel  # where the change was made
    destination: str | None = None
    filing_type: FilingType | None = None
    valid_from: date | None = None
    commitment_only: bool | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FilingEvent:
    """One entry of a filing's append-only history: the filing as it stood after it."""

    filing_id: str
    version: int
    event: FilingEventKind
    at: datetime
    channel: FilingChannel
    snapshot: Filing


@dataclass(frozen=True, slots=True)
class BenefitDecision:
    """How a visit stands with respect to filing, and why."""

    status: BenefitStatus
    filing: Filing | None  # the filing that decided, if any
    reason: str  # one sentence naming the filing or rule (English + Chinese term)


# --- regions --------------------------------------------------------------------------


def check_region(code: str, field: str) -> None:
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        raise FilingError(f"{field}: {code!r} is not a 6-digit region code (行政区划代码)")


def is_province(code: str) -> bool:
    return code.endswith("0000")


def is_city(code: str) -> bool:
    return code.endswith("00") and not code.endswith("0000")


def region_covers(area: str, region: str) -> bool:
    """Whether the area named by ``area`` contains ``region`` (itself included)."""
    if area == region:
        return True
    if is_province(area):
        return region[:2] == area[:2]
    if is_city(area):
        return region[:4] == area[:4]
    return False


def _areas_overlap(a: str, b: str) -> bool:
    return region_covers(a, b) or region_covers(b, a)


# --- dates ----------------------------------------------------------------------------


def add_months(start: date, months: int) -> date:
    """The date ``months`` later on the same day of the month; when that month is shorter,
    the first day of the following month (so that a window never loses days)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if start.day > last:
        return date(year, month, last) + timedelta(days=1)
    return date(year, month, start.day)


def window_end(start: date, months: int) -> date:
    """Last day of a window of ``months`` months beginning on ``start`` (inclusive):
    2024-01-15 + 6 months → 2024-07-14; 2024-08-31 + 6 months → 2025-02-28."""
    return add_months(start, months) - timedelta(days=1)


def lock_ends(rules: FilingRules, filing: Filing) -> date | None:
    """The first day a long-term filing may be changed or cancelled (None: no lock)."""
    if not filing.long_term or rules.change_lock_months == 0:
        return None
    return add_months(filing.valid_from, rules.change_lock_months)


def _today(now: datetime) -> date:
    if now.tzinfo is None or now.utcoffset() is None:
        raise FilingError("now must be timezone-aware (local time of the place of insurance)")
    return now.date()


# --- rules ----------------------------------------------------------------------------


def check_rules(rules: FilingRules) -> None:
    """Refuse filing parameters outside the national bounds (FIL-03, FIL-04)."""
    if not 0 <= rules.change_lock_months <= MAX_CHANGE_LOCK_MONTHS:
        raise FilingError(
            f"change_lock_months must lie between 0 and {MAX_CHANGE_LOCK_MONTHS}, "
            f"got {rules.change_lock_months}"
        )
    for filing_type, months in rules.temp_validity_months.items():
        if filing_type.long_term:
            raise FilingError(f"temp_validity_months: {filing_type} is a long-term type")
        if months < 1:
            raise FilingError(
                f"temp_validity_months[{filing_type}] must be at least 1 month, got {months}"
            )
    if rules.granularity not in (GRANULARITY_PROVINCE, GRANULARITY_CITY):
        raise FilingError(f"granularity must be 'province' or 'city', got {rules.granularity!r}")


def _valid_to(rules: FilingRules, filing_type: FilingType, valid_from: date) -> date | None:
    if filing_type.long_term:
        return None
    months = rules.temp_validity_months.get(filing_type)
    if months is None:
        raise FilingError(f"the filing rules set no validity for {filing_type} filings")
    if months < 1:
        raise FilingError(f"temp_validity_months[{filing_type}] must be at least 1, got {months}")
    return window_end(valid_from, months)


def _check_destination(rules: FilingRules, insured_region: str, destination: str) -> None:
    check_region(destination, "destination")
    if rules.granularity == GRANULARITY_PROVINCE and not is_province(destination):
        raise FilingError(
            f"destination {destination}: filings name a province here (granularity "
            f"'province'); use {destination[:2]}0000"
        )
    if rules.granularity == GRANULARITY_CITY and is_province(destination):
        raise FilingError(
            f"destination {destination}: filings name a city here (granularity 'city'), "
            f"not a whole province"
        )
    if destination == insured_region:
        raise FilingError(
            f"destination {destination} is the insured region itself: a filing names a "
            f"place outside the place of insurance (参保地)"
        )
    if _areas_overlap(destination, insured_region):
        raise FilingError(
            f"destination {destination} overlaps the insured region {insured_region}: a "
            f"filing names a place outside the place of insurance (参保地)"
        )


def _windows_overlap(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (b_to is None or a_from <= b_to) and (a_to is None or b_from <= a_to)


def _check_conflicts(candidate: Filing, others: Iterable[Filing]) -> None:
    for other in others:
        if other.filing_id == candidate.filing_id or not other.active:
            continue
        if other.psn_no != candidate.psn_no:
            continue
        if candidate.long_term and other.long_term:
            raise FilingError(
                f"person {candidate.psn_no} already has an active long-term filing "
                f"{other.filing_id} ({other.filing_type}, to {other.destination}); change or "
                f"cancel it instead of filing again"
            )
        if _areas_overlap(candidate.destination, other.destination) and _windows_overlap(
            candidate.valid_from, candidate.valid_to, other.valid_from, other.valid_to
        ):
            until = "open-ended" if other.valid_to is None else f"to {other.valid_to}"
            raise FilingError(
                f"filing {other.filing_id} ({other.filing_type}) already covers "
                f"{other.destination} from {other.valid_from} {until}; the new period "
                f"{candidate.valid_from} to {candidate.valid_to or 'open-ended'} overlaps it"
            )


def new_filing(
    rules: FilingRules,
    request: FilingRequest,
    now: datetime,
    existing: Sequence[Filing] = (),
) -> Filing:
    """Make version 1 of a filing. ``existing`` are the person's other filings.

    Long-term filings are open-ended; temporary filings run ``temp_validity_months`` of
    their type from ``valid_from`` (its last day inclusive). Refused: a destination inside
    (or containing) the insured region, a second active long-term filing, and an active
    filing whose area and period overlap another one.
    """
    _today(now)
    check_region(request.insured_region, "insured_region")
    _check_destination(rules, request.insured_region, request.destination)
    filing = Filing(
        filing_id=request.filing_id,
        psn_no=request.psn_no,
        insured_region=request.insured_region,
        filing_type=request.filing_type,
        destination=request.destination,
        valid_from=request.valid_from,
        valid_to=_valid_to(rules, request.filing_type, request.valid_from),
        filed_at=now,
        channel=request.channel,
        status=FilingStatus.ACTIVE,
        version=1,
        commitment_only=request.commitment_only,
        reason=request.reason,
    )
    _check_conflicts(filing, existing)
    return filing


def _check_lock(rules: FilingRules, filing: Filing, today: date, action: str) -> None:
    ends = lock_ends(rules, filing)
    if ends is not None and today < ends:
        raise FilingError(
            f"long-term filing {filing.filing_id} cannot be {action} before {ends}: it must "
            f"stand {rules.change_lock_months} months from {filing.valid_from} (FIL-04)"
        )


def change_filing(
    rules: FilingRules,
    filing: Filing,
    changes: FilingChanges,
    now: datetime,
    others: Sequence[Filing] = (),
) -> Filing:
    """The next version of ``filing`` with ``changes`` applied.

    A long-term filing is locked for ``change_lock_months`` from its ``valid_from``.
    The type may change only within its category (long-term or temporary); a temporary
    filing's window is recomputed when its type or start changes.
    """
    today = _today(now)
    if not filing.active:
        raise FilingError(f"filing {filing.filing_id} is cancelled and cannot be changed")
    filing_type = changes.filing_type or filing.filing_type
    if filing_type.long_term != filing.long_term:
        raise FilingError(
            f"filing {filing.filing_id} is {'long-term' if filing.long_term else 'temporary'}"
            f"; it cannot become {filing_type} — cancel it and file again"
        )
    destination = changes.destination if changes.destination is not None else filing.destination
    valid_from = changes.valid_from if changes.valid_from is not None else filing.valid_from
    commitment_only = (
        changes.commitment_only if changes.commitment_only is not None else filing.commitment_only
    )
    if (filing_type, destination, valid_from, commitment_only) == (
        filing.filing_type,
        filing.destination,
        filing.valid_from,
        filing.commitment_only,
    ):
        raise FilingError(f"filing {filing.filing_id}: the change request changes nothing")
    _check_lock(rules, filing, today, "changed")
    if destination != filing.destination:
        _check_destination(rules, filing.insured_region, destination)
    valid_to = filing.valid_to
    if filing_type != filing.filing_type or valid_from != filing.valid_from:
        valid_to = _valid_to(rules, filing_type, valid_from)
    changed = replace(
        filing,
        filing_type=filing_type,
        destination=destination,
        valid_from=valid_from,
        valid_to=valid_to,
        commitment_only=commitment_only,
        version=filing.version + 1,
        reason=changes.reason,
    )
    _check_conflicts(changed, others)
    return changed


def cancel_filing(rules: FilingRules, filing: Filing, now: datetime, reason: str) -> Filing:
    """The cancelled version of ``filing``: it stays valid up to the cancel date.

    Long-term filings are locked as for a change. A temporary filing that already ended
    keeps its end date.
    """
    today = _today(now)
    if not filing.active:
        raise FilingError(f"filing {filing.filing_id} is already cancelled")
    _check_lock(rules, filing, today, "cancelled")
    valid_to = today if filing.valid_to is None else min(filing.valid_to, today)
    return replace(
        filing,
        status=FilingStatus.CANCELLED,
        valid_to=valid_to,
        version=filing.version + 1,
        reason=reason,
    )


# --- effect on a visit ----------------------------------------------------------------


def _dated_ok(
    filing: Filing, visit_begin: date, settle_date: date | None, rules: FilingRules
) -> bool:
    """The date rule: started by the visit (or, FIL-08, by the discharge settlement) and
    not ended before the visit began."""
    if filing.valid_to is not None and (
        filing.valid_to < filing.valid_from or filing.valid_to < visit_begin
    ):
        return False
    if filing.valid_from <= visit_begin:
        return True
    return (
        rules.retroactive_before_discharge
        and settle_date is not None
        and filing.valid_from <= settle_date
    )


def filing_covers(
    filing: Filing,
    treatment_region: str,
    visit_begin: date,
    settle_date: date | None,
    rules: FilingRules,
) -> bool:
    """Whether ``filing`` covers a visit at ``treatment_region`` that began on
    ``visit_begin`` and is settled on ``settle_date`` (None: not yet known).

    Date rule: ``valid_from ≤ visit_begin`` — or, when ``rules.retroactive_before_discharge``,
    ``valid_from ≤ settle_date`` (filed before discharge settlement, FIL-08) — and
    ``valid_to`` empty or ``≥ visit_begin``. Area rule: the destination is the region or
    contains it (a province-level destination covers the whole province).
    """
    return region_covers(filing.destination, treatment_region) and _dated_ok(
        filing, visit_begin, settle_date, rules
    )


_PREFERENCE: dict[FilingType, BenefitStatus] = {
    FilingType.TMP_REFERRAL: BenefitStatus.REFERRAL,
    FilingType.TMP_EMERGENCY: BenefitStatus.EMERGENCY,
    FilingType.TMP_OTHER: BenefitStatus.TEMPORARY_OTHER,
}
_TERMS: dict[BenefitStatus, str] = {
    BenefitStatus.REFERRAL: "referred care (异地转诊就医)",
    BenefitStatus.EMERGENCY: "emergency rescue (异地急诊抢救)",
    BenefitStatus.TEMPORARY_OTHER: "other temporary care (其他临时外出就医)",
}


def _describe(filing: Filing) -> str:
    return f"{filing.filing_id} ({filing.filing_type}, to {filing.destination})"


def _when(filing: Filing, visit_begin: date, settle_date: date | None) -> str:
    if filing.valid_from <= visit_begin:
        return f"on {visit_begin}"
    return (
        f"because it was filed on {filing.valid_from}, before discharge settlement on "
        f"{settle_date} (出院结算前补备案, FIL-08)"
    )


def resolve_benefit_status(
    filings: Iterable[Filing],
    insured_region: str,
    treatment_region: str,
    visit_begin: date,
    settle_date: date | None,
    emergency: bool,
    rules: FilingRules,
) -> BenefitDecision:
    """Decide the benefit status of a visit from the person's filings (domain-rules §2.3).

    Filings of another insured region are ignored. When several filings apply, the most
    favourable wins: long-term, then referral, emergency, other temporary care.
    """
    check_region(insured_region, "insured_region")
    check_region(treatment_region, "treatment_region")
    own = [f for f in filings if f.insured_region == insured_region]
    long_term = sorted((f for f in own if f.long_term), key=lambda f: f.valid_from)

    if region_covers(insured_region, treatment_region):
        for f in long_term:
            if _dated_ok(f, visit_begin, settle_date, rules):
                return BenefitDecision(
                    BenefitStatus.LONG_TERM_AT_HOME,
                    f,
                    f"long-term filing {_describe(f)} is valid {_when(f, visit_begin, settle_date)}"
                    f" and the care is at the place of insurance {insured_region}: two-way "
                    f"benefit (两地享受).",
                )
        return BenefitDecision(
            BenefitStatus.LOCAL,
            None,
            f"treatment region {treatment_region} lies in the insured region {insured_region}:"
            f" local care (本地就医).",
        )

    covering = [
        f for f in own if filing_covers(f, treatment_region, visit_begin, settle_date, rules)
    ]
    for f in long_term:
        if f in covering:
            return BenefitDecision(
                BenefitStatus.LONG_TERM,
                f,
                f"long-term filing {_describe(f)} covers {treatment_region} "
                f"{_when(f, visit_begin, settle_date)}: long-term cross-region care "
                f"(异地长期居住/安置/工作), benefits at the full standard.",
            )
    for filing_type in (FilingType.TMP_REFERRAL, FilingType.TMP_EMERGENCY):
        for f in covering:
            if f.filing_type is filing_type:
                status = _PREFERENCE[filing_type]
                return BenefitDecision(
                    status,
                    f,
                    f"temporary filing {_describe(f)} covers {treatment_region} "
                    f"{_when(f, visit_begin, settle_date)}: {_TERMS[status]}.",
                )
    if emergency:
        return BenefitDecision(
            BenefitStatus.EMERGENCY,
            None,
            f"no referral or emergency filing covers {treatment_region} on {visit_begin}, "
            f"but emergency rescue is treated as filed (急诊抢救视同备案, FIL-07).",
        )
    for f in covering:
        if f.filing_type is FilingType.TMP_OTHER:
            return BenefitDecision(
                BenefitStatus.TEMPORARY_OTHER,
                f,
                f"temporary filing {_describe(f)} covers {treatment_region} "
                f"{_when(f, visit_begin, settle_date)}: {_TERMS[BenefitStatus.TEMPORARY_OTHER]}.",
            )
    for f in long_term:
        if f.valid_to is None or (f.valid_from <= f.valid_to and visit_begin <= f.valid_to):
            where = (
                f"does not cover {treatment_region}"
                if not region_covers(f.destination, treatment_region)
                else f"starts on {f.valid_from}, after the visit began on {visit_begin}"
            )
            return BenefitDecision(
                BenefitStatus.TEMPORARY_OTHER,
                f,
                f"long-term filing {_describe(f)} {where}: care outside the filed area or "
                f"before the filing date counts as other temporary care "
                f"(按临时外出就医, FIL-10).",
            )
    direct = "may" if rules.unfiled_direct_settlement else "may not"
    return BenefitDecision(
        BenefitStatus.UNFILED,
        None,
        f"no filing covers {treatment_region} on {visit_begin}: unfiled cross-region care "
        f"(未备案), which this place of insurance {direct} settle directly.",
    )
