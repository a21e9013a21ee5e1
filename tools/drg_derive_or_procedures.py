"""Derive the OR-procedure list (手术室手术) of a DRG table set from its ADRG tables.

The CHS-DRG 1.1 tables do not enumerate OR procedures. This writes, one per line, every
procedure code listed under at least one surgical ADRG (second letter A–J) of the detail
file, after the manifest's errata, with the ADRGs that list it as a comment. The output
is data: replace it with an authoritative list (the 医保版 ICD-9-CM-3 operation type)
when one is available. Deterministic: rerunning gives a byte-identical file.

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
        "# Not an official list: every procedure code listed under at least one surgical",
        f"# ADRG (second letter A-J) of {manifest['tables']}/{detail_name}, after the errata.",
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
