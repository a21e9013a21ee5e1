"""The HTML report of a simulation: one self-contained file, charts as inline SVG.

:func:`render_report` takes the JSON-ready summary of ``services.sim`` and fills
``data/report/template.html``. No script and no external resource is used, so the page
works offline and prints. Money is integer fen, shown as yuan with thousands separators;
no float touches an amount (chart geometry is the only arithmetic in floats).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from string import Template
from typing import Any

from medroam import __version__

PALETTE = ("#2f6fab", "#e07b39", "#3c9d5d", "#8e5ea2", "#c94f4f", "#6b7b8c")
WARNINGS_SHOWN = 60  # rows of the prepayment warnings table; the note says how many in all
# The what-if's "monthly" and the prepayment section count warnings differently.
WHATIF_VS_RUN = (
    "Its warnings are not the prepayment section's: there each pair's warning is one "
    "month's cleared amount ÷ quota (domain-rules §4.3), month by month; here it is the "
    "peak of the balance left uncleared over a steady-state year, which also carries the "
    "days from settlement to the clearing application, so the monthly row counts "
    "provinces and pairs at their worst day, not warnings per month."
)
CYCLE_LABELS = {"daily": "日清算", "monthly": "月清算", "quarterly": "季清算", "annual": "年清算"}


def yuan(fen: int) -> str:
    """Fen as yuan with thousands separators: ``-1,234.56``."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"


def wan_yuan(fen: int) -> str:
    """Fen as 万元 with 2 decimals (rounded half away from zero)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    hundredths = (fen + 50) // 100  # yuan, rounded
    wan = (hundredths * 100 + 5_000) // 10_000  # hundredths of 万
    return f"{sign}{wan // 100:,}.{wan % 100:02d}万"


APPLICATION_OUTCOMES = {"applied": "已受理 accepted", "refused": "被拒绝 refused"}


def application_counts(counts: Mapping[str, int]) -> str:
    """The 3203 tally in words, e.g. "已受理 accepted 730, 被拒绝 refused 0"."""
    return ", ".join(
        f"{label} {counts.get(key, 0):,}" for key, label in APPLICATION_OUTCOMES.items()
    )


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


# --- SVG charts --------------------------------------------------------------------------------


def hbar_chart(
    title: str,
    rows: Sequence[tuple[str, Sequence[int]]],
    series: Sequence[str],
    *,
    unit: str = "",
    width: int = 540,
) -> str:
    """Horizontal stacked bars: one row per label, one segment per series."""
    bar_h, gap, left, top = 16, 6, 116, 40
    height = top + len(rows) * (bar_h + gap) + 24
    biggest = max((sum(v) for _, v in rows), default=0) or 1
    scale = (width - left - 70) / biggest
    out = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" '
        f'aria-label="{_e(title)}"><text class="title" x="0" y="14">{_e(title)}</text>'
    ]
    x = left
    for n, name in enumerate(series):
        out.append(
            f'<rect x="{x}" y="22" width="10" height="10" fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="31">{_e(name)}</text>'
        )
        x += 14 + 8 * len(name) + 24
    for i, (label, values) in enumerate(rows):
        y = top + i * (bar_h + gap)
        out.append(f'<text x="{left - 6}" y="{y + bar_h - 4}" text-anchor="end">{_e(label)}</text>')
        x0 = float(left)
        for n, v in enumerate(values):
            w = v * scale
            if w > 0:
                out.append(
                    f'<rect x="{x0:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                    f'fill="{PALETTE[n % len(PALETTE)]}"><title>{_e(label)} {_e(series[n])}: '
                    f"{v:,}{_e(unit)}</title></rect>"
                )
            x0 += w
        out.append(f'<text x="{x0 + 4:.1f}" y="{y + bar_h - 4}">{sum(values):,}{_e(unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def diverging_chart(
    title: str, rows: Sequence[tuple[str, int]], *, width: int = 540, fmt: Any = wan_yuan
) -> str:
    """Horizontal bars around zero (receivable right in green, payable left in red)."""
    bar_h, gap, top = 14, 5, 30
    label_w = 116
    height = top + len(rows) * (bar_h + gap) + 12
    biggest = max((abs(v) for _, v in rows), default=0) or 1
    mid = label_w + (width - label_w) / 2
    scale = ((width - label_w) / 2 - 60) / biggest
    out = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" '
        f'aria-label="{_e(title)}"><text class="title" x="0" y="14">{_e(title)}</text>',
        f'<line class="axis" x1="{mid:.1f}" y1="{top - 4}" x2="{mid:.1f}" y2="{height - 8}"/>',
    ]
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = abs(value) * scale
        x = mid if value >= 0 else mid - w
        color = "#3c9d5d" if value >= 0 else "#c94f4f"
        out.append(
            f'<text x="{label_w - 6}" y="{y + bar_h - 3}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{max(w, 0.5):.1f}" height="{bar_h}" fill="{color}">'
            f"<title>{_e(label)}: {_e(fmt(value))}</title></rect>"
        )
        tx = x + w + 4 if value >= 0 else x - 4
        anchor = "start" if value >= 0 else "end"
        out.append(
            f'<text x="{tx:.1f}" y="{y + bar_h - 3}" text-anchor="{anchor}">{_e(fmt(value))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def column_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    unit: str = "",
    lines: Sequence[tuple[float, str]] = (),
    width: int = 540,
    height: int = 260,
    fmt: str = "{:,.0f}",
    clip: float | None = None,
) -> str:
    """Grouped vertical bars with optional horizontal reference lines (e.g. 70 %, 90 %);
    bars above ``clip`` are drawn at ``clip`` with a break mark (their label is exact)."""
    left, right, top, bottom = 48, 12, 44, 36
    values = [v for _, vs in series for v in vs if v is not None]
    if clip is not None:
        values = [min(v, clip) for v in values]
    biggest = max([*values, *(value for value, _ in lines), 0.0]) or 1.0
    plot_h = height - top - bottom
    scale = plot_h / (biggest * 1.1)
    group_w = (width - left - right) / max(len(categories), 1)
    bar_w = min(36.0, (group_w - 12) / max(len(series), 1))
    base = height - bottom
    out = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img" '
        f'aria-label="{_e(title)}"><text class="title" x="0" y="14">{_e(title)}</text>'
    ]
    x = float(left)
    for n, (name, _) in enumerate(series):
        out.append(
            f'<rect x="{x:.0f}" y="22" width="10" height="10" fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{x + 14:.0f}" y="31">{_e(name)}</text>'
        )
        x += 14 + 7 * len(name) + 24
    out.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"/>')
    for c, category in enumerate(categories):
        gx = left + c * group_w + (group_w - bar_w * len(series)) / 2
        for n, (name, vs) in enumerate(series):
            v = vs[c]
            if v is None:
                continue
            clipped = clip is not None and v > clip
            h = (clip if clipped and clip is not None else v) * scale
            bx = gx + n * bar_w
            out.append(
                f'<rect x="{bx:.1f}" y="{base - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[n % len(PALETTE)]}"><title>{_e(category)} {_e(name)}: '
                f"{_e(fmt.format(v))}{_e(unit)}</title></rect>"
                f'<text x="{bx + (bar_w - 2) / 2:.1f}" y="{base - h - 3:.1f}" '
                f'text-anchor="middle">{_e(fmt.format(v))}</text>'
            )
            if clipped:
                out.append(
                    f'<path d="M{bx:.1f} {base - h + 8:.1f} l{bar_w - 2:.1f} -6 v4 '
                    f'l-{bar_w - 2:.1f} 6 z" fill="#fff"/>'
                )
        out.append(
            f'<text x="{left + c * group_w + group_w / 2:.1f}" y="{base + 16}" '
            f'text-anchor="middle">{_e(category)}</text>'
        )
    for n, (value, label) in enumerate(lines):  # on top of the bars
        y = base - value * scale
        tx, anchor = (left + 2, "start") if n % 2 == 0 else (width - right, "end")
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
            f'stroke="#c94f4f" stroke-dasharray="4 3"/>'
            f'<text x="{tx}" y="{y - 3:.1f}" text-anchor="{anchor}" fill="#c94f4f">'
            f"{_e(label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


# --- HTML pieces -------------------------------------------------------------------------------


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()
) -> str:
    num = set(numeric)
    head = "".join(
        f'<th class="n">{_e(h)}</th>' if i in num else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(v)}</td>' if i in num else f"<td>{_e(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cards(items: Sequence[tuple[str, object]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{_e(v)}</div><div class="k">{_e(k)}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def section(title: str, *parts: str) -> str:
    return f"<section><h2>{_e(title)}</h2>{''.join(parts)}</section>"


def note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _pct_value(text: str | None) -> float | None:
    return None if text is None else float(text.rstrip("%"))


def _days_value(text: str | None) -> float | None:
    return None if text is None else float(text)


# --- the report --------------------------------------------------------------------------------


def anomaly_section(a: Mapping[str, Any]) -> str:
    """智能监管: what was planted, and — once the audit ran — what it found of it."""
    found = a.get("evaluation", {}).get("families", {})
    rows = []
    for family, n in a["by_family"].items():
        e = found.get(family, {})
        rows.append(
            (
                family,
                n["planted"],
                n["refused"],
                e.get("precision", "—"),
                e.get("recall", "—"),
            )
        )
    institutions = a.get("evaluation", {}).get("institutions", [])
    return section(
        "智能监管 · 植入的违规 Planted anomalies and what the audit found",
        note(
            f"In {a['rate']:.0%} of the encounters one known violation was planted per "
            "encounter (SYNTHETIC), after the month was made clean against the shipped rule "
            f"library ({a['cleaned_lines']:,} lines and {a['cleaned_encounters']:,} "
            "encounters dropped); the truth is stored apart (sim_anomaly_truth). "
            "Not plantable with the shipped rules and catalogue: "
            f"{', '.join(a['not_plantable']) or 'none'}. A fraudulent institution's scheme "
            f"changes at least {a.get('fraud_min_bills', 1)} of its bills "
            "(--fraud-min-bills)."
        ),
        table(
            [
                "family 规则类别",
                "planted 植入",
                "refused at settlement 事中拒付",
                "precision 精确率",
                "recall 召回率",
            ],
            rows,
            numeric=(1, 2, 3, 4),
        ),
        table(
            ["fraudulent institution 问题机构", "scheme 方式", "rank 排名", "score 评分"],
            [
                (i["fixmedins_code"], i["scheme"], i.get("rank", "—"), i.get("score", "—"))
                for i in (institutions or a["institutions"])
            ],
            numeric=(2, 3),
        ),
    )


def render_report(summary: Mapping[str, Any], *, title: str = "medroam 异地就医结算模拟") -> str:
    """The whole HTML page for a ``services.sim`` summary."""
    s = summary
    period = s["period"]
    shape = s["shape"]
    setl = s["settlements"]
    advance = s["advance"]
    recon = s["reconciliation"]
    warnings = s["prepayment"]["warnings"]
    names = s.get("names", {})
    parts: list[str] = []

    parts.append(
        section(
            "概览 Overview",
            cards(
                [
                    ("simulated days 模拟天数", f"{period['start']} … {period['end']}"),
                    ("pooling regions 统筹区", s["nation"]["regions"]),
                    ("insured persons 参保人", f"{period['persons']:,}"),
                    ("hospitals 定点医院", f"{period['hospitals']:,}"),
                    ("settlements 结算人次", f"{setl['in_force']:,}"),
                    ("medical cost 医疗总费用", wan_yuan(setl["medfee_fen"])),
                    ("fund paid 基金支付", wan_yuan(setl["fund_fen"])),
                    ("fund payment ratio 基金支付比例", shape["fund_ratio"] or "—"),
                    (
                        "3201 balanced 对总账平",
                        f"{recon['balanced_3201']}/{recon['statements_3201']}",
                    ),
                    ("hospital advance days 垫支天数", advance["advance_days_weighted"] or "—"),
                    ("prepayment warnings 预警", len(warnings)),
                    ("refused calls 拒绝", sum(r["count"] for r in s["refusals"])),
                ]
            ),
            note(
                "All people, hospitals, policies and the catalogue are SYNTHETIC (合成数据). "
                "Every settlement went through the real gateway over HTTP; reconciliation and "
                "clearing ran on what it stored."
            ),
        )
    )

    parts.append(
        section(
            "与公开数据的形态对比 Shape against the published figures",
            table(
                [
                    "figure",
                    "achieved 模拟结果",
                    "simulator's target 模拟目标 (set from the 2021 Jan–Oct published figures)",
                ],
                [
                    (
                        "outpatient : inpatient person-times 门诊:住院人次",
                        f"{shape['outpatient_per_inpatient']} : 1",
                        f"{shape['outpatient_per_inpatient_target']} : 1 (700.03万 : 363.68万)",
                    ),
                    (
                        "mean outpatient bill 门诊次均费用",
                        yuan(shape["outpatient_mean_fen"]),
                        yuan(shape["outpatient_mean_target_fen"]),
                    ),
                    (
                        "mean inpatient bill 住院次均费用",
                        yuan(shape["inpatient_mean_fen"]),
                        yuan(shape["inpatient_mean_target_fen"]),
                    ),
                    (
                        "inpatient ÷ outpatient cost per visit 次均费用比",
                        shape["inpatient_per_outpatient_cost_per_visit"],
                        shape["inpatient_per_outpatient_cost_per_visit_target"],
                    ),
                    (
                        "inpatient ÷ outpatient total cost 总费用比",
                        shape["inpatient_per_outpatient_total_cost"],
                        "≈ 50 (880.35亿 : 17.52亿)",
                    ),
                    (
                        "fund payment ratio 基金支付比例",
                        shape["fund_ratio"],
                        shape["fund_ratio_target"],
                    ),
                    ("… inpatient 住院", shape["fund_ratio_inpatient"], "58.0%"),
                    (
                        "… outpatient, funds + personal accounts 门诊(含个账)",
                        shape["fund_and_account_ratio_outpatient"],
                        "54.9%",
                    ),
                    ("… outpatient, funds only 门诊(统筹)", shape["fund_ratio_outpatient"], "—"),
                ],
                numeric=(1,),
            ),
            note(
                "Published: domain-rules §8 (新浪财经/第一财经 2021-11-25). The ratio of "
                "person-times and the bills' sizes are drawn to match; the fund share is what "
                "the synthetic policies of each place of insurance paid on those bills."
            ),
        )
    )

    reasons = [r for r in s["reasons"] if r["outpatient"] or r["inpatient"]]
    parts.append(
        section(
            "谁在异地就医 Who is treated away from home, and why",
            table(
                ["reason", "理由", "outpatient", "inpatient", "medical cost", "fund ratio"],
                [
                    (
                        r["english"],
                        r["label"],
                        r["outpatient"],
                        r["inpatient"],
                        yuan(r["medfee_fen"]),
                        r["fund_ratio"] or "—",
                    )
                    for r in reasons
                ],
                numeric=(2, 3, 4, 5),
            ),
            note(
                f"{setl['inter_province']:,} inter-province (跨省) and "
                f"{setl['intra_province']:,} intra-province (省内异地) settlements; "
                f"{setl['cancelled']} cancelled by the hospital (2208/2305); "
                f"{setl['open_stays']} patients still in hospital at the end."
            ),
        )
    )

    provinces = s["provinces"]
    treated = sorted(
        (p for p in provinces if p["treated_outpatient"] or p["treated_inpatient"]),
        key=lambda p: -(p["treated_outpatient"] + p["treated_inpatient"]),
    )
    insured = sorted(
        (p for p in provinces if p["insured_outpatient"] or p["insured_inpatient"]),
        key=lambda p: -(p["insured_outpatient"] + p["insured_inpatient"]),
    )
    parts.append(
        section(
            "各省就医人次 Volumes by province",
            '<div class="grid2">',
            hbar_chart(
                "treated in 就医省 (person-times)",
                [(p["name"], (p["treated_outpatient"], p["treated_inpatient"])) for p in treated],
                ["outpatient 门诊", "inpatient 住院"],
            ),
            hbar_chart(
                "insured in 参保省 (person-times)",
                [(p["name"], (p["insured_outpatient"], p["insured_inpatient"])) for p in insured],
                ["outpatient 门诊", "inpatient 住院"],
            ),
            "</div>",
        )
    )

    runs = s["clearing"]
    positions = sorted(
        ((p["name"], p["net_fen"]) for p in provinces if p["net_fen"]), key=lambda r: -r[1]
    )
    parts.append(
        section(
            "清算 Clearing",
            table(
                ["run", "lines", "cleared", "hospitals apply on", "paid by"],
                [
                    (
                        r["run_id"],
                        r["line_count"],
                        yuan(r["amount_fen"]),
                        r["hospitals_apply_on"],
                        r["hospitals_paid_by"],
                    )
                    for r in runs
                ],
                numeric=(1, 2),
            ),
            table(
                ["fund line 基金", "cleared"],
                [(k, yuan(v)) for r in runs for k, v in sorted(r["fund_lines"].items())],
                numeric=(1,),
            ),
            diverging_chart("net clearing position by province 净清算头寸 (+ receives)", positions),
            note(
                f"Reconciliation: {recon['balanced_3201']} of {recon['statements_3201']} "
                f"hospital statements (3201) balanced; clearing applications (3203): "
                f"{application_counts(recon['applications_3203'])}; "
                f"{recon['confirmed_items']:,} items proposed by "
                "the places of treatment and confirmed by the places of insurance."
            ),
        )
    )

    parts.append(
        section(
            "预付金 Prepayment",
            note(
                f"{s['prepayment']['quotas']} quotas issued (national and provincial): 2 months of "
                "last year's monthly average, last year being this period's pace ÷ (1 + growth), "
                "the growth drawn "
                + s["prepayment"].get("growth_model", "per province pair")
                + ". Usage = the month's clearing ÷ quota; ≥ 70 % yellow, ≥ 90 % red with an "
                "emergency top-up. "
                + (
                    f"Showing the first {WARNINGS_SHOWN} of {len(warnings)} warnings "
                    f"(显示 {WARNINGS_SHOWN} / {len(warnings)} 条)."
                    if len(warnings) > WARNINGS_SHOWN
                    else f"All {len(warnings)} warnings shown."
                )
            ),
            table(
                [
                    "level",
                    "payer",
                    "payee",
                    "month",
                    "cleared",
                    "quota",
                    "usage",
                    "warning",
                    "top-up",
                ],
                [
                    (
                        w["level"],
                        names.get(w["payer"], w["payer"]),
                        names.get(w["payee"], w["payee"]),
                        w["month"],
                        yuan(w["cleared_fen"]),
                        yuan(w["quota_fen"]),
                        w["usage_rate"] or "—",
                        w["warning"],
                        yuan(w["topup_fen"]),
                    )
                    for w in warnings[:WARNINGS_SHOWN]
                ],
                numeric=(4, 5, 6, 8),
            )
            if warnings
            else note("No yellow or red warning."),
        )
    )

    top = advance["payments"][:15]
    parts.append(
        section(
            "医院垫支 Hospital advances",
            note(
                f"Weighted mean {advance['advance_days_weighted']} days from settlement to "
                f"payment (median hospital {advance['advance_days_median']}, longest "
                f"{advance['advance_days_max']}) for {advance['hospitals']} hospitals under "
                "the monthly cycle: the hospital applies after the month and is paid within "
                "30 working days."
            ),
            table(
                ["hospital", "region", "advanced", "settlements", "applied", "due", "days"],
                [
                    (
                        names.get(p["fixmedins_code"], p["fixmedins_code"]),
                        names.get(p["treatment_region"], p["treatment_region"]),
                        yuan(p["amount_fen"]),
                        p["settlements"],
                        p["applied_on"],
                        p["due_on"],
                        p["advance_days"],
                    )
                    for p in top
                ],
                numeric=(2, 3, 6),
            ),
        )
    )

    whatif = s["whatif"]
    if whatif:
        cats = [f"{w['cycle']} {CYCLE_LABELS.get(w['cycle'], '')}" for w in whatif]
        parts.append(
            section(
                "缩短清算周期 What a shorter clearing cycle buys",
                note(
                    "The simulated days repeated over a year (steady state). Advance days: "
                    "settlement → payment (application after the period + 30 working days), "
                    "amount-weighted. Prepayment usage: the peak balance left uncleared ÷ the "
                    "quota — of all floats together, of each insuring province's floats, and "
                    "pair by pair (pairs with a handful of settlements a month are lumpy). "
                    + WHATIF_VS_RUN
                ),
                table(
                    [
                        "cycle",
                        "advance days",
                        "min … max hospital",
                        "advanced, mean day",
                        "advanced, peak",
                        "usage, all floats",
                        "usage, worst province",
                        "usage, median province",
                        "provinces yellow / red",
                        "pairs yellow / red",
                    ],
                    [
                        (
                            c,
                            w["advance_days"],
                            f"{w['advance_days_min']} … {w['advance_days_max']}",
                            wan_yuan(w["advanced_mean_fen"]),
                            wan_yuan(w["advanced_peak_fen"]),
                            w["prepay_usage_all"] or "—",
                            w["prepay_usage_province_max"] or "—",
                            w["prepay_usage_province_median"] or "—",
                            f"{w['prepay_provinces_yellow']} / {w['prepay_provinces_red']}",
                            f"{w['prepay_pairs_yellow']} / {w['prepay_pairs_red']} of "
                            f"{w['prepay_pairs']}",
                        )
                        for c, w in zip(cats, whatif, strict=True)
                    ],
                    numeric=(1, 3, 4, 5, 6, 7),
                ),
                '<div class="grid2">',
                column_chart(
                    "hospital advance days 垫支天数",
                    cats,
                    [("amount-weighted", [_days_value(w["advance_days"]) for w in whatif])],
                    unit=" days",
                    fmt="{:,.1f}",
                ),
                column_chart(
                    "prepayment usage 预付金使用率 (%)",
                    cats,
                    [
                        ("all floats", [_pct_value(w["prepay_usage_all"]) for w in whatif]),
                        (
                            "worst province",
                            [_pct_value(w["prepay_usage_province_max"]) for w in whatif],
                        ),
                    ],
                    unit="%",
                    lines=[(70.0, "70% yellow"), (90.0, "90% red")],
                    clip=300.0,
                ),
                column_chart(
                    "hospitals' money advanced, not yet paid 医院垫付余额 (万元)",
                    cats,
                    [
                        ("average day", [w["advanced_mean_fen"] / 1e6 for w in whatif]),
                        ("peak", [w["advanced_peak_fen"] / 1e6 for w in whatif]),
                    ],
                    unit="万",
                    fmt="{:,.1f}",
                ),
                "</div>",
            )
        )

    if s.get("anomalies"):
        parts.append(anomaly_section(s["anomalies"]))

    gw = s["gateway"]
    refusals = s["refusals"]
    parts.append(
        section(
            "网关 Gateway",
            note(
                f"{gw['calls']:,} calls over HTTP from {gw['concurrency']} concurrent HIS "
                f"workers, {gw['calls_per_second']} calls/s; latency p50 {gw['p50_ms']} ms, "
                f"p99 {gw['p99_ms']} ms."
            ),
            table(["infno", "calls"], [(k, v) for k, v in gw["by_infno"].items()], numeric=(1,)),
            table(
                ["infno", "refusal", "count", "example"],
                [(r["infno"], r["reason"], r["count"], r["example"]) for r in refusals[:20]],
                numeric=(2,),
            )
            if refusals
            else note("No call was refused."),
            note("Timings (s): " + ", ".join(f"{k} {v}" for k, v in s["timings"].items())),
        )
    )
    template = Template(
        (resources.files("medroam") / "data" / "report" / "template.html").read_text("utf-8")
    )
    return template.substitute(
        title=_e(title),
        subtitle=_e(
            f"seed {s['seed']} · {period['start']} … {period['end']} ({period['days']} days) · "
            f"{s['nation']['regions']} pooling regions in {s['nation']['provinces']} provinces · "
            "SYNTHETIC data"
        ),
        body="\n".join(parts),
        footer=_e(f"medroam {__version__} · generated from synthetic data · no external resources"),
    )
