"""Two settlements of one visit at once, each with its own msgid (a HIS that sent 2207
from two terminals, or retried with a new msgid while the first was still running): one
settles, the other is refused, and the lines, the account and the ledger are charged once
— on SQLite and PostgreSQL, over real HTTP.

On PostgreSQL the second request waits for the visit's row lock and then gets the
visit's newest row, but the fee lines joined to it as it first read them (still
unsettled). Before the fix both settled: two valid settlements of a 25.00 bill and 50.00
taken from the account (found by an outside check, 4 of 5 rounds with two workers, 5 of
5 with one)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from medroam.client import HisClient
from medroam.store.tables import AccountRow, FeeLineRow, LedgerPostingRow, SettlementRow
from tests.http.conftest import H1, Gateway
from tests.http.test_flows import CHENGDU, DRUG_B, P1, fee_line, ok, register_p1

pytestmark = pytest.mark.db

ROUNDS = 3
AT_ONCE = 2


def _open_visit(client: HisClient, serial: str) -> str:
    """2201 and one fee line of 25.00 (2204): the visit's id."""
    psn_no = P1[0]
    mdtrt_id = register_p1(client, serial)
    line = fee_line("R1", mdtrt_id, psn_no, DRUG_B, "12.50", "2")
    ok(client, "2204", {"feedetail": [line]}, insuplc_admdvs=CHENGDU)
    return mdtrt_id


def _settle_at_once(gw: Gateway, mdtrt_id: str) -> list[dict[str, Any]]:
    """``AT_ONCE`` 2207s of the visit, each from its own connection with its own msgid,
    released together."""
    data = {
        "psn_no": P1[0],
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": P1[2],
        "med_type": "11",
        "medfee_sumamt": "25.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "insutype": "310",
        "acct_used_flag": "1",
    }
    code, name, region = H1[0], H1[1], H1[2]
    tif = {"scheme": "tif", "key_id": "paas-h1", "secret": "token-h1"}
    clients = [HisClient(gw.base_url, code, name, region, **tif) for _ in range(AT_ONCE)]
    bodies = [c.envelope("2207", {"data": data}, insuplc_admdvs=CHENGDU) for c in clients]
    barrier = threading.Barrier(AT_ONCE)
    answers: list[dict[str, Any]] = [{} for _ in range(AT_ONCE)]
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            answers[i] = clients[i].post(bodies[i], infno="2207").json()
        except BaseException as exc:  # reported to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(AT_ONCE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for c in clients:
        c.close()
    assert not errors, errors
    return answers


def test_two_settlements_of_one_visit_at_once_settle_it_once(flow_gateway: Gateway) -> None:
    """Each round: one answer infcode 0 and one -1 (refused as already settled — either
    it came second, "no unsettled fee lines", or it waited for the lock and found its
    lines settled meanwhile); one valid settlement of the visit, its fee line under that
    settlement, one "settle" posting, and the account down by the one settlement's
    account payment (acct_pay of the accepted answer), not twice that."""
    gw = flow_gateway
    client = gw.client("h1")
    for n in range(ROUNDS):
        mdtrt_id = _open_visit(client, f"RACE{n}{client.new_msgid()[-8:]}")
        with gw.engine.connect() as c:
            before = c.execute(select(AccountRow.balance).where(AccountRow.psn_no == P1[0]))
            balance_before = before.scalar_one()
        answers = _settle_at_once(gw, mdtrt_id)
        accepted = [a for a in answers if a["infcode"] == 0]
        refused = [a for a in answers if a["infcode"] == -1]
        assert len(accepted) == 1 and len(refused) == AT_ONCE - 1, answers
        assert all(
            "no unsettled fee lines" in a["err_msg"] or "另一笔结算请求" in a["err_msg"]
            for a in refused
        ), [a["err_msg"] for a in refused]
        setlinfo = accepted[0]["output"]["setlinfo"]
        with gw.engine.connect() as c:
            settlements = c.execute(
                select(SettlementRow.setl_id).where(
                    SettlementRow.mdtrt_id == mdtrt_id, SettlementRow.status == "valid"
                )
            ).all()
            lines = c.execute(
                select(FeeLineRow.setl_id, FeeLineRow.status).where(FeeLineRow.mdtrt_id == mdtrt_id)
            ).all()
            postings = c.execute(
                select(func.count())
                .select_from(LedgerPostingRow)
                .where(LedgerPostingRow.setl_id == setlinfo["setl_id"])
            ).scalar_one()
            balance = c.execute(
                select(AccountRow.balance).where(AccountRow.psn_no == P1[0])
            ).scalar_one()
        assert [s.setl_id for s in settlements] == [setlinfo["setl_id"]]
        assert [(x.setl_id, x.status) for x in lines] == [(setlinfo["setl_id"], "settled")]
        assert postings == 1
        assert balance_before - balance == int(Decimal(setlinfo["acct_pay"]) * 100)
