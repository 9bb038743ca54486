"""AST -> text: the canonical way to write an expression, from a table of generators.

Like sqlglot's generators, one function per node type. Brackets are added only
where precedence needs them (`or` binds loosest, then `and`, then `not`).
The diff uses it to show conditions; parsing what it prints gives an equal AST.

>>> from evaluator import load_criteria
>>> row = next(r for r in load_criteria("2024").ast.rows if r.code == "10.1")
>>> expression(row.when)
'delivered_activity outside ±20% of prescribed_activity'
>>> expression(next(r for r in load_criteria("2024").ast.rows if r.code == "1").when)
'(adult and total_dose >= 3 mSv) or (child and total_dose >= 1 mSv)'
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from . import ast

# Binding strength: a child weaker than its parent needs brackets.
PRECEDENCE: dict[type, int] = {ast.Or: 1, ast.And: 2, ast.Not: 3}
ATOM = 4


def _strength(node: Any) -> int:
    return PRECEDENCE.get(type(node), ATOM)


def _child(node: Any, parent_strength: int) -> str:
    text = expression(node)
    return f"({text})" if _strength(node) <= parent_strength and _strength(node) < ATOM else text


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@lru_cache(maxsize=1)
def reserved_words() -> frozenset[str]:
    """The words of the grammar (`is`, `not`, `one`, ...) and of the header: a value spelt like one is quoted."""
    from .parse import parser  # the printer needs the grammar only for this

    words = {t.pattern.value for t in parser().terminals if t.pattern.type == "str" and t.pattern.value.isalpha()}
    return frozenset(words | {"title", "publisher", "published", "in", "force", "supersedes", "source", "vocabulary",
                              "version"})


def value(text: str) -> str:
    """A value as a name when it is one (`England`), else in double quotes, escaped (`"Northern Ireland"`)."""
    if _NAME.fullmatch(text) and text not in reserved_words():
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(node: ast.Number) -> str:
    return f"{node.text} {node.unit}" if node.unit else node.text


def _is(node: ast.IsValue) -> str:
    verb = "is not" if node.negated else "is"
    if node.one_of:
        return f"{node.fact} {verb} one of {', '.join(value(v) for v in node.values)}"
    return f"{node.fact} {verb} {value(node.values[0])}"


def _compare(node: ast.Compare) -> str:
    parts = [expression(node.operands[0])]
    for op, operand in zip(node.ops, node.operands[1:]):
        parts += [op, expression(operand)]
    return " ".join(parts)


def _case(node: ast.Case) -> str:
    branches = [f"{expression(b.value)} if {expression(b.condition)}" for b in node.branches]
    return "\n".join(branches + [f"{expression(node.otherwise)} otherwise"])


# Node type -> generator.
GENERATORS: dict[type, Callable[[Any], str]] = {
    ast.Ref: lambda n: n.name,
    ast.Number: _number,
    ast.Percent: lambda n: f"{n.text}%",
    ast.Scale: lambda n: (f"{n.factor}% of " if n.percent else f"{n.factor} times ") + expression(n.operand),
    ast.Ratio: lambda n: f"{expression(n.numerator)} / {expression(n.denominator)}",
    ast.Compare: _compare,
    ast.IsValue: _is,
    ast.Includes: lambda n: f"{n.fact} includes {', '.join(value(v) for v in n.values)}",
    ast.Tolerance: lambda n: (f"{expression(n.value)} {'outside' if n.outside else 'within'} "
                              f"±{n.percent}% of {expression(n.reference)}"),
    ast.CriteriaOf: lambda n: f"criteria of {n.code}",
    ast.Constant: lambda n: "always" if n.value else "never",
    ast.Not: lambda n: "not " + _child(n.operand, PRECEDENCE[ast.Not] - 1),
    ast.And: lambda n: " and ".join(_child(op, PRECEDENCE[ast.And]) for op in n.operands),
    # `and` inside `or` gets brackets although precedence does not need them: readers do.
    ast.Or: lambda n: " or ".join(_child(op, PRECEDENCE[ast.And]) for op in n.operands),
    ast.Case: _case,
}


def expression(node: Any) -> str:
    """An expression as the language writes it, on one line (a case: one line per branch)."""
    return GENERATORS[type(node)](node)
