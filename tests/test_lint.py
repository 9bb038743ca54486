"""`irmer lint`: each rule on a deliberately broken criteria file, allows, JSON, exit status.

Each case copies the shipped 2024 file and the vocabulary into a temporary
folder, makes its edits, and lints the result: the findings that are not
accepted with `allow` must be exactly the expected ones (rule, severity,
line), and a witness, where the rule gives one, must show the problem when
the evaluator runs it. The shipped files must lint clean, every finding in
them accepted on purpose.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jsonschema
import pytest
import z3

from evaluator import load_vocabulary
from evaluator.tools.lint import CHECKS, RULES, Finding, Linter, code_key, edge_words, lint, witness_text
from evaluator.load import compile_file, shipped_files
from evaluator.result import Result

from conftest import ROOT, check_golden, explained

CRITERIA = "irmer-2024-08-28.irmer"
VOCABULARY = "incident-vocabulary.irmer"
SCHEMA = json.loads((ROOT / "docs" / "schemas" / "lint.schema.json").read_text(encoding="utf-8"))
SHIPPED = (ROOT / "criteria" / CRITERIA).read_text(encoding="utf-8")
HEAD = re.compile(r"^(?P<file>\S+):(?P<line>\d+):(?P<column>\d+): (?P<severity>error|warning)\[(?P<rule>\w+)\]: (.+)$")


# ------------------------------------------------------------------ edits

Edit = Callable[[str], str]


def replace(old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        return text.replace(old, new)
    return edit


def block(text: str, first: str) -> str:
    """An item of the file from its first line to the blank line after it, inclusive."""
    match = re.search(rf"^{re.escape(first)}\n.*?\n\n", text, flags=re.M | re.S)
    assert match, first
    return match.group(0)


def drop(first: str) -> Edit:
    return lambda text: text.replace(block(text, first), "", 1)


def move(first: str, before: str) -> Edit:
    def edit(text: str) -> str:
        item = block(text, first)
        return replace(before + "\n", item + before + "\n")(text.replace(item, "", 1))
    return edit


def edited(*edits: Edit) -> str:
    text = SHIPPED
    for edit in edits:
        text = edit(text)
    return text


def make(folder: Path, *edits: Edit, name: str = CRITERIA) -> Path:
    shutil.copy(ROOT / "criteria" / VOCABULARY, folder / VOCABULARY)
    path = folder / name
    path.write_text(edited(*edits), encoding="utf-8")
    return path


# ------------------------------------------------------------------ drafts, each linted once

class Drafts:
    """Edited copies of the 2024 file, each written once (per test worker) in a folder of its own.

    Tests that read the same draft get the same file, so they share its lint
    (about a second of z3 work): `draft.irmer` is linted from its folder (as the
    docs show it), a file named as the shipped one from the checkout.
    """

    def __init__(self, base: Path):
        self.base = base
        self.made: dict[tuple[str, str], Path] = {}

    def __call__(self, *edits: Edit, name: str = CRITERIA) -> Path:
        key = (edited(*edits), name)
        if key not in self.made:
            folder = self.base / str(len(self.made))
            folder.mkdir()
            self.made[key] = make(folder, *edits, name=name)
        return self.made[key]


@pytest.fixture(scope="module")
def drafts(tmp_path_factory) -> Drafts:
    return Drafts(tmp_path_factory.mktemp("drafts"))


@pytest.fixture(scope="module", autouse=True)
def _lint_each_file_once():
    """Lint is a function of the file (its path, the name it is shown by, its text and its vocabulary's):
    the first test to lint a file runs the Linter, and the tests after it read that Linter's findings,
    through lint() and `irmer lint` alike."""
    done: dict[tuple, tuple[Linter, list[Finding]]] = {}
    run = Linter.run

    def once(self: Linter) -> Linter:
        guidance = self.guidance
        key = (str(getattr(guidance, "path", None)), guidance.name, guidance.source, guidance.vocabulary.source)
        if key not in done:
            linter = run(self)
            done[key] = (linter, list(linter.findings))
        linter, findings = done[key]
        linter.findings = list(findings)  # lint() hands its Linter's findings over (tools/lint.py lint)
        return linter

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Linter, "run", once)
        yield


def line_of(path: Path, text: str, nth: int | None = None) -> int:
    """The line of a file that is `text`: the only one, or (with nth) the nth of several, from 0."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found = [i + 1 for i, line in enumerate(lines) if line == text]
    assert len(found) == 1 or nth is not None, f"{text!r} is on {len(found)} lines"
    return found[nth or 0]


# Edits used more than once.
GAP = replace("band     0.3 mSv <= intended_dose < 2.5 mSv", "band     0.3 mSv <= intended_dose < 2 mSv")
OVERLAP = replace("band     2.5 mSv <= intended_dose <= 10 mSv", "band     2 mSv <= intended_dose <= 10 mSv")
NEVER = replace("    when     total_dose >= 25 mSv\n", "    when     total_dose >= 25 mSv and total_dose < 1 mSv\n")
MICROSIEVERTS = replace("band     intended_dose < 0.3 mSv", "band     intended_dose < 300 uSv")
NO_E_SAYS = replace('  says     "Refers to incidents where equipment failures are the direct cause."\n', "")
MOVE_2_1 = move("  row 2.1", "  row 2.3")
FOETAL_MSV = replace("    when     foetal_dose >= 10 mGy", "    when     foetal_dose >= 10 mSv")
MISSPELT_ALLOW = replace("  allow band_edge", "  allow band_egde")


def shown(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.allowed is None]


def outcomes(result: Result, *codes: str) -> list[str]:
    return [e.outcome for e in result.explanation if e.code in codes]


# ------------------------------------------------------------------ the cases

@dataclass(frozen=True)
class Case:
    name: str
    edits: tuple[Edit, ...]
    rule: str
    line: str                       # the line of the broken file the finding points at
    witness: Callable[[dict, Result], bool] | None = None   # checks the witness, run by the evaluator
    nth: int | None = None          # when several lines are `line`: which (from 0)

    def __str__(self) -> str:
        return self.name


CASES = [
    Case("band-gap", (GAP,), "band_gap", "    band     0.3 mSv <= intended_dose < 2 mSv",
         lambda w, r: w["intended_dose"] == "2 mSv"
         and set(outcomes(r, "2.1", "2.2", "2.3", "2.4")) == {"out of scope"}),
    Case("band-overlap", (OVERLAP,), "band_overlap", "    band     2 mSv <= intended_dose <= 10 mSv",
         lambda w, r: w["intended_dose"] == "2 mSv" and "out of scope" not in outcomes(r, "2.2", "2.3")),
    Case("band-edge-against-the-text",
         (replace("band     intended_dose < 0.3 mSv", "band     intended_dose <= 0.3 mSv"),
          replace("band     0.3 mSv <= intended_dose < 2.5 mSv", "band     0.3 mSv < intended_dose < 2.5 mSv")),
         "band_edge", "    band     intended_dose <= 0.3 mSv",
         lambda w, r: w["intended_dose"] == "0.3 mSv" and outcomes(r, "2.1", "2.2") == ["undetermined",
                                                                                       "out of scope"]),
    Case("never-fires", (NEVER,), "never_fires", "    when     total_dose >= 25 mSv and total_dose < 1 mSv"),
    Case("never-fires-complementary", (replace("  when     clinically_significant\n", "  when     never\n"),),
         "never_fires", "  when     never"),
    Case("code-order", (MOVE_2_1,), "code_order", "  row 2.1"),
    Case("unused-fact", (replace("\n         and infant_dose >= 1 mSv", ""),),
         "unused_fact", '  vocabulary  "incident-vocabulary.irmer"'),
    Case("unused-definition",
         (replace("define adult\n", "define big_dose\n  as total_dose >= 100 mSv\n\ndefine adult\n"),),
         "unused_definition", "define big_dose"),
    Case("mixed-units", (MICROSIEVERTS,), "mixed_units", "    band     intended_dose < 300 uSv"),
    Case("suffix-range", (replace("suffix   1 to 10", "suffix   1 to 9"),), "suffix_range", "  suffix   1 to 9",
         lambda w, r: any(code in r.codes for code in ("M10.1", "M10.2")), nth=0),
    Case("example-coverage", (drop('example "Total geographical miss in one fraction"'),
                              drop('example "SIRT microspheres deposited outside the treated part of the liver"')),
         "example_coverage", "  row 9.1", lambda w, r: "9.1" in r.codes),
    Case("example-coverage-miss",
         (drop('example "Iodine-131 therapy, 5.6 GBq prescribed, 6.16 GBq delivered"'),
          drop('example "Iodine-131 ablation after a contrast-enhanced CT: the remnant receives a third of its '
               'planned dose"')),
         "example_coverage", "  row 10.2", lambda w, r: outcomes(r, "10.2") == ["not met"]),
    Case("shadowed", (replace("    when     tissue_reaction is not none\n",
                              "    when     tissue_reaction is not none and clinically_significant\n"),
                      replace("    procedural_failure yes\n    tissue_reaction transient_erythema\n",
                              "    procedural_failure yes\n    tissue_reaction transient_erythema\n"
                              "    clinically_significant yes\n")),
         "shadowed", "  row 3"),
    Case("subsumed", (replace("  when     equipment_fault\n", "  when     clinically_significant\n"),),
         "subsumed", "complementary C"),
    # (Rows sharing a code and a jurisdiction are refused by the checker; lint covers a row code
    # that is also a complementary letter.)
    Case("duplicate-code", (replace('    when     always\n\n\ntable "Radiotherapy delivered dose',
                                    '    when     always\n\n  row M\n'
                                    '    category "Incorrect radiopharmaceutical"\n'
                                    '    says     "All, regardless of dose"\n    modalities diagnostic\n'
                                    '    when     total_dose >= 100 mSv and intended_dose > 50 mSv\n\n\n'
                                    'table "Radiotherapy delivered dose'),),
         "duplicate_code", '  row M'),
    Case("duplicate-name", (replace('example "Radiotherapy planning scan repeated once"',
                                    'example "Radiotherapy planning scan repeated twice"'),),
         "duplicate_name", 'example "Radiotherapy planning scan repeated twice"', nth=1),
    Case("missing-text", (NO_E_SAYS,), "missing_text", "complementary E"),
]


@pytest.fixture(autouse=True)
def _run_from_the_checkout(monkeypatch):
    monkeypatch.chdir(ROOT)


def normalise(text: str, folder: Path) -> str:
    for form in {str(folder.resolve()), str(folder)}:
        text = text.replace(form, "<tmp>")
    return text


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_each_rule_finds_its_mistake(drafts, monkeypatch, case):
    path = drafts(*case.edits, name="draft.irmer")
    monkeypatch.chdir(path.parent)
    expected_line = line_of(path, case.line, case.nth)
    guidance = compile_file(path)  # the broken file is valid: lint, not the checker, finds the problem
    found = shown(lint(guidance))
    assert [(f.rule, f.severity, f.span.line) for f in found] == [
        (case.rule, RULES[case.rule].severity, expected_line)], "\n".join(
        f"{f.rule} {f.span}: {f.message}" for f in found)
    finding = found[0]
    assert finding.message and "\n" not in finding.message
    if case.witness is not None:
        assert finding.witness, "the rule gives a witness"
        jsonschema.validate(finding.witness, load_vocabulary().schema())
        assert case.witness(finding.witness, explained(guidance, finding.witness)), finding.witness


def test_every_rule_has_a_case_or_a_test():
    covered = {c.rule for c in CASES} | {"unknown_rule"}
    assert covered == set(RULES)


# ------------------------------------------------------------ shipped files

@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.name)
def test_the_shipped_files_lint_clean(path, shipped_lint):
    guidance = compile_file(path)
    findings = shipped_lint[guidance.version]  # lint(guidance), computed once (tests/conftest.py)
    assert shown(findings) == []
    assert all(f.allowed.strip() for f in findings)


def test_what_the_shipped_files_accept(g2023, g2024, shipped_lint):
    accepted = {version: Counter(f.rule for f in findings) for version, findings in shipped_lint.items()}
    assert accepted == {"irmer-2023-04-19": Counter({"suffix_range": 4, "band_edge": 1}),
                        "irmer-2024-08-28": Counter({"suffix_range": 3, "band_edge": 1})}
    for guidance, ids in ((g2023, {"band_edge": "band_edges", "suffix_range": "suffix_ranges_2023"}),
                          (g2024, {"band_edge": "band_edges", "suffix_range": "suffix_ranges_2024"})):
        for finding in shipped_lint[guidance.version]:
            if finding.rule in ids:
                assert ids[finding.rule] in finding.allowed


def test_the_band_edge_the_texts_leave_open(g2024, shipped_lint):
    """Of the three edges of 2.1 to 2.4, only 2.5 mSv is unclear: 'less than' and 'more than' settle the others."""
    (edge,) = [f for f in shipped_lint[g2024.version] if f.rule == "band_edge"]
    assert "2.5 mSv" in edge.message and "puts it in 2.3" in edge.message
    assert edge.witness["intended_dose"] == "2.5 mSv"
    result = explained(g2024, edge.witness)
    assert outcomes(result, "2.2") == ["out of scope"] and outcomes(result, "2.3") != ["out of scope"]


def test_the_cli_on_the_shipped_files(cli):
    result = cli("lint")
    assert result.exit_code == 0
    assert not re.search(r"(warning|error)\[", result.stdout)
    assert result.stdout.splitlines() == [
        "ok criteria/irmer-2023-04-19.irmer: no findings; 5 findings accepted in the file with `allow`",
        "ok criteria/irmer-2024-08-28.irmer: no findings; 4 findings accepted in the file with `allow`"]


def test_an_accepted_findings_witness_is_found_when_read(g2024):
    """`irmer lint` prints no witness for an accepted finding, so it is searched for only when read (JSON,
    the API); then it shows the problem as the finding's own check would have it (each suffix_range witness
    its own code, not the last one the check looked at)."""
    linter = Linter(g2024)
    for check in CHECKS:  # not Linter.run, which this module's fixture shares between tests
        check(linter)
    accepted = [f for f in linter.findings if f.rule == "suffix_range"]
    assert len(accepted) == 3 and all(f.allowed and f.find is not None for f in accepted)
    for finding in accepted:
        letter, first = re.match(r"complementary code (\w+) .* this file has codes ([\w.]+)", finding.message).groups()
        witness = finding.witness
        assert finding.find is None  # searched once
        assert letter + first in explained(g2024, witness).codes, (finding.message, witness)


@pytest.mark.parametrize("edits", [(), CASES[[c.name for c in CASES].index("shadowed")].edits,
                                   CASES[[c.name for c in CASES].index("subsumed")].edits], ids=["shipped", "shadowed",
                                                                                                  "subsumed"])
def test_implied_codes_are_those_each_pair_proves(tmp_path, edits):
    """check_shadowed asks z3 for a few incidents, not one question per pair of codes: the codes it finds
    implied by each row are exactly those the question per pair finds."""
    linter = Linter(compile_file(make(tmp_path, *edits)))
    codes = {code: linter.enc.code_met(code) for code in linter.codes + list(linter.letters)}
    units = [linter.enc.row_met(row) for row in linter.rows]
    units += [linter.enc.code_met(item.code) for item in linter.criteria.complementary]
    found = 0
    for met in units:
        pairwise = {code for code, other in codes.items() if not linter.sat(met, z3.Not(other))}
        assert linter.implied(met, codes) == pairwise
        found += len(pairwise)
    assert found > 0


# ----------------------------------------------------------------- allows

def test_an_allow_in_the_row_accepts_its_finding(cli, drafts):
    allow = '  row 2.1\n    allow code_order "kept beside 2.3 for this test"\n'
    path = drafts(MOVE_2_1, replace("  row 2.1\n", allow))
    (finding,) = [f for f in lint(compile_file(path)) if f.rule == "code_order"]
    assert finding.allowed == "kept beside 2.3 for this test"
    result = cli("lint", str(path))
    assert result.exit_code == 0
    assert "code_order" not in result.stdout
    assert result.stdout.strip().endswith("no findings; 5 findings accepted in the file with `allow`")


@pytest.mark.parametrize("where", ["table", "file"])
def test_an_allow_in_the_table_or_the_file_accepts_it(tmp_path, where):
    allow = 'allow band_gap "a gap for this test"'
    table = '  exposure unintended\n  says "All modalities'
    header = '  vocabulary  "incident-vocabulary.irmer"\n'
    edit = (replace(table, table.replace("\n", f"\n  {allow}\n")) if where == "table"
            else replace(header, f"{header}\n{allow}\n"))
    path = make(tmp_path, GAP, edit)
    findings = lint(compile_file(path))
    assert shown(findings) == []
    assert [f.allowed for f in findings if f.rule == "band_gap"] == ["a gap for this test"]


def test_an_allow_for_another_rule_accepts_nothing(tmp_path):
    path = make(tmp_path, MOVE_2_1, replace("  row 2.1\n", '  row 2.1\n    allow band_gap "the wrong rule"\n'))
    assert [f.rule for f in shown(lint(compile_file(path)))] == ["code_order"]


def test_an_allow_with_a_misspelt_rule(tmp_path):
    path = make(tmp_path, MISSPELT_ALLOW)
    found = shown(lint(compile_file(path)))
    assert [f.rule for f in found] == ["unknown_rule", "band_edge"]
    assert found[0].hint == "did you mean `band_edge`?"


def test_an_allow_that_accepts_nothing_is_noted(cli, drafts):
    path = drafts(GAP)
    result = cli("lint", str(path))
    line = line_of(path, '    allow band_edge "' + SHIPPED.split('    allow band_edge "')[1].split("\n")[0])
    assert f"{CRITERIA}:{line}:5: note: `allow band_edge` accepts no finding" in result.stdout


# ----------------------------------------------------------- text and JSON

def test_text_output_form(cli, drafts):
    path = drafts(GAP)
    lines = cli("lint", str(path)).stdout.splitlines()
    head = HEAD.match(lines[0])
    assert head and head["rule"] == "band_gap" and head["severity"] == "error"
    assert re.match(r"^ +\d+ \| ", lines[1]) and re.match(r"^ +\| +\^+$", lines[2])
    assert lines[3].startswith("  hint: ")
    assert lines[4] == "  witness: jurisdiction England; exposure unintended; modality diagnostic; intended_dose 2 mSv"


GOLDEN = {"gap": (GAP,), "never-fires": (NEVER,), "order-units-text": (MOVE_2_1, MICROSIEVERTS, NO_E_SAYS)}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_lint_golden(cli, drafts, name):
    path = drafts(*GOLDEN[name])
    result = cli("lint", str(path))
    assert "Traceback" not in result.stdout + result.stderr
    check_golden(f"lint/{name}.txt", normalise(result.stdout, path.parent))


def validate(records: list[dict]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(records, SCHEMA)


def test_the_schema_names_every_rule():
    rules = SCHEMA["$defs"]["Finding"]["properties"]["rule"]["enum"]
    assert set(rules) == set(RULES) | {"check"}


def test_json_output(cli, drafts):
    broken = drafts(OVERLAP)
    result = cli("lint", "--format", "json", "criteria/irmer-2024-08-28.irmer", str(broken))
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    validate(records)
    shipped = [r for r in records if r["file"] == "criteria/irmer-2024-08-28.irmer"]
    assert len(shipped) == 4 and all(r["allowed"] for r in shipped)
    (overlap,) = [r for r in records if r["rule"] == "band_overlap"]
    assert overlap["severity"] == "error" and overlap["allowed"] is None
    assert overlap["line"] == line_of(broken, "    band     2 mSv <= intended_dose <= 10 mSv")
    assert overlap["witness"]["intended_dose"] == "2 mSv"


def test_json_for_a_file_that_does_not_check(cli, tmp_path):
    path = make(tmp_path, FOETAL_MSV)
    result = cli("lint", "--format", "json", str(path))
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    validate(records)
    assert [(r["rule"], r["severity"]) for r in records] == [("check", "error")]
    assert "cannot compare foetal_dose" in records[0]["message"]


# ------------------------------------------------------------- exit status

def test_exit_status(cli, drafts):
    warnings_only = drafts(MOVE_2_1)
    assert cli("lint", str(warnings_only)).exit_code == 0
    error = drafts(GAP)
    assert cli("lint", str(error)).exit_code == 1
    assert cli("lint", str(warnings_only), str(error)).exit_code == 1


def test_a_vocabulary_among_the_files_is_checked_and_passed_over(cli, tmp_path):
    """`irmer lint criteria/*.irmer` takes the vocabulary too: checked, not linted on its own, as `irmer check`
    takes it; one that does not check is reported as the checker reports it."""
    from evaluator.resources import criteria_dir
    files = sorted(str(p) for p in criteria_dir().glob("*.irmer"))
    linted = cli("lint", *files)
    assert linted.exit_code == 0, linted.stderr
    assert "incident-vocabulary.irmer: vocabulary, " in linted.stdout
    assert linted.stdout.count("no findings") == len(files) - 1
    assert json.loads(cli("lint", "--format", "json", files[0]).stdout) == []  # the vocabulary sorts first
    bad = tmp_path / "vocabulary.irmer"
    bad.write_text('vocabulary "x"\nfact a: nonsense\n', encoding="utf-8")
    linted, checked = cli("lint", str(bad)), cli("check", str(bad))
    assert linted.exit_code == checked.exit_code == 1
    assert "unknown kind `nonsense`" in linted.stderr and linted.stderr == checked.stderr


def test_a_file_that_does_not_check_is_reported_as_the_checker_does(cli, tmp_path):
    path = make(tmp_path, FOETAL_MSV)
    linted, checked = cli("lint", str(path)), cli("check", str(path))
    assert linted.exit_code == 1
    assert linted.stderr == checked.stderr
    assert ": error: cannot compare foetal_dose" in linted.stderr


# ----------------------------------------------------------------- helpers

@pytest.mark.parametrize("text, value, expected", [
    ("Intended dose less than 0.3mSv", "0.3 mSv", "out"),
    ("Intended dose more than 10mSv", "10 mSv", "out"),
    ("Intended dose between 0.3mSv and 2.5mSv", "2.5 mSv", None),
    ("Intended dose between 0.3mSv and 2.5mSv", "0.3 mSv", None),
    ("3 mSv effective dose or above (adult) 1 mSv effective dose or above (child)", "3 mSv", "in"),
    ("3 mSv effective dose or above (adult) 1 mSv effective dose or above (child)", "1 mSv", "in"),
    ("5 mSv and 10 mSv or more", "5 mSv", None),
    ("Intended dose of 2 mSv or less", "2 mSv", "in"),
    ("Intended dose at least 2500 uSv", "2.5 mSv", "in"),
    ("Intended dose less than 0.3mSv", "0.3 mGy", None),
    ("No number here", "1 mSv", None),
])
def test_what_a_category_text_says_about_an_edge(text, value, expected):
    from evaluator.language.units import resolve_unit
    from fractions import Fraction
    number, unit = value.split()
    kind, factor = resolve_unit(unit)
    assert edge_words(text, Fraction(number) * factor, kind)[0] == expected


def test_codes_compare_as_numbers():
    codes = ["10.1", "4.2b", "2.1", "4.2a", "9.2", "1", "4.1"]
    assert sorted(codes, key=code_key) == ["1", "2.1", "4.1", "4.2a", "4.2b", "9.2", "10.1"]
    assert code_key("M") is None


def test_witness_text():
    assert witness_text({"jurisdiction": "Northern Ireland", "modality": ["diagnostic", "interventional"],
                         "procedural_failure": True, "total_dose": "2 mSv", "planning_scans": 3}) == (
        'jurisdiction "Northern Ireland"; modality diagnostic, interventional; procedural_failure yes; '
        "total_dose 2 mSv; planning_scans 3")


# ------------------------------------------------------------- the docs

DOC = ROOT / "docs" / "authoring.md"


def test_the_docs_list_every_rule_with_its_severity():
    table = dict(re.findall(r"^\| `(\w+)` \| (error|warning) \|", DOC.read_text(encoding="utf-8"), flags=re.M))
    assert table == {rule: spec.severity for rule, spec in RULES.items()}


# The edits that produced each message quoted in the docs, by the rule in its first line.
DOC_EDITS = {case.rule: case.edits for case in CASES if case.name not in ("never-fires-complementary",
                                                                           "example-coverage-miss")}
DOC_EDITS["band_gap"] = GOLDEN["gap"]
DOC_EDITS["note"] = GOLDEN["gap"]
DOC_EDITS["unknown_rule"] = DOC_EDITS["band_edge"] = (MISSPELT_ALLOW,)


DOC_BLOCKS = [b for b in re.findall(r"^```text\n(.*?)^```", DOC.read_text(encoding="utf-8"), flags=re.M | re.S)
              if b.startswith("draft.irmer:")]


def doc_rule(quoted: str) -> str | None:
    rule = re.match(r"draft\.irmer:\d+:\d+: (?:\w+\[(\w+)\]|(note))", quoted)
    return rule and (rule.group(1) or rule.group(2))


# The quoted blocks by the draft that prints them: one run of lint per draft, and the drafts
# spread over the test workers (a block whose rule has no edits is grouped under None).
DOC_DRAFTS: dict[tuple[Edit, ...] | None, list[str]] = {}
for _quoted in DOC_BLOCKS:
    DOC_DRAFTS.setdefault(DOC_EDITS.get(doc_rule(_quoted)), []).append(_quoted)


def test_the_docs_quote_lint_for_most_rules():
    assert len(DOC_BLOCKS) >= 10


@pytest.mark.parametrize("edits", [pytest.param(edits, id="+".join(str(doc_rule(q)) for q in quoted))
                                   for edits, quoted in DOC_DRAFTS.items()])
def test_the_messages_in_the_docs_are_what_lint_prints(cli, drafts, monkeypatch, edits):
    quoted_blocks = DOC_DRAFTS[edits]
    assert edits is not None, f"docs/authoring.md quotes lint for a rule this test has no edits for:\n{quoted_blocks}"
    path = drafts(*edits, name="draft.irmer")
    monkeypatch.chdir(path.parent)
    printed = set(cli("lint", "draft.irmer").stdout.splitlines())
    for quoted in quoted_blocks:
        for line in quoted.splitlines():
            if line.startswith("  witness: "):
                continue  # one incident among many: checked by the rule's own test
            assert line in printed, f"docs/authoring.md quotes a line lint no longer prints:\n{line}"
