"""The examples written in the criteria files, one pytest case each (`irmer test` runs the same)."""

from __future__ import annotations

import pytest

from evaluator import load_criteria
from evaluator.tools.examples import run_example

CASES = [(version, example) for version in ("2023", "2024") for example in load_criteria(version).ast.examples]


@pytest.mark.parametrize(("version", "example"), CASES,
                         ids=[f"{v}:{e.span.line}:{e.title}" for v, e in CASES])
def test_example(version, example):
    outcome = run_example(load_criteria(version), example)
    assert outcome.passed, "; ".join(outcome.failures)


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_every_code_has_an_example_that_fires_it(version):
    guidance = load_criteria(version)
    fired = set()
    for example in guidance.ast.examples:
        fired |= set(run_example(guidance, example).result.codes)
    base = {code.lstrip("MEVC") for code in fired}
    missing = sorted({row.code for row in guidance.ast.rows} - base)
    assert missing == [], f"codes no example fires: {missing}"


def test_a_wrong_expectation_fails(g2024):
    # The runner must be able to fail: flip one expectation and it does.
    example = g2024.ast.examples[0]
    wrong = example.model_copy(update={"expects": tuple(
        e.model_copy(update={"what": "not notifiable"}) if e.what == "notifiable" else e for e in example.expects)})
    outcome = run_example(g2024, wrong)
    assert not outcome.passed
    assert "expected not notifiable, got notifiable" in outcome.failures[0]
