"""The README's examples read the fixtures file where ``make demo`` (``medroam demo``) and
``medroam seed --demo`` write it (issue 12 item 14)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from medroam.cli.seed import seed
from medroam.services.demo import DEFAULT_FIXTURES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_fixtures_path_in_the_readme_is_the_demo_one() -> None:
    text = README.read_text("utf-8")
    paths = re.findall(r"[\w./-]*demo-fixtures\.json", text)
    assert paths, "the README names the fixtures file"
    assert set(paths) == {DEFAULT_FIXTURES.as_posix()}, paths


def test_seed_writes_the_fixtures_where_the_demo_does() -> None:
    default = inspect.signature(seed).parameters["out"].default
    assert Path(default) == DEFAULT_FIXTURES
