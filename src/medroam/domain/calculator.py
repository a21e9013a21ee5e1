"""The fund-tier calculator: one bill → every fen split between funds and the patient.

``settle`` is a pure function. It follows domain-rules §3.2 step by step:

 1–4  catalogue of the place of treatment: 全自费, 超限价, 乙类先行自付, in-policy amount
 5    deductible (起付线): per admission (inpatient) or per year (outpatient, chronic)
 6    pooled fund = (in-policy − deductible) × ratio; the ratio is the place of insurance's
      base for the level, plus retiree / age bonuses, minus the filing reduction
 7    annual cap of the pooled fund (and the chronic-disease quota)
 8    supplementary layers: 居民大病保险 (hifmi) / 职工大额补助 (hifob), tiered, capped
 9    公务员医疗补助 (cvlserv) for civil servants
 10   医疗救助 (maf) for assistance groups
 11   personal account, then the family mutual-aid quota
 12   cash: whatever remains

Account-only outpatient care (no general-outpatient pooling at the place of insurance, or
a pharmacy purchase, med_type 41) skips steps 5–10: every fund pays 0, the personal
account (then the mutual-aid quota) pays what it can of the personal share, cash the rest.

Rounding: every computed amount is rounded once by the policy's rounding rule
(``BenefitPolicy.rounding``, default half away from zero to the fen, see
``money.RoundingRule``); tiered layers sum their bands exactly before that one rounding,
and the over-cap basis of 大额 is computed exactly from the cap point pool ÷ ratio before
its one rounding (the cap point itself is never rounded).
Amounts that are sums or differences of rounded amounts need no rounding, so the
interface identities I1–I6 hold exactly. ``hosp_part_amt`` is 0: no rule here makes the
hospital bear part of a bill (DRG/DIP payment to hospitals is a separate amount).
"""

from __future__ import annotations

from collections.abc import Sequence

from medroam.domain import accumulators as acc
from medroam.domain.accumulators import Accumulators
from medroam.domain.catalogue import Catalogue, FeeLine, LineResult, classify_line
from medroam.domain.codes import (
    FUND_EMPLOYEE_ACCOUNT,
    FUND_MEDICAL_ASSISTANCE,
    MED_TYPE_PHARMACY,
    PSN_TYPES_RETIRED,
    BenefitStatus,
    ServiceKind,
    service_kind,
)
from medroam.domain.money import RATIO_ONE, Fen, Ratio, RoundingRule, format_yuan
from medroam.domain.policy import (
    AccountCoverage,
    BenefitPolicy,
    ChronicMode,
    LayerBasis,
    LevelTerms,
    MutualAidOrder,
    QuotaPeriod,
    SupplementaryLayer,
    TempBase,
    TierBounds,
)
from medroam.domain.settlement import (
    AccountState,
    FundDetail,
    Person,
    Settlement,
    TraceEntry,
    Visit,
)

_TEMPORARY = frozenset(
    {
        BenefitStatus.REFERRAL,
        BenefitStatus.EMERGENCY,
        BenefitStatus.TEMPORARY_OTHER,
        BenefitStatus.UNFILED,
    }
)
_NO_LIMIT = 10**15  # stands for "no cap" in min() arithmetic; far above any real bill


class CalculationError(ValueError):
    """The case cannot be settled as given; the message says which input and why."""


def _y(amount: Fen) -> str:
    return format_yuan(amount)


def _pct(ratio: Ratio) -> str:
    whole, frac = divmod(ratio, 100)
    return f"{whole}.{frac:02d}%" if frac else f"{whole}%"


def settle(
    lines: Sequence[FeeLine],
    visit: Visit,
    person: Person,
    status: BenefitStatus,
    policy: BenefitPolicy,
    catalogue: Catalogue,
    ytd: Accumulators,
    account: AccountState,
) -> Settlement:
    """Settle one bill. Pure: the caller applies ``accumulator_delta`` and the balances."""
    kind = service_kind(visit.med_type)
    if kind is None:
        raise CalculationError(f"med_type {visit.med_type!r} is not a settled medical category")
    if person.insutype != policy.insutype:
        raise CalculationError(
            f"insutype {person.insutype!r} of the person does not match the policy's "
            f"{policy.insutype!r}"
        )
    if not lines:
        raise CalculationError("a settlement needs at least one fee line")
    if account.balance < 0 or account.mutual_aid_balance < 0:
        raise CalculationError(
            f"balc {_y(account.balance)} / mutual-aid quota {_y(account.mutual_aid_balance)}: "
            "a personal-account balance or quota must not be negative (个人账户余额不能为负)"
        )

    trace: list[TraceEntry] = []
    delta: dict[str, int] = {}
    rnd = policy.rounding

    # Steps 1–4: the place of treatment's catalogue, line by line.
    items = catalogue.items
    results: list[LineResult] = []
    medfee = fulamt = overlmt = preself = inscp = 0
    for line in lines:
        r = classify_line(line, items.get(line.list_code))
        results.append(r)
        medfee += r.amount
        fulamt += r.fulamt_ownpay
        overlmt += r.overlmt
        preself += r.preselfpay
        inscp += r.inscp
    # Refund lines may only undo charges of the same bill: no part may turn negative.
    for name, value in (
        ("medfee_sumamt", medfee),
        ("fulamt_ownpay_amt", fulamt),
        ("overlmt_selfpay", overlmt),
        ("preselfpay_amt", preself),
        ("inscp_scp_amt", inscp),
    ):
        if value < 0:
            raise CalculationError(
                f"{name} of the bill is negative ({_y(value)}): refund lines exceed the charges"
            )
    trace.append(TraceEntry(1, "total.fulamt_ownpay", fulamt))
    trace.append(TraceEntry(2, "total.overlmt_selfpay", overlmt))
    trace.append(TraceEntry(3, "total.preselfpay", preself))
    trace.append(TraceEntry(4, "total.inscp", inscp))

    # Steps 5–7: deductible, ratio, pooled fund and its caps.
    rules = policy.filing
    reduction = rules.reduction(status) if kind in rules.reduction_applies_to else 0
    retired = person.psn_type in PSN_TYPES_RETIRED
    age = person.age_on(visit.begin)
    year_key_day = visit.settle_date
    cap_remaining: int
    cap_key: str
    extra_cap: tuple[str, int] | None = None  # (key, remaining) of a second limit (quota)
    account_only = False  # outpatient care the funds do not pay (account and cash only)
    if kind is ServiceKind.INPATIENT:
        ip = policy.inpatient
        terms = _inpatient_terms(policy, visit, status)
        ordinal = ytd[acc.IP_ADMISSIONS] + (0 if visit.admission_counted else 1)
        full = terms.deductible
        if ordinal > 1 and ip.later_admission_factor != RATIO_ONE:
            full = rnd.apply_ratio(full, ip.later_admission_factor)
        if ip.deductible_free_from is not None and ordinal >= ip.deductible_free_from:
            full = 0
        remaining_dedc = max(0, full - visit.deductible_applied)
        deductible = min(inscp, remaining_dedc)
        trace.append(
            TraceEntry(
                5,
                "deductible.admission",
                deductible,
                (
                    ("standard", terms.deductible),
                    ("admission", str(ordinal)),
                    ("this_admission", full),
                    ("already_applied", visit.deductible_applied),
                ),
            )
        )
        if not visit.admission_counted:
            delta[acc.IP_ADMISSIONS] = 1
        delta[acc.IP_DEDUCTIBLE] = deductible
        base = terms.ratio
        bonus = (ip.retired_bonus if retired else 0) + (
            ip.elderly_bonus if age >= ip.elderly_age else 0
        )
        cap_key = acc.POOL_FUND
        cap_remaining = _remaining(ip.annual_cap, ytd[cap_key])
        pool_fund_type = policy.pool_fund_type
    elif kind is ServiceKind.OUTPATIENT and (
        policy.outpatient is None or visit.med_type[:2] == MED_TYPE_PHARMACY
    ):
        # Account-only outpatient settlement (domain-rules §3.3): no general-outpatient
        # pooling at the place of insurance, or a pharmacy purchase. The funds pay 0; the
        # personal account (then the mutual-aid quota) pays the personal share, the rest
        # is cash.
        account_only = True
        why = "pharmacy" if visit.med_type[:2] == MED_TYPE_PHARMACY else "no_outpatient_pooling"
        deductible = base = bonus = reduction = 0
        trace.append(TraceEntry(5, "outpatient.account_only", 0, (("reason", why),)))
        cap_key = acc.OP_FUND
        cap_remaining = 0
        pool_fund_type = policy.outpatient_fund_type
    elif kind is ServiceKind.OUTPATIENT:
        op = policy.outpatient
        assert op is not None  # the branch above takes the policies without pooling
        remaining_dedc = max(0, op.annual_deductible - ytd[acc.OP_DEDUCTIBLE])
        deductible = min(inscp, remaining_dedc)
        trace.append(
            TraceEntry(
                5,
                "deductible.outpatient_year",
                deductible,
                (
                    ("standard", op.annual_deductible),
                    ("used_this_year", ytd[acc.OP_DEDUCTIBLE]),
                ),
            )
        )
        delta[acc.OP_DEDUCTIBLE] = deductible
        try:
            base = op.ratio(visit.institution_level)
        except KeyError:
            raise CalculationError(
                f"no outpatient ratio for institution level {visit.institution_level!r}"
            ) from None
        bonus = (op.retired_bonus if retired else 0) + (
            op.elderly_bonus if age >= op.elderly_age else 0
        )
        cap_key = acc.OP_FUND
        cap_remaining = _remaining(op.annual_cap, ytd[cap_key])
        pool_fund_type = policy.outpatient_fund_type
    else:
        chronic = policy.chronic
        code = visit.disease_code or ""
        if not code:
            raise CalculationError("a chronic-disease visit (med_type 14) needs dise_codg")
        if chronic is None or code not in chronic.diseases:
            raise CalculationError(
                f"disease {code!r} is not a chronic/special disease of the place of insurance "
                f"{policy.region}"
            )
        if code not in person.chronic_diseases:
            raise CalculationError(
                f"person {person.psn_no} is not qualified (认定) for chronic disease {code!r} "
                "at the place of insurance"
            )
        ct = chronic.diseases[code]
        dkey = acc.chronic_deductible_key(code)
        remaining_dedc = max(0, ct.annual_deductible - ytd[dkey])
        deductible = min(inscp, remaining_dedc)
        trace.append(
            TraceEntry(
                5,
                "deductible.chronic_year",
                deductible,
                (
                    ("disease", code),
                    ("standard", ct.annual_deductible),
                    ("used_this_year", ytd[dkey]),
                ),
            )
        )
        delta[dkey] = deductible
        ip = policy.inpatient
        if chronic.mode is ChronicMode.INPATIENT_LIKE:
            base = _inpatient_terms(policy, visit, status).ratio
        else:
            base = ct.ratio
        bonus = (ip.retired_bonus if retired else 0) + (
            ip.elderly_bonus if age >= ip.elderly_age else 0
        )
        pool_fund_type = policy.pool_fund_type
        if ct.quota is not None:
            qkey = acc.chronic_quota_key(code, year_key_day, ct.quota_period is QuotaPeriod.MONTH)
            cap_key = qkey
            cap_remaining = max(0, ct.quota - ytd[qkey])
            if chronic.shares_inpatient_cap:
                extra_cap = (acc.POOL_FUND, _remaining(ip.annual_cap, ytd[acc.POOL_FUND]))
        else:
            cap_key = acc.POOL_FUND if chronic.shares_inpatient_cap else f"chronic_fund:{code}"
            cap_remaining = (
                _remaining(ip.annual_cap, ytd[cap_key])
                if chronic.shares_inpatient_cap
                else _NO_LIMIT
            )

    ratio = min(RATIO_ONE, max(0, base + bonus - reduction))
    trace.append(
        TraceEntry(
            6,
            "pool.ratio",
            0,
            (
                ("base", base),
                ("bonus", bonus),
                ("reduction", reduction),
                ("status", status.value),
                ("ratio", ratio),
            ),
        )
    )
    eligible = inscp - deductible
    uncapped = rnd.apply_ratio(eligible, ratio)
    limit = cap_remaining if extra_cap is None else min(cap_remaining, extra_cap[1])
    pool = min(uncapped, limit)
    trace.append(
        TraceEntry(6, "pool.uncapped", uncapped, (("eligible", eligible), ("ratio", ratio)))
    )
    if pool < uncapped:
        trace.append(TraceEntry(7, "pool.capped", pool, (("remaining_cap", limit),)))
    delta[cap_key] = delta.get(cap_key, 0) + pool
    if extra_cap is not None:
        delta[extra_cap[0]] = delta.get(extra_cap[0], 0) + pool
    # In-policy cost beyond the point where the annual cap was reached (basis of 大额).
    over_cap = 0
    if pool < uncapped and ratio > 0 and (extra_cap is None or extra_cap[1] <= cap_remaining):
        # eligible − pool ÷ ratio, exact, then rounded once (the cap point is not rounded)
        over_cap = max(0, rnd.div(eligible * ratio - pool * RATIO_ONE, ratio))
    details: list[FundDetail] = (
        []
        if account_only
        else [
            FundDetail(
                pool_fund_type,
                inscp,
                min(limit, _NO_LIMIT),
                pool,
                f"({_y(inscp)}-{_y(deductible)})×{_pct(ratio)}",
            )
        ]
    )

    # Step 8: supplementary layers on the in-policy burden left after the pooled fund.
    burden = inscp - pool
    critical = large = 0
    for layer in () if account_only else policy.layers:
        if kind not in layer.applies_to:
            continue
        basis = burden if layer.basis is LayerBasis.PERSONAL_BURDEN else min(over_cap, burden)
        paid, layer_limit = _layer_payment(layer, basis, ytd, rnd)
        paid = min(paid, burden)
        trace.append(
            TraceEntry(
                8,
                f"layer.{layer.fund.value}",
                paid,
                (
                    ("basis", basis),
                    ("basis_ytd_before", ytd[acc.layer_basis_key(layer.fund.value)]),
                    ("threshold", layer.threshold),
                    ("remaining_cap", layer_limit),
                ),
            )
        )
        bkey, pkey = acc.layer_basis_key(layer.fund.value), acc.layer_paid_key(layer.fund.value)
        delta[bkey] = delta.get(bkey, 0) + basis
        delta[pkey] = delta.get(pkey, 0) + paid
        details.append(FundDetail(layer.fund_pay_type, basis, layer_limit, paid))
        burden -= paid
        if layer.fund.value == "hifmi":
            critical += paid
        else:
            large += paid

    # Step 9: civil-servant subsidy.
    civil = 0
    cs = None if account_only else policy.civil_servant
    if cs is not None and person.psn_type in cs.psn_types and kind in cs.applies_to:
        basis = burden if cs.covers_deductible else max(0, burden - deductible)
        cs_limit = _remaining(cs.annual_cap, ytd[acc.CIVIL_SERVANT_PAID])
        civil = min(rnd.apply_ratio(basis, cs.ratio), cs_limit)
        trace.append(
            TraceEntry(
                9,
                "civil_servant",
                civil,
                (
                    ("basis", basis),
                    ("ratio", cs.ratio),
                    ("remaining_cap", min(cs_limit, _NO_LIMIT)),
                ),
            )
        )
        delta[acc.CIVIL_SERVANT_PAID] = civil
        details.append(FundDetail("320100", basis, min(cs_limit, _NO_LIMIT), civil))
        burden -= civil

    # Step 10: medical assistance.
    maf = 0
    ap = None if account_only else policy.assistance
    if (
        ap is not None
        and person.assistance is not None
        and person.assistance in ap.categories
        and kind in ap.applies_to
    ):
        at = ap.categories[person.assistance]
        before = ytd[acc.ASSISTANCE_BASIS]
        above = max(0, before + burden - max(at.threshold, before))
        above = min(above, burden)
        maf_limit = _remaining(at.annual_cap, ytd[acc.ASSISTANCE_PAID])
        maf = min(rnd.apply_ratio(above, at.ratio), maf_limit)
        trace.append(
            TraceEntry(
                10,
                "assistance",
                maf,
                (
                    ("category", person.assistance.value),
                    ("burden", burden),
                    ("threshold", at.threshold),
                    ("above_threshold", above),
                    ("ratio", at.ratio),
                    ("remaining_cap", min(maf_limit, _NO_LIMIT)),
                ),
            )
        )
        delta[acc.ASSISTANCE_BASIS] = burden
        delta[acc.ASSISTANCE_PAID] = maf
        details.append(FundDetail(FUND_MEDICAL_ASSISTANCE, burden, min(maf_limit, _NO_LIMIT), maf))
        burden -= maf

    fund_total = pool + critical + large + civil + maf
    personal = medfee - fund_total
    trace.append(TraceEntry(10, "fund.total", fund_total))

    # Step 11: personal account and family mutual aid.
    # The own account exists only where the policy has personal accounts (employees); the
    # family mutual-aid quota (flag 2) comes from a relative's employee account and may
    # serve a person of either scheme (domain-rules §5.6).
    own = mutual = 0
    own_balance = account.balance if policy.account.enabled else 0
    if visit.account_flag == "2" or (policy.account.enabled and visit.account_flag == "1"):
        payable = (
            personal
            if policy.account.coverage is AccountCoverage.PERSONAL_SHARE
            else min(personal, max(0, burden))
        )
        if visit.account_flag == "1":
            own = min(own_balance, payable)
        elif policy.account.mutual_aid_order is MutualAidOrder.OWN_FIRST:
            own = min(own_balance, payable)
            mutual = min(account.mutual_aid_balance, payable - own)
        else:
            mutual = min(account.mutual_aid_balance, payable)
            own = min(own_balance, payable - mutual)
        trace.append(
            TraceEntry(
                11,
                "account",
                own + mutual,
                (
                    ("payable", payable),
                    ("balance", account.balance),
                    ("mutual_aid_quota", account.mutual_aid_balance),
                    ("mutual_aid", mutual),
                ),
            )
        )
        delta[acc.ACCOUNT_PAID] = own + mutual
        if own + mutual:
            details.append(
                FundDetail(
                    FUND_EMPLOYEE_ACCOUNT,
                    payable,
                    own_balance + account.mutual_aid_balance,
                    own + mutual,
                )
            )
    account_pay = own + mutual
    cash = personal - account_pay
    trace.append(TraceEntry(12, "cash", cash))

    delta[acc.MEDFEE] = medfee
    delta[acc.INSCP] = inscp
    result = Settlement(
        kind=kind,
        status=status,
        medfee=medfee,
        fulamt_ownpay=fulamt,
        overlmt_selfpay=overlmt,
        preselfpay=preself,
        inscp=inscp,
        deductible=deductible,
        pool=pool,
        pool_ratio=ratio,
        civil_servant=civil,
        enterprise=0,
        critical_illness=critical,
        large_expense=large,
        assistance=maf,
        other=0,
        fund_total=fund_total,
        personal=personal,
        account=account_pay,
        mutual_aid=mutual,
        cash=cash,
        hospital=0,
        balance_before=account.balance,
        balance_after=account.balance - own,
        mutual_aid_balance_after=account.mutual_aid_balance - mutual,
        details=tuple(details),
        lines=tuple(results),
        accumulator_delta={k: v for k, v in delta.items() if v},
        trace=tuple(trace),
    )
    broken = result.identities()
    if broken:  # defensive: the construction above makes this impossible
        raise AssertionError(f"amount identities broken: {broken}")
    return result


def reverse(original: Settlement, account: AccountState) -> Settlement:
    """The exact negative of a settlement (2208 / 2305 / 2601).

    ``account`` is the person's account state now; the reverse returns what the original
    took from the own account and from the mutual-aid quota.
    """
    own = original.account - original.mutual_aid
    return Settlement(
        kind=original.kind,
        status=original.status,
        medfee=-original.medfee,
        fulamt_ownpay=-original.fulamt_ownpay,
        overlmt_selfpay=-original.overlmt_selfpay,
        preselfpay=-original.preselfpay,
        inscp=-original.inscp,
        deductible=-original.deductible,
        pool=-original.pool,
        pool_ratio=original.pool_ratio,
        civil_servant=-original.civil_servant,
        enterprise=-original.enterprise,
        critical_illness=-original.critical_illness,
        large_expense=-original.large_expense,
        assistance=-original.assistance,
        other=-original.other,
        fund_total=-original.fund_total,
        personal=-original.personal,
        account=-original.account,
        mutual_aid=-original.mutual_aid,
        cash=-original.cash,
        hospital=-original.hospital,
        balance_before=account.balance,
        balance_after=account.balance + own,
        mutual_aid_balance_after=account.mutual_aid_balance + original.mutual_aid,
        details=tuple(
            FundDetail(d.fund_pay_type, -d.inscp, d.limit, -d.paid, d.note)
            for d in original.details
        ),
        lines=original.lines,
        accumulator_delta={k: -v for k, v in original.accumulator_delta.items()},
        trace=(TraceEntry(0, "reverse", -original.medfee),),
        reversed_=True,
    )


def _remaining(cap: Fen | None, used: Fen) -> int:
    return _NO_LIMIT if cap is None else max(0, cap - used)


def _inpatient_terms(policy: BenefitPolicy, visit: Visit, status: BenefitStatus) -> LevelTerms:
    ip = policy.inpatient
    if (
        status in _TEMPORARY
        and policy.filing.temp_base is TempBase.REFERRAL
        and ip.referral_terms is not None
    ):
        return ip.referral_terms
    try:
        return ip.terms(visit.institution_level)
    except KeyError:
        raise CalculationError(
            f"the policy of {policy.region}/{policy.insutype} has no inpatient terms for "
            f"institution level {visit.institution_level!r}"
        ) from None


def _layer_payment(
    layer: SupplementaryLayer, basis: Fen, ytd: Accumulators, rnd: RoundingRule
) -> tuple[Fen, int]:
    """Tiered payment of a layer for ``basis`` added on top of the year's cumulative basis."""
    fund = layer.fund.value
    before = ytd[acc.layer_basis_key(fund)]
    after = before + basis
    offset = layer.threshold if layer.tier_bounds is TierBounds.ABOVE_THRESHOLD else 0
    lo = layer.threshold
    numerator = 0
    for tier in layer.tiers:
        hi = _NO_LIMIT if tier.upper is None else tier.upper + offset
        overlap = min(after, hi) - max(before, lo)
        if overlap > 0:
            numerator += overlap * tier.ratio
        lo = max(lo, hi)
    limit = _remaining(layer.annual_cap, ytd[acc.layer_paid_key(fund)])
    return min(rnd.div(numerator, RATIO_ONE), limit), min(limit, _NO_LIMIT)
