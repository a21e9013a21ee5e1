"""Catalogue downloads: 1301 西药中成药, 1305 医疗服务项目, 1306 医用耗材 (§3, §4.10).

The HIS sends ``input.data.ver``, the version it already holds (``"0"`` for none), and
gets ``file_qury_no``, ``filename`` and ``dld_endtime``; it then fetches the file with
9102 (``fixmedins_code`` ``"plc"``). The file is a ZIP holding one UTF-8 TXT file, one
item per line, TAB-separated, empty values written ``null``, no header line. Columns:

``med_list_codg, name, list_type, med_chrgitm_type, chrgitm_lv, selfpay_prop,
pric_uplmt_amt, lmt_used_flag, bas_medn_flag, hi_nego_drug_flag, list_sp_item_flag,
vali_flag, ver``

The rows are the catalogue in force at the caller's region (national list plus the
province's and the region's overrides): the one in the database, which settlement uses,
or the packaged one while the database holds none. ``ver`` is a digest of that content:
a client that sends the current ``ver`` gets an empty file (nothing newer), any other
``ver`` gets every row.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from medroam.domain.catalogue import PRICE_SCALE, CatalogueItem
from medroam.domain.money import ratio_to_decimal
from medroam.gateway.handlers.files import PUBLIC_OWNER, file_info, store_file, zip_table
from medroam.gateway.reader import Node
from medroam.gateway.registry import RequestContext, handler
from medroam.refdata.catalogue import load_catalogue
from medroam.store import refdata_cache
from medroam.store.refdata_loader import CATALOGUE

COLUMNS = (
    "med_list_codg",
    "name",
    "list_type",
    "med_chrgitm_type",
    "chrgitm_lv",
    "selfpay_prop",
    "pric_uplmt_amt",
    "lmt_used_flag",
    "bas_medn_flag",
    "hi_nego_drug_flag",
    "list_sp_item_flag",
    "vali_flag",
    "ver",
)
# infno → the list_type values its file holds.
LIST_TYPES: dict[str, frozenset[str]] = {
    "1301": frozenset({"101"}),  # 西药中成药
    "1305": frozenset({"201"}),  # 医疗服务项目
    "1306": frozenset({"301"}),  # 医用耗材
}
_PRICE = Decimal(1).scaleb(-6)


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _cells(item: CatalogueItem) -> list[Any]:
    cap = (
        (Decimal(item.price_cap) / PRICE_SCALE).quantize(_PRICE)
        if item.price_cap is not None
        else None
    )
    return [
        item.code,
        item.name,
        item.list_type,
        item.charge_type,
        item.level,
        ratio_to_decimal(item.selfpay_ratio),
        cap,
        _flag(item.restricted),
        _flag(item.essential),
        _flag(item.negotiated),
        _flag(item.special),
        "1",
    ]


def _download(ctx: RequestContext, inp: Node, infno: str) -> dict[str, Any]:
    data = inp.node("data") if inp.has("data") else Node({}, "input.data")
    held = data.text("ver", required=False, max_len=40) or "0"
    region = ctx.institution.region
    if refdata_cache.version(ctx.session, CATALOGUE) is not None:
        catalogue = refdata_cache.catalogue_for(ctx.session, region)
    else:
        catalogue = load_catalogue(region)
    items = sorted(
        (i for i in catalogue.items.values() if i.list_type in LIST_TYPES[infno]),
        key=lambda i: i.code,
    )
    rows = [_cells(i) for i in items]
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\t".join("" if c is None else str(c) for c in row).encode() + b"\n")
    ver = digest.hexdigest()[:16]
    if held == ver:
        rows = []
    name = f"{infno}_{ctx.institution.region}_{ver}"
    content = zip_table(f"{name}.txt", ([*row, ver] for row in rows))
    stored = store_file(ctx, f"{name}.zip", content, PUBLIC_OWNER)
    return {**file_info(stored), "data_cnt": len(rows), "ver": ver}


@handler("1301", "西药中成药目录下载", state_changing=True)
def download_drugs(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return _download(ctx, inp, "1301")


@handler("1305", "医疗服务项目目录下载", state_changing=True)
def download_services(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return _download(ctx, inp, "1305")


@handler("1306", "医用耗材目录下载", state_changing=True)
def download_consumables(ctx: RequestContext, inp: Node) -> dict[str, Any]:
    return _download(ctx, inp, "1306")
