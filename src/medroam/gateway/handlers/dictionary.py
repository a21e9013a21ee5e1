"""1901 字典表查询 (dictionary query), national-interface §4.4.

Answers from the packaged code tables (``medroam.refdata.code_tables``), one national set
for every region. Each row is written in snake_case, as one client model reads it, with
the camelCase duplicates HN prints (``parentValue``, ``valiFlag``, ``createUser``,
``createDate``): which the national platform emits is unconfirmed, and HIS parsers
ignore keys they do not know.
"""

from __future__ import annotations

from typing import Any

from medroam.gateway.errors import BusinessError
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.refdata.code_tables import FUND_FIELD_MAP_KEY, load_code_tables

DICT_VERSION = "1"
DICT_CREATOR = "medroam"


def _row(type_: str, sort: int, value: str, label: str) -> dict[str, Any]:
    return {
        "type": type_,
        "label": label,
        "value": value,
        "parent_value": "",
        "sort": sort,
        "vali_flag": "1",
        "create_user": DICT_CREATOR,
        "create_date": "",
        "version": DICT_VERSION,
        "parentValue": "",
        "valiFlag": "1",
        "createUser": DICT_CREATOR,
        "createDate": "",
    }


@handler("1901", "字典表查询", state_changing=False)
def dictionary_query(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    data = inp.node("data")
    type_ = data.text("type", max_len=30)
    data.region("admdvs", required=False)
    data.day("date", required=False)
    parent = data.text("parent_value", required=False, max_len=10)
    vali_flag = data.flag("vali_flag", default="1")
    tables = load_code_tables()
    if type_ == FUND_FIELD_MAP_KEY or type_ not in tables.types():
        known = ", ".join(tables.types()[:10])
        raise BusinessError(
            f"input.data.type: unknown dictionary type {type_!r} (known types include {known})"
        )
    rows: list[dict[str, Any]] = []
    if vali_flag == "1" and not parent:  # every value is valid and has no parent
        rows = [
            _row(type_, i, v.value, v.label) for i, v in enumerate(tables.values(type_), start=1)
        ]
    return {"list": rows}
