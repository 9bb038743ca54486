"""Python source for the three-valued side: the interpreter's rules, generated, on the engine's scales.

A row whose two-valued code meets a fact the incident does not give is decided
here. Each condition becomes statements that leave its truth (True, False or
None) and the facts that would decide it in two local variables; each number,
its Interval and those facts. The rules are the interpreter's
(engines/interpreter.py) and engines/logic.py's, written out:

- a fact given is a point; a fact the case split assigns a region to is that
  region (the dict ``r``); a fact not given is every value it can take, from
  its minimum up (a constant of the generated code);
- ``and`` is false as soon as an operand is, ``or`` true as soon as one is;
  otherwise unknown when an operand is, and the facts that would decide it
  are those of the unknown operands;
- a comparison of a fact with a constant is worked out for the unknown fact
  when the code is generated, once.

The generated functions take ``v`` (the known values) and ``r`` (the regions)
and return, for a row, ``(in_scope, band, met, missing)`` as the interpreter's
verdict has them; for a complementary code ``(met, missing)``; for advice its
truth.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Mapping

from ...language import ast
from ...language.check import Checked
from ..logic import INF, INTERVAL_COMPARE, Interval
from ..split import ROW_SCOPES
from .runtime import comment


class Codegen3:
    """Generates the three-valued functions of a checked criteria file."""

    def __init__(self, checked: Checked, scales: Mapping[str, int], constant: Callable[[Any], str]):
        self.checked = checked
        self.scales = scales
        self.const = constant  # a value -> the name of a constant of the generated code
        self.rows_by_code: dict[str, list[ast.Row]] = {}
        for row in checked.rows:
            self.rows_by_code.setdefault(row.code, []).append(row)
        self.count = 0
        self.lines: list[str] = []
        self.depth = 1

    # ---------------------------------------------------------------- output
    def fresh(self) -> int:
        self.count += 1
        return self.count

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def missing_of(self, fact: str) -> str:
        return self.const(frozenset({fact}))

    # ------------------------------------------------------------ functions
    def row(self, index: int, row: ast.Row, exclusions: list[ast.Exclusion]) -> list[str]:
        """def row3_<index>(v, r): the row's verdict, as the interpreter's row_verdict."""
        self.lines, self.depth = [f"def row3_{index}(v, r):  # row {comment(row.name)}"], 1
        parts = []
        for clause, fact, any_of in ROW_SCOPES:
            allowed = getattr(row, clause)
            if not allowed:
                continue
            n = self.fresh()
            self.emit(f"x{n} = v.get({fact!r})")
            test = (f"not x{n}.isdisjoint({self.const(frozenset(allowed))})" if any_of
                    else f"x{n} in {self.const(frozenset(allowed))}")
            self.emit(f"t{n}, m{n} = (None, {self.missing_of(fact)}) if x{n} is None else ({test}, NONE)")
            parts.append(n)
        if parts:
            self.emit(f"scope = and3([{', '.join(f't{n}' for n in parts)}])")
            self.emit(f"scope_m = NONE if scope is not None else frozenset().union("
                      f"{', '.join(f'*((m{n},) if t{n} is None else ())' for n in parts)})")
        else:
            self.emit("scope, scope_m = True, NONE")
        if row.band is not None:
            self.emit("if scope is not False:")
            self.depth += 1
            t, m = self.cond(row.band)
            self.emit(f"band, band_m = {t}, {m}")
            self.depth -= 1
            self.emit("else:")
            self.emit("    band, band_m = True, NONE")
        else:
            self.emit("band, band_m = True, NONE")
        self.emit("in_scope = and3([scope, band])")
        self.emit("if in_scope is not False:")
        self.depth += 1
        t, m = self.cond(row.when)
        self.emit(f"when, when_m = {t}, {m}")
        if row.unless is not None:
            t, m = self.cond(row.unless)
            self.emit(f"unless, unless_m = {t}, {m}")
        else:
            self.emit("unless, unless_m = False, NONE")
        self.excluded(exclusions)
        self.depth -= 1
        self.emit("else:")
        self.emit("    when, when_m, unless, unless_m, excluded, excluded_m = None, NONE, False, NONE, False, NONE")
        self.emit("met = and3([in_scope, when, not3(unless), not3(excluded)])")
        self.emit("missing = NONE if met is not None else frozenset().union(*(m for t, m in ((scope, scope_m), "
                  "(band, band_m), (when, when_m), (unless, unless_m), (excluded, excluded_m)) if t is None))")
        self.emit("return in_scope, band, met, missing")
        return self.lines + [""]

    def complementary(self, index: int, item: ast.Complementary, exclusions: list[ast.Exclusion]) -> list[str]:
        """def comp3_<index>(v, r): (met, missing), as the interpreter's comp_verdict."""
        self.lines, self.depth = [f"def comp3_{index}(v, r):  # complementary {comment(item.code)}"], 1
        t, m = self.cond(item.when)
        self.emit(f"when, when_m = {t}, {m}")
        self.excluded(exclusions)
        self.emit("met = and3([when, not3(excluded)])")
        self.emit("missing = NONE if met is not None else frozenset().union("
                  "when_m if when is None else NONE, excluded_m if excluded is None else NONE)")
        self.emit("return met, missing")
        return self.lines + [""]

    def advice(self, index: int, advice: ast.Advice | ast.Route, what: str = "advice") -> list[str]:
        """def advice3_<index>(v, r) (or route3_<index>): the truth of the `when`, three-valued."""
        self.lines, self.depth = [f"def {what}3_{index}(v, r):  # {what} {comment(advice.name)}"], 1
        t, _ = self.cond(advice.when)
        self.emit(f"return {t}")
        return self.lines + [""]

    def truth(self, name: str, label: str, condition: Any) -> list[str]:
        """def <name>(v, r): a condition's truth (a derivation's branch, a conflict)."""
        self.lines, self.depth = [f"def {name}(v, r):  # {comment(label)}"], 1
        t, _ = self.cond(condition)
        self.emit(f"return {t}")
        return self.lines + [""]

    def excluded(self, exclusions: list[ast.Exclusion]) -> None:
        """excluded, excluded_m: any exclusion of the code holds (or3), and what would decide it."""
        if not exclusions:
            self.emit("excluded, excluded_m = False, NONE")
            return
        names = [self.cond(exclusion.when) for exclusion in exclusions]
        self.emit(f"excluded = or3([{', '.join(t for t, _ in names)}])")
        self.emit(f"excluded_m = NONE if excluded is not None else frozenset().union("
                  f"{', '.join(f'*(({m},) if {t} is None else ())' for t, m in names)})")

    # ------------------------------------------------------------ conditions
    def cond(self, node: Any) -> tuple[str, str]:
        """Statements that compute a condition; the names of its truth and its missing facts."""
        return COND3[type(node)](self, node)

    def c_ref(self, node: ast.Ref) -> tuple[str, str]:
        if node.target == "definition":
            return self.cond(self.checked.definitions[node.name].body)
        n = self.fresh()
        self.emit(f"t{n} = v.get({node.name!r})")
        self.emit(f"m{n} = NONE if t{n} is not None else {self.missing_of(node.name)}")
        return f"t{n}", f"m{n}"

    def c_constant(self, node: ast.Constant) -> tuple[str, str]:
        return ("True" if node.value else "False"), "NONE"

    def c_is(self, node: ast.IsValue) -> tuple[str, str]:
        n = self.fresh()
        self.emit(f"x{n} = v.get({node.fact!r})")
        test = f"(x{n} in {self.const(frozenset(node.values))}) != {node.negated}"
        self.emit(f"t{n}, m{n} = (None, {self.missing_of(node.fact)}) if x{n} is None else ({test}, NONE)")
        return f"t{n}", f"m{n}"

    def c_includes(self, node: ast.Includes) -> tuple[str, str]:
        n = self.fresh()
        self.emit(f"x{n} = v.get({node.fact!r})")
        test = f"not x{n}.isdisjoint({self.const(frozenset(node.values))})"
        self.emit(f"t{n}, m{n} = (None, {self.missing_of(node.fact)}) if x{n} is None else ({test}, NONE)")
        return f"t{n}", f"m{n}"

    def c_not(self, node: ast.Not) -> tuple[str, str]:
        t, m = self.cond(node.operand)
        n = self.fresh()
        self.emit(f"t{n} = None if {t} is None else not {t}")
        return f"t{n}", m

    def _junction(self, node: ast.And | ast.Or, stop: bool) -> tuple[str, str]:
        # Stop at the first operand that decides it (False for and, True for or); else unknown when an
        # operand is, with the facts of the unknown ones.
        n = self.fresh()
        self.emit(f"t{n}, u{n} = {not stop}, []")
        self.emit("for _ in ONCE:")
        self.depth += 1
        for operand in node.operands:
            t, m = self.cond(operand)
            self.emit(f"if {t} is {stop}:")
            self.emit(f"    t{n}, u{n} = {stop}, []")
            self.emit("    break")
            self.emit(f"if {t} is None:")
            self.emit(f"    t{n} = None")
            self.emit(f"    u{n}.append({m})")
        self.depth -= 1
        self.emit(f"m{n} = frozenset().union(*u{n}) if t{n} is None else NONE")
        return f"t{n}", f"m{n}"

    def c_and(self, node: ast.And) -> tuple[str, str]:
        return self._junction(node, False)

    def c_or(self, node: ast.Or) -> tuple[str, str]:
        return self._junction(node, True)

    def c_compare(self, node: ast.Compare) -> tuple[str, str]:
        first = node.operands[0]
        if (len(node.ops) == 1 and isinstance(first, ast.Ref) and first.target == "fact"
                and isinstance(node.operands[1], (ast.Number, ast.Percent))):
            return self._fact_against_constant(first.name, node.ops[0], node.operands[1])
        numbers = [self.num(operand) for operand in node.operands]
        n = self.fresh()
        tests = [f"CMP[{op!r}]({a}, {b})"
                 for op, (a, _), (b, _) in zip(node.ops, numbers, numbers[1:])]
        self.emit(f"t{n} = {tests[0]}" if len(tests) == 1 else f"t{n} = and3([{', '.join(tests)}])")
        self.emit(f"m{n} = NONE if t{n} is not None else frozenset().union({', '.join(m for _, m in numbers)})")
        return f"t{n}", f"m{n}"

    def _fact_against_constant(self, fact: str, op: str, constant: ast.Number | ast.Percent) -> tuple[str, str]:
        """`total_dose >= 3 mSv`: the known value compared exactly; the unknown one worked out here, once."""
        info = self.checked.facts[fact]
        value = _plain(self.scaled(constant))
        bound = Interval(value, value)
        unknown = INTERVAL_COMPARE[op](Interval(_plain(Fraction(info.minimum or 0) * self.scales.get(info.kind, 1)),
                                                INF), bound)
        n = self.fresh()
        self.emit(f"x{n} = v.get({fact!r})")
        self.emit(f"if x{n} is not None:")
        self.emit(f"    t{n}, m{n} = x{n} {_PY[op]} {self.const(value)}, NONE")
        self.emit("else:")
        self.emit(f"    x{n} = r.get({fact!r})")
        self.emit(f"    if x{n} is not None:")
        self.emit(f"        t{n}, m{n} = CMP[{op!r}](x{n}, {self.const(bound)}), NONE")
        self.emit("    else:")
        missing = "NONE" if unknown is not None else self.missing_of(fact)
        self.emit(f"        t{n}, m{n} = {unknown!r}, {missing}")
        return f"t{n}", f"m{n}"

    def c_tolerance(self, node: ast.Tolerance) -> tuple[str, str]:
        (value, m1), (reference, m2) = self.num(node.value), self.num(node.reference)
        low, high = self.const(1 - node.fraction), self.const(1 + node.fraction)
        n = self.fresh()
        self.emit(f"t{n} = or3([GT({reference}.scale({low}), {value}), GT({value}, {reference}.scale({high}))])")
        if not node.outside:
            self.emit(f"t{n} = None if t{n} is None else not t{n}")
        self.emit(f"m{n} = NONE if t{n} is not None else {m1} | {m2}")
        return f"t{n}", f"m{n}"

    def c_criteria_of(self, node: ast.CriteriaOf) -> tuple[str, str]:
        results = [self.cond(row.when) for row in self.rows_by_code.get(node.code, ()) if row.when is not None]
        n = self.fresh()
        if not results:
            return "False", "NONE"
        self.emit(f"t{n} = or3([{', '.join(t for t, _ in results)}])")
        self.emit(f"m{n} = NONE if t{n} is not None else frozenset().union({', '.join(m for _, m in results)})")
        return f"t{n}", f"m{n}"

    def c_case(self, node: ast.Case) -> tuple[str, str]:
        return self._case(node, self.cond, "JOIN_TRUTH")

    def _case(self, node: ast.Case, value_of: Callable[[Any], tuple[str, str]], join: str) -> tuple[str, str]:
        # The first branch whose condition holds; while conditions are unknown, the join of every branch
        # that could apply (as the interpreter's _case).
        n = self.fresh()
        self.emit(f"c{n}, g{n} = [], NONE")
        self.emit("for _ in ONCE:")
        self.depth += 1
        for branch in node.branches:
            t, m = self.cond(branch.condition)
            self.emit(f"if {t} is not False:")
            self.depth += 1
            value, value_m = value_of(branch.value)
            self.emit(f"c{n}.append(({value}, {value_m}))")
            self.emit(f"if {t} is True:")
            self.emit("    break")
            self.emit(f"g{n} = g{n} | {m}")
            self.depth -= 1
        value, value_m = value_of(node.otherwise)
        self.emit(f"c{n}.append(({value}, {value_m}))")
        self.depth -= 1
        self.emit(f"t{n} = {join}([x for x, _ in c{n}])")
        self.emit(f"m{n} = NONE if DECIDED(t{n}) else frozenset().union(*(m for _, m in c{n})) | "
                  f"(g{n} if len(c{n}) > 1 else NONE)")
        return f"t{n}", f"m{n}"

    # --------------------------------------------------------------- numbers
    def num(self, node: Any) -> tuple[str, str]:
        """Statements that compute a number; the names of its Interval and its missing facts."""
        return NUM3[type(node)](self, node)

    def scaled(self, node: ast.Number | ast.Percent) -> Fraction:
        return node.value * self.scales.get(getattr(node, "kind", None) or "number", 1)

    def n_ref(self, node: ast.Ref) -> tuple[str, str]:
        if node.target == "definition":
            return self.num(self.checked.definitions[node.name].body)
        info = self.checked.facts[node.name]
        unknown = Interval(_plain(Fraction(info.minimum or 0) * self.scales.get(info.kind, 1)), INF)
        n = self.fresh()
        self.emit(f"x{n} = v.get({node.name!r})")
        self.emit(f"if x{n} is not None:")
        self.emit(f"    n{n}, m{n} = Interval(x{n}, x{n}), NONE")
        self.emit("else:")
        self.emit(f"    n{n} = r.get({node.name!r})")
        self.emit(f"    m{n} = NONE if n{n} is not None else {self.missing_of(node.name)}")
        self.emit(f"    if n{n} is None:")
        self.emit(f"        n{n} = {self.const(unknown)}")
        return f"n{n}", f"m{n}"

    def n_number(self, node: ast.Number | ast.Percent) -> tuple[str, str]:
        value = _plain(self.scaled(node))  # an int where it is one: comparing ints is much cheaper
        return self.const(Interval(value, value)), "NONE"

    def n_scale(self, node: ast.Scale) -> tuple[str, str]:
        value, missing = self.num(node.operand)
        n = self.fresh()
        self.emit(f"n{n} = {value}.scale({self.const(node.value)})")
        return f"n{n}", missing

    def n_ratio(self, node: ast.Ratio) -> tuple[str, str]:
        (a, m1), (b, m2) = self.num(node.numerator), self.num(node.denominator)
        n = self.fresh()
        self.emit(f"n{n}, m{n} = DIVIDE({a}, {b}), {m1} | {m2}")
        return f"n{n}", f"m{n}"

    def n_case(self, node: ast.Case) -> tuple[str, str]:
        return self._case(node, self.num, "HULL")


def _plain(value: Fraction) -> int | Fraction:
    return value.numerator if value.denominator == 1 else value


_PY = {">=": ">=", "<=": "<=", ">": ">", "<": "<", "=": "==", "!=": "!="}

COND3: dict[type, Callable[[Codegen3, Any], tuple[str, str]]] = {
    ast.Ref: Codegen3.c_ref, ast.Constant: Codegen3.c_constant, ast.IsValue: Codegen3.c_is,
    ast.Includes: Codegen3.c_includes, ast.Not: Codegen3.c_not, ast.And: Codegen3.c_and, ast.Or: Codegen3.c_or,
    ast.Compare: Codegen3.c_compare, ast.Tolerance: Codegen3.c_tolerance, ast.CriteriaOf: Codegen3.c_criteria_of,
    ast.Case: Codegen3.c_case,
}
NUM3: dict[type, Callable[[Codegen3, Any], tuple[str, str]]] = {
    ast.Ref: Codegen3.n_ref, ast.Number: Codegen3.n_number, ast.Percent: Codegen3.n_number,
    ast.Scale: Codegen3.n_scale, ast.Ratio: Codegen3.n_ratio, ast.Case: Codegen3.n_case,
}
