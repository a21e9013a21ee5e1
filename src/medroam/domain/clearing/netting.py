"""Multilateral netting (多边轧差) on small gross matrices.

The batch layer computes the same figures set-wise for a whole nation; this module is
the reference used to explain and to check them: given gross amounts owed by payers to
payees, each party's net position is what it receives minus what it pays (positive:
receives; negative: pays). Net positions always sum to zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from medroam.domain.money import Fen


def net_positions(gross: Mapping[tuple[str, str], Fen]) -> dict[str, Fen]:
    """``{(payer, payee): amount}`` → ``{party: receives − pays}`` (self-pairs ignored)."""
    net: dict[str, Fen] = {}
    for (payer, payee), amount in gross.items():
        if payer == payee:
            continue
        net[payer] = net.get(payer, 0) - amount
        net[payee] = net.get(payee, 0) + amount
    return dict(sorted(net.items()))


@dataclass(frozen=True, slots=True)
class Transfer:
    payer: str
    payee: str
    amount: Fen


def net_transfers(net: Mapping[str, Fen], hub: str = "national") -> list[Transfer]:
    """Net settlement through a hub: each payer pays the hub, the hub pays each receiver."""
    if sum(net.values()) != 0:
        raise ValueError("net positions do not sum to zero")
    out = [Transfer(p, hub, -a) for p, a in sorted(net.items()) if a < 0]
    out += [Transfer(hub, p, a) for p, a in sorted(net.items()) if a > 0]
    return out


def gross_transfers(gross: Mapping[tuple[str, str], Fen]) -> list[Transfer]:
    """Gross settlement: one transfer per ordered pair, no offsetting (a negative pair
    total, left by cancellations, is paid back the other way)."""
    out: list[Transfer] = []
    for (payer, payee), amount in sorted(gross.items()):
        if payer == payee or amount == 0:
            continue
        out.append(
            Transfer(payer, payee, amount) if amount > 0 else Transfer(payee, payer, -amount)
        )
    return out


def total(amounts: Iterable[Fen]) -> Fen:
    return sum(amounts, 0)
