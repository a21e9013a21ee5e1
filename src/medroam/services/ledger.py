"""The ledger legs of a settlement (pure): who paid, against whom.

Each fund payment is an expense of the place of insurance's fund,
``fund:<insured_region>:<fund_pay_type>`` (+amount); a personal-account payment (own
account and family mutual aid together, ``acct_pay``) is ``account:<psn_no>`` (+amount).
Against them:

* local care: ``payable:hospital:<fixmedins_code>`` (−amount);
* cross-region care: the place of insurance owes the place of treatment,
  ``payable:region:<insured>><treatment>`` (−amount), and the place of treatment is owed
  by it and owes the hospital, ``receivable:region:<insured>><treatment>`` (+amount) and
  ``payable:hospital:<fixmedins_code>`` (−amount).

Mutual aid paid by a relative's grant (``draws``, docs/mutual-aid.md) is the holder's:
``account:<holder>`` pays it and, for cross-region care, the holder's place of insurance
owes it, ``payable:region:<holder region>><treatment>`` — the pair its clearing line
(``batch.lines``) clears, so a clearing run extinguishes what the settlement posted.

The legs of every posting sum to zero; the paying legs (fund and account) sum to
``fund_pay_sumamt + acct_pay``. A cancellation posts the same legs negated.
"""

from __future__ import annotations

from collections.abc import Sequence

from medroam.domain.codes import FUND_EMPLOYEE_ACCOUNT
from medroam.domain.mutual_aid import Draw
from medroam.domain.settlement import Settlement

Leg = tuple[str, int]


def settlement_legs(
    s: Settlement,
    *,
    psn_no: str,
    insured_region: str,
    treatment_region: str,
    fixmedins_code: str,
    draws: Sequence[Draw] = (),
) -> list[Leg]:
    """The balanced legs of a settlement (or, for a reverse settlement, its negation;
    ``draws`` then carry negated amounts too)."""
    paying: dict[str, int] = {}
    for d in s.details:
        if d.fund_pay_type == FUND_EMPLOYEE_ACCOUNT or d.paid == 0:
            continue  # the account is posted from acct_pay below
        key = f"fund:{insured_region}:{d.fund_pay_type}"
        paying[key] = paying.get(key, 0) + d.paid
    drawn = sum(w.amount for w in draws)
    if s.account - drawn:
        paying[f"account:{psn_no}"] = s.account - drawn
    owed: dict[str, int] = {insured_region: 0}
    for w in draws:
        key = f"account:{w.holder}"
        paying[key] = paying.get(key, 0) + w.amount
        owed[w.holder_region] = owed.get(w.holder_region, 0) + w.amount
    funds = sum(v for k, v in paying.items() if k.startswith("fund:"))
    if funds != s.fund_total:
        raise AssertionError(
            f"fund legs {funds} fen differ from fund_pay_sumamt {s.fund_total} fen"
        )
    total = sum(paying.values())
    legs: list[Leg] = sorted(paying.items())
    hospital = f"payable:hospital:{fixmedins_code}"
    if insured_region == treatment_region:
        legs.append((hospital, -total))
    else:
        owed[insured_region] = total - drawn
        for region, amount in sorted(owed.items()):
            pair = f"{region}>{treatment_region}"
            legs.append((f"payable:region:{pair}", -amount))
            legs.append((f"receivable:region:{pair}", amount))
        legs.append((hospital, -total))
    legs = [(account, amount) for account, amount in legs if amount]
    if sum(amount for _, amount in legs) != 0:  # pragma: no cover - by construction
        raise AssertionError(f"unbalanced legs {legs}")
    return legs


def negated(legs: list[Leg]) -> list[Leg]:
    return [(account, -amount) for account, amount in legs]
