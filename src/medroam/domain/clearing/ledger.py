"""Ledger legs of clearing and prepayment (double entry: every posting sums to zero).

Accounts follow the settlement journal's names (``payable:region:<ins>><trt>``,
``receivable:region:<ins>><trt>``, ``payable:hospital:<code>``, ...), positive amounts
are debits. A settlement left the insured region owing (``payable:region``, credit) and
the treatment region owed (``receivable:region``, debit). A clearing run extinguishes
both for the amounts it clears and routes them through the clearing hubs:

* inter-province pairs through ``clearing:national:<province>`` — after the run its
  balance is the province's net position (positive: the hub pays the province);
* intra-province pairs through ``clearing:provincial:<region>`` — the pooling region's
  position inside its province.

Prepayment (预付金) placed by a payer with a payee (``level`` national: insuring
province → treating province; provincial: pooling region → its province):
``prepay:<level>:<payer>><payee>`` (the payer's asset) against ``bank:<payer>``, and
``bank:<payee>`` against ``prepay-held:<level>:<payer>><payee>`` (the payee's liability).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from medroam.domain.money import Fen


@dataclass(frozen=True, slots=True)
class Leg:
    account: str
    amount: Fen  # positive: debit


class UnbalancedPostingError(ValueError):
    pass


def province_of(region: str) -> str:
    return region[:2] + "0000"


def region_payable(insured: str, treatment: str) -> str:
    return f"payable:region:{insured}>{treatment}"


def region_receivable(insured: str, treatment: str) -> str:
    return f"receivable:region:{insured}>{treatment}"


def prepay_account(level: str, payer: str, payee: str) -> str:
    return f"prepay:{level}:{payer}>{payee}"


def prepay_held_account(level: str, payer: str, payee: str) -> str:
    return f"prepay-held:{level}:{payer}>{payee}"


def bank_account(party: str) -> str:
    return f"bank:{party}"


def combine(legs: Iterable[Leg]) -> list[Leg]:
    """Legs summed by account (zero sums dropped), sorted by account."""
    by_account: dict[str, Fen] = {}
    for leg in legs:
        by_account[leg.account] = by_account.get(leg.account, 0) + leg.amount
    return [Leg(a, v) for a, v in sorted(by_account.items()) if v != 0]


def check_balanced(legs: Iterable[Leg]) -> None:
    total = sum(leg.amount for leg in legs)
    if total != 0:
        raise UnbalancedPostingError(f"legs sum to {total} fen, not zero")


def clearing_legs(pairs: Iterable[tuple[str, str, Fen]]) -> list[Leg]:
    """The legs of a clearing run from its ``(insured_region, treatment_region, amount)``
    totals (any fund lines; amounts may be negative after cancellations)."""
    legs: list[Leg] = []
    for insured, treatment, amount in pairs:
        if amount == 0:
            continue
        legs.append(Leg(region_payable(insured, treatment), amount))
        legs.append(Leg(region_receivable(insured, treatment), -amount))
        ins_p, trt_p = province_of(insured), province_of(treatment)
        if ins_p != trt_p:
            legs.append(Leg(f"clearing:national:{ins_p}", -amount))
            legs.append(Leg(f"clearing:national:{trt_p}", amount))
        else:
            legs.append(Leg(f"clearing:provincial:{insured}", -amount))
            legs.append(Leg(f"clearing:provincial:{treatment}", amount))
    out = combine(legs)
    check_balanced(out)
    return out


def prepay_legs(level: str, payer: str, payee: str, delta: Fen) -> list[Leg]:
    """Place ``delta`` more (negative: refund) prepayment from ``payer`` with ``payee``."""
    legs = [
        Leg(prepay_account(level, payer, payee), delta),
        Leg(bank_account(payer), -delta),
        Leg(bank_account(payee), delta),
        Leg(prepay_held_account(level, payer, payee), -delta),
    ]
    check_balanced(legs)
    return legs
