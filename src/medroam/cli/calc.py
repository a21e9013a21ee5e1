"""``medroam calc CASE.json``: settle one case without a server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from medroam.cli.common import console, fail
from medroam.domain.calculator import CalculationError
from medroam.domain.eligibility import NotEligibleError
from medroam.domain.explain import explain
from medroam.domain.money import format_yuan
from medroam.gateway import jsonfmt
from medroam.gateway.case_file import CaseError, cuminfo_document, load_case_text
from medroam.gateway.fields import line_result_row, setldetail_row, setlinfo_amounts
from medroam.refdata.errors import ReferenceDataError
from medroam.services.calc import CalcOutcome, PolicyDate, calculate


def calc(
    case_file: Annotated[Path, typer.Argument(help="Case file (JSON, interface field names).")],
    trace: Annotated[bool, typer.Option("--trace", help="Explain every amount.")] = False,
    as_json: Annotated[
        bool | None,
        typer.Option("--json/--table", help="JSON (default when piped) or a table."),
    ] = None,
    policies: Annotated[
        Path | None, typer.Option(help="Directory of policy files (default: packaged).")
    ] = None,
    catalogue_dir: Annotated[
        Path | None, typer.Option(help="Catalogue directory (default: packaged).")
    ] = None,
    policy_date: Annotated[
        PolicyDate, typer.Option(help="Date that selects the policy version.")
    ] = PolicyDate.SETTLE,
) -> None:
    """Settle one case and print the interface's settlement result."""
    from medroam.refdata.catalogue import load_catalogue
    from medroam.refdata.chronic import load_chronic_diseases
    from medroam.refdata.policies import load_policy_book
    from medroam.refdata.provinces import load_province_book

    try:
        text = case_file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {case_file}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{case_file} is not UTF-8 text")
    try:
        case = load_case_text(text, source=str(case_file))
        book = load_policy_book(policies) if policies else load_policy_book()
        outcome = calculate(
            case,
            book,
            lambda region: load_catalogue(region, base_dir=catalogue_dir),
            policy_date=policy_date,
            provinces=load_province_book(),
            cross_province_diseases={d.code: d for d in load_chronic_diseases()},
        )
    except CaseError as exc:
        fail(f"{case_file}: {exc}")
    except NotEligibleError as exc:
        fail(f"{case_file}: 不能直接结算 (no direct settlement): {exc}")
    except (CalculationError, LookupError, ReferenceDataError) as exc:
        fail(f"{case_file}: {exc}")
    doc = result_document(outcome, trace=trace)
    if as_json is None:
        as_json = not sys.stdout.isatty()
    if as_json:
        sys.stdout.write(jsonfmt.dumps(doc, indent=2) + "\n")
    else:
        _print_table(outcome, trace=trace)


def result_document(outcome: CalcOutcome, *, trace: bool) -> dict[str, Any]:
    s, case = outcome.settlement, outcome.case
    person, visit = case.person, case.visit
    setlinfo: dict[str, Any] = {
        "mdtrt_id": visit.visit_id,
        "psn_no": person.psn_no,
        "psn_name": person.name,
        "psn_cert_type": person.cert_type,
        "certno": person.cert_no,
        "gend": person.gender,
        "brdy": person.birth_date.isoformat(),
        "age": person.age_on(visit.begin),
        "insutype": person.insutype,
        "psn_type": person.psn_type,
        "cvlserv_flag": "1" if person.civil_servant else "0",
        "med_type": visit.med_type,
        "setl_time": visit.settle_date.isoformat(),
        **setlinfo_amounts(s),
        "clr_optins": visit.treatment_region,
        "clr_way": "1",
        "clr_type": "21" if s.kind.value == "inpatient" else "11",
    }
    doc: dict[str, Any] = {
        "setlinfo": setlinfo,
        "setldetail": [setldetail_row(d) for d in s.details],
        "result": [line_result_row(r) for r in s.lines],
        "benefit_status": s.status.value,
        "benefit_reason": outcome.decision.reason,
        "policy": {
            "region": outcome.policy.region,
            "insutype": outcome.policy.insutype,
            "effective_from": outcome.policy.effective_from.isoformat(),
            "synthetic": outcome.policy.synthetic,
        },
        "cuminfo_after": cuminfo_document(case.ytd.apply(s.accumulator_delta)),
    }
    if trace:
        doc["trace"] = explain(s)
    return doc


def _print_table(outcome: CalcOutcome, *, trace: bool) -> None:
    s, case = outcome.settlement, outcome.case
    console.print(
        f"[bold]{case.description or 'settlement'}[/]  {case.person.psn_no} · insured "
        f"{case.person.insured_region} · treated {case.visit.treatment_region} · "
        f"{s.kind.value} · status [cyan]{s.status.value}[/]"
    )
    console.print(f"[dim]{outcome.decision.reason}[/]")
    table = Table(title="setlinfo", show_lines=False)
    table.add_column("field")
    table.add_column("中文")
    table.add_column("yuan", justify="right")
    rows = [
        ("medfee_sumamt", "医疗费总额", s.medfee),
        ("fulamt_ownpay_amt", "全自费", s.fulamt_ownpay),
        ("overlmt_selfpay", "超限价自付", s.overlmt_selfpay),
        ("preselfpay_amt", "先行自付", s.preselfpay),
        ("inscp_scp_amt", "政策范围内", s.inscp),
        ("act_pay_dedc", "起付线", s.deductible),
        ("hifp_pay", "统筹基金", s.pool),
        ("hifmi_pay", "大病保险", s.critical_illness),
        ("hifob_pay", "大额补助", s.large_expense),
        ("cvlserv_pay", "公务员补助", s.civil_servant),
        ("maf_pay", "医疗救助", s.assistance),
        ("fund_pay_sumamt", "基金支付总额", s.fund_total),
        ("psn_part_amt", "个人负担", s.personal),
        ("acct_pay", "个人账户", s.account),
        ("acct_mulaid_pay", "共济账户", s.mutual_aid),
        ("psn_cash_pay", "现金", s.cash),
        ("balc", "账户余额", s.balance_after),
    ]
    for name, zh, amount in rows:
        table.add_row(name, zh, format_yuan(amount))
    ratio = s.pool_ratio
    table.add_row("pool_prop_selfpay", "统筹支付比例", f"{ratio // 100}.{ratio % 100:02d}%")
    console.print(table)
    if trace:
        for text in explain(s):
            console.print(f"  {text}", highlight=False)
