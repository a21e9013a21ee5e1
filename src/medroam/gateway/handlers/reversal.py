"""2601 冲正交易 (national-interface §4.8): undo 2207/2304/2401/2208/2305 by msgid."""

from __future__ import annotations

from medroam.gateway.handlers.outpatient import place_of
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.services import reversal


@handler("2601", "冲正交易", state_changing=True)
def reverse(ctx: RequestContext, inp: Node) -> None:
    data = inp.node("data")
    reversal.reverse_message(
        ctx.session,
        place_of(ctx),
        ctx.institution,
        ctx.now,
        psn_no=data.text("psn_no", required=False, max_len=30),
        omsgid=data.text("omsgid", max_len=40),
        oinfno=data.text("oinfno", max_len=6),
        msgid=ctx.envelope.msgid,
    )
    return None
