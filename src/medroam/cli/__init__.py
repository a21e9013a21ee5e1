"""``medroam``: the command line (Typer + Rich). Thin: parse, call a service, print."""

from __future__ import annotations

from medroam.cli.main import app, main

__all__ = ["app", "main"]
