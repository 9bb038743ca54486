"""Stage 4, the Python backend: evaluate incidents against checked criteria.

Logic is three-valued: a condition is true, false, or unknown (``None``) when
it needs a fact the incident does not give. Numbers are exact fractions; an
unknown number is the interval of the values it could take (a count of at
least 1 is [1, ∞)), so ``0 >= 50% of intended_images`` is false even when
``intended_images`` is unknown. Where Kleene logic leaves a criterion unknown,
the evaluator splits on the unknown facts it can enumerate exactly (named
values, yes/no, and numbers cut into exact regions at the thresholds they are
compared with) and decides when every case agrees: an accidental 8 mSv in
England is notifiable whatever the age, because 8 mSv meets both the adult and
the child threshold; an adult's unintended 2.9 mSv is not notifiable whatever
the intended dose, because in every band of the intended dose the criterion
fails.

The evaluator walks the checked AST with tables of rules by node type; units
were resolved by the checker, so nothing here calls pint.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Callable, Sequence

from ..language import ast
from ..language.check import Checked
from ..language.show import show_number, show_quantity, source_text
from ..language.incident import IncidentFacts
from ..language.operators import SYMBOL
from ..result import AdviceInfo, AssumedInfo, AuthorityInfo, CriterionResult, Result, RouteInfo, constructed
from ..language.units import DIMENSIONLESS, KINDS
from ..language.values import Measure
from .logic import (B3, INF, INTERVAL_COMPARE, NONE, YES_NO, Interval, Missing, and3, decided, divide, eq, ge, gt,
                    hull, join_truth, missing_if, not3, or3)
from .plan import Plan, Split, any_met, category_tests, facts_of
from .split import agree
from .assumed import assumed_facts, entry
from .derive import apply as apply_derivations, infos as derive_infos
from .kept import Kept, by_values
from .alternative import INTENDED, TOTAL, Outcome, decide as decide_alternative, uses as dose_uses
from .suffix import fit, suffixed

KEPT = 1024  # the most verdicts `explain` keeps for a row or a code (each holds its reasons)

# The shared semantics (three-valued logic, intervals) and the case-split plan.
_divide, _ge, _gt, _eq = divide, ge, gt, eq
_missing_if, _decided, _join_truth, _hull = missing_if, decided, join_truth, hull


# -------------------------------------------------------------------- evaluation

@dataclass
class Env:
    """The known facts of one incident (or of one case of a split)."""

    values: dict[str, Any]
    memo: dict[str, Any] = field(default_factory=dict)  # definition -> its value, for this incident

    def extended(self, extra: dict[str, Any]) -> "Env":
        return Env({**self.values, **extra})


class Engine:
    """Evaluates expressions of one checked criteria file."""

    def __init__(self, checked: Checked):
        self.checked = checked
        self.facts = checked.facts
        self.definitions = checked.definitions
        self.rows_by_code: dict[str, list[ast.Row]] = {}
        for row in checked.rows:
            self.rows_by_code.setdefault(row.code, []).append(row)

    # ------------------------------------------------------------- booleans
    def truth(self, expr: Any, env: Env, trace: list[str] | None = None) -> tuple[B3, Missing]:
        return BOOL_RULES[type(expr)](self, expr, env, trace)

    def b_compare(self, node: ast.Compare, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        values = [self.number(op, env) for op in node.operands]
        result = and3(INTERVAL_COMPARE[op](values[i][0], values[i + 1][0]) for i, op in enumerate(node.ops))
        if trace is not None:
            parts = [self.describe(node.operands[0], env)]
            for op, operand in zip(node.ops, node.operands[1:]):
                parts += [SYMBOL[op], self.describe(operand, env)]
            trace.append(f"{' '.join(parts)}: {YES_NO[result]}")
        return result, _missing_if(result, (m for _, m in values))

    def b_is(self, node: ast.IsValue, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        value = env.values.get(node.fact)
        result = None if value is None else ((value in node.values) != node.negated)
        if trace is not None:
            test = f"{'is not' if node.negated else 'is'} {'one of ' if node.one_of else ''}{', '.join(node.values)}"
            shown = "unknown" if value is None else value
            trace.append(f"{node.fact} ({shown}) {test}: {YES_NO[result]}")
        return result, (frozenset({node.fact}) if result is None else NONE)

    def b_includes(self, node: ast.Includes, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        value = env.values.get(node.fact)
        result = None if value is None else bool(value & set(node.values))
        if trace is not None:
            shown = "unknown" if value is None else ", ".join(sorted(value))
            trace.append(f"{node.fact} ({shown}) includes {', '.join(node.values)}: {YES_NO[result]}")
        return result, (frozenset({node.fact}) if result is None else NONE)

    def b_tolerance(self, node: ast.Tolerance, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        value, m1 = self.number(node.value, env)
        reference, m2 = self.number(node.reference, env)
        low, high = reference.scale(1 - node.fraction), reference.scale(1 + node.fraction)
        outside = or3([_gt(low, value), _gt(value, high)])
        result = outside if node.outside else not3(outside)
        if trace is not None:
            kind = node.kind or "number"
            unit = self.unit_of(node.value, env)
            bounds = (f"{self.show(low, kind, unit)} to {self.show(high, kind, unit)}"
                      if reference.known else "unknown")
            word = "outside" if node.outside else "within"
            trace.append(f"{self.describe(node.value, env)} {word} ±{node.percent}% of "
                         f"{self.describe(node.reference, env)} ({bounds}): {YES_NO[result]}")
        return result, _missing_if(result, (m1, m2))

    def b_criteria_of(self, node: ast.CriteriaOf, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        results = [self.truth(row.when, env, trace) for row in self.rows_by_code.get(node.code, ()) if row.when]
        result = or3(r for r, _ in results)
        if trace is not None:
            trace.append(f"criteria of {node.code}: {YES_NO[result]}")
        return result, _missing_if(result, (m for _, m in results))

    def b_constant(self, node: ast.Constant, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        if trace is not None:
            trace.append("always" if node.value else "never")
        return node.value, NONE

    def b_not(self, node: ast.Not, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        value, missing = self.truth(node.operand, env, trace)
        return not3(value), missing

    def b_and(self, node: ast.And, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        results = [self.truth(op, env, trace) for op in node.operands]
        result = and3(r for r, _ in results)
        return result, _missing_if(result, (m for r, m in results if r is None))

    def b_or(self, node: ast.Or, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        results = [self.truth(op, env, trace) for op in node.operands]
        result = or3(r for r, _ in results)
        return result, _missing_if(result, (m for r, m in results if r is None))

    def b_ref(self, node: ast.Ref, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        if node.target == "definition":
            inner: list[str] | None = [] if trace is not None else None
            result, missing = self.truth(self.definitions[node.name].body, env, inner)
            if trace is not None:
                trace.extend(inner or [])
                trace.append(f"{node.name}: {YES_NO[result]}")
            return result, missing
        value = env.values.get(node.name)
        if trace is not None:
            trace.append(f"{node.name}: {YES_NO[value]}")
        return value, (frozenset({node.name}) if value is None else NONE)

    def b_case(self, node: ast.Case, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        return self._case(node, env, trace, lambda expr: self.truth(expr, env, trace), _join_truth)

    def _case(self, node: ast.Case, env: Env, trace, evaluate, join):
        # The first branch whose condition holds; while conditions are unknown the
        # result joins every branch that could apply.
        candidates: list[tuple[Any, Missing]] = []
        guard_missing: set[str] = set()
        for branch in node.branches:
            condition, missing = self.truth(branch.condition, env, trace)
            if condition is False:
                continue
            candidates.append(evaluate(branch.value))
            if condition is True:
                break
            guard_missing |= missing
        else:
            candidates.append(evaluate(node.otherwise))
        value = join([v for v, _ in candidates])
        missing = frozenset().union(*(m for _, m in candidates)) | (guard_missing if len(candidates) > 1 else set())
        return value, (frozenset(missing) if not _decided(value) else NONE)

    # -------------------------------------------------------------- numbers
    def number(self, expr: Any, env: Env) -> tuple[Interval, Missing]:
        return NUMBER_RULES[type(expr)](self, expr, env)

    def n_ref(self, node: ast.Ref, env: Env) -> tuple[Interval, Missing]:
        if node.target == "definition":
            if node.name not in env.memo:
                env.memo[node.name] = self.number(self.definitions[node.name].body, env)
            return env.memo[node.name]
        value = env.values.get(node.name)
        if value is None:
            info = self.facts[node.name]
            return Interval(info.minimum or Fraction(0), INF), frozenset({node.name})
        if isinstance(value, Interval):  # a region assumed while splitting an unknown fact
            return value, NONE
        return Interval(value.value, value.value), NONE

    def n_number(self, node: ast.Number | ast.Percent, env: Env) -> tuple[Interval, Missing]:
        return Interval(node.value, node.value), NONE

    def n_scale(self, node: ast.Scale, env: Env) -> tuple[Interval, Missing]:
        value, missing = self.number(node.operand, env)
        return value.scale(node.value), missing

    def n_ratio(self, node: ast.Ratio, env: Env) -> tuple[Interval, Missing]:
        a, m1 = self.number(node.numerator, env)
        b, m2 = self.number(node.denominator, env)
        return _divide(a, b), m1 | m2

    def n_case(self, node: ast.Case, env: Env) -> tuple[Interval, Missing]:
        return self._case(node, env, None, lambda expr: self.number(expr, env), _hull)

    # ---------------------------------------------------------- explanations
    def describe(self, expr: Any, env: Env) -> str:
        """An operand as a person reads it: its name, the value it had, how it was worked out."""
        if isinstance(expr, ast.Ref) and expr.target == "fact":
            value = env.values.get(expr.name)
            return f"{expr.name} {value.text if isinstance(value, Measure) else 'unknown'}"
        if isinstance(expr, ast.Number):
            return f"{expr.text} {expr.unit}" if expr.unit else expr.text
        if isinstance(expr, ast.Percent):
            return f"{expr.text}%"
        value, _ = self.number(expr, env)
        kind = getattr(expr, "kind", None) or "number"
        shown = self.show(value, kind, self.unit_of(expr, env))
        if isinstance(expr, ast.Ref):
            body = self.definitions[expr.name].body
            return f"{expr.name} ({self.describe(body, env)})" if not isinstance(body, ast.Case) else \
                f"{expr.name} {shown}"
        if isinstance(expr, ast.Scale):
            factor = f"{expr.factor}% of" if expr.percent else f"{expr.factor} ×"
            return f"{factor} {self.describe(expr.operand, env)} = {shown}"
        if isinstance(expr, ast.Ratio):
            return f"{self.describe(expr.numerator, env)} / {self.describe(expr.denominator, env)} = {shown}"
        return shown

    def unit_of(self, expr: Any, env: Env) -> str | None:
        if isinstance(expr, ast.Ref) and expr.target == "fact":
            value = env.values.get(expr.name)
            return value.unit if isinstance(value, Measure) else None
        if isinstance(expr, ast.Number):
            return expr.unit
        if isinstance(expr, ast.Scale):
            return self.unit_of(expr.operand, env)
        return None

    @staticmethod
    def show(value: Interval, kind: str, unit: str | None) -> str:
        if not value.known:
            return "unknown"
        if value.lo == INF:
            return "∞"
        if kind in DIMENSIONLESS or kind not in KINDS:
            return show_number(value.lo)
        return show_quantity(value.lo, kind, unit)

    # ------------------------------------------------------------ refinement
    def refine(self, decide: Callable[[Env], B3], env: Env, split: Split) -> B3:
        """Decide by enumerating the unknown facts of the plan's split: the answer when every case agrees."""
        kept = split.cases(env.values)
        if not kept:
            return None
        names = [choice.fact for choice in kept]
        return agree(decide(env.extended(dict(zip(names, combination))))
                     for combination in itertools.product(*(choice.values for choice in kept)))


# Node type -> rule, for conditions and for numbers: tables, not if-chains.
BOOL_RULES: dict[type, Callable[..., tuple[B3, Missing]]] = {
    ast.Compare: Engine.b_compare, ast.IsValue: Engine.b_is, ast.Includes: Engine.b_includes,
    ast.Tolerance: Engine.b_tolerance, ast.CriteriaOf: Engine.b_criteria_of, ast.Constant: Engine.b_constant,
    ast.Not: Engine.b_not, ast.And: Engine.b_and, ast.Or: Engine.b_or, ast.Ref: Engine.b_ref,
    ast.Case: Engine.b_case,
}
NUMBER_RULES: dict[type, Callable[..., tuple[Interval, Missing]]] = {
    ast.Ref: Engine.n_ref, ast.Number: Engine.n_number, ast.Percent: Engine.n_number,
    ast.Scale: Engine.n_scale, ast.Ratio: Engine.n_ratio, ast.Case: Engine.n_case,
}


# ----------------------------------------------------------------- criteria

@dataclass
class Verdict:
    """How one row or complementary code came out for one incident."""

    code: str
    in_scope: B3
    met: B3
    missing: Missing
    reasons: list[str]
    excluded_by: str | None = None
    band: B3 = None


class Evaluator:
    """Evaluates incidents against one checked criteria file."""

    def __init__(self, checked: Checked, source: str | None = None):
        self.checked = checked
        self.criteria = checked.criteria
        self.rows = self.criteria.rows  # made from the tables at each reading of the property: once, here
        self.engine = Engine(checked)
        self.source = source
        self.plan = Plan(checked)
        self.tests = {id(row): category_tests(checked, row) for row in checked.rows}
        self.exclusions = self.plan.exclusions
        self.authorities = {a.jurisdiction: a for a in self.criteria.authorities}
        # What an explanation says about each criterion that does not depend on the
        # incident: worked out once here, not for every incident.
        self.row_texts = [self._static(row, code=row.code, label=row.label, table=row.table,
                                       band=source_text(source, row.band.span) if row.band is not None else None)
                          for row in self.rows]
        self.comp_texts = [self._static(item, code=item.code, role=item.role)
                           for item in self.criteria.complementary]
        # For explanations made without validation (explanation): each criterion's template, every field in the
        # model's order with its static values in place (an explanation copies it and sets the incident's), and
        # the fields validation would count as set (those given).
        self.constructing = [({name: static.get(name) for name in CriterionResult.model_fields},
                              frozenset(static) | {"outcome", "reasons", "missing", "excluded_by"})
                             for static in self.row_texts + self.comp_texts]
        self.assumed = assumed_facts(self.checked.facts)
        derivations, conflicts = derive_infos(self.criteria)
        self.derivations = [(info, [self._truth(b.condition) for b in d.branches])
                            for info, d in zip(derivations, self.criteria.derivations)]
        self.conflicts = [(info, self._truth(c.when)) for info, c in zip(conflicts, self.criteria.conflicts)]
        self.dose_uses = dose_uses(checked)
        codes = [row.code for row in self.rows]
        self.shared_codes = frozenset(code for code in codes if codes.count(code) > 1)
        self._kept = [Kept(KEPT) for _ in self.rows]  # explain's row verdicts
        # A row out of scope is out whatever else the incident says: its verdict reads the scope facts alone,
        # or those and its band's when the band rules it out (_out_of_scope).
        self._kept_out = [Kept(KEPT) for _ in self.rows]
        self._narrow = [(tuple(fact for fact, allowed, _ in _scope_tests(row) if allowed),
                         tuple(sorted(facts_of(checked.reachable([row.band])))) if row.band is not None else None)
                        for row in self.rows]
        self._kept_comps = [Kept(KEPT) for _ in self.criteria.complementary]  # and codes'

    def _truth(self, condition: Any) -> Callable[[dict[str, Any]], B3]:
        return lambda values: self.engine.truth(condition, Env(values), None)[0]

    def prepare(self, incident: IncidentFacts) -> IncidentFacts:
        """The incident with its derived facts, once, as it is read; raises IncidentError on a contradiction.

        >>> from evaluator import load_criteria
        >>> g = load_criteria("2024")
        >>> g.read({"event": "wrong_laterality"}).values["exposure"]
        'unintended'
        """
        if not self.derivations and not self.conflicts:
            return incident
        values, notes = dict(incident.values), list(incident.notes)
        apply_derivations(values, incident.given.__contains__, self.derivations, self.conflicts, notes)
        return replace(incident, values=values, notes=notes)

    def _static(self, node: Any, **fields: Any) -> dict[str, Any]:
        return {
            "category": node.category.text if node.category else None,
            "says": [s.text for s in node.says],
            "rule": source_text(self.source, node.when.span) if node.when is not None else None,
            "interpretations": [i.id for i in node.interpretations],
            **fields,
        }

    # ---------------------------------------------------------------- rows
    def scope(self, row: ast.Row, env: Env, trace: list[str] | None) -> tuple[B3, Missing]:
        parts: list[tuple[B3, Missing]] = []
        for fact, allowed, test in _scope_tests(row):
            if not allowed:
                continue
            value = env.values.get(fact)
            if value is None:
                result: B3 = None
            elif test == "any":
                result = bool(value & set(allowed))
            else:
                result = value in allowed
            if trace is not None:
                shown = "unknown" if value is None else (", ".join(sorted(value)) if isinstance(value, frozenset)
                                                         else value)
                trace.append(f"{fact} ({shown}) is {' or '.join(allowed)}: {YES_NO[result]}")
            parts.append((result, frozenset({fact}) if result is None else NONE))
        result = and3(r for r, _ in parts)
        return result, _missing_if(result, (m for r, m in parts if r is None))

    def excluded(self, code: str, env: Env, trace: list[str] | None) -> tuple[B3, Missing, str | None]:
        results = []
        for exclusion in self.exclusions.get(code, ()):
            value, missing = self.engine.truth(exclusion.when, env, None)
            if trace is not None and value is not False:
                trace.append(f"exclusion {exclusion.name}: {YES_NO[value]}")
            results.append((value, missing, exclusion.name))
        value = or3(v for v, _, _ in results)
        name = next((n for v, _, n in results if v is True), None)
        return value, _missing_if(value, (m for v, m, _ in results if v is None)), name

    def row_verdict(self, row: ast.Row, env: Env, trace: list[str] | None = None) -> Verdict:
        truth = self.engine.truth
        scope, scope_missing = self.scope(row, env, trace)
        band, band_missing = (truth(row.band, env, trace) if row.band is not None and scope is not False
                              else (True, NONE))
        in_scope = and3([scope, band])
        when, when_missing = truth(row.when, env, trace) if in_scope is not False else (None, NONE)
        unless, unless_missing = (truth(row.unless, env, trace) if row.unless is not None and in_scope is not False
                                  else (False, NONE))
        excluded, excluded_missing, excluded_by = (self.excluded(row.code, env, trace) if in_scope is not False
                                                   else (False, NONE, None))
        met = and3([in_scope, when, not3(unless), not3(excluded)])
        if unless is True and excluded_by is None:
            excluded_by = f"row {row.code}: unless {source_text(self.source, row.unless.span) or ''}".strip()
        parts = [(scope, scope_missing), (band, band_missing), (when, when_missing), (unless, unless_missing),
                 (excluded, excluded_missing)]
        missing = _missing_if(met, (m for v, m in parts if v is None))
        return Verdict(code=row.code, in_scope=in_scope, met=met, missing=missing, reasons=trace or [],
                       excluded_by=excluded_by if met is False else None, band=band)

    def comp_verdict(self, item: ast.Complementary, env: Env, trace: list[str] | None = None) -> Verdict:
        when, missing = self.engine.truth(item.when, env, trace)
        excluded, excluded_missing, excluded_by = self.excluded(item.code, env, trace)
        met = and3([when, not3(excluded)])
        return Verdict(code=item.code, in_scope=True, met=met,
                       missing=_missing_if(met, [missing if when is None else NONE,
                                                 excluded_missing if excluded is None else NONE]),
                       reasons=trace or [], excluded_by=excluded_by if met is False else None)

    # ------------------------------------------------------------- incidents
    def evaluate(self, incident: IncidentFacts, assume: bool = True, explain: bool = True) -> Result:
        """The result of an incident; with `assume`, the judgements it does not give that decide it
        (engines/assumed.py): the incident evaluated again with each other value of each."""
        if incident.alternative:
            return self.evaluate_alternative(incident, assume, explain)
        result = self._evaluate(incident, explain=explain)
        if not assume:
            return result
        base = (result.notifiable, result.codes)
        for name, value, others in self.assumed:
            if name in incident.given:
                continue
            for other in others:
                case = IncidentFacts(id=incident.id, description=incident.description,
                                     values={**incident.values, name: other}, given=incident.given | {name})
                outcome = self._evaluate(case, explain=False)
                item = entry(name, value, other, base, (outcome.notifiable, outcome.codes))
                if item is not None:
                    result.assumed.append(AssumedInfo(**item))
        return result

    def evaluate_alternative(self, incident: IncidentFacts, assume: bool, explain: bool) -> Result:
        """Both doses in one alternative quantity: decided from their ratio, region by region of the effective
        intended dose (engines/alternative.py). The explanation is the incident's own, with both doses unknown
        (as they are, as effective doses); the notes give each region's verdict."""
        found = self.dose_uses
        if found.refusal:
            from ..language.incident import IncidentError, Problem
            raise IncidentError([Problem(INTENDED, found.refusal, f"give {INTENDED} and {TOTAL} in mSv")])
        plain = replace(incident, alternative={})

        def region(intended: Fraction, total: Fraction) -> Outcome:
            values = {**incident.values, INTENDED: Measure(intended, "effective dose", unit="mSv"),
                      TOTAL: Measure(total, "effective dose", unit="mSv")}
            result = self.evaluate(replace(plain, values=values, notes=[]), assume=assume, explain=False)
            return Outcome(result.notifiable, tuple(result.codes), tuple(result.complementary), tuple(result.missing),
                           tuple(a.model_dump() for a in result.assumed))

        def compose(outcome: Outcome, notes: list[str]) -> Result:
            result = self._evaluate(replace(plain, notes=notes), explain=explain, decided=outcome)
            result.assumed = [AssumedInfo(**item) for item in outcome.assumed]
            quantity = pair[INTENDED].quantity
            for criterion in result.explanation:
                if criterion.outcome == "undetermined" and {INTENDED, TOTAL} & set(criterion.missing):
                    # Unknown as effective doses, as they are; the verdict comes from the regions.
                    criterion.reasons.append(f"{INTENDED} and {TOTAL} are {quantity}s: the verdict is worked out "
                                             f"for every effective intended dose (the notes give each range)")
            return result

        pair = incident.alternative
        return decide_alternative(found, pair[INTENDED], pair[TOTAL], pair[INTENDED].quantity, region, compose,
                                  list(incident.notes))

    def explain(self, incident: IncidentFacts,
                reads: tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]] | None = None) -> list[CriterionResult]:
        """The explanation of an incident alone: how each criterion came out and why, as `evaluate` gives it
        (Guidance.evaluate takes the rest of the result from the compiled engine, which decides it the same).

        `reads`: by row, and by complementary code, the facts its verdict depends on (the compiled engine's
        RowInfo.reads and ComplementaryInfo.reads, worked out from the code generated from the same rows).
        Given, a row's verdict is kept by their values (a code's likewise), and an
        incident that gives them the same values (every radiotherapy row of a diagnostic incident, the same
        dose and age again) is explained from it; a verdict kept is never changed (those of a code several
        rows share are copied: the code's split adds its reasons to them). `evaluate` keeps nothing: it is
        the reference the compiled engine is tested against."""
        if incident.alternative:
            return self.evaluate(incident, assume=False).explanation
        verdicts, comp_verdicts, _ = self._verdicts(Env(dict(incident.values)), reads)
        return self.explanation(self.rows, verdicts, comp_verdicts, validated=False)

    def _verdicts(self, env: Env, reads: tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]] | None = None
                  ) -> tuple[list[Verdict], list[Verdict], dict[str, B3]]:
        """Every row's verdict (refined by its split), every complementary code's, and whether each code is
        met (refined by the code's split when several rows share it), each with its reasons; with `reads`,
        the row verdicts kept (explain)."""
        rows, comps = self.rows, self.criteria.complementary
        if reads is None:
            verdicts = [self._row(index, row, env) for index, row in enumerate(rows)]
            comp_verdicts = [self.comp_verdict(item, env, []) for item in comps]
        else:
            # Each value as a key once: a Measure's own hash hashes its Fraction, slowly, for every row.
            get = {name: (value.value.numerator, value.value.denominator, value.text, value.unit)
                   if type(value) is Measure else value for name, value in env.values.items()}.get
            row_reads, comp_reads = reads
            verdicts = [self._out_of_scope(index, row, env, get) or
                        by_values(self._kept[index], facts, get, self._row, index, row, env)
                        for index, (row, facts) in enumerate(zip(rows, row_reads))]
            comp_verdicts = [by_values(self._kept_comps[j], facts, get, self.comp_verdict, item, env, [])
                             for j, (item, facts) in enumerate(zip(comps, comp_reads))]

        # Codes shared by several rows (code 1 by jurisdiction) are met when any of their rows is.
        code_met: dict[str, B3] = {}
        for row, verdict in zip(rows, verdicts):
            code_met[row.code] = or3([code_met.get(row.code, False), verdict.met])
        for code, met in code_met.items():
            if met is None:
                same = [r for r in rows if r.code == code]
                if len(same) > 1:
                    refined = self.engine.refine(lambda e, s=same: or3(self.row_verdict(r, e).met for r in s), env,
                                                 self.plan.code(code))
                    if refined is not None:
                        code_met[code] = refined
                        # Each row alone is still undetermined; say why the code is decided.
                        facts = sorted(frozenset().union(*(v.missing for r, v in zip(rows, verdicts)
                                                           if r.code == code)))
                        for k, (row, verdict) in enumerate(zip(rows, verdicts)):
                            if row.code == code:
                                if reads is not None:  # a verdict kept (by_values) is never changed: a copy
                                    verdict = verdicts[k] = replace(verdict, reasons=list(verdict.reasons))
                                verdict.reasons.append(
                                    f"code {code} is {'met' if refined else 'not met'} whichever of its rows "
                                    f"applies: every possible {' and '.join(facts) or 'value'} gives the same answer")
        return verdicts, comp_verdicts, code_met

    def _out_of_scope(self, index: int, row: ast.Row, env: Env, get: Callable[[str], Any]) -> Verdict | None:
        """The verdict of a row the incident's scope facts rule out (kept by their values), or that its band
        rules out (kept by those and the band's facts); None when the row is in scope, or may be.

        Out of scope, a row's verdict reads nothing else: neither its condition nor its exclusions are
        worked out (row_verdict), so its reasons name the scope facts (and the band) alone. Kept by all the
        facts the row reads (by_values), it would be worked out again for every other dose or age: most of
        the verdicts an explanation worked out were of rows out of scope."""
        scope_facts, band_facts = self._narrow[index]
        kept = self._kept_out[index]
        try:
            key = tuple(map(get, scope_facts))
            found = kept.get(key)
            if found is None:
                scope = self.scope(row, env, None)[0]
                found = kept.put(key, self._row(index, row, env) if scope is False else
                                 _BAND if scope is True and band_facts is not None else _IN)
            if found is _BAND:
                key = (_BAND, key, tuple(map(get, band_facts)))
                found = kept.get(key)
                if found is None:
                    band = self.engine.truth(row.band, env, None)[0]
                    found = kept.put(key, self._row(index, row, env) if band is False else _IN)
        except TypeError:  # a value that cannot be a key (the vocabulary's reader gave a list)
            return None
        return None if found is _IN else found

    def _row(self, index: int, row: ast.Row, env: Env) -> Verdict:
        """A row's verdict, refined by its split, with its reasons."""
        verdict = self.row_verdict(row, env, [])
        if verdict.met is None:
            refined = self.engine.refine(lambda e, r=row: self.row_verdict(r, e).met, env, self.plan.row(index))
            if refined is not None:
                verdict.met = refined
                verdict.reasons.append(f"decided whatever the unknown facts ({', '.join(sorted(verdict.missing))})"
                                       f" are: every possible value gives the same answer")
                verdict.missing = NONE
        if verdict.in_scope is None and verdict.met is False:
            verdict.in_scope = True  # scope unknown, but the row cannot fire either way
        return verdict

    def _evaluate(self, incident: IncidentFacts, explain: bool = True, decided: Outcome | None = None) -> Result:
        env = Env(dict(incident.values))
        rows = self.rows
        verdicts, comp_verdicts, code_met = self._verdicts(env)
        statutory = [item for item in self.criteria.complementary if item.role == "statutory"]
        comp_met = {item.code: verdict.met for item, verdict in zip(self.criteria.complementary, comp_verdicts)}
        notifiable = or3(list(code_met.values()) + [comp_met[item.code] for item in statutory])
        if notifiable is None:
            # Any row or statutory code met, whatever the unknown facts (engines/plan.py any_met).
            parts = rows + tuple(statutory)

            def part_met(index: int, names: list[str], assignment: tuple) -> B3:
                case = env.extended(dict(zip(names, assignment)))
                part = parts[index]
                return (self.row_verdict(part, case) if index < len(rows) else self.comp_verdict(part, case)).met
            split = self.plan.notifiable()
            notifiable = any_met(split, env.values, {c.fact: c.values for c in split.choices}, part_met)

        notes = list(incident.notes)
        if decided is not None:
            # Decided region by region (engines/alternative.py): the verdict is that, the rest the incident's own.
            return self._compose(incident, env, decided.notifiable, list(decided.codes), list(decided.complementary),
                                 list(decided.missing), notes, rows, verdicts, comp_verdicts, explain)
        codes = [code for code, met in code_met.items() if met is True]
        all_codes = list(codes)
        letters: list[str] = []
        for item, verdict in zip(self.criteria.complementary, comp_verdicts):
            if verdict.met is not True:
                continue
            emitted = {"statutory": True, "tag": notifiable is True, "voluntary": notifiable is False}[item.role]
            if not emitted:
                continue
            letters.append(item.code)
            all_codes += self.prefixed(item, codes, rows, verdicts, notes, env)

        if notifiable is True and not codes and not any(
                item.role == "statutory" and comp_met[item.code] is True for item in self.criteria.complementary):
            # Notifiable whichever way the unknown facts go, but under a code they decide.
            open_codes = [code for code, met in code_met.items() if met is None]
            facts = sorted(frozenset().union(*(v.missing for v in verdicts if v.met is None)))
            notes.append(f"notifiable whatever {' and '.join(facts)} {'is' if len(facts) == 1 else 'are'}, but "
                         f"the code depends on {'it' if len(facts) == 1 else 'them'}: one of "
                         f"{', '.join(open_codes)}")

        missing: list[str] = []
        if notifiable is None:
            found: set[str] = set()
            for verdict in verdicts + comp_verdicts:
                if verdict.met is None:
                    found |= verdict.missing
            missing = sorted(found)

        return self._compose(incident, env, notifiable, all_codes, letters, missing, notes, rows, verdicts,
                             comp_verdicts, explain)

    def _compose(self, incident: IncidentFacts, env: Env, notifiable: B3, all_codes: list[str], letters: list[str],
                 missing: list[str], notes: list[str], rows: tuple[ast.Row, ...], verdicts: list[Verdict],
                 comp_verdicts: list[Verdict], explain: bool) -> Result:
        jurisdiction = env.values.get("jurisdiction")
        authority = self.authorities.get(jurisdiction) if jurisdiction else None
        return Result(
            id=incident.id,
            notifiable=notifiable,
            codes=all_codes,
            complementary=letters,
            missing=missing,
            authority=AuthorityInfo(jurisdiction=authority.jurisdiction, name=authority.name or "",
                                    contact=authority.contact) if authority else None,
            **self.deadlines(env, notifiable, notes),
            advice=self.advice(env),
            routes=self.routes(env, notifiable),
            criteria=self.criteria.header.version,
            explanation=self.explanation(rows, verdicts, comp_verdicts) if explain else [],
            notes=notes,
        )

    def prefixed(self, item: ast.Complementary, codes: list[str], rows: tuple[ast.Row, ...],
                 verdicts: list[Verdict], notes: list[str], env: Env) -> list[str]:
        """A complementary code with the suffix of the most relevant notification code (engines/suffix.py)."""
        categories = ((row.code, row.band is not None, v.band, fit(self.tests[id(row)], env.values))
                      for row, v in zip(rows, verdicts) if v.in_scope is True)
        return suffixed(item.code, item.suffix_from, item.suffix_to, codes, categories, notes)

    def deadlines(self, env: Env, notifiable: B3, notes: list[str]) -> dict[str, dt.date | None]:
        out: dict[str, dt.date | None] = {"notify_by": None, "report_by": None}
        for deadline in self.criteria.deadlines:
            start = env.values.get(deadline.after)
            if start is None or notifiable is False or deadline.days is None:
                continue
            out[deadline.name] = start + dt.timedelta(days=deadline.days)
        if notifiable is None and any(out.values()):
            notes.append("the deadlines apply if the incident turns out to be notifiable")
        return out

    def advice(self, env: Env) -> list[AdviceInfo]:
        out = []
        jurisdiction = env.values.get("jurisdiction")
        for advice in self.criteria.advice:
            holds, _ = self.engine.truth(advice.when, env, None)
            if holds is not True:
                continue
            for text in advice.texts:
                if jurisdiction is None or jurisdiction in text.jurisdictions:
                    out.append(AdviceInfo(name=advice.name, text=text.text, jurisdictions=list(text.jurisdictions),
                                          says=[s.text for s in advice.says]))
        return out

    def routes(self, env: Env, notifiable: B3) -> list[RouteInfo]:
        """The routes whose condition holds and which name this verdict (or every verdict)."""
        out = []
        jurisdiction = env.values.get("jurisdiction")
        verdict = {True: "notifiable", False: "not notifiable", None: "undetermined"}[notifiable]
        for route in self.criteria.routes:
            if route.verdicts and verdict not in route.verdicts:
                continue
            holds, _ = self.engine.truth(route.when, env, None)
            if holds is not True:
                continue
            for to in route.destination(jurisdiction):
                out.append(RouteInfo(name=route.name, to=to.text, jurisdictions=list(to.jurisdictions), why=route.why,
                                     says=[s.text for s in route.says]))
        return out

    def explanation(self, rows: tuple[ast.Row, ...], verdicts: list[Verdict],
                    comp_verdicts: list[Verdict], validated: bool = True) -> list[CriterionResult]:
        """One CriterionResult a criterion. Validated from a dict (the validator straight: quicker than
        pydantic's model_construct, which inspects the class on every call); or, with `validated=False`
        (explain), made from values that are the model's types by construction, as validation would make
        it (result.constructed: its fields in order, and set as validation sets them; the tests compare the
        two: tests/conftest.py `explained`)."""
        out = []
        if not validated:
            for (template, given), verdict in zip(self.constructing, verdicts + comp_verdicts):
                fields = template.copy()  # a list of the template's is copied: no two results share one
                fields["says"] = list(template["says"])
                fields["outcome"] = _outcome(verdict)
                fields["reasons"] = list(dict.fromkeys(verdict.reasons))
                fields["missing"] = sorted(verdict.missing)
                fields["excluded_by"] = verdict.excluded_by
                fields["interpretations"] = list(template["interpretations"])
                out.append(constructed(CriterionResult, fields, set(given)))
            return out
        validate = CriterionResult.__pydantic_validator__.validate_python
        for static, verdict in zip(self.row_texts + self.comp_texts, verdicts + comp_verdicts):
            out.append(validate({**static, "says": list(static["says"]),
                                 "interpretations": list(static["interpretations"]), "outcome": _outcome(verdict),
                                 "reasons": list(dict.fromkeys(verdict.reasons)), "missing": sorted(verdict.missing),
                                 "excluded_by": verdict.excluded_by}))
        return out


_IN, _BAND = object(), object()  # _out_of_scope's marks: the row may be in scope; its band decides


def _scope_tests(row: ast.Row) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """A row's scope: (fact, the values it allows (none: any), "in" for one value, "any" for a set)."""
    return (("exposure", row.exposure, "in"), ("modality", row.modalities, "any"),
            ("jurisdiction", row.jurisdictions, "in"))


_OUTCOMES = {True: "met", False: "not met", None: "undetermined"}


def _outcome(verdict: Verdict) -> str:
    if verdict.in_scope is False:
        return "out of scope"
    return _OUTCOMES[verdict.met]
