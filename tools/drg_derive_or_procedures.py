"""Derive the OR-procedure list (手术室手术) of a DRG table set from its ADRG tables.

The CHS-DRG 1.1 tables do not enumerate OR procedures. This writes, one per line, every
procedure code that ``medroam.refdata.drg.derive_or_procedures`` takes as an OR procedure
(listed by a surgical ADRG, second letter A–J, that is an operation group; not the 介入操作
half of a "…伴介入操作" group; outside ICD-9-CM-3 chapter 87–99 unless MDCA lists it;
not filed under 非手术室操作 by a K–Q group while only multi-system groups list it),
after the manifest's errata, with the ADRGs that list it as a comment. The output is
data: replace it with an authoritative list (the 医保版 ICD-9-CM-3 operation type) when
one is available. Deterministic: rerunning gives a byte-identical file.

    python tools/drg_derive_or_procedures.py [--manifest PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medroam.refdata.drg import apply_errata, derive_or_procedures, parse_detail

DATA = Path(__file__).resolve().parents[1] / "src" / "medroam" / "data" / "drg"


def render(manifest_path: Path) -> str:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    tables = manifest_path.parent / manifest["tables"]
    detail_name = manifest["files"]["detail"]
    detail = parse_detail((tables / detail_name).read_text(encoding="utf-8"), detail_name)
    apply_errata(detail, manifest.get("errata", []), manifest_path.name)
    derived = derive_or_procedures(detail)
    lines = [
        f"# OR procedures (手术室手术) of {manifest['scheme']} {manifest['version']}, DERIVED.",
        "# Not an official list: every procedure code listed under a surgical ADRG (second",
        "# letter A-J) that is an operation group (not a 治疗 group: RB1 RB2 RC1 RD1 RE1 RG1",
        "# BE2 FD3), not in the 介入操作 list of FE1/FF2, outside ICD-9-CM-3 chapter 87-99",
        "# unless an MDCA ADRG lists it, and not a code that a K-Q group (非手术室操作) files",
        "# while only the multi-system groups PJ1 QJ1 RA1-RA4 VJ1 ZJ1 list it as surgical,",
        f"# from {manifest['tables']}/{detail_name} after the errata.",
        "# Written by tools/drg_derive_or_procedures.py; see data/drg/SOURCE.md and",
        "# docs/drg.md. Replace with an authoritative list when one is available.",
        f"# {len(derived)} codes. Format: code, then '#' and the ADRGs that list it.",
    ]
    lines += [f"{code}  # {' '.join(adrgs)}" for code, adrgs in derived.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--manifest", type=Path, default=DATA / "chs-drg-1.1.scheme.json")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = (
        args.out
        or args.manifest.parent
        / json.loads(args.manifest.read_text(encoding="utf-8"))["or_procedures"]
    )
    out.write_text(render(args.manifest), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
