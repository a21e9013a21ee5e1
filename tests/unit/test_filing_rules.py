"""Filing rules (备案): validity, lock, change, cancel, coverage and benefit status."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medroam.domain.codes import BenefitStatus, FilingType
from medroam.domain.filing import (
    Filing,
    FilingChanges,
    FilingChannel,
    FilingError,
    FilingRequest,
    FilingStatus,
    add_months,
    cancel_filing,
    change_filing,
    check_rules,
    filing_covers,
    lock_ends,
    new_filing,
    region_covers,
    resolve_benefit_status,
    window_end,
)
from medroam.domain.policy import FilingRules

CST = timezone(timedelta(hours=8))
HOME = "440300"  # 深圳 (place of insurance)
BEIJING = "110100"
SHANGHAI = "310100"
TIANJIN = "120100"

RULES = FilingRules(reductions={})


def at(day: str, hour: int = 9) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), CST).replace(hour=hour)


def d(day: str) -> date:
    return date.fromisoformat(day)


def request(
    filing_type: FilingType = FilingType.LT_RETIRED,
    destination: str = BEIJING,
    valid_from: str = "2024-01-01",
    filing_id: str = "F1",
    insured_region: str = HOME,
) -> FilingRequest:
    return FilingRequest(
        filing_id=filing_id,
        psn_no="P1",
        insured_region=insured_region,
        filing_type=filing_type,
        destination=destination,
        valid_from=d(valid_from),
        channel=FilingChannel.NATIONAL_APP,
        reason="resettled",
    )


def make(
    filing_type: FilingType = FilingType.LT_RETIRED,
    destination: str = BEIJING,
    valid_from: str = "2024-01-01",
    filing_id: str = "F1",
    rules: FilingRules = RULES,
    insured_region: str = HOME,
) -> Filing:
    return new_filing(
        rules,
        request(filing_type, destination, valid_from, filing_id, insured_region),
        at(valid_from),
    )


# --- validity --------------------------------------------------------------------------


def test_long_term_filing_is_open_ended_version_one() -> None:
    f = make(FilingType.LT_RESIDENT)
    assert f.valid_to is None
    assert (f.version, f.status, f.active) == (1, FilingStatus.ACTIVE, True)
    assert f.filed_at == at("2024-01-01")
    assert f.channel is FilingChannel.NATIONAL_APP
    assert f.reason == "resettled"


def test_temporary_filing_runs_six_months_to_the_day_before() -> None:
    # 2024-01-15 + 6 months = 2024-07-15; the window's last day is 2024-07-14.
    f = make(FilingType.TMP_OTHER, valid_from="2024-01-15")
    assert f.valid_to == d("2024-07-14")


def test_temporary_window_from_a_month_end() -> None:
    # 2024-08-31 + 6 months: there is no 2025-02-31, so the window covers all of February.
    f = make(FilingType.TMP_REFERRAL, valid_from="2024-08-31")
    assert f.valid_to == d("2025-02-28")


def test_temporary_validity_per_type_comes_from_the_rules() -> None:
    rules = replace(
        RULES, temp_validity_months={**RULES.temp_validity_months, FilingType.TMP_REFERRAL: 3}
    )
    referral = make(FilingType.TMP_REFERRAL, valid_from="2024-11-30", rules=rules)
    other = make(FilingType.TMP_OTHER, valid_from="2024-11-30", rules=rules, filing_id="F2")
    assert referral.valid_to == d("2025-02-28")  # 2025-02-30 does not exist
    assert other.valid_to == d("2025-05-29")


def test_temporary_type_without_validity_is_refused() -> None:
    rules = replace(RULES, temp_validity_months={FilingType.TMP_OTHER: 6})
    with pytest.raises(FilingError, match="set no validity for TMP_EMERGENCY"):
        make(FilingType.TMP_EMERGENCY, rules=rules)


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=1, max_value=36),
)
def test_window_end_is_the_day_before_the_same_day_months_later(start: date, months: int) -> None:
    end = window_end(start, months)
    after = end + timedelta(days=1)
    assert (after.year - start.year) * 12 + after.month - start.month in (months, months + 1)
    if after.day == start.day:
        assert (after.year - start.year) * 12 + after.month - start.month == months
    else:  # the target month was too short: the window runs to its last day
        assert after.day == 1 and start.day > end.day


def test_add_months_keeps_the_day_or_rolls_to_the_first() -> None:
    assert add_months(d("2024-01-31"), 1) == d("2024-03-01")
    assert add_months(d("2024-01-29"), 1) == d("2024-02-29")
    assert add_months(d("2024-11-15"), 3) == d("2025-02-15")


# --- refusals --------------------------------------------------------------------------


def test_destination_equal_to_insured_region_is_refused() -> None:
    with pytest.raises(FilingError, match="destination 440300 is the insured region itself"):
        make(destination=HOME)


def test_destination_inside_insured_region_is_refused() -> None:
    with pytest.raises(FilingError, match="overlaps the insured region 440300"):
        make(destination="440304")


def test_malformed_region_is_refused() -> None:
    with pytest.raises(FilingError, match="'11010' is not a 6-digit region code"):
        make(destination="11010")


def test_second_active_long_term_filing_is_refused() -> None:
    first = make()
    second = request(FilingType.LT_WORKER, SHANGHAI, "2024-03-01", "F2")
    with pytest.raises(FilingError, match="already has an active long-term filing F1"):
        new_filing(RULES, second, at("2024-03-01"), existing=[first])
    cancelled = cancel_filing(replace(RULES, change_lock_months=0), first, at("2024-02-01"), "x")
    assert new_filing(RULES, second, at("2024-03-01"), existing=[cancelled]).version == 1


def test_overlapping_filings_to_the_same_destination_are_refused() -> None:
    first = make(FilingType.TMP_OTHER, TIANJIN, "2024-01-01")  # to 2024-06-30
    overlapping = request(FilingType.TMP_REFERRAL, TIANJIN, "2024-06-30", "F2")
    with pytest.raises(FilingError, match=r"filing F1 .* already covers 120100"):
        new_filing(RULES, overlapping, at("2024-06-01"), existing=[first])
    after = request(FilingType.TMP_REFERRAL, TIANJIN, "2024-07-01", "F3")
    assert new_filing(RULES, after, at("2024-06-01"), existing=[first]).valid_to == d("2024-12-31")
    elsewhere = request(FilingType.TMP_REFERRAL, SHANGHAI, "2024-03-01", "F4")
    assert new_filing(RULES, elsewhere, at("2024-03-01"), existing=[first]).active


def test_granularity_decides_what_a_destination_names() -> None:
    province = replace(RULES, granularity="province")
    with pytest.raises(FilingError, match="use 110000"):
        make(destination=BEIJING, rules=province)
    with pytest.raises(FilingError, match="not a whole province"):
        make(destination="110000")
    assert make(destination="110000", rules=province).destination == "110000"


def test_naive_now_is_refused() -> None:
    with pytest.raises(FilingError, match="timezone-aware"):
        new_filing(RULES, request(), datetime(2024, 1, 1, 9))


def test_rules_outside_national_bounds_are_refused() -> None:
    with pytest.raises(FilingError, match="change_lock_months must lie between 0 and 6, got 7"):
        check_rules(replace(RULES, change_lock_months=7))
    with pytest.raises(FilingError, match="at least 1 month, got 0"):
        check_rules(replace(RULES, temp_validity_months={FilingType.TMP_OTHER: 0}))
    check_rules(RULES)


# --- change and cancel -----------------------------------------------------------------


def test_change_within_the_lock_names_the_unlock_date() -> None:
    f = make(valid_from="2024-01-01")
    changes = FilingChanges(channel=FilingChannel.COUNTER, destination=SHANGHAI)
    with pytest.raises(FilingError, match="cannot be changed before 2024-07-01") as info:
        change_filing(RULES, f, changes, at("2024-06-30", 23))
    assert "6 months from 2024-01-01" in str(info.value)


def test_lock_end_from_a_month_end() -> None:
    f = make(valid_from="2024-08-31")
    assert lock_ends(RULES, f) == d("2025-03-01")  # 2025-02-31 does not exist
    with pytest.raises(FilingError, match="cannot be cancelled before 2025-03-01"):
        cancel_filing(RULES, f, at("2025-02-28"), "moved back")


def test_change_after_the_lock_creates_version_two() -> None:
    f = make(valid_from="2024-01-01")
    changes = FilingChanges(
        channel=FilingChannel.COUNTER, destination=SHANGHAI, reason="moved to Shanghai"
    )
    v2 = change_filing(RULES, f, changes, at("2024-07-01"))
    assert (v2.version, v2.destination, v2.filing_id) == (2, SHANGHAI, "F1")
    assert v2.valid_from == f.valid_from and v2.valid_to is None
    assert v2.filed_at == f.filed_at and v2.channel is FilingChannel.NATIONAL_APP
    assert v2.reason == "moved to Shanghai"
    assert f.destination == BEIJING  # the old version is untouched


def test_no_lock_when_lock_months_is_zero_and_none_for_temporary() -> None:
    f = make()
    changes = FilingChanges(channel=FilingChannel.PHONE, commitment_only=True)
    unlocked = replace(RULES, change_lock_months=0)
    assert change_filing(unlocked, f, changes, at("2024-01-02")).commitment_only
    t = make(FilingType.TMP_OTHER, TIANJIN)
    moved = FilingChanges(channel=FilingChannel.PHONE, destination=SHANGHAI)
    assert change_filing(RULES, t, moved, at("2024-01-02")).destination == SHANGHAI


def test_change_of_a_temporary_start_recomputes_its_window() -> None:
    t = make(FilingType.TMP_OTHER, TIANJIN, "2024-01-15")
    later = FilingChanges(channel=FilingChannel.COUNTER, valid_from=d("2024-02-01"))
    assert change_filing(RULES, t, later, at("2024-01-20")).valid_to == d("2024-07-31")
    referral = FilingChanges(channel=FilingChannel.COUNTER, filing_type=FilingType.TMP_REFERRAL)
    assert change_filing(RULES, t, referral, at("2024-01-20")).valid_to == d("2024-07-14")


def test_change_refusals() -> None:
    f = make()
    late = at("2024-08-01")
    with pytest.raises(FilingError, match="changes nothing"):
        change_filing(RULES, f, FilingChanges(channel=FilingChannel.COUNTER), late)
    with pytest.raises(FilingError, match="cannot become TMP_OTHER"):
        change_filing(
            RULES, f, FilingChanges(FilingChannel.COUNTER, filing_type=FilingType.TMP_OTHER), late
        )
    with pytest.raises(FilingError, match="is the insured region itself"):
        change_filing(RULES, f, FilingChanges(FilingChannel.COUNTER, destination=HOME), late)
    other = make(FilingType.TMP_OTHER, SHANGHAI, "2024-07-01", "F2")
    with pytest.raises(FilingError, match=r"filing F2 .* already covers 310100"):
        change_filing(
            RULES, f, FilingChanges(FilingChannel.COUNTER, destination=SHANGHAI), late, [other]
        )


def test_cancel_sets_status_and_end_date() -> None:
    f = make(valid_from="2024-01-01")
    c = cancel_filing(RULES, f, at("2024-09-10"), "returned home")
    assert (c.status, c.valid_to, c.version, c.reason) == (
        FilingStatus.CANCELLED,
        d("2024-09-10"),
        2,
        "returned home",
    )
    with pytest.raises(FilingError, match="F1 is already cancelled"):
        cancel_filing(RULES, c, at("2024-09-11"), "again")
    with pytest.raises(FilingError, match="cancelled and cannot be changed"):
        change_filing(
            RULES, c, FilingChanges(FilingChannel.COUNTER, destination=SHANGHAI), at("2024-09-11")
        )


def test_cancel_within_the_lock_is_refused() -> None:
    with pytest.raises(FilingError, match="cannot be cancelled before 2024-07-01"):
        cancel_filing(RULES, make(), at("2024-03-01"), "changed my mind")


def test_cancel_of_an_expired_temporary_filing_keeps_its_end() -> None:
    t = make(FilingType.TMP_OTHER, TIANJIN, "2024-01-01")
    assert cancel_filing(RULES, t, at("2024-12-01"), "tidy").valid_to == d("2024-06-30")
    assert cancel_filing(RULES, t, at("2024-03-05"), "early").valid_to == d("2024-03-05")


# --- coverage --------------------------------------------------------------------------


def test_filing_covers_date_bounds_inclusive() -> None:
    t = make(FilingType.TMP_OTHER, TIANJIN, "2024-01-01")  # to 2024-06-30
    assert filing_covers(t, TIANJIN, d("2024-01-01"), None, RULES)
    assert filing_covers(t, TIANJIN, d("2024-06-30"), d("2024-07-10"), RULES)
    assert not filing_covers(t, TIANJIN, d("2024-07-01"), None, RULES)
    assert not filing_covers(t, SHANGHAI, d("2024-03-01"), None, RULES)


def test_city_destination_covers_its_districts_only() -> None:
    f = make(destination=BEIJING)
    assert filing_covers(f, "110105", d("2024-02-01"), None, RULES)
    assert not filing_covers(f, "120101", d("2024-02-01"), None, RULES)
    assert region_covers("110105", "110105") and not region_covers("110105", "110106")


def test_cancelled_filing_covers_visits_before_cancellation_only() -> None:
    c = cancel_filing(RULES, make(), at("2024-09-10"), "returned")
    assert filing_covers(c, BEIJING, d("2024-09-10"), None, RULES)
    assert not filing_covers(c, BEIJING, d("2024-09-11"), None, RULES)


def test_retroactive_filing_before_discharge_covers() -> None:
    # Admitted on 03-01 without a filing, filed on 03-05, settled at discharge on 03-10.
    t = make(FilingType.TMP_REFERRAL, TIANJIN, "2024-03-05")
    assert filing_covers(t, TIANJIN, d("2024-03-01"), d("2024-03-10"), RULES)
    assert not filing_covers(t, TIANJIN, d("2024-03-01"), d("2024-03-04"), RULES)
    off = replace(RULES, retroactive_before_discharge=False)
    assert not filing_covers(t, TIANJIN, d("2024-03-01"), d("2024-03-10"), off)


# --- benefit status --------------------------------------------------------------------


def resolve(
    filings: list[Filing],
    treatment: str,
    begin: str = "2024-05-01",
    settle: str | None = "2024-05-10",
    emergency: bool = False,
    rules: FilingRules = RULES,
) -> tuple[BenefitStatus, str | None, str]:
    decision = resolve_benefit_status(
        filings, HOME, treatment, d(begin), None if settle is None else d(settle), emergency, rules
    )
    return (
        decision.status,
        None if decision.filing is None else decision.filing.filing_id,
        decision.reason,
    )


def test_local_care_without_long_term_filing() -> None:
    status, filing, reason = resolve([make(FilingType.TMP_OTHER, TIANJIN)], "440304")
    assert (status, filing) == (BenefitStatus.LOCAL, None)
    assert "本地就医" in reason


def test_long_term_filer_back_home_gets_two_way_benefit() -> None:
    status, filing, reason = resolve([make()], HOME)
    assert (status, filing) == (BenefitStatus.LONG_TERM_AT_HOME, "F1")
    assert "两地享受" in reason and "F1" in reason
    # not yet valid at the visit (and filed after settlement) → plain local care
    status, _, _ = resolve([make(valid_from="2024-06-01")], HOME)
    assert status is BenefitStatus.LOCAL


def test_long_term_filing_at_the_filed_place() -> None:
    status, filing, reason = resolve([make()], "110105")
    assert (status, filing) == (BenefitStatus.LONG_TERM, "F1")
    assert "long-term filing F1" in reason and "异地长期" in reason


def test_long_term_filing_outside_its_area_is_temporary_other() -> None:
    status, filing, reason = resolve([make()], SHANGHAI)
    assert (status, filing) == (BenefitStatus.TEMPORARY_OTHER, "F1")
    assert "FIL-10" in reason and "does not cover 310100" in reason


def test_long_term_filing_before_its_date_is_temporary_other() -> None:
    late = make(valid_from="2024-06-01")
    status, filing, reason = resolve([late], BEIJING, settle="2024-05-10")
    assert (status, filing) == (BenefitStatus.TEMPORARY_OTHER, "F1")
    assert "starts on 2024-06-01" in reason


def test_referral_emergency_and_other_filings() -> None:
    referral = make(FilingType.TMP_REFERRAL, TIANJIN, "2024-04-01")
    emergency = make(FilingType.TMP_EMERGENCY, TIANJIN, "2024-04-01")
    other = make(FilingType.TMP_OTHER, TIANJIN, "2024-04-01")
    assert resolve([referral], TIANJIN)[:2] == (BenefitStatus.REFERRAL, "F1")
    assert resolve([emergency], TIANJIN)[:2] == (BenefitStatus.EMERGENCY, "F1")
    status, _, reason = resolve([other], TIANJIN)
    assert status is BenefitStatus.TEMPORARY_OTHER and "其他临时外出就医" in reason


def test_emergency_without_filing_is_treated_as_filed() -> None:
    status, filing, reason = resolve([], TIANJIN, emergency=True)
    assert (status, filing) == (BenefitStatus.EMERGENCY, None)
    assert "视同备案" in reason and "FIL-07" in reason


def test_no_filing_is_unfiled() -> None:
    status, filing, reason = resolve([make(FilingType.TMP_OTHER, SHANGHAI)], TIANJIN)
    assert (status, filing) == (BenefitStatus.UNFILED, None)
    assert "未备案" in reason and "may settle directly" in reason
    strict = replace(RULES, unfiled_direct_settlement=False)
    assert "may not settle directly" in resolve([], TIANJIN, rules=strict)[2]


def test_retroactive_filing_before_discharge_counts() -> None:
    filed_late = make(FilingType.TMP_REFERRAL, TIANJIN, "2024-05-05")
    status, filing, reason = resolve([filed_late], TIANJIN, "2024-05-01", "2024-05-10")
    assert (status, filing) == (BenefitStatus.REFERRAL, "F1")
    assert "FIL-08" in reason and "2024-05-10" in reason


def test_retroactive_filing_does_not_count_when_the_parameter_is_off() -> None:
    filed_late = make(FilingType.TMP_REFERRAL, TIANJIN, "2024-05-05")
    off = replace(RULES, retroactive_before_discharge=False)
    assert resolve([filed_late], TIANJIN, "2024-05-01", "2024-05-10", rules=off)[0] is (
        BenefitStatus.UNFILED
    )
    # and a filing made after discharge settlement never counts
    assert resolve([filed_late], TIANJIN, "2024-05-01", "2024-05-04")[0] is BenefitStatus.UNFILED


def test_province_level_destination_covers_the_whole_province() -> None:
    province = replace(RULES, granularity="province")
    f = make(destination="320000", rules=province)  # 江苏
    assert resolve([f], "320583", rules=province)[:2] == (BenefitStatus.LONG_TERM, "F1")
    assert resolve([f], "320100", rules=province)[0] is BenefitStatus.LONG_TERM
    assert resolve([f], "330100", rules=province)[0] is BenefitStatus.TEMPORARY_OTHER


def test_most_favourable_filing_wins() -> None:
    lt = make(FilingType.LT_WORKER, "120000", rules=replace(RULES, granularity="province"))
    referral = make(FilingType.TMP_REFERRAL, TIANJIN, "2024-04-01", "F2")
    other = make(FilingType.TMP_OTHER, TIANJIN, "2024-04-01", "F3")
    assert resolve([other, referral, lt], TIANJIN)[:2] == (BenefitStatus.LONG_TERM, "F1")
    assert resolve([other, referral], TIANJIN)[:2] == (BenefitStatus.REFERRAL, "F2")
    # an emergency visit is treated as filed, which beats a TMP_OTHER filing
    assert resolve([other], TIANJIN, emergency=True)[:2] == (BenefitStatus.EMERGENCY, None)
    # a TMP_OTHER filing that covers beats the long-term-outside-its-area fallback
    beijing_lt = make(FilingType.LT_RETIRED, BEIJING, filing_id="F4")
    assert resolve([beijing_lt, other], TIANJIN)[:2] == (BenefitStatus.TEMPORARY_OTHER, "F3")
    # a long-term filing outside its area does not beat an emergency (视同备案)
    assert resolve([beijing_lt], TIANJIN, emergency=True)[0] is BenefitStatus.EMERGENCY


def test_filings_of_another_insured_region_are_ignored() -> None:
    foreign = make(FilingType.TMP_REFERRAL, TIANJIN, insured_region="510100")
    assert resolve([foreign], TIANJIN)[0] is BenefitStatus.UNFILED


def test_cancelled_long_term_filing_does_not_apply_after_cancellation() -> None:
    c = cancel_filing(RULES, make(), at("2024-09-10"), "returned")
    assert resolve([c], BEIJING, "2024-09-01", "2024-09-12")[0] is BenefitStatus.LONG_TERM
    assert resolve([c], BEIJING, "2024-10-01", "2024-10-12")[0] is BenefitStatus.UNFILED
    assert resolve([c], HOME, "2024-10-01", "2024-10-12")[0] is BenefitStatus.LOCAL


def test_filing_stays_equal_across_time_zones_of_now() -> None:
    f = make()
    same_moment = replace(f, filed_at=f.filed_at.astimezone(UTC))
    assert same_moment == f
