"""Failures the fuzz suite finds that another change is fixing (issue 7), marked xfail until it lands.

Each entry names the issue's item, what fails, and where. A test marked with `@known(...)` (or a param with
`known_marks(...)`) runs as
usual; while the bug is there it is reported as xfailed (with -ra, at the end of the run), and
once the fix lands it passes (XPASS): then delete its entry here and the mark. strict=False:
a fuzz test may pass a brief run by luck, and that must not fail the suite.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase

KNOWN: dict[str, str] = {}


def known_marks(*names: str) -> list[pytest.MarkDecorator]:
    """The xfail marks for these known failures (none when they are all fixed), for pytest.param."""
    return [pytest.mark.xfail(strict=False, reason=KNOWN[name]) for name in names if name in KNOWN]


def known(*names: str):
    """A test decorator: xfail while any of these known failures is in KNOWN."""
    def mark(test):
        for decorator in known_marks(*names):
            test = decorator(test)
        return test
    return mark


def phases(*names: str) -> tuple[Phase, ...]:
    """Hypothesis's phases for a test that meets these known failures: no shrinking while one is
    known (its reproduction is in the reason already, and shrinking a failure takes long)."""
    if any(name in KNOWN for name in names):
        return (Phase.explicit, Phase.reuse, Phase.generate)
    return tuple(Phase)
