"""``medroam demo``: settle every shipped example case and show what each one shows.

This is the main job until the synthetic-nation demo exists: it needs no server and no
setup, and exercises the reference data, the filing rules and the calculator end to end.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated

import typer
from rich.table import Table

from medroam.cli.common import console, fail
from medroam.domain.explain import explain
from medroam.domain.money import format_yuan
from medroam.gateway.case_file import CaseError, load_case_text
from medroam.services.calc import calculate


def demo(
    trace: Annotated[
        bool, typer.Option("--trace/--no-trace", help="Explain the first case in full.")
    ] = True,
) -> None:
    """Settle the shipped example cases (packaged data, no server) and summarise them."""
    from medroam.refdata.catalogue import load_catalogue
    from medroam.refdata.policies import load_policy_book

    book = load_policy_book()
    folder = resources.files("medroam") / "data" / "examples"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))
    if not names:
        fail("no example cases are packaged")
    table = Table(title="Example settlements (synthetic policies and catalogue)")
    for col in ("case", "status", "医疗费", "统筹", "大病/大额", "救助", "个账", "现金", "ratio"):
        table.add_column(col, justify="left" if col in ("case", "status") else "right")
    first = None
    for name in names:
        try:
            case = load_case_text((folder / name).read_text(encoding="utf-8"), source=name)
            outcome = calculate(case, book, load_catalogue)
        except (CaseError, LookupError, ValueError) as exc:
            fail(f"{name}: {exc}")
        s = outcome.settlement
        if first is None:
            first = (name, outcome)
        table.add_row(
            name.removesuffix(".json"),
            s.status.value,
            format_yuan(s.medfee),
            format_yuan(s.pool),
            format_yuan(s.critical_illness + s.large_expense),
            format_yuan(s.assistance),
            format_yuan(s.account),
            format_yuan(s.cash),
            f"{s.pool_ratio / 100:g}%",
        )
    console.print(table)
    if trace and first is not None:
        name, outcome = first
        console.print(f"\n[bold]{name}[/]: {outcome.case.description}")
        console.print(f"[dim]{outcome.decision.reason}[/]")
        for text in explain(outcome.settlement):
            console.print(f"  {text}", highlight=False)
    console.print(
        "\nSettle your own case: [bold]medroam calc CASE.json --trace[/] "
        "(format: docs/case-format.md)"
    )
