"""`irmer lint`: the mistakes a table of thresholds invites, found before an incident does.

`irmer check` says whether a criteria file is valid; lint says whether it is
*sensible*: bands that leave a gap or overlap, an edge the regulator's words
leave open, a row that can never be met or only ever with another, a fact
nothing reads, thresholds in mixed units, codes out of order, text missing,
suffix ranges that miss codes, codes without examples (docs/authoring.md).
The rules of severity error (TABLE_RULES: a gap, an overlap, a row that never
fires, a code given twice) make the table ambiguous or broken, so `irmer check`
runs them too (`table_findings`), and only there: loading criteria never does.

Each finding has a rule id, a severity, a one-line message, the place in the
file, and where it helps a hint and a witness: an incident in the public
vocabulary that shows the problem, found with the z3 backend (evaluator/engines/smt.py)
and the realistic-witness search of the diff, and checked with the evaluator.
A finding is accepted on purpose with `allow RULE "reason"` in its block (or
the row's table, or at the top of the file); `lint` still returns it, with
`allowed` set.

>>> from evaluator import load_criteria
>>> [(f.rule, f.allowed is not None) for f in lint(load_criteria("2024")) if f.rule == "band_edge"]
[('band_edge', True)]
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property, partial
from fractions import Fraction
from itertools import combinations, groupby
from math import floor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import z3

from ..language import ast
from ..language.diagnostics import CriteriaError, Diagnostic, Span, render
from .diff import Semantics, quantity_text
from .examples import run_examples
from ..language.show import show_number
from ..load import Guidance, compile_file, vocabulary_file
from ..result import Result
from ..language.units import UnitError, resolve_unit, to_unit


@dataclass(frozen=True)
class Rule:
    severity: str
    summary: str


# The rules, their severity and what each finds: a table (docs/authoring.md explains each).
RULES: dict[str, Rule] = {
    "band_gap": Rule("error", "a value of a banded fact that falls in no band, between bands"),
    "band_overlap": Rule("error", "a value of a banded fact that falls in two bands"),
    "band_edge": Rule("warning", "a value where two bands meet, which the category texts do not settle"),
    "never_fires": Rule("error", "a row or complementary code that no incident can meet"),
    "shadowed": Rule("warning", "a row met only when another code is met too"),
    "subsumed": Rule("warning", "two codes met by exactly the same incidents"),
    "unused_fact": Rule("warning", "a fact of the vocabulary that nothing in the file reads"),
    "unused_definition": Rule("warning", "a definition that nothing in the file reads"),
    "mixed_units": Rule("warning", "thresholds of one fact written in different units"),
    "duplicate_code": Rule("error", "a code given twice for the same incidents"),
    "duplicate_name": Rule("warning", "two exclusions, deadlines or examples with the same name"),
    "code_order": Rule("warning", "a row whose code comes before the code of a row above it"),
    "missing_text": Rule("warning", "a block without the regulator's words, or with an empty text"),
    "suffix_range": Rule("warning", "a complementary code's suffix range that misses codes of the file"),
    "example_coverage": Rule("warning", "a code without an example that meets it, or one that just misses it"),
    "unknown_rule": Rule("warning", "an `allow` that names no rule of lint"),
}


@dataclass(init=False, eq=False)
class Finding:
    """One thing lint found: what, where, and (when accepted with `allow`) why it is so on purpose.

    Its witness is given, or searched for when it is first read (`find`): `irmer lint` prints no witness for
    a finding the file accepts, and the search (z3's optimiser, then the evaluator) is most of lint's work on
    a file that accepts several (each shipped file does). A finding that is not accepted has its witness
    found at once (Linter.add), in the order of the checks.
    """

    rule: str
    severity: str
    message: str
    span: Span | None
    hint: str | None
    allowed: str | None
    find: Callable[[], dict | None] | None = field(repr=False)

    def __init__(self, rule: str, severity: str, message: str, span: Span | None, hint: str | None = None,
                 witness: dict | None = None, allowed: str | None = None,
                 find: Callable[[], dict | None] | None = None):
        self.rule, self.severity, self.message, self.span, self.hint = rule, severity, message, span, hint
        self.allowed, self.find = allowed, find
        if find is None:
            self.__dict__["witness"] = witness  # given: the cached_property's value

    @cached_property
    def witness(self) -> dict | None:
        """An incident in the public vocabulary that shows the problem, checked with the evaluator; or None."""
        find, self.find = self.find, None  # found once; the search (and the Linter it holds) let go
        return find() if find is not None else None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        fields = ("rule", "severity", "message", "span", "hint", "allowed", "witness")
        return all(getattr(self, name) == getattr(other, name) for name in fields)

    def record(self, file: str) -> dict[str, Any]:
        """The finding as `irmer lint --format json` prints it (docs/schemas/lint.schema.json)."""
        span = self.span
        return {"file": span.file if span else file, "line": span.line if span else None,
                "column": span.column if span else None, "end_line": span.end_line if span else None,
                "end_column": span.end_column if span else None, "rule": self.rule, "severity": self.severity,
                "message": self.message, "hint": self.hint, "witness": self.witness, "allowed": self.allowed}


def lint(guidance: Guidance) -> list[Finding]:
    """Every finding in a checked criteria file, accepted ones included (with `allowed` set).

    The findings are handed over, not kept by the Linter: an accepted finding's witness search holds the
    Linter (and its z3 terms), and a Linter that held its findings too would be a cycle, freed by the cyclic
    collector on whatever thread it next runs. z3 is not thread-safe: in the language server, that thread
    freed z3 terms while the lint thread was using z3 (a segfault). Without the cycle, the last reference
    dropped frees them on the thread that drops it.
    """
    linter = Linter(guidance).run()
    findings, linter.findings = linter.findings, []
    return findings


# ------------------------------------------------------------------ witnesses

class Search(Semantics):
    """The diff's realistic-witness search, for one version and any target formula."""

    TARGET = "\0target"

    def __init__(self, guidance: Guidance):
        super().__init__(guidance, guidance)
        self.encoded = self.e_old
        self.target: z3.BoolRef = z3.BoolVal(True)

    def formula(self, side, code):
        return self.target if code == self.TARGET else super().formula(side, code)

    def witness(self, target: z3.BoolRef, holds: Callable[[Result], bool],
                keep: Iterable[str] = (), explain: bool = True) -> dict[str, Any] | None:
        """A realistic incident meeting `target`, cut to the facts that matter, checked with the evaluator
        (`explain=False` where `holds` reads no explanation: the compiled engine decides, at a fraction of
        the interpreter's cost, with the same answers)."""
        self.target = target
        found = self.realistic("narrowed", self.TARGET, None)
        model = self.solve(target) if found is None else None
        if found is None and model is None:
            return None
        values = found.values if found is not None else self.values(model)
        # The first way of writing the values exactly that the evaluator confirms.
        incident = next((i for i in self.incidents(values) if holds(self.old.evaluate(i, explain=explain))), None)
        if incident is None:
            return None
        keep = {"jurisdiction", "exposure", "modality", *keep}
        for name in sorted(incident, key=lambda k: (not self.space.facts[k].has_default, k)):
            if name in keep:
                continue
            trial = {k: v for k, v in incident.items() if k != name}
            if holds(self.old.evaluate(trial, explain=explain)):
                incident = trial
        return incident


def outcome(result: Result, row: ast.Row) -> str | None:
    return next((e.outcome for e in result.explanation if e.code == row.code and e.label == row.label), None)


# What a witness must show, as functions of their arguments and the evaluator's result (bound with
# functools.partial: a witness may be searched for after the loop that asked for it has moved on).
def in_none(rows: list[ast.Row], result: Result) -> bool:
    return all(outcome(result, r) == "out of scope" for r in rows)


def in_all(rows: list[ast.Row], result: Result) -> bool:
    return all(outcome(result, r) != "out of scope" for r in rows)


def in_one(owner: ast.Row, other: ast.Row, result: Result) -> bool:
    return outcome(result, owner) != "out of scope" and outcome(result, other) == "out of scope"


def has_code(code: str, result: Result) -> bool:
    return code in result.codes


def has_letter(code: str, result: Result) -> bool:
    return code in result.complementary


def not_met(code: str, result: Result) -> bool:
    return any(e.code == code and e.outcome == "not met" for e in result.explanation)


def witness_text(witness: dict[str, Any]) -> str:
    """An incident as compact `key value` pairs, written as an example's `given` lines write them."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, list):
            return ", ".join(value(x) for x in v)
        text = str(v)
        return f'"{text}"' if " " in text and not re.match(r"^[\d.]+ \S+$", text) else text
    return "; ".join(f"{k} {value(v)}" for k, v in witness.items())


# --------------------------------------------------------------------- bands

@dataclass
class Region:
    """A stretch of a fact's values on which every band is constant: one value, or an open interval."""

    low: Fraction
    high: Fraction | None  # None: no upper end
    point: bool
    sample: Fraction
    cover: tuple[int, ...] = ()  # indexes of the rows whose band holds here


# Words around a value in a category text that say on which side of it the band lies.
EXCLUDES_BEFORE = ("less than", "lower than", "fewer than", "below", "under", "more than", "greater than",
                   "higher than", "above", "over", "exceeding", "exceeds")
INCLUDES_BEFORE = ("at least", "not less than", "no less than", "at most", "not more than", "no more than",
                   "up to and including")
INCLUDES_AFTER = ("or more", "or above", "or greater", "or over", "and above", "and over", "or less",
                  "or below", "or under", "or fewer", "and below", "and under")
QUANTITY = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-zµμ]+)")


def edge_words(text: str, value: Fraction, kind: str) -> tuple[str | None, str | None]:
    """What a category text says about a value: "in" the band, "out" of it, or None; and the words."""
    for match in QUANTITY.finditer(text):
        try:
            unit_kind, factor = resolve_unit(match.group(2))
        except UnitError:
            continue
        if unit_kind != kind or Fraction(match.group(1)) * factor != value:
            continue
        before, after = text[:match.start()].rstrip().lower(), text[match.end():].lstrip().lower()
        if before.endswith(EXCLUDES_BEFORE):
            return "out", next(w for w in EXCLUDES_BEFORE if before.endswith(w)) + " " + match.group(0)
        if before.endswith(INCLUDES_BEFORE):
            return "in", next(w for w in INCLUDES_BEFORE if before.endswith(w)) + " " + match.group(0)
        phrase = re.split(r"[\d(),;.]", after, maxsplit=1)[0]  # up to the next number or bracket
        for words in INCLUDES_AFTER:
            if re.search(rf"\b{words}\b", phrase):
                return "in", f"{match.group(0)} {phrase[:phrase.index(words) + len(words)]}"
        return None, None
    return None, None


# -------------------------------------------------------------------- codes

def code_key(code: str) -> tuple[int, int, str] | None:
    """A notification code in the guidance's order: 4.2a < 4.2b < 10.1."""
    match = re.fullmatch(r"(\d+)(?:\.(\d+))?([a-z]?)", code)
    return (int(match.group(1)), int(match.group(2) or -1), match.group(3)) if match else None


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------- linter

@dataclass
class Linter:
    """The checks over one checked file, in z3 (one Space, the diff's witness search) and with its examples."""

    guidance: Guidance
    findings: list[Finding] = field(default_factory=list)
    used_allows: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.criteria = self.guidance.ast
        self.facts = self.guidance.vocabulary.facts
        self.search = Search(self.guidance)
        self.space, self.enc, self.domain = self.search.space, self.search.encoded, self.search.domain
        self.table_of = {id(row): table for table in self.criteria.tables for row in table.rows}
        self.rows = list(self.criteria.rows)
        self.codes = list(dict.fromkeys(row.code for row in self.rows))
        self.letters = {item.code: item for item in self.criteria.complementary}
        self._never: set[str] = set()
        self._results: list[Result] | None = None

    # ------------------------------------------------------------ plumbing
    def run(self) -> "Linter":
        for check in CHECKS:
            check(self)
        self.findings.sort(key=lambda f: (f.span.file if f.span else "", f.span.line if f.span else 0,
                                          f.span.column if f.span else 0, f.rule))
        return self

    def add(self, rule: str, message: str, span: Span | None, blocks: Iterable[Any] = (),
            hint: str | None = None, witness: Callable[[], dict | None] | None = None) -> None:
        """A finding, accepted when one of its blocks (a row's table too) or the file has an allow for it.

        `witness` searches for the finding's witness: at once when the finding is shown, on first reading when
        it is accepted (Finding). It is called later than `add`, so it must not read a loop's variables
        late: the callers bind them with functools.partial."""
        scopes: list[Any] = []
        for block in blocks:
            scopes.append(block)
            if id(block) in self.table_of:
                scopes.append(self.table_of[id(block)])
        allowed = None
        for allow in [a for block in scopes for a in block.allows] + list(self.criteria.allows):
            if allow.rule == rule:
                allowed = allow.reason
                self.used_allows.add(id(allow))
                break
        finding = Finding(rule=rule, severity=RULES[rule].severity, message=message, span=span, hint=hint,
                          allowed=allowed, find=witness)
        if allowed is None:
            finding.witness  # noqa: B018 (found now: shown findings' witnesses are searched in the checks' order)
        self.findings.append(finding)

    def sat(self, *formulas: Any) -> bool:
        """Whether some incident meets every formula (no model: no check reads one)."""
        return self.search.satisfiable(z3.And(*formulas))

    def results(self) -> list[Result]:
        if self._results is None:
            self._results = [outcome.result for outcome in run_examples(self.guidance)]
        return self._results

    def allows(self) -> list[ast.Allow]:
        return [node for node in self.criteria.walk() if isinstance(node, ast.Allow)]

    def unused_allows(self) -> list[ast.Allow]:
        """Allows that accept no finding (their finding has gone): worth removing."""
        return [a for a in self.allows() if a.rule in RULES and id(a) not in self.used_allows]

    def expressions(self) -> Iterator[tuple[Any, str, Any]]:
        """Every (block, clause, expression) of the file."""
        for definition in self.criteria.definitions:
            yield definition, "as", definition.body
        for row in self.rows:
            for clause in ("band", "when", "unless"):
                if getattr(row, clause) is not None:
                    yield row, clause, getattr(row, clause)
        for group in (self.criteria.complementary, self.criteria.exclusions, self.criteria.advice,
                      self.criteria.routes, self.criteria.conflicts):
            for block in group:
                if block.when is not None:
                    yield block, "when", block.when
        for derivation in self.criteria.derivations:
            for branch in derivation.branches:
                yield derivation, "as", branch.condition

    def reached(self, roots: Iterable[Any]) -> list[ast.Node]:
        return self.guidance.checked.reachable(roots)

    # ------------------------------------------------------------- bands
    def band_fact(self, row: ast.Row) -> tuple[str, list[Fraction]] | None:
        """The one numeric fact a row's band compares with constants, and the constants; else None."""
        if row.band is None:
            return None
        facts, constants = set(), []
        for node in self.reached([row.band]):
            if isinstance(node, ast.Ref) and node.target == "fact":
                facts.add(node.name)
            elif isinstance(node, ast.Number):
                constants.append(node.value)
            elif not isinstance(node, (ast.Compare, ast.And, ast.Or, ast.Not, ast.Ref)):
                return None
        if len(facts) != 1:
            return None
        (name,) = facts
        return (name, constants) if self.facts[name].numeric and constants else None

    def regions(self, fact: str, constants: Iterable[Fraction]) -> list[Region]:
        info = self.facts[fact]
        floor_ = info.minimum or Fraction(0)
        points = sorted({c for c in constants if c >= floor_} | {floor_})
        integer = info.kind == "count"
        out: list[Region] = []
        for i, point in enumerate(points):
            if not integer or point.denominator == 1:
                out.append(Region(point, point, True, point))
            high = points[i + 1] if i + 1 < len(points) else None
            inside = self.inside(point, high, integer)
            if inside is not None:
                out.append(Region(point, high, False, inside))
        return out

    @staticmethod
    def inside(low: Fraction, high: Fraction | None, integer: bool) -> Fraction | None:
        """The roundest value strictly between low and high (None: no end, so up to twice low), if any."""
        if high is None:
            high = max(2 * low, Fraction(1)) if not integer else low + 2
        for exponent in range(3, -10, -1):
            step = Fraction(10) ** exponent
            if integer and step < 1:
                break
            value = (floor(low / step) + 1) * step
            if value < high:
                return value
        return None

    def band_holds(self, row: ast.Row, fact: str, value: Fraction) -> bool:
        var = self.space.vars[fact]
        constant = z3.IntVal(int(value)) if self.facts[fact].kind == "count" else z3.RealVal(
            f"{value.numerator}/{value.denominator}")
        return z3.is_true(z3.simplify(z3.substitute(self.enc.cond(row.band), (var, constant))))

    def scope_groups(self, rows: list[ast.Row]) -> Iterator[tuple[list[int], z3.BoolRef]]:
        """Each set of the rows whose scopes some incident is in at once (two rows or more), and its formula."""
        flags = [z3.Bool(f"lint#scope{i}") for i in range(len(rows))]
        solver = z3.Solver()
        solver.add(self.domain, *[flag == self.enc.scope(row) for flag, row in zip(flags, rows)])
        while solver.check() == z3.sat:
            model = solver.model()
            values = [z3.is_true(model.eval(flag, model_completion=True)) for flag in flags]
            solver.add(z3.Or(*[flag != value for flag, value in zip(flags, values)]))
            chosen = [i for i, value in enumerate(values) if value]
            if len(chosen) >= 2:
                yield chosen, z3.And(*[self.enc.scope(row) if value else z3.Not(self.enc.scope(row))
                                       for row, value in zip(rows, values)])

    def show(self, fact: str, value: Fraction) -> str:
        kind = self.facts[fact].kind
        return str(int(value)) if kind == "count" else quantity_text(value, kind)

    def stretch(self, fact: str, first: Region, last: Region) -> str:
        """Regions first..last as a condition: `2 mSv <= intended_dose < 2.5 mSv`."""
        low = f"{self.show(fact, first.low)} {'<=' if first.point else '<'} "
        if last.high is None:
            return f"{fact} {'>=' if first.point else '>'} {self.show(fact, first.low)}"
        if first is last and first.point:
            return f"{fact} = {self.show(fact, first.low)}"
        return f"{low}{fact} {'<=' if last.point else '<'} {self.show(fact, last.high)}"

    def band_witness(self, fact: str, value: Fraction, scope: z3.BoolRef,
                     holds: Callable[[Result], bool]) -> dict | None:
        var = self.space.vars[fact]
        constant = int(value) if self.facts[fact].kind == "count" else z3.RealVal(
            f"{value.numerator}/{value.denominator}")
        return self.search.witness(z3.And(scope, var == constant), holds, keep=[fact])

    def check_bands(self) -> None:
        groups: dict[str, list[tuple[ast.Row, list[Fraction]]]] = {}
        for row in self.rows:
            found = self.band_fact(row)
            if found:
                groups.setdefault(found[0], []).append((row, found[1]))
        seen: set[tuple] = set()
        for fact, members in groups.items():
            if len(members) < 2:
                continue
            rows = [row for row, _ in members]
            regions = self.regions(fact, [c for _, constants in members for c in constants])
            for chosen, scope in self.scope_groups(rows):
                for region in regions:
                    region.cover = tuple(i for i in chosen if self.band_holds(rows[i], fact, region.sample))
                self.gaps_and_overlaps(fact, rows, regions, scope, seen)
                self.edges(fact, rows, regions, scope, seen)

    @staticmethod
    def stretches(regions: list[Region]) -> Iterator[tuple[int, int, tuple[int, ...]]]:
        """Maximal runs of regions with the same bands: (first index, last index, the bands)."""
        start = 0
        for cover, group in groupby(regions, key=lambda r: r.cover):
            size = len(list(group))
            yield start, start + size - 1, cover
            start += size

    def gaps_and_overlaps(self, fact: str, rows: list[ast.Row], regions: list[Region], scope: z3.BoolRef,
                          seen: set[tuple]) -> None:
        covered = [i for i, r in enumerate(regions) if r.cover]
        for a, b, cover in self.stretches(regions):
            first, last = regions[a], regions[b]
            where = self.stretch(fact, first, last)
            if not cover and covered and covered[0] < a and b < covered[-1]:  # between bands, not beyond them
                below, above = regions[a - 1].cover, regions[b + 1].cover
                key = ("gap", fact, first.low, last.high, below, above)
                if key in seen:
                    continue
                seen.add(key)
                lower, upper = rows[below[-1]], rows[above[0]]
                names = f"row {lower.name}" if lower is upper else f"rows {lower.name} and {upper.name}"
                witness = partial(self.band_witness, fact, first.sample, scope, partial(in_none, rows))
                self.add("band_gap", f"the bands of {names} leave a gap: {where} is in no band",
                         self.edge_span(lower, first.low), [lower, upper], witness=witness,
                         hint=f"an incident with {where} is in none of the categories "
                              f"{', '.join(r.code for r in rows)}: make the bands meet")
            elif len(cover) >= 2:
                key = ("overlap", fact, first.low, last.high, cover)
                if key in seen:
                    continue
                seen.add(key)
                both = [rows[k] for k in cover]
                witness = partial(self.band_witness, fact, first.sample, scope, partial(in_all, both))
                self.add("band_overlap", f"the bands of rows {' and '.join(r.name for r in both)} overlap: {where} "
                         f"is in each of them", self.edge_span(both[-1], first.low, last.high), both,
                         witness=witness, hint="an incident there is in two categories at once: make each value "
                                               "fall in one band only")

    def edges(self, fact: str, rows: list[ast.Row], regions: list[Region], scope: z3.BoolRef,
              seen: set[tuple]) -> None:
        kind = self.facts[fact].kind
        for k in range(1, len(regions) - 1):
            below, at, above = regions[k - 1].cover, regions[k].cover, regions[k + 1].cover
            if not (regions[k].point and len(below) == 1 and len(above) == 1 and below != above
                    and len(at) == 1 and at[0] in below + above):
                continue
            value = regions[k].low
            lower, upper, owner = rows[below[0]], rows[above[0]], rows[at[0]]
            other = upper if owner is lower else lower
            key = ("edge", fact, value, id(lower), id(upper))
            if key in seen:
                continue
            seen.add(key)
            said = {}
            for row, side in ((lower, "lower"), (upper, "upper")):
                text = row.category.text if row.category else ""
                verdict, words = edge_words(text, value, kind)
                if verdict is not None:  # "in" the lower band, or "out" of the upper one: the lower band's
                    said[row.code] = (lower if (verdict == "in") == (side == "lower") else upper, words)
            claims = {id(r) for r, _ in said.values()}
            shown = self.show(fact, value)
            if claims == {id(owner)}:
                continue
            if not claims:
                texts = "; ".join(f"{r.code}: \"{r.category.text if r.category else ''}\"" for r in (lower, upper))
                message = (f"{shown} is where the bands of rows {lower.name} and {upper.name} meet, and their "
                           f"category texts do not say which it is in; this file puts it in {owner.name}")
                hint = (f"{texts}. Words such as 'between' leave an edge open; 'less than', 'more than', "
                        f"'or more' and 'or less' settle it. If the choice is deliberate, say why with "
                        f"allow band_edge \"...\"")
            elif len(claims) == 2:
                message = (f"{shown} is where the bands of rows {lower.name} and {upper.name} meet, and their "
                           f"category texts disagree about it; this file puts it in {owner.name}")
                hint = "; ".join(f"{code} says '{words}'" for code, (_, words) in said.items())
            else:
                code, (_, words) = next(iter(said.items()))
                message = (f"the category of row {code} says '{words}', but this file puts {shown} in row "
                           f"{owner.name}, not {other.name}")
                hint = f"move the edge so that {shown} is in row {other.name}, as the text says"
            witness = partial(self.band_witness, fact, value, scope, partial(in_one, owner, other))
            self.add("band_edge", message, self.edge_span(owner, value), [owner, other], hint=hint, witness=witness)

    def edge_span(self, row: ast.Row, *values: Fraction | None) -> Span | None:
        """Where a row's band writes one of these values (the edge in question), else its band line."""
        for value in values:
            for node in row.band.walk():
                if isinstance(node, ast.Number) and node.value == value and node.span:
                    return node.span
        return row.at("band")

    # -------------------------------------------------------- can it fire?
    def check_never_fires(self) -> None:
        for row in self.rows:
            stages = [("scope", self.enc.scope(row), "no incident is in its scope", row.span)]
            if row.band is not None:
                stages.append(("band", self.enc.cond(row.band), "no incident in its scope is in its band",
                               row.at("band")))
            stages.append(("when", self.enc.cond(row.when), "its `when` cannot hold for an incident in its scope"
                           + (" and band" if row.band is not None else ""), row.at("when")))
            if row.unless is not None:
                stages.append(("unless", z3.Not(self.enc.cond(row.unless)),
                               "its `unless` holds whenever the rest of it does", row.at("unless")))
            for exclusion in self.enc.exclusions.get(row.code, []):
                stages.append((exclusion.name, z3.Not(self.enc.cond(exclusion.when)),
                               f"the exclusion {exclusion.name} stops it whenever the rest of it holds",
                               row.span))
            self.never("row", row, stages)
        for item in self.criteria.complementary:
            stages = [("when", self.enc.cond(item.when), "its `when` cannot hold", item.at("when"))]
            for exclusion in self.enc.exclusions.get(item.code, []):
                stages.append((exclusion.name, z3.Not(self.enc.cond(exclusion.when)),
                               f"the exclusion {exclusion.name} stops it whenever it holds", item.span))
            self.never("complementary code", item, stages)

    def never(self, what: str, block: Any, stages: list[tuple[str, Any, str, Span | None]]) -> None:
        parts: list[Any] = []
        for _, formula, why, span in stages:
            parts.append(formula)
            if not self.sat(*parts):
                name = block.name if isinstance(block, ast.Row) else block.code
                self._never.add(f"{what} {name}")
                self.add("never_fires", f"{what} {name} can never be met: {why}", span, [block],
                         hint="no incident can be notified under it; check the conditions (and the units) "
                              "against the guidance")
                return

    def fires(self, what: str, name: str) -> bool:
        return f"{what} {name}" not in self._never

    # ----------------------------------------------------- shadowed rows
    def check_shadowed(self) -> None:
        """Each row (and complementary code) against every other code: is it met only with it, or exactly with it?"""
        refs = {code: self.refs_of(code) for code in self.codes + list(self.letters)}
        units: list[tuple[str, Any, z3.BoolRef]] = []
        for row in self.rows:
            if self.fires("row", row.name):
                units.append((row.code, row, self.enc.row_met(row)))
        for item in self.criteria.complementary:
            if self.fires("complementary code", item.code):
                units.append((item.code, item, self.enc.code_met(item.code)))
        codes = {code: self.enc.code_met(code) for code in refs}
        for code, block, met in units:
            # A row that names another's criteria (9.2: `criteria of 8.1`) is related to it by design.
            others = {other: other_met for other, other_met in codes.items()
                      if not (other == code or other in refs[code] or code in refs[other])}
            implied = self.implied(met, others)
            for other, other_met in others.items():
                if other not in implied:
                    continue
                name = block.name if isinstance(block, ast.Row) else block.code
                what = "row" if isinstance(block, ast.Row) else "complementary code"
                if not self.sat(other_met, z3.Not(met)):
                    first = next(b for c, b, _ in units if c == other)
                    if self.position(first) > self.position(block):
                        continue  # reported on the later of the two
                    self.add("subsumed", f"{what} {name} is met by exactly the same incidents as code {other}",
                             block.span, [block],
                             hint=f"one of {code} and {other} adds nothing: every incident meets both or neither")
                else:
                    self.add("shadowed", f"{what} {name} can only be met when code {other} is met too",
                             block.span, [block],
                             hint=f"every incident that meets {what} {name} also meets code {other}, so {name} "
                                  f"never makes an incident notifiable on its own; check it is not narrower than "
                                  f"the guidance")

    def implied(self, met: z3.BoolRef, others: dict[str, z3.BoolRef]) -> set[str]:
        """The codes of `others` that every incident meeting `met` meets too, each proved by z3.

        Asking of each code whether `met` and not it can hold costs a question per pair, some 900 a file;
        instead each question asks for an incident meeting `met` and failing one of the codes left, and
        its model clears every code it fails (a complete incident that meets `met` and fails a code proves
        the pair can hold apart). When no incident fails any code left, z3 has proved that each is implied.
        """
        left = dict(others)
        while left:
            model = self.search.solve(z3.And(met, z3.Or(*[z3.Not(f) for f in left.values()])))
            if model is None:
                return set(left)
            holds = z3.is_true(model.eval(z3.And(self.domain, met), model_completion=True))
            cleared = {code for code, f in left.items() if holds and z3.is_false(model.eval(f, model_completion=True))}
            if not cleared:  # the model is an incident that fails one of them: were it not, ask one by one
                return {code for code, f in left.items() if not self.sat(met, z3.Not(f))}
            left = {code: f for code, f in left.items() if code not in cleared}
        return set()

    def refs_of(self, code: str) -> set[str]:
        """The codes whose criteria a code's rows name (`criteria of 8.1`)."""
        roots = [part for row in self.enc.rows_by_code.get(code, []) for part in (row.band, row.when, row.unless)]
        return {n.code for n in self.reached(roots) if isinstance(n, ast.CriteriaOf)}

    def position(self, block: Any) -> tuple[int, int]:
        return (block.span.line, block.span.column) if block.span else (0, 0)

    # -------------------------------------------------------------- unused
    def check_unused(self) -> None:
        roots = [expr for block, _, expr in self.expressions() if not isinstance(block, ast.Definition)]
        nodes = self.reached(roots)
        used = {n.name for n in nodes if isinstance(n, ast.Ref) and n.target == "fact"}
        used |= {n.fact for n in nodes if isinstance(n, (ast.IsValue, ast.Includes))}
        used.add("exposure")  # every row is scoped by it
        if any(row.modalities for row in self.rows):
            used.add("modality")
        if (any(row.jurisdictions for row in self.rows) or self.criteria.authorities or self.criteria.advice
                or any(to.jurisdictions for route in self.criteria.routes for to in route.to)):
            used.add("jurisdiction")
        used |= {deadline.after for deadline in self.criteria.deadlines}
        vocabulary = self.vocabulary_span()
        for fact in self.guidance.vocabulary.ast.facts:
            if fact.name in used or fact.name not in self.facts:
                continue
            where = f" (line {fact.span.line} of the vocabulary)" if fact.span else ""
            self.add("unused_fact", f"no rule in this file reads the fact `{fact.name}` of the vocabulary",
                     vocabulary, [], hint=f"`{fact.name}`{where} changes no result under this file. If the file "
                                          f"should use it, write the rule; if the shared vocabulary keeps it for "
                                          f"another version, say so with allow unused_fact \"...\" at the top of "
                                          f"the file")
        defined = {n.name for n in nodes if isinstance(n, ast.Ref) and n.target == "definition"}
        for definition in self.criteria.definitions:
            if definition.name not in defined:
                self.add("unused_definition", f"definition `{definition.name}` is used by no rule", definition.span,
                         [definition], hint="use it in a rule, or remove it")

    def word_span(self, span: Span | None, word: str) -> Span | None:
        """The first place a word is written on a span's first line, else the span."""
        if span is None:
            return None
        line = self.guidance.source.splitlines()[span.line - 1]
        found = re.search(rf"\b{re.escape(word)}\b", line[span.column - 1:])
        if not found:
            return span
        column = span.column + found.start()
        return Span(file=span.file, line=span.line, column=column, end_line=span.line, end_column=column + len(word))

    def vocabulary_span(self) -> Span | None:
        header = self.criteria.header
        if header.span is None:
            return None
        lines = self.guidance.source.splitlines()
        for number in range(header.span.line, min(header.span.end_line, len(lines)) + 1):
            match = re.match(r'^(\s*vocabulary\s+)("[^"]*")', lines[number - 1])
            if match:
                return Span(file=header.span.file, line=number, column=match.end(1) + 1, end_line=number,
                            end_column=match.end(2) + 1)
        return header.span

    # ---------------------------------------------------------------- units
    def check_units(self) -> None:
        uses: dict[str, list[tuple[ast.Number, Any, Fraction]]] = {}
        for block, _, expr in self.expressions():
            for node in expr.walk():
                if not isinstance(node, ast.Compare):
                    continue
                for left, right in zip(node.operands, node.operands[1:]):
                    for ref, number in ((left, right), (right, left)):
                        if isinstance(ref, ast.Scale):
                            ref = ref.operand
                        if isinstance(ref, ast.Ref) and isinstance(number, ast.Number) and number.unit:
                            factor = number.value / Fraction(number.text) if Fraction(number.text) else None
                            if factor is not None:
                                uses.setdefault(ref.name, []).append((number, block, factor))
        for name, found in uses.items():
            units: dict[Fraction, list[tuple[ast.Number, Any, Fraction]]] = {}
            for use in found:
                units.setdefault(use[2], []).append(use)
            if len(units) < 2:
                continue
            main = max(units, key=lambda f: (len(units[f]), -found.index(units[f][0])))
            unit = units[main][0][0].unit
            for factor, group in units.items():
                if factor == main:
                    continue
                for number, block, _ in group:
                    converted = to_unit(number.value, number.kind, unit)
                    self.add("mixed_units", f"`{name}` is compared with {number.text} {number.unit} here, but "
                             f"with {unit} elsewhere ({plural(len(units[main]), 'time')})", number.span, [block],
                             hint=f"write every threshold of {name} in one unit: {number.text} {number.unit} is "
                                  f"{show_number(converted)} {unit}")

    # ---------------------------------------------------------------- codes
    def check_codes(self) -> None:
        everywhere = set(self.facts["jurisdiction"].values) if "jurisdiction" in self.facts else set()
        for a, b in combinations(self.rows, 2):
            if a.code != b.code:
                continue
            shared = (set(a.jurisdictions) or everywhere) & (set(b.jurisdictions) or everywhere)
            if shared:
                self.add("duplicate_code", f"rows {a.name} and {b.name} both apply in {', '.join(sorted(shared))}",
                         b.span, [b], hint=f"an incident there would be judged twice under code {a.code}: rows "
                                           f"that share a code must apply in different jurisdictions (the other is "
                                           f"at line {a.span.line})")
            elif a.label == b.label:
                self.add("duplicate_code", f"two rows of code {a.code} have the same label", b.span, [b],
                         hint=f"the other is at line {a.span.line}; results could not tell them apart")
        for row in self.rows:
            if row.code in self.letters:
                self.add("duplicate_code", f"row {row.name} has the code of complementary code {row.code}",
                         row.span, [row], hint="complementary letters and row codes must differ")
        highest: ast.Row | None = None
        for row in self.rows:
            key = code_key(row.code)
            if key is None:
                continue
            if highest is not None and key < code_key(highest.code):
                self.add("code_order", f"code {row.code} comes after code {highest.code} (line {highest.span.line})",
                         row.span, [row], hint="keep the rows in the guidance's order: 1, 2.1, ..., 4.2a, 4.2b, "
                                               "..., 9.2, 10.1")
            elif highest is None or key > code_key(highest.code):
                highest = row
        for group, what, name in ((self.criteria.exclusions, "exclusion", "name"),
                                  (self.criteria.deadlines, "deadline", "name"),
                                  (self.criteria.conflicts, "conflict", "name"),
                                  (self.criteria.examples, "example", "title")):
            first: dict[str, Any] = {}
            for block in group:
                key = getattr(block, name)
                if key in first:
                    self.add("duplicate_name", f"{what} {key!r} is given twice", block.span, [block],
                             hint=f"the other is at line {first[key].span.line}; give each its own name")
                first.setdefault(key, block)

    # ----------------------------------------------------------------- text
    def check_text(self) -> None:
        for group, what, name in ((self.criteria.complementary, "complementary code", "code"),
                                  (self.criteria.deadlines, "deadline", "name"),
                                  (self.criteria.advice, "advice", "name"),
                                  (self.criteria.routes, "route", "name"),
                                  (self.criteria.derivations, "derive", "fact"),
                                  (self.criteria.conflicts, "conflict", "name")):
            for block in group:
                if not block.says:
                    self.add("missing_text", f"{what} {getattr(block, name)} has no `says` line", block.span,
                             [block], hint="quote the regulator's words it comes from, byte for byte")
        blocks = [*self.criteria.definitions, *self.rows, *self.criteria.tables, *self.criteria.complementary,
                  *self.criteria.exclusions, *self.criteria.deadlines, *self.criteria.authorities,
                  *self.criteria.advice, *self.criteria.routes, *self.criteria.derivations,
                  *self.criteria.conflicts, *self.criteria.examples]
        for block in blocks:
            texts = list(block.says) + ([block.category] if getattr(block, "category", None) else [])
            for text in texts:
                if not text.text.strip():
                    self.add("missing_text", "this text is empty", text.span or block.span, [block],
                             hint="an empty text is found in any source: quote the regulator's words")

    def check_suffixes(self) -> None:
        numbered = [code for code in self.codes if code_key(code)]
        majors = sorted({code_key(code)[0] for code in numbered})
        if not majors:
            return
        for item in self.criteria.complementary:
            if item.suffix_from is None:
                continue
            outside = [c for c in numbered if not item.suffix_from <= code_key(c)[0] <= item.suffix_to]
            beyond = [n for n in range(item.suffix_from, item.suffix_to + 1) if n < majors[0] or n > majors[-1]]
            span = item.at("suffix")
            if outside:
                self.add("suffix_range", f"complementary code {item.code} takes suffixes {item.suffix_from} to "
                         f"{item.suffix_to}, but this file has codes {', '.join(outside)}", span, [item],
                         hint=f"an incident under {outside[0]} gets {item.code}{outside[0]}, outside the range: widen "
                              f"it, or if the guidance prints it so, say why with allow suffix_range \"...\"",
                         witness=partial(self.suffix_witness, item, outside[0]))
            elif beyond:
                self.add("suffix_range", f"complementary code {item.code} takes suffixes {item.suffix_from} to "
                         f"{item.suffix_to}, but this file has no code {', '.join(map(str, beyond))}", span, [item],
                         hint=f"the codes of this file run from {majors[0]} to {majors[-1]}")

    def suffix_witness(self, item: ast.Complementary, code: str) -> dict | None:
        target = [self.enc.code_met(item.code)]
        if item.role == "voluntary":
            # V's suffix is the category the incident is in: a banded one first, else the only one in scope.
            banded = {c for c in self.codes if any(r.band is not None for r in self.enc.rows_by_code[c])}
            target += [z3.Not(self.enc.notifiable()), self.enc.in_category(code)]
            target += [z3.Not(self.enc.in_category(c)) for c in self.codes
                       if c != code and (c in banded or code not in banded)]
        else:
            target.append(self.enc.code_met(code))
        return self.search.witness(z3.And(*target), lambda res: item.code + code in res.codes, explain=False)

    # ------------------------------------------------------------- examples
    def check_examples(self) -> None:
        results = self.results()
        for code in self.codes + list(self.letters):
            item = self.letters.get(code)
            rows = self.enc.rows_by_code.get(code, [])
            if item is not None:
                can_fire = self.fires("complementary code", code)
                miss = z3.Not(self.enc.code_met(code))
                met = [r for r in results if code in r.complementary]
            else:
                can_fire = any(self.fires("row", row.name) for row in rows)
                miss = z3.Or(*[z3.And(self.enc.scope(r), *([self.enc.cond(r.band)] if r.band is not None else []),
                                      z3.Not(self.enc.row_met(r))) for r in rows])
                met = [r for r in results if code in r.codes]
            missed = [r for r in results if not_met(code, r)]
            lacks_met = can_fire and not met
            lacks_miss = not missed and self.sat(miss)
            if not (lacks_met or lacks_miss):
                continue
            block = item or rows[0]
            what = ("neither an example that meets it nor one that just misses it" if lacks_met and lacks_miss
                    else "no example that meets it" if lacks_met else "no example that just misses it")
            if lacks_met:
                target = self.enc.code_met(code)
                if item is not None and item.role == "tag":
                    target = z3.And(target, self.enc.notifiable())
                elif item is not None and item.role == "voluntary":
                    target = z3.And(target, z3.Not(self.enc.notifiable()))
                holds = partial(has_letter if item else has_code, code)
                hint = f"add an example that meets {code}, such as the witness"
            else:
                target = miss
                holds = partial(not_met, code)
                hint = (f"add an example in the scope{' and band' if any(r.band for r in rows) else ''} of {code} "
                        f"that does not meet it (its explanation shows {code} `not met`), such as the witness")
            banded = {n.name for n in self.reached([r.band for r in rows]) if isinstance(n, ast.Ref)}
            banded |= {n.fact for n in self.reached([r.band for r in rows]) if isinstance(n, ast.IsValue)}
            self.add("example_coverage", f"code {code} has {what}", block.span, [*rows] or [block], hint=hint,
                     witness=partial(self.search.witness, target, holds, keep=banded & set(self.facts),
                                     explain=not lacks_met))

    def check_allows(self) -> None:
        for allow in self.allows():
            if allow.rule not in RULES:
                close = difflib.get_close_matches(allow.rule, list(RULES), n=1)
                self.add("unknown_rule", f"`allow {allow.rule}`: lint has no rule `{allow.rule}`",
                         self.word_span(allow.span, allow.rule), [],
                         hint=f"did you mean `{close[0]}`?" if close else f"the rules are: {', '.join(RULES)}")


# The checks, in order: never_fires first, since the others leave out what can never fire.
CHECKS: list[Callable[[Linter], None]] = [
    Linter.check_never_fires, Linter.check_bands, Linter.check_shadowed, Linter.check_unused, Linter.check_units,
    Linter.check_codes, Linter.check_text, Linter.check_suffixes, Linter.check_examples, Linter.check_allows,
]

# The rules whose findings make the table ambiguous or broken, not merely unwise: a value of a banded
# fact in no band (band_gap) or in two (band_overlap), a row no incident can meet (never_fires), a code
# given twice for the same incidents (duplicate_code). `irmer check` reports them as errors, unless the
# file accepts them with `allow`; lint keeps the advice (every other rule). They are lint's rules of
# severity "error", and the checks that find them; nothing else needs z3, so loading stays without it.
TABLE_RULES: tuple[str, ...] = tuple(rule for rule, spec in RULES.items() if spec.severity == "error")
TABLE_CHECKS: list[Callable[[Linter], None]] = [Linter.check_never_fires, Linter.check_bands, Linter.check_codes]


def table_findings(guidance: Guidance) -> list[Finding]:
    """The findings of the table rules that the file does not accept with `allow`: errors for `irmer check`.

    >>> from evaluator import load_criteria
    >>> table_findings(load_criteria("2024"))
    []
    """
    linter = Linter(guidance)
    for check in TABLE_CHECKS:
        check(linter)
    found = [f for f in linter.findings if f.rule in TABLE_RULES and f.allowed is None]
    return sorted(found, key=lambda f: (f.span.line if f.span else 0, f.span.column if f.span else 0, f.rule))


def table_diagnostic(finding: Finding) -> Diagnostic:
    """A table finding as a check error: the place, the message, and a hint with the rule, a witness and `allow`."""
    # The hint's lines are rendered under `  hint: `, as lint prints its witness.
    lines = [finding.hint or "see docs/authoring.md"]
    if finding.witness:
        lines.append(f"  witness: {witness_text(finding.witness)}")
    lines.append(f"  if the table is so on purpose, say why in the file: allow {finding.rule} \"...\"")
    return Diagnostic(message=f"{finding.message} ({finding.rule})", span=finding.span, severity="error",
                      hint="\n".join(lines))


# ----------------------------------------------------------------------- CLI

def render_finding(finding: Finding, source: str | None) -> str:
    """`file:line:col: warning[rule]: message`, the line with a caret, the hint, the witness."""
    text = render(Diagnostic(message=finding.message, span=finding.span, severity=finding.severity), source)
    where = f"{finding.span}: " if finding.span else ""
    lines = [f"{where}{finding.severity}[{finding.rule}]: {finding.message}"] + text.splitlines()[1:]
    if finding.hint:
        lines.append(f"  hint: {finding.hint}")
    if finding.witness:
        lines.append(f"  witness: {witness_text(finding.witness)}")
    return "\n".join(lines)


def run(files: tuple[Path, ...], shape: str) -> int:
    """Lint files; print text for people or JSON for tools; 1 when there is an error, else 0."""
    records: list[dict[str, Any]] = []
    failed = False
    for path in files:
        try:
            vocabulary = vocabulary_file(path)
            if vocabulary is not None:
                # A vocabulary is checked, not linted on its own (its facts are linted with the criteria that
                # read them: unused-fact): `irmer lint criteria/*.irmer` goes on past it, as `irmer check` does.
                if shape != "json":
                    print(f"ok {path}: vocabulary, {len(vocabulary.facts)} facts (linted with the criteria "
                          "that read it)")
                continue
            guidance = compile_file(path)
        except CriteriaError as error:
            failed = True
            if shape == "json":
                records += [{"file": d.span.file if d.span else str(path), "line": d.span.line if d.span else None,
                             "column": d.span.column if d.span else None,
                             "end_line": d.span.end_line if d.span else None,
                             "end_column": d.span.end_column if d.span else None, "rule": "check",
                             "severity": "error", "message": d.message, "hint": d.hint, "witness": None,
                             "allowed": None} for d in error.diagnostics]
            else:
                print(error.render(), file=sys.stderr)
            continue
        linter = Linter(guidance).run()
        shown = [f for f in linter.findings if f.allowed is None]
        accepted = len(linter.findings) - len(shown)
        failed |= any(f.severity == "error" for f in shown)
        if shape == "json":
            records += [f.record(guidance.name) for f in linter.findings]
            continue
        for finding in shown:
            print(render_finding(finding, guidance.source))
        for allow in linter.unused_allows():
            where = f"{allow.span}: " if allow.span else ""
            print(f"{where}note: `allow {allow.rule}` accepts no finding: remove it if the finding has gone")
        errors = sum(f.severity == "error" for f in shown)
        counts = [plural(n, word) for n, word in ((errors, "error"), (len(shown) - errors, "warning")) if n]
        counts = counts or ["no findings"]
        extra = f"; {plural(accepted, 'finding')} accepted in the file with `allow`" if accepted else ""
        print(f"{'ok ' if not shown else ''}{path}: {', '.join(counts)}{extra}")
    if shape == "json":
        print(json.dumps(records, indent=2, ensure_ascii=False))
    return 1 if failed else 0
