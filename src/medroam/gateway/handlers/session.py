"""9001 签到 (sign-in) and 9002 签退 (sign-out), national-interface §4.1 and §2.7.

A sign-in issues a ``sign_no`` that the HIS puts in later envelopes; the dispatcher checks
it when present (and requires it in regions configured strict). Sign-out closes it; it is
allowed only on the day of the sign-in (local time), and only once.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from medroam.gateway.errors import BusinessError, ForbiddenError, InputError
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.gateway.settings import CHINA_TZ
from medroam.store.tables import SignInRow

_DT = "%Y-%m-%d %H:%M:%S"


def new_sign_no(ctx: RequestContext) -> str:
    """yyyyMMddHHmmss + 12 random digits (26 characters, within C(30))."""
    return f"{local_now(ctx):%Y%m%d%H%M%S}{secrets.randbelow(10**12):012d}"


def local_now(ctx: RequestContext) -> datetime:
    return ctx.now.astimezone(CHINA_TZ)


@handler("9001", "签到", state_changing=True)
def sign_in(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    node = inp.node("signIn")
    opter_no = node.text("opter_no", max_len=30)
    mac = node.text("mac", required=False, max_len=40)
    ip = node.text("ip", max_len=40)
    row = SignInRow(
        sign_no=new_sign_no(ctx),
        fixmedins_code=ctx.institution.code,
        opter_no=opter_no,
        mac=mac,
        ip=ip,
        signed_in_at=ctx.now,
        signed_out_at=None,
    )
    ctx.session.add(row)
    ctx.session.flush()
    return {"signinoutb": {"sign_time": local_now(ctx).strftime(_DT), "sign_no": row.sign_no}}


@handler("9002", "签退", state_changing=True)
def sign_out(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    node = inp.node("signOut")
    sign_no = node.text("sign_no", max_len=30)
    opter_no = node.text("opter_no", max_len=30)
    row = ctx.session.get(SignInRow, sign_no, with_for_update=True)
    if row is None or row.fixmedins_code != ctx.institution.code:
        raise ForbiddenError(f"input.signOut.sign_no: no sign-in {sign_no} of this institution")
    if row.opter_no != opter_no:
        raise InputError(
            f"input.signOut.opter_no: sign-in {sign_no} belongs to operator {row.opter_no}, "
            f"not {opter_no}"
        )
    if row.signed_out_at is not None:
        raise BusinessError(
            f"sign-in {sign_no} was already signed out at "
            f"{row.signed_out_at.astimezone(CHINA_TZ):{_DT}}"
        )
    signed_in_day = row.signed_in_at.astimezone(CHINA_TZ).date()
    if signed_in_day != local_now(ctx).date():
        raise BusinessError(
            f"sign-in {sign_no} was made on {signed_in_day}: sign-out is only allowed on "
            "the day of the sign-in"
        )
    row.signed_out_at = ctx.now
    return {"signoutoutb": {"sign_time": local_now(ctx).strftime(_DT)}}
