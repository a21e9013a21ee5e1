"""``medroam audit``: the after-settlement audit (事后审核) and its findings.

    medroam audit run --period 2026-10 [--db URL]
    medroam audit findings --period 2026-10 [--rule CODE] [--csv FILE] [--db URL]
        (each finding with its id, for ``medroam case open --finding ID``; the CSV file
        also has its evidence as JSON)
    medroam audit scores --period 2026-10 [--months 3] [--top 20] [--db URL]

Amounts are yuan with two decimals; findings are stored with their evidence (see
``services/audit_run.py``). Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from medroam.cli.common import DbOpt, console, fail, open_database

app = typer.Typer(
    help="Smart audit (智能审核): after-settlement audit, findings, evaluation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

PeriodOpt = Annotated[str, typer.Option("--period", help="The month audited, YYYY-MM.")]


def _yuan(fen: int) -> str:
    from medroam.domain.money import format_yuan

    return format_yuan(fen)


def _check_period(period: str) -> None:
    from medroam.services.audit_run import AuditRunError, month_bounds

    try:
        month_bounds(period)
    except AuditRunError as exc:
        fail(str(exc))


@app.command("run")
def run(period: PeriodOpt, db: DbOpt = None) -> None:
    """Audit a month's settlements with every rule of the library (stage 事后) and store
    the findings (a re-run replaces them)."""
    from sqlalchemy.exc import SQLAlchemyError

    from medroam.cli.sim import progress_bar
    from medroam.services.audit_run import run_audit

    _check_period(period)
    engine = open_database(db)  # the existing database, migrated
    try:
        with progress_bar() as progress:
            summary = run_audit(engine, period, progress=progress)
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"database: {first[0] if first else type(exc).__name__}", code=1)
    finally:
        engine.dispose()
    console.print(
        f"事后审核 {period}（{summary.run_id}）：{summary.settlements:,} 笔结算，"
        f"{summary.candidates:,} 笔进入规则判断，{summary.findings:,} 条疑点",
        highlight=False,
    )
    t = Table(title="按规则 by rule", title_justify="left")
    t.add_column("规则编码 rule")
    t.add_column("规则名称 name")
    t.add_column("疑点 findings", justify="right")
    t.add_column("涉及金额（元）amount", justify="right")
    for code, (name, n, fen) in sorted(summary.by_rule.items()):
        t.add_row(code, name, f"{n:,}", _yuan(fen))
    console.print(t)


@app.command("findings")
def findings(
    period: PeriodOpt,
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule code.")] = None,
    to_csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Write every finding, with its evidence, to this CSV file."),
    ] = None,
    db: DbOpt = None,
) -> None:
    """List the stored findings of a month (``audit run`` first), each with its id (疑点ID):
    ``medroam case open --finding ID`` opens a case from one."""
    from medroam.services.audit_run import findings_for_period

    _check_period(period)
    if to_csv is not None:
        _check_csv_path(to_csv)
    engine = open_database(db)  # the existing database, migrated
    try:
        rows = [r for r in findings_for_period(engine, period) if rule in (None, r["rule_code"])]
    finally:
        engine.dispose()
    if not rows:
        console.print(
            f"{period}: no findings{' of ' + rule if rule else ''} (run `medroam audit run` first?)"
        )
        return
    from medroam.refdata.regions import load_regions

    table = load_regions()

    def region(code: str) -> str:
        found = table.get(code)
        return f"{code} {found.name}" if found else code

    header = [
        "疑点ID",
        "规则编码",
        "规则名称",
        "结算ID",
        "就诊ID",
        "定点机构",
        "参保地",
        "就医地",
        "金额（元）",
        "疑点内容",
    ]
    values = [
        [
            r["finding_id"], r["rule_code"], r["rule_name"], r["setl_id"], r["mdtrt_id"],
            r["fixmedins_code"],
            region(r["insured_region"]), region(r["treatment_region"]),
            _yuan(int(r["amount"])), r["content"],
        ]
        for r in rows
    ]  # fmt: skip
    if to_csv is not None:
        evidence = [json.dumps(r["evidence"], ensure_ascii=False, sort_keys=True) for r in rows]
        try:
            with to_csv.open("w", encoding="utf-8-sig", newline="") as f:
                writer = csv.writer(f)
                writer.writerow([*header, "证据（JSON）"])
                writer.writerows([*v, e] for v, e in zip(values, evidence, strict=True))
        except OSError as exc:
            fail(f"--csv：无法写入 {to_csv}（{exc.strerror}） / --csv: cannot write {to_csv}")
        console.print(f"{len(values):,} 条疑点已写入 {to_csv} / findings written")
        return
    t = Table(title=f"疑点 findings {period}", title_justify="left")
    for h in header:
        t.add_column(h, justify="right" if h.startswith("金额") else "left")
    for v in values[:200]:
        t.add_row(*[str(x) for x in v])
    console.print(t)
    if len(values) > 200:
        console.print(f"showing 200 of {len(values):,}; use --csv for all")
    console.print(
        "按疑点立案 / open a case: medroam case open --finding 疑点ID --actor … --role 就医地 …"
    )


def _check_csv_path(path: Path) -> None:
    """Refuse, before any work, a CSV path that cannot be a new file."""
    if path.is_dir():
        fail(f"--csv：{path} 是目录，请给出文件名 / --csv: {path} is a directory")
    if not path.parent.is_dir():
        fail(f"--csv：目录 {path.parent} 不存在 / --csv: directory {path.parent} does not exist")


@app.command("evaluate")
def evaluate(period: PeriodOpt, db: DbOpt = None) -> None:
    """Precision and recall per rule family of a month's findings against the anomalies
    ``medroam sim --anomalies`` planted (run ``medroam audit run`` first)."""
    from medroam.services.audit_eval import evaluate as evaluate_month

    _check_period(period)
    engine = open_database(db)  # the existing database, migrated
    try:
        result = evaluate_month(engine, period)
    finally:
        engine.dispose()
    if not result["families"]:
        console.print(f"{period}: no planted anomalies (simulate with --anomalies first)")
        return
    t = Table(title=f"审核评估 evaluation {period}（SYNTHETIC truth）", title_justify="left")
    for h in ("family 规则类别", "planted 植入", "found 发现", "true 命中", "事中拒付",
              "precision 精确率", "recall 召回率"):  # fmt: skip
        t.add_column(h, justify="left" if h.startswith("family") else "right")
    for family, e in result["families"].items():
        t.add_row(
            family, str(e["planted"]), str(e["found"]), str(e["true_positive"]),
            str(e["refused"]), e["precision"], e["recall"],
        )  # fmt: skip
    console.print(t)


@app.command("scores")
def scores(
    period: PeriodOpt,
    months: Annotated[
        int,
        typer.Option(
            "--months",
            help="Score the N months ending with --period (1-12; default 3, a quarter).",
        ),
    ] = 3,
    top: Annotated[int, typer.Option("--top", help="Show this many institutions.")] = 20,
    db: DbOpt = None,
) -> None:
    """Score every institution against its peers over the months ending with --period
    (z-scores weighed by each institution's number of cases, and an isolation forest),
    explained by the features that drive each score; with planted anomalies, where the
    fraudulent institutions rank and the ROC AUC."""
    from medroam.services.audit_run import AuditRunError
    from medroam.services.audit_scores import compute_scores, institution_ranks, span

    _check_period(period)
    if top < 1:
        fail(f"--top：须为正整数 must be at least 1, got {top}")
    try:
        start, end = span(period, months)
    except AuditRunError as exc:
        fail(str(exc))
    engine = open_database(db)  # the existing database, migrated
    try:
        scored = compute_scores(engine, period, months)
        ranks = institution_ranks(engine, period, months)
    finally:
        engine.dispose()
    t = Table(title=f"机构评分 institution scores {start:%Y-%m}…{end:%Y-%m}", title_justify="left")
    for h in ("rank 排名", "institution 定点机构", "peer group 同类", "cases 病例",
              "score 评分", "why 主要原因"):  # fmt: skip
        t.add_column(h, justify="right" if h.startswith(("rank", "cases", "score")) else "left")
    for s in scored[:top]:
        t.add_row(str(s.rank), s.fixmedins_code, s.peer_group, str(s.cases), f"{s.score:.3f}",
                  s.explanation)  # fmt: skip
    console.print(t)
    if ranks["planted"]:
        where = ", ".join(
            f"{r['fixmedins_code']} ({r['scheme']}) rank {r['rank']}/{ranks['scored']}"
            for r in ranks["institutions"]
        )
        unscored = ranks["planted"] - ranks["planted_scored"]
        console.print(
            f"Planted fraudulent institutions (SYNTHETIC): {where}; ROC AUC {ranks['auc']}; "
            f"{ranks['in_top_5_percent']} of {ranks['planted']} in the top 5 %"
            + (f" ({unscored} settled nothing in the span)" if unscored else "")
            + ".",
            highlight=False,
        )
