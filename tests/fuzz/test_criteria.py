"""Edited criteria files: whatever a policy author types, the checker answers with located diagnostics.

The shipped files (both versions of the guidance and the vocabulary) are edited the ways a person
slips and the ways a hostile file is built: lines deleted, repeated, cut or filled with pieces of
the language; characters inserted (NUL, a byte-order mark, U+2028, a lone surrogate, digits of
other scripts); numbers replaced with ones far beyond any dose; clauses nested or repeated
thousands of times; lines too long.

The properties, each within the time bound (tests/fuzz/sandbox.py):
- compiling gives a checked file or a CriteriaError, never another exception; every diagnostic has
  a message and a place in one of the files (line and column inside it); rendering works;
- a file that checks evaluates its own examples and a few incidents without a fault of ours;
- the canonical layout (`irmer fmt`) of a file that checks, checks, to the same AST;
- lint reads any file that checks without an exception.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator import CriteriaError, compile_text, load_criteria
from evaluator.language.fmt import format_text

from conftest import ROOT
from fuzz import examples
from fuzz.sandbox import Sandbox

CRITERIA = ROOT / "criteria"
VOCABULARY_NAME = "incident-vocabulary.irmer"
SOURCES = {path.name: path.read_text(encoding="utf-8") for path in sorted(CRITERIA.glob("irmer-*.irmer"))}
VOCABULARY = (CRITERIA / VOCABULARY_NAME).read_text(encoding="utf-8")
NAMES = sorted(SOURCES)


@pytest.fixture(scope="module")
def sandbox():
    load_criteria("2023"), load_criteria("2024")
    with Sandbox() as box:
        yield box


# ------------------------------------------------------------------ edits

# Pieces an author might type, rightly or wrongly.
PIECES = ["when", "band", "and", "or", "not", "(", ")", ">=", "<", "=", "3", "0.3", "mSv", "mGy", "GBq", "%",
          "times", "of", "outside", "±", "is", "one of", "includes", "criteria of 8.1", '"text"', "row 11",
          "total_dose", "foetal_dose", "child", "England", "unless", "always", "#", "\\", ",", ":", "years",
          "define", "as", "example", "given", "expect", "allow", "deadline", "weeks", "after", "absent means",
          "fact", "unit", "at least", "10 / 0", "/", "*", "+", "-", "..", "'", "“", "”"]
CHARACTERS = ["\x00", "\ufeff", "\u2028", "\u0085", "\r", "\t", "\ud800", "\udfff", "é", "٨", "８", "ｍ", "\\", '"',
              "#", "\n", "\n\n\n", " ", "(", ")", "\x1b[31m", "\u202e", "\U0001F600", "\x7f", "\f", "\v"]
NUMBERS = ["1e99999999", "1e-99999999", "9" * 5000, "9" * 4301, "0." + "0" * 40 + "1", "1e31", "1e-31", "1e30",
           "0", "0.0", "00", "-1", "٣", "3,5", "1_000", "10 / 0", "1e", ".5", "5.", "1" * 31, "1" * 30,
           "99999999999", "NaN", "inf", "0x10"]
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
# The largest edits (tens of thousands of lines) take seconds each: only in the long profile.
LONG = settings().max_examples > 100
REPEATS = [2, 10, 1000] + ([20_000] if LONG else [])
BLANK_LINES = "\n" * (50_000 if LONG else 2_000)


def line_edit(text: str, index: int, action: str, pieces: list[str]) -> str:
    lines = text.splitlines()
    index %= len(lines)
    piece = " ".join(pieces)
    if action == "delete":
        del lines[index]
    elif action == "duplicate":
        lines.insert(index, lines[index])
    elif action == "insert":
        lines.insert(index, "    " + piece)
    else:
        words = lines[index].split()
        if words:
            words[len(words) // 2] = piece
        lines[index] = "    " + " ".join(words)
    return "\n".join(lines) + "\n"


@st.composite
def edits(draw, text: str) -> str:
    """One or a few edits of a file, of every sort."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["line", "line", "cut", "character", "number", "swap", "repeat", "nest", "long"]))
        if kind == "line":
            text = line_edit(text, draw(st.integers(0, 10**6)), draw(st.sampled_from(
                ["delete", "duplicate", "insert", "replace"])), draw(st.lists(st.sampled_from(PIECES), min_size=1,
                                                                             max_size=5)))
        elif kind == "cut":
            start = draw(st.integers(0, max(0, len(text) - 1)))
            text = text[:start] + text[start + draw(st.integers(1, 40)):]
        elif kind == "character":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(CHARACTERS)) + text[at:]
        elif kind == "number":
            numbers = list(NUMBER.finditer(text))
            if numbers:
                match = numbers[draw(st.integers(0, len(numbers) - 1))]
                text = text[:match.start()] + draw(st.sampled_from(NUMBERS)) + text[match.end():]
        elif kind == "swap":
            lines = text.splitlines()
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines) + "\n"
        elif kind == "repeat":
            lines = text.splitlines()
            i = draw(st.integers(0, len(lines) - 1))
            lines[i:i + 1] = [lines[i]] * draw(st.sampled_from(REPEATS))
            text = "\n".join(lines) + "\n"
        elif kind == "nest":
            # Deep nesting where an expression stands: `not not ... x`, `((( x )))`.
            depth = draw(st.sampled_from([10, 63, 64, 65, 500, 1000, 5000]))
            wrap = draw(st.sampled_from(["not", "paren"]))
            match = re.search(r"^(\s+(?:when|as|band|unless)\s+)(.+)$", text, flags=re.M)
            if match:
                inner = match.group(2)
                nested = "not " * depth + inner if wrap == "not" else "(" * depth + inner + ")" * depth
                text = text[:match.start(2)] + nested + text[match.end(2):]
        else:  # a line past the line-length bound, or a file of blank lines
            at = text.index("\n", draw(st.integers(0, len(text) - 2))) if draw(st.booleans()) else 0
            filler = draw(st.sampled_from(['    note "' + "x" * 10_001 + '"', "#" * 10_001, BLANK_LINES,
                                           ' ' * 10_001 + "when", '"' + "x" * 20_000]))
            text = text[:at] + "\n" + filler + "\n" + text[at:]
    return text


# ------------------------------------------------------------------ in the child

def compile_in_child(name: str, text: str, vocabulary: str | None) -> dict:
    """Compile `text` (beside the shipped vocabulary, or beside `vocabulary`); check what comes back."""
    folder = None
    base = CRITERIA
    if vocabulary is not None:
        folder = Path(tempfile.mkdtemp(prefix="irmer-fuzz-"))
        # A lone surrogate cannot be written as UTF-8: the file gets "?" (what an editor would save).
        (folder / VOCABULARY_NAME).write_text(vocabulary, encoding="utf-8", errors="replace")
        base = folder
    try:
        try:
            guidance = compile_text(text, name, base)
        except CriteriaError as error:
            assert error.diagnostics, "a CriteriaError with no diagnostic"
            for diagnostic in error.diagnostics:
                assert diagnostic.message.strip(), diagnostic
                span = diagnostic.span
                assert span is not None, f"a diagnostic with no place: {diagnostic}"
                source = error.sources.get(span.file)
                assert source is not None, f"a diagnostic in a file we do not know: {diagnostic} ({list(error.sources)})"
                lines = source.split("\n")
                assert 1 <= span.line <= len(lines) + 1 and span.column >= 1, f"outside the file: {diagnostic}"
                assert (span.end_line, span.end_column) >= (span.line, span.column), f"ends before it starts: {span}"
            rendered = error.render()
            assert f"{error.diagnostics[0].span.file}:" in rendered
            return {"checks": False, "messages": [d.message for d in error.diagnostics]}
        for example in guidance.ast.examples:
            result = guidance.evaluate(guidance.example_incident(example))
            assert result.error is None or not result.error.message.startswith("internal error"), result.error
        for incident in INCIDENTS:
            for explain in (False, True):
                result = guidance.evaluate(incident, explain=explain)
                assert result.error is None or not result.error.message.startswith("internal error"), result.error
        return {"checks": True}
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


INCIDENTS = [
    {},
    {"jurisdiction": "England", "exposure": "accidental", "modality": "diagnostic", "total_dose": "8 mSv",
     "discovered_on": "2024-10-07"},
    {"jurisdiction": "Scotland", "exposure": "unintended", "modality": "radiotherapy", "ptv_intended_dose": "60 Gy",
     "ptv_delivered_dose": "66 Gy", "age": 15},
    {"exposure": "unintended", "modality": "nuclear_medicine_therapy", "nm_therapy": "sirt",
     "prescribed_activity": "1.5 GBq", "delivered_activity": "1.8 GBq", "intended_dose": "0 mSv"},
]


def format_in_child(name: str, text: str) -> str:
    """If the text checks: its canonical layout checks, to the same AST, and is a fixed point."""
    try:
        guidance = compile_text(text, name, CRITERIA)
    except CriteriaError:
        return "does not check"
    formatted = format_text(text, name)
    again = compile_text(formatted, name, CRITERIA)
    assert again.ast == guidance.ast, "the canonical layout means something else"
    assert format_text(formatted, name) == formatted, "formatting twice changes the text"
    return "formatted"


def lint_in_child(name: str, text: str) -> str:
    from evaluator.tools.lint import lint
    try:
        guidance = compile_text(text, name, CRITERIA)
    except CriteriaError:
        return "does not check"
    for finding in lint(guidance):
        assert finding.message and finding.rule, finding
    return "linted"


# ------------------------------------------------------------------ the tests

@settings(max_examples=examples(60))
@given(data=st.data(), name=st.sampled_from(NAMES))
def test_an_edited_criteria_file_gives_diagnostics_not_exceptions(sandbox, data, name):
    text = data.draw(edits(SOURCES[name]), label="text")
    sandbox.call(compile_in_child, name, text, None)


@settings(max_examples=examples(20))
@given(data=st.data())
def test_an_edited_vocabulary_gives_diagnostics_not_exceptions(sandbox, data):
    vocabulary = data.draw(edits(VOCABULARY), label="vocabulary")
    name = "irmer-2024-08-28.irmer"
    sandbox.call(compile_in_child, name, SOURCES[name], vocabulary)


@settings(max_examples=examples(30))
@given(data=st.data(), name=st.sampled_from(NAMES))
def test_the_layout_of_an_edited_file_that_checks(sandbox, data, name):
    text = data.draw(edits(SOURCES[name]), label="text")
    sandbox.call(format_in_child, name, text)


@settings(max_examples=examples(3))
@given(data=st.data(), name=st.sampled_from(NAMES))
def test_lint_reads_an_edited_file_that_checks(sandbox, data, name):
    text = data.draw(edits(SOURCES[name]), label="text")
    sandbox.call(lint_in_child, name, text, seconds=60)
