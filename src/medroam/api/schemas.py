"""Request and response bodies of the agency API (JSON; field names as the interface's
where one exists: ``psn_no``, ``certno``, ``insuplc_admdvs``, ``fixmedins_code`` …).

Amounts are decimal strings in yuan (``"1234.50"``), ratios decimal strings
(``"0.8500"``), dates ``YYYY-MM-DD``, times ISO 8601 with offset. Free text refuses
control characters; every string has a maximum length.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from medroam.domain.codes import FilingType
from medroam.domain.filing import FilingChannel

_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


def text(max_length: int, min_length: int = 0) -> Any:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=_PRINTABLE)


RegionCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
PsnNo = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,30}$")]
FilingId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,40}$")]
InstitutionCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9]{11}$")]
Yuan = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$")]
Insutype = Literal["310", "390"]
# Business dates: bounded, so that date arithmetic (validity windows, day ranges) stays in
# the calendar.
# Only a YYYY-MM-DD string (or a date) is a date: pydantic's lax mode would read a number
# as a Unix timestamp (``valid_from: 0`` → 1970-01-01).
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_day(value: object) -> object:
    """Refuse anything but a YYYY-MM-DD string or a date (None passes, for optional
    query parameters)."""
    if value is None:
        return value
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        return value
    raise ValueError(f"must be a date written YYYY-MM-DD (e.g. 2026-12-01), got {value!r}")


Day = Annotated[date, BeforeValidator(iso_day), Field(ge=date(1900, 1, 1), le=date(2199, 12, 31))]

CHINA_TZ = timezone(timedelta(hours=8))


def china_iso(moment: datetime) -> str:
    """A stored moment (naive values are UTC) written in China time with its offset, e.g.
    ``2026-10-03T10:00:00+08:00``: the API says what the console and the CLI say."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(CHINA_TZ).isoformat(timespec="seconds")


# Moments in answers: China time (UTC+8) with the offset written out.
ChinaTime = Annotated[
    datetime,
    PlainSerializer(china_iso, return_type=str),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "example": "2026-10-03T10:00:00+08:00"}
    ),
]
Assistance = Literal["tekun", "dibao", "dibao_edge", "fanpin"]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int = Field(description="How many items match in all.")
    limit: int
    offset: int


# --- persons -----------------------------------------------------------------------------


class PersonCreate(BaseModel):
    """A new insured person (参保登记) with one insurance and their vouchers."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "psn_name": "张三",
                    "certno": "11010519491231002X",
                    "insuplc_admdvs": "110100",
                    "insutype": "310",
                    "psn_type": "1201",
                    "emp_name": "北京某某有限公司",
                    "balc": "5000.00",
                    "e_voucher": "EC1101000000000000000000000000000001",
                    "card_no": "110100Z0001001",
                    "card_sn": "110100D156000000000000000000000A",
                }
            ]
        },
    )

    psn_no: PsnNo | None = Field(
        default=None, description="人员编号; generated from the region when absent."
    )
    psn_name: Annotated[str, text(50, 1)] = Field(description="人员姓名")
    psn_cert_type: Literal["01"] = Field(default="01", description="01 居民身份证")
    certno: Annotated[str, StringConstraints(pattern=r"^[0-9]{17}[0-9Xx]$")] = Field(
        description="18-character ID number; its check digit, birth date and gender digit "
        "are verified."
    )
    gend: Literal["1", "2"] | None = Field(
        default=None, description="1 男, 2 女; must agree with the ID number (derived if absent)."
    )
    brdy: Day | None = Field(
        default=None, description="出生日期; must agree with the ID number (derived if absent)."
    )
    naty: Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")] | None = Field(
        default=None, description="民族 (GB 3304), e.g. 01 汉族"
    )
    phone: Annotated[str, text(50)] | None = None
    address: Annotated[str, text(200)] | None = None
    insuplc_admdvs: RegionCode = Field(description="参保地: the pooling region.")
    insutype: Insutype = Field(description="310 职工, 390 居民")
    psn_type: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] = Field(
        description="人员类别: 1101/1102/1103/1201/1202/1203/1300 for 310, 1401–1405/1501 for 390"
    )
    emp_name: Annotated[str, text(200)] | None = Field(default=None, description="单位名称")
    psn_insu_date: Day | None = Field(default=None, description="个人参保日期")
    assistance: Assistance | None = Field(
        default=None,
        description="医疗救助对象: tekun 特困, dibao 低保, dibao_edge 低保边缘, fanpin 返贫致贫",
    )
    balc: Yuan = Field(default="0", description="个人账户余额 (yuan; employees)")
    e_voucher: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{8,50}$")] | None = Field(
        default=None, description="医保电子凭证 token (mdtrt_cert_type 01)"
    )
    card_no: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{6,50}$")] | None = Field(
        default=None, description="社会保障卡号 (mdtrt_cert_type 03); needs card_sn"
    )
    card_sn: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,32}$")] | None = Field(
        default=None, description="卡识别码"
    )


class InsuranceOut(BaseModel):
    insutype: str
    psn_type: str
    psn_insu_stas: str
    insuplc_admdvs: str
    cvlserv_flag: str
    emp_name: str | None
    psn_insu_date: date | None
    assistance: str | None


class VoucherOut(BaseModel):
    mdtrt_cert_type: str
    mdtrt_cert_no: str
    card_sn: str | None = None


class QualificationOut(BaseModel):
    trt_dcla_detl_sn: str
    opsp_dise_code: str
    opsp_dise_name: str | None
    begin_date: date
    end_date: date | None
    status: str


class PersonOut(BaseModel):
    """An insured person as the place of insurance holds them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "psn_no": "1101003584240000",
                    "psn_name": "王建华",
                    "psn_cert_type": "01",
                    "certno": "110108196312159213",
                    "gend": "1",
                    "brdy": "1963-12-15",
                    "naty": "01",
                    "insuplc_admdvs": "110100",
                    "insurances": [
                        {
                            "insutype": "310",
                            "psn_type": "1201",
                            "psn_insu_stas": "1",
                            "insuplc_admdvs": "110100",
                            "cvlserv_flag": "0",
                            "emp_name": None,
                            "psn_insu_date": "1990-01-01",
                            "assistance": None,
                        }
                    ],
                    "balc": "22966.34",
                    "vouchers": [{"mdtrt_cert_type": "02", "mdtrt_cert_no": "110108196312159213"}],
                    "chronic_qualifications": [],
                }
            ]
        }
    )

    psn_no: str
    psn_name: str | None
    psn_cert_type: str | None
    certno: str | None
    gend: str | None
    brdy: date | None
    naty: str | None
    phone: str | None = None
    address: str | None = None
    insuplc_admdvs: str
    insurances: list[InsuranceOut]
    balc: str = Field(description="个人账户余额 (yuan)")
    mutual_aid_balc: str = Field(default="0.00", description="共济额度 (yuan)")
    vouchers: list[VoucherOut]
    chronic_qualifications: list[QualificationOut]


class PersonListItem(BaseModel):
    """A person in a list: the ID number is masked (first 6 and last 4 characters)."""

    psn_no: str
    psn_name: str | None
    certno: str | None = Field(description="masked, e.g. 110108********9213")
    gend: str | None
    insuplc_admdvs: str
    insutype: str | None
    psn_type: str | None


# --- filings -----------------------------------------------------------------------------


class FilingCreate(BaseModel):
    """A filing (备案) made by an insured person through a channel."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "psn_no": "1101003584240000",
                    "filing_type": "TMP_OTHER",
                    "destination": "440100",
                    "valid_from": "2026-12-01",
                    "channel": "national_app",
                    "reason": "探亲期间就医",
                }
            ]
        },
    )

    filing_id: FilingId | None = Field(default=None, description="generated when absent")
    psn_no: PsnNo
    filing_type: FilingType = Field(description="LT_RETIRED, LT_RESIDENT, LT_WORKER, "
                                     "TMP_REFERRAL, TMP_EMERGENCY or TMP_OTHER")  # fmt: skip
    destination: RegionCode = Field(description="备案就医地: a city (XXXX00) or province")
    valid_from: Day
    channel: FilingChannel = Field(description="where the person filed (备案渠道)")
    commitment_only: bool = Field(
        default=False, description="filed on a personal commitment letter (个人承诺书)"
    )
    reason: Annotated[str, text(500)] = ""


class FilingChange(BaseModel):
    """A change of a filing (变更备案); absent fields stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"channel": "mini_program", "destination": "310100", "reason": "搬家"}]
        },
    )

    channel: FilingChannel
    destination: RegionCode | None = None
    filing_type: FilingType | None = None
    valid_from: Day | None = None
    commitment_only: bool | None = None
    reason: Annotated[str, text(500)] = ""


class FilingCancel(BaseModel):
    """A cancellation (取消备案): the filing stays valid up to today."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"channel": "counter", "reason": "回参保地居住"}]},
    )

    channel: FilingChannel = FilingChannel.COUNTER
    reason: Annotated[str, text(500, 1)]


class FilingOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "filing_id": "F110100358424000001",
                    "psn_no": "1101003584240000",
                    "insured_region": "110100",
                    "filing_type": "LT_RETIRED",
                    "destination": "460100",
                    "valid_from": "2025-01-22",
                    "valid_to": None,
                    "filed_at": "2025-01-20T10:13:44+08:00",
                    "channel": "national_app",
                    "status": "active",
                    "version": 1,
                    "commitment_only": False,
                    "reason": "",
                }
            ]
        }
    )

    filing_id: str
    psn_no: str
    insured_region: str
    filing_type: str
    destination: str
    valid_from: date
    valid_to: date | None
    filed_at: ChinaTime
    channel: str
    status: str
    version: int
    commitment_only: bool
    reason: str


class FilingEventOut(BaseModel):
    version: int
    event: Literal["created", "changed", "cancelled"]
    at: ChinaTime
    channel: str
    filing: FilingOut = Field(description="the filing as it stood after the event")


# --- institutions ---------------------------------------------------------------------------


class CredentialOut(BaseModel):
    scheme: str = Field(description="tif, csb or apikey")
    key_id: str = Field(description="paasid / access key / API key")
    active: bool


class InstitutionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_code": "H46010000001",
                    "fixmedins_name": "海口市第一人民医院",
                    "region": "460100",
                    "level": "3",
                    "kind": "hospital",
                    "networked": True,
                    "active": True,
                    "credentials": [
                        {"scheme": "tif", "key_id": "paasH46010000001", "active": True}
                    ],
                }
            ]
        }
    )

    fixmedins_code: str
    fixmedins_name: str
    region: str
    level: str
    kind: str
    networked: bool
    active: bool
    credentials: list[CredentialOut]


class InstitutionCreate(BaseModel):
    """A designated institution (定点医药机构) at its place of treatment."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "fixmedins_name": "海口市第四人民医院",
                    "region": "460100",
                    "level": "2",
                    "kind": "hospital",
                    "networked": True,
                    "schemes": ["tif", "csb"],
                }
            ]
        },
    )

    fixmedins_code: InstitutionCode | None = Field(
        default=None, description="H + region + 5 digits; generated when absent"
    )
    fixmedins_name: Annotated[str, text(200, 1)]
    region: RegionCode
    level: Literal["1", "2", "3", "9"] = Field(description="医院等级 1/2/3, 9 未定级")
    kind: Literal["hospital", "pharmacy", "clinic"] = "hospital"
    networked: bool = Field(default=True, description="跨省联网: may settle cross-province")
    schemes: list[Literal["tif", "csb", "apikey"]] = Field(
        default=["tif"], min_length=1, max_length=3, description="gateway credentials to issue"
    )


class Secret(BaseModel):
    scheme: str
    key_id: str
    secret: str = Field(description="TIF token / CSB secret key; shown only once")


class InstitutionCreated(InstitutionOut):
    secrets: list[Secret]


class Rotate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"scheme": "tif"}]})

    scheme: Literal["tif", "csb", "apikey"]


# --- policies ------------------------------------------------------------------------------


class PolicyVersion(BaseModel):
    region: str
    insutype: str
    effective_from: date
    effective_to: date | None
    synthetic: bool
    source: str


class PolicyDocument(PolicyVersion):
    document: dict[str, Any] = Field(
        description="the policy in the file format of medroam/data/policies/README.md"
    )


# --- catalogue ------------------------------------------------------------------------------


class CatalogueItemOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "med_list_codg": "XA02ADE095A021010190001",
                    "name": "铝碳酸镁咀嚼片 0.5g",
                    "list_type": "101",
                    "med_chrgitm_type": "09",
                    "chrgitm_lv": "01",
                    "selfpay_prop": "0.0000",
                    "pric_uplmt_amt": "0.024000",
                    "lmt_used_flag": False,
                    "essential": True,
                    "negotiated": False,
                    "special": False,
                    "synthetic": True,
                    "region": "440100",
                }
            ]
        }
    )

    med_list_codg: str
    name: str
    list_type: str
    med_chrgitm_type: str
    chrgitm_lv: str = Field(description="01 甲, 02 乙, 03 丙")
    selfpay_prop: str = Field(description="乙类先行自付比例")
    pric_uplmt_amt: str | None = Field(description="定价上限 (yuan), unit price")
    lmt_used_flag: bool
    essential: bool
    negotiated: bool
    special: bool
    synthetic: bool
    region: str = Field(description="the place of treatment whose catalogue this is")


# --- settlements ----------------------------------------------------------------------------


class SettlementDetailOut(BaseModel):
    fund_pay_type: str
    inscp_amt: str
    crt_payb_lmt_amt: str
    fund_payamt: str
    setl_proc_info: str


class SettlementOut(BaseModel):
    """A settlement (2207/2304) or the reverse record of a cancellation."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    insutype: str
    fixmedins_code: str
    med_type: str
    setl_time: ChinaTime
    status: str = Field(description="valid, cancelled (by a reverse record) or voided")
    refd_setl_flag: str
    reverses_setl_id: str | None
    insuplc_admdvs: str
    mdtrtarea_admvs: str
    cross_region: str
    benefit_status: str
    medfee_sumamt: str
    fulamt_ownpay_amt: str
    overlmt_selfpay: str
    preselfpay_amt: str
    inscp_scp_amt: str
    act_pay_dedc: str
    hifp_pay: str
    pool_prop_selfpay: str
    cvlserv_pay: str
    hifes_pay: str
    hifmi_pay: str
    hifob_pay: str
    maf_pay: str
    oth_pay: str
    fund_pay_sumamt: str
    psn_part_amt: str
    acct_pay: str
    acct_mulaid_pay: str
    psn_cash_pay: str
    hosp_part_amt: str
    balc: str
    clr_optins: str
    clr_type: str
    medins_setl_id: str
    setldetail: list[SettlementDetailOut]
