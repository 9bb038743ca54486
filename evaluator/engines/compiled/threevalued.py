"""The three-valued side of the compiled engine at run time: verdicts of rows that need a missing fact,
and the case splits.

Everything here comes from the Table (table.py): the generated three-valued
functions (codegen3.py) and the plan's splits as data (engines/split.py). No
AST is needed, so a process that loaded its Table from the cache decides an
incident with missing facts without parsing or checking anything.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any, Callable, Mapping

from ..kept import Kept
from ..logic import B3, INF, NONE, Interval, Missing
from ..split import KeptCases, Split, agree, any_met
from .runtime import Table, Unknown


class Verdict:
    """One row or complementary code for one incident: (in_scope, band, met) and what would decide it."""

    __slots__ = ("in_scope", "band", "met", "missing", "split", "both")

    def __init__(self, in_scope: B3, band: B3, met: B3, missing: Missing = NONE):
        self.in_scope, self.band, self.met, self.missing = in_scope, band, met, missing
        self.split = False  # met was worked out by the row's split, not from the facts alone
        self.both = False  # met is unknown, and the row's split met it in one case and not in another


class RowLogic:
    """A row: its two-valued function, and its three-valued one (the interpreter's row_verdict)."""

    def __init__(self, fast: Callable, slow: Callable):
        self.fast, self.slow = fast, slow

    def verdict(self, values: dict[str, Any], regions: Mapping[str, Interval] = {}) -> Verdict:  # noqa: B006
        return Verdict(*self.slow(values, regions))

    def met(self, values: dict[str, Any], regions: Mapping[str, Interval]) -> B3:
        """Met in one case of a split: the two-valued code when it can decide, else three-valued."""
        try:
            return self.fast(values)[2]
        except (KeyError, Unknown):
            return self.slow(values, regions)[2]


class ComplementaryLogic:
    def __init__(self, fast: Callable, slow: Callable):
        self.fast, self.slow = fast, slow

    def verdict(self, values: dict[str, Any], regions: Mapping[str, Interval] = {}) -> Verdict:  # noqa: B006
        met, missing = self.slow(values, regions)
        return Verdict(True, True, met, missing)

    def met(self, values: dict[str, Any], regions: Mapping[str, Interval]) -> B3:
        try:
            return self.fast(values)
        except (KeyError, Unknown):
            return self.slow(values, regions)[0]


class CompiledSplit:
    """A split of the plan, on the engine's scales: for each choice, what each case assigns.

    A case assigns a point (a named value, yes/no, a threshold, or any point of a
    region where the fact is compared only with constants), which the two-valued
    code can use, or else a region, which only the three-valued code can.
    """

    def __init__(self, split: Split, scales: Mapping[str, int], facts: Mapping[str, Any]):
        self.split = split
        self.kept = KeptCases(split)
        self.cases: dict[str, tuple[tuple[Any, Interval | None], ...]] = {}
        for choice in split.choices:
            scale = scales.get(facts[choice.fact].kind, 1)
            self.cases[choice.fact] = tuple(_assignment(value, scale, choice.direct) for value in choice.values)

    def refine(self, values: dict[str, Any], decide: Callable[[dict[str, Any], dict[str, Interval]], B3],
               differ: Any = None) -> Any:
        """The answer when every case of the split agrees, else None (as the interpreter's refine), or
        `differ` when two cases are decided and differ (split.agree)."""
        kept = self.kept(values)[0]
        if not kept:
            return None
        names = [choice.fact for choice in kept]
        return agree((decide(*self.assign(values, names, combination))
                      for combination in itertools.product(*(self.cases[name] for name in names))), differ)

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
            # An integer when one lies inside (the generated code then compares integers, not fractions).
            inside = math.floor(lo) + 1
            if hi != INF and not (inside < hi if region.hi_open else inside <= hi):
                inside = (Fraction(lo) + hi) / 2  # exact
        else:
            inside = lo
        return _plain(inside), None
    return None, region


def _plain(value: Any) -> Any:
    return value.numerator if getattr(value, "denominator", None) == 1 else value


class ThreeValued:
    """Every row, complementary code and advice of a file, three-valued, with the plan's splits."""

    def __init__(self, table: Table, namespace: Mapping[str, Callable]):
        self.rows = [RowLogic(namespace[f"row_{i}"], namespace[f"row3_{i}"]) for i in range(len(table.rows))]
        self.comps = [ComplementaryLogic(namespace[f"comp_{j}"], namespace[f"comp3_{j}"])
                      for j in range(len(table.comps))]
        self.statutory = [logic for logic, info in zip(self.comps, table.comps) if info.role == "statutory"]
        self.advice = [namespace[f"advice3_{k}"] for k in range(len(table.advice))]
        self.routes = [namespace[f"route3_{k}"] for k in range(len(table.routes))]
        splits = table.splits
        self.row_splits = [CompiledSplit(split, table.scales, table.facts) for split in splits["rows"]]
        self.code_splits = {code: CompiledSplit(split, table.scales, table.facts)
                            for code, split in splits["codes"].items()}
        self.rows_of_code = {code: [logic for logic, info in zip(self.rows, table.rows) if info.code == code]
                             for code in splits["codes"]}
        self.notifiable_split = CompiledSplit(splits["notifiable"], table.scales, table.facts)
        # The verdict's split asks its parts (rows by index, then the statutory codes) whether each is met in
        # one case; a part's answer depends only on the values of the facts it reads, the case's among them,
        # so answers are kept by those (the same cases come back for incidents that leave out the same facts).
        self.parts = (*self.rows, *self.statutory)
        self.part_reads = tuple(info.reads for info in table.rows) + tuple(
            info.reads for info in table.comps if info.role == "statutory")
        self.part_answers = [Kept() for _ in self.parts]

    def refine_notifiable(self, values: dict[str, Any], unmet: frozenset[int] | set[int] = frozenset(),
                          answers: dict | None = None) -> B3:
        """Notifiable whatever the unknown facts of the verdict's split are (as the interpreter's refine).
        `unmet`: the parts (rows by index, then the statutory codes) unmet without a split; `answers`: the
        parts' answers kept for another decision of the incident (split.any_met)."""
        split, logics, reads, kept = self.notifiable_split, self.parts, self.part_reads, self.part_answers
        get = values.get

        def met(part: int, names: list[str], assignment: tuple) -> B3:
            facts = reads[part]
            if not facts:
                return logics[part].met(*split.assign(values, names, assignment))
            # The case's points and regions (the split's own objects) and the incident's values of the facts
            # the part reads; generated code reads nothing else (table.facts_read).
            key = (tuple(names), assignment, tuple(map(get, facts)))
            store = kept[part]
            found = store.get(key, _NOTHING)
            if found is _NOTHING:
                found = store.put(key, logics[part].met(*split.assign(values, names, assignment)))
            return found
        return any_met(split.split, values, split.cases, met, unmet, answers, split.kept)

    def forget(self) -> None:
        for store in self.part_answers:
            store.clear()
        for split in (*self.row_splits, *self.code_splits.values(), self.notifiable_split):
            split.kept.kept.clear()


_NOTHING = object()
