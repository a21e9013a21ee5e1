"""Request and response bodies of the agency API's clearing operations: reconciliation
between regions (对账), clearing runs (清分 / 清算), statements (清算单), hospital cash flow
and prepayment (预付金).

Amounts follow the clearing services: exact integers in fen (``*_fen``) with the same
amount as a yuan string (``*_yuan``) where a person reads it. Amounts *sent* are yuan
strings with at most two decimals, as everywhere in the agency API.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from medroam.api.schemas import RegionCode, text

CycleName = Literal["daily", "monthly", "quarterly", "annual"]
RunScope = Literal["all", "funds", "mutual_aid"]
ReconState = Literal["proposed", "confirmed", "disputed", "withdrawn"]
PrepayLevel = Literal["national", "provincial"]
WarningColour = Literal["none", "yellow", "red"]

PeriodText = Annotated[
    str,
    StringConstraints(
        min_length=4, max_length=10, pattern=r"^[0-9]{4}(-?[0-9]{2}(-[0-9]{2})?|-?[Qq][1-4])?$"
    ),
]
SetlId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,30}$")]
BatchId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z_-]{1,60}$")]
# Signed on purpose: a negative amount reaches the handler, which refuses it with a
# message of its own (instead of a bare pattern mismatch).
SignedYuan = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$")]
Year = Annotated[int, Field(ge=2000, le=2199)]

PERIOD_HELP = "2026-10-15 (daily), 2026-10 (monthly), 2026Q4 (quarterly), 2026 (annual)"


# --- reconciliation ------------------------------------------------------------------------


class ProposalCreate(BaseModel):
    """The place of treatment proposes a closed period's cross-region settlements (3260)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"cycle": "monthly", "period": "2026-10", "treatment_region": "440100"}]
        },
    )

    cycle: CycleName = "monthly"
    period: PeriodText = Field(description=PERIOD_HELP)
    treatment_region: RegionCode | None = Field(
        default=None,
        description="就医地: a pooling region, a province (XX0000) or 000000 (the nation). "
        "Default: the caller's region (the nation: 000000).",
    )


class ProposalOut(BaseModel):
    batch_id: str
    period: str
    treatment_scope: str
    proposed: int = Field(description="new items of this proposal")
    carried: int = Field(description="disputed items of earlier periods still open")
    medfee_fen: int
    fund_fen: int
    acct_fen: int
    created: bool = Field(description="false: the batch existed (re-proposing is idempotent)")


class ConfirmationCreate(BaseModel):
    """The place of insurance confirms items (3261 ``cnfm_flag``): named ones, a batch, or
    every proposed (and disputed) item of an insured region. The conditions combine; an
    ``insured_place`` confirms only its own region's items."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"batch_id": "REC-440100-monthly-2026-10", "insured_region": "110100"},
                {"setl_ids": ["ST44010020261003000000000001"]},
            ]
        },
    )

    setl_ids: list[SetlId] | None = Field(default=None, min_length=1, max_length=1000)
    batch_id: BatchId | None = None
    insured_region: RegionCode | None = Field(
        default=None, description="参保地: a pooling region, a province or 000000"
    )


class DisputeCreate(BaseModel):
    """The place of insurance disputes items: held out of clearing until confirmed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "setl_ids": ["ST44010020261003000000000001"],
                    "reason": "金额与参保地记录不符",
                }
            ]
        },
    )

    setl_ids: list[SetlId] = Field(min_length=1, max_length=1000)
    reason: Annotated[str, text(500, 1)]


class ReconItemOut(BaseModel):
    setl_id: str
    batch_id: str
    insured_region: str
    treatment_region: str
    fixmedins_code: str
    setl_date: date
    refd_setl_flag: bool
    medfee_fen: int
    fund_fen: int
    acct_fen: int
    state: ReconState
    reason: str | None = Field(description="the dispute reason")
    cleared_run_id: str | None


class ReconAnswer(BaseModel):
    action: Literal["confirmed", "disputed"]
    count: int = Field(description="items whose state changed")
    items: list[ReconItemOut] | None = Field(
        default=None, description="the named items as they stand now (when setl_ids were given)"
    )


# --- clearing runs -------------------------------------------------------------------------


class RunCreate(BaseModel):
    """A clearing run of a closed period (national clear-split, provincial tiers,
    hospital payments)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"cycle": "monthly", "period": "2026-10"}]},
    )

    cycle: CycleName = "monthly"
    period: PeriodText = Field(description=PERIOD_HELP)
    scope: RunScope | None = Field(
        default=None,
        description="all (funds and mutual aid), funds, or mutual_aid; default: all for a "
        "monthly run, funds otherwise (mutual aid is cleared monthly in full)",
    )
    verify: bool = Field(default=False, description="recompute the run and compare")


class ProvincePosition(BaseModel):
    province: str
    payable_fen: int
    receivable_fen: int
    net_fen: int = Field(description="receives − pays (positive: receives)")


class RegionPosition(BaseModel):
    region: str
    province: str
    inter_payable_fen: int
    inter_receivable_fen: int
    intra_payable_fen: int
    intra_receivable_fen: int
    net_fen: int


class WarningOut(BaseModel):
    """One (payer, payee) pair's prepayment usage in a month."""

    level: PrepayLevel = Field(
        description="national: insuring province → treating province; provincial: pooling "
        "region → its province"
    )
    payer: str
    payee: str
    month: str
    cleared_fen: int
    quota_fen: int
    usage_rate: str | None = Field(description="e.g. 72.50%; null without a quota")
    warning: WarningColour = Field(description="yellow ≥ 70 %, red ≥ 90 %")
    topup_fen: int = Field(description="recommended emergency top-up (red only)")
    topup_yuan: str
    topup_due: date | None = Field(description="deadline of the top-up (red only)")


class RunOut(BaseModel):
    """A clearing run as the caller may see it: the nation sees every position, a
    province its own position, its regions and the warnings of its pairs."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": "CLR-monthly-2026-10-all",
                    "cycle": "monthly",
                    "period": "2026-10",
                    "scope": "all",
                    "created": True,
                    "view": "national",
                    "line_count": 5,
                    "amount_fen": 1827844,
                    "amount_yuan": "18278.44",
                    "hospitals_apply_on": "2026-11-02",
                    "hospitals_paid_by": "2026-12-14",
                    "fund_lines": {"basic": 1500000, "account": 25000},
                    "provinces": [
                        {
                            "province": "110000",
                            "payable_fen": 883334,
                            "receivable_fen": 427500,
                            "net_fen": -455834,
                        }
                    ],
                    "regions": [],
                    "prepayment_warnings": [],
                    "verified": None,
                    "differences": None,
                }
            ]
        }
    )

    run_id: str
    cycle: CycleName
    period: str
    scope: RunScope
    created: bool = Field(description="false: the run existed and nothing was changed")
    view: str = Field(description="national, or province XX0000 (positions filtered)")
    line_count: int = Field(description="clearing lines of the whole run")
    amount_fen: int = Field(description="cleared amount of the whole run")
    amount_yuan: str
    hospitals_apply_on: date
    hospitals_paid_by: date
    fund_lines: dict[str, int] = Field(description="cleared fen by fund line (whole run)")
    provinces: list[ProvincePosition]
    regions: list[RegionPosition] = Field(description="the provincial tier")
    prepayment_warnings: list[WarningOut]
    verified: bool | None = None
    differences: list[str] | None = None


class RunListItem(BaseModel):
    run_id: str
    cycle: CycleName
    period: str
    scope: RunScope
    line_count: int
    amount_fen: int
    hospitals_paid_by: date


class Verification(BaseModel):
    run_id: str
    verified: bool = Field(description="true: recomputed from its lines, no difference")
    differences: list[str]


# --- statements ----------------------------------------------------------------------------


class StatementSection(BaseModel):
    name: str
    title: str
    rows: list[dict[str, Any]] = Field(
        description="one object per row; amounts (`*_fen`) as {fen, yuan}"
    )


class StatementOut(BaseModel):
    """One party's statement (清算单). ``format=csv`` / ``format=html`` (or the Accept
    header) give the same statement as CSV or a readable HTML page."""

    run_id: str
    party_kind: Literal["national", "province", "region", "hospital"]
    party: str
    title: str
    summary: dict[str, Any]
    sections: list[StatementSection]


class CashFlowRow(BaseModel):
    cycle: CycleName
    fixmedins_code: str
    amount_fen: int
    advance_days: str | None = Field(
        description="amount-weighted mean days from settlement to payment (垫支天数)"
    )


# --- prepayment ----------------------------------------------------------------------------


class QuotaOut(BaseModel):
    year: int
    level: PrepayLevel
    payer: str
    payee: str
    quota_fen: int
    quota_yuan: str
    basis: str
    months: int


class QuotaPair(BaseModel):
    year: Year
    level: PrepayLevel = "national"
    payer: RegionCode = Field(description="national: insuring province; provincial: the region")
    payee: RegionCode = Field(description="national: treating province; provincial: its province")


class QuotaSet(QuotaPair):
    """Issue (or re-set) a quota: the difference to the current quota is posted."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "year": 2026,
                    "level": "national",
                    "payer": "110000",
                    "payee": "440000",
                    "amount": "2000000.00",
                    "reason": "年度预付金",
                }
            ]
        },
    )

    amount: SignedYuan = Field(description="the quota in yuan; never negative")
    reason: Annotated[str, text(200, 1)] = "quota set through the agency API"


class QuotaAdjust(QuotaPair):
    """Add to an existing quota (negative: refund); the quota never goes below zero."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "year": 2026,
                    "level": "national",
                    "payer": "110000",
                    "payee": "440000",
                    "delta": "-50000.00",
                    "reason": "年度清算后退还",
                }
            ]
        },
    )

    delta: SignedYuan = Field(description="yuan to add (negative: refund)")
    reason: Annotated[str, text(200, 1)]


class QuotaTopup(QuotaPair):
    """The emergency top-up (紧急调增) after a red warning."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"year": 2026, "level": "national", "payer": "110000", "payee": "440000"}]
        },
    )

    amount: SignedYuan | None = Field(
        default=None, description="yuan (positive); default: the latest red warning's"
    )


class QuotaCompute(BaseModel):
    """Annual quotas from the prior year's cleared amounts (monthly average × months)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"year": 2027, "months": 2, "dry_run": True}]},
    )

    year: Year
    months: int = Field(default=2, ge=1, le=12)
    basis: Literal["fund_payment", "cleared"] = "fund_payment"
    dry_run: bool = Field(default=False, description="compute only; post nothing")


class QuotaComputed(BaseModel):
    year: int
    level: PrepayLevel
    payer: str
    payee: str
    total_fen: int = Field(description="cleared in the prior year")
    quota_fen: int
    quota_yuan: str
    applied: bool
