"""Write the SYNTHETIC DRG payment parameter files of two fictitious regions.

Weights come from calibrating a synthetic year (``domain.drg.synthetic.historical_year``,
seeded) grouped with the packaged CHS-DRG 1.1; the base rate and point value from a
synthetic budget. Region 620100 uses the rate method with a cross-region coefficient;
region 440300 the point method with a separate cross-region table and other thresholds,
so tests can show that nothing is hard-coded. Deterministic: rerunning gives
byte-identical files.

    python tools/drg_gen_payment.py
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from medroam.domain.drg.grouper import group
from medroam.domain.drg.payment import Calibration, base_rate, calibrate
from medroam.domain.drg.synthetic import historical_year
from medroam.refdata.drg import load_scheme

OUT = Path(__file__).resolve().parents[1] / "src" / "medroam" / "data" / "drg" / "payment"


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def p4(v: int) -> str:
    return str((Decimal(v) / 10_000).quantize(Decimal("0.0001")))


def standards(cal: Calibration, rw_factor: int = 10_000) -> dict[str, Any]:
    return {
        "overall_mean": yuan(cal.standards.overall_mean),
        "groups": {
            d: {"rw": p4(g.rw * rw_factor // 10_000), "mean_cost": yuan(g.mean_cost)}
            for d, g in cal.standards.groups.items()
        },
    }


def regions(cal: Calibration, counts: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    budget = 1_200_000_000_00  # ¥1.2 bn in fen
    rate = base_rate(budget, counts, cal.standards)
    common = {"_synthetic": "SYNTHETIC parameters written by tools/drg_gen_payment.py"}
    return {
        "620100-2025": {
            **common,
            "region": "620100",
            "year": 2025,
            "method": "rate",
            "base_rate": yuan(rate),
            "level_coefficients": {"3": "1.0500", "2": "0.9500", "1": "0.8500"},
            "cross_region": {"mode": "coefficient", "coefficient": "0.9800"},
            "min_los": 2,
            "max_los": 60,
            "standards": standards(cal),
        },
        "440300-2025": {
            **common,
            "region": "440300",
            "year": 2025,
            "method": "points",
            # a point is worth the base rate ÷ 100 (¥ per point, 6 decimals, exact)
            "point_value": str((Decimal(rate) / 10_000).quantize(Decimal("0.000001"))),
            "level_coefficients": {"3": "1.1000", "2": "1.0000", "1": "0.9000"},
            "cross_region": {
                "mode": "separate_table",
                "standards": standards(cal, 10_300),
                "include_inter_province": True,
                "clearing_basis": "drg",
            },
            "outliers": {
                "high": [{"max_base_points": None, "threshold": "2.0000"}],
                "low": "0.5000",
                "inclusive": False,
            },
            "min_los": 1,
            "max_los": 90,
            "readmission": {"window_days": 30, "action": "flag"},
            "budget": {"amount": yuan(budget), "holdback": "0.0500", "advance_ratio": "0.9000"},
            "standards": standards(cal),
        },
    }


def write(out: Path = OUT) -> list[Path]:
    """Write both files into ``out``; returns their paths."""
    scheme = load_scheme()
    year = historical_year(scheme, seed=2024, n=60_000, year=2024)
    pairs = [(group(h.case, scheme).drg, h.total_cost) for h in year]
    cal = calibrate(pairs)
    paths = []
    for name, doc in regions(cal, cal.counts).items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    for path in write():
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
