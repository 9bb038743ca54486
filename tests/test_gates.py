"""The project's own gates on the shipped criteria: `irmer check`, `irmer test`, `irmer lint` and
`irmer fmt --check` pass, as a policy author runs them.

They ran as four commands before the suite in `make test`; as tests they run beside the rest, on
the suite's workers, and a failure shows what the command printed.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from conftest import ROOT
from evaluator.cli import main

SHIPPED = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "criteria").glob("*.irmer"))


@pytest.mark.parametrize("command", [["check"], ["test"], ["lint"], ["fmt", "--check", *SHIPPED]],
                         ids=["check", "test", "lint", "fmt"])
def test_the_shipped_criteria_pass_the_gate(command, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    assert SHIPPED and "Traceback" not in result.output
