"""``medroam policy …`` and ``medroam regions``: look at the packaged reference data."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from medroam.cli.common import console, fail
from medroam.domain.money import format_yuan

policy_app = typer.Typer(help="Benefit policies of the places of insurance (参保地政策).")


def _parse_day(text: str | None) -> date:
    if not text:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--on: {text!r} is not a date YYYY-MM-DD")


@policy_app.command("show")
def policy_show(
    region: Annotated[str, typer.Argument(help="Pooling region code, e.g. 532900.")],
    insutype: Annotated[str, typer.Argument(help="310 employees or 390 residents.")],
    on: Annotated[
        str | None, typer.Option(help="Date in force (YYYY-MM-DD; default today).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The policy as its file format.")] = False,
) -> None:
    """Show the policy of REGION for INSUTYPE in force on a date."""
    from medroam.refdata.policies import load_policy_book, policy_to_dict

    day = _parse_day(on)
    try:
        policy = load_policy_book().find(region, insutype, day)
    except LookupError as exc:
        fail(str(exc))
    if as_json:
        sys.stdout.write(json.dumps(policy_to_dict(policy), ensure_ascii=False, indent=2) + "\n")
        return
    ip = policy.inpatient
    label = "synthetic" if policy.synthetic else f"real: {policy.source}"
    console.print(
        f"[bold]{policy.region}[/] insutype {policy.insutype} in force from "
        f"{policy.effective_from} ({label})"
    )
    table = Table(title="住院 inpatient")
    table.add_column("level")
    table.add_column("起付线", justify="right")
    table.add_column("比例", justify="right")
    for level, terms in sorted(ip.levels.items()):
        table.add_row(level, format_yuan(terms.deductible), f"{terms.ratio / 100:g}%")
    if ip.referral_terms is not None:
        rt = ip.referral_terms
        table.add_row("转外", format_yuan(rt.deductible), f"{rt.ratio / 100:g}%")
    console.print(table)
    cap = "none" if ip.annual_cap is None else format_yuan(ip.annual_cap)
    console.print(f"annual cap of the pooled fund: {cap}")
    for layer in policy.layers:
        tiers = ", ".join(
            f"{t.ratio / 100:g}% to {'∞' if t.upper is None else format_yuan(t.upper)}"
            for t in layer.tiers
        )
        console.print(
            f"layer {layer.fund.value}: threshold {format_yuan(layer.threshold)}, {tiers}, "
            f"basis {layer.basis.value}"
        )
    reductions = ", ".join(
        f"{k.value} −{v / 100:g}pp" for k, v in policy.filing.reductions.items() if v
    )
    console.print(f"filing reductions: {reductions or 'none'}")


def regions(
    province: Annotated[
        str | None, typer.Option(help="Only the pooling regions of this province (XX0000).")
    ] = None,
) -> None:
    """List provinces, or the pooling regions of one province."""
    from medroam.refdata.regions import load_regions

    table_data = load_regions()
    table = Table()
    table.add_column("code")
    table.add_column("name")
    table.add_column("kind")
    if province is None:
        rows = table_data.provinces()
        table.title = (
            f"{len(rows)} provincial units, {len(table_data.pooling_regions())} pooling regions"
        )
    else:
        if province not in table_data:
            fail(f"--province: unknown province {province!r}")
        rows = table_data.pooling_regions_of(province)
        table.title = f"pooling regions of {province}"
    for r in rows:
        table.add_row(r.code, r.name, str(getattr(r.kind, "value", r.kind)))
    console.print(table)
