"""`irmer check` refuses a table that is ambiguous or broken, not only a file that does not compile.

A file whose bands leave a gap or overlap, whose row can never be met, or
which gives a code twice for the same incidents compiles: every name, kind
and unit is right. But the table is wrong, and until now only `irmer lint`
said so. `irmer check` now runs lint's table rules (its rules of severity
error, evaluator/tools/lint.py TABLE_RULES) and reports each as an error at its
line, exit 1, unless the file accepts it with `allow RULE "reason"`. Lint
keeps the advice. Loading criteria (every evaluation) still does not run them,
nor import z3.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from evaluator.load import compile_file
from evaluator.tools.lint import RULES, TABLE_RULES, lint

from conftest import ROOT, check_golden

CRITERIA = "irmer-2024-08-28.irmer"
VOCABULARY = "incident-vocabulary.irmer"
SHIPPED = (ROOT / "criteria" / CRITERIA).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Case:
    name: str
    rule: str
    edits: tuple[tuple[str, str], ...]  # (text found once, its replacement)
    line: str  # the line of the edited file the error points at

    def __str__(self) -> str:
        return self.name


ROW_M = ('    when     always\n\n\ntable "Radiotherapy delivered dose',
         '    when     always\n\n  row M\n    category "Incorrect radiopharmaceutical"\n'
         '    says     "All, regardless of dose"\n    modalities diagnostic\n'
         '    when     total_dose >= 100 mSv and intended_dose > 50 mSv\n\n\ntable "Radiotherapy delivered dose')
GAP = ("band     0.3 mSv <= intended_dose < 2.5 mSv", "band     0.3 mSv <= intended_dose < 2 mSv")

CASES = [
    Case("band-gap", "band_gap", (GAP,), "    band     0.3 mSv <= intended_dose < 2 mSv"),
    Case("band-overlap", "band_overlap",
         (("band     2.5 mSv <= intended_dose <= 10 mSv", "band     2 mSv <= intended_dose <= 10 mSv"),),
         "    band     2 mSv <= intended_dose <= 10 mSv"),
    Case("never-fires", "never_fires",
         (("    when     total_dose >= 25 mSv\n", "    when     total_dose >= 25 mSv and total_dose < 1 mSv\n"),),
         "    when     total_dose >= 25 mSv and total_dose < 1 mSv"),
    Case("never-fires-complementary", "never_fires",
         (("  when     clinically_significant\n", "  when     never\n"),), "  when     never"),
    Case("duplicate-code", "duplicate_code", (ROW_M,), "  row M"),
]


def make(folder: Path, edits: tuple[tuple[str, str], ...]) -> Path:
    text = SHIPPED
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    shutil.copy(ROOT / "criteria" / VOCABULARY, folder / VOCABULARY)
    path = folder / "draft.irmer"
    path.write_text(text, encoding="utf-8")
    return path


def line_number(path: Path, text: str) -> int:
    found = [i + 1 for i, line in enumerate(path.read_text(encoding="utf-8").split("\n")) if line == text]
    assert len(found) == 1, f"{text!r} is on lines {found}"
    return found[0]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the messages name draft.irmer, as the user typed it


def test_every_table_rule_has_a_case():
    assert set(TABLE_RULES) == {"band_gap", "band_overlap", "never_fires", "duplicate_code"}
    assert {case.rule for case in CASES} == set(TABLE_RULES)
    assert all(RULES[rule].severity == "error" for rule in TABLE_RULES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check_refuses_the_table(cli, tmp_path, case):
    path = make(tmp_path, case.edits)
    compile_file(path)  # the file compiles: names, kinds and units are right
    result = cli("check", "draft.irmer")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.stdout == ""  # no "ok" for it
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"draft.irmer:{line_number(path, case.line)}:")
    assert first.endswith(f"({case.rule})") and ": error: " in first
    assert f"allow {case.rule} " in result.stderr and "Traceback" not in result.stderr
    check_golden(f"check/{case.name}.txt", result.stderr)
    # lint finds the same thing, with its advice.
    assert case.rule in {f.rule for f in lint(compile_file(path)) if f.allowed is None}


def test_a_table_finding_accepted_with_allow_passes(cli, tmp_path):
    reason = '    allow band_gap "a gap on purpose, for this test"\n'
    make(tmp_path, (GAP, ("  row 2.2\n", "  row 2.2\n" + reason)))
    result = cli("check", "draft.irmer")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok draft.irmer: irmer-2024-08-28")


def test_the_other_files_are_still_checked(cli, tmp_path):
    """A broken table and a valid file in one run: the error for one, ok for the other, exit 1."""
    make(tmp_path, CASES[0].edits)
    result = cli("check", "draft.irmer", str(ROOT / "criteria" / CRITERIA))
    assert result.exit_code == 1
    assert result.stdout.startswith("ok ") and "irmer-2024-08-28.irmer" in result.stdout
    assert "draft.irmer:" in result.stderr and "(band_gap)" in result.stderr


def test_the_shipped_files_pass(cli):
    result = cli("check")
    assert result.exit_code == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["ok", "ok"]


def test_lint_advice_is_not_a_check_error(cli, tmp_path):
    """A band edge the texts leave open, codes out of order: lint's warnings; check passes."""
    make(tmp_path, (("band     intended_dose < 0.3 mSv", "band     intended_dose <= 0.3 mSv"),
                    ("band     0.3 mSv <= intended_dose < 2.5 mSv", "band     0.3 mSv < intended_dose < 2.5 mSv")))
    result = cli("check", "draft.irmer")
    assert result.exit_code == 0, result.stderr
    assert {f.rule for f in lint(compile_file(Path("draft.irmer"))) if f.allowed is None} == {"band_edge"}


def test_loading_criteria_does_not_run_the_table_rules_nor_import_z3():
    code = ("import sys\n"
            "from evaluator import load_criteria, compile_file\n"
            "g = load_criteria('2024')\n"
            "g.evaluate({'jurisdiction': 'England', 'exposure': 'accidental', 'total_dose': '8 mSv'})\n"
            f"compile_file({str(ROOT / 'criteria' / CRITERIA)!r})\n"
            "print('z3' in sys.modules, 'evaluator.tools.lint' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("doc", ["authoring.md", "language.md"])
def test_the_docs_quote_what_check_prints(doc):
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    blocks = [b for b in text.split("```text\n$ irmer check draft.irmer\n")[1:] if "(band_gap)" in b.split("```")[0]]
    assert len(blocks) == 1, f"docs/{doc} quotes `irmer check` on a band gap once"
    quoted = blocks[0].split("```")[0]
    assert quoted == (ROOT / "tests" / "golden" / "check" / "band-gap.txt").read_text(encoding="utf-8")
