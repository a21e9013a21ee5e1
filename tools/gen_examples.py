"""Write the shipped example cases of ``medroam calc`` (src/medroam/data/examples/).

The cases are hand-designed scenarios over the packaged synthetic catalogue: every fee
line takes its code from the catalogue's stable anchors, so the files stay valid when
the catalogue is regenerated. Run: ``python tools/gen_examples.py``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from medroam.domain.identity import check_digit

OUT = Path(__file__).resolve().parents[1] / "src" / "medroam" / "data" / "examples"


def idno(prefix: str, birth: str, seq: str) -> str:
    first17 = prefix + birth.replace("-", "") + seq
    return first17 + check_digit(first17)


def line(sn: int, code: str, price: str, qty: str, **extra: str) -> dict[str, Any]:
    amount = (Decimal(price) * Decimal(qty)).quantize(Decimal("0.01"))
    row = {
        "feedetl_sn": str(sn),
        "med_list_codg": code,
        "medins_list_codg": f"HIS-{code[-6:]}",
        "det_item_fee_sumamt": str(amount),
        "cnt": qty,
        "pric": price,
        "hosp_appr_flag": "0",
    }
    row.update(extra)
    return row


def person(
    psn_no: str,
    name: str,
    certno: str,
    gend: str,
    brdy: str,
    insutype: str,
    psn_type: str,
    region: str,
    **extra: Any,
) -> dict[str, Any]:
    p: dict[str, Any] = {
        "psn_no": psn_no,
        "psn_name": name,
        "psn_cert_type": "01",
        "certno": certno,
        "gend": gend,
        "brdy": brdy,
        "insutype": insutype,
        "psn_type": psn_type,
        "insuplc_admdvs": region,
        "cvlserv_flag": "0",
        "assistance_category": None,
        "opsp_dise_codes": [],
        "balc": "0.00",
        "mulaid_balc": "0.00",
    }
    p.update(extra)
    return p


def inpatient_bill(days: int, extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lines = [
        line(1, "001109000010000", "50.00", str(days)),  # 床位费 三人间
        line(2, "001202000020000", "30.00", str(days)),  # 一级护理
        line(3, "001204000010000", "6.00", str(days * 2)),  # 静脉输液
        line(4, "002501000010000", "20.00", "3"),  # 血常规
        line(5, "C0101010010010010001", "3.50", str(days * 2)),  # 输液器
    ]
    for i, row in enumerate(extra, start=len(lines) + 1):
        row = dict(row)
        row["feedetl_sn"] = str(i)
        lines.append(row)
    return lines


CASES: dict[str, dict[str, Any]] = {
    "employee-inpatient-long-term.json": {
        "description": "退休职工 insured in 呼伦贝尔, resettled in 北京 (LT_RETIRED): "
        "coronary stent at a tertiary hospital, personal account used",
        "person": person(
            "P150700000001",
            "王秀英",
            idno("150702", "1956-05-12", "002"),
            "2",
            "1956-05-12",
            "310",
            "1201",
            "150700",
            balc="3000.00",
        ),
        "filings": [
            {
                "filing_type": "LT_RETIRED",
                "destination": "110100",
                "valid_from": "2025-06-01",
                "valid_to": None,
            }
        ],
        "visit": {
            "mdtrt_id": "MD110100000001",
            "med_type": "21",
            "fixmedins_code": "H11010500001",
            "fixmedins_name": "北京示例三级医院",
            "hosp_lv": "3",
            "mdtrtarea_admvs": "110100",
            "begntime": "2026-10-08 09:00:00",
            "setl_time": "2026-10-15 10:00:00",
            "acct_used_flag": "1",
            "mid_setl_flag": "0",
            "exp_content": {"IPT_TYPE": "1"},
        },
        "cuminfo": {},
        "feedetail": inpatient_bill(
            7,
            [
                line(0, "002103000130000", "366.00", "1"),  # CT 冠状动脉 (乙 10 %)
                line(0, "C0302010010010010001", "750.00", "2"),  # 冠脉支架 (乙 20 %)
                line(0, "XC08CAE001A001010190001", "0.084", "28"),  # 氨氯地平
                line(0, "001109000090000", "600.00", "2"),  # 特需病房 (丙)
            ],
        ),
    },
    "resident-inpatient-referral-critical.json": {
        "description": "居民 insured in 大理, referred (TMP_REFERRAL) to 成都 for a hip "
        "replacement and a long stay: through the 大病 tiers",
        "person": person(
            "P532900000001",
            "杨建国",
            idno("532901", "1961-02-03", "011"),
            "1",
            "1961-02-03",
            "390",
            "1501",
            "532900",
        ),
        "filings": [
            {
                "filing_type": "TMP_REFERRAL",
                "destination": "510100",
                "valid_from": "2026-08-20",
                "valid_to": "2027-02-19",
            }
        ],
        "visit": {
            "mdtrt_id": "MD510100000001",
            "med_type": "21",
            "fixmedins_code": "H51010700001",
            "fixmedins_name": "成都示例三级医院",
            "hosp_lv": "3",
            "mdtrtarea_admvs": "510100",
            "begntime": "2026-09-01 08:30:00",
            "setl_time": "2026-10-20 11:00:00",
            "acct_used_flag": "0",
            "mid_setl_flag": "0",
        },
        "cuminfo": {"pool_fund": "32000.00", "ip_admissions": 1, "layer_basis:hifmi": "9000.00"},
        "feedetail": inpatient_bill(
            49,
            [
                line(0, "003315000010000", "4000.00", "1"),  # 人工全髋关节置换术
                line(0, "C0601010010020010001", "7200.00", "1"),  # 髋关节假体 (over cap 7,000)
                line(0, "XB05AAE167A090010190001", "380.00", "60", hosp_appr_flag="1"),  # 白蛋白
                line(0, "002105000070000", "1210.00", "2"),  # 磁共振(髋关节)
                line(0, "XB03XAE154A090010190001", "25.00", "400"),  # 促红素
            ],
        ),
    },
    "employee-outpatient-temporary.json": {
        "description": "在职职工 insured in 长沙, temporarily in 深圳 (TMP_OTHER): general "
        "outpatient visit, annual outpatient deductible partly used",
        "person": person(
            "P430100000001",
            "李娜",
            idno("430102", "1990-07-21", "044"),
            "2",
            "1990-07-21",
            "310",
            "1101",
            "430100",
            balc="800.00",
        ),
        "filings": [
            {
                "filing_type": "TMP_OTHER",
                "destination": "440300",
                "valid_from": "2026-07-01",
                "valid_to": "2026-12-31",
            }
        ],
        "visit": {
            "mdtrt_id": "MD440300000001",
            "med_type": "11",
            "fixmedins_code": "H44030400001",
            "fixmedins_name": "深圳示例二级医院",
            "hosp_lv": "2",
            "mdtrtarea_admvs": "440300",
            "begntime": "2026-10-12 14:00:00",
            "setl_time": "2026-10-12 15:10:00",
            "acct_used_flag": "1",
        },
        "cuminfo": {"op_deductible": "300.00"},
        "feedetail": [
            line(1, "001102000010000", "20.00", "1"),  # 诊查费
            line(2, "002501000010000", "20.00", "1"),  # 血常规
            line(3, "002103000020000", "165.00", "1"),  # CT 胸部
            line(4, "XJ01DDE067A004010190001", "5.00", "6"),  # 头孢曲松
            line(5, "001204000010000", "6.00", "3"),  # 静脉输液
            line(6, "T02001101001", "300.00", "1"),  # 冬虫夏草 (丙)
        ],
    },
    "resident-dialysis-monthly-quota.json": {
        "description": "居民 insured in 郑州 living in 上海 (LT_RESIDENT): haemodialysis "
        "against the monthly dialysis quota",
        "person": person(
            "P410100000001",
            "张伟",
            idno("410102", "1968-11-30", "017"),
            "1",
            "1968-11-30",
            "390",
            "1501",
            "410100",
            opsp_dise_codes=["M07801"],
        ),
        "filings": [
            {
                "filing_type": "LT_RESIDENT",
                "destination": "310100",
                "valid_from": "2024-03-01",
                "valid_to": None,
            }
        ],
        "visit": {
            "mdtrt_id": "MD310100000001",
            "med_type": "14",
            "dise_codg": "M07801",
            "fixmedins_code": "H31010400001",
            "fixmedins_name": "上海示例三级医院",
            "hosp_lv": "3",
            "mdtrtarea_admvs": "310100",
            "begntime": "2026-10-26 08:00:00",
            "setl_time": "2026-10-26 12:00:00",
            "acct_used_flag": "0",
        },
        "cuminfo": {"chronic_fund:M07801:2026-10": "4200.00"},
        "feedetail": [
            line(1, "003112010010000", "400.00", "3"),  # 血液透析
            line(2, "C0701010010020020001", "120.00", "3"),  # 透析器
            line(3, "XB03XAE154A090010190001", "25.00", "6"),  # 促红素
        ],
    },
    "employee-emergency-unfiled.json": {
        "description": "在职职工 insured in 南京, taken ill while travelling in 杭州: "
        "emergency admission without a filing (视同备案)",
        "person": person(
            "P320100000001",
            "陈磊",
            idno("320102", "1985-03-14", "031"),
            "1",
            "1985-03-14",
            "310",
            "1101",
            "320100",
            balc="1200.00",
        ),
        "filings": [],
        "visit": {
            "mdtrt_id": "MD330100000001",
            "med_type": "21",
            "fixmedins_code": "H33010200001",
            "fixmedins_name": "杭州示例三级医院",
            "hosp_lv": "3",
            "mdtrtarea_admvs": "330100",
            "begntime": "2026-10-03 22:40:00",
            "setl_time": "2026-10-09 09:30:00",
            "acct_used_flag": "1",
            "exp_content": {"IPT_TYPE": "2"},
        },
        "cuminfo": {},
        "feedetail": inpatient_bill(
            6,
            [
                line(0, "003310040020000", "1500.00", "1"),  # 腹腔镜阑尾切除术
                line(0, "XJ01DDE067A004010190001", "5.00", "12"),
            ],
        ),
    },
    "resident-assistance-dibao.json": {
        "description": "低保 resident insured in 兰州, referred to 西安 (TMP_REFERRAL): "
        "medical assistance after insurance",
        "person": person(
            "P620100000001",
            "马桂兰",
            idno("620102", "1958-09-09", "028"),
            "2",
            "1958-09-09",
            "390",
            "1501",
            "620100",
            assistance_category="dibao",
        ),
        "filings": [
            {
                "filing_type": "TMP_REFERRAL",
                "destination": "610100",
                "valid_from": "2026-10-01",
                "valid_to": "2027-03-31",
            }
        ],
        "visit": {
            "mdtrt_id": "MD610100000001",
            "med_type": "21",
            "fixmedins_code": "H61011300001",
            "fixmedins_name": "西安示例三级医院",
            "hosp_lv": "3",
            "mdtrtarea_admvs": "610100",
            "begntime": "2026-10-05 10:00:00",
            "setl_time": "2026-10-16 10:00:00",
            "acct_used_flag": "0",
        },
        "cuminfo": {},
        "feedetail": inpatient_bill(
            11,
            [
                line(0, "XL01XAE176A004010190001", "280.00", "6"),  # 奥沙利铂
                line(0, "002300000010000", "7000.00", "1", hosp_appr_flag="1"),  # PET/CT
            ],
        ),
    },
    "employee-intra-province-unfiled.json": {
        "description": "在职职工 insured in 广州, treated in 深圳 without a filing "
        "(intra-province cross-region, unfiled reduction)",
        "person": person(
            "P440100000001",
            "黄志强",
            idno("440104", "1979-12-01", "053"),
            "1",
            "1979-12-01",
            "310",
            "1101",
            "440100",
            balc="5000.00",
        ),
        "filings": [],
        "visit": {
            "mdtrt_id": "MD440300000002",
            "med_type": "21",
            "fixmedins_code": "H44030400001",
            "fixmedins_name": "深圳示例二级医院",
            "hosp_lv": "2",
            "mdtrtarea_admvs": "440300",
            "begntime": "2026-10-10 09:00:00",
            "setl_time": "2026-10-14 16:00:00",
            "acct_used_flag": "1",
        },
        "cuminfo": {},
        "feedetail": inpatient_bill(4, [line(0, "003310040010000", "900.00", "1")]),
    },
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, case in CASES.items():
        text = json.dumps(case, ensure_ascii=False, indent=2) + "\n"
        (OUT / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(CASES)} cases to {OUT}")


if __name__ == "__main__":
    main()
