from __future__ import annotations

import csv
import io
import json

from medroam.domain.clearing.statements import (
    Section,
    Statement,
    render_csv,
    render_html,
    render_json,
)

S = Statement(
    "CLR-monthly-2026-10-all",
    "province",
    "110000",
    "省级清算 110000 北京市 <x>",
    {"net_fen": -1234567, "period": "monthly 2026-10"},
    (Section("regions", "Regions", ("region", "net_fen"), (("110100", -1234567),)),),
)


def test_csv_json_html() -> None:
    rows = list(csv.reader(io.StringIO(render_csv(S))))
    assert ["summary", "net_fen", "-12345.67"] in rows and [
        "regions",
        "110100",
        "-12345.67",
    ] in rows
    data = json.loads(render_json(S))
    assert data["summary"]["net_fen"] == {"fen": -1234567, "yuan": "-12345.67"}
    assert data["sections"][0]["rows"][0]["region"] == "110100"
    html = render_html(S)
    assert "&lt;x&gt;" in html and '<td class="n neg">-12345.67</td>' in html
