"""The compiled engine: rows, splits, and the composition of a result.

See the package's docstring for the design.
"""

from __future__ import annotations

import datetime as dt
import itertools
from fractions import Fraction
from typing import Any, Callable, Mapping

from ...language import ast
from ...language.check import Checked
from ...language.incident import IncidentFacts
from ...language.values import FactInfo
from ...result import AdviceInfo, AuthorityInfo, Result
from ..logic import B3, INF, NONE, Interval, Missing, and3, missing_if, not3, or3
from ..plan import Plan, Split
from .closures import Closures, Env2, Truth
from .codegen import Codegen
from .reader import Reader
from .scales import RUNTIME, Unknown, kind_scales

# What a row's generated function returns: (in_scope, band, met), as the interpreter's verdict has them.
SCOPE_OUT = (False, True, False)  # exposure, modality or jurisdiction rule the row out
BAND_OUT = (False, False, False)  # the incident is not in the row's category
NOT_MET = (True, True, False)
MET = (True, True, True)

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
        """Evaluate one incident (a dict as in the incident JSON); raises IncidentError when it cannot be read."""
        values, ident, notes = self.reader.read(incident)
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
