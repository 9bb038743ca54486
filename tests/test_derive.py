"""What happened (`event`), the facts derived from it, near misses and contradictory facts (issue 9).

The criteria files derive `exposure`, `near_miss` and `wrong_radiopharmaceutical`
from `event` (`derive` blocks) and refuse facts that contradict each other
(`conflict` blocks). Every case runs under both versions with both Python
engines (conftest `explained`); the SQL engine leaves such rows to Python
(checked at the end against DuckDB).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from evaluator import load_criteria
from evaluator.errors import CriteriaError
from evaluator.language.fmt import format_text
from evaluator.load import compile_text

from conftest import ROOT, explained

CRITERIA = ROOT / "criteria"

VERSIONS = ("2023", "2024")
EVENTS = load_criteria("2024").vocabulary.facts["event"].values
ACCIDENTAL = {"wrong_patient", "not_intended"}


@pytest.fixture(scope="module")
def by_version(g2023, g2024):
    return {"2023": g2023, "2024": g2024}


# ------------------------------------------------------------ the exposure category, from what happened

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("event", EVENTS)
def test_each_event_derives_its_category(by_version, version, event):
    """Accidental for a wrong patient or an exposure nobody wanted, none for a near miss, else unintended."""
    guidance = by_version[version]
    read = guidance.read({"event": event})
    expected = None if event == "near_miss" else "accidental" if event in ACCIDENTAL else "unintended"
    assert read.values.get("exposure") == expected
    assert read.values["near_miss"] is (event == "near_miss")
    assert read.values["wrong_radiopharmaceutical"] is (event == "wrong_radiopharmaceutical")
    # Given as the event derives it, the exposure is accepted; given otherwise, refused naming both facts.
    if expected is not None:
        assert guidance.read({"event": event, "exposure": expected}).values["exposure"] == expected
        other = "unintended" if expected == "accidental" else "accidental"
        result = explained(guidance, {"event": event, "exposure": other, "jurisdiction": "England"})
        assert result.error is not None and result.error.field == "exposure"
        assert "event" in result.error.message and result.notifiable is None


@dataclass
class Case:
    name: str
    facts: dict
    notifiable: bool | None
    codes: list[str] = field(default_factory=list)
    note: str | None = None  # a note the result must carry


ENGLAND = {"jurisdiction": "England"}
CASES = [
    Case("wrong-patient-8-mSv", {**ENGLAND, "event": "wrong_patient", "modality": "diagnostic", "total_dose": "8 mSv"},
         True, ["1"], "exposure accidental: derived from event wrong_patient"),
    # Code 1's adult threshold, on the boundary and just under it, reached through the event.
    Case("not-intended-adult-exactly-3-mSv", {**ENGLAND, "event": "not_intended", "age": 40, "total_dose": "3 mSv"},
         True, ["1"]),
    Case("not-intended-adult-2.999-mSv", {**ENGLAND, "event": "not_intended", "age": 40,
                                          "total_dose": "2.999 mSv"}, False, []),
    Case("wrong-laterality-exactly-10-times", {**ENGLAND, "event": "wrong_laterality", "modality": "diagnostic",
                                               "intended_dose": "1 mSv", "total_dose": "10 mSv"}, True, ["2.2"]),
    Case("wrong-laterality-twice", {**ENGLAND, "event": "wrong_laterality", "modality": "diagnostic", "age": 35,
                                    "intended_dose": "0.005 mSv", "total_dose": "0.01 mSv"}, False, [],
         "exposure unintended: derived from event wrong_laterality"),
    Case("wrong-radiopharmaceutical-code-7", {**ENGLAND, "event": "wrong_radiopharmaceutical",
                                              "modality": "nuclear_medicine"}, True, ["7"]),
    # An unknown event leaves the exposure unknown, as before: code 1 in Wales needs an accidental exposure.
    Case("no-event-no-exposure-wales", {"jurisdiction": "Wales", "modality": "diagnostic"}, None, []),
    # Near misses: no code, not even M or C, whatever else is said; V (voluntary) still may be given.
    Case("near-miss", {**ENGLAND, "event": "near_miss", "modality": "radiotherapy"}, False, []),
    Case("near-miss-several-patients-clinically-significant",
         {**ENGLAND, "event": "near_miss", "individuals": 4, "clinically_significant": True,
          "equipment_fault": True}, False, []),
    Case("near-miss-voluntary", {**ENGLAND, "event": "near_miss", "modality": "radiotherapy", "voluntary": True},
         False, ["V*"]),  # the suffix is the suffix rule's business (engines/suffix.py)
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_the_event_decides_as_the_category_would(by_version, version, case):
    result = explained(by_version[version], case.facts)
    assert result.error is None, result.error
    codes = [c[:1] + "*" if want.endswith("*") else c for c, want in zip(result.codes, case.codes)]
    assert (result.notifiable, codes, len(result.codes)) == (case.notifiable, case.codes, len(case.codes)), result
    if case.note:
        assert case.note in result.notes


@pytest.mark.parametrize("version", VERSIONS)
def test_a_near_miss_is_advised_local_investigation_and_voluntary_notification(by_version, version):
    result = explained(by_version[version], {**ENGLAND, "event": "near_miss"})
    (advice,) = [a for a in result.advice if a.name == "near_miss"]
    assert "Regulation 8(3)" in advice.text and "voluntary" in advice.text
    assert any("This includes near misses." in words for words in advice.says)
    assert not any(a.name == "near_miss" for a in explained(by_version[version], {**ENGLAND, "event": "repeat"}).advice)


# ------------------------------------------------------------ contradictions

CONFLICTS = [
    ("set-up-error-no-error", {"error_involved": False, "imaging_cause": "set_up_error", "fraction_images": 3},
     ["error_involved", "imaging_cause"]),
    ("protocol-failure-no-error", {"error_involved": False, "imaging_cause": "protocol_failure"},
     ["error_involved", "imaging_cause"]),
    ("near-miss-with-exposure", {"event": "near_miss", "exposure": "unintended"}, ["near_miss", "exposure"]),
    ("near-miss-given-with-exposure", {"near_miss": True, "exposure": "accidental"}, ["near_miss", "exposure"]),
    ("near-miss-contradicts-event", {"near_miss": True, "event": "wrong_patient"}, ["near_miss", "event"]),
    ("wrong-radiopharmaceutical-no", {"event": "wrong_radiopharmaceutical", "wrong_radiopharmaceutical": False},
     ["wrong_radiopharmaceutical", "event"]),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name, facts, named", CONFLICTS, ids=[c[0] for c in CONFLICTS])
def test_contradictory_facts_are_refused_naming_them(by_version, version, name, facts, named):
    result = explained(by_version[version], {**ENGLAND, "exposure": "unintended", "modality": "radiotherapy_imaging",
                                             **facts} if "event" not in facts and "near_miss" not in facts
                       else {**ENGLAND, **facts})
    assert result.error is not None and result.notifiable is None and result.codes == []
    assert result.error.field == named[0]
    assert all(fact in result.error.message for fact in named), result.error


NOT_CONFLICTS = [
    # A default never contradicts: error_involved absent means yes, so an imaging cause alone is no contradiction.
    ("imaging-cause-alone", {"imaging_cause": "set_up_error", "fraction_images": 3}, True),
    ("no-error-without-a-cause", {"error_involved": False}, False),
    ("error-with-a-cause", {"error_involved": True, "imaging_cause": "set_up_error", "fraction_images": 3}, True),
    ("not-a-near-miss-with-exposure", {"near_miss": False}, None),
]


@pytest.mark.parametrize("name, facts, notifiable", NOT_CONFLICTS, ids=[c[0] for c in NOT_CONFLICTS])
def test_facts_that_do_not_contradict_are_evaluated(g2024, name, facts, notifiable):
    result = explained(g2024, {**ENGLAND, "exposure": "unintended", "modality": "radiotherapy_imaging", **facts})
    assert result.error is None and result.notifiable is notifiable, result


# ------------------------------------------------------------ the language

BASE = (CRITERIA / "irmer-2024-08-28.irmer").read_text(encoding="utf-8")


def edited(extra: str):
    return compile_text(BASE + "\n" + extra, "edited.irmer", CRITERIA)


@pytest.mark.parametrize("extra, message", [
    ("derive colour\n  as red if event is repeat\n", "`colour` is not a fact of the vocabulary"),
    ("derive age\n  as accidental if event is repeat\n", "derive works out a fact with one named value"),
    ("derive exposure\n  as accidental if event is repeat\n", "`exposure` is derived twice"),
    ("derive tissue_reaction\n  as sideways if event is repeat\n", "`sideways` is not a value of `tissue_reaction`"),
    ("derive tissue_reaction\n  as other if tissue_reaction is none\n", "reads `tissue_reaction` itself"),
    ("derive tissue_reaction\n  as other if adult\n", "reads the definition `adult`"),
    ("derive tissue_reaction\n  as other if criteria of 2.1\n", "reads `criteria of 2.1`"),
    ("derive tissue_reaction\n  as other if total_dose\n", "must be a condition"),
    ("derive geographical_miss\n  as total if tissue_reaction is other\n"
     "derive tissue_reaction\n  as other if geographical_miss is total\n", "derivations depend on each other in a circle"),
    ("conflict lonely\n  message \"m\"\n  when theme\n", "reads 1 fact"),
    ("conflict silent\n  when theme and voluntary\n", "has no `message` line"),
    ("conflict vague\n  message \"m\"\n", "has no `when` line"),
    ("derive tissue_reaction\n  note \"n\"\n", "has no `as` line"),
])
def test_the_checker_refuses_a_bad_derivation_or_conflict(extra, message):
    with pytest.raises(CriteriaError) as error:
        edited(extra)
    assert message in str(error.value), str(error.value)


def test_a_derivation_and_a_conflict_format_canonically_and_round_trip():
    text = ('guidance "g"\n  title "t"\n\n\nderive exposure\n  note "n"\n'
            '  as   accidental  if event is wrong_patient\n'
            '     unintended if event is repeat or event is wrong_timing\n\n'
            'conflict c\n  when  not error_involved\n    and imaging_cause is set_up_error\n  message  "m"\n')
    once = format_text(text, "x.irmer")
    assert "derive exposure\n  note \"n\"\n  as accidental if event is wrong_patient\n" \
           "     unintended if event is repeat or event is wrong_timing\n" in once
    assert 'conflict c\n  message "m"\n  when not error_involved\n   and imaging_cause is set_up_error\n' in once
    assert format_text(once, "x.irmer") == once


# ------------------------------------------------------------ SQL: such rows are Python's

def test_sql_leaves_derived_and_contradictory_rows_to_python(g2024):
    pytest.importorskip("duckdb")
    from evaluator.engines.columnar import evaluate_table
    import pyarrow as pa
    rows = [
        {"id": "a", "jurisdiction": "England", "event": "wrong_patient", "total_dose": "8 mSv", "exposure": None,
         "error_involved": None, "imaging_cause": None},
        {"id": "b", "jurisdiction": "England", "event": None, "total_dose": "8 mSv", "exposure": "accidental",
         "error_involved": None, "imaging_cause": None},
        {"id": "c", "jurisdiction": "England", "event": None, "total_dose": None, "exposure": "unintended",
         "error_involved": "no", "imaging_cause": "set_up_error"},
        {"id": "d", "jurisdiction": "England", "event": "wrong_laterality", "total_dose": None,
         "exposure": "accidental", "error_involved": None, "imaging_cause": None},
    ]
    out = evaluate_table(pa.Table.from_pylist(rows), criteria=g2024).to_pylist()
    by_id = {row["id"]: row for row in out}
    assert by_id["a"]["notifiable"] is True and list(by_id["a"]["codes"]) == ["1"]
    assert by_id["b"]["notifiable"] is True
    assert by_id["c"]["error"] and by_id["d"]["error"]
    for row in rows:  # row for row, the answers of the Python engine
        incident = {k: v for k, v in row.items() if v is not None}
        result = g2024.evaluate(incident)
        assert by_id[row["id"]]["notifiable"] == result.notifiable, row
        assert bool(by_id[row["id"]]["error"]) == (result.error is not None), row
