"""Python source for a checked AST: two-valued, exact, on the engine's scales.

>>> from evaluator import load_criteria
>>> from evaluator.engines.compiled.scales import kind_scales
>>> g = load_criteria("2024")
>>> Codegen(g.checked, kind_scales(g.checked)).cond(g.ast.rows[3].band)  # row 2.2
"(300000000 <= v['intended_dose'] and v['intended_dose'] < 2500000000)"
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Mapping

from ...language import ast
from ...language.check import Checked
from ...language.operators import PYTHON


def _mul(a: str, b: str) -> str:
    if a == "1":
        return b
    if b == "1":
        return a
    return f"({a})*({b})"


class Codegen:
    """Python source for a checked AST: two-valued, exact, on the engine's scales.

    A fact is read as ``v['name']``: an unknown fact raises KeyError, which is how
    a generated function gives up. Numbers are (numerator, denominator) pairs of
    source text, with positive denominators, so comparisons multiply out and
    stay in integers.
    """

    def __init__(self, checked: Checked, scales: Mapping[str, int]):
        self.checked = checked
        self.scales = scales
        self.constants: dict[str, Any] = {}
        self._names: dict[Any, str] = {}
        self.rows_by_code: dict[str, list[ast.Row]] = {}
        for row in checked.rows:
            self.rows_by_code.setdefault(row.code, []).append(row)

    def const(self, value: Any) -> str:
        if isinstance(value, bool) or isinstance(value, int):
            return repr(value)
        if isinstance(value, Fraction) and value.denominator == 1:
            return repr(value.numerator)
        key = (type(value).__name__, value)
        if key not in self._names:
            name = f"K{len(self._names)}"
            self._names[key] = name
            self.constants[name] = value
        return self._names[key]

    def scaled_constant(self, node: ast.Number | ast.Percent) -> Fraction:
        scale = self.scales.get(getattr(node, "kind", None) or "number", 1)
        return node.value * scale

    def fact(self, name: str) -> str:
        """How generated code reads a fact. A judgement default (`absent assumes`) the incident does not
        give is taken, and noted in the values as read (runtime._assumed): only a decision that reads it
        can depend on it (engine.py, decide)."""
        info = self.checked.facts.get(name)
        if info is not None and getattr(info, "assumed", False):
            return f"(v[{name!r}] if {name!r} in v else _assumed(v, {name!r}, {self.const(info.default)}))"
        return f"v[{name!r}]"

    # booleans
    def cond(self, node: Any) -> str:
        return BOOL_GEN[type(node)](self, node)

    def g_ref(self, node: ast.Ref) -> str:
        if node.target == "definition":
            return self.cond(self.checked.definitions[node.name].body)
        return self.fact(node.name)

    def g_compare(self, node: ast.Compare) -> str:
        nums = [self.num(op) for op in node.operands]
        tests = [f"{_mul(a[0], b[1])} {PYTHON[op]} {_mul(b[0], a[1])}"
                 for op, a, b in zip(node.ops, nums, nums[1:])]
        return "(" + " and ".join(tests) + ")"

    def g_is(self, node: ast.IsValue) -> str:
        values = self.const(frozenset(node.values))
        return f"({self.fact(node.fact)} {'not in' if node.negated else 'in'} {values})"

    def g_includes(self, node: ast.Includes) -> str:
        return f"(not {self.fact(node.fact)}.isdisjoint({self.const(frozenset(node.values))}))"

    def g_tolerance(self, node: ast.Tolerance) -> str:
        (n1, d1), (n2, d2) = self.num(node.value), self.num(node.reference)
        p, q = node.fraction.numerator, node.fraction.denominator
        test = f"_outside({n1}, {d1}, {n2}, {d2}, {p}, {q})"
        return test if node.outside else f"(not {test})"

    def g_criteria_of(self, node: ast.CriteriaOf) -> str:
        rules = [self.cond(row.when) for row in self.rows_by_code.get(node.code, ()) if row.when is not None]
        return "(" + " or ".join(rules) + ")" if rules else "False"

    def g_constant(self, node: ast.Constant) -> str:
        return "True" if node.value else "False"

    def g_not(self, node: ast.Not) -> str:
        return f"(not {self.cond(node.operand)})"

    def g_and(self, node: ast.And) -> str:
        return "(" + " and ".join(self.cond(op) for op in node.operands) + ")"

    def g_or(self, node: ast.Or) -> str:
        return "(" + " or ".join(self.cond(op) for op in node.operands) + ")"

    def g_case(self, node: ast.Case) -> str:
        text = self.cond(node.otherwise)
        for branch in reversed(node.branches):
            text = f"({self.cond(branch.value)} if {self.cond(branch.condition)} else {text})"
        return text

    # numbers: (numerator, denominator)
    def num(self, node: Any) -> tuple[str, str]:
        return NUM_GEN[type(node)](self, node)

    def n_ref(self, node: ast.Ref) -> tuple[str, str]:
        if node.target == "definition":
            return self.num(self.checked.definitions[node.name].body)
        return self.fact(node.name), "1"

    def n_number(self, node: ast.Number | ast.Percent) -> tuple[str, str]:
        value = self.scaled_constant(node)
        return self.const(Fraction(value.numerator)), self.const(Fraction(value.denominator))

    def n_scale(self, node: ast.Scale) -> tuple[str, str]:
        n, d = self.num(node.operand)
        p, q = node.value.numerator, node.value.denominator
        return (_mul(n, str(p)) if p != 1 else n), (_mul(d, str(q)) if q != 1 else d)

    def n_ratio(self, node: ast.Ratio) -> tuple[str, str]:
        (n1, d1), (n2, d2) = self.num(node.numerator), self.num(node.denominator)
        return _mul(n1, d2), _mul(d1, f"_nz({n2})")

    def n_case(self, node: ast.Case) -> tuple[str, str]:
        text = "_fraction(%s, %s)" % self.num(node.otherwise)
        for branch in reversed(node.branches):
            text = f"(_fraction({', '.join(self.num(branch.value))}) if {self.cond(branch.condition)} else {text})"
        return text, "1"


BOOL_GEN: dict[type, Callable[[Codegen, Any], str]] = {
    ast.Ref: Codegen.g_ref, ast.Compare: Codegen.g_compare, ast.IsValue: Codegen.g_is,
    ast.Includes: Codegen.g_includes, ast.Tolerance: Codegen.g_tolerance, ast.CriteriaOf: Codegen.g_criteria_of,
    ast.Constant: Codegen.g_constant, ast.Not: Codegen.g_not, ast.And: Codegen.g_and, ast.Or: Codegen.g_or,
    ast.Case: Codegen.g_case,
}
NUM_GEN: dict[type, Callable[[Codegen, Any], tuple[str, str]]] = {
    ast.Ref: Codegen.n_ref, ast.Number: Codegen.n_number, ast.Percent: Codegen.n_number,
    ast.Scale: Codegen.n_scale, ast.Ratio: Codegen.n_ratio, ast.Case: Codegen.n_case,
}
