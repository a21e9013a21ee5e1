"""The CLI starts without importing the heavy stacks its commands use.

``medroam --help`` and ``medroam calc`` must not pay for Ibis/DuckDB, FastAPI/uvicorn or
SQLAlchemy: each command's module is imported only when that command runs. These are
structural checks (which modules got imported, in a fresh interpreter), not timings; the
timings are in docs/performance.md and come from ``python -X importtime`` and repeated runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import pytest
from typer.testing import CliRunner

from medroam.cli import app
from medroam.cli.main import LAZY_COMMANDS, load_command

HEAVY = ("duckdb", "ibis", "fastapi", "uvicorn", "sqlalchemy", "pyarrow", "alembic")

EXAMPLES = resources.files("medroam") / "data" / "examples"


def _heavy_modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; return the heavy top-level packages it imported."""
    probe = (
        "import sys, json\n"
        f"{code}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_importing_the_cli_imports_no_heavy_stack() -> None:
    assert _heavy_modules_after("import medroam.cli") == []


def test_help_imports_no_heavy_stack() -> None:
    code = (
        "import contextlib, io\n"
        "from medroam.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        app(['--help'])\n"
        "    except SystemExit:\n"
        "        pass"
    )
    assert _heavy_modules_after(code) == []


def test_calc_imports_only_domain_and_reference_data() -> None:
    case = EXAMPLES / "employee-inpatient-long-term.json"
    code = (
        "import contextlib, io\n"
        "from medroam.cli import app\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        app(['calc', {str(case)!r}, '--json'])\n"
        "    except SystemExit as stop:\n"
        "        assert not stop.code, stop.code\n"
        "assert 'setlinfo' in out.getvalue() or 'output' in out.getvalue(), out.getvalue()[:300]"
    )
    assert _heavy_modules_after(code) == []


def test_the_heavy_probe_can_fail() -> None:
    """The probe does see a heavy import when one happens (so the checks above can fail)."""
    assert _heavy_modules_after("import medroam.cli.clearing") != []


@pytest.mark.parametrize("name", list(LAZY_COMMANDS))
def test_listed_summary_equals_the_commands_own(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    own = command.short_help or (command.help or "").strip().splitlines()[0]
    assert own == LAZY_COMMANDS[name].summary


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in [*LAZY_COMMANDS, "version"]:
        assert f" {name} " in result.output


def test_a_lazy_command_runs_and_a_typo_is_suggested() -> None:
    runner = CliRunner()
    regions = runner.invoke(app, ["regions"])
    assert regions.exit_code == 0, regions.output
    assert "北京" in regions.output
    typo = runner.invoke(app, ["clera"])
    assert typo.exit_code == 2
    assert "clear" in typo.output
