"""The compiled engine against the interpreter: the same answer for every incident.

`Guidance.evaluate` decides with the compiled engine; `Guidance.interpret` with
the interpreter, the explaining engine (`explain=True` takes the explanation from it). A change to the language lands in both or
this test fails: on boundary-biased random incidents (every threshold of both
versions and just beside it, relative thresholds exactly on their multiple,
mixed units, missing facts, odd spellings), both versions, the whole result
but the explanation must agree. `IRMER_DIFFERENTIAL=N` sets the number per
version: 4,000 here, enough that every verdict, every row's code and every
complementary letter of both versions is reached several times over (each is
first reached within a thousand; test_the_slices_reach_every_code checks it),
and bench/bench_engine.py runs 200,000.
"""

from __future__ import annotations

import json
import os
import pickle
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from differential import incidents
from evaluator import compile_text, load_criteria
from evaluator.engines.compiled import FIELDS, CompiledEngine
from evaluator.engines.compiled.runtime import Unknown
from evaluator.language.incident import IncidentError
from evaluator.result import Result

PER_VERSION = int(os.environ.get("IRMER_DIFFERENTIAL", "4000"))
SLICES = 8  # the incidents of a version in slices, so that the test runs in parallel (pytest-xdist)


def sliced(version: str, part: int) -> list[dict]:
    """The random incidents of one slice of a version."""
    return list(incidents(PER_VERSION // SLICES, seed=part * 7919 + (2023 if version == "2023" else 2024)))


def disagreements(guidance, batch) -> list[str]:
    out = []
    for incident in batch:
        explained = guidance.interpret(incident)
        fast = guidance.evaluate(incident)
        if fast != explained.model_copy(update={"explanation": []}):
            wanted = explained.model_dump(mode="json", exclude={"explanation"})
            got = fast.model_dump(mode="json", exclude={"explanation"})
            changed = {k: (got[k], wanted[k]) for k in wanted if got[k] != wanted[k]}
            out.append(f"{incident}: (compiled, interpreter) {changed}")
    return out


@pytest.mark.parametrize("version", ["2023", "2024"])
@pytest.mark.parametrize("part", range(SLICES))
def test_the_engines_agree_on_random_incidents(version, part):
    guidance = load_criteria(version)
    batch = sliced(version, part)
    found = disagreements(guidance, batch)
    assert not found, f"{len(found)} of {len(batch)} incidents differ, such as:\n" + "\n".join(found[:5])


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_the_slices_reach_every_code(version):
    """The incidents the engines are compared on reach every verdict, every row's code, every
    complementary code of the version (its letter, with some suffix: V2.1, V3) and every route, in
    every jurisdiction where it names a destination of its own."""
    guidance = load_criteria(version)
    results = [guidance.evaluate(i) for part in range(SLICES) for i in sliced(version, part)]
    assert {r.notifiable for r in results} == {True, False, None}
    met = {code for r in results for code in r.codes}
    rows = {row.code for row in guidance.ast.rows}
    assert rows - met == set()
    assert {code[0] for code in met - rows} == {item.code for item in guidance.ast.complementary}
    shown = {(route.name, route.to) for r in results for route in r.routes}
    assert shown == {(route.name, to.text) for route in guidance.ast.routes for to in route.to}
    # The judgements taken by default (`absent assumes`) decide some of them, so the engines are compared
    # on `assumed` too: each judgement of the version, and each way its other value goes.
    judged = {(a.fact, a.notifiable) for r in results for a in r.assumed}
    wanted = {"2023": {("procedural_failure", True)},
              "2024": {("procedural_failure", True), ("error_involved", False), ("error_involved", True)}}
    assert wanted[version] <= judged, sorted(judged)


def test_the_incidents_reach_every_outcome():
    """A differential test that only ever saw undetermined incidents would prove little."""
    guidance = load_criteria("2024")
    results = [guidance.evaluate(i) for i in incidents(2000, seed=1)]
    assert {r.notifiable for r in results} == {True, False, None}
    met = {code for r in results for code in r.codes}
    assert {"1", "2.1", "2.2", "2.3", "2.4", "4.1", "8.1", "8.2", "10.1", "10.2"} <= met, sorted(met)
    assert sum(r.error is not None for r in results) < len(results) // 4


# ------------------------------------------------------------------- the fast reader

VALUES = st.one_of(
    st.text(max_size=12), st.integers(-10**20, 10**20), st.floats(allow_nan=True), st.booleans(), st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.lists(st.sampled_from(["diagnostic", "radiotherapy", "Diagnostic", "x"]), max_size=3),
    st.builds(lambda n, u: f"{n}{u}", st.sampled_from(["3", "3.0", "03", "0.30", "1e3", "3.", ".5", "١", "3,5",
                                                        "30000000000000000", "2.5 "]),
              st.sampled_from([" mSv", "mSv", " uSv", " µSv", " μSv", " Gy", " MBq", " mCi", "  mSv", " MSv", ""])),
    st.sampled_from(["2024-09-02", "2024-02-30", "1899-12-31", "2200-01-01", "20240902", "England", "england",
                     "Northern Ireland", "northern_ireland", "yes", "no", "true", "accidental", "sirt", "16"]),
)


def read_both(engine: CompiledEngine, data: dict):
    """What the fast reader and the vocabulary's reader make of an incident, for comparison."""
    answers = []
    for read in (engine.reader.read, engine.reader.slow):
        try:
            answers.append(read(data))
        except IncidentError as error:
            answers.append(("refused", str(error)))
    return answers


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["jurisdiction", "exposure", "modality", "age", "total_dose", "foetal_dose",
                                        "delivered_activity", "individuals", "theme", "discovered_on", "id",
                                        "description", "nm_therapy", "date_of_birth"]), VALUES, max_size=6))
def test_the_fast_reader_reads_as_the_vocabulary_does(data):
    """The compiled engine reads common forms itself; whatever it reads, it reads as the vocabulary's reader
    does, and what it does not read goes to that reader: the two accept and refuse the same incidents."""
    fast, slow = read_both(load_criteria("2024").compiled, data)
    assert fast == slow


@pytest.mark.parametrize("data", [
    {"total_dose": "3000 uSv"}, {"total_dose": "3 mSv"}, {"total_dose": "0.003 Sv"}, {"total_dose": "3mSv"},
    {"age": 17}, {"age": "17"}, {"age": Decimal("17.5")}, {"individuals": 3}, {"individuals": "3"},
    {"modality": ["diagnostic", "radiotherapy"]}, {"modality": "diagnostic"}, {"jurisdiction": "england"},
    {"discovered_on": "2024-09-02"}, {"theme": "yes"}, {"id": 12}, {"id": True}, {"total_dose": "3 MSv"},
    {"age": "42.5 years"}, {"age": "41.6389"}, {"age": "41.5 "}, {"age": " 17"}, {"age": "1.5 weeks"},
    {"individuals": "03"}, {"individuals": "0"}, {"individuals": "+3"}, {"individuals": "1000000000"},
    {"jurisdiction": "northern ireland"}, {"jurisdiction": "NORTHERN_IRELAND"}, {"exposure": "Accidental"},
    {"modality": ["Diagnostic", "radiotherapy"]}, {"modality": "nuclear medicine"}, {"theme": "Y"},
    {"theme": "y"}, {"theme": "no "}, {"near_miss": "false"},
])
def test_common_and_odd_forms(data):
    fast, slow = read_both(load_criteria("2024").compiled, data)
    assert fast == slow


# What a CSV or a form gives: read by the fast reader itself, not handed to the vocabulary's (what the fast
# reader makes of each is held to the vocabulary's reader above).
@pytest.mark.parametrize("fact, raw", [
    ("jurisdiction", "england"), ("jurisdiction", "northern ireland"), ("modality", "nuclear_medicine"),
    ("modality", ["diagnostic", "nuclear medicine"]), ("theme", "yes"), ("theme", "no"), ("error_involved", "true"),
    ("individuals", "3"), ("intended_images", "12"), ("age", "42.5 years"), ("age", "41.6389"), ("age", "40"),
])
def test_the_forms_a_table_gives_are_read_fast(fact, raw):
    from evaluator.engines.compiled.reader import _SLOW
    assert load_criteria("2024").compiled.reader.readers[fact](raw) is not _SLOW


def test_one_scale_per_kind():
    """3000 uSv and 3 mSv are the same integer; so are the thresholds they meet."""
    engine = load_criteria("2024").compiled
    a, _, _ = engine.reader.read({"total_dose": "3000 uSv"})
    b, _, _ = engine.reader.read({"total_dose": "3 mSv"})
    assert a["total_dose"] == b["total_dose"] == 3 * 10**9 and type(a["total_dose"]) is int


# ------------------------------------------------------------------------- the result

def test_a_result_document_is_the_result_as_json():
    """`irmer evaluate` writes the engine's plain dict; it must be the Result's JSON, field for field."""
    guidance = load_criteria("2024")
    for incident in incidents(300, seed=5):
        try:
            document = guidance.compiled.evaluate(incident)
        except IncidentError:
            continue
        assert tuple(document) == FIELDS
        result = Result(**document)
        assert json.dumps(document, default=str) == json.dumps(result.model_dump(mode="json",
                                                                                 exclude={"explanation"}))
    assert FIELDS == tuple(name for name in Result.model_fields if name != "explanation")


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_the_result_made_without_validation_is_the_validated_one(version, monkeypatch):
    """Guidance.evaluate makes the Result of the engine's document without validating it (result.engine_result):
    it must be the Result validation makes of the same document, field for field, in JSON and as printed."""
    import copy
    import evaluator.result as result_module
    guidance = load_criteria(version)
    validated = []
    real = result_module.own_document
    monkeypatch.setattr(result_module, "own_document", lambda *args: validated.append(1) or real(*args))
    shared = result_module.shared_entries(guidance.compiled)
    made = 0
    for incident in incidents(600, seed=17):
        try:
            document = guidance.compiled.evaluate(incident)
        except IncidentError:
            continue
        want = Result.model_validate(copy.deepcopy(document))
        before = len(validated)
        got = result_module.engine_result(document, shared)
        made += len(validated) == before
        assert got == want and repr(got) == repr(want) and got.model_dump_json() == want.model_dump_json()
        assert got.model_fields_set == want.model_fields_set
        assert [a.model_fields_set for a in got.assumed] == [a.model_fields_set for a in want.assumed]
    assert made > 300 and not validated  # every document of the engine is made, none validated


def test_a_result_made_without_validation_is_its_own():
    """Results made from the engine's documents share no list: changing one changes no other."""
    guidance = load_criteria("2024")
    facts = {"jurisdiction": "England", "exposure": "unintended", "modality": "diagnostic", "age": 40,
             "intended_dose": "2 mSv", "total_dose": "20 mSv", "discovered_on": "2024-03-01"}
    first, second = guidance.evaluate(facts), guidance.evaluate(facts)
    assert first.assumed and first.routes  # the entries made from the engine's own
    first.codes.append("9.9")
    first.assumed[0].codes.append("9.9")
    first.routes.append(first.routes[0])
    first.explanation.append(None)
    assert second == guidance.evaluate(facts) and second.codes == ["2.2"] and second.assumed[0].codes == []
    assert len(second.routes) == 1 and second.explanation == []


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_verdicts_kept_from_other_incidents_decide_as_a_fresh_engine(version):
    """Three-valued row verdicts are kept by the values of the facts the row reads (CompiledEngine._verdict):
    incidents decided after thousands of others give what an engine that keeps nothing gives."""
    guidance = load_criteria(version)
    kept, fresh = CompiledEngine(guidance.compiled.table), CompiledEngine(guidance.compiled.table)
    batch = list(incidents(1500, seed=23)) * 2  # the second time round, every verdict it needs is kept
    reused = 0
    for incident in batch:
        try:
            fresh.forget()
            want = fresh.evaluate(incident)
        except IncidentError:
            continue
        before = sum(len(found) for found in kept._kept)
        assert kept.evaluate(incident) == want, incident
        reused += sum(len(found) for found in kept._kept) == before
    assert reused > 1000
    assert all(info.reads for info in kept.infos)  # every row's reads are known, so every row keeps


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_explanations_from_kept_verdicts_are_the_interpreters(version):
    """`explain=True` keeps row verdicts by the values of the facts each row reads (Evaluator.explain): the
    explanation of an incident after thousands of others must be the one the interpreter gives afresh."""
    guidance = compile_text(load_criteria(version).source, "kept.irmer", load_criteria(version).path.parent)
    batch = list(incidents(1000, seed=29)) * 2  # the second time round, every row's verdict is kept
    kept = guidance.evaluator._kept
    reused = 0
    for incident in batch:
        before = sum(len(found) for found in kept)
        got = guidance.evaluate(incident, explain=True)
        reused += sum(len(found) for found in kept) == before and got.error is None
        want = guidance.interpret(incident)
        assert got == want, incident
        # made without validation (Evaluator.explanation): as validation makes them, to the fields set
        assert repr(got.explanation) == repr(want.explanation)
        assert [c.model_fields_set for c in got.explanation] == [c.model_fields_set for c in want.explanation]
    assert reused > 500


def test_the_table_pickles_and_decides_the_same():
    """The cache keeps the Table: one unpickled decides as the one compiled."""
    guidance = load_criteria("2023")
    table = pickle.loads(pickle.dumps(guidance.compiled.table))
    engine = CompiledEngine(table)
    for incident in incidents(300, seed=9):
        try:
            want = guidance.compiled.evaluate(incident)
        except IncidentError:
            continue
        assert engine.evaluate(incident) == want


def test_the_table_alone_decides_incidents_with_missing_facts():
    """No AST at run time: the three-valued side is generated too, and the splits are data in the Table."""
    guidance = load_criteria("2024")
    table = pickle.loads(pickle.dumps(guidance.compiled.table))
    engine = CompiledEngine(table)
    complete = {"jurisdiction": "England", "exposure": "accidental", "modality": "diagnostic", "age": 40,
                "total_dose": "8 mSv"}
    assert engine.evaluate(complete)["codes"] == ["1"]
    assert engine._slow is None  # a complete incident never builds the three-valued side
    assert engine.evaluate({**complete, "age": None})["codes"] == ["1"]  # 8 mSv meets both thresholds
    assert engine.evaluate({**complete, "age": None, "total_dose": "2 mSv"})["missing"] == ["age"]


def test_text_from_the_criteria_cannot_break_the_generated_code():
    """Row labels and names go into comments of the generated code: a NUL or a line break there must not
    end the comment or the source (found by the fuzz suite)."""
    from evaluator import compile_text
    from evaluator.catalogue import find_criteria
    path = find_criteria("2024")
    source = path.read_text(encoding="utf-8").replace('row 1 "England only"', 'row 1 "England\x00 only"')
    guidance = compile_text(source, "label.irmer", path.parent)
    assert "England\x00 only" in [row.label for row in guidance.ast.rows]
    result = guidance.evaluate({"jurisdiction": "England", "exposure": "accidental", "age": 40, "total_dose": "8 mSv"})
    assert result.codes == ["1"] and "\x00" not in guidance.compiled.source


# ------------------------------------------------- judgement defaults: the other decision, composed

NM = {"jurisdiction": "England", "exposure": "unintended", "modality": "nuclear_medicine", "age": 30}
COMPOSED = [
    # (facts, the `assumed` entries, how many times the other decisions are composed: by the three-valued
    # side, by _codes (the first decision's own _codes call not counted))
    pytest.param({**NM, "intended_dose": "2 mSv", "total_dose": "22 mSv"},
                 ["error_involved is taken as yes (not given); if it is no: not notifiable"], 0, 1,
                 id="6-undecided-while-2.2-met: no composition; 2.2 goes, composed two-valued"),
    pytest.param({**NM, "intended_dose": "1 mSv", "total_dose": "1.5 mSv"}, [], 0, 0,
                 id="6-met-in-some-cases-nothing-else-met: undetermined whatever, nothing composed"),
    pytest.param({**NM, "total_dose": "1.5 mSv"}, [], 1, 0,
                 id="first-decision-three-valued: the three-valued side composes the other (undetermined)"),
    pytest.param({**NM, "modality": "nuclear_medicine_therapy", "nm_therapy": "other", "prescribed_activity": "1.5 GBq",
                  "delivered_activity": "1.5 GBq", "intended_dose": "1 mSv", "total_dose": "1 mSv"}, [], 1, 0,
                 id="first-decision-undetermined: the other composed three-valued"),
    pytest.param({**NM, "intended_dose": "1 mSv", "total_dose": "1.5 mSv", "infant_dose": "2 mSv"},
                 ["procedural_failure is taken as no (not given); if it is yes: notifiable, 6"], 0, 1,
                 id="6-met-through-the-judgement"),
    pytest.param({**NM, "intended_dose": "2 mSv", "total_dose": "22 mSv", "infant_dose": "2 mSv"},
                 ["procedural_failure is taken as no (not given); if it is yes: notifiable, 2.2, 6",
                  "error_involved is taken as yes (not given); if it is no: not notifiable"], 0, 2,
                 id="both-judgements-change-the-codes"),
    pytest.param({"jurisdiction": "England", "exposure": "accidental", "modality": "diagnostic", "age": 30,
                  "intended_dose": "2 mSv", "total_dose": "22 mSv", "individuals": 3}, [], 0, 0,
                 id="M-reads-error_involved-but-accidental: verdicts as they were, nothing composed"),
]


@pytest.mark.parametrize("facts, texts, three_valued, two_valued", COMPOSED)
def test_the_other_value_of_a_judgement_is_composed_from_the_first_decision(monkeypatch, facts, texts,
                                                                          three_valued, two_valued):
    """The second decision of a judgement default decides again only the rows and codes that read it, and
    composes the outcome only when one of them changed in a way that can change it (engine.py, _assuming):
    the shortcuts are counted here, and the result is the interpreter's."""
    guidance = load_criteria("2024")
    facts = {k: v for k, v in facts.items() if v is not None}
    engine = guidance.compiled
    engine.forget()  # nothing kept from other tests' incidents
    calls = {"three": 0, "codes": 0}
    three, codes = engine.decide_three_valued, engine._codes

    def counted_three(*args, keep=None, **kwargs):
        calls["three"] += keep is None  # the first decision keeps its verdicts; the others do not
        return three(*args, keep=keep, **kwargs)

    def counted_codes(*args):
        calls["codes"] += 1
        return codes(*args)
    monkeypatch.setattr(engine, "decide_three_valued", counted_three)
    monkeypatch.setattr(engine, "_codes", counted_codes)
    result = guidance.evaluate(facts)
    assert result.error is None, result.error
    first = 1 if _first_codes(engine, facts) else 0  # the first decision's own _codes
    assert [a.text for a in result.assumed] == texts
    assert (calls["three"], calls["codes"] - first) == (three_valued, two_valued)
    monkeypatch.undo()
    assert result == guidance.interpret(facts).model_copy(update={"explanation": []})


def _first_codes(engine: CompiledEngine, facts: dict) -> bool:
    """Whether the incident's first decision calls `_codes`: the generated two-valued code decides it, and
    meets a complementary code (else the scope's generated function composes the codes itself)."""
    values = engine.reader.read(facts)[0]
    scope = engine.dispatch(values)
    try:
        if scope.combined is not None:
            return True in scope.combined(values)[1]
        [fast(values) for _, fast in engine.rows_for(values)]
        [fast(values) for _, fast in engine.comps]
    except (KeyError, Unknown):
        return False
    return True


@pytest.mark.parametrize("facts", [
    {"jurisdiction": "England", "exposure": "unintended", "modality": "diagnostic", "age": 40,
     "intended_dose": "2 mSv", "total_dose": "22 mSv"},
    {**NM, "intended_dose": "2 mSv", "total_dose": "22 mSv", "infant_dose": "2 mSv"},
])
def test_the_other_value_of_a_judgement_is_kept(monkeypatch, facts):
    """A second incident whose first decision and whose rows that read the judgement come out the same
    takes the other value's outcome as kept (Scope.others): nothing is composed again, and the result is
    the same."""
    engine = CompiledEngine(load_criteria("2024").compiled.table)
    first = engine.evaluate(facts)
    assert first["assumed"]
    composed = []
    again = engine._composed_again
    monkeypatch.setattr(engine, "_composed_again", lambda *args: composed.append(1) or again(*args))
    assert engine.evaluate({**facts, "id": "another"}) == {**first, "id": "another"}
    assert not composed
    engine.forget()
    assert engine.evaluate(facts) == first and composed  # forgotten: composed again
