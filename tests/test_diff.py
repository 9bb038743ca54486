"""`irmer diff`: structural changes, semantic verdicts with witnesses, exit status, git.

Witnesses are not compared with fixed values (the solver may pick others);
each is checked for what it must be: an incident in the public vocabulary that
the evaluator classifies differently under the two versions, in the stated
direction.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import jsonschema
import pytest

from evaluator import compile_text, load_criteria
from evaluator.tools.diff import DiffReport, diff, redline

from conftest import ROOT

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
            a, b = old.evaluate(witness.incident), new.evaluate(witness.incident)
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
    assert "tissue_reaction: now also transient_erythema" in messages
    assert ("when: condition dropped: procedural_failure (it never mattered: the old rule gives the same answer "
            "with or without it)") in messages
    assert codes["3"].says is not None  # the regulator's words changed too
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
                       ("  row 9.1", "  row 9.2")):  # the row, and the example that expects it
        text = text[:text.index(start)] + text[text.index(end):]
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
    new = compile_text(text, "renamed.irmer", CRITERIA)
    plain = by_code(diff(g2024, new))
    assert plain["9.2"].status == "removed" and plain["9.3"].status == "added"
    renamed = by_code(diff(g2024, new, {"9.2": "9.3"}))
    assert "9.2" not in renamed
    assert renamed["9.3"].status == "unchanged" and renamed["9.3"].old_code == "9.2"


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
