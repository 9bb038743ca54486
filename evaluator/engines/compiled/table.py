"""Compiling a checked criteria file into a Table: generated code and plain data, no AST.

The Table is everything the compiled engine needs to decide the incidents its
generated code can decide. It holds no AST node and no pydantic model, so it
pickles small and loads fast: the cache (evaluator/cache.py) keeps it, and a
new process starts deciding without parsing, checking or the unit registry.

>>> from evaluator import load_criteria
>>> g = load_criteria("2024")
>>> table = build_table(g.checked, g.vocabulary.facts)
>>> table.version, len(table.rows), table.rows[3].code, table.rows[3].banded
('irmer-2024-08-28', 20, '2.2', True)
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

from ...language.check import Checked
from ...language.gcpause import paused
from ..plan import Plan, category_tests
from ...language.units import KINDS, resolve_unit
from ...language.values import FactInfo
from .codegen import Codegen
from .codegen3 import Codegen3
from .runtime import ComplementaryInfo, RouteInfo, RowInfo, Table, comment
from ...language import ast
from .scales import kind_scales
from ..split import ROW_SCOPES as SCOPES
from ..derive import infos as derive_infos
from ..alternative import uses as dose_uses


def judgements_read(lines: list[str]) -> frozenset:
    """The judgement defaults generated code reads (codegen.py, fact: each is read through `_assumed`)."""
    return frozenset(_ASSUMED.findall("\n".join(lines)))


_ASSUMED = re.compile(r"_assumed\(v, '(\w+)'")
# How generated code reads an incident's values `v`: by a fact's name, written out (codegen.py, codegen3.py).
# Every other use of `v` matches the last alternative without a name.
_USES = re.compile(r"_assumed\(v, '(\w+)'|'(\w+)' in v\b|(?<![\w.'])v(?:\['(\w+)'\]|\.get\('(\w+)'[,)])?(?!\w)")


def facts_read(lines: list[str]) -> frozenset | None:
    """The facts generated functions (`lines`, each `def name(v...)`) read from their values, or None when
    they use `v` in another way (pass it on, loop over it): then what they read is not known.

    >>> sorted(facts_read(["def row_0(v):", "    return v['age'] < 3 and ('theme' in v or v.get('x', 1))"]))
    ['age', 'theme', 'x']
    >>> facts_read(["def row_0(v):", "    return helper(v)"]) is None
    True
    """
    found = set()
    for groups in _USES.findall("\n".join(line for line in lines if not line.startswith("def "))):
        name = groups[0] or groups[1] or groups[2] or groups[3]
        if not name:
            return None
        found.add(name)
    return frozenset(found)


@paused
def build_table(checked: Checked, facts: Mapping[str, FactInfo]) -> Table:
    criteria = checked.criteria
    scales = kind_scales(checked)
    gen = Codegen(checked, scales)
    exclusions: dict[str, list] = {}
    for exclusion in criteria.exclusions:
        for code in exclusion.codes:
            exclusions.setdefault(code, []).append(exclusion)
    lines: list[str] = []
    rows = []
    row_lines: list[list[str]] = []
    plan = Plan(checked)
    for i, row in enumerate(criteria.rows):
        start = len(lines)
        lines.append(f"def row_{i}(v):  # row {comment(row.name)}")
        scopes = []
        for clause, fact, any_of in SCOPES:
            allowed = getattr(row, clause)
            if allowed:
                scopes.append((fact, frozenset(allowed), any_of))
                test = (f"v[{fact!r}].isdisjoint({gen.const(frozenset(allowed))})" if any_of
                        else f"v[{fact!r}] not in {gen.const(frozenset(allowed))}")
                lines.append(f"    if {test}: return SCOPE_OUT")
        # After the scope, the tests that decide the row, in order: (a test, what the row is when it holds).
        checks = []
        if row.band is not None:
            checks.append((f"not {gen.cond(row.band)}", "BAND_OUT"))
        checks.append((f"not {gen.cond(row.when)}", "NOT_MET"))
        if row.unless is not None:
            checks.append((gen.cond(row.unless), "NOT_MET"))
        named = [f"exclusion {comment(exclusion.name)}" for exclusion in exclusions.get(row.code, ())]
        checks += [(gen.cond(exclusion.when), "NOT_MET") for exclusion in exclusions.get(row.code, ())]
        lines += _returns(checks, named)
        lines += ["    return MET", ""]
        rows.append(RowInfo(i, row.code, row.label, row.band is not None, tuple(scopes),
                            judgements_read(lines[start:]), category_tests(checked, row), tuple(checks)))
        row_lines.append(lines[start:])
    comps = []
    comp_lines: list[list[str]] = []
    for j, item in enumerate(criteria.complementary):
        start = len(lines)
        lines.append(f"def comp_{j}(v):  # complementary {comment(item.code)}")
        checks = [(f"not {gen.cond(item.when)}", "False")]
        named = [f"exclusion {comment(exclusion.name)}" for exclusion in exclusions.get(item.code, ())]
        checks += [(gen.cond(exclusion.when), "False") for exclusion in exclusions.get(item.code, ())]
        lines += _returns(checks, named)
        lines += ["    return True", ""]
        comps.append(ComplementaryInfo(j, item.code, item.role or "", item.suffix_from, item.suffix_to,
                                       judgements_read(lines[start:]), tuple(checks)))
        comp_lines.append(lines[start:])
    places = list(facts["jurisdiction"].values) if "jurisdiction" in facts else []
    advice = []
    for k, item in enumerate(criteria.advice):
        lines += [f"def advice_{k}(v):  # advice {comment(item.name)}", f"    return bool({gen.cond(item.when)})", ""]
        shown = [{"name": item.name, "text": text.text, "jurisdictions": list(text.jurisdictions),
                  "says": [s.text for s in item.says]} for text in item.texts]
        by_place: dict[Any, tuple[dict[str, Any], ...]] = {None: tuple(shown)}
        for place in places:
            by_place[place] = tuple(s for s, text in zip(shown, item.texts) if place in text.jurisdictions)
        advice.append((item.name, by_place, required(item.when, facts)))
    routes = []
    for k, item in enumerate(criteria.routes):
        always = isinstance(item.when, ast.Constant) and item.when.value is True
        if not always:
            lines += [f"def route_{k}(v):  # route {comment(item.name)}", f"    return bool({gen.cond(item.when)})", ""]
        by_place = {place: tuple(_route_entry(item, to) for to in item.destination(place)) for place in [None, *places]}
        verdicts = tuple(ast.VERDICTS[v] for v in item.verdicts) if item.verdicts else (True, False, None)
        routes.append(RouteInfo(item.name, verdicts, always, by_place, required(item.when, facts)))
    # Every advice's and route's condition at once, as the bits of one integer (advice k: bit k, then route k:
    # bit len(advice) + k), so that a decided incident makes one call for them all (engine.py, _shown). A
    # condition that cannot hold without a fact (`required`) is not tested when the fact is unknown.
    def bit(k: int, when: Any) -> str:
        if isinstance(when, ast.Constant) and when.value is True:
            return str(1 << k)
        guard = "".join(f"{name!r} in v and " for name in sorted(required(when, facts)))
        return f"({1 << k} if {guard}{gen.cond(when)} else 0)"
    bits = [bit(k, item.when) for k, item in enumerate(criteria.advice)]
    bits += [bit(len(criteria.advice) + k, item.when) for k, item in enumerate(criteria.routes)]
    lines += ["def extras(v):  # advice and routes: the conditions that hold, as bits",
              f"    return {' | '.join(bits) or '0'}", ""]
    # The three-valued side: generated too, with the same constants, and the plan's splits as data.
    three = Codegen3(checked, scales, gen.const)
    for i, row in enumerate(criteria.rows):
        generated = three.row(i, row, exclusions.get(row.code, []))
        lines += generated
        # What the row's two functions read, and its split: the three-valued verdict of the row is a function
        # of these facts' values (the engine keeps verdicts by them: CompiledEngine._verdict).
        read = facts_read(row_lines[i] + generated)
        if read is not None:
            split = plan.row(i)
            read |= {choice.fact for choice in split.choices}
            read |= frozenset().union(*(part.facts | {fact for fact, _, _ in part.scopes} for part in split.parts))
            rows[i] = dataclasses.replace(rows[i], reads=tuple(sorted(read)))
    for j, item in enumerate(criteria.complementary):
        generated = three.complementary(j, item, exclusions.get(item.code, []))
        lines += generated
        read = facts_read(comp_lines[j] + generated)
        if read is not None:
            comps[j] = dataclasses.replace(comps[j], reads=tuple(sorted(read)))
    for k, item in enumerate(criteria.advice):
        lines += three.advice(k, item)
    for k, item in enumerate(criteria.routes):
        lines += three.advice(k, item, "route")
    # Derivations and conflicts: applied once when an incident is read, three-valued (engines/derive.py).
    for i, derivation in enumerate(criteria.derivations):
        for j, branch in enumerate(derivation.branches):
            lines += three.truth(f"derive3_{i}_{j}", f"derive {derivation.fact}: {branch.value}", branch.condition)
    for k, conflict in enumerate(criteria.conflicts):
        lines += three.truth(f"conflict3_{k}", f"conflict {conflict.name}", conflict.when)
    derivations, conflicts = derive_infos(criteria)
    codes = [row.code for row in criteria.rows]
    splits = {"rows": [plan.row(i) for i in range(len(criteria.rows))],
              "codes": {code: plan.code(code) for code in dict.fromkeys(codes) if codes.count(code) > 1},
              "notifiable": plan.notifiable()}
    return Table(
        version=criteria.header.version, source="\n".join(lines), constants=gen.constants, scales=scales,
        units={name: {u: resolve_unit(u)[1] for u in kind.units + kind.spellings}
               for name, kind in KINDS.items() if kind.dimension},
        facts=dict(facts), rows=tuple(rows), comps=tuple(comps),
        authorities={a.jurisdiction: {"jurisdiction": a.jurisdiction, "name": a.name or "", "contact": a.contact}
                     for a in criteria.authorities},
        advice=tuple(advice), routes=tuple(routes),
        deadlines=tuple((d.name, d.after, d.days) for d in criteria.deadlines if d.days is not None),
        shared_codes=frozenset(code for code in codes if codes.count(code) > 1), splits=splits,
        derivations=derivations, conflicts=conflicts, alternative=dose_uses(checked))


def _returns(checks: list[tuple[str, str]], named: list[str]) -> list[str]:
    """A function's tests, each returning its verdict when it holds; the last ones named (the exclusions)."""
    names = [""] * (len(checks) - len(named)) + [f"  # {name}" for name in named]
    return [f"    if {test}: return {result}{name}" for (test, result), name in zip(checks, names)]


def required(node: Any, facts: Mapping[str, Any]) -> frozenset[str]:
    """The facts without which a condition cannot hold: when one is unknown (absent, and without a
    default), the condition is unknown or false, never true. Advice and routes are shown only when their
    condition is true, so the engine skips the three-valued side for them when one of these is absent.
    Conservative: a comparison of numbers is left out (an unknown dose is still at least 0 mSv).

    >>> from evaluator import load_criteria
    >>> g = load_criteria("2024")
    >>> advice = {a.name: a for a in g.ast.advice}
    >>> sorted(required(advice["theme_count"].when, g.vocabulary.facts))
    ['theme']
    """
    def unknown_when_absent(name: str) -> bool:
        info = facts.get(name)
        return info is not None and not info.has_default

    if isinstance(node, ast.And):
        return frozenset().union(*(required(operand, facts) for operand in node.operands))
    if isinstance(node, ast.Or):
        return frozenset.intersection(*(required(operand, facts) for operand in node.operands))
    if isinstance(node, ast.Ref) and node.target == "fact":
        return frozenset({node.name}) if unknown_when_absent(node.name) else frozenset()
    if isinstance(node, (ast.IsValue, ast.Includes)):
        return frozenset({node.fact}) if unknown_when_absent(node.fact) else frozenset()
    return frozenset()


def _route_entry(route: ast.Route, to: ast.RouteTo) -> dict[str, Any]:
    """A route as a result shows it (evaluator.result.RouteInfo)."""
    return {"name": route.name, "to": to.text, "jurisdictions": list(to.jurisdictions), "why": route.why,
            "says": [s.text for s in route.says]}
