"""`irmer diff`: structural changes, semantic verdicts with witnesses, exit status, git.

Witnesses are not compared with fixed values (the solver may pick others);
each is checked for what it must be: an incident in the public vocabulary that
the evaluator classifies differently under the two versions, in the stated
direction.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from fractions import Fraction

import jsonschema
import pytest
import z3
from hypothesis import given, strategies as st

from evaluator import compile_text, load_criteria
from evaluator.engines.smt import rational
from evaluator.language.units import resolve_unit
from evaluator.tools.diff import (CodeChange, DiffReport, NoWitness, Semantics, Witness, diff, exact_decimal,
                                  exact_quantity, redline, semantic, witness)

from conftest import ROOT, explained

CRITERIA = ROOT / "criteria"
SOURCE_2024 = (CRITERIA / "irmer-2024-08-28.irmer").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report_2023_2024(diff_2023_2024) -> DiffReport:
    return diff_2023_2024  # computed once per worker (tests/conftest.py)


def by_code(report: DiffReport) -> dict:
    return {c.code: c for c in report.codes}


def edited(old: str, new: str, count: int = 1) -> object:
    """The 2024 criteria with one edit, compiled."""
    assert SOURCE_2024.count(old) == count, f"{old!r} occurs {SOURCE_2024.count(old)} times"
    text = SOURCE_2024.replace(old, new).replace('guidance "irmer-2024-08-28"', 'guidance "irmer-2024-edited"')
    return compile_text(text, "edited.irmer", CRITERIA)


def assert_witnesses_hold(report: DiffReport, old, new) -> None:
    """Every witness flips the code it belongs to, in its direction, under the evaluator."""
    for change in report.codes + [report.notifiable]:
        for witness in change.witnesses:
            a, b = explained(old, witness.incident), explained(new, witness.incident)
            assert a.error is None and b.error is None, witness.incident
            code = change.old_code or change.code
            if change.code == "notifiable":
                met_a, met_b = a.notifiable, b.notifiable
            else:
                met_a = code in a.codes or any(e.code == code and e.outcome == "met" for e in a.explanation)
                met_b = change.code in b.codes or any(e.code == change.code and e.outcome == "met"
                                                      for e in b.explanation)
            expected = (True, False) if witness.direction == "narrowed" else (False, True)
            assert (met_a, met_b) == expected, (change.code, witness.direction, witness.incident)
            assert (witness.old.met, witness.new.met) == expected
            for value in witness.incident.values():
                if isinstance(value, str) and value[:1].isdigit():
                    assert not value.startswith("0 "), f"a zero in a witness: {witness.incident}"


# --------------------------------------------------------------- 2023 -> 2024

def test_the_2024_changes(report_2023_2024):
    codes = by_code(report_2023_2024)
    assert codes["3"].verdict == "broadened"
    messages = [c.message for c in codes["3"].changes]
    # 2023 excluded transient erythema after a procedural failure only (interpretation transient_erythema_2023):
    # the conditions that did so are gone, and the one incident that differs is that one.
    assert "when: condition dropped: procedural_failure" in messages
    assert "when: condition dropped: tissue_reaction is other" in messages
    assert codes["3"].says is not None  # the regulator's words changed too
    (broadened,) = codes["3"].witnesses
    assert broadened.incident["tissue_reaction"] == "transient_erythema"
    assert broadened.incident["procedural_failure"] is True
    assert codes["4.2a"].verdict == "broadened"
    assert "imaging_cause: now also hardware_software_failure" in [c.message for c in codes["4.2a"].changes]
    m = codes["M"]
    assert m.category is not None and m.says is not None
    assert "suffix codes 1 to 9 -> 1 to 10" in [c.message for c in m.changes]
    exclusions = [s for s in report_2023_2024.sections if s.section == "exclusion"]
    assert [(s.name, s.status) for s in exclusions] == [("repeats_without_error", "added")]
    for code in ("2.1", "2.2", "2.3", "2.4", "4.1", "M"):
        assert codes[code].verdict == "narrowed", code
        assert "general exclusion repeats_without_error now applies" in [c.message for c in codes[code].changes]
        witness = codes[code].witnesses[0]
        assert witness.incident.get("error_involved") is False, witness.incident
        assert witness.incident["exposure"] == "unintended"  # an accidental exposure is in error by definition
    assert report_2023_2024.notifiable.verdict == "both"
    interpretations = {s.name: s.status for s in report_2023_2024.sections if s.section == "interpretation"}
    assert interpretations["repeat_codes"] == "added" and interpretations["transient_erythema_2023"] == "removed"
    assert report_2023_2024.can_flip


def test_unchanged_codes_are_proved_equivalent(report_2023_2024):
    codes = by_code(report_2023_2024)
    for code in ("4.2b", "4.2c", "5", "6", "7", "8.1", "8.2", "9.1", "9.2", "10.1", "10.2", "E", "V", "C"):
        assert codes[code].status == "unchanged", code
        assert codes[code].verdict == "equivalent"
        assert codes[code].proof.startswith("proved equivalent")
        assert codes[code].witnesses == []
    # Code 1 changed its words, not its meaning: editorial, proved.
    assert codes["1"].status == "changed" and codes["1"].verdict == "equivalent" and codes["1"].says


def test_witnesses_of_the_real_diff_hold(report_2023_2024):
    assert_witnesses_hold(report_2023_2024, load_criteria("2023"), load_criteria("2024"))


def test_witnesses_are_realistic(report_2023_2024):
    for change in report_2023_2024.codes:
        for witness in change.witnesses:
            incident = witness.incident
            assert {"jurisdiction", "exposure", "modality"} <= set(incident)
            assert isinstance(incident["modality"], str), "one modality, as most incidents have"
            assert incident.get("age", 50) >= 1


def test_a_version_against_itself_is_all_unchanged(cli):
    result = cli("diff", "2024", "2024", "--format", "json")
    assert result.exit_code == 0, result.stderr
    report = DiffReport.model_validate_json(result.stdout)
    assert not report.can_flip
    assert {c.status for c in report.codes} == {"unchanged"}
    assert report.sections == []


# ---------------------------------------------------------- synthetic edits

def test_a_threshold_change_has_a_boundary_witness(g2024):
    new = edited("    when     total_dose >= 25 mSv", "    when     total_dose >= 30 mSv")
    report = diff(g2024, new)
    change = by_code(report)["2.3"]
    assert change.verdict == "narrowed"
    assert [c.what for c in change.changes] == ["threshold"]
    assert change.changes[0].message == "threshold: total_dose >= 25 mSv -> total_dose >= 30 mSv"
    witness = change.witnesses[0]
    assert witness.incident["total_dose"] == "25 mSv"  # exactly the old threshold: the boundary
    assert any("exactly the threshold" in note for note in witness.boundary)
    assert_witnesses_hold(report, g2024, new)


def test_a_lower_threshold_broadens_with_the_value_just_past_it(g2024):
    new = edited("    when     total_dose >= 25 mSv", "    when     total_dose > 20 mSv")
    report = diff(g2024, new)
    change = by_code(report)["2.3"]
    assert change.verdict == "broadened"
    assert change.witnesses[0].incident["total_dose"] == "20.001 mSv"  # the nearest step past 20 mSv
    assert_witnesses_hold(report, g2024, new)


def test_a_removed_code(g2024):
    text = SOURCE_2024
    for start, end in (('example "Total geographical miss in one fraction"', 'example "Partial miss of 12 mm'),
                       ('example "SIRT microspheres deposited outside', 'example "SIRT, 1.19 GBq delivered'),
                       ("  row 9.1", "  row 9.2")):  # the row, and the examples that expect it
        text = text[:text.index(start)] + text[text.index(end):]
    text = text.replace(" 8.2, 9.1, 9.2,", " 8.2, 9.2,")  # exclusion not_a_medical_exposure names every code
    new = compile_text(text, "removed.irmer", CRITERIA)
    report = diff(g2024, new)
    change = by_code(report)["9.1"]
    assert change.status == "removed" and change.verdict == "narrowed"
    assert change.witnesses[0].incident["geographical_miss"] == "total"
    assert_witnesses_hold(report, g2024, new)


def test_a_dropped_condition(g2024):
    new = edited("""    when     imaging_cause is hardware_software_failure
         and theme
         and additional_images""", """    when     imaging_cause is hardware_software_failure
         and additional_images""")
    report = diff(g2024, new)
    change = by_code(report)["4.2c"]
    assert change.verdict == "broadened"
    assert [c.message for c in change.changes] == ["when: condition dropped: theme"]
    assert "theme" not in change.witnesses[0].incident or change.witnesses[0].incident["theme"] is False
    assert_witnesses_hold(report, g2024, new)


def test_a_band_edge_from_closed_to_open(g2024):
    new = edited("    band     2.5 mSv <= intended_dose <= 10 mSv", "    band     2.5 mSv <= intended_dose < 10 mSv")
    report = diff(g2024, new)
    change = by_code(report)["2.3"]
    assert change.verdict == "narrowed"
    assert change.changes[0].what == "edge"
    assert change.witnesses[0].incident["intended_dose"] == "10 mSv"  # the edge itself
    assert_witnesses_hold(report, g2024, new)


def test_reordered_conditions_are_proved_equivalent(g2024):
    new = edited("""    when     imaging_cause is hardware_software_failure
         and theme
         and additional_images >= 50% of intended_images""", """    when     additional_images >= 50% of intended_images
         and theme
         and imaging_cause is hardware_software_failure""")
    report = diff(g2024, new)
    change = by_code(report)["4.2c"]
    assert change.verdict == "equivalent" and change.witnesses == []
    assert change.proof.startswith("proved equivalent")
    assert not report.can_flip


def test_a_renamed_code(g2024):
    text = SOURCE_2024.replace("  row 9.2\n", "  row 9.3\n").replace("  expect codes 9.2\n", "  expect codes 9.3\n")
    text = text.replace(" 9.1, 9.2, 10.1,", " 9.1, 9.3, 10.1,")  # exclusion not_a_medical_exposure names every code
    new = compile_text(text, "renamed.irmer", CRITERIA)
    plain = by_code(diff(g2024, new))
    assert plain["9.2"].status == "removed" and plain["9.3"].status == "added"
    renamed = by_code(diff(g2024, new, {"9.2": "9.3"}))
    assert "9.2" not in renamed
    assert renamed["9.3"].status == "unchanged" and renamed["9.3"].old_code == "9.2"


# ------------------------------------------------------- witnesses: exact, checked, on the boundary

def edited_pair(*edits: tuple[str, str], name: str = "edited") -> object:
    """The 2024 criteria with several edits (each of text found once), compiled."""
    text = SOURCE_2024
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    text = text.replace('guidance "irmer-2024-08-28"', f'guidance "irmer-{name}"')
    return compile_text(text, f"{name}.irmer", CRITERIA)


ROW_1_ADULT = "    in       England\n    when     (adult and total_dose >= 3 mSv)"


def assert_exact(report: DiffReport, old) -> None:
    """Every number in every witness is written exactly: no '≈', and it reads back as itself."""
    for change in report.codes + [report.notifiable]:
        for witness in change.witnesses:
            read = old.read(witness.incident)
            for name, value in witness.incident.items():
                assert "≈" not in str(value), witness.incident
                if isinstance(value, str) and value[:1].isdigit():
                    number, _, unit = value.partition(" ")
                    assert read.values[name].value == Fraction(number) * (resolve_unit(unit)[1] if unit else 1)


def test_thresholds_a_hair_apart_give_an_exact_witness():
    """`> 3 mSv` against `> 3.0000001 mSv`: no step of the usual grid lies between; the witness is still exact."""
    old = edited_pair((ROW_1_ADULT, ROW_1_ADULT.replace(">= 3 mSv", "> 3 mSv")), name="a")
    new = edited_pair((ROW_1_ADULT, ROW_1_ADULT.replace(">= 3 mSv", "> 3.0000001 mSv")), name="b")
    report = diff(old, new)
    change = by_code(report)["1"]
    assert change.verdict == "narrowed" and change.no_witness == []
    (witness,) = change.witnesses
    assert witness.incident["total_dose"] == "3.0000001 mSv"  # the new threshold itself: not above it
    assert witness.boundary == ["total_dose 3.0000001 mSv is exactly the threshold of `total_dose > 3.0000001 mSv` "
                                "in irmer-b"]
    assert_witnesses_hold(report, old, new)
    assert_exact(report, old)


def test_a_tolerance_moved_by_a_hair(g2024):
    """±20% -> ±20.00001%: each witness flips under the evaluator, with exact values."""
    new = edited_pair(("outside ±20% of", "outside ±20.00001% of"))
    report = diff(g2024, new)
    for change in (by_code(report)["10.1"], report.notifiable):
        assert change.verdict == "narrowed" and change.no_witness == []
        (witness,) = change.witnesses
        assert (witness.old.met, witness.new.met) == (True, False)
        assert witness.incident["nm_therapy"] == "sirt"
        delivered, prescribed = (g2024.read(witness.incident).values[k].value
                                 for k in ("delivered_activity", "prescribed_activity"))
        assert delivered / prescribed == Fraction(7999999, 10**7)  # exactly on the new lower edge
        assert any("exactly the threshold" in note for note in witness.boundary)
    assert_witnesses_hold(report, g2024, new)
    assert_exact(report, g2024)


# Relative thresholds: (old text, new text, code, verdict, the moved fact over its reference, where it sits).
RELATIVE = [
    pytest.param("    when     multiplication_factor >= 10\n", "    when     multiplication_factor >= 12\n", "2.2",
                 "narrowed", ("total_dose", "intended_dose"), Fraction(10), "exactly", id="multiplication-factor"),
    pytest.param("    when     multiplication_factor >= 10\n", "    when     multiplication_factor > 8\n", "2.2",
                 "broadened", ("total_dose", "intended_dose"), None, "nearest", id="factor-lowered-open"),
    pytest.param("and additional_images >= 50% of intended_images\n\n  row 4.2c",
                 "and additional_images >= 60% of intended_images\n\n  row 4.2c", "4.2b", "narrowed",
                 ("additional_images", "intended_images"), Fraction(1, 2), "exactly", id="percent-of"),
    pytest.param("outside ±20% of", "outside ±25% of", "10.1", "narrowed",
                 ("delivered_activity", "prescribed_activity"), {Fraction(3, 4), Fraction(5, 4)}, "exactly",
                 id="tolerance-widened"),
    pytest.param("outside ±20% of", "outside ±15% of", "10.1", "broadened",
                 ("delivered_activity", "prescribed_activity"), {Fraction(4, 5), Fraction(6, 5)}, "exactly",
                 id="tolerance-narrowed"),
    pytest.param("ptv_delivered_dose <= 0.9 times ptv_intended_dose",
                 "ptv_delivered_dose < 0.85 times ptv_intended_dose", "8.2", "narrowed",
                 ("ptv_delivered_dose", "ptv_intended_dose"), Fraction(9, 10), "exactly", id="times"),
    # A length against a length, with a strict comparison: the witness sits on the new edge, which it fails.
    pytest.param("miss_displacement > 2.5 times error_margin", "miss_displacement > 3 times error_margin", "9.2",
                 "narrowed", ("miss_displacement", "error_margin"), Fraction(3), "exactly", id="times-lengths"),
]


@pytest.mark.parametrize("old, new, code, verdict, facts, ratio, where", RELATIVE)
def test_relative_thresholds_have_boundary_witnesses(g2024, old, new, code, verdict, facts, ratio, where):
    edited_version = edited_pair((old, new))
    report = diff(g2024, edited_version)
    change = by_code(report)[code]
    assert change.verdict == verdict
    (witness,) = change.witnesses
    values = g2024.read(witness.incident).values
    moved, reference = (values[f].value for f in facts)
    if isinstance(ratio, set):
        assert moved / reference in ratio
    elif ratio is not None:
        assert moved / reference == ratio
    (note,) = witness.boundary
    assert note.startswith(f"{facts[0]} {witness.incident[facts[0]]}")
    assert ("is exactly the threshold of" if where == "exactly" else "the nearest value to the changed threshold, "
            "in steps of") in note
    assert_witnesses_hold(report, g2024, edited_version)


def test_a_relative_threshold_lowered_gives_the_nearest_step_past_the_new_one(g2024):
    new = edited_pair(("    when     multiplication_factor >= 10\n", "    when     multiplication_factor > 8\n"))
    (witness,) = by_code(diff(g2024, new))["2.2"].witnesses
    values = g2024.read(witness.incident).values
    step = Fraction(1, 10**6)  # the grid of effective doses: 0.001 mSv
    assert values["total_dose"].value == 8 * values["intended_dose"].value + step
    assert witness.boundary == [f"total_dose {witness.incident['total_dose']}: the nearest value to the changed "
                                f"threshold, in steps of 0.001 mSv, that shows the difference"]


def _threshold_moved(g2024):
    new = edited("    when     total_dose >= 25 mSv", "    when     total_dose >= 30 mSv")
    semantics = Semantics(g2024, new)
    changes = by_code(diff(g2024, new))["2.3"].changes
    return new, semantics, changes


def test_raw_solver_values_without_a_finite_decimal_are_rounded_and_rechecked(g2024, monkeypatch):
    """When the search falls back to z3's own values, they are written exactly or rounded and checked, never '≈'."""
    new, semantics, changes = _threshold_moved(g2024)
    monkeypatch.setattr(Semantics, "realistic", lambda *args, **kwargs: None)
    dose = semantics.space.vars["total_dose"]
    raw = semantics.solve(z3.And(semantics.difference("narrowed", "2.3", "2.3"), dose == rational(Fraction(1, 36))))
    assert semantics.space.value_of(raw, "total_dose") == Fraction(1, 36)  # 27.777... mSv: no finite decimal
    found = witness(semantics, "narrowed", "2.3", "2.3", raw, changes)
    assert isinstance(found, Witness)
    assert found.incident["total_dose"] == "27.778 mSv"  # the nearest decimal at 3 places, checked
    assert (found.old.met, found.new.met) == (True, False)
    result_old, result_new = g2024.evaluate(found.incident), new.evaluate(found.incident)
    assert "2.3" in result_old.codes and "2.3" not in result_new.codes


def test_a_witness_the_evaluator_does_not_confirm_is_not_shown(g2024, monkeypatch):
    """A candidate that does not flip is never shown; the direction says why, and the proof still stands."""
    new, semantics, changes = _threshold_moved(g2024)
    monkeypatch.setattr(Semantics, "realistic", lambda *args, **kwargs: None)
    dose = semantics.space.vars["total_dose"]
    wrong = semantics.solve(dose == rational(Fraction(1, 1000)))  # 1 mSv: 2.3 is met under neither version
    found = witness(semantics, "narrowed", "2.3", "2.3", wrong, changes)
    assert isinstance(found, NoWitness) and found.direction == "narrowed"
    assert ("the evaluator finds the one tried does not meet the code under the old version and does not meet "
            "the code under the new") in found.reason
    assert found.reason.endswith("the verdict above stands on the proof alone")
    change = CodeChange(code="2.3", status="changed", title="")
    monkeypatch.setattr(Semantics, "verdict", lambda self, a, b: ("narrowed", {"narrowed": wrong, "broadened": None}))
    semantic(semantics, change, "2.3", "2.3", changes)
    assert change.verdict == "narrowed" and change.proof.startswith("narrowed:")
    assert change.witnesses == [] and [w.direction for w in change.no_witness] == ["narrowed"]


@given(st.integers(-10**30, 10**30), st.integers(0, 40), st.integers(0, 40), st.sampled_from([1, 3, 7, 9, 11]))
def test_exact_decimals_read_back_as_themselves(numerator, twos, fives, other):
    value = Fraction(numerator, 2**twos * 5**fives * other)
    text = exact_decimal(value)
    if value.denominator % 3 == 0 or value.denominator % 7 == 0 or value.denominator % 11 == 0:
        assert text is None
    else:
        assert text is not None and "e" not in text.lower() and Fraction(text) == value


@given(st.sampled_from(["effective dose", "absorbed dose", "activity", "length", "duration"]),
       st.integers(1, 10**9), st.integers(0, 12))
def test_exact_quantities_read_back_as_themselves(kind, numerator, places):
    value = Fraction(numerator, 10**places)
    text = exact_quantity(value, kind)
    number, unit = text.split(" ")
    assert Fraction(number) * resolve_unit(unit)[1] == value


def test_redline_marks_words():
    line = redline("3 mSv or above (adult)", "5 mSv or above (adult)")
    assert [(p.op, p.text) for p in line.parts if p.op != "same"] == [("removed", "3"), ("added", "5")]


# ------------------------------------------------------------------- the CLI

def test_exit_status_and_json_schema(cli, tmp_path):
    result = cli("diff", "2023", "2024", "--format", "json")
    assert result.exit_code == 1, result.stderr  # some incidents flip
    document = json.loads(result.stdout)
    schema = json.loads((ROOT / "docs" / "schemas" / "diff.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    broken = tmp_path / "broken.irmer"
    broken.write_text("guidance \"x\"\n  title 3\n", encoding="utf-8")
    result = cli("diff", "2023", str(broken))
    assert result.exit_code == 2 and "error" in result.stderr and "Traceback" not in result.stderr


def readme_exit_table() -> dict[str, list[str]]:
    """The README's exit-status table: command -> what 0, 1 and 2 mean."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("| Command | 0 | 1 | 2 |")
    rows = {}
    for line in readme[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        for command in re.findall(r"`(\w+)`", cells[0]):
            rows[command] = cells[1:]
    return rows


def test_exit_status_is_documented_for_each_command(cli):
    """1 from `irmer diff` means the versions differ, and says so: in the README and in --help."""
    table = readme_exit_table()
    assert set(table) >= {"evaluate", "explain", "check", "test", "diff", "lint", "fmt", "render"}
    assert "the versions differ" in table["diff"][1] and "could not run" in table["diff"][2]
    assert "ambiguous or broken" in table["check"][1]
    for command in ("check", "diff", "lint"):
        shown = cli(command, "--help").stdout
        assert "Exit status" in shown, command
        lines = [line.strip() for line in shown.splitlines()]
        assert [line[:1] for line in lines if re.match(r"^[012]  ", line)] == ["0", "1", "2"], command
    assert "the versions differ" in cli("diff", "--help").stdout and "diff(1)" in cli("diff", "--help").stdout


def test_population_impact(cli):
    result = cli("diff", "2023", "2024", "--format", "json", "--incidents", str(ROOT / "examples" / "incidents.json"))
    population = json.loads(result.stdout)["population"]
    items = json.loads((ROOT / "examples" / "incidents.json").read_text(encoding="utf-8"))
    assert population["rows"] == len(items)
    assert population["evaluated"] + len(population["refused"]) == population["rows"]
    assert population["became_notifiable"] >= 1  # IR-0007: transient erythema, code 3 in 2024
    cell = next(t for t in population["codes"] if t["new"] == "3")
    assert "IR-0007" in cell["examples"]


def test_population_from_csv_accounts_for_every_row(tmp_path, cli):
    csv_file = tmp_path / "incidents.csv"
    csv_file.write_text(
        "id,jurisdiction,exposure,modality,tissue_reaction,total_dose,intended_dose\n"
        "A,England,unintended,interventional,transient_erythema,1 mSv,1 mSv\n"
        "B,England,accidental,diagnostic,,8 mSv,\n"
        "C,England,unintended,diagnostic,,8 mGy,1 mSv\n"
        "D,Wales,unintended,interventional;diagnostic,other,2 mSv,1 mSv\n", encoding="utf-8")
    result = cli("diff", "2023", "2024", "--format", "json", "--incidents", str(csv_file))
    population = json.loads(result.stdout)["population"]
    assert population["rows"] == 4 and population["evaluated"] == 3
    assert population["refused"] == [{"row": 3, "id": "C", "field": "total_dose",
                                      "reason": 'total_dose is an effective dose in Sv, but "8 mGy" is an absorbed '
                                                'dose'}]
    modalities = {g["key"] for g in population["by_modality"]}
    assert {"interventional", "diagnostic"} <= modalities
    # D has two modalities: counted in both groups, and said to be so.
    assert population["in_several_modalities"] == 1
    assert sum(g["count"] for g in population["by_modality"]) == population["evaluated"] + 1


# ------------------------------------------------------------------------ git

@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_diff_shows_the_semantic_diff(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
           "GIT_CONFIG_NOSYSTEM": "1", "PYTHONPATH": str(ROOT)}

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    git("init", "-q")
    git("config", "diff.irmer.command", f"{sys.executable} -m evaluator.cli git-diff")
    (repo / ".gitattributes").write_text("*.irmer diff=irmer\n", encoding="utf-8")
    shutil.copy(CRITERIA / "incident-vocabulary.irmer", repo / "incident-vocabulary.irmer")
    (repo / "criteria.irmer").write_text((CRITERIA / "irmer-2023-04-19.irmer").read_text(encoding="utf-8"),
                                         encoding="utf-8")
    git("add", ".")
    git("commit", "-q", "-m", "2023")
    (repo / "criteria.irmer").write_text(SOURCE_2024, encoding="utf-8")
    git("commit", "-q", "-am", "2024")
    out = git("diff", "HEAD~1", "HEAD", "--", "criteria.irmer")
    assert "irmer diff a/criteria.irmer b/criteria.irmer" in out
    assert "4.2a" in out and "broadened" in out and "narrowed" in out
    assert "+  row" not in out  # not a line diff


# ------------------------------------------- a table's own words, and changes through what a code reads

def sections_of(report: DiffReport, section: str) -> dict:
    return {s.name: s for s in report.sections if s.section == section}


def test_a_tables_own_words_are_part_of_the_diff(g2024, cli, tmp_path):
    """A `says` line of a table, not of a row: before, `irmer diff` said nothing changed."""
    new = edited('  says "All modalities including nuclear medicine and radiotherapy imaging"\n',
                 '  says "All modalities including nuclear medicine, radiotherapy imaging and therapy"\n')
    report = diff(g2024, new)
    assert not report.can_flip and {c.status for c in report.codes} == {"unchanged"}
    (table,) = sections_of(report, "table").values()
    assert (table.name, table.status, table.changes) == ("Unintended exposure", "changed", [])
    assert table.says.old.startswith("All modalities including nuclear medicine and radiotherapy imaging ")
    assert table.says.new.startswith("All modalities including nuclear medicine, radiotherapy imaging and therapy ")
    assert {p.op for p in table.says.parts} == {"same", "removed", "added"}  # a redline, word by word
    assert table.new_text.rule[0] == "exposure unintended" and table.new_text.rule[1].startswith("rows 2.1, 2.2")
    # Every output shows it; the exit status stays 0: no incident is classified differently.
    (tmp_path / "incident-vocabulary.irmer").write_text((CRITERIA / "incident-vocabulary.irmer").read_text(
        encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "edited.irmer"
    path.write_text(SOURCE_2024.replace("radiotherapy imaging\"\n  says \"If", "radiotherapy imaging and therapy\"\n"
                                        "  says \"If"), encoding="utf-8")
    for form, shown in (("text", "table Unintended exposure  changed"), ("markdown", "### Table `Unintended exposure`"),
                        ("html", "Unintended exposure")):
        result = cli("diff", "2024", str(path), "--format", form)
        assert result.exit_code == 0, result.stderr
        assert shown in result.stdout and "therapy" in result.stdout, form


def test_a_tables_notes_interpretations_and_exposure(g2024):
    interpretation = ("  interpretation therapy_tables_unintended \"The therapy tables (codes 8 to 10) have no exposure "
                      "heading of their own.")
    new = edited_pair(
        (interpretation, interpretation.replace("have no exposure heading", "have no exposure heading at all")),
        ('table "Radiotherapy geographical miss (including brachytherapy)"\n  exposure unintended\n',
         'table "Radiotherapy geographical miss (including brachytherapy)"\n  exposure unintended\n'
         '  note "A miss is judged by its displacement."\n'),
        ('table "Nuclear medicine therapy"\n  exposure unintended\n',
         'table "Nuclear medicine therapy"\n  exposure accidental, unintended\n'))
    report = diff(g2024, new)
    tables = sections_of(report, "table")
    assert [c.message for c in tables["Radiotherapy delivered dose (including brachytherapy)"].changes] == [
        "interpretation therapy_tables_unintended reworded"]
    assert [c.message for c in tables["Radiotherapy geographical miss (including brachytherapy)"].changes] == [
        "note added: A miss is judged by its displacement."]
    (exposure,) = tables["Nuclear medicine therapy"].changes
    assert exposure.what == "scope" and exposure.message == "exposure: now also accidental (for every row of the table)"
    assert "therapy_tables_unintended" in sections_of(report, "interpretation")
    # The table's exposure is each row's: 10.1 and 10.2 reach accidental exposures, and say so.
    codes = by_code(report)
    assert codes["10.1"].verdict == "broadened" and "exposure: now also accidental" in [
        c.message for c in codes["10.1"].changes]
    assert_witnesses_hold(report, g2024, new)


def test_a_retitled_table_is_matched_by_its_rows(g2024):
    new = edited('table "Nuclear medicine therapy"\n', 'table "Nuclear medicine therapies"\n')
    report = diff(g2024, new)
    (table,) = sections_of(report, "table").values()
    assert table.name == "Nuclear medicine therapies" and table.status == "changed"
    assert [c.message for c in table.changes] == ["title: Nuclear medicine therapy -> Nuclear medicine therapies"]


def test_a_code_changed_through_a_definition_says_so(g2024):
    new = edited("     age < 18 years otherwise\n", "     age < 17 years otherwise\n")
    report = diff(g2024, new)
    codes = by_code(report)
    for code in ("1", "2.1"):
        change = codes[code]
        assert change.verdict == "narrowed", code
        messages = [c.message for c in change.changes]
        assert messages == ["changes through the definition `child`",
                            "the definition `child`: threshold: age < 18 years -> age < 17 years"], (code, messages)
        (witness,) = change.witnesses
        assert witness.incident["age"] == 17  # on the boundary that moved, inside the definition
        assert any("age 17" in note and "age < 17 years" in note for note in witness.boundary), witness.boundary
    assert codes["2.2"].status == "unchanged"  # reads no age
    assert [s.name for s in report.sections if s.section == "definition"] == ["child"]
    assert_witnesses_hold(report, g2024, new)


def test_a_code_changed_through_criteria_of_says_so(g2024):
    new = edited("    when     ptv_delivered_dose >= 1.1 times ptv_intended_dose\n",
                 "    when     ptv_delivered_dose >= 1.2 times ptv_intended_dose\n")
    report = diff(g2024, new)
    change = by_code(report)["9.2"]
    assert change.verdict == "narrowed"
    assert [c.message for c in change.changes] == [
        "changes through `criteria of 8.1`",
        "`criteria of 8.1`: threshold: ptv_delivered_dose >= 1.1 times ptv_intended_dose -> "
        "ptv_delivered_dose >= 1.2 times ptv_intended_dose"]
    (witness,) = change.witnesses
    values = g2024.read(witness.incident).values
    assert values["ptv_delivered_dose"].value / values["ptv_intended_dose"].value == Fraction(11, 10)
    assert witness.incident["geographical_miss"] == "partial"
    assert by_code(report)["8.1"].changes[0].what == "threshold"  # 8.1's own, not "through"
    assert_witnesses_hold(report, g2024, new)


def test_a_code_changed_through_an_exclusion_says_so_and_one_it_does_not_change_says_that(g2024):
    new = edited("  when  not error_involved\n    and exposure is unintended\n", "  when  not error_involved\n")
    report = diff(g2024, new)
    codes = by_code(report)
    m = codes["M"]
    assert m.verdict == "narrowed"  # an accidental exposure of several people with no error is now excluded
    assert [c.message for c in m.changes][0] == "changes through the general exclusion `repeats_without_error`"
    assert m.witnesses[0].incident["exposure"] == "accidental"
    # 2.1 to 2.4 and 4.1 are unintended only: the exclusion changed, and proved to change nothing for them.
    for code in ("2.1", "4.1"):
        assert codes[code].verdict == "equivalent"
        assert [c.message for c in codes[code].changes][0] == (
            "reads the general exclusion `repeats_without_error`, which changed; no incident meets this code "
            "differently (proved)")
    assert "exclusion" in {s.section for s in report.sections}
    assert_witnesses_hold(report, g2024, new)


def test_a_definition_read_through_another_names_the_way(g2024):
    """Row 1 reads `adult`, which reads `child`: a change to `child` read only through `adult` says so."""
    new = edited_pair(("    when     (adult and total_dose >= 3 mSv)\n          or (child and total_dose >= 1 mSv)\n"
                       "\n  row 1 \"Northern",
                       "    when     (adult and total_dose >= 3 mSv)\n          or (not adult and total_dose >= 1 mSv)\n"
                       "\n  row 1 \"Northern"),
                      ("     age < 18 years otherwise\n", "     age < 17 years otherwise\n"))
    old = edited_pair(("    when     (adult and total_dose >= 3 mSv)\n          or (child and total_dose >= 1 mSv)\n"
                       "\n  row 1 \"Northern",
                       "    when     (adult and total_dose >= 3 mSv)\n          or (not adult and total_dose >= 1 mSv)\n"
                       "\n  row 1 \"Northern"), name="old")
    change = by_code(diff(old, new))["1"]
    assert change.changes[0].message == ("changes through the definition `child` (read through the definition "
                                         "`adult`)")


# ------------------------------------------------- routes, derived facts, conflicts

def test_a_route_changed_is_part_of_the_diff(g2024):
    """Where an incident also goes is data like the rest: a changed destination, reason or condition shows."""
    new = edited('  to   "UK Health Security Agency (UKHSA): Medical radiation: uses, dose measurements and safety '
                 'advice (gov.uk)"\n',
                 '  to   "UK Health Security Agency (UKHSA): Medical radiation (gov.uk)"\n')
    report = diff(g2024, new)
    assert {c.status for c in report.codes} == {"unchanged"}  # no code changes: the verdicts are the same
    (route,) = sections_of(report, "route").values()
    assert (route.name, route.status) == ("learning_imaging", "changed")
    assert [(c.what, c.new) for c in route.changes] == [("to", "UK Health Security Agency (UKHSA): Medical "
                                                                "radiation (gov.uk)")]
    assert route.new_text.rule[0].startswith("when modality includes diagnostic")


def test_a_route_added_removed_and_its_condition_changed(g2024):
    added = edited("route licence_breach_form\n",
                   'route arsac_copy\n  when licence_breach\n  to   "ARSAC Support Unit, by email"\n\n'
                   "route licence_breach_form\n")
    ((name, route),) = sections_of(diff(g2024, added), "route").items()
    assert (name, route.status) == ("arsac_copy", "added")
    assert sections_of(diff(added, g2024), "route")["arsac_copy"].status == "removed"
    narrower = edited("route licence_breach_form\n  when licence_breach\n",
                      "route licence_breach_form\n  when licence_breach\n   and modality includes nuclear_medicine\n")
    (route,) = sections_of(diff(g2024, narrower), "route").values()
    assert route.name == "licence_breach_form" and any(c.what == "condition added" for c in route.changes), \
        route.changes


def test_a_derivation_and_a_conflict_changed(g2024):
    """What happened decides the exposure category: moving an event between categories is a change to show."""
    moved = edited("  as accidental if event is one of wrong_patient, not_intended\n"
                   "     unintended if event is one of wrong_laterality,",
                   "  as accidental if event is one of wrong_patient, not_intended, wrong_laterality\n"
                   "     unintended if event is one of")
    (derived,) = sections_of(diff(g2024, moved), "derive").values()
    assert derived.name == "exposure" and derived.status == "changed" and derived.changes
    assert derived.new_text.rule[0].startswith("as accidental if event is one of wrong_patient, not_intended, "
                                               "wrong_laterality")
    reworded = edited('  message "a near miss is identified before delivering an exposure, but the incident gives '
                      'an exposure category"\n',
                      '  message "a near miss delivered no exposure, but the incident gives an exposure category"\n')
    (conflict,) = sections_of(diff(g2024, reworded), "conflict").values()
    assert (conflict.name, [c.what for c in conflict.changes]) == ("near_miss_exposed", ["message"])
