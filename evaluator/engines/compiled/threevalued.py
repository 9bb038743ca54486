"""The three-valued side of the compiled engine: verdicts of rows that need a missing fact, and splits.

Built from the checked AST the first time an incident needs it (a process that
only sees complete incidents never builds it). Each verdict is the
interpreter's (engines/interpreter.py `row_verdict`, `comp_verdict`), over the
closures of closures.py; each split is the plan's (engines/plan.py) on the
engine's scales.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any, Callable, Mapping

from ...language import ast
from ...language.check import Checked
from ...language.values import FactInfo
from ..logic import B3, INF, NONE, Interval, Missing, and3, missing_if, not3, or3
from ..plan import ROW_SCOPES, Plan, Split, any_met
from .closures import Closures, Env2, Truth
from .runtime import Unknown

# Row scope clauses: (the row's clause, the fact it restricts, whether the fact holds several values).
SCOPES = ROW_SCOPES


class Verdict:
    """One row or complementary code for one incident: (in_scope, band, met) and what would decide it."""

    __slots__ = ("in_scope", "band", "met", "missing")

    def __init__(self, in_scope: B3, band: B3, met: B3, missing: Missing = NONE):
        self.in_scope, self.band, self.met, self.missing = in_scope, band, met, missing


def excluded_by(exclusions: list[Truth], env: Env2) -> tuple[B3, Missing]:
    results = [e(env) for e in exclusions]
    value = or3(v for v, _ in results)
    return value, missing_if(value, (m for v, m in results if v is None))


class RowLogic:
    """A row, three-valued: its verdict exactly as the interpreter's row_verdict."""

    def __init__(self, row: ast.Row, fast: Callable, closures: Closures, exclusions: list[ast.Exclusion]):
        self.fast = fast
        self.scopes = [(fact, frozenset(getattr(row, clause)), any_of)
                       for clause, fact, any_of in SCOPES if getattr(row, clause)]
        self.band = closures.truth(row.band) if row.band is not None else None
        self.when = closures.when(row)
        self.unless = closures.truth(row.unless) if row.unless is not None else None
        self.exclusions = [closures.truth(e.when) for e in exclusions]

    def verdict(self, env: Env2) -> Verdict:
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
        """Met in one case of a split: the generated code when it can decide, else three-valued."""
        try:
            return self.fast(values)[2]
        except (KeyError, Unknown):
            return self.verdict(Env2(values, regions)).met


class ComplementaryLogic:
    def __init__(self, item: ast.Complementary, fast: Callable, closures: Closures,
                 exclusions: list[ast.Exclusion]):
        self.fast = fast
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
            result = decide(*self.assign(values, names, combination))
            if result is None:
                return None
            if outcome is _NOTHING:
                outcome = result
            elif result != outcome:
                return None
        return outcome  # type: ignore[return-value]


    @staticmethod
    def assign(values: dict[str, Any], names: list[str], combination: tuple) -> tuple[dict[str, Any],
                                                                                       dict[str, Interval]]:
        """One case: the incident's values with the split's points, and the regions apart."""
        case = dict(values)
        regions: dict[str, Interval] = {}
        for name, (point, region) in zip(names, combination):
            if region is None:
                case[name] = point
            else:
                regions[name] = region
        return case, regions


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


class ThreeValued:
    """Every row, complementary code and advice of a file, three-valued, with the plan's splits."""

    def __init__(self, checked: Checked, facts: Mapping[str, FactInfo], scales: Mapping[str, int],
                 namespace: Mapping[str, Callable]):
        criteria = checked.criteria
        plan = Plan(checked)
        closures = Closures(checked, scales)
        exclusions = plan.exclusions
        self.rows = [RowLogic(row, namespace[f"row_{i}"], closures, exclusions.get(row.code, []))
                     for i, row in enumerate(criteria.rows)]
        self.comps = [ComplementaryLogic(item, namespace[f"comp_{j}"], closures, exclusions.get(item.code, []))
                      for j, item in enumerate(criteria.complementary)]
        self.statutory = [logic for logic, item in zip(self.comps, criteria.complementary)
                          if item.role == "statutory"]
        self.advice = [closures.truth(advice.when) for advice in criteria.advice]
        self.row_splits = [CompiledSplit(plan.row(i), scales, facts) for i in range(len(self.rows))]
        codes = [row.code for row in criteria.rows]
        self.code_splits = {code: CompiledSplit(plan.code(code), scales, facts)
                            for code in dict.fromkeys(codes) if codes.count(code) > 1}
        self.rows_of_code = {code: [logic for logic, c in zip(self.rows, codes) if c == code] for code in codes}
        self.notifiable_split = CompiledSplit(plan.notifiable(), scales, facts)

    def refine_notifiable(self, values: dict[str, Any]) -> B3:
        """Notifiable whatever the unknown facts of the verdict's split are (as the interpreter's refine)."""
        split, logics = self.notifiable_split, (*self.rows, *self.statutory)

        def met(part: int, names: list[str], assignment: tuple) -> B3:
            return logics[part].met(*split.assign(values, names, assignment))
        return any_met(split.split, values, split.cases, met)
