"""Load a DRG table set (packaged: CHS-DRG 1.1) into a compiled ``Scheme``.

A table set is a folder of the original files (``1_MDC.txt`` … ``7_CCE.txt``, the format
of OpenDRG/DRG_Rules, described in ``data/drg/SOURCE.md``) plus a manifest
``<name>.scheme.json`` beside it: the file names and checksums, the MDC order and entry
conditions, conditions that the tables write only in ADRG titles, an errata overlay
applied to the parsed sections (never to the files), the expected counts and the default
switches; and an OR-procedure list ``<name>.or-procedures.txt``. Another version or a
regional variant is another manifest with its folder, loaded the same way:

    scheme = load_scheme()                              # packaged CHS-DRG 1.1 (cached)
    scheme = load_scheme(Path("my-region.scheme.json"))  # a variant

Every problem raises ``ReferenceDataError`` naming the file, the record (line, ADRG,
table) and the field. Data quirks that are not errors (codes that reach no ADRG) are
returned as ``Scheme.notes``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from medroam.domain.drg import payment as pay
from medroam.domain.drg.payment import PaymentParams, YearBudget
from medroam.domain.drg.scheme import (
    AdrgRule,
    GrouperOptions,
    MdcRule,
    ProcedureExpression,
    QyMode,
    Scheme,
)
from medroam.refdata.errors import ReferenceDataError

PACKAGED_MANIFEST = "chs-drg-1.1.scheme.json"
_PACKAGED_LABEL = "medroam/data/drg"

# A code line starts with a letter and two digits followed by ".", "+", "*" or a space,
# or with two digits, "." and a digit (SOURCE.md §2).
_CODE_LINE = re.compile(r"(?:[A-Z][0-9]{2}[.+* ]|[0-9]{2}\.[0-9])")
_ADRG_TITLE = re.compile(r"([A-Z][A-Z][0-9]) (.*)")
_MDC_TITLE = re.compile(r"MDC([A-Z]) (.*)")
_DX = r"[A-Z][0-9]{2}\.[0-9x]+(?:\+[A-Z][0-9]{2}(?:\.[0-9x]+)?\*)?"
_CC_RECORD = re.compile(rf"(?<![A-Za-z0-9.])({_DX}) (.+?) (?:表 ?7-([0-9]+)|(无))(?= |$)")
_CCE_TOKEN = re.compile(rf"表 ?7-([0-9]+) 包含以下主要诊断：|(?<![A-Za-z0-9.])({_DX})(?= |$)")
_PROC_TABLE = re.compile(r"手术表 ?([0-9]+)：")
_EXPRESSION = re.compile(r"或?包含以下主要诊断(?:\+手术表 ?[0-9]+)+")

H_PDX = "包含以下主要诊断："
H_PX = "包含以下主要手术或操作："
H_BOTH_A = "同时包含以下手术："
H_AND = "和"
H_ANY_DX_P = "主要诊断或其他诊断中包含以下诊断："
H_ANY_DX = "包含以下诊断："
H_ALL_OR = ("全部手术", "包含全部手术")
H_NO_OR = "符合 MDCZ 主诊表，且无手术"
H_EXPR_PDX = "主要诊断："


@dataclass(slots=True)
class Block:
    """One header of a section and the codes listed under it (in file order)."""

    header: str
    line: int
    codes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Section:
    """An ADRG section, or an MDC's 主诊表, of the detail file."""

    code: str  # "BR2", or "MDCB" for a 主诊表
    title: str
    line: int
    blocks: list[Block] = field(default_factory=list)


@dataclass(slots=True)
class Detail:
    mdc_titles: dict[str, str]  # letter → title
    main_tables: dict[str, Section]  # letter → 主诊表
    adrgs: dict[str, Section]  # in file order
    adrg_mdc: dict[str, str]  # ADRG → MDC letter
    header_lines: int


def _err(file: str, where: str, fld: str, problem: str) -> ReferenceDataError:
    return ReferenceDataError(file, where, fld, problem)


# --- the simple list files ----------------------------------------------------------


def parse_code_names(text: str, file: str, pattern: re.Pattern[str]) -> dict[str, str]:
    """``CODE NAME`` lines; the code must match ``pattern``; no duplicates."""
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        code, _, name = line.partition(" ")
        if not pattern.fullmatch(code):
            raise _err(file, f"line {n}", "code", f"unexpected code {code!r}")
        if code in out:
            raise _err(file, f"line {n}", "code", f"{code!r} is listed twice")
        out[code] = name.strip()
    return out


# --- 4_ADRG_DETAIL.txt ---------------------------------------------------------------


def parse_detail(text: str, file: str) -> Detail:
    """Split the detail file into MDC 主诊表 and ADRG sections of header blocks."""
    mdc_titles: dict[str, str] = {}
    main_tables: dict[str, Section] = {}
    adrgs: dict[str, Section] = {}
    adrg_mdc: dict[str, str] = {}
    current: Section | None = None
    letter = ""
    headers = 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if _CODE_LINE.match(line):
            if current is None or not current.blocks:
                raise _err(file, f"line {n}", "code", f"code line outside a list: {line!r}")
            current.blocks[-1].codes.append(line.partition(" ")[0])
            continue
        m = _MDC_TITLE.fullmatch(line)
        if m:
            letter = m.group(1)
            if m.group(2).replace(" ", "") == "主诊表":
                if letter in main_tables:
                    raise _err(file, f"line {n}", "title", f"second 主诊表 of MDC{letter}")
                current = Section(f"MDC{letter}", "主诊表", n)
                main_tables[letter] = current
            else:
                if letter in mdc_titles:
                    raise _err(file, f"line {n}", "title", f"MDC{letter} appears twice")
                mdc_titles[letter] = m.group(2)
                current = None
            continue
        m = _ADRG_TITLE.fullmatch(line)
        if m and not line.endswith("："):
            code = m.group(1)
            if code in adrgs:
                raise _err(file, f"line {n}", "title", f"ADRG {code} appears twice")
            if not letter or code[0] != letter:
                raise _err(file, f"line {n}", "title", f"ADRG {code} outside MDC{code[0]}")
            current = Section(code, m.group(2), n)
            adrgs[code] = current
            adrg_mdc[code] = letter
            continue
        # a condition header
        if current is None:
            raise _err(file, f"line {n}", "header", f"header outside a section: {line!r}")
        headers += 1
        current.blocks.append(Block(line, n))
    return Detail(mdc_titles, main_tables, adrgs, adrg_mdc, headers)


def apply_errata(detail: Detail, errata: list[dict[str, Any]], file: str) -> list[str]:
    """Apply the manifest's errata to the parsed sections; each asserts it still applies.

    Returns the trauma-site overrides as ``code=site`` strings (handled by the caller).
    """
    overrides: list[str] = []
    for e in errata:
        eid = str(e.get("id", "?"))
        where = f"erratum {eid}"
        action = e.get("action")
        if action == "trauma_site":
            overrides.append(f"{e['code']}={e['site']}")
            continue
        code = str(e.get("adrg", ""))
        sec = detail.adrgs.get(code)
        if sec is None:
            raise _err(file, where, "adrg", f"no ADRG {code!r} to correct")
        if action == "add_code":
            blocks = [b for b in sec.blocks if b.header == e["header"]]
            if len(blocks) != 1:
                raise _err(file, where, "header", f"{code} has no single {e['header']!r}")
            if e["code"] in blocks[0].codes:
                raise _err(file, where, "code", f"{code} already lists {e['code']}: review")
            blocks[0].codes.append(str(e["code"]))
        elif action == "set_body_if_empty":
            if sec.blocks:
                raise _err(file, where, "body", f"{code} is no longer empty: review")
            sec.blocks = [Block(str(h), sec.line) for h in e["headers"]]
        elif action == "append_header":
            if any(b.header == e["header"] for b in sec.blocks):
                raise _err(file, where, "header", f"{code} already has {e['header']!r}")
            sec.blocks.append(Block(str(e["header"]), sec.line))
        elif action == "rename_headers":
            pairs = dict(zip(e["from"], e["to"], strict=True))
            found = {b.header for b in sec.blocks} & set(pairs)
            if found != set(pairs):
                raise _err(file, where, "header", f"{code} lacks {sorted(set(pairs) - found)}")
            for b in sec.blocks:
                b.header = pairs.get(b.header, b.header)
        elif action == "expect_duplicate":
            blocks = [b for b in sec.blocks if b.header == e["header"]]
            if not blocks or blocks[0].codes.count(str(e["code"])) < 2:
                raise _err(file, where, "code", f"{code} no longer repeats {e['code']}")
        else:
            raise _err(file, where, "action", f"unknown erratum action {action!r}")
    return overrides


# --- 5_MCC.txt, 6_CC.txt, 7_CCE.txt ---------------------------------------------------


def parse_cc_list(text: str, file: str) -> dict[str, str | None]:
    """MCC or CC records ``CODE NAME 表 7-n|无`` scanned as a token stream (SOURCE.md §3)."""
    flat = " ".join(text.replace("疾病编码 疾病名称 排除内容", " ").split())
    out: dict[str, str | None] = {}
    for m in _CC_RECORD.finditer(flat):
        code = m.group(1)
        table = f"表7-{m.group(3)}" if m.group(3) else None
        if code in out and out[code] != table:
            raise _err(file, f"code {code}", "table", f"listed with {out[code]} and {table}")
        out[code] = table
    return out


def parse_cce(text: str, file: str) -> dict[str, str]:
    """Exclusion tables: principal diagnosis → ``表7-n``; each code in one table."""
    flat = " ".join(text.split())
    out: dict[str, str] = {}
    table = ""
    for m in _CCE_TOKEN.finditer(flat):
        if m.group(1):
            table = f"表7-{m.group(1)}"
            continue
        code = m.group(2)
        if not table:
            raise _err(file, f"code {code}", "table", "code before the first table header")
        if code in out and out[code] != table:
            raise _err(file, f"code {code}", "table", f"in {out[code]} and {table}")
        out[code] = table
    return out


# --- the OR-procedure list ------------------------------------------------------------


#: CHS-DRG 1.1's multi-system "other operation" groups of the surgical range: each lists
#: procedures of every body system, including many that the organ system's own MDC files
#: under 非手术室操作 (K–Q). Titles (2_ADRG.txt): QJ1 非特指部位、组织、器官的良性肿瘤手术,
#: RA1/RA3 …伴重大手术, RA2/RA4 …伴其他手术, VJ1 其他损伤的手术, ZJ1 与多发重要创伤诊断
#: 有关的其他手术室操作, PJ1 新生儿的其他手术.
MULTI_SYSTEM_ADRGS = frozenset({"PJ1", "QJ1", "RA1", "RA2", "RA3", "RA4", "VJ1", "ZJ1"})


def derive_or_procedures(
    detail: Detail, multi_system: frozenset[str] = MULTI_SYSTEM_ADRGS
) -> dict[str, list[str]]:
    """OR procedures (手术室手术) derived from what the tables say, rule by rule.

    The tables name no OR attribute; ``全部手术`` (SB1, TB1, XJ1, WJ1, YC1), the MDCA entry
    and ZZ1 need one. A procedure code is taken as an OR procedure when:

    1. an ADRG of the surgical part lists it (second letter A–J, 外科手术部分; K–Q are
       非手术室操作, R–Z 内科), in any of its procedure lists, after the errata;
    2. that ADRG is an operation group: one whose title names a 治疗 and no 手术
       (RB1, RB2, RC1, RD1, RE1, RG1 化学/放射/介入/靶向治疗, BE2, FD3 介入治疗)
       lists therapies, not operations, and does not count;
    3. the list is not the 操作 half of a "…手术伴介入操作" group (FE1, FF2: the list
       after ``和``, the 介入操作 that accompany the operation);
    4. the code is outside ICD-9-CM-3 chapter 16, 87–99 其他诊断性和治疗性操作
       (imaging, radiotherapy, injections, removals, resuscitation), unless a pre-MDC
       ADRG (MDCA) lists it: MDCA is entered by its own lists (AH1's ventilation ≥ 96 h
       is 96.7201);
    5. a code that a K–Q ADRG files under 非手术室操作 and that no surgical-range
       (A–J) group lists except the multi-system "other operation" groups
       (``multi_system``) is not an OR procedure: the organ system's own classification
       wins over a list that gathers every system's procedures. (A code that a 治疗
       group or a 介入操作 list of the surgical range also names is kept.)

    Returns code → the ADRGs whose lists made it an OR procedure (rules 1–3).
    """
    out: dict[str, list[str]] = {}
    non_or_part: set[str] = set()
    surgical_listers: dict[str, set[str]] = {}
    for code, sec in detail.adrgs.items():
        for b in sec.blocks:
            for p in b.codes:
                if "K" <= code[1] <= "Q":
                    non_or_part.add(p)
                elif code[1] <= "J":
                    surgical_listers.setdefault(p, set()).add(code)
        if code[1] > "J":
            continue
        title = sec.title.replace("~~", "").replace(" ", "")
        if "治疗" in title and "手术" not in title:
            continue
        for b in sec.blocks:
            if b.header == H_AND and "介入操作" in title:
                continue
            if b.header in (H_PX, H_BOTH_A, H_AND) or _PROC_TABLE.fullmatch(b.header):
                for p in b.codes:
                    if p[:2] >= "87" and code[0] != "A":
                        continue
                    out.setdefault(p, [])
                    if code not in out[p]:
                        out[p].append(code)
    return {
        p: adrgs
        for p, adrgs in sorted(out.items())
        if p not in non_or_part or not surgical_listers[p] <= multi_system
    }


def parse_or_procedures(text: str, file: str) -> frozenset[str]:
    """One code per line; ``#`` starts a comment; anything after the code is ignored."""
    codes: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        code = line.split()[0]
        if not re.fullmatch(r"[0-9]{2}\.[0-9A-Za-z]+", code):
            raise _err(file, f"line {n}", "code", f"not a procedure code: {code!r}")
        codes.add(code)
    if not codes:
        raise _err(file, "", "codes", "the OR-procedure list is empty")
    return frozenset(codes)


#: The four operation types of the 医保版 ICD-9-CM-3 (手术操作分类与代码).
OPERATION_TYPES = ("手术", "介入治疗", "治疗性操作", "诊断性操作")
#: The types that count as OR procedures (手术室手术) unless a manifest says otherwise.
DEFAULT_OR_TYPES = ("手术", "介入治疗")


def parse_operation_types(text: str, file: str) -> dict[str, str]:
    """A procedure catalogue's operation-type column: ``code<whitespace>type`` per line.

    ``#`` starts a comment; the type is one of ``OPERATION_TYPES``; anything after the
    type (a name) is ignored. A code given twice with two types is an error.
    """
    types: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        code = parts[0]
        if not re.fullmatch(r"[0-9]{2}\.[0-9A-Za-z]+", code):
            raise _err(file, f"line {n}", "code", f"not a procedure code: {code!r}")
        if len(parts) < 2 or parts[1] not in OPERATION_TYPES:
            got = parts[1] if len(parts) > 1 else "nothing"
            raise _err(file, f"line {n}", "type", f"{got!r} is not one of {OPERATION_TYPES}")
        if types.get(code, parts[1]) != parts[1]:
            raise _err(file, f"line {n}", "type", f"{code} has two types")
        types[code] = parts[1]
    if not types:
        raise _err(file, "", "codes", "the operation-type catalogue is empty")
    return types


def or_procedures_from_types(
    types: Mapping[str, str], or_types: Iterable[str] = DEFAULT_OR_TYPES
) -> frozenset[str]:
    """The OR procedures of a catalogue: every code whose operation type is in ``or_types``.

    >>> sorted(or_procedures_from_types({"51.2300": "手术", "45.2301": "诊断性操作"}))
    ['51.2300']
    """
    wanted = set(or_types)
    return frozenset(code for code, t in types.items() if t in wanted)


# --- compile ---------------------------------------------------------------------------


def _compile_adrg(
    sec: Section,
    mdc: str,
    name: str,
    drgs: tuple[str, ...],
    cond: Mapping[str, Any],
    file: str,
) -> AdrgRule:
    where = f"ADRG {sec.code} (line {sec.line})"
    pdx: set[str] | None = None
    px: set[str] | None = None
    any_dx: set[str] | None = None
    pair: list[set[str]] = []
    tables: dict[int, set[str]] = {}
    alternatives: list[tuple[int, ...]] = []
    expr_pdx = False
    needs_or = no_or = False
    shape: list[str] = []
    for b in sec.blocks:
        h = b.header
        codes = set(b.codes)
        if h == H_PDX:
            pdx = (pdx or set()) | codes
            shape.append("pdx")
        elif h == H_PX:
            px = (px or set()) | codes
            shape.append("px0")
        elif h in (H_BOTH_A, H_AND):
            pair.append(codes)
            if h == H_BOTH_A:
                shape.append("px_and_px")
        elif h in (H_ANY_DX_P, H_ANY_DX):
            any_dx = (any_dx or set()) | codes
            shape.append("any_dx")
        elif h in H_ALL_OR:
            needs_or = True
            shape.append("or_px")
        elif h == H_NO_OR:
            no_or = True
            shape.append("no_or_px")
        elif _EXPRESSION.fullmatch(h):
            expr_pdx = True
            alternatives.append(tuple(int(x) for x in re.findall(r"手术表 ?([0-9]+)", h)))
            if len(alternatives) == 1:
                shape.append("pdx_expression")
        elif h == H_EXPR_PDX:
            pdx = (pdx or set()) | codes
        elif (m := _PROC_TABLE.fullmatch(h)) is not None:
            tables[int(m.group(1))] = codes
        else:
            raise _err(file, where, "header", f"unknown condition header {h!r}")
        if (h in (H_ALL_OR, H_NO_OR) or h in H_ALL_OR or _EXPRESSION.fullmatch(h)) and b.codes:
            raise _err(file, where, "header", f"{h!r} takes no code list")
    if (h_and := len(pair)) not in (0, 2):
        raise _err(file, where, "header", f"同时包含以下手术 needs exactly one 和, got {h_and}")
    expression: ProcedureExpression | None = None
    if pair:
        expression = ProcedureExpression((frozenset(pair[0]), frozenset(pair[1])), ((0, 1),))
    if alternatives:
        if expression is not None:
            raise _err(file, where, "header", "two procedure expressions")
        wanted = sorted({i for alt in alternatives for i in alt})
        if sorted(tables) != wanted:
            raise _err(
                file, where, "header", f"expression uses 手术表 {wanted}, has {sorted(tables)}"
            )
        if not expr_pdx or pdx is None:
            raise _err(file, where, "header", "expression without a 主要诊断 list")
        index = {n: i for i, n in enumerate(wanted)}
        expression = ProcedureExpression(
            tuple(frozenset(tables[n]) for n in wanted),
            tuple(tuple(index[n] for n in alt) for alt in alternatives),
        )
    elif tables:
        raise _err(file, where, "header", "手术表 lists without an expression")
    catch_all = bool(cond.get("catch_all", False))
    if catch_all:
        shape = ["catch_all"]
        pdx = px = any_dx = None
        expression = None
    elif not shape:
        raise _err(file, where, "body", "no condition: add a header or an erratum")
    for key in ("min_age_days", "max_age_days", "min_weight_g", "max_weight_g"):
        if key in cond and (not isinstance(cond[key], int) or isinstance(cond[key], bool)):
            raise _err(file, where, key, f"must be an integer, got {cond[key]!r}")
    return AdrgRule(
        code=sec.code,
        name=name,
        mdc=mdc,
        drgs=drgs,
        shape="+".join(shape),
        principal_dx=frozenset(pdx) if pdx is not None else None,
        principal_px=frozenset(px) if px is not None else None,
        any_dx=frozenset(any_dx) if any_dx is not None else None,
        procedures=expression,
        needs_or_procedure=needs_or,
        no_or_procedure=no_or,
        catch_all=catch_all,
        min_age_days=cond.get("min_age_days"),
        max_age_days=cond.get("max_age_days"),
        min_weight_g=cond.get("min_weight_g"),
        max_weight_g=cond.get("max_weight_g"),
    )


def _read(base: Traversable | Path, name: str, label: str, sha: Mapping[str, str]) -> str:
    target = base.joinpath(name)
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise _err(f"{label}/{name}", "", "file", f"cannot be read: {exc}") from exc
    want = sha.get(name)
    if want is not None and hashlib.sha256(data).hexdigest() != want:
        raise _err(f"{label}/{name}", "", "sha256", "checksum differs from the manifest")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _err(f"{label}/{name}", "", "encoding", f"not UTF-8: {exc}") from exc


def _options(raw: Mapping[str, Any], file: str) -> GrouperOptions:
    d = GrouperOptions()
    try:
        return GrouperOptions(
            qy_mode=QyMode(raw.get("qy_mode", d.qy_mode.value)),
            principal_procedure_only=bool(
                raw.get("principal_procedure_only", d.principal_procedure_only)
            ),
            require_known_diagnoses=bool(
                raw.get("require_known_diagnoses", d.require_known_diagnoses)
            ),
            require_newborn_weight=bool(raw.get("require_newborn_weight", True)),
            neonate_max_days=int(raw.get("neonate_max_days", d.neonate_max_days)),
        )
    except ValueError as exc:
        raise _err(file, "defaults", "qy_mode", str(exc)) from exc


def _check(file: str, what: str, got: int, expected: Mapping[str, Any]) -> None:
    want = expected.get(what)
    if want is not None and got != want:
        raise _err(file, "expected_counts", what, f"expected {want}, loaded {got}")


def compile_scheme(
    manifest: Mapping[str, Any],
    read: Callable[[str], str],
    manifest_label: str,
    tables_label: str,
) -> Scheme:
    """Build a ``Scheme`` from a manifest and a reader of the table files (by file name)."""
    mf = manifest_label
    try:
        names: Mapping[str, str] = manifest["files"]
        order: list[str] = list(manifest["mdc_order"])
    except (KeyError, TypeError) as exc:
        raise _err(mf, "", str(exc), "missing from the manifest") from exc
    expected: Mapping[str, Any] = manifest.get("expected_counts", {})

    def label(key: str) -> str:
        return f"{tables_label}/{names[key]}"

    code_pat = re.compile(r"MDC[A-Z]")
    mdc_names = parse_code_names(read(names["mdc"]), label("mdc"), code_pat)
    adrg_names = parse_code_names(read(names["adrg"]), label("adrg"), re.compile(r"[A-Z]{2}[0-9]"))
    drg_names = parse_code_names(read(names["drg"]), label("drg"), re.compile(r"[A-Z]{2}[0-9]{2}"))
    _check(mf, "mdc", len(mdc_names), expected)
    _check(mf, "adrg", len(adrg_names), expected)
    _check(mf, "drg", len(drg_names), expected)
    if sorted(order) != sorted(c[3] for c in mdc_names) or len(set(order)) != len(order):
        raise _err(mf, "mdc_order", "mdc_order", f"must list each of {sorted(mdc_names)} once")

    drgs_of: dict[str, list[str]] = {}
    for d in drg_names:
        if d[:3] not in adrg_names:
            raise _err(label("drg"), f"DRG {d}", "code", f"names no ADRG of {names['adrg']}")
        drgs_of.setdefault(d[:3], []).append(d)

    detail_file = label("detail")
    detail = parse_detail(read(names["detail"]), detail_file)
    _check(mf, "headers", detail.header_lines, expected)
    if list(detail.adrgs) != list(adrg_names):
        raise _err(detail_file, "ADRG titles", "order", f"differ from {names['adrg']}")
    site_overrides = apply_errata(detail, list(manifest.get("errata", [])), mf)
    conditions: Mapping[str, Mapping[str, Any]] = manifest.get("adrg_conditions", {})
    for code in conditions:
        if code not in adrg_names:
            raise _err(mf, "adrg_conditions", code, "no such ADRG")

    # ADRGs
    rules: dict[str, AdrgRule] = {}
    for code, sec in detail.adrgs.items():
        drgs = tuple(sorted(drgs_of.get(code, [])))
        splits = "".join(d[3] for d in drgs)
        if splits not in ("9", "135", "35", "15"):
            raise _err(label("drg"), f"ADRG {code}", "subgroups", f"unsupported split {drgs}")
        rules[code] = _compile_adrg(
            sec, detail.adrg_mdc[code], adrg_names[code], drgs, conditions.get(code, {}), mf
        )

    # MDCs
    entry_cfg: Mapping[str, Mapping[str, Any]] = manifest.get("mdc_entry", {})
    overrides = dict(o.split("=", 1) for o in site_overrides)
    mdcs: list[MdcRule] = []
    for letter in order:
        cfg = entry_cfg.get(letter, {})
        table = detail.main_tables.get(letter)
        own = [r for r in rules.values() if r.mdc == letter]
        procedural = tuple(r for r in own if r.procedural)
        medical = tuple(r for r in own if not r.procedural)
        if own != [*procedural, *medical]:
            raise _err(detail_file, f"MDC{letter}", "order", "medical ADRG before a procedural one")
        sites: dict[str, str] = {}
        pdx: frozenset[str] | None = None
        if table is not None:
            codes: set[str] = set()
            site = ""
            for b in table.blocks:
                if b.header.endswith("创伤"):
                    site = b.header
                    continue
                if b.header != H_PDX:
                    raise _err(detail_file, f"MDC{letter} 主诊表", "header", repr(b.header))
                codes.update(b.codes)
                if site:
                    for c in b.codes:
                        if c in sites and sites[c] != site and overrides.get(c) is None:
                            raise _err(
                                detail_file,
                                f"MDC{letter} 主诊表 {c}",
                                "site",
                                f"under {sites[c]} and {site}: add a trauma_site erratum",
                            )
                        sites[c] = overrides.get(c, site)
            pdx = frozenset(codes)
        elif not cfg.get("principal_procedure_or"):
            raise _err(mf, f"MDC{letter}", "mdc_entry", "no 主诊表 and no procedure entry")
        min_sites = cfg.get("min_trauma_sites")
        if min_sites is not None and not sites:
            raise _err(mf, f"MDC{letter}", "min_trauma_sites", "the 主诊表 has no site labels")
        mdcs.append(
            MdcRule(
                letter=letter,
                name=mdc_names[f"MDC{letter}"],
                principal_dx=pdx,
                procedural=procedural,
                medical=medical,
                sex=cfg.get("sex"),
                max_age_years=cfg.get("max_age_years"),
                min_trauma_sites=min_sites,
                trauma_sites=sites if min_sites is not None else {},
                principal_procedure_or=bool(cfg.get("principal_procedure_or", False)),
            )
        )
    for o in overrides:
        if not any(o in m.trauma_sites for m in mdcs):
            raise _err(mf, f"erratum trauma_site {o}", "code", "code is in no site list")

    # MCC, CC, CCE
    mcc = parse_cc_list(read(names["mcc"]), label("mcc"))
    cc = parse_cc_list(read(names["cc"]), label("cc"))
    cce = parse_cce(read(names["cce"]), label("cce"))
    _check(mf, "mcc", len(mcc), expected)
    _check(mf, "cc", len(cc), expected)
    _check(mf, "cce_codes", len(cce), expected)
    cce_tables = set(cce.values())
    _check(mf, "cce_tables", len(cce_tables), expected)
    both = set(mcc) & set(cc)
    if both:
        raise _err(label("cc"), f"code {sorted(both)[0]}", "code", "also listed as an MCC")
    for lst, key in ((mcc, "mcc"), (cc, "cc")):
        for code, t in lst.items():
            if t is not None and t not in cce_tables:
                raise _err(label(key), f"code {code}", "table", f"{t} is not in {names['cce']}")

    # OR procedures: an operation-type catalogue, else a list, else derived from the tables
    or_name = manifest.get("or_procedures")
    op_types = manifest.get("operation_types")
    if op_types is not None:
        if or_name:
            raise _err(mf, "", "operation_types", "give operation_types or or_procedures, not both")
        if not isinstance(op_types, dict) or not isinstance(op_types.get("file"), str):
            raise _err(mf, "", "operation_types", 'must be {"file": NAME, "or_types": [...]}')
        wanted = op_types.get("or_types", list(DEFAULT_OR_TYPES))
        if (
            not isinstance(wanted, list)
            or not wanted
            or any(t not in OPERATION_TYPES for t in wanted)
        ):
            raise _err(mf, "", "operation_types.or_types", f"each must be one of {OPERATION_TYPES}")
        ot_name = op_types["file"]
        ot_label = f"{mf.rpartition('/')[0]}/{ot_name}" if "/" in mf else ot_name
        or_set = or_procedures_from_types(parse_operation_types(read(ot_name), ot_label), wanted)
    elif or_name:
        or_label = f"{mf.rpartition('/')[0]}/{or_name}" if "/" in mf else str(or_name)
        or_set = parse_or_procedures(read(str(or_name)), or_label)
    else:
        or_set = frozenset(derive_or_procedures(detail))

    dx_codes: set[str] = set(mcc) | set(cc) | set(cce)
    px_codes: set[str] = set(or_set)
    for m in mdcs:
        if m.principal_dx is not None:
            dx_codes |= m.principal_dx
    for r in rules.values():
        for s in (r.principal_dx, r.any_dx):
            if s is not None:
                dx_codes |= s
        if r.principal_px is not None:
            px_codes |= r.principal_px
        if r.procedures is not None:
            for tbl in r.procedures.tables:
                px_codes |= tbl

    notes = tuple(_quirks(mdcs))
    return Scheme(
        name=str(manifest.get("scheme", "DRG")),
        version=str(manifest.get("version", "")),
        mdcs=tuple(mdcs),
        adrgs=rules,
        drg_names=drg_names,
        mcc=mcc,
        cc=cc,
        cce=cce,
        or_procedures=or_set,
        known_diagnoses=frozenset(dx_codes),
        known_procedures=frozenset(px_codes),
        options=_options(manifest.get("defaults", {}), mf),
        notes=notes,
    )


def _quirks(mdcs: Iterable[MdcRule]) -> list[str]:
    """Data quirks worth reporting: 主诊表 codes no medical ADRG takes, and medical-ADRG
    codes outside the MDC's 主诊表 (unreachable)."""
    notes: list[str] = []
    for m in mdcs:
        if m.principal_dx is None or m.min_trauma_sites is not None:
            continue
        medical: set[str] = set()
        catch_all = False
        for r in m.medical:
            catch_all |= r.catch_all
            for s in (r.principal_dx, r.any_dx):
                if s is not None:
                    medical |= s
        if catch_all:
            continue
        gaps = m.principal_dx - medical
        if gaps:
            notes.append(
                f"{m.code}: {len(gaps)} 主诊表 codes reach no medical ADRG "
                f"(e.g. {', '.join(sorted(gaps)[:3])})"
            )
        outside = {c for r in m.medical if r.principal_dx for c in r.principal_dx} - m.principal_dx
        if outside:
            notes.append(f"{m.code}: {len(outside)} medical-ADRG codes are outside the 主诊表")
    return notes


def load_scheme(manifest_path: Path | None = None) -> Scheme:
    """Load a scheme from a manifest file (its tables folder beside it); ``None`` loads
    the packaged CHS-DRG 1.1 (cached)."""
    if manifest_path is None:
        return _load_packaged()
    return _load_from(manifest_path.parent, manifest_path.name, str(manifest_path.parent))


@lru_cache(maxsize=1)
def _load_packaged() -> Scheme:
    return _load_from(files("medroam").joinpath("data", "drg"), PACKAGED_MANIFEST, _PACKAGED_LABEL)


def _load_from(base: Traversable | Path, manifest_name: str, label: str) -> Scheme:
    mf = f"{label}/{manifest_name}"
    try:
        manifest = json.loads(base.joinpath(manifest_name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _err(mf, "", "file", f"cannot be read as JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise _err(mf, "", "manifest", "must be a JSON object")
    tables = str(manifest.get("tables", ""))
    sha: Mapping[str, str] = manifest.get("sha256", {})
    tables_dir = base.joinpath(tables) if tables else base

    def read(name: str) -> str:
        op_types = manifest.get("operation_types")
        if name == manifest.get("or_procedures") or (
            isinstance(op_types, dict) and name == op_types.get("file")
        ):
            return _read(base, name, label, {})
        return _read(tables_dir, name, f"{label}/{tables}" if tables else label, sha)

    return compile_scheme(manifest, read, mf, f"{label}/{tables}" if tables else label)


# --- payment parameter files ------------------------------------------------------------

PAYMENT_DIR = "payment"


def _dec(value: object, file: str, where: str, fld: str, places: int) -> int:
    """A decimal string with at most ``places`` decimals, scaled to an integer."""
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int)):
        raise _err(file, where, fld, f"must be a decimal string, got {value!r}")
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise _err(file, where, fld, f"{value!r} is not a number") from exc
    scaled = d.scaleb(places)
    if not d.is_finite() or scaled != scaled.to_integral_value() or d < 0:
        raise _err(file, where, fld, f"{value!r}: at most {places} decimals, not negative")
    return int(scaled)


def parse_payment_params(
    data: Mapping[str, Any], file: str
) -> tuple[PaymentParams, YearBudget | None]:
    """A payment file → ``(PaymentParams, YearBudget | None)``.

    Amounts are yuan strings (2 decimals), RW / coefficients / thresholds / ratios decimal
    strings (4 decimals), the point value a yuan string (6 decimals). See
    ``data/drg/payment/README.md``.
    """

    def dec(obj: Mapping[str, Any], key: str, places: int, where: str, default: int) -> int:
        return _dec(obj[key], file, where, key, places) if key in obj else default

    def table(raw: Mapping[str, Any], where: str) -> pay.StandardTable:
        groups = {}
        for drg, g in raw.get("groups", {}).items():
            w = f"{where} group {drg}"
            groups[drg] = pay.GroupStandard(
                _dec(g.get("rw"), file, w, "rw", 4),
                _dec(g.get("mean_cost"), file, w, "mean_cost", 2),
            )
        overall = _dec(raw.get("overall_mean"), file, where, "overall_mean", 2)
        if overall <= 0:
            raise _err(file, where, "overall_mean", "must be positive")
        return pay.StandardTable(groups, overall)

    try:
        method = pay.PaymentMethod(data["method"])
        xr = data.get("cross_region", {})
        out = data.get("outliers", {})
        bands = tuple(
            pay.HighBand(
                _dec(b["max_base_points"], file, "outliers.high", "max_base_points", 4)
                if b.get("max_base_points") is not None
                else None,
                _dec(b["threshold"], file, "outliers.high", "threshold", 4),
            )
            for b in out.get("high", [])
        )
        d_out = pay.OutlierRule()
        outliers = pay.OutlierRule(
            high=bands or d_out.high,
            low=dec(out, "low", 4, "outliers", d_out.low),
            inclusive=bool(out.get("inclusive", True)),
            review=dec(out, "review", 4, "outliers", d_out.review),
        )
        ra = data.get("readmission", {})
        d_ra = pay.ReadmissionRule()
        readmission = pay.ReadmissionRule(
            window_days=int(ra.get("window_days", d_ra.window_days)),
            match_on=str(ra.get("match_on", d_ra.match_on)),
            action=pay.ReadmissionAction(ra.get("action", d_ra.action.value)),
            factor=dec(ra, "factor", 4, "readmission", d_ra.factor),
            exempt_adrgs=frozenset(ra.get("exempt_adrgs", d_ra.exempt_adrgs)),
            exempt_leaving_types=frozenset(
                ra.get("exempt_leaving_types", d_ra.exempt_leaving_types)
            ),
        )
        params = pay.PaymentParams(
            region=str(data["region"]),
            year=int(data["year"]),
            method=method,
            standards=table(data["standards"], "standards"),
            base_rate=dec(data, "base_rate", 2, "", 0),
            point_value=dec(data, "point_value", 6, "", 0),
            level_coefficients={
                k: _dec(v, file, "level_coefficients", k, 4)
                for k, v in data.get("level_coefficients", {}).items()
            },
            hospital_coefficients={
                k: _dec(v, file, "hospital_coefficients", k, 4)
                for k, v in data.get("hospital_coefficients", {}).items()
            },
            cross_region_mode=pay.CrossRegionMode(xr.get("mode", "coefficient")),
            cross_region_coefficient=dec(xr, "coefficient", 4, "cross_region", pay.P4),
            cross_region_standards=table(xr["standards"], "cross_region.standards")
            if "standards" in xr
            else None,
            cross_region_base_rate=dec(xr, "base_rate", 2, "cross_region", 0) or None,
            include_intra_province=bool(xr.get("include_intra_province", True)),
            include_inter_province=bool(xr.get("include_inter_province", False)),
            outliers=outliers,
            min_los=int(data.get("min_los", 2)),
            max_los=int(data.get("max_los", 60)),
            ungroupable_factor=dec(data, "ungroupable_factor", 4, "", pay.P4),
            fund_formula=pay.FundFormula(data.get("fund_formula", "standard_minus_patient_share")),
            fund_ratio=dec(data, "fund_ratio", 4, "", pay.P4),
            readmission=readmission,
            clearing_basis=pay.ClearingBasis(xr.get("clearing_basis", "item")),
        )
    except KeyError as exc:
        raise _err(file, "", str(exc.args[0]), "missing") from exc
    except ValueError as exc:
        if isinstance(exc, ReferenceDataError):
            raise
        raise _err(file, "", "value", str(exc)) from exc
    if method is pay.PaymentMethod.RATE and params.base_rate <= 0:
        raise _err(file, "", "base_rate", "the rate method needs a positive base rate")
    if method is pay.PaymentMethod.POINTS and params.point_value <= 0:
        raise _err(file, "", "point_value", "the point method needs a provisional point value")
    budget = None
    if "budget" in data:
        b = data["budget"]
        budget = pay.YearBudget(
            _dec(b.get("amount"), file, "budget", "amount", 2),
            dec(b, "holdback", 4, "budget", 0),
            dec(b, "advance_ratio", 4, "budget", 8_500),
        )
    return params, budget


def load_payment_params(
    region: str, year: int, base_dir: Path | None = None
) -> tuple[PaymentParams, YearBudget | None]:
    """The payment file ``<region>-<year>.json`` (packaged: ``data/drg/payment``)."""
    name = f"{region}-{year}.json"
    if base_dir is None:
        target: Traversable | Path = files("medroam").joinpath("data", "drg", PAYMENT_DIR, name)
        label = f"{_PACKAGED_LABEL}/{PAYMENT_DIR}/{name}"
    else:
        target, label = base_dir / name, str(base_dir / name)
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise _err(label, "", "file", f"no payment parameters for {region} {year}") from exc
    except (OSError, ValueError) as exc:
        raise _err(label, "", "file", f"cannot be read as JSON: {exc}") from exc
    return parse_payment_params(data, label)
