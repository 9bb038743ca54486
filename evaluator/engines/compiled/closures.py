"""The three-valued engine, compiled to closures: the interpreter's rules over the engine's scales.

A row goes here only when its generated two-valued code meets a fact the
incident does not give. The rules are engines/logic.py's, so a comparison of
intervals means here what it means in the interpreter.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Mapping

from ...language import ast
from ...language.check import Checked
from ...language.operators import COMPARE
from ..logic import (B3, INF, INTERVAL_COMPARE, NONE, Interval, Missing, and3, decided, divide, gt, hull, join_truth,
                     missing_if, not3, or3)


class Env2:
    """An incident (or one case of a split) for the three-valued engine."""

    __slots__ = ("values", "regions", "memo")

    def __init__(self, values: dict[str, Any], regions: dict[str, Interval] | None = None):
        self.values = values
        self.regions = regions or {}
        self.memo: dict[str, Any] = {}


Truth = Callable[[Env2], tuple[B3, Missing]]
Number = Callable[[Env2], tuple[Interval, Missing]]


class Closures:
    """The interpreter's rules (engines/interpreter.py), compiled to closures over the engine's scales."""

    def __init__(self, checked: Checked, scales: Mapping[str, int]):
        self.checked = checked
        self.scales = scales
        self.rows_by_code: dict[str, list[ast.Row]] = {}
        for row in checked.rows:
            self.rows_by_code.setdefault(row.code, []).append(row)
        self._definitions: dict[str, Any] = {}

    def truth(self, node: Any) -> Truth:
        return TRUTH[type(node)](self, node)

    def number(self, node: Any) -> Number:
        return NUMBER[type(node)](self, node)

    def t_compare(self, node: ast.Compare) -> Truth:
        operands = [self.number(op) for op in node.operands]
        tests = [INTERVAL_COMPARE[op] for op in node.ops]
        pairs = list(range(len(tests)))
        if len(tests) == 1 and isinstance(node.operands[0], ast.Ref) and node.operands[0].target == "fact" \
                and isinstance(node.operands[1], (ast.Number, ast.Percent)):
            return self._fact_against_constant(node)
        if len(tests) == 1:
            (left, right), test = operands, tests[0]

            def compare_two(env: Env2) -> tuple[B3, Missing]:
                (a, m1), (b, m2) = left(env), right(env)
                result = test(a, b)
                return result, (NONE if result is not None else m1 | m2)
            return compare_two

        def compare(env: Env2) -> tuple[B3, Missing]:
            values = [f(env) for f in operands]
            result = and3(tests[i](values[i][0], values[i + 1][0]) for i in pairs)
            return result, (NONE if result is not None else frozenset().union(*(m for _, m in values)))
        return compare

    def _fact_against_constant(self, node: ast.Compare) -> Truth:
        """The commonest test, `total_dose >= 3 mSv`, without building intervals for a known value."""
        fact, op = node.operands[0].name, node.ops[0]
        info = self.checked.facts[fact]
        scale = self.scales.get(info.kind, 1)
        constant = node.operands[1].value * self.scales.get(getattr(node.operands[1], "kind", None) or "number", 1)
        constant = constant.numerator if constant.denominator == 1 else constant
        bound = Interval(constant, constant)
        interval_test, exact_test = INTERVAL_COMPARE[op], COMPARE[op]
        unknown = Interval(Fraction(info.minimum or 0) * scale, INF)
        missing = frozenset({fact})

        def compare_fact(env: Env2) -> tuple[B3, Missing]:
            value = env.values.get(fact)
            if value is not None:
                return exact_test(value, constant), NONE
            region = env.regions.get(fact)
            if region is not None:
                return interval_test(region, bound), NONE
            result = interval_test(unknown, bound)
            return result, (NONE if result is not None else missing)
        return compare_fact

    def t_is(self, node: ast.IsValue) -> Truth:
        fact, allowed, negated = node.fact, frozenset(node.values), node.negated
        unknown = (None, frozenset({fact}))

        def is_value(env: Env2) -> tuple[B3, Missing]:
            value = env.values.get(fact)
            return unknown if value is None else ((value in allowed) != negated, NONE)
        return is_value

    def t_includes(self, node: ast.Includes) -> Truth:
        fact, allowed = node.fact, frozenset(node.values)
        unknown = (None, frozenset({fact}))

        def includes(env: Env2) -> tuple[B3, Missing]:
            value = env.values.get(fact)
            return unknown if value is None else (not value.isdisjoint(allowed), NONE)
        return includes

    def t_tolerance(self, node: ast.Tolerance) -> Truth:
        value_of, reference_of = self.number(node.value), self.number(node.reference)
        low_factor, high_factor, outside_ = 1 - node.fraction, 1 + node.fraction, node.outside

        def tolerance(env: Env2) -> tuple[B3, Missing]:
            (value, m1), (reference, m2) = value_of(env), reference_of(env)
            result = or3([gt(reference.scale(low_factor), value), gt(value, reference.scale(high_factor))])
            result = result if outside_ else not3(result)
            return result, missing_if(result, (m1, m2))
        return tolerance

    def t_criteria_of(self, node: ast.CriteriaOf) -> Truth:
        code = node.code

        def criteria_of(env: Env2) -> tuple[B3, Missing]:
            results = [self.when(row)(env) for row in self.rows_by_code.get(code, ()) if row.when is not None]
            result = or3(r for r, _ in results)
            return result, missing_if(result, (m for _, m in results))
        return criteria_of

    def when(self, row: ast.Row) -> Truth:
        # Compiled on first use: `criteria of` may name a row compiled later.
        key = ("when", row.code, row.label)
        if key not in self._definitions:
            self._definitions[key] = self.truth(row.when)
        return self._definitions[key]

    def t_constant(self, node: ast.Constant) -> Truth:
        answer = (node.value, NONE)
        return lambda env: answer

    def t_not(self, node: ast.Not) -> Truth:
        operand = self.truth(node.operand)

        def negate(env: Env2) -> tuple[B3, Missing]:
            value, missing = operand(env)
            return not3(value), missing
        return negate

    def t_and(self, node: ast.And) -> Truth:
        operands = [self.truth(op) for op in node.operands]

        def all_of(env: Env2) -> tuple[B3, Missing]:
            # As and3: false if any operand is, whatever the others; else unknown if any is.
            unknown: list[Missing] = []
            for operand in operands:
                value, missing = operand(env)
                if value is False:
                    return False, NONE
                if value is None:
                    unknown.append(missing)
            return (None, frozenset().union(*unknown)) if unknown else (True, NONE)
        return all_of

    def t_or(self, node: ast.Or) -> Truth:
        operands = [self.truth(op) for op in node.operands]

        def any_of(env: Env2) -> tuple[B3, Missing]:
            unknown: list[Missing] = []
            for operand in operands:
                value, missing = operand(env)
                if value is True:
                    return True, NONE
                if value is None:
                    unknown.append(missing)
            return (None, frozenset().union(*unknown)) if unknown else (False, NONE)
        return any_of

    def t_ref(self, node: ast.Ref) -> Truth:
        if node.target == "definition":
            name = node.name
            key = ("truth", name)

            def definition(env: Env2) -> tuple[B3, Missing]:
                if key not in self._definitions:
                    self._definitions[key] = self.truth(self.checked.definitions[name].body)
                return self._definitions[key](env)
            return definition
        fact = node.name
        unknown = (None, frozenset({fact}))

        def yes_no(env: Env2) -> tuple[B3, Missing]:
            value = env.values.get(fact)
            return unknown if value is None else (value, NONE)
        return yes_no

    def t_case(self, node: ast.Case) -> Truth:
        return self._case(node, self.truth, join_truth)

    def _case(self, node: ast.Case, compile_value: Callable[[Any], Any], join: Callable[[list], Any]):
        branches = [(self.truth(b.condition), compile_value(b.value)) for b in node.branches]
        otherwise = compile_value(node.otherwise)

        def case(env: Env2):
            candidates = []
            guard_missing: set[str] = set()
            for condition_of, value_of in branches:
                condition, missing = condition_of(env)
                if condition is False:
                    continue
                candidates.append(value_of(env))
                if condition is True:
                    break
                guard_missing |= missing
            else:
                candidates.append(otherwise(env))
            value = join([v for v, _ in candidates])
            missing = frozenset().union(*(m for _, m in candidates)) | (
                guard_missing if len(candidates) > 1 else set())
            return value, (frozenset(missing) if not decided(value) else NONE)
        return case

    # numbers
    def n_ref(self, node: ast.Ref) -> Number:
        if node.target == "definition":
            name = node.name
            key = ("number", name)

            def definition(env: Env2) -> tuple[Interval, Missing]:
                if name not in env.memo:
                    if key not in self._definitions:
                        self._definitions[key] = self.number(self.checked.definitions[name].body)
                    env.memo[name] = self._definitions[key](env)
                return env.memo[name]
            return definition
        fact = node.name
        info = self.checked.facts[fact]
        scale = self.scales.get(info.kind, 1)
        unknown = (Interval(Fraction(info.minimum or 0) * scale, INF), frozenset({fact}))

        def quantity(env: Env2) -> tuple[Interval, Missing]:
            region = env.regions.get(fact)
            if region is not None:
                return region, NONE
            value = env.values.get(fact)
            if value is None:
                return unknown
            return Interval(value, value), NONE
        return quantity

    def n_number(self, node: ast.Number | ast.Percent) -> Number:
        value = node.value * self.scales.get(getattr(node, "kind", None) or "number", 1)
        answer = (Interval(value, value), NONE)
        return lambda env: answer

    def n_scale(self, node: ast.Scale) -> Number:
        operand, factor = self.number(node.operand), node.value

        def scale(env: Env2) -> tuple[Interval, Missing]:
            value, missing = operand(env)
            return value.scale(factor), missing
        return scale

    def n_ratio(self, node: ast.Ratio) -> Number:
        numerator, denominator = self.number(node.numerator), self.number(node.denominator)

        def ratio(env: Env2) -> tuple[Interval, Missing]:
            (a, m1), (b, m2) = numerator(env), denominator(env)
            return divide(a, b), m1 | m2
        return ratio

    def n_case(self, node: ast.Case) -> Number:
        return self._case(node, self.number, hull)


TRUTH: dict[type, Callable[[Closures, Any], Truth]] = {
    ast.Compare: Closures.t_compare, ast.IsValue: Closures.t_is, ast.Includes: Closures.t_includes,
    ast.Tolerance: Closures.t_tolerance, ast.CriteriaOf: Closures.t_criteria_of, ast.Constant: Closures.t_constant,
    ast.Not: Closures.t_not, ast.And: Closures.t_and, ast.Or: Closures.t_or, ast.Ref: Closures.t_ref,
    ast.Case: Closures.t_case,
}
NUMBER: dict[type, Callable[[Closures, Any], Number]] = {
    ast.Ref: Closures.n_ref, ast.Number: Closures.n_number, ast.Percent: Closures.n_number,
    ast.Scale: Closures.n_scale, ast.Ratio: Closures.n_ratio, ast.Case: Closures.n_case,
}
