"""Running the examples inside a criteria file (`irmer test`).

Each example is an incident in the public vocabulary with the outcome the
file must give; a failure says which expectation failed and what came out.

>>> from evaluator import load_criteria
>>> outcomes = run_examples(load_criteria("2024"))
>>> all(o.passed for o in outcomes)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..language import ast
from ..load import Guidance
from ..result import Result


@dataclass
class ExampleOutcome:
    example: ast.Example
    result: Result
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _notifiable(want: bool | None) -> Callable[[ast.Expectation, Result], str | None]:
    words = {True: "notifiable", False: "not notifiable", None: "undetermined"}

    def check(expectation: ast.Expectation, result: Result) -> str | None:
        if result.notifiable is want:
            return None
        extra = f" (missing: {', '.join(result.missing)})" if result.notifiable is None else ""
        return f"expected {words[want]}, got {words[result.notifiable]}{extra}"
    return check


def _codes(expectation: ast.Expectation, result: Result) -> str | None:
    if set(expectation.items) == set(result.codes):
        return None
    return f"expected codes {', '.join(expectation.items) or 'none'}, got {', '.join(result.codes) or 'none'}"


def _missing(expectation: ast.Expectation, result: Result) -> str | None:
    if set(expectation.items) == set(result.missing):
        return None
    return f"expected missing {', '.join(expectation.items)}, got {', '.join(result.missing) or 'nothing'}"


def _date(expectation: ast.Expectation, result: Result) -> str | None:
    got = getattr(result, expectation.field or "", "no such field")
    if str(got) == expectation.items[0]:
        return None
    return f"expected {expectation.field} {expectation.items[0]}, got {got}"


def _authority(expectation: ast.Expectation, result: Result) -> str | None:
    got = result.authority.name if result.authority else None
    return None if got == expectation.items[0] else f"expected authority {expectation.items[0]!r}, got {got!r}"


def _routes(expectation: ast.Expectation, result: Result) -> str | None:
    got = list(dict.fromkeys(route.name for route in result.routes))
    if set(expectation.items) == set(got):
        return None
    return f"expected routes {', '.join(expectation.items) or 'none'}, got {', '.join(got) or 'none'}"


# What each kind of expectation checks: a table.
CHECKS: dict[str, Callable[[ast.Expectation, Result], str | None]] = {
    "notifiable": _notifiable(True), "not notifiable": _notifiable(False), "undetermined": _notifiable(None),
    "codes": _codes, "missing": _missing, "date": _date, "authority": _authority,
    "routes": _routes,
}


def run_example(guidance: Guidance, example: ast.Example) -> ExampleOutcome:
    incident: dict[str, Any] = guidance.example_incident(example)
    result = guidance.evaluate(incident, explain=True)
    outcome = ExampleOutcome(example=example, result=result)
    if result.error:
        outcome.failures.append(f"the incident cannot be read: {result.error.field}: {result.error.message}")
        return outcome
    for expectation in example.expects:
        failure = CHECKS[expectation.what](expectation, result)
        if failure:
            outcome.failures.append(failure)
    if not example.expects:
        outcome.failures.append("the example has no `expect` line")
    return outcome


def run_examples(guidance: Guidance) -> list[ExampleOutcome]:
    return [run_example(guidance, example) for example in guidance.ast.examples]
