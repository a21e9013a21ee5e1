"""The ``medroam`` application: mounts every command group."""

from __future__ import annotations

import typer

from medroam import __version__
from medroam.cli.bench import bench
from medroam.cli.calc import calc
from medroam.cli.clearing import clear, prepay, reconcile, statements
from medroam.cli.demo import demo
from medroam.cli.reference import policy_app, regions
from medroam.cli.seed import seed
from medroam.cli.serve import serve
from medroam.cli.sim import sim

app = typer.Typer(
    name="medroam",
    help="Cross-region medical insurance direct settlement and clearing (异地就医直接结算与清算).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("calc")(calc)
app.command("serve")(serve)
app.command("demo")(demo)
app.command("regions")(regions)
app.add_typer(policy_app, name="policy")
app.command("seed")(seed)
app.command("sim")(sim)
app.command("bench")(bench)
app.command("clear")(clear)
app.add_typer(prepay, name="prepay")
app.add_typer(statements, name="statements")
app.add_typer(reconcile, name="reconcile")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def _mount_optional() -> None:
    # Command groups live in their own modules; each is mounted when present.
    try:
        from medroam.cli.filing import app as filing_app
    except ImportError:  # pragma: no cover - during development only
        return
    app.add_typer(filing_app, name="filing", help="File, change, cancel and query 备案.")
    from medroam.cli.drg import app as drg_app

    app.add_typer(drg_app, name="drg", help="CHS-DRG grouping and DRG/DIP payment.")
    from medroam.cli.cases import app as case_app

    app.add_typer(case_app, name="case", help="Supervision cases (监管案件).")


_mount_optional()


def main() -> None:
    app()
