"""Doses in an alternative quantity: deciding an incident from the ratio of its two doses.

The guidance lets a dose be given in "an alternative recognised unit" where
it is not easily estimated in mSv (language/altunits.py). When an incident
gives both `intended_dose` and `total_dose` in one such quantity (two
dose-area products, say), the ratio r = total / intended is known exactly,
and the effective intended dose E is not; the total effective dose is r × E,
since a conversion to effective dose is one factor for both (the same
examination, the same patient).

The criteria compare the two doses only with constants and with each other
(`uses` checks that, once per file). So the constants c that intended_dose is
compared with, and c / r for each constant c of total_dose, cut the effective
intended doses into regions: each point, the open stretches between, and the
one above the largest. Inside a region every comparison has one truth value,
so the incident is decided once per region, with a value of it (intended_dose
= E, total_dose = r × E), by the engine's own decision (every other unknown
fact handled as usual). When every region gives the same outcome, that is the
incident's; otherwise the incident is undetermined (or notifiable with its
code open) and asks for an effective-dose estimate. The value a region is
decided with is never shown: the notes give each region's range of E and of
r × E.

Every Python engine decides through ``decide`` (the compiled engine and the
interpreter), so they agree by construction; the SQL engines leave such rows
to Python (engines/sql.py). Nothing here imports the language at module
level: the compiled engine loads its Table from the cache without it.

>>> uses = DoseUses(points=(("intended_dose", Fraction(3, 10000)), ("total_dose", Fraction(3, 1000))))
>>> [(str(r.lo), str(r.hi)) for r in regions(uses, Fraction(12))]
[('0', '1/4000'), ('1/4000', '1/4000'), ('1/4000', '3/10000'), ('3/10000', '3/10000'), ('3/10000', 'None')]
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable

INTENDED, TOTAL = "intended_dose", "total_dose"  # language/altunits.py PAIR, in its order
ALTERNATIVE = "\x00alternative"  # the key, in a compiled engine's values, of an incident's pair of doses


@dataclass(frozen=True)
class DoseUses:
    """How a criteria file compares the two doses: the constants each is compared with (in Sv), or why the
    file cannot be decided from a ratio (`refusal`). Plain data: the compiled engine's Table keeps it."""

    points: tuple[tuple[str, Fraction], ...] = ()  # (fact, constant): the region edge is constant / coefficient
    refusal: str | None = None


@dataclass(frozen=True)
class Region:
    """Effective intended doses E (in Sv) from lo to hi (hi None: no upper end); `at` is the value decided with."""

    lo: Fraction
    hi: Fraction | None
    at: Fraction

    @property
    def point(self) -> bool:
        return self.lo == self.hi

    def __str__(self) -> str:
        return f"{self.lo}..{self.hi}"


@dataclass(frozen=True)
class Outcome:
    """What a region decides: compared across regions."""

    notifiable: bool | None
    codes: tuple[str, ...]
    complementary: tuple[str, ...]
    missing: tuple[str, ...]
    assumed: tuple[Any, ...] = ()

    @property
    def verdict(self) -> tuple:
        return self.notifiable, self.codes, self.complementary, self.missing


# ------------------------------------------------------------------ the criteria, once

def uses(checked: Any) -> DoseUses:
    """The constants the two doses are compared with, anywhere in a checked criteria file, or a refusal.

    >>> from evaluator import load_criteria
    >>> found = uses(load_criteria("2024").checked)
    >>> found.refusal, [_number(c * 1000) for f, c in found.points if f == "intended_dose"]  # in mSv
    (None, ['0.3', '2.5', '10'])
    """
    from ..language import ast
    from .plan import constant_value, is_constant

    criteria = checked.criteria
    roots: list[Any] = []
    for row in criteria.rows:
        roots += [row.band, row.when, row.unless]
    roots += [e.when for e in criteria.exclusions] + [c.when for c in criteria.complementary]
    roots += [a.when for a in criteria.advice] + [r.when for r in criteria.routes]
    roots += [b.condition for d in criteria.derivations for b in d.branches] + [c.when for c in criteria.conflicts]
    nodes = checked.reachable(roots)
    accounted: set[int] = set()
    points: set[tuple[str, Fraction]] = set()
    problems: list[str] = []

    def form(expr: Any) -> tuple:
        """("const", c), ("dose", fact, multiplier), ("ratio",): a ratio of the doses, ("other",)."""
        if is_constant(expr):
            return ("const", constant_value(expr))
        if isinstance(expr, ast.Ref):
            if expr.target == "definition":
                return form(checked.definitions[expr.name].body)
            if expr.name in (INTENDED, TOTAL):
                accounted.add(id(expr))
                return ("dose", expr.name, Fraction(1))
            return ("other",)
        if isinstance(expr, ast.Scale):
            inner = form(expr.operand)
            return ("dose", inner[1], inner[2] * expr.value) if inner[0] == "dose" else inner
        if isinstance(expr, ast.Ratio):
            top, bottom = form(expr.numerator), form(expr.denominator)
            if top[0] == "dose" and bottom[0] == "dose":
                return ("ratio",)
            if top[0] == "dose" and bottom[0] == "const" and bottom[1] != 0:
                return ("dose", top[1], top[2] / bottom[1])
            if top[0] == "const" and bottom[0] == "const":
                return ("other",)  # a constant ratio is not a threshold of a dose
            return ("other",) if not ({top[0], bottom[0]} & {"dose", "ratio"}) else ("mixed",)
        return ("other",)

    for node in nodes:
        if isinstance(node, ast.Compare):
            forms = [form(op) for op in node.operands]
            for a, b in zip(forms, forms[1:]):
                pair = {a[0], b[0]}
                if pair == {"dose", "const"}:
                    dose, const = (a, b) if a[0] == "dose" else (b, a)
                    points.add((dose[1], const[1] / dose[2]))
                elif pair & {"dose", "ratio", "mixed"} and pair not in ({"dose"}, {"ratio"}, {"ratio", "const"}):
                    problems.append(_where(node))  # a dose against another fact, or a ratio against a dose
        elif isinstance(node, ast.Tolerance):
            forms = [form(node.value), form(node.reference)]
            kinds = {f[0] for f in forms}
            if kinds & {"dose", "ratio", "mixed"} and kinds != {"dose"}:
                problems.append(_where(node))
    stray = [n for n in nodes if isinstance(n, ast.Ref) and n.target == "fact" and n.name in (INTENDED, TOTAL)
             and id(n) not in accounted]
    problems += [_where(n) for n in stray]
    if problems:
        return DoseUses(refusal=f"this criteria file compares {INTENDED} or {TOTAL} with something other than a "
                                f"constant or the other dose ({', '.join(dict.fromkeys(problems))}), so an incident "
                                f"cannot be decided from the ratio of two doses in an alternative quantity")
    return DoseUses(points=tuple(sorted(points)))


def _where(node: Any) -> str:
    span = getattr(node, "span", None)
    return f"line {span.line}" if span is not None and getattr(span, "line", None) else type(node).__name__


# ------------------------------------------------------------------ an incident

def regions(found: DoseUses, ratio: Fraction) -> list[Region]:
    """The regions of the effective intended dose E (> 0) in which every comparison of the doses has one answer."""
    edges = {c for fact, c in found.points if fact == INTENDED}
    if ratio:
        edges |= {c / ratio for fact, c in found.points if fact == TOTAL}
    edges = sorted(e for e in edges if e > 0)
    out: list[Region] = []
    low = Fraction(0)
    for edge in edges:
        out.append(Region(low, edge, (low + edge) / 2))
        out.append(Region(edge, edge, edge))
        low = edge
    out.append(Region(low, None, low + 1))
    return out


def decide(found: DoseUses, intended: Any, total: Any, quantity: str,
           decide_region: Callable[[Fraction, Fraction], Outcome],
           compose: Callable[[Outcome, list[str]], Any], notes: list[str]) -> Any:
    """Decide an incident whose doses are `intended` and `total` (language.values.Alternative, one quantity):
    `decide_region(E, r × E)` decides it with those effective doses (in Sv), and `compose(outcome, notes)`
    writes the result of the combined outcome for the incident with its doses unknown."""
    ratio = total.value / intended.value
    parts = [(region, decide_region(region.at, ratio * region.at)) for region in regions(found, ratio)]
    outcomes = [outcome for _, outcome in parts]
    first = outcomes[0]
    same = all(o.verdict == first.verdict for o in outcomes)
    notifiable = first.notifiable if all(o.notifiable == first.notifiable for o in outcomes) else None
    codes = tuple(c for c in first.codes if all(c in o.codes for o in outcomes))
    letters = tuple(c for c in first.complementary if all(c in o.complementary for o in outcomes))
    missing: tuple[str, ...] = first.missing
    if not same and notifiable is None:
        missing = tuple(sorted(set().union(*(o.missing for o in outcomes)) | {INTENDED, TOTAL}))
    elif not same:
        missing = ()
    assumed = tuple(a for a in first.assumed if all(a in o.assumed for o in outcomes))
    words = f"{quantity}s"
    notes.append(f"{INTENDED} {intended.text} and {TOTAL} {total.text} are {words}, not effective doses: the total is "
                 f"{_number(ratio)} times the intended; the verdict is worked out for every effective intended dose E "
                 f"(the total then r × E = {_number(ratio)} E)")
    for low, high, outcome in _merged(parts):
        whole = low == (0, False) and high[0] is None
        notes.append(f"every E: {_shown(outcome)}" if whole else
                     f"{_range(low, high, Fraction(1), 'E')} ({_range(low, high, ratio, 'total')}): "
                     f"{_shown(outcome)}")
    if not same:
        notes.append(f"an estimate of the effective doses (in mSv) would decide it: give {INTENDED} and {TOTAL} in mSv")
        if notifiable is True and any(o.codes != first.codes for o in outcomes):
            open_codes = [c for o in outcomes for c in o.codes if c not in codes]
            notes.append(f"notifiable whatever the effective dose, but the code depends on it: one of "
                         f"{', '.join(dict.fromkeys(open_codes))}")
    return compose(Outcome(notifiable, codes, letters, missing, assumed), notes)


def _merged(parts: list[tuple[Region, Outcome]]) -> Iterable[tuple[tuple, tuple, Outcome]]:
    """Consecutive regions with one outcome as one range: ((lo, closed), (hi or None, closed), outcome)."""
    run: list[Any] = []
    for region, outcome in parts:
        if run and run[2].verdict == outcome.verdict:
            run[1] = (region.hi, region.point)
            continue
        if run:
            yield tuple(run)
        run = [(region.lo, region.point), (region.hi, region.point), outcome]
    yield tuple(run)


def _range(low: tuple, high: tuple, factor: Fraction, name: str) -> str:
    (lo, lo_closed), (hi, hi_closed) = low, high
    if hi is not None and lo == hi:
        return f"{name} = {_dose(lo * factor)}"
    left = "" if lo == 0 and not lo_closed else f"{_dose(lo * factor)} {'≤' if lo_closed else '<'} "
    right = "" if hi is None else f" {'≤' if hi_closed else '<'} {_dose(hi * factor)}"
    if not left and not right:
        return f"every {name}"
    if not right:
        return f"{name} {'≥' if lo_closed else '>'} {_dose(lo * factor)}"
    return f"{left}{name}{right}"


def _shown(outcome: Outcome) -> str:
    verdict = {True: "notifiable", False: "not notifiable", None: "undetermined"}[outcome.notifiable]
    text = verdict + (f", {', '.join(outcome.codes)}" if outcome.codes else "")
    return text + (f" (missing {', '.join(outcome.missing)})" if outcome.missing else "")


def _number(value: Fraction) -> str:
    """Exact: a decimal when it terminates, else the fraction (with an approximation)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        places = 0
        while (value * 10 ** places).denominator != 1:
            places += 1
        text = f"{value.numerator * 10 ** places // value.denominator}"
        if places:
            text = text.rjust(places + 1, "0")
            text = f"{text[:-places]}.{text[-places:]}"
        return text
    return f"{value.numerator}/{value.denominator} (≈{float(value):.4g})"


def _dose(sievert: Fraction) -> str:
    text = _number(sievert * 1000)
    exact, _, about = text.partition(" ")
    return f"{exact} mSv {about[:-1]} mSv)" if about else f"{text} mSv"
