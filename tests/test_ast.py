"""The AST: spans on every node, equality that ignores them, JSON that round-trips."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from evaluator import compile_text, load_criteria
from evaluator.language import ast
from evaluator.load import shipped_files
from evaluator.language.parse import parse_text
from evaluator.language.transform import to_ast

from conftest import ROOT


def parse(text: str, name: str = "t.irmer"):
    return to_ast(parse_text(text, name), name, text)


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.name)
def test_layout_does_not_change_the_ast(path):
    text = path.read_text(encoding="utf-8")
    original = parse(text)
    # Other indentation, extra blank lines and comments: the same criteria.
    relaid = "\n".join(("      " + line.strip()) if line.strip() else "" for line in text.splitlines())
    relaid = re.sub(r"\n(\s*row )", r"\n# a comment\n\n\1", relaid)
    assert parse(relaid, "other.irmer") == original


def test_equality_ignores_spans_but_not_content():
    a = parse('vocabulary "v"\nfact x: count\n')
    b = parse('\n\nvocabulary   "v"\n\n  fact x:   count\n')
    c = parse('vocabulary "v"\nfact y: count\n')
    assert a == b
    assert a.facts[0].span != b.facts[0].span
    assert a != c
    assert hash(a) == hash(b)


def test_every_node_of_a_shipped_file_has_a_span(g2024):
    missing = [type(n).__name__ for n in g2024.ast.walk() if n.span is None]
    assert missing == []


def test_spans_point_at_their_text(g2024):
    lines = g2024.source.splitlines()
    for row in g2024.ast.rows:
        line = lines[row.when.span.line - 1]
        assert line.strip().startswith("when"), row.code
        assert lines[row.span.line - 1].strip().startswith(f"row {row.code}")
    number = next(n for n in g2024.ast.walk() if isinstance(n, ast.Number) and n.text == "25")
    text = lines[number.span.line - 1][number.span.column - 1:number.span.end_column - 1]
    assert text == "25 mSv"


def test_checked_ast_has_exact_values_in_base_units(g2024):
    numbers = {(n.text, n.unit): n for n in g2024.ast.walk() if isinstance(n, ast.Number)}
    assert str(numbers[("0.3", "mSv")].value) == "3/10000"
    assert numbers[("10", "mGy")].kind == "absorbed dose"
    assert numbers[("16", "years")].kind == "duration"
    compares = [n for n in g2024.ast.walk() if isinstance(n, ast.Compare)]
    assert all(c.kind for c in compares)


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_json_round_trip(version):
    criteria = load_criteria(version).ast
    again = ast.Criteria.model_validate_json(criteria.model_dump_json())
    assert again == criteria
    # spans survive the trip too
    assert again.rows[0].span == criteria.rows[0].span


def test_compiled_json_validates_against_the_published_schema(g2023):
    schema = ast.Criteria.model_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(g2023.to_json()), schema)


def test_the_ast_is_backend_neutral():
    # Nothing in the AST refers to the Python backend: it is plain data.
    source = (ROOT / "evaluator" / "language" / "ast.py").read_text(encoding="utf-8")
    assert "evaluate" not in source.split('"""', 2)[2]


def test_a_minimal_criteria_file_compiles():
    text = """guidance "tiny"
  title "t"
  publisher "p"
  published 2024-01-01
  in force 2024-01-01
  source "s"
  vocabulary "incident-vocabulary.irmer"
table "Accidental exposure"
  exposure accidental
  row 1
    category "All"
    says "All, regardless of dose"
    when always
"""
    guidance = compile_text(text, "tiny.irmer")
    assert guidance.evaluate({"exposure": "accidental"}).codes == ["1"]
    assert guidance.evaluate({"exposure": "unintended"}).notifiable is False
