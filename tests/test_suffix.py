"""The suffix of a complementary code when no notification code is met: the category whose facts fit.

Each case is an incident that meets M (many individuals) or E (an equipment fault) but no notification
code, and the codes every engine must report under each version: the interpreter (`interpret`), the
compiled engine and the SQL backend on DuckDB (engines/suffix.py, docs/interpretations.md,
suffix_from_category).
"""

from __future__ import annotations

import pytest

from evaluator.engines.columnar import evaluate_table, rows_to_table

# Radiotherapy verification imaging across many patients, under every threshold (1 extra image of 20).
THEME = {"jurisdiction": "England", "exposure": "unintended", "modality": "radiotherapy_imaging",
         "individuals": 200, "equipment_fault": True, "intended_images": 20, "additional_images": 1}

# (id, facts, codes under 2023, codes under 2024)
CASES = [
    # 4.2c's tests (cause and theme) both fit: the most relevant category, ahead of 4.2a's (the cause alone)
    ("hardware-theme", {**THEME, "imaging_cause": "hardware_software_failure", "theme": True},
     ["M4.2c", "E4.2c"], ["M4.2c", "E4.2c"]),
    # Not a theme: 4.2c is ruled out; 2024's 4.2a reads a hardware failure, 2023's reads set-up errors only
    ("hardware-no-theme", {**THEME, "imaging_cause": "hardware_software_failure", "theme": False},
     ["M", "E"], ["M4.2a", "E4.2a"]),
    ("protocol", {**THEME, "imaging_cause": "protocol_failure", "theme": True}, ["M4.2b", "E4.2b"],
     ["M4.2b", "E4.2b"]),
    ("set-up", {**THEME, "imaging_cause": "set_up_error", "theme": False}, ["M4.2a", "E4.2a"], ["M4.2a", "E4.2a"]),
    # The cause not given: the theme alone points to 4.2c
    ("theme-only", {**THEME, "theme": True}, ["M4.2c", "E4.2c"], ["M4.2c", "E4.2c"]),
    # Nothing named: every category in scope is a candidate, and the bare letters are reported
    ("nothing-named", {**THEME, "theme": False}, ["M", "E"], ["M", "E"]),
    # A band that holds comes first (2.1 by the intended dose), whatever the named facts
    ("banded", {"jurisdiction": "England", "exposure": "unintended", "modality": "diagnostic", "individuals": 6,
                "intended_dose": "0.01 mSv", "total_dose": "0.02 mSv", "theme": True}, ["M2.1"], ["M2.1"]),
]


@pytest.fixture(scope="module")
def in_sql(g2023, g2024):
    """Each version's answers from DuckDB, one query a version."""
    rows = [facts for _, facts, _, _ in CASES]
    return {version: evaluate_table(rows_to_table(rows), criteria=guidance).to_pylist()
            for version, guidance in (("2023", g2023), ("2024", g2024))}


@pytest.mark.parametrize("version", ["2023", "2024"])
@pytest.mark.parametrize("n", range(len(CASES)), ids=[case[0] for case in CASES])
def test_the_suffix_follows_the_facts(g2023, g2024, in_sql, version, n):
    _, facts, codes_2023, codes_2024 = CASES[n]
    guidance, want = (g2023, codes_2023) if version == "2023" else (g2024, codes_2024)
    fast, explained = guidance.evaluate(facts), guidance.interpret(facts)
    assert fast.notifiable is True and fast.codes == want, (fast.codes, fast.notes)
    assert explained.codes == want
    assert in_sql[version][n]["codes"] == want
    if want[0] == "M":  # the bare letter: a note names the candidates
        assert any(note.startswith("M: add the notification code") for note in fast.notes), fast.notes
