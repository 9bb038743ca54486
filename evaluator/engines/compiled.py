"""Stage 4, the compiled engine: the checked AST turned into Python code, once, when criteria load.

The interpreter walks the AST for every incident, writing the reason for every
comparison; this engine decides at close to hand-written speed and explains
nothing (the interpreter stays as the explaining engine, and the two are
tested against each other on hundreds of thousands of incidents). When a
criteria file is compiled:

- every threshold is normalised to an exact integer (or, where the unit makes
  one impossible, a fraction) on one scale per kind of quantity (picosievert
  for effective dose, and so on), and incidents are read onto the same scales,
  so a comparison is one integer comparison: ``3000 uSv`` and ``3 mSv`` are the
  same integer, and 66 Gy is 1.1 times 60 Gy because ``66 * 10 >= 60 * 11``;
- each row becomes a Python function (generated source, compiled with
  ``compile``) that decides it with two-valued logic while every fact it
  touches is known; it gives up, by raising, the moment it touches an unknown
  one, and only that row is then decided by the three-valued engine below;
- rows are dispatched by exposure, modality and jurisdiction: a diagnostic
  incident never runs the radiotherapy rows;
- the three-valued engine (exact intervals, Kleene logic: the rules of
  engines/logic.py) is compiled to closures, and the case split over unknown
  facts takes its facts, values and regions from the plan worked out at load
  time (engines/plan.py). Inside a region, a fact compared only with constants
  is represented by one point of the region, so most cases of a split run the
  generated two-valued code too.

>>> from evaluator import load_criteria
>>> engine = load_criteria("2024").compiled
>>> result = engine.evaluate({"jurisdiction": "England", "exposure": "unintended", "modality": "diagnostic",
...                           "age": 40, "intended_dose": "2 mSv", "total_dose": "20 mSv"})
>>> result.notifiable, result.codes, result.explanation
(True, ['2.2'], [])
>>> engine.scales["effective dose"]  # integers per sievert: 3000 uSv and 3 mSv are both 3 * 10**9
1000000000000
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from fractions import Fraction
from typing import Any, Callable, Mapping

from ..language import ast
from ..language.check import Checked
from ..language.incident import ENVELOPE, IncidentError, IncidentFacts, read_incident
from ..language.operators import COMPARE, PYTHON
from ..language.units import BOOL, DIMENSIONLESS, ENUM, KINDS, SET, resolve_unit
from ..language.values import FactInfo, Measure
from ..result import AdviceInfo, AuthorityInfo, ErrorInfo, Result
from .logic import (B3, INF, INTERVAL_COMPARE, NONE, Interval, Missing, and3, decided, divide, gt, hull, join_truth,
                    missing_if, not3, or3)
from .plan import Plan, Split


class Unknown(Exception):
    """Raised by generated code that meets a value it cannot decide with (a zero denominator)."""


# What a row's generated function returns: (in_scope, band, met), as the interpreter's verdict has them.
SCOPE_OUT = (False, True, False)  # exposure, modality or jurisdiction rule the row out
BAND_OUT = (False, False, False)  # the incident is not in the row's category
NOT_MET = (True, True, False)
MET = (True, True, True)

# What the generated code may call: exact helpers, nothing else.


def _nz(value: Any) -> Any:
    """A denominator: a zero one is left to the three-valued engine (x / 0 is ∞ there, 0 / 0 unknown)."""
    if value == 0:
        raise Unknown
    return value


def _outside(n1: Any, d1: Any, n2: Any, d2: Any, p: int, q: int) -> bool:
    """n1/d1 outside ±p/q of n2/d2, multiplied out (every denominator is positive)."""
    value, low, high = n1 * d2 * q, n2 * (q - p) * d1, n2 * (q + p) * d1
    return value < low or value > high


def _fraction(n: Any, d: Any) -> Any:
    return n if d == 1 else Fraction(n) / d


RUNTIME = {"_nz": _nz, "_outside": _outside, "_fraction": _fraction, "Fraction": Fraction}


# --------------------------------------------------------------------------- scales

def kind_scales(checked: Checked) -> dict[str, int]:
    """One integer scale per kind of quantity: every threshold, and every value written with up to six
    decimals in any accepted unit, is an integer on it."""
    denominators: dict[str, set[int]] = {}
    for name, kind in KINDS.items():
        if kind.dimension:
            denominators[name] = {(resolve_unit(u)[1] / 10**6).denominator for u in kind.units + kind.spellings}
    nodes = [n for root in _roots(checked.criteria) for n in root.walk()]
    nodes += [info.minimum for info in checked.facts.values() if info.minimum is not None]
    for node in nodes:
        if isinstance(node, ast.Number) and node.kind in denominators and node.value is not None:
            denominators[node.kind].add(node.value.denominator)
    scales = {name: math.lcm(*dens) for name, dens in denominators.items()}
    for name in DIMENSIONLESS | {k for k in KINDS if k not in scales}:
        scales[name] = 1
    return scales


def _roots(criteria: ast.Criteria) -> list[ast.Node]:
    roots: list[ast.Node] = [d.body for d in criteria.definitions]
    for row in criteria.rows:
        roots += [x for x in (row.band, row.when, row.unless) if x is not None]
    roots += [x.when for x in (*criteria.complementary, *criteria.exclusions, *criteria.advice) if x.when is not None]
    return roots


def scaled(value: Fraction, scale: int) -> int | Fraction:
    """An exact value on a scale: an int when it falls on the scale, else a fraction."""
    value = value * scale
    return value.numerator if value.denominator == 1 else value


# ------------------------------------------------------------------- the fast reader

_QUANTITY = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,15}))? ?([A-Za-zµμ]{1,4})")
_DATE = re.compile(r"(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}")


class Reader:
    """Reads incidents onto the engine's scales.

    The common forms (a named value, a quantity written "22.5 mSv", a whole
    number, a date written 2024-09-02, yes/no) are read here directly. Anything
    else, right or wrong, goes to the vocabulary's own reader
    (language/incident.py), which decides what is valid and says what is wrong,
    so both readers accept exactly the same incidents (tests/test_compiled.py).
    """

    def __init__(self, facts: Mapping[str, FactInfo], scales: Mapping[str, int]):
        self.facts = facts
        self.scales = scales
        self.readers: dict[str, Callable[[Any], Any]] = {}
        for name, info in facts.items():
            reader = self._reader(info)
            if reader is not None:
                self.readers[name] = reader
        self.defaults = {name: self.convert(info, info.default) for name, info in facts.items() if info.has_default}

    def _reader(self, info: FactInfo) -> Callable[[Any], Any] | None:
        kind = info.kind
        if kind == ENUM:
            allowed = frozenset(info.values)
            return lambda raw: raw if type(raw) is str and raw in allowed else _SLOW
        if kind == SET:
            single = {value: frozenset({value}) for value in info.values}

            def read_set(raw: Any) -> Any:
                if type(raw) is str:
                    return single.get(raw, _SLOW)
                if type(raw) is list and raw and all(type(x) is str and x in single for x in raw):
                    return frozenset(raw)
                return _SLOW
            return read_set
        if kind == BOOL:
            return lambda raw: raw if raw is True or raw is False else _SLOW
        if kind == "count":
            low = int(info.minimum or 0)
            return lambda raw: raw if type(raw) is int and low <= raw < 10**9 else _SLOW
        if kind == "date":
            def read_date(raw: Any) -> Any:
                if type(raw) is str and len(raw) == 10 and _DATE.fullmatch(raw):
                    try:
                        return dt.date.fromisoformat(raw)
                    except ValueError:
                        return _SLOW
                return _SLOW
            return read_date
        if kind == "text":
            return lambda raw: raw if type(raw) is str else _SLOW
        if kind in KINDS and KINDS[kind].dimension:
            return self._quantity_reader(info)
        return None  # ratios and anything new: the vocabulary's reader

    def _quantity_reader(self, info: FactInfo) -> Callable[[Any], Any]:
        kind = KINDS[info.kind]
        scale = self.scales[info.kind]
        factors = {spelling: resolve_unit(spelling)[1] * scale for spelling in kind.units + kind.spellings}
        factors = {u: (f.numerator if f.denominator == 1 else f) for u, f in factors.items()}
        bare = factors.get(info.unit) if info.unit else None
        floor = scaled(info.minimum, scale) if info.minimum is not None else 0
        match = _QUANTITY.fullmatch

        def read_quantity(raw: Any) -> Any:
            if type(raw) is str:
                found = match(raw)
                if found is None:
                    return _SLOW
                whole, decimals, unit = found.groups()
                factor = factors.get(unit)
                if factor is None:
                    return _SLOW
                if decimals:
                    value = int(whole + decimals) * factor
                    divisor = 10 ** len(decimals)
                    value = value // divisor if value % divisor == 0 else Fraction(value, divisor)
                else:
                    value = int(whole) * factor
            elif type(raw) is int and bare is not None and 0 <= raw < 10**9:
                value = raw * bare
            else:
                return _SLOW
            return value if value >= floor else _SLOW
        return read_quantity

    def read(self, data: Any) -> tuple[dict[str, Any], Any, list[str]]:
        """(values, id, notes) of an incident; raises IncidentError as the vocabulary's reader does."""
        values: dict[str, Any] = {}
        readers = self.readers
        if type(data) is dict:
            for key, raw in data.items():
                if raw is None:
                    continue
                reader = readers.get(key)
                if reader is None:
                    if (key == "id" and (type(raw) is str or type(raw) is int)) or \
                            (key == "description" and type(raw) is str):
                        continue
                    return self.slow(data)
                value = reader(raw)
                if value is _SLOW:
                    return self.slow(data)
                values[key] = value
            ident = data.get("id")
            return {**self.defaults, **values}, (None if ident is None else str(ident)), []
        return self.slow(data)

    def slow(self, data: Any) -> tuple[dict[str, Any], Any, list[str]]:
        incident = read_incident(data, self.facts)
        values = {name: self.convert(self.facts[name], value) for name, value in incident.values.items()}
        return values, incident.id, list(incident.notes)

    def convert(self, info: FactInfo, value: Any) -> Any:
        """A value as the vocabulary's reader gives it -> the engine's representation."""
        if isinstance(value, Measure):
            return scaled(value.value, self.scales.get(info.kind, 1))
        return value


_SLOW = object()  # a reader's answer for "not a common form: ask the vocabulary's reader"


# ----------------------------------------------------------- generated two-valued code

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

    # booleans
    def cond(self, node: Any) -> str:
        return BOOL_GEN[type(node)](self, node)

    def g_ref(self, node: ast.Ref) -> str:
        if node.target == "definition":
            return self.cond(self.checked.definitions[node.name].body)
        return f"v[{node.name!r}]"

    def g_compare(self, node: ast.Compare) -> str:
        nums = [self.num(op) for op in node.operands]
        tests = [f"{_mul(a[0], b[1])} {PYTHON[op]} {_mul(b[0], a[1])}"
                 for op, a, b in zip(node.ops, nums, nums[1:])]
        return "(" + " and ".join(tests) + ")"

    def g_is(self, node: ast.IsValue) -> str:
        values = self.const(frozenset(node.values))
        return f"(v[{node.fact!r}] {'not in' if node.negated else 'in'} {values})"

    def g_includes(self, node: ast.Includes) -> str:
        return f"(not v[{node.fact!r}].isdisjoint({self.const(frozenset(node.values))}))"

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
        return f"v[{node.name!r}]", "1"

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


# -------------------------------------------------- the three-valued engine, as closures

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


# ------------------------------------------------------------------------ the engine

SCOPES = (("exposure", "exposure", False), ("modalities", "modality", True), ("jurisdictions", "jurisdiction", False))


class Verdict:
    """One row or complementary code for one incident: (in_scope, band, met) and what would decide it."""

    __slots__ = ("in_scope", "band", "met", "missing")

    def __init__(self, in_scope: B3, band: B3, met: B3, missing: Missing = NONE):
        self.in_scope, self.band, self.met, self.missing = in_scope, band, met, missing


class CompiledRow:
    """A row: its generated two-valued function and its three-valued verdict."""

    def __init__(self, index: int, row: ast.Row, fast: Callable, closures: Closures,
                 exclusions: list[ast.Exclusion]):
        self.index, self.row, self.code, self.fast = index, row, row.code, fast
        self.scopes = [(fact, frozenset(getattr(row, clause)), any_of)
                       for clause, fact, any_of in SCOPES if getattr(row, clause)]
        self.band = closures.truth(row.band) if row.band is not None else None
        self.when = closures.when(row)
        self.unless = closures.truth(row.unless) if row.unless is not None else None
        self.exclusions = [closures.truth(e.when) for e in exclusions]

    def in_scope(self, exposure: Any, modality: Any, jurisdiction: Any) -> bool:
        """False when the scope facts rule the row out (dispatch)."""
        given = {"exposure": exposure, "modality": modality, "jurisdiction": jurisdiction}
        for fact, allowed, any_of in self.scopes:
            value = given[fact]
            if (allowed.isdisjoint(value) if any_of else value not in allowed):
                return False
        return True

    def verdict(self, env: Env2) -> Verdict:
        """The three-valued verdict, exactly as the interpreter's row_verdict."""
        parts: list[tuple[B3, Missing]] = []
        for fact, allowed, any_of in self.scopes:
            value = env.values.get(fact)
            if value is None:
                parts.append((None, frozenset({fact})))
            else:
                parts.append(((not allowed.isdisjoint(value)) if any_of else value in allowed, NONE))
        scope = and3(r for r, _ in parts)
        scope_missing = missing_if(scope, (m for r, m in parts if r is None))
        band, band_missing = self.band(env) if self.band is not None and scope is not False else (True, NONE)
        in_scope = and3([scope, band])
        when, when_missing = self.when(env) if in_scope is not False else (None, NONE)
        unless, unless_missing = (self.unless(env) if self.unless is not None and in_scope is not False
                                  else (False, NONE))
        excluded, excluded_missing = excluded_by(self.exclusions, env) if in_scope is not False else (False, NONE)
        met = and3([in_scope, when, not3(unless), not3(excluded)])
        missing = missing_if(met, (m for v, m in ((scope, scope_missing), (band, band_missing), (when, when_missing),
                                                  (unless, unless_missing), (excluded, excluded_missing))
                                   if v is None))
        return Verdict(in_scope, band, met, missing)

    def met(self, values: dict[str, Any], regions: dict[str, Interval]) -> B3:
        try:
            return self.fast(values)[2]
        except (KeyError, Unknown):
            return self.verdict(Env2(values, regions)).met


def excluded_by(exclusions: list[Truth], env: Env2) -> tuple[B3, Missing]:
    results = [e(env) for e in exclusions]
    value = or3(v for v, _ in results)
    return value, missing_if(value, (m for v, m in results if v is None))


class CompiledComplementary:
    def __init__(self, item: ast.Complementary, fast: Callable, closures: Closures, exclusions: list[ast.Exclusion]):
        self.item, self.code, self.role, self.fast = item, item.code, item.role, fast
        self.when = closures.truth(item.when)
        self.exclusions = [closures.truth(e.when) for e in exclusions]

    def verdict(self, env: Env2) -> Verdict:
        when, missing = self.when(env)
        excluded, excluded_missing = excluded_by(self.exclusions, env)
        met = and3([when, not3(excluded)])
        return Verdict(True, True, met, missing_if(met, [missing if when is None else NONE,
                                                         excluded_missing if excluded is None else NONE]))

    def met(self, values: dict[str, Any], regions: dict[str, Interval]) -> B3:
        try:
            return self.fast(values)
        except (KeyError, Unknown):
            return self.verdict(Env2(values, regions)).met


class CompiledSplit:
    """A split of the plan, on the engine's scales: for each choice, what each case assigns.

    A case assigns a point (a named value, yes/no, a threshold, or any point of a
    region where the fact is compared only with constants), which the generated
    code can use, or else a region, which only the three-valued engine can.
    """

    def __init__(self, split: Split, scales: Mapping[str, int], facts: Mapping[str, FactInfo]):
        self.split = split
        self.cases: dict[str, tuple[tuple[Any, Interval | None], ...]] = {}
        for choice in split.choices:
            scale = scales.get(facts[choice.fact].kind, 1)
            self.cases[choice.fact] = tuple(_assignment(value, scale, choice.direct) for value in choice.values)

    def refine(self, values: dict[str, Any], decide: Callable[[dict[str, Any], dict[str, Interval]], B3]) -> B3:
        """The answer when every case of the split agrees, else None (as the interpreter's refine)."""
        kept = self.split.cases(values)
        if not kept:
            return None
        names = [choice.fact for choice in kept]
        outcome: B3 | object = _NOTHING
        for combination in itertools.product(*(self.cases[name] for name in names)):
            case = dict(values)
            regions: dict[str, Interval] = {}
            for name, (point, region) in zip(names, combination):
                if region is None:
                    case[name] = point
                else:
                    regions[name] = region
            result = decide(case, regions)
            if result is None:
                return None
            if outcome is _NOTHING:
                outcome = result
            elif result != outcome:
                return None
        return outcome  # type: ignore[return-value]


_NOTHING = object()


def _assignment(value: Any, scale: int, direct: bool) -> tuple[Any, Interval | None]:
    if not isinstance(value, Interval):
        return value, None
    lo = value.lo * scale
    hi = value.hi * scale if value.hi != INF else INF
    region = Interval(lo, hi, value.lo_open, value.hi_open)
    if region.known:
        return _plain(lo), None
    if direct:
        # Any point inside stands for the region: it meets every threshold as the region does.
        if region.lo_open:
            inside = (lo + hi) / 2 if hi != INF else lo + 1
        else:
            inside = lo
        return _plain(Fraction(inside)), None
    return None, region


def _plain(value: Fraction) -> int | Fraction:
    return value.numerator if value.denominator == 1 else value


class CompiledEngine:
    """A criteria file compiled to Python: evaluate(dict) -> Result, without explanations."""

    def __init__(self, checked: Checked, facts: Mapping[str, FactInfo] | None = None):
        self.checked = checked
        self.criteria = checked.criteria
        self.facts = facts or checked.facts
        self.version = self.criteria.header.version
        self.plan = Plan(checked)
        self.scales = kind_scales(checked)
        self.reader = Reader(self.facts, self.scales)
        self.source, functions = self._generate()
        closures = Closures(checked, self.scales)
        exclusions = self.plan.exclusions
        self.rows = [CompiledRow(i, row, functions[f"row_{i}"], closures, exclusions.get(row.code, []))
                     for i, row in enumerate(self.criteria.rows)]
        self.comps = [CompiledComplementary(item, functions[f"comp_{j}"], closures, exclusions.get(item.code, []))
                      for j, item in enumerate(self.criteria.complementary)]
        self.statutory = [c for c in self.comps if c.role == "statutory"]
        self.advice = [(advice, functions[f"advice_{k}"], closures.truth(advice.when))
                       for k, advice in enumerate(self.criteria.advice)]
        self.row_splits = [CompiledSplit(self.plan.row(i), self.scales, self.facts) for i in range(len(self.rows))]
        self.code_splits = {code: CompiledSplit(self.plan.code(code), self.scales, self.facts)
                            for code in dict.fromkeys(r.code for r in self.criteria.rows)
                            if sum(r.code == code for r in self.criteria.rows) > 1}
        self.notifiable_split = CompiledSplit(self.plan.notifiable(), self.scales, self.facts)
        self.codes = list(dict.fromkeys(row.code for row in self.criteria.rows))
        self.rows_of_code = {code: [r for r in self.rows if r.code == code] for code in self.codes}
        # The values a result shows, built once: frozen models, shared by every result.
        self.authority_info = {a.jurisdiction: AuthorityInfo(jurisdiction=a.jurisdiction, name=a.name or "",
                                                             contact=a.contact) for a in self.criteria.authorities}
        jurisdictions = list(self.facts["jurisdiction"].values) if "jurisdiction" in self.facts else []
        self.advice_info: list[dict[Any, list[AdviceInfo]]] = []
        for advice in self.criteria.advice:
            infos = [AdviceInfo(name=advice.name, text=text.text, jurisdictions=list(text.jurisdictions),
                                says=[s.text for s in advice.says]) for text in advice.texts]
            by_place: dict[Any, list[AdviceInfo]] = {None: infos}
            for place in jurisdictions:
                by_place[place] = [info for info, text in zip(infos, advice.texts) if place in text.jurisdictions]
            self.advice_info.append(by_place)
        self.deadlines = [(d.name, d.after, dt.timedelta(days=d.days)) for d in self.criteria.deadlines
                          if d.days is not None]
        self._dispatch: dict[tuple, tuple[CompiledRow, ...]] = {}

    # ------------------------------------------------------------- compiling
    def _generate(self) -> tuple[str, dict[str, Callable]]:
        gen = Codegen(self.checked, self.scales)
        lines: list[str] = []
        exclusions = self.plan.exclusions
        for i, row in enumerate(self.criteria.rows):
            lines.append(f"def row_{i}(v):  # row {row.name}")
            for clause, fact, any_of in SCOPES:
                allowed = getattr(row, clause)
                if allowed:
                    test = (f"v[{fact!r}].isdisjoint({gen.const(frozenset(allowed))})" if any_of
                            else f"v[{fact!r}] not in {gen.const(frozenset(allowed))}")
                    lines.append(f"    if {test}: return SCOPE_OUT")
            if row.band is not None:
                lines.append(f"    if not {gen.cond(row.band)}: return BAND_OUT")
            lines.append(f"    if not {gen.cond(row.when)}: return NOT_MET")
            if row.unless is not None:
                lines.append(f"    if {gen.cond(row.unless)}: return NOT_MET")
            for exclusion in exclusions.get(row.code, ()):
                lines.append(f"    if {gen.cond(exclusion.when)}: return NOT_MET  # exclusion {exclusion.name}")
            lines.append("    return MET")
            lines.append("")
        for j, item in enumerate(self.criteria.complementary):
            lines.append(f"def comp_{j}(v):  # complementary {item.code}")
            lines.append(f"    if not {gen.cond(item.when)}: return False")
            for exclusion in exclusions.get(item.code, ()):
                lines.append(f"    if {gen.cond(exclusion.when)}: return False  # exclusion {exclusion.name}")
            lines.append("    return True")
            lines.append("")
        for k, advice in enumerate(self.criteria.advice):
            lines.append(f"def advice_{k}(v):  # advice {advice.name}")
            lines.append(f"    return bool({gen.cond(advice.when)})")
            lines.append("")
        source = "\n".join(lines)
        namespace: dict[str, Any] = {**RUNTIME, **gen.constants, "SCOPE_OUT": SCOPE_OUT, "BAND_OUT": BAND_OUT,
                                     "NOT_MET": NOT_MET, "MET": MET}
        exec(compile(source, f"<compiled {self.version}>", "exec"), namespace)  # our own generated code
        return source, namespace

    # ------------------------------------------------------------ evaluating
    def evaluate(self, incident: Any) -> Result:
        """Evaluate one incident (a dict as in the incident JSON). Bad input gives a Result with `error`."""
        try:
            values, ident, notes = self.reader.read(incident)
        except IncidentError as error:
            ident = incident.get("id") if isinstance(incident, Mapping) else None
            infos = [ErrorInfo(field=p.field, message=p.message, hint=p.hint) for p in error.problems]
            return Result(id=None if ident is None else str(ident), criteria=self.version, error=infos[0],
                          errors=infos)
        return self.decide(values, ident, notes)

    def evaluate_facts(self, incident: IncidentFacts) -> Result:
        """Evaluate an incident already read by the vocabulary's reader."""
        values = {name: self.reader.convert(self.facts[name], value) for name, value in incident.values.items()}
        return self.decide(values, incident.id, list(incident.notes))

    def rows_for(self, values: dict[str, Any]) -> tuple[CompiledRow, ...]:
        """The rows the incident's exposure, modality and jurisdiction do not rule out."""
        key = (values.get("exposure"), values.get("modality"), values.get("jurisdiction"))
        rows = self._dispatch.get(key)
        if rows is None:
            if None in key:
                return tuple(self.rows)
            rows = tuple(r for r in self.rows if r.in_scope(*key))
            if len(self._dispatch) < 4096:
                self._dispatch[key] = rows
        return rows

    def decide(self, values: dict[str, Any], ident: str | None, notes: list[str]) -> Result:
        rows = self.rows_for(values)
        decided_rows: list[tuple[CompiledRow, tuple]] = []
        try:
            for row in rows:
                decided_rows.append((row, row.fast(values)))
            comp_met = [comp.fast(values) for comp in self.comps]
        except (KeyError, Unknown):
            return self.decide_three_valued(values, ident, notes, rows)
        # Every row and code decided by the generated code: no unknowns, no splits.
        codes: list[str] = []
        for row, verdict in decided_rows:
            if verdict[2] and row.code not in codes:
                codes.append(row.code)
        notifiable = bool(codes) or any(met for comp, met in zip(self.comps, comp_met) if comp.role == "statutory")
        all_codes = list(codes)
        letters: list[str] = []
        for comp, met in zip(self.comps, comp_met):
            if met and (comp.role == "statutory" or (comp.role == "tag") == notifiable):
                letters.append(comp.code)
                all_codes += self._prefixed(comp.item, codes, decided_rows, notes)
        return self._result(values, ident, notes, notifiable, all_codes, letters, [], None)

    def decide_three_valued(self, values: dict[str, Any], ident: str | None, notes: list[str],
                            dispatched: tuple[CompiledRow, ...]) -> Result:
        """Some row needs a fact the incident does not give: three-valued logic, and the plan's splits."""
        verdicts: list[Verdict | tuple] = [SCOPE_OUT] * len(self.rows)
        env = Env2(values)
        undecided = False
        for row in dispatched:
            try:
                verdicts[row.index] = row.fast(values)
            except (KeyError, Unknown):
                verdict = row.verdict(env)
                if verdict.met is None:
                    refined = self.row_splits[row.index].refine(values, row.met)
                    if refined is not None:
                        verdict.met, verdict.missing = refined, NONE
                if verdict.in_scope is None and verdict.met is False:
                    verdict.in_scope = True  # scope unknown, but the row cannot fire either way
                verdicts[row.index] = verdict
                undecided = undecided or verdict.met is None
        comp_met: list[B3] = []
        comp_verdicts: list[Verdict | None] = []
        for comp in self.comps:
            try:
                comp_met.append(comp.fast(values))
                comp_verdicts.append(None)
            except (KeyError, Unknown):
                verdict = comp.verdict(env)
                comp_met.append(verdict.met)
                comp_verdicts.append(verdict)
        met_of = [v[2] if type(v) is tuple else v.met for v in verdicts]

        code_met: dict[str, B3] = {}
        for row, met in zip(self.rows, met_of):
            code_met[row.code] = or3([code_met.get(row.code, False), met])
        if undecided:
            for code, met in code_met.items():
                split = self.code_splits.get(code)
                if met is None and split is not None:
                    same = self.rows_of_code[code]
                    refined = split.refine(values, lambda case, regions, same=same:
                                           or3(r.met(case, regions) for r in same))
                    if refined is not None:
                        code_met[code] = refined
        notifiable = or3(list(code_met.values()) + [m for c, m in zip(self.comps, comp_met) if c.role == "statutory"])
        if notifiable is None:
            notifiable = self.notifiable_split.refine(values, self._decide_notifiable)

        codes = [code for code, met in code_met.items() if met is True]
        all_codes = list(codes)
        letters: list[str] = []
        for comp, met in zip(self.comps, comp_met):
            if met is not True:
                continue
            role = comp.role
            if role == "tag" and notifiable is not True or role == "voluntary" and notifiable is not False:
                continue
            letters.append(comp.code)
            all_codes += self._prefixed(comp.item, codes, list(zip(self.rows, verdicts)), notes)

        def row_missing() -> frozenset[str]:
            return frozenset().union(*(v.missing for v in verdicts if type(v) is not tuple and v.met is None))

        if notifiable is True and not codes and not any(
                c.role == "statutory" and m is True for c, m in zip(self.comps, comp_met)):
            open_codes = [code for code, met in code_met.items() if met is None]
            facts = sorted(row_missing())
            notes.append(f"notifiable whatever {' and '.join(facts)} {'is' if len(facts) == 1 else 'are'}, but "
                         f"the code depends on {'it' if len(facts) == 1 else 'them'}: one of "
                         f"{', '.join(open_codes)}")
        missing: list[str] = []
        if notifiable is None:
            found = set(row_missing())
            for verdict in comp_verdicts:
                if verdict is not None and verdict.met is None:
                    found |= verdict.missing
            missing = sorted(found)
        return self._result(values, ident, notes, notifiable, all_codes, letters, missing, env)

    def _result(self, values: dict[str, Any], ident: str | None, notes: list[str], notifiable: B3,
                codes: list[str], letters: list[str], missing: list[str], env: Env2 | None) -> Result:
        notify_by = report_by = None
        if notifiable is not False:
            dates = {}
            for name, after, delta in self.deadlines:
                start = values.get(after)
                if start is not None:
                    dates[name] = start + delta
            notify_by, report_by = dates.get("notify_by"), dates.get("report_by")
            if notifiable is None and dates:
                notes.append("the deadlines apply if the incident turns out to be notifiable")
        jurisdiction = values.get("jurisdiction")
        return Result(id=ident, notifiable=notifiable, codes=codes, complementary=letters, missing=missing,
                      authority=self.authority_info.get(jurisdiction), notify_by=notify_by, report_by=report_by,
                      advice=self._advice(values, env, jurisdiction), criteria=self.version, notes=notes)

    def _decide_notifiable(self, case: dict[str, Any], regions: dict[str, Interval]) -> B3:
        result: B3 = False
        for row in self.rows:
            met = row.met(case, regions)
            if met is True:
                return True
            if met is None:
                result = None
        for comp in self.statutory:
            met = comp.met(case, regions)
            if met is True:
                return True
            if met is None:
                result = None
        return result

    def _prefixed(self, item: ast.Complementary, codes: list[str], verdicts: list[tuple[CompiledRow, Any]],
                  notes: list[str]) -> list[str]:
        """A complementary code with the suffix of the most relevant notification code (as the interpreter)."""
        suffixes = list(codes)
        if not suffixes:
            in_scope = []
            for row, verdict in verdicts:
                in_scope_, band = (verdict[0], verdict[1]) if type(verdict) is tuple else (verdict.in_scope,
                                                                                            verdict.band)
                if in_scope_ is True:
                    in_scope.append((row.row, band))
            banded = list(dict.fromkeys(row.code for row, band in in_scope if row.band is not None and band is True))
            plain = list(dict.fromkeys(row.code for row, band in in_scope if row.band is None))
            candidates = banded or plain
            if len(candidates) == 1:
                suffixes = candidates
            elif candidates:
                notes.append(f"{item.code}: add the notification code of the most relevant exposure category "
                             f"({' or '.join(item.code + c for c in candidates)}); the facts given do not single "
                             f"one out")
                return [item.code]
            else:
                notes.append(f"{item.code}: add the notification code of the most relevant exposure category; "
                             f"the facts given do not show which category the incident is in")
                return [item.code]
        out = []
        for code in suffixes:
            major = int(code.split(".")[0])
            if item.suffix_from is not None and not (item.suffix_from <= major <= item.suffix_to):
                notes.append(f"{item.code}{code}: the {item.code} row allows suffix codes {item.suffix_from} to "
                             f"{item.suffix_to}; {code} is outside that range, but the code is reported rather "
                             f"than dropped (see docs/interpretations.md)")
            out.append(item.code + code)
        return out

    def _advice(self, values: dict[str, Any], env: Env2 | None, jurisdiction: Any) -> list[AdviceInfo]:
        out: list[AdviceInfo] = []
        for index, (advice, fast, slow) in enumerate(self.advice):
            try:
                holds = fast(values)
            except (KeyError, Unknown):
                holds = slow(env or Env2(values))[0]
            if holds is True:
                out += self.advice_info[index][jurisdiction]
        return out
