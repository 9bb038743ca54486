"""Incidents from the CQC IR(ME)R annual report 2024/25 and the guidance's own examples, as the guidance decides them.

tests/data/annual_report_incidents.json holds each incident as data: an id, the
case in the words of the report or the guidance (`case`), the sentences that
decide it (`decided_by`), the facts, and the outcome each version of the
guidance gives (`expected`: notifiable and the exact codes, and where an
incident goes besides the enforcing authority, the names of its `routes`). Both quotes are
checked verbatim against the source texts, as tests/test_traceability.py does
for the criteria files. Each incident is evaluated under both versions, with
both engines (tests/conftest.py `explained`).

Some incidents cannot be written faithfully in today's vocabulary (issue 9):
they need a fact or a result field that does not exist yet (`event`,
`exposed_person`, `routes`, `assumed`, an alternative unit, ...). They are kept
with `needs` and the outcome the guidance gives, and are skipped with the
reason "needs <...>: issue 9, not yet in the vocabulary", a stated gap, not a
pass. `test_each_stated_gap_is_real` fails when one of them becomes
expressible, so that its `needs` is removed and it is held to its outcome.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluator import load_vocabulary
from evaluator.result import Result

from conftest import GUIDANCE, ROOT, explained
from test_traceability import normalise

DATA = ROOT / "tests" / "data" / "annual_report_incidents.json"
INCIDENTS: list[dict] = json.loads(DATA.read_text(encoding="utf-8"))
VERSIONS = ("2023", "2024")
SOURCES = {
    "report": "cqc-irmer-annual-report-2024-25.txt",
    "guidance-2023": "cqc-saue-guidance-2023-04-19.txt",
    "guidance-2024": "cqc-saue-guidance-2024-08-28.txt",
}
# What each stated gap waits for: a fact of the vocabulary, or a field of the result. A gap that is
# neither (the suffix of a complementary code chosen from the facts, contradictions reported) is a
# behaviour; test_each_stated_gap_is_real holds those to their outcome instead.
NEEDS_FACT = {"event", "exposed_person", "before_clinical_use", "licence_breach"}
NEEDS_RESULT_FIELD = {"routes", "assumed"}
NEEDS_BEHAVIOUR = {"alternative_unit", "suffix_from_facts", "contradictions"}


def params(versions=VERSIONS) -> list:
    return [pytest.param(item, version, id=f"{item['id']}-{version}") for item in INCIDENTS for version in versions]


@pytest.fixture(scope="module")
def by_version(g2023, g2024):
    return {"2023": g2023, "2024": g2024}


def gap(item: dict) -> str:
    return f"needs {', '.join(item['needs'])}: issue 9, not yet in the vocabulary"


# ------------------------------------------------------------------ the data

def test_the_data_is_well_formed():
    assert len(INCIDENTS) >= 40
    ids = [item["id"] for item in INCIDENTS]
    assert len(ids) == len(set(ids)), "ids are unique"
    for item in INCIDENTS:
        assert set(item) <= {"id", "title", "case", "decided_by", "facts", "needs", "note", "expected"}, item["id"]
        assert item["title"] and item["facts"] and item["decided_by"], item["id"]
        assert set(item["expected"]) == set(VERSIONS), item["id"]
        for outcome in item["expected"].values():
            # `missing`, `assumed` (the facts named there, in order) and `routes` are held too when given.
            assert {"notifiable", "codes"} <= set(outcome) <= {"notifiable", "codes", "missing", "assumed", "routes"} \
                or set(outcome) == {"error"}, item["id"]
        for need in item.get("needs", []):
            assert need in NEEDS_FACT | NEEDS_RESULT_FIELD | NEEDS_BEHAVIOUR, (item["id"], need)
    # Most of the set evaluates today; the report and the guidance both contribute.
    assert sum(1 for item in INCIDENTS if "needs" not in item) >= 40
    assert {item["case"]["source"] for item in INCIDENTS} == set(SOURCES)


@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return {key: normalise((GUIDANCE / name).read_text(encoding="utf-8")) for key, name in SOURCES.items()}


@pytest.mark.parametrize("item", INCIDENTS, ids=lambda item: item["id"])
def test_the_quotes_are_verbatim(item, sources):
    for quote in [item["case"], *item["decided_by"]]:
        assert quote["source"] in SOURCES, (item["id"], quote["source"])
        assert normalise(quote["text"]) in sources[quote["source"]], (
            f"{item['id']}: not verbatim in {SOURCES[quote['source']]}: {quote['text']!r}")


def test_a_misquote_is_caught(sources):
    assert normalise("faulty administration lines") in sources["report"]
    assert normalise("faulty administration line") in sources["report"]  # a substring is a quote
    assert normalise("faulty injection lines") not in sources["report"]


# ------------------------------------------------------------------ the outcomes

@pytest.mark.parametrize("item, version", params())
def test_each_incident_as_the_guidance_decides_it(by_version, item, version):
    if "needs" in item:
        pytest.skip(gap(item))
    expected = item["expected"][version]
    result = explained(by_version[version], item["facts"])
    if "error" in expected:  # contradictory facts: an error naming each of them, never a verdict
        assert result.error is not None and result.notifiable is None and result.codes == [], result
        named = f"{result.error.field} {result.error.message}"
        assert all(fact in named for fact in expected["error"]), (item["id"], result.error)
        return
    assert result.error is None, result.error
    assert (result.notifiable, result.codes) == (expected["notifiable"], expected["codes"]), (
        f"{item['id']} under {version}: {item['title']}\nmissing: {result.missing}\nnotes: {result.notes}")
    if expected["notifiable"] is not None:
        assert result.missing == [], result.missing
    if "routes" in expected:  # where the incident also goes: the HSE, the ARSAC Support Unit, ...
        assert [route.name for route in result.routes] == expected["routes"], (item["id"], version)
    if "missing" in expected:
        assert result.missing == expected["missing"], (item["id"], version, result.missing)
    assert [a.fact for a in result.assumed] == expected.get("assumed", []), (
        f"{item['id']} under {version}: judgements taken by default that decide it: "
        f"{[a.text for a in result.assumed]}")


# ------------------------------------------------------------------ the stated gaps

STATED = [item for item in INCIDENTS if "needs" in item]


def test_the_gaps_are_stated():
    """Which incidents need what: the list the report of issue 9 gives."""
    assert {item["id"]: item["needs"] for item in STATED} == {}


def test_each_stated_gap_is_real(g2024):
    """Each incident with `needs` cannot be evaluated as the guidance says today: a fact is refused, or the
    outcome differs. (None has any now; an incident added with a gap is held to it here.)

    When this fails, the vocabulary or the engine has caught up: drop the incident's `needs`.
    """
    facts = set(load_vocabulary().facts)
    fields = set(Result.model_fields)
    for item in STATED:
        for need in item["needs"]:
            if need in NEEDS_FACT:
                assert need not in facts, f"{item['id']}: `{need}` is now a fact: drop it from needs"
            elif need in NEEDS_RESULT_FIELD:
                assert need not in fields, f"{item['id']}: `{need}` is now a field of the result: drop it from needs"
        result = g2024.evaluate(item["facts"])
        expected = item["expected"]["2024"]
        if "error" in expected:
            assert result.error is None, f"{item['id']}: the contradiction is now reported: drop its needs"
        else:
            assert result.error is not None or (result.notifiable, result.codes) != (
                expected["notifiable"], expected["codes"]), (
                f"{item['id']} now evaluates as the guidance says: drop its needs")
