"""More end-to-end flows over real HTTP, on SQLite and PostgreSQL: the cases the service
tests cover and the HTTP tests did not — a chronic-disease outpatient settlement within
its quota, an intra-province stay (with the province setting off and on), an unfiled
cross-province stay, a temporary (referral) filing, concurrent settlements against the
annual cap, 1101 identities and a bad ID number, 5206 short codes, and 2601 refused once
the settlement is in a confirmed clearing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from medroam.client import HisClient
from medroam.domain.catalogue import CatalogueItem
from medroam.domain.clearing.periods import parse_period
from medroam.domain.codes import AssistanceCategory, BenefitStatus
from medroam.domain.identity import check_digit
from medroam.domain.policy import BenefitPolicy
from medroam.domain.province import ProvinceBook, ProvinceSettings
from medroam.domain.settlement import AccountState
from medroam.gateway.settings import CHINA_TZ
from medroam.services import clearing
from medroam.services.ports import Insurance, InsuredPerson
from medroam.services.uow import unit_of_work
from medroam.store import refdata_cache
from medroam.store.insured_place import SqlInsuredPlace, register_person, set_accumulators
from medroam.store.tables import MessageLogRow
from tests.http.conftest import H1, H2, PERSONS, Gateway, _gateway, seed_persons
from tests.http.helpers import WRITABLE
from tests.http.test_flows import check_identities, fee_line, now_text, ok

pytestmark = pytest.mark.db

SHENZHEN_H1 = H1[2]  # 440305, level 3
BEIJING_H2 = H2[2]  # 110105, level 2
CHRONIC = "M03900"  # 高血压


def id_number(region: str, birth: str, seq: str) -> str:
    body = f"{region}{birth}{seq}"
    return body + check_digit(body)


# SYNTHETIC persons of this module: name → (psn_no, ID number, insured region, insutype,
# psn_type, account balance in fen, assistance category).
PEOPLE: dict[str, tuple[str, str, str, str, str, int, AssistanceCategory | None]] = {
    "chronic": ("P510100000101", id_number("510104", "19750301", "011"), "510100", "310", "1101",
                100_000, None),
    "intra": ("P440100000102", id_number("440104", "19780402", "021"), "440100", "310", "1101",
              100_000, None),
    "unfiled": ("P510100000103", id_number("510104", "19800503", "032"), "510100", "390", "1501",
                0, None),
    "referred": ("P440300000104", id_number("440305", "19820604", "041"), "440300", "390",
                 "1501", 0, None),
    "unfiled_sz": ("P440300000105", id_number("440305", "19840705", "052"), "440300", "390",
                   "1501", 0, None),
    "capped": ("P510100000106", id_number("510104", "19760806", "061"), "510100", "310", "1101",
               100_000, None),
    "reversal": ("P510100000107", id_number("510104", "19770907", "071"), "510100", "310",
                 "1101", 100_000, None),
    "assisted": ("P510100000108", id_number("510104", "19861008", "082"), "510100", "390",
                 "1501", 0, AssistanceCategory.MINIMUM_LIVING),
}  # fmt: skip
ASSISTED_SINCE = date(2015, 3, 1)


def seed_more(engine: Engine) -> None:
    now = datetime.now(UTC)
    with unit_of_work(engine) as session:
        for key, (psn_no, certno, region, insutype, psn_type, balance, aid) in PEOPLE.items():
            register_person(
                session,
                InsuredPerson(
                    psn_no=psn_no,
                    name=f"测试{key}",
                    cert_type="01",
                    cert_no=certno,
                    gender="1" if int(certno[16]) % 2 else "2",
                    birth_date=date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14])),
                    insurances=(
                        Insurance(
                            insutype=insutype,
                            psn_type=psn_type,
                            status="1",
                            insured_region=region,
                            begin_date=ASSISTED_SINCE if aid else date(2010, 1, 1),
                            assistance=aid,
                        ),
                    ),
                ),
                vouchers=[("02", certno, None)],
                account=AccountState(balance=balance) if insutype == "310" else None,
                now=now,
            )


@pytest.fixture(scope="module")
def flows(flow_gateway: Gateway) -> Gateway:
    """The module's gateway (packaged province settings: no filing needed for 省内异地)."""
    seed_more(flow_gateway.engine)
    return flow_gateway


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def strict_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    """A gateway whose province settings make 广东 require a filing for 省内异地 care."""
    book = ProvinceBook({"440000": ProvinceSettings("440000", intra_filing_required=True)})
    for gw in _gateway(request.param, tmp_path_factory.mktemp("strict"), request, provinces=book):
        seed_persons(gw.engine)
        seed_more(gw.engine)
        yield gw


# --- helpers --------------------------------------------------------------------------


def today() -> date:
    return datetime.now(CHINA_TZ).date()


def policy_of(gw: Gateway, who: str) -> BenefitPolicy:
    _, _, region, insutype, *_ = PEOPLE[who]
    with unit_of_work(gw.engine) as session:
        return SqlInsuredPlace(session).policy(region, insutype, today())


def class_a_item(gw: Gateway, region: str) -> CatalogueItem:
    """A 甲类 item of the place of treatment's catalogue without price cap or restriction."""
    with Session(gw.engine) as session:
        items = refdata_cache.catalogue_for(session, region).items
    return next(
        item
        for _, item in sorted(items.items())
        if item.level == "01" and item.price_cap is None and not item.restricted
    )


def ratio(text: Any) -> int:
    """An interface ratio (N(5,4)) as ten-thousandths."""
    return int(Decimal(text) * 10000)


def yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def lookup(client: HisClient, certno: str) -> dict[str, Any]:
    return ok(
        client,
        "1101",
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "psn_cert_type": "01",
                "certno": certno,
                "psn_name": "",
            }
        },
        insuplc_admdvs=client.region,
    )


def benefit_check(
    client: HisClient, who: str, med_type: str, dise_codg: str = "", begin: str = ""
) -> dict[str, Any]:
    psn_no, _, region, insutype, *_ = PEOPLE[who]
    out = ok(
        client,
        "2001",
        {
            "data": {
                "psn_no": psn_no,
                "insutype": insutype,
                "fixmedins_code": client.fixmedins_code,
                "med_type": med_type,
                "begntime": begin or now_text(),
                "dise_codg": dise_codg,
            }
        },
        insuplc_admdvs=region,
    )
    row = out["trtinfo"][0]  # the pooled fund
    assert isinstance(row, dict)
    return row


def outpatient(
    client: HisClient,
    who: str,
    item: CatalogueItem,
    price: str,
    cnt: str,
    *,
    med_type: str = "11",
    dise_codg: str = "",
    msgid: str | None = None,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """2201 → 2203 → 2204 → 2207; (mdtrt_id, setlinfo, the 2207 data)."""
    psn_no, certno, region, insutype, *_ = PEOPLE[who]
    mdtrt_id = ok(
        client,
        "2201",
        {
            "data": {
                "psn_no": psn_no,
                "insutype": insutype,
                "begntime": now_text(),
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "ipt_otp_no": "MZ" + client.new_msgid()[-14:],
            }
        },
        insuplc_admdvs=region,
    )["data"]["mdtrt_id"]
    ok(
        client,
        "2203",
        {
            "mdtrtinfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "med_type": med_type,
                "begntime": now_text(),
                "dise_codg": dise_codg,
                "dise_name": "高血压" if dise_codg else "",
            },
            "diseinfo": [
                {
                    "diag_type": "1",
                    "diag_srt_no": "1",
                    "diag_code": "I10.x00",
                    "diag_name": "高血压",
                    "maindiag_flag": "1",
                }
            ],
        },
        insuplc_admdvs=region,
    )
    line = fee_line("L1", mdtrt_id, psn_no, item.code, price, cnt, med_type=med_type)
    ok(client, "2204", {"feedetail": [line]}, insuplc_admdvs=region)
    data = {
        "psn_no": psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "med_type": med_type,
        "medfee_sumamt": line["det_item_fee_sumamt"],
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "B1",
        "insutype": insutype,
        "acct_used_flag": "0",
    }
    setlinfo = ok(client, "2207", {"data": data}, insuplc_admdvs=region, msgid=msgid)["setlinfo"]
    check_identities(setlinfo)
    return mdtrt_id, setlinfo, data


def admit_and_discharge(
    client: HisClient, who: str, item: CatalogueItem, price: str, cnt: str
) -> dict[str, Any]:
    """2401 → 2301 → 2402; the 2304 data of the stay."""
    psn_no, certno, region, insutype, *_ = PEOPLE[who]
    mdtrt_id = ok(
        client,
        "2401",
        {
            "mdtrtinfo": {
                "psn_no": psn_no,
                "insutype": insutype,
                "begntime": now_text(-60 * 24),
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno,
                "med_type": "21",
                "ipt_no": "ZY" + client.new_msgid()[-14:],
                "adm_diag_dscr": "肺炎",
                "dscg_maindiag_code": "J18.900",
                "dscg_maindiag_name": "肺炎",
            },
            "diseinfo": [
                {
                    "psn_no": psn_no,
                    "diag_type": "1",
                    "maindiag_flag": "1",
                    "diag_srt_no": "1",
                    "diag_code": "J18.900",
                    "diag_name": "肺炎",
                }
            ],
        },
        insuplc_admdvs=region,
    )["result"]["mdtrt_id"]
    line = fee_line("I1", mdtrt_id, psn_no, item.code, price, cnt, batch="", med_type="21")
    ok(client, "2301", {"feedetail": [line]}, insuplc_admdvs=region)
    ok(
        client,
        "2402",
        {
            "dscginfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "insutype": insutype,
                "endtime": now_text(),
                "dscg_way": "1",
            }
        },
        insuplc_admdvs=region,
    )
    return {
        "psn_no": psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": certno,
        "medfee_sumamt": line["det_item_fee_sumamt"],
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "insutype": insutype,
        "acct_used_flag": "0",
        "mid_setl_flag": "0",
    }


def pool_payment(setlinfo: dict[str, Any]) -> Decimal:
    """What the pooled fund pays on this bill at its ratio (no cap reached)."""
    base = Decimal(setlinfo["inscp_scp_amt"]) - Decimal(setlinfo["act_pay_dedc"])
    return (base * Decimal(setlinfo["pool_prop_selfpay"])).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def settlement_info(client: HisClient, setlinfo: dict[str, Any], psn_no: str) -> dict[str, Any]:
    out = ok(
        client,
        "5203",
        {
            "data": {
                "psn_no": psn_no,
                "setl_id": setlinfo["setl_id"],
                "mdtrt_id": setlinfo["mdtrt_id"],
            }
        },
    )
    info = out["setlinfo"]
    assert isinstance(info, dict)
    return info


BUSINESS = ("settlements", "settlement_details", "ledger_postings", "accumulators", "accounts")


# --- chronic disease ------------------------------------------------------------------------


def test_chronic_disease_outpatient_settles_within_its_quota(flows: Gateway) -> None:
    client = flows.client("h1")
    psn_no, certno, region, *_ = PEOPLE["chronic"]
    assert lookup(client, certno)["baseinfo"]["psn_no"] == psn_no
    # not qualified yet: 2001 says why
    row = benefit_check(client, "chronic", "14", CHRONIC)
    assert row["trt_enjymnt_flag"] == "0" and "not qualified" in row["trt_chk_rslt"]
    # the hospital files the qualification (2503), then the check passes
    ok(
        client,
        "2503",
        {
            "data": {
                "psn_no": psn_no,
                "insutype": "310",
                "opsp_dise_code": CHRONIC,
                "opsp_dise_name": "高血压",
                "insu_optins": region,
                "ide_fixmedins_no": H1[0],
                "ide_fixmedins_name": H1[1],
                "hosp_ide_date": str(today()),
                "diag_dr_codg": "DR01",
                "diag_dr_name": "医生甲",
                "begndate": str(today()),
                "enddate": str(today() + timedelta(days=365)),
            }
        },
    )
    row = benefit_check(client, "chronic", "14", CHRONIC)
    assert row["trt_enjymnt_flag"] == "1" and row["trt_chk_rslt"] == ""

    terms = policy_of(flows, "chronic").chronic
    assert terms is not None
    quota = terms.diseases[CHRONIC].quota
    assert quota is not None
    item = class_a_item(flows, SHENZHEN_H1)
    # a bill whose pooled share at the ratio would exceed the disease's quota
    _, first, _ = outpatient(
        client, "chronic", item, "100.00", "120", med_type="14", dise_codg=CHRONIC
    )
    assert Decimal(first["medfee_sumamt"]) == Decimal("12000.00")
    assert pool_payment(first) > yuan(quota)  # uncapped, it would pay more
    assert Decimal(first["hifp_pay"]) == yuan(quota)  # the quota is respected
    assert Decimal(first["act_pay_dedc"]) == yuan(terms.diseases[CHRONIC].annual_deductible)
    assert settlement_info(client, first, psn_no)["med_type"] == "14"
    # the quota is used up: a second visit gets nothing from the pooled fund
    _, second, _ = outpatient(
        client, "chronic", item, "100.00", "3", med_type="14", dise_codg=CHRONIC
    )
    assert Decimal(second["hifp_pay"]) == 0 and Decimal(second["act_pay_dedc"]) == 0

    # 5206: the accumulators under their short codes, the full key alongside
    cum = ok(client, "5206", {"data": {"psn_no": psn_no, "cum_ym": today().strftime("%Y%m")}})
    rows = {r["cum_type_code"]: r for r in cum["cuminfo"]}
    assert all(len(code) <= 10 for code in rows)
    year = today().year
    assert rows["FM03900"]["cum_type_name"] == f"chronic_fund:{CHRONIC}:{year}"
    assert Decimal(rows["FM03900"]["cum"]) == yuan(quota)
    assert rows["QM03900"]["cum_type_name"] == f"chronic_deductible:{CHRONIC}"
    assert Decimal(rows["QM03900"]["cum"]) == Decimal(first["act_pay_dedc"])
    assert Decimal(rows["T0000"]["cum"]) == Decimal("12300.00")  # medfee of both visits
    assert len({r["cum_type_name"] for r in cum["cuminfo"]}) == len(rows)


# --- intra-province, unfiled, temporary filing ------------------------------------------------


def test_intra_province_stay_settles_as_unfiled_when_no_filing_is_needed(flows: Gateway) -> None:
    client = flows.client("h1")
    psn_no, *_ = PEOPLE["intra"]
    assert benefit_check(client, "intra", "21")["trt_enjymnt_flag"] == "1"
    data = admit_and_discharge(client, "intra", class_a_item(flows, SHENZHEN_H1), "500.00", "20")
    setlinfo = ok(client, "2304", {"data": data}, insuplc_admdvs="440100")["setlinfo"]
    check_identities(setlinfo)
    policy = policy_of(flows, "intra")
    expected = policy.inpatient.terms(H1[3]).ratio - policy.filing.reduction(BenefitStatus.UNFILED)
    assert ratio(setlinfo["pool_prop_selfpay"]) == expected
    assert Decimal(setlinfo["hifp_pay"]) == pool_payment(setlinfo) > 0
    assert setlinfo["clr_optins"] == SHENZHEN_H1
    info = settlement_info(client, setlinfo, psn_no)
    assert info["pay_loc"] == "3"  # 省内异地
    assert info["insu_optins"] == "440100" and info["fixmedins_poolarea"] == SHENZHEN_H1


def test_intra_province_stay_needs_a_filing_where_the_province_says_so(
    strict_gateway: Gateway,
) -> None:
    gw = strict_gateway
    client = gw.client("h1")
    psn_no, *_ = PEOPLE["intra"]
    row = benefit_check(client, "intra", "21")
    assert row["trt_enjymnt_flag"] == "0"
    assert row["trt_chk_rslt"].startswith("province 440000 requires a filing (备案)")
    # emergency care is treated as filed (FIL-07)
    assert benefit_check(client, "intra", "13")["trt_enjymnt_flag"] == "1"
    # a cross-province person is unaffected by 广东's setting
    assert benefit_check(client, "unfiled", "21")["trt_enjymnt_flag"] == "1"

    data = admit_and_discharge(client, "intra", class_a_item(gw, SHENZHEN_H1), "500.00", "20")
    before = gw.counts(*BUSINESS)
    doc = client.call("2304", {"data": data}, insuplc_admdvs="440100")
    assert doc["infcode"] == -1 and doc["output"] is None
    assert doc["err_msg"] == (
        "province 440000 requires a filing (备案) for intra-province care (省内异地就医需备案): "
        f"none covers {SHENZHEN_H1}; file before the discharge settlement (emergency care "
        "counts as filed)"
    )
    assert gw.counts(*BUSINESS) == before

    # the hospital files a referral into 深圳 before the discharge settlement (FIL-08)
    referral = {
        "psn_no": psn_no, "insutype": "310", "diag_code": "J18.900", "diag_name": "肺炎",
        "dise_cond_dscr": "需住院", "reflin_medins_no": H1[0], "reflin_medins_name": H1[1],
        "mdtrtarea_admdvs": "440300", "hosp_agre_refl_flag": "1", "refl_type": "1",
        "refl_date": str(today()), "refl_rea": "病情需要", "refl_opnn": "同意",
        "begndate": str(today()), "enddate": "",
    }  # fmt: skip
    ok(client, "2501", {"refmedin": referral}, insuplc_admdvs="440100")
    setlinfo = ok(client, "2304", {"data": data}, insuplc_admdvs="440100")["setlinfo"]
    policy = policy_of(gw, "intra")
    expected = policy.inpatient.terms(H1[3]).ratio - policy.filing.reduction(BenefitStatus.REFERRAL)
    assert ratio(setlinfo["pool_prop_selfpay"]) == expected
    assert settlement_info(client, setlinfo, psn_no)["pay_loc"] == "3"


def test_unfiled_cross_province_stay_gets_the_reduced_ratio(flows: Gateway) -> None:
    client = flows.client("h1")
    data = admit_and_discharge(client, "unfiled", class_a_item(flows, SHENZHEN_H1), "400.00", "10")
    setlinfo = ok(client, "2304", {"data": data}, insuplc_admdvs="510100")["setlinfo"]
    check_identities(setlinfo)
    policy = policy_of(flows, "unfiled")
    base = policy.inpatient.terms(H1[3]).ratio
    reduction = policy.filing.reduction(BenefitStatus.UNFILED)
    assert reduction > 0
    assert ratio(setlinfo["pool_prop_selfpay"]) == base - reduction
    assert Decimal(setlinfo["hifp_pay"]) == pool_payment(setlinfo) > 0
    assert settlement_info(client, setlinfo, PEOPLE["unfiled"][0])["pay_loc"] == "4"


def test_temporary_referral_filing_sets_the_ratio(flows: Gateway) -> None:
    h1, h2 = flows.client("h1"), flows.client("h2")
    psn_no, *_ = PEOPLE["referred"]
    # H1 (深圳) refers the patient to 北京 (2501, refl_type 3): a TMP_REFERRAL filing
    referral = {
        "psn_no": psn_no, "insutype": "", "diag_code": "C34.900", "diag_name": "肺恶性肿瘤",
        "dise_cond_dscr": "需上级医院诊治", "reflin_medins_no": H2[0],
        "reflin_medins_name": H2[1], "mdtrtarea_admdvs": BEIJING_H2,
        "hosp_agre_refl_flag": "1", "refl_type": "3", "refl_date": str(today()),
        "refl_rea": "病情需要", "refl_opnn": "同意转院", "begndate": str(today()), "enddate": "",
    }  # fmt: skip
    ok(h1, "2501", {"refmedin": referral})
    item = class_a_item(flows, BEIJING_H2)
    ratios = {}
    for who in ("referred", "unfiled_sz"):
        assert benefit_check(h2, who, "21")["trt_enjymnt_flag"] == "1"
        data = admit_and_discharge(h2, who, item, "300.00", "10")
        # the stay began before the filing: it counts, being filed before discharge (FIL-08)
        setlinfo = ok(h2, "2304", {"data": data}, insuplc_admdvs="440300")["setlinfo"]
        check_identities(setlinfo)
        assert Decimal(setlinfo["hifp_pay"]) == pool_payment(setlinfo)
        ratios[who] = ratio(setlinfo["pool_prop_selfpay"])
    policy = policy_of(flows, "referred")
    base = policy.inpatient.terms(H2[3]).ratio
    assert ratios["referred"] == base - policy.filing.reduction(BenefitStatus.REFERRAL)
    assert ratios["unfiled_sz"] == base - policy.filing.reduction(BenefitStatus.UNFILED)
    assert ratios["referred"] > ratios["unfiled_sz"]


# --- concurrency against the annual cap ---------------------------------------------------------

THREADS = 4
REMAINING = 1_500_000  # fen left under the annual cap: 15,000.00


def test_concurrent_settlements_never_exceed_the_remaining_cap(flows: Gateway) -> None:
    client = flows.client("h1")
    psn_no, _, region, insutype, *_ = PEOPLE["capped"]
    cap = policy_of(flows, "capped").inpatient.annual_cap
    assert cap is not None
    item = class_a_item(flows, SHENZHEN_H1)
    stays = [admit_and_discharge(client, "capped", item, "1000.00", "40") for _ in range(THREADS)]
    year = today().year
    with unit_of_work(flows.engine) as session:
        set_accumulators(
            session, psn_no, insutype, year, {"pool_fund": cap - REMAINING}, now=datetime.now(UTC)
        )

    barrier = threading.Barrier(THREADS)
    answers: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def settle(i: int, data: dict[str, Any]) -> None:
        code, name, hosp_region = H1[0], H1[1], H1[2]
        with HisClient(
            flows.base_url,
            code,
            name,
            hosp_region,
            scheme="tif",
            key_id="paas-h1",
            secret="token-h1",
        ) as own:
            msgid = f"{code}{datetime.now(CHINA_TZ):%Y%m%d%H%M%S}{9100 + i:04d}"
            try:
                barrier.wait(timeout=30)
                answers[i] = own.call("2304", {"data": data}, insuplc_admdvs=region, msgid=msgid)
            except BaseException as exc:  # reported to the test thread
                errors.append(exc)

    threads = [threading.Thread(target=settle, args=(i, d)) for i, d in enumerate(stays)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(answers) == list(range(THREADS))  # every request was answered
    assert all(a["infcode"] == 0 for a in answers.values()), [
        a["err_msg"] for a in answers.values()
    ]
    paid = [Decimal(a["output"]["setlinfo"]["hifp_pay"]) for a in answers.values()]
    # each bill alone would take more than what is left; together they take exactly that
    assert all(pool_payment(a["output"]["setlinfo"]) > yuan(REMAINING) for a in answers.values())
    assert sum(paid) == yuan(REMAINING)
    assert min(paid) == 0
    cum = ok(client, "5206", {"data": {"psn_no": psn_no}})["cuminfo"]
    rows = {r["cum_type_code"]: r for r in cum}
    assert Decimal(rows["F0000"]["cum"]) == yuan(cap)
    assert rows["F0000"]["cum_type_name"] == "pool_fund"
    assert Decimal(rows["C0000"]["cum"]) == THREADS  # admissions this year


# --- 1101 ----------------------------------------------------------------------------------------


def test_1101_answers_special_identities(flows: Gateway) -> None:
    client = flows.client("h1")
    out = lookup(client, PEOPLE["assisted"][1])
    assert out["idetinfo"] == [
        {
            "psn_idet_type": "2302",
            "psn_type_lv": "",
            "memo": "医疗救助对象 (assistance category dibao)",
            "begntime": f"{ASSISTED_SINCE.isoformat()} 00:00:00",
            "endtime": "",
        }
    ]
    assert lookup(client, PEOPLE["unfiled"][1])["idetinfo"] == []
    # the code is listed in the psn_idet_type dictionary (1901)
    listed = ok(
        client,
        "1901",
        {
            "data": {
                "type": "psn_idet_type",
                "admdvs": SHENZHEN_H1,
                "date": str(today()),
                "vali_flag": "1",
            }
        },
    )["list"]
    assert {r["value"]: r["label"] for r in listed}["2302"] == "低保对象"


def test_1101_with_a_wrong_check_digit_is_refused_and_writes_nothing(flows: Gateway) -> None:
    client = flows.client("h1_csb")
    good = PERSONS[0][2]
    bad = good[:17] + ("7" if good[17] != "7" else "8")
    # A refusal writes nothing but the spent CSB signature (one per request: a replay of
    # the same header set is refused, refused request or not).
    tables = (*WRITABLE, "persons", "person_vouchers", "insurances", "accumulators")
    before = flows.counts(*tables)
    doc = client.call(
        "1101",
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": bad,
                "psn_cert_type": "01",
                "certno": "",
                "psn_name": "",
            }
        },
    )
    assert doc["infcode"] == -1 and doc["output"] is None
    assert doc["err_msg"] == (
        f"input.data.mdtrt_cert_no: {bad!r} is not a valid resident ID number (居民身份证号码): "
        f"check digit is {bad[17]}, expected {good[17]}"
    )
    doc = client.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": good[:17]}})
    assert doc["err_msg"] == (
        f"input.data.mdtrt_cert_no: {good[:17]!r} is not a valid resident ID number "
        "(居民身份证号码): ID number must be 18 characters, got 17"
    )
    after = flows.counts(*tables)
    assert after["gateway_nonces"] == before["gateway_nonces"] + 2
    assert {**after, "gateway_nonces": 0} == {**before, "gateway_nonces": 0}
    # the same number with its right check digit is found
    assert lookup(client, good)["baseinfo"]["psn_no"] == PERSONS[0][0]


# --- 2601 after a confirmed clearing ---------------------------------------------------------


def _message_reversed(gw: Gateway, msgid: str) -> bool:
    with gw.engine.connect() as c:
        return bool(
            c.execute(
                select(MessageLogRow.reversed).where(MessageLogRow.msgid == msgid)
            ).scalar_one()
        )


def test_2601_is_refused_once_the_settlement_is_in_a_confirmed_clearing(flows: Gateway) -> None:
    client = flows.client("h1")
    psn_no, *_ = PEOPLE["reversal"]
    item = class_a_item(flows, SHENZHEN_H1)
    settle_msgid = client.new_msgid()
    mdtrt_id, setlinfo, _ = outpatient(client, "reversal", item, "50.00", "2", msgid=settle_msgid)
    setl_id = setlinfo["setl_id"]
    label = today().strftime("%Y-%m")
    period = parse_period("monthly", label)
    clearing.propose(flows.engine, period, now=datetime.now(UTC))
    # proposed only: a reversal would still be allowed; confirmed: it is refused
    assert clearing.confirm(flows.engine, now=datetime.now(UTC), setl_ids=[setl_id]) == 1
    reverse = {"data": {"psn_no": psn_no, "omsgid": settle_msgid, "oinfno": "2207"}}

    before = flows.counts(*BUSINESS, "clearing_items", "message_log")
    doc = client.call("2601", reverse)
    assert doc["infcode"] == -1
    assert doc["err_msg"] == (
        f"setl_id {setl_id} is in a confirmed clearing (period {label}): 2601 refused; "
        "cancel it with 2208 instead (nets in a later period)"
    )
    after = flows.counts(*BUSINESS, "clearing_items", "message_log")
    assert after == {**before, "message_log": before["message_log"] + 1}  # the refusal, logged
    assert not _message_reversed(flows, settle_msgid)

    # cleared by a run: still refused, and the run is named
    first_of_next = (today().replace(day=1) + timedelta(days=32)).replace(day=1)
    run = clearing.clear(flows.engine, "monthly", label, as_of=first_of_next, now=datetime.now(UTC))
    doc = client.call("2601", reverse)
    assert doc["err_msg"] == (
        f"setl_id {setl_id} is in a confirmed clearing (period {label}, run {run.run_id}): "
        "2601 refused; cancel it with 2208 instead (nets in a later period)"
    )

    # a cancellation after clearing is allowed: its reverse record nets in a later period
    cancel_msgid = client.new_msgid()
    rev = ok(
        client,
        "2208",
        {"data": {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": psn_no}},
        msgid=cancel_msgid,
    )["setlinfo"]
    assert Decimal(rev["medfee_sumamt"]) == -Decimal(setlinfo["medfee_sumamt"])
    clearing.propose(flows.engine, period, now=datetime.now(UTC))
    assert clearing.confirm(flows.engine, now=datetime.now(UTC), setl_ids=[rev["setl_id"]]) == 1
    # … and once that reverse record is confirmed, the cancellation cannot be reversed either
    before = flows.counts(*BUSINESS)
    doc = client.call(
        "2601", {"data": {"psn_no": psn_no, "omsgid": cancel_msgid, "oinfno": "2208"}}
    )
    assert doc["infcode"] == -1
    assert doc["err_msg"] == (
        f"setl_id {rev['setl_id']}, this cancellation's reverse record, is in a confirmed "
        f"clearing (period {label}): 2601 refused; settle the bill again instead"
    )
    assert flows.counts(*BUSINESS) == before
    assert not _message_reversed(flows, cancel_msgid)


def test_2601_before_confirmation_still_reverses(flows: Gateway) -> None:
    client = flows.client("h1")
    psn_no, *_ = PEOPLE["reversal"]
    msgid = client.new_msgid()
    _, setlinfo, _ = outpatient(
        client, "reversal", class_a_item(flows, SHENZHEN_H1), "20.00", "1", msgid=msgid
    )
    label = today().strftime("%Y-%m")
    clearing.propose(flows.engine, parse_period("monthly", label), now=datetime.now(UTC))
    before = flows.count("settlements")
    ok(client, "2601", {"data": {"psn_no": psn_no, "omsgid": msgid, "oinfno": "2207"}})
    assert flows.count("settlements") == before + 1  # the reverse record
    assert _message_reversed(flows, msgid)
    assert setlinfo["setl_id"]
