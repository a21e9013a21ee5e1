"""Short codes the gateway emits for internal values: 5206 ``cum_type_code`` (C(10)) of
every accumulator key, and 1101 ``psn_idet_type`` of every assistance category."""

from __future__ import annotations

from datetime import date

import pytest

from medroam.domain import accumulators as acc
from medroam.domain.accumulators import cum_type_code
from medroam.domain.codes import AssistanceCategory
from medroam.domain.policy import LayerFund
from medroam.gateway.fields import PSN_IDET_TYPES
from medroam.refdata.chronic import load_chronic_diseases
from medroam.refdata.code_tables import load_code_tables


def every_key() -> list[str]:
    keys = [
        acc.IP_ADMISSIONS, acc.IP_DEDUCTIBLE, acc.POOL_FUND, acc.OP_DEDUCTIBLE, acc.OP_FUND,
        acc.MEDFEE, acc.INSCP, acc.ACCOUNT_PAID, acc.CIVIL_SERVANT_PAID, acc.ASSISTANCE_BASIS,
        acc.ASSISTANCE_PAID,
    ]  # fmt: skip
    for fund in LayerFund:
        keys += [acc.layer_basis_key(fund.value), acc.layer_paid_key(fund.value)]
    for disease in load_chronic_diseases():
        keys.append(acc.chronic_deductible_key(disease.code))
        keys.append(acc.chronic_quota_key(disease.code, date(2026, 3, 1), monthly=False))
        for month in range(1, 13):
            keys.append(acc.chronic_quota_key(disease.code, date(2026, month, 1), monthly=True))
    return keys


def test_every_key_gets_a_distinct_code_of_at_most_ten_characters() -> None:
    keys = every_key()
    codes = [cum_type_code(k) for k in keys]
    assert all(1 <= len(c) <= 10 for c in codes)
    assert len(set(codes)) == len(keys)
    assert not any(c.startswith("X") for c in codes)  # every known key has a readable code


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("ip_deductible", "Q0000"),
        ("ip_admissions", "C0000"),
        ("pool_fund", "F0000"),
        ("op_fund", "F1000"),
        ("layer_paid:hifob", "F3301"),
        ("maf_basis", "B6101"),
        ("chronic_deductible:M03900", "QM03900"),
        ("chronic_fund:M03900:2026", "FM03900"),
        ("chronic_fund:M07801:2026-06", "FM07801-06"),
    ],
)
def test_documented_codes(key: str, code: str) -> None:
    assert cum_type_code(key) == code


def test_a_key_outside_the_scheme_gets_a_stable_hash_code() -> None:
    odd = [
        "regional:some_long_accumulator_name",
        "chronic_fund:MTOOLONG123:2026-06",
        "layer_paid:x",
    ]
    codes = [cum_type_code(k) for k in odd]
    assert all(len(c) == 10 and c.startswith("X") for c in codes)
    assert len(set(codes)) == len(odd)
    assert codes == [cum_type_code(k) for k in odd]


def test_every_assistance_category_has_a_listed_identity_code() -> None:
    tables = load_code_tables()
    assert set(PSN_IDET_TYPES) == set(AssistanceCategory)
    assert len(set(PSN_IDET_TYPES.values())) == len(PSN_IDET_TYPES)
    for code in PSN_IDET_TYPES.values():
        assert tables.has("psn_idet_type", code), code
