"""Clearing statements (清算单) for every party, as CSV, JSON and readable HTML.

A statement is plain data: a title, the party, a few key figures and named tables of
rows. ``render_csv`` writes every table one after the other with a ``section`` column;
``render_json`` keeps the structure (amounts in fen and as yuan strings); ``render_html``
is a self-contained page with one table per section.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

from medroam.domain.money import format_yuan

AMOUNT_SUFFIX = "_fen"


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True, slots=True)
class Statement:
    run_id: str
    party_kind: str  # national | province | region | hospital
    party: str
    title: str
    figures: dict[str, Any] = field(default_factory=dict)
    sections: tuple[Section, ...] = ()

    @property
    def file_stem(self) -> str:
        return f"{self.party_kind}-{self.party}"


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column.endswith(AMOUNT_SUFFIX) and isinstance(value, int):
        return format_yuan(value)
    return str(value)


def render_csv(statement: Statement) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "key", "value"])
    for key, value in statement.figures.items():
        writer.writerow(["summary", key, _cell(key, value)])
    for section in statement.sections:
        writer.writerow([])
        writer.writerow(["section", *section.columns])
        for row in section.rows:
            writer.writerow(
                [section.name, *(_cell(c, v) for c, v in zip(section.columns, row, strict=True))]
            )
    return out.getvalue()


def _json_value(column: str, value: Any) -> Any:
    if column.endswith(AMOUNT_SUFFIX) and isinstance(value, int):
        return {"fen": value, "yuan": format_yuan(value)}
    return value


def as_dict(statement: Statement) -> dict[str, Any]:
    return {
        "run_id": statement.run_id,
        "party_kind": statement.party_kind,
        "party": statement.party,
        "title": statement.title,
        "summary": {k: _json_value(k, v) for k, v in statement.figures.items()},
        "sections": [
            {
                "name": s.name,
                "title": s.title,
                "rows": [
                    {c: _json_value(c, v) for c, v in zip(s.columns, row, strict=True)}
                    for row in s.rows
                ],
            }
            for s in statement.sections
        ],
    }


def render_json(statement: Statement) -> str:
    return json.dumps(as_dict(statement), ensure_ascii=False, indent=2) + "\n"


_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #bbb;padding:.25em .6em}th{background:#eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.neg{color:#b00}
"""


def render_html(statement: Statement) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(statement.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(statement.title)}</h1>",
        "<table>",
    ]
    for key, value in statement.figures.items():
        parts.append(f"<tr><th>{escape(key)}</th>{_html_cell(key, value)}</tr>")
    parts.append("</table>")
    for section in statement.sections:
        parts.append(f"<h2>{escape(section.title)}</h2>")
        if not section.rows:
            parts.append("<p>(none)</p>")
            continue
        parts.append("<table><tr>")
        parts.extend(f"<th>{escape(c)}</th>" for c in section.columns)
        parts.append("</tr>")
        for row in section.rows:
            parts.append("<tr>")
            parts.extend(_html_cell(c, v) for c, v in zip(section.columns, row, strict=True))
            parts.append("</tr>")
        parts.append("</table>")
    parts.append("<p>Amounts in yuan (元); positive net: receives, negative: pays.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_cell(column: str, value: Any) -> str:
    text = escape(_cell(column, value))
    if isinstance(value, int) and not isinstance(value, bool):
        css = "n neg" if value < 0 else "n"
        return f'<td class="{css}">{text}</td>'
    return f"<td>{text}</td>"


RENDERERS = {"csv": render_csv, "json": render_json, "html": render_html}
