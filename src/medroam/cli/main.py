"""The ``medroam`` application: mounts every command group.

Start-up stays fast because each command's module (and with it Ibis/DuckDB, FastAPI/uvicorn,
SQLAlchemy...) is imported only when that command runs. ``medroam --help`` lists the commands
from the one-line summaries below; ``tests/unit/test_cli_startup.py`` checks that every summary
still equals the summary its command gives itself, so they cannot drift apart.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import typer
import typer.main
from typer import _click
from typer.core import TyperCommand, TyperGroup

from medroam import __version__


class LazyCommand(NamedTuple):
    """Where a command lives and its one-line summary (shown by ``medroam --help``)."""

    module: str
    attribute: str
    summary: str
    # Given for command groups mounted with a help text of their own (overrides the module's).
    group_help: str | None = None


LAZY_COMMANDS: dict[str, LazyCommand] = {
    "calc": LazyCommand(
        "medroam.cli.calc", "calc", "Settle one case and print the interface's settlement result."
    ),
    "serve": LazyCommand(
        "medroam.cli.serve",
        "serve",
        "Serve the national interface (国家医保接口) for hospital HIS clients.",
    ),
    "demo": LazyCommand(
        "medroam.cli.demo",
        "demo",
        "The platform end to end on synthetic data: seed, serve, simulate, clear, report.",
    ),
    "regions": LazyCommand(
        "medroam.cli.reference",
        "regions",
        "List provinces, or the pooling regions of one province.",
    ),
    "seed": LazyCommand(
        "medroam.cli.seed",
        "seed",
        "Build the synthetic demo nation (参保人, 定点机构, 备案, 经办令牌) in a database.",
    ),
    "sim": LazyCommand(
        "medroam.cli.sim",
        "sim",
        "Simulate cross-region care through the real gateway (HTTP), then reconcile and clear.",
    ),
    "bench": LazyCommand(
        "medroam.cli.bench",
        "bench",
        "Benchmarks (settlement engine, gateway over HTTP, clearing, DRG): one JSON summary.",
    ),
    "clear": LazyCommand(
        "medroam.cli.clearing",
        "clear",
        "Clear a period: national clear-split, provincial tiers, hospital payments.",
    ),
    "policy": LazyCommand(
        "medroam.cli.reference",
        "policy_app",
        "Benefit policies of the places of insurance (参保地政策).",
    ),
    "prepay": LazyCommand(
        "medroam.cli.clearing",
        "prepay",
        "Prepayment funds (预付金): quotas, adjustments, top-ups, usage warnings.",
    ),
    "statements": LazyCommand(
        "medroam.cli.clearing",
        "statements",
        "Clearing statements (清算单), runs, hospital cash flow and line exports.",
    ),
    "reconcile": LazyCommand(
        "medroam.cli.clearing",
        "reconcile",
        "Reconciliation between regions (对账): propose, confirm, dispute, compare.",
    ),
    "filing": LazyCommand(
        "medroam.cli.filing",
        "app",
        "File, change, cancel and query 备案.",
        group_help="File, change, cancel and query 备案.",
    ),
    "audit": LazyCommand(
        "medroam.cli.audit",
        "app",
        "Smart audit (智能审核): after-settlement audit, findings, evaluation.",
        group_help="Smart audit (智能审核): after-settlement audit, findings, evaluation.",
    ),
    "case": LazyCommand(
        "medroam.cli.cases",
        "app",
        "Supervision cases (监管案件): open, show, list, move.",
        group_help="Supervision cases (监管案件): open, show, list, move.",
    ),
    "mutual-aid": LazyCommand(
        "medroam.cli.mutual_aid",
        "app",
        "Personal-account mutual aid (个人账户共济): grant, end, list, sync.",
        group_help="Personal-account mutual aid (个人账户共济): grant, end, list, sync.",
    ),
    "drg": LazyCommand(
        "medroam.cli.drg",
        "app",
        "CHS-DRG grouping and DRG/DIP payment.",
        group_help="CHS-DRG grouping and DRG/DIP payment.",
    ),
}


def load_command(name: str) -> _click.Command:
    """Import the module of command ``name`` and build its Click command (or group)."""
    spec = LAZY_COMMANDS[name]
    target: Any = getattr(importlib.import_module(spec.module), spec.attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        if spec.group_help is not None:
            group.help = spec.group_help
        return group
    single = typer.Typer()
    single.command(name)(target)
    return typer.main.get_group(single).commands[name]


class LazyGroup(TyperGroup):
    """The top-level group: imports a command's module only when that command is used."""

    _listing_help = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*LAZY_COMMANDS, *(n for n in super().list_commands(ctx) if n not in LAZY_COMMANDS)]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        loaded = super().get_command(ctx, cmd_name)
        if loaded is not None or cmd_name not in LAZY_COMMANDS:
            return loaded
        if self._listing_help:  # the summary suffices; importing would defeat the purpose
            return TyperCommand(name=cmd_name, help=LAZY_COMMANDS[cmd_name].summary)
        command = load_command(cmd_name)
        self.add_command(command, cmd_name)
        return command

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing_help = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing_help = False

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except _click.exceptions.UsageError as error:
            if args and "Did you mean" not in error.message:
                from difflib import get_close_matches

                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    suggestions = ", ".join(repr(m) for m in matches)
                    error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


app = typer.Typer(
    name="medroam",
    cls=LazyGroup,
    help="Cross-region medical insurance direct settlement and clearing (异地就医直接结算与清算).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    # A callback keeps ``medroam`` a group although only ``version`` is registered eagerly.
    pass


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
