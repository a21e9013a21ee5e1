"""Progress where no bar can show (issue 12 item 18): plain lines on a step's start, its
end, and at most every ``every`` seconds in between."""

from __future__ import annotations

import pytest

from medroam.cli.sim import plain_progress, progress_bar


def test_plain_progress_lines_start_end_and_periodic() -> None:
    lines: list[str] = []
    now = [0.0]
    progress = plain_progress(lines.append, every=10.0, clock=lambda: now[0])
    progress("encounters", 0, 50)  # start: shown
    for done in range(1, 50):
        now[0] += 1.0  # one second per step: a line every 10 steps
        progress("encounters", done, 50)
    progress("encounters", 50, 50)  # end: shown
    assert lines == [
        "encounters 0/50 (0 %)",
        "encounters 10/50 (20 %)",
        "encounters 20/50 (40 %)",
        "encounters 30/50 (60 %)",
        "encounters 40/50 (80 %)",
        "encounters 50/50 (100 %)",
    ]


def test_progress_bar_writes_plain_lines_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress_bar() as progress:  # under pytest stderr is captured: not a terminal
        progress("3201", 0, 2)
        progress("3201", 2, 2)
    err = capsys.readouterr().err
    assert "3201 0/2 (0 %)" in err and "3201 2/2 (100 %)" in err
