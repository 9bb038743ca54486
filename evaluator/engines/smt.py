"""A second backend over the same checked AST: the criteria as z3 formulas.

The diff asks questions about every possible incident ("is there any incident
that 2023 notifies under 4.2a and 2024 does not?"), which sampling cannot
answer. This module encodes a checked criteria file as formulas over one set of
variables, one per fact, so that z3 can answer them exactly.

The input space is every *complete* incident: every fact of the vocabulary has
a value (a named value, yes or no, or a number at or above its minimum), and
every fact that is divided by (the intended dose of the multiplication factor)
is positive. On such incidents the evaluator's three-valued logic is
two-valued, and ``met(code)`` here is true exactly when the evaluator lists the
code (tests/test_smt.py checks this on thousands of random incidents).

Numbers are exact: constants are rationals in base units, quantities are z3
reals, counts are z3 integers. Comparisons with a multiplication factor are
multiplied out (``total / intended >= 10`` becomes ``total >= 10 * intended``,
intended being positive), so every formula is linear arithmetic, which z3
decides completely.

>>> from evaluator import load_criteria
>>> space = Space(load_criteria("2024").vocabulary.facts)
>>> e = Encoded(load_criteria("2024"), space)
>>> import z3
>>> z3.Solver().check(space.domain(), e.code_met("4.2a"), space.is_value("imaging_cause", "hardware_software_failure"))
sat
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping

import z3

from ..language import ast
from ..language.units import BOOL, ENUM, KINDS, SET
from ..language.values import FactInfo


def rational(value: Fraction) -> z3.ArithRef:
    return z3.RealVal(f"{value.numerator}/{value.denominator}")


@dataclass
class Num:
    """A number as numerator / denominator; no denominator means 1, else it is a positive term."""

    num: Any
    den: Any = None


class Space:
    """One z3 variable per fact: the incident every version is asked about."""

    def __init__(self, facts: Mapping[str, FactInfo]):
        self.facts = dict(facts)
        self.vars: dict[str, Any] = {}
        for name, info in self.facts.items():
            if info.kind == BOOL:
                self.vars[name] = z3.Bool(name)
            elif info.kind == ENUM:
                self.vars[name] = z3.Int(name)  # the index of its value
            elif info.kind == SET:
                self.vars[name] = {value: z3.Bool(f"{name}={value}") for value in info.values}
            elif info.kind == "count":
                self.vars[name] = z3.Int(name)
            elif info.numeric:
                self.vars[name] = z3.Real(name)
        self.positive: set[str] = set()  # facts that some version divides by

    def domain(self) -> z3.BoolRef:
        """The constraints every complete incident meets."""
        parts = []
        for name, info in self.facts.items():
            var = self.vars.get(name)
            if var is None:
                continue
            if info.kind == ENUM:
                parts += [var >= 0, var < len(info.values)]
            elif info.kind == SET:
                parts.append(z3.Or(*var.values()))
            elif info.kind in KINDS and KINDS[info.kind].numeric:
                floor = info.minimum or Fraction(0)
                parts.append(var >= (floor.numerator if info.kind == "count" else rational(floor)))
                if name in self.positive:
                    parts.append(var > 0)
        return z3.And(*parts)

    def is_value(self, fact: str, value: str) -> z3.BoolRef:
        return self.vars[fact] == self.facts[fact].values.index(value)

    def value_of(self, model: z3.ModelRef, name: str) -> Any:
        """A fact's value in a model: a named value, yes/no, a set, or an exact fraction in base units."""
        info, var = self.facts[name], self.vars[name]
        if info.kind == SET:
            return frozenset(v for v, b in var.items() if z3.is_true(model.eval(b, model_completion=True)))
        value = model.eval(var, model_completion=True)
        if info.kind == BOOL:
            return z3.is_true(value)
        if info.kind == ENUM:
            return info.values[value.as_long()]
        if info.kind == "count":
            return Fraction(value.as_long())
        return Fraction(value.numerator_as_long(), value.denominator_as_long())


class Encoded:
    """One checked criteria file as z3 formulas over a Space."""

    def __init__(self, guidance: Any, space: Space):
        self.space = space
        self.criteria: ast.Criteria = guidance.ast
        self.checked = guidance.checked
        self.definitions = guidance.checked.definitions
        self.rows_by_code: dict[str, list[ast.Row]] = {}
        for row in self.criteria.rows:
            self.rows_by_code.setdefault(row.code, []).append(row)
        self.exclusions: dict[str, list[ast.Exclusion]] = {}
        for exclusion in self.criteria.exclusions:
            for code in exclusion.codes:
                self.exclusions.setdefault(code, []).append(exclusion)
        self.complementary = {item.code: item for item in self.criteria.complementary}
        # Each formula built once: lint and the witness search ask hundreds of questions about the same rows,
        # and building a z3 term in Python costs more than z3's answer. One cache per Encoded, so per file.
        self._memo: dict[tuple[str, Any], tuple[Any, Any]] = {}
        for node in self.criteria.walk():
            if isinstance(node, ast.Ratio):
                self._mark_positive(node.denominator)

    def _mark_positive(self, node: Any) -> None:
        for sub in node.walk():
            if isinstance(sub, ast.Ref) and sub.target == "fact":
                self.space.positive.add(sub.name)
            elif isinstance(sub, ast.Ref) and sub.target == "definition":
                self._mark_positive(self.definitions[sub.name].body)

    # ---------------------------------------------------------- conditions
    def consistent(self) -> z3.BoolRef:
        """What an incident the file can evaluate meets (engines/derive.py, for a complete incident): each
        derived fact has the value of the first branch that holds."""
        parts = []
        for derivation in self.criteria.derivations:
            info, var = self.space.facts[derivation.fact], self.space.vars[derivation.fact]
            earlier: list[z3.BoolRef] = []
            for branch in derivation.branches:
                condition = self.cond(branch.condition)
                value = (var == (branch.value == "yes")) if info.kind == BOOL \
                    else self.space.is_value(derivation.fact, branch.value)
                parts.append(z3.Implies(z3.And(*earlier, condition), value))
                earlier.append(z3.Not(condition))
        # Conflicts are left out: z3's incidents are complete (every fact given), while a conflict reads only
        # the facts an incident gives, so "no error involved" with an imaging cause is refused only when both
        # are given; as a constraint it would rule out every incident without error (the witness search checks
        # its incidents with the evaluator, which refuses a contradiction).
        return z3.And(*parts)

    def _once(self, what: str, key: Any, build: Callable[[], Any]) -> Any:
        """`build()`, memoised for this file under (what, key): a code by its text, a node by its id (the
        node kept alive with the value, so that no other node can come to have its id)."""
        slot = (what, key if key is None or isinstance(key, str) else id(key))
        found = self._memo.get(slot)
        if found is None:
            found = self._memo[slot] = (key, build())
        return found[1]

    def cond(self, node: Any) -> z3.BoolRef:
        return self._once("cond", node, lambda: CONDITIONS[type(node)](self, node))

    def c_compare(self, node: ast.Compare) -> z3.BoolRef:
        values = [self.num(op) for op in node.operands]
        return z3.And(*[_compare(op, values[i], values[i + 1]) for i, op in enumerate(node.ops)])

    def c_is(self, node: ast.IsValue) -> z3.BoolRef:
        test = z3.Or(*[self.space.is_value(node.fact, v) for v in node.values])
        return z3.Not(test) if node.negated else test

    def c_includes(self, node: ast.Includes) -> z3.BoolRef:
        members = self.space.vars[node.fact]
        return z3.Or(*[members[v] for v in node.values])

    def c_tolerance(self, node: ast.Tolerance) -> z3.BoolRef:
        value, reference = self.num(node.value), self.num(node.reference)
        low = Num(_times(reference.num, 1 - node.fraction), reference.den)
        high = Num(_times(reference.num, 1 + node.fraction), reference.den)
        outside = z3.Or(_compare("<", value, low), _compare(">", value, high))
        return outside if node.outside else z3.Not(outside)

    def c_criteria_of(self, node: ast.CriteriaOf) -> z3.BoolRef:
        return z3.Or(*[self.cond(row.when) for row in self.rows_by_code.get(node.code, ()) if row.when])

    def c_constant(self, node: ast.Constant) -> z3.BoolRef:
        return z3.BoolVal(node.value)

    def c_not(self, node: ast.Not) -> z3.BoolRef:
        return z3.Not(self.cond(node.operand))

    def c_and(self, node: ast.And) -> z3.BoolRef:
        return z3.And(*[self.cond(op) for op in node.operands])

    def c_or(self, node: ast.Or) -> z3.BoolRef:
        return z3.Or(*[self.cond(op) for op in node.operands])

    def c_ref(self, node: ast.Ref) -> z3.BoolRef:
        if node.target == "definition":
            return self.cond(self.definitions[node.name].body)
        return self.space.vars[node.name]

    def c_case(self, node: ast.Case) -> z3.BoolRef:
        result = self.cond(node.otherwise)
        for branch in reversed(node.branches):
            result = z3.If(self.cond(branch.condition), self.cond(branch.value), result)
        return result

    # ------------------------------------------------------------- numbers
    def num(self, node: Any) -> Num:
        if isinstance(node, (ast.Number, ast.Percent)):
            return Num(rational(node.value))
        if isinstance(node, ast.Scale):
            inner = self.num(node.operand)
            return Num(_times(inner.num, node.value), inner.den)
        if isinstance(node, ast.Ratio):
            a, b = self.num(node.numerator), self.num(node.denominator)
            return Num(_mul(a.num, b.den), _mul(a.den, b.num))
        if isinstance(node, ast.Ref) and node.target == "definition":
            return self.num(self.definitions[node.name].body)
        if isinstance(node, ast.Ref):
            return Num(self.space.vars[node.name])
        if isinstance(node, ast.Case):
            cases = [(self.cond(b.condition), self.num(b.value)) for b in node.branches]
            otherwise = self.num(node.otherwise)
            if any(n.den is not None for _, n in cases) or otherwise.den is not None:
                raise NotImplementedError("a case of ratios")
            result = otherwise.num
            for condition, value in reversed(cases):
                result = z3.If(condition, value.num, result)
            return Num(result)
        raise NotImplementedError(type(node).__name__)

    # ----------------------------------------------------------- the rows
    def scope(self, row: ast.Row) -> z3.BoolRef:
        return self._once("scope", row, lambda: self._scope(row))

    def _scope(self, row: ast.Row) -> z3.BoolRef:
        parts = []
        if row.exposure:
            parts.append(z3.Or(*[self.space.is_value("exposure", v) for v in row.exposure]))
        if row.modalities:
            members = self.space.vars["modality"]
            parts.append(z3.Or(*[members[v] for v in row.modalities]))
        if row.jurisdictions:
            parts.append(z3.Or(*[self.space.is_value("jurisdiction", v) for v in row.jurisdictions]))
        return z3.And(*parts)

    def excluded(self, code: str) -> z3.BoolRef:
        return self._once("excluded", code, lambda: self._excluded(code))

    def _excluded(self, code: str) -> z3.BoolRef:
        return z3.Or(*[self.cond(e.when) for e in self.exclusions.get(code, ())])

    def row_met(self, row: ast.Row) -> z3.BoolRef:
        return self._once("row_met", row, lambda: self._row_met(row))

    def _row_met(self, row: ast.Row) -> z3.BoolRef:
        parts = [self.scope(row)]
        if row.band is not None:
            parts.append(self.cond(row.band))
        parts.append(self.cond(row.when) if row.when is not None else z3.BoolVal(False))
        if row.unless is not None:
            parts.append(z3.Not(self.cond(row.unless)))
        parts.append(z3.Not(self.excluded(row.code)))
        return z3.And(*parts)

    def in_category(self, code: str) -> z3.BoolRef:
        return self._once("in_category", code, lambda: self._in_category(code))

    def _in_category(self, code: str) -> z3.BoolRef:
        return z3.Or(*[z3.And(self.scope(r), self.cond(r.band) if r.band is not None else z3.BoolVal(True))
                       for r in self.rows_by_code.get(code, [])])

    def code_met(self, code: str) -> z3.BoolRef:
        """A notification code (`2.2`) or a complementary letter (`M`) is met."""
        return self._once("code_met", code, lambda: self._code_met(code))

    def _code_met(self, code: str) -> z3.BoolRef:
        if code in self.complementary:
            item = self.complementary[code]
            return z3.And(self.cond(item.when), z3.Not(self.excluded(code)))
        rows = self.rows_by_code.get(code)
        if not rows:
            return z3.BoolVal(False)
        return z3.Or(*[self.row_met(row) for row in rows])

    def codes(self) -> list[str]:
        return list(self.rows_by_code) + list(self.complementary)

    # ------------------------------------------------------- boundaries
    def subject(self, node: Any) -> str | None:
        """The first numeric fact a number reads (through definitions): the one a witness moves."""
        for sub in node.walk():
            if isinstance(sub, ast.Ref) and sub.target == "definition":
                found = self.subject(self.definitions[sub.name].body)
                if found is not None:
                    return found
            elif isinstance(sub, ast.Ref) and self.space.facts[sub.name].numeric:
                return sub.name
        return None

    def boundaries(self, node: Any) -> list[tuple[str, Any]]:
        """Where a comparison or a tolerance turns: (the fact to move, a term that is zero exactly there).

        The terms are the comparison multiplied out as `_compare` does (linear),
        so they serve absolute thresholds (`total_dose >= 25 mSv`) and relative
        ones (`multiplication_factor >= 10`, `50% of intended_images`,
        `outside ±20% of prescribed_activity`) alike.
        """
        pairs: list[tuple[Any, Any, Num, Num]] = []
        if isinstance(node, ast.Compare):
            values = [self.num(op) for op in node.operands]
            pairs = [(node.operands[i], node.operands[i + 1], values[i], values[i + 1])
                     for i in range(len(node.ops))]
        elif isinstance(node, ast.Tolerance):
            value, reference = self.num(node.value), self.num(node.reference)
            for factor in (1 - node.fraction, 1 + node.fraction):
                pairs.append((node.value, node.reference, value, Num(_times(reference.num, factor), reference.den)))
        out = []
        for left_node, right_node, left, right in pairs:
            fact = self.subject(left_node) or self.subject(right_node)
            if fact is not None:
                out.append((fact, _mul(left.num, right.den) - _mul(right.num, left.den)))
        return out

    def notifiable(self) -> z3.BoolRef:
        return self._once("notifiable", None, self._notifiable)

    def _notifiable(self) -> z3.BoolRef:
        statutory = [code for code, item in self.complementary.items() if item.role == "statutory"]
        return z3.Or(*[self.code_met(code) for code in list(self.rows_by_code) + statutory])


def _times(term: Any, factor: Fraction) -> Any:
    return term * rational(factor)


def _mul(a: Any, b: Any) -> Any:
    """a * b, where None stands for 1."""
    if a is None:
        return b
    if b is None:
        return a
    return a * b


def _compare(op: str, a: Num, b: Num) -> z3.BoolRef:
    """a op b, with the denominators (positive) multiplied out so the formula stays linear."""
    left, right = _mul(a.num, b.den), _mul(b.num, a.den)
    return COMPARE[op](left, right)


COMPARE: dict[str, Callable[[Any, Any], z3.BoolRef]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b,
}

# Node type -> encoding of a condition: a table, like the evaluator's.
CONDITIONS: dict[type, Callable[[Encoded, Any], z3.BoolRef]] = {
    ast.Compare: Encoded.c_compare, ast.IsValue: Encoded.c_is, ast.Includes: Encoded.c_includes,
    ast.Tolerance: Encoded.c_tolerance, ast.CriteriaOf: Encoded.c_criteria_of, ast.Constant: Encoded.c_constant,
    ast.Not: Encoded.c_not, ast.And: Encoded.c_and, ast.Or: Encoded.c_or, ast.Ref: Encoded.c_ref,
    ast.Case: Encoded.c_case,
}
