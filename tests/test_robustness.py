"""No edit to a criteria file, and no incident, ever surfaces as a Python exception.

Whatever a policy author types, compiling either succeeds or raises a
CriteriaError whose every diagnostic has a place in the file; whatever an
engineer sends, evaluating gives a Result (with `error` when it is invalid).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluator import CriteriaError, compile_text, load_criteria, load_vocabulary

from conftest import ROOT

SOURCE = (ROOT / "criteria" / "irmer-2024-08-28.irmer").read_text(encoding="utf-8")
LINES = SOURCE.splitlines()
CRITERIA_DIR = ROOT / "criteria"

# Pieces an author might type, rightly or wrongly.
PIECES = ["when", "band", "and", "or", "not", "(", ")", ">=", "<", "=", "3", "0.3", "mSv", "mGy", "GBq", "%",
          "times", "of", "outside", "±", "is", "one of", "includes", "criteria of 8.1", '"text"', "row 11",
          "total_dose", "foetal_dose", "child", "England", "unless", "always", "#", "\\", ",", ":", "years"]


def compiles_cleanly(text: str) -> None:
    try:
        compile_text(text, "fuzz.irmer", CRITERIA_DIR)
    except CriteriaError as error:
        assert error.diagnostics
        for diagnostic in error.diagnostics:
            assert diagnostic.message
        error.render()  # rendering a diagnostic must not fail either


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(LINES) - 1), st.sampled_from(["delete", "duplicate", "insert", "replace"]),
       st.lists(st.sampled_from(PIECES), min_size=1, max_size=5))
def test_any_line_edit_gives_diagnostics_not_exceptions(index, action, pieces):
    lines = list(LINES)
    text = " ".join(pieces)
    if action == "delete":
        del lines[index]
    elif action == "duplicate":
        lines.insert(index, lines[index])
    elif action == "insert":
        lines.insert(index, "    " + text)
    else:
        words = lines[index].split()
        if words:
            words[len(words) // 2] = text
        lines[index] = "    " + " ".join(words)
    compiles_cleanly("\n".join(lines) + "\n")


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(SOURCE) - 1), st.integers(1, 40))
def test_any_cut_gives_diagnostics_not_exceptions(start, length):
    compiles_cleanly(SOURCE[:start] + SOURCE[start + length:])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12) | st.sampled_from(["6 mSv", "12 mGy", "1.5 GBq", "England", "yes", "2024-02-30", "-1"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=5)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(load_vocabulary().facts) + ["id", "description", "date_of_birth",
                                                                          "exposure_date", "bogus"]),
                       JSON_VALUES, max_size=8))
def test_any_incident_gives_a_result(incident):
    result = load_criteria("2024").evaluate(incident)
    assert (result.error is None) == (result.errors == [])
    json.dumps(result.model_dump(mode="json"))
