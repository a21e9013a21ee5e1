"""Mutual aid through the real gateway over HTTP (SQLite and PostgreSQL):
2201 → 2203 → 2204 → 2207 → 2208 for a beneficiary whose holder lives in a third province.

Hand-worked (SYNTHETIC persons):

* beneficiary P510100000002, 成都 (510100, 四川) retired employee, own account set to
  10.00; holder P110100000009, 北京 (110100) employee, balance 1 000.00, grants 30.00
  (relation parent);
* care at H1 in 深圳 (440305, 广东): 挂号 10.00 (甲) + 奥美拉唑注射 12.50 × 4 (乙) +
  奥美拉唑胶囊 10.00 × 2 (丙) = 80.00; the first outpatient visit of the year is under
  成都's annual outpatient deductible, so the fund pays 0.00 and the personal share is
  80.00; the HIS sends acct_used_flag 2.

    own account   min(10.00, 80.00)          = 10.00
    mutual aid    min(30.00, 80.00 − 10.00)  = 30.00   acct_mulaid_pay
    acct_pay      10.00 + 30.00              = 40.00
    cash          80.00 − 40.00              = 40.00
    holder        1 000.00 − 30.00           = 970.00

2208 gives back 10.00 to the beneficiary, 30.00 to the holder and 0.00 used on the grant.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from medroam.domain.settlement import AccountState
from medroam.services import mutual_aid
from medroam.services.ports import Insurance, InsuredPerson
from medroam.services.uow import unit_of_work
from medroam.store.insured_place import SqlInsuredPlace, register_person
from medroam.store.mutual_aid_tables import MutualAidGrantRow
from medroam.store.tables import AccountRow
from tests.http.conftest import PERSONS, Gateway
from tests.http.test_flows import DRUG_B, DRUG_C, REGISTRATION, fee_line, now_text, ok

pytestmark = pytest.mark.db

BENEFICIARY, CERTNO = PERSONS[1][0], PERSONS[1][2]
HOLDER = "P110100000009"


def _balances(gw: Gateway) -> tuple[int, int, int, int]:
    with unit_of_work(gw.engine) as s:
        b = s.get(AccountRow, BENEFICIARY)
        h = s.get(AccountRow, HOLDER)
        g = s.scalars(select(MutualAidGrantRow)).one()
        assert b is not None and h is not None
        return b.balance, b.mutual_aid_balance, h.balance, g.used


def test_mutual_aid_settles_and_cancels_over_http(flow_gateway: Gateway) -> None:
    gw = flow_gateway
    now = datetime.now(UTC)
    with unit_of_work(gw.engine) as s:
        register_person(
            s,
            InsuredPerson(
                psn_no=HOLDER,
                name="测试共济人",
                cert_type="01",
                cert_no="110105197001013456",
                gender="1",
                birth_date=date(1970, 1, 1),
                insurances=(
                    Insurance(
                        insutype="310",
                        psn_type="1101",
                        status="1",
                        insured_region="110100",
                        begin_date=date(2010, 1, 1),
                    ),
                ),
            ),
            vouchers=[("02", "110105197001013456", None)],
            account=AccountState(balance=100_000),
            now=now,
        )
        s.execute(update(AccountRow).where(AccountRow.psn_no == BENEFICIARY).values(balance=1_000))
    with unit_of_work(gw.engine) as s:
        mutual_aid.grant(
            s,
            SqlInsuredPlace(s),
            now,
            holder=HOLDER,
            beneficiary=BENEFICIARY,
            relation="parent",
            quota=3_000,
        )
    assert _balances(gw) == (1_000, 3_000, 100_000, 0)

    client = gw.client("h1")
    region = "510100"
    ident = {
        "psn_no": BENEFICIARY,
        "insutype": "310",
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": CERTNO,
    }
    mdtrt_id = ok(
        client,
        "2201",
        {"data": {**ident, "begntime": now_text(), "ipt_otp_no": "MZMA" + client.new_msgid()[-8:]}},
        insuplc_admdvs=region,
    )["data"]["mdtrt_id"]
    ok(
        client,
        "2204",
        {
            "feedetail": [
                fee_line("MA1", mdtrt_id, BENEFICIARY, REGISTRATION, "10.00", "1"),
                fee_line("MA2", mdtrt_id, BENEFICIARY, DRUG_B, "12.50", "4"),
                fee_line("MA3", mdtrt_id, BENEFICIARY, DRUG_C, "10.00", "2"),
            ]
        },
        insuplc_admdvs=region,
    )
    data = {
        **ident,
        "mdtrt_id": mdtrt_id,
        "med_type": "11",
        "medfee_sumamt": "80.00",
        "psn_setlway": "01",
        "chrg_bchno": "B1",
        "acct_used_flag": "2",
    }
    s = ok(client, "2207", {"data": data}, insuplc_admdvs=region)["setlinfo"]
    got = {
        k: Decimal(s[k])
        for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
    }
    assert got == {
        "medfee_sumamt": Decimal("80.00"),
        "fund_pay_sumamt": Decimal("0.00"),
        "acct_pay": Decimal("40.00"),
        "acct_mulaid_pay": Decimal("30.00"),
        "psn_cash_pay": Decimal("40.00"),
    }
    assert _balances(gw) == (0, 0, 97_000, 3_000)

    reverse = ok(
        client,
        "2208",
        {"data": {"setl_id": s["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": BENEFICIARY}},
        insuplc_admdvs=region,
    )["setlinfo"]
    assert Decimal(reverse["acct_mulaid_pay"]) == Decimal("-30.00")
    assert _balances(gw) == (1_000, 3_000, 100_000, 0)
