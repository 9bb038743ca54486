"""The case split, worked out once per criteria file: which unknown facts can change which decision.

Where three-valued logic leaves a criterion unknown, the engines split on the
unknown facts they can enumerate exactly (named values, yes/no, and numbers
cut into exact regions at the thresholds they are compared with) and decide
when every case agrees. Which facts, which values and which regions depends
only on the checked AST, so it is computed here, once, when criteria load,
for each row, each code shared by several rows, and the notifiable verdict as
a whole. Per incident, an engine only drops the facts the incident gives and
applies the budget. The interpreter and the compiled engine take their splits
from the same plan, so they enumerate the same cases.

>>> from evaluator import load_criteria
>>> plan = Plan(load_criteria("2024").checked)
>>> [c.fact for c in plan.row(0).choices]  # row 1 (England): what can decide it
['exposure', 'near_miss', 'jurisdiction', 'exposed_person', 'age', 'modality', 'total_dose']
>>> [str(region.lo) for region in plan.row(0).choice("age").values][:3]
['0', '16', '18']
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Iterable

from ..language import ast
from ..language.check import Checked
from ..language.units import BOOL, ENUM, KINDS, SET
from .logic import INF, Interval
from .suffix import CategoryTest
from .split import ROW_SCOPES, SCOPE_FACTS, SPLIT_BUDGET, Choice, Part, Split, any_met  # noqa: F401 - the API

def is_constant(expr: Any) -> bool:
    if isinstance(expr, (ast.Number, ast.Percent)):
        return True
    if isinstance(expr, ast.Scale):
        return is_constant(expr.operand)
    if isinstance(expr, ast.Ratio):
        return is_constant(expr.numerator) and is_constant(expr.denominator)
    return False


def constant_value(expr: Any) -> Fraction:
    if isinstance(expr, (ast.Number, ast.Percent)):
        return expr.value
    if isinstance(expr, ast.Scale):
        return expr.value * constant_value(expr.operand)
    return constant_value(expr.numerator) / constant_value(expr.denominator)


def _is_fact(node: Any, fact: str) -> bool:
    return isinstance(node, ast.Ref) and node.target == "fact" and node.name == fact


def facts_of(nodes: Iterable[ast.Node]) -> set[str]:
    """The facts the nodes read: by name, or tested with `is` and `includes`."""
    found = {n.name for n in nodes if isinstance(n, ast.Ref) and n.target == "fact"}
    return found | {n.fact for n in nodes if isinstance(n, (ast.IsValue, ast.Includes))}


def thresholds(fact: str, nodes: Iterable[ast.Node]) -> set[Fraction]:
    """The constants a numeric fact is compared with directly (`intended_dose < 0.3 mSv`)."""
    found: set[Fraction] = set()
    for node in nodes:
        if isinstance(node, ast.Compare) and any(_is_fact(op, fact) for op in node.operands):
            found |= {constant_value(op) for op in node.operands if is_constant(op)}
    return found


def compared_only_with_constants(fact: str, nodes: list[ast.Node]) -> bool:
    """True when every use of the fact is a comparison with constants: then any value inside one of
    its regions gives every comparison the same answer as the region does."""
    uses = sum(1 for node in nodes if _is_fact(node, fact))
    direct = 0
    for node in nodes:
        if isinstance(node, ast.Compare):
            for op in node.operands:
                if _is_fact(op, fact) and all(is_constant(o) for o in node.operands if o is not op):
                    direct += 1
    return uses == direct


def regions(cuts: list[Fraction], floor: Fraction, integer: bool) -> list[Interval]:
    """The pieces the thresholds cut the fact's range into: each threshold, and the open stretches between.

    Together they cover every value the fact can take, so a case split over them
    is exhaustive; inside each piece every comparison with a threshold has one
    answer, and the other uses of the fact (a ratio, a multiple) are evaluated
    over the piece's interval.

    >>> [(str(r.lo), str(r.hi)) for r in regions([Fraction(3)], Fraction(0), integer=True)]
    [('0', '0'), ('3', '3'), ('1', '2'), ('4', 'inf')]
    """
    edges = [floor] + cuts
    pieces = [Interval(edge, edge) for edge in edges]
    for a, b in zip(edges, edges[1:] + [INF]):
        if integer:
            low, high = math.floor(a) + 1, (math.ceil(b) - 1 if b != INF else INF)
            if high == INF or low <= high:
                pieces.append(Interval(Fraction(low), Fraction(high) if high != INF else INF))
        else:
            pieces.append(Interval(a, b, lo_open=True, hi_open=b != INF))
    return pieces


class Plan:
    """The splits of one checked criteria file: per row, per shared code, and for the verdict."""

    def __init__(self, checked: Checked):
        self.checked = checked
        criteria = checked.criteria
        self.exclusions: dict[str, list[ast.Exclusion]] = {}
        for exclusion in criteria.exclusions:
            for code in exclusion.codes:
                self.exclusions.setdefault(code, []).append(exclusion)
        self.rows = criteria.rows
        # The nodes reached from a list of roots, by the roots' ids: a row's are read by its own split and
        # again by its code's and the verdict's (this plan only: the AST it reads does not change meanwhile).
        self._reached: dict[tuple[int, ...], tuple[list[ast.Node], set[str]]] = {}
        self._rows = [self.split([self.row_part(row)]) for row in self.rows]
        self._codes: dict[str, Split] = {}
        for code in dict.fromkeys(row.code for row in self.rows):
            same = [row for row in self.rows if row.code == code]
            if len(same) > 1:
                self._codes[code] = self.split([self.row_part(row) for row in same])
        statutory = [item for item in criteria.complementary if item.role == "statutory"]
        self._notifiable = self.split([self.row_part(row) for row in self.rows] +
                                      [(self.comp_roots(item), ()) for item in statutory])

    def row(self, index: int) -> Split:
        return self._rows[index]

    def code(self, code: str) -> Split:
        return self._codes[code]

    def notifiable(self) -> Split:
        return self._notifiable

    def row_roots(self, rows: Iterable[ast.Row]) -> list[Any]:
        roots: list[Any] = []
        for row in rows:
            roots += [row.band, row.when, row.unless]
            roots += [e.when for e in self.exclusions.get(row.code, ())]
        return roots

    def comp_roots(self, item: ast.Complementary) -> list[Any]:
        return [item.when] + [e.when for e in self.exclusions.get(item.code, ())]

    def row_part(self, row: ast.Row) -> tuple[list[Any], tuple]:
        scopes = tuple((fact, frozenset(getattr(row, clause)), any_of)
                       for clause, fact, any_of in ROW_SCOPES if getattr(row, clause))
        return self.row_roots([row]), scopes

    def split(self, parts: list[tuple[list[Any], tuple]]) -> Split:
        """The split of a decision made of parts (rows, complementary codes), each (roots, scopes)."""
        nodes, read = self.reached([root for roots, _ in parts for root in roots])
        facts = read | set(SCOPE_FACTS)
        choices = []
        # A numeric fact's choice reads only comparisons and names (thresholds, compared_only_with_constants):
        # passed just those, each fact's look at the nodes is a few dozen items, not every node reached.
        compared = [node for node in nodes if isinstance(node, (ast.Compare, ast.Ref))]
        for fact in sorted(facts):
            choice = self.choice_for(fact, compared)
            if choice is not None:
                choices.append(choice)
        choices.sort(key=lambda c: len(c.values))  # stable: fewest values first, then by name
        shaped = tuple(Part(frozenset(self.reached(roots)[1] | {fact for fact, _, _ in scopes}), scopes)
                       for roots, scopes in parts)
        return Split(tuple(choices), shaped)

    def reached(self, roots: list[Any]) -> tuple[list[ast.Node], set[str]]:
        """The nodes the roots depend on (Checked.reachable) and the facts they read."""
        key = tuple(map(id, roots))
        found = self._reached.get(key)
        if found is None:
            nodes = self.checked.reachable(roots)
            found = self._reached[key] = (nodes, facts_of(nodes))  # a set, read only, as before
        return found

    def choice_for(self, fact: str, nodes: list[ast.Node]) -> Choice | None:
        """The values of an unknown fact that cover every case the nodes can tell apart."""
        info = self.checked.facts[fact]
        if info.kind == BOOL:
            return Choice(fact, (True, False))
        if info.kind == ENUM:
            return Choice(fact, tuple(info.values))
        if info.kind == SET:
            # Scopes use a fact with several values only positively, so one value at a time covers them.
            return Choice(fact, tuple(frozenset({value}) for value in info.values))
        if not info.numeric:
            return None
        cuts = thresholds(fact, nodes)
        if not cuts:
            return None
        floor = info.minimum or Fraction(0)
        pieces = regions(sorted(t for t in cuts if t > floor), floor, integer=KINDS[info.kind].integer)
        return Choice(fact, tuple(pieces), direct=compared_only_with_constants(fact, nodes))


def category_tests(checked: Checked, row: ast.Row) -> tuple[CategoryTest, ...]:
    return tuple(test for _, test in category_conjuncts(checked, row))


def category_conjuncts(checked: Checked, row: ast.Row) -> list[tuple[Any, CategoryTest]]:
    """A row's category tests (engines/suffix.py): the `is`, `includes` and yes/no tests among the `and`s
    of its `when`. A fact whose default is a judgement (`absent assumes`) picks no category.

    >>> from evaluator import load_criteria
    >>> checked = load_criteria("2024").checked
    >>> row = next(r for r in checked.rows if r.code == "4.2c")
    >>> [(t.fact, sorted(map(str, t.values))) for t in category_tests(checked, row)]
    [('imaging_cause', ['hardware_software_failure']), ('theme', ['True'])]

    category_conjuncts gives each test with the conjunct it was read from (the SQL backend compiles those).
    """
    if row.when is None:
        return []
    conjuncts, pending = [], [row.when]
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.And):
            pending[:0] = list(node.operands)
        else:
            conjuncts.append(node)
    tests = []
    for conjunct in conjuncts:
        node, negated = conjunct, False
        if isinstance(node, ast.Not):
            node, negated = node.operand, True
        if isinstance(node, ast.IsValue):
            test = CategoryTest(node.fact, frozenset(node.values), node.negated != negated)
        elif isinstance(node, ast.Includes):
            test = CategoryTest(node.fact, frozenset(node.values), negated, several=True)
        elif isinstance(node, ast.Ref) and node.target == "fact" and checked.facts[node.name].kind == BOOL:
            test = CategoryTest(node.name, frozenset({True}), negated)
        else:
            continue
        if not checked.facts[test.fact].assumed:
            tests.append((conjunct, test))
    return tests
