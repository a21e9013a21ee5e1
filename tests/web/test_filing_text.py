"""The filing rules' refusals (English, for logs and the API) said in Chinese on the
console and the self-service pages; the messages come from the real domain functions so
that a change of their wording breaks this test, not the pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from medroam.domain.codes import FilingType
from medroam.domain.filing import (
    FilingChanges,
    FilingChannel,
    FilingError,
    FilingRequest,
    cancel_filing,
    change_filing,
    new_filing,
)
from medroam.domain.policy import FilingRules
from medroam.web.fmt import filing_error

CHINA = timezone(timedelta(hours=8))
NOW = datetime(2026, 7, 20, 10, 0, tzinfo=CHINA)
RULES = FilingRules(reductions={})


def _request(filing_id: str, filing_type: FilingType, destination: str) -> FilingRequest:
    return FilingRequest(
        filing_id=filing_id,
        psn_no="P1",
        insured_region="110100",
        filing_type=filing_type,
        destination=destination,
        valid_from=date(2026, 7, 15),
        channel=FilingChannel.COUNTER,
    )


def _refusal(call: object) -> str:
    assert callable(call)
    with pytest.raises(FilingError) as caught:
        call()
    return str(caught.value)


def test_the_change_lock_is_said_with_its_first_free_day() -> None:
    """Long-term from 2026-07-15, lock 6 months: cancellable from 2027-01-15."""
    filing = new_filing(RULES, _request("F1", FilingType.LT_RETIRED, "440100"), NOW)
    message = _refusal(lambda: cancel_filing(RULES, filing, NOW, "x"))
    assert filing_error(message) == (
        "长期备案自 2026-07-15 起须保持 6 个月，2027-01-15 起方可取消（FIL-04）"
    )
    changes = FilingChanges(channel=FilingChannel.PHONE, destination="310100")
    message = _refusal(lambda: change_filing(RULES, filing, changes, NOW))
    assert filing_error(message).endswith("2027-01-15 起方可变更（FIL-04）")


def test_a_second_long_term_filing_and_an_overlap_are_named() -> None:
    first = new_filing(RULES, _request("F1", FilingType.LT_RETIRED, "440100"), NOW)
    message = _refusal(
        lambda: new_filing(RULES, _request("F2", FilingType.LT_WORKER, "310100"), NOW, [first])
    )
    assert filing_error(message) == (
        "已有有效的长期备案 F1（异地长期居住（退休），就医地 440100 广州市），"
        "请变更或取消该备案，不能重复备案"
    )
    temp = new_filing(RULES, _request("T1", FilingType.TMP_OTHER, "440100"), NOW)
    message = _refusal(
        lambda: new_filing(RULES, _request("T2", FilingType.TMP_REFERRAL, "440100"), NOW, [temp])
    )
    assert filing_error(message) == (
        "备案 T1（其他临时外出就医）已覆盖 440100 广州市（2026-07-15 起），新的备案期间与之重叠"
    )


def test_the_place_of_insurance_itself_and_an_unknown_refusal() -> None:
    message = _refusal(
        lambda: new_filing(RULES, _request("F3", FilingType.TMP_OTHER, "110100"), NOW)
    )
    assert filing_error(message) == "就医地不能与参保地相同或相互包含"
    assert filing_error("something new") == "不符合参保地备案规则（something new）"
