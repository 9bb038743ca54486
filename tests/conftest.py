"""Shared fixtures: the two shipped guidance versions, a CLI runner, golden files.

Golden files live in tests/golden/. To accept new output after a deliberate
change, run `UPDATE_GOLDEN=1 python -m pytest` and review the diff in git.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator import load_criteria
from evaluator.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
# The source texts of the guidance: ../shared/guidance beside the project (as in CI),
# or wherever IRMER_GUIDANCE_DIR points.
GUIDANCE = Path(os.environ.get("IRMER_GUIDANCE_DIR") or ROOT.parent / "shared" / "guidance")


@pytest.fixture(scope="session")
def g2023():
    return load_criteria("2023")


@pytest.fixture(scope="session")
def g2024():
    return load_criteria("2024")


@pytest.fixture(params=["2023", "2024"], scope="session")
def guidance(request):
    """Each shipped version in turn."""
    return load_criteria(request.param)


def evaluate(guidance, **facts):
    """Evaluate an incident given as keyword arguments."""
    return guidance.evaluate(facts)


@pytest.fixture
def cli():
    """Run `irmer` in-process: cli("evaluate", "file.json") -> click Result (stdout, stderr, exit_code)."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)
    return run


def check_golden(name: str, text: str) -> None:
    """Compare text with tests/golden/<name>; with UPDATE_GOLDEN=1, write it instead."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}: run UPDATE_GOLDEN=1 python -m pytest to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"output differs from {path} (UPDATE_GOLDEN=1 to accept a deliberate change)"
