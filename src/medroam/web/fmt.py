"""How the console shows values to a person: yuan with thousands separators, China time,
codes with their Chinese names, masked identity numbers. Never a Python repr."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache

from medroam.refdata.code_tables import CodeTables, load_code_tables
from medroam.refdata.regions import RegionTable, load_regions

CHINA_TZ = timezone(timedelta(hours=8), "CST")

ROLE_NAMES = {
    "insured_place": "参保地经办",
    "treatment_place": "就医地经办",
    "province": "省级",
    "nation": "国家级",
    "auditor": "审核员",
}
KIND_NAMES = {"inpatient": "住院", "outpatient": "普通门诊", "chronic": "门诊慢特病"}
STATUS_NAMES = {"valid": "有效", "cancelled": "已撤销", "voided": "已作废"}
FILING_TYPE_NAMES = {
    "LT_RETIRED": "异地长期居住（退休）",
    "LT_RESIDENT": "异地长期居住（常驻）",
    "LT_WORKER": "常驻异地工作",
    "TMP_REFERRAL": "异地转诊",
    "TMP_EMERGENCY": "异地急诊抢救",
    "TMP_OTHER": "其他临时外出就医",
}
FILING_STATUS_NAMES = {"active": "有效", "cancelled": "已取消"}
FILING_EVENT_NAMES = {"created": "备案", "changed": "变更", "cancelled": "取消"}
# the operations log's actions (console forms and supervision case steps)
ACTION_NAMES = {
    "login": "登录",
    "create": "新增",
    "change": "变更",
    "cancel": "取消",
    "view": "查看",
    "post": "提交表单",
    "open": "立案",
    "start": "开始初审",
    "escalate": "提交复审",
    "notify": "告知机构",
    "expire": "申诉期满",
    "decide": "处理决定",
    "deduct": "拒付",
    "recover": "追回",
    "clear": "清算",
    "close": "结案",
    "refer": "移送",
    "comment": "意见",
    "step": "办理",
}

CHANNEL_NAMES = {
    "national_app": "国家医保服务平台App",
    "mini_program": "国家异地备案小程序",
    "gov_app": "国务院客户端小程序",
    "counter": "参保地窗口",
    "phone": "电话",
    "hospital": "医院代办",
}
OUTCOME_NAMES = {"done": "已完成", "refused": "已拒绝"}


def yuan(fen: int | None) -> str:
    """``123456789`` → ``1,234,567.89`` (exact; negative amounts keep their sign)."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def yuan_plain(fen: int) -> str:
    """``123456789`` → ``1234567.89`` (for CSV: no separators)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def ratio(ten_thousandths: int) -> str:
    """``7500`` → ``75.00%``."""
    whole, frac = divmod(ten_thousandths, 100)
    return f"{whole}.{frac:02d}%"


def china_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def china_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return china_time(value)[:10]
    return value.isoformat()


@cache
def _codes() -> CodeTables:
    return load_code_tables()


@cache
def _regions() -> RegionTable:
    return load_regions()


def code(type_: str, value: str | None) -> str:
    """``code("insutype", "310")`` → ``310 职工基本医疗保险``."""
    if value is None or value == "":
        return "—"
    try:
        label = _codes().label(type_, value)
    except KeyError:
        label = None
    return f"{value} {label}" if label else value


def region(value: str | None) -> str:
    """``110100`` → ``110100 北京市``."""
    if not value:
        return "—"
    found = _regions().get(value)
    return f"{value} {found.name}" if found else value


def region_name(value: str | None) -> str:
    found = _regions().get(value) if value else None
    return found.name if found else (value or "—")


def named(table: dict[str, str], value: str | None) -> str:
    if value is None:
        return "—"
    return table.get(value, value)


def mask_certno(certno: str | None) -> str:
    """``110101199001011234`` → ``110101********1234``."""
    if not certno:
        return "—"
    if len(certno) <= 10:
        return certno[:2] + "*" * (len(certno) - 2)
    return certno[:6] + "*" * (len(certno) - 10) + certno[-4:]


def mask_name(name: str | None) -> str:
    """``张三丰`` → ``张**``."""
    if not name:
        return "—"
    return name[0] + "*" * (len(name) - 1)


def show(value: object) -> str:
    """A stored value for a person: None as a dash, booleans as 是/否, never a repr."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (dict, list, tuple)):
        return "；".join(show(v) for v in (value.values() if isinstance(value, dict) else value))
    return str(value)


def changes_text(before: dict[str, object] | None, after: dict[str, object] | None) -> str:
    """``key：old → new`` for every value that changed (an operations-log entry)."""
    before, after = before or {}, after or {}
    keys = list(after or before)
    return "；".join(
        f"{k}：{show(before.get(k))} → {show(after.get(k))}"
        for k in keys
        if before.get(k) != after.get(k)
    )


_FILING_ERRORS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(
            r"long-term filing (\S+) cannot be (changed|cancelled) before (\S+): it must "
            r"stand (\d+) months from (\S+) "
        ),
        lambda m: (
            f"长期备案自 {m[5]} 起须保持 {m[4]} 个月，{m[3]} 起方可"
            f"{'变更' if m[2] == 'changed' else '取消'}（FIL-04）"
        ),
    ),
    (
        re.compile(r"already has an active long-term filing (\S+) \((\w+), to (\d{6})\)"),
        lambda m: (
            f"已有有效的长期备案 {m[1]}（{FILING_TYPE_NAMES.get(m[2], m[2])}，就医地 "
            f"{region(m[3])}），请变更或取消该备案，不能重复备案"
        ),
    ),
    (
        re.compile(r"filing (\S+) \((\w+)\) already covers (\d{6}) from (\S+) "),
        lambda m: (
            f"备案 {m[1]}（{FILING_TYPE_NAMES.get(m[2], m[2])}）已覆盖 {region(m[3])}"
            f"（{m[4]} 起），新的备案期间与之重叠"
        ),
    ),
    (
        re.compile(r"destination (\d{6}): filings name a province here.*use (\d{6})"),
        lambda m: f"参保地按省备案，就医地请填写省级代码 {region(m[2])}",
    ),
    (
        re.compile(r"destination (\d{6}): filings name a city here"),
        lambda m: "参保地按地市备案，就医地请填写地市代码，不能填写整个省",
    ),
    (
        re.compile(r"destination (\d{6}) (is the insured region itself|overlaps the insured)"),
        lambda m: "就医地不能与参保地相同或相互包含",
    ),
    (re.compile(r"is cancelled and cannot be changed"), lambda m: "该备案已取消，不能变更"),
    (re.compile(r"is already cancelled"), lambda m: "该备案已取消"),
    (re.compile(r"is insured in (\d{6}), not"), lambda m: f"参保地应为 {region(m[1])}"),
)


def filing_error(message: str) -> str:
    """A refusal of the filing rules (``FilingError``, written in English for logs and
    the API) in Chinese for a person; an unknown one keeps its text in parentheses:
    ``"long-term filing F1 cannot be cancelled before 2027-01-15: it must stand 6 months
    from 2026-07-15 (FIL-04)"`` → ``长期备案自 2026-07-15 起须保持 6 个月，2027-01-15 起方可
    取消（FIL-04）``."""
    for pattern, say in _FILING_ERRORS:
        found = pattern.search(message)
        if found:
            return say(found)
    return f"不符合参保地备案规则（{message}）"
