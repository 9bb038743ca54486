"""Stage 2: the typed AST of the criteria language.

Every node is a frozen pydantic model with the :class:`Span` it came from.
Equality ignores spans, so the same criteria written with other layout compare
equal. The AST is backend-neutral: the Python evaluator walks it, and later
backends (vectorised, SQL) compile the same nodes. The checker fills in the
fields marked *resolved* (kinds and exact values in base units); parsing leaves
them empty. ``irmer compile FILE`` prints a checked AST as JSON, and
``irmer compile --schema`` the JSON Schema of it.

>>> a = Number(text="3", unit="mSv", span=Span(line=1, column=1, end_line=1, end_column=6))
>>> b = Number(text="3", unit="mSv", span=Span(line=9, column=4, end_line=9, end_column=9))
>>> a == b
True
>>> Compare(operands=(Ref(name="total_dose"), a), ops=(">=",)).operands[1].unit
'mSv'
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from .diagnostics import Span

__all__ = [
    "Rational", "Node", "Span", "Expr", "Ref", "Number", "Percent", "Scale", "Ratio", "Compare",
    "IsValue", "Includes", "Tolerance", "CriteriaOf", "Constant", "Not", "And", "Or", "Case",
    "CaseBranch", "Text", "Interpretation", "Allow", "Literal_", "Header", "Definition", "Row", "Table",
    "Complementary", "Exclusion", "Deadline", "Authority", "AdviceText", "Advice", "RouteTo", "Route", "VERDICTS",
    "DeriveBranch", "Derivation", "Conflict", "Given",
    "Expectation", "Example", "Criteria", "KindSpec", "Fact", "Vocabulary",
]


def _to_fraction(value: Any) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        raise ValueError("exact values only: give a string such as '3/10' or '0.3'")
    return Fraction(value)


# An exact rational number, serialised as "p/q" (or "p") so JSON keeps it exact.
Rational = Annotated[
    Fraction,
    BeforeValidator(_to_fraction),
    PlainSerializer(lambda f: str(f), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(/\d+)?$",
                    "description": "an exact rational number, 'p/q' or 'p'"}),
]


_POSITIONS = frozenset({"span", "clause_spans"})  # where things are, not what they are: equality ignores them


class Node(BaseModel):
    """Base of every AST node: frozen, with a source span that equality ignores."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=False, defer_build=True)

    span: Span | None = Field(default=None, description="where the node is in its source file")

    def _key(self) -> tuple:
        return tuple((name, getattr(self, name)) for name in type(self).model_fields if name not in _POSITIONS)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._key() == other._key()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + self._key())

    def children(self) -> list["Node"]:
        """The nodes directly below this one, in field order."""
        found: list[Node] = []
        names = _CHILD_FIELDS.get(type(self))
        if names is None:  # once a class: reading model_fields costs more than the rest of this call
            names = _CHILD_FIELDS[type(self)] = tuple(n for n in type(self).model_fields if n not in _POSITIONS)
        for name in names:
            value = getattr(self, name)
            if isinstance(value, tuple):
                found.extend(item for item in value if isinstance(item, Node))
            elif isinstance(value, Node):
                found.append(value)
        return found

    def walk(self):
        """This node and every node below it, depth first (with a stack: nested generators cost a level each)."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children()))


# The fields of each node class that may hold nodes (not its positions), by class.
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


# ------------------------------------------------------------------ expressions
# Resolved fields: `kind` is the kind name of a numeric value ("effective dose",
# "number", ...), or "yes or no", "one of", "one or more of" for facts;
# `value` is the exact value in the kind's base unit (Sv, Gy, Bq, m, year).


class Ref(Node):
    """A name: a fact of the vocabulary or a definition (`total_dose`, `child`)."""

    type: Literal["ref"] = "ref"
    name: str
    target: Literal["fact", "definition"] | None = None  # resolved
    kind: str | None = None  # resolved


class Number(Node):
    """A number, with a unit or without: `3 mSv`, `10`, `16 years`."""

    type: Literal["number"] = "number"
    text: str
    unit: str | None = None
    kind: str | None = None  # resolved
    value: Rational | None = None  # resolved, in the kind's base unit


class Percent(Node):
    """A percentage on its own, a ratio: `50%`."""

    type: Literal["percent"] = "percent"
    text: str
    value: Rational | None = None  # resolved, as a ratio (50% -> 1/2)


class Scale(Node):
    """A multiple of a value: `1.1 times ptv_intended_dose`, `50% of intended_images`."""

    type: Literal["scale"] = "scale"
    factor: str
    percent: bool = False
    operand: "Expr"
    value: Rational | None = None  # resolved factor (50% -> 1/2)
    kind: str | None = None  # resolved


class Ratio(Node):
    """One value divided by another of the same kind: `total_dose / intended_dose`."""

    type: Literal["ratio"] = "ratio"
    numerator: "Expr"
    denominator: "Expr"
    kind: str | None = None  # resolved: always "number"


class Compare(Node):
    """A comparison, possibly chained for a band: `0.3 mSv <= intended_dose < 2.5 mSv`."""

    type: Literal["compare"] = "compare"
    operands: tuple["Expr", ...]
    ops: tuple[str, ...] = Field(description="canonical operators: >=, <=, >, <, =, !=")
    kind: str | None = None  # resolved: the kind compared


class IsValue(Node):
    """A test of a fact with a list of values: `tissue_reaction is not none`."""

    type: Literal["is"] = "is"
    fact: str
    values: tuple[str, ...]
    negated: bool = False
    one_of: bool = False


class Includes(Node):
    """A test of a fact that holds one or more values: `modality includes radiotherapy`."""

    type: Literal["includes"] = "includes"
    fact: str
    values: tuple[str, ...]


class Tolerance(Node):
    """`delivered_activity outside ±20% of prescribed_activity` (or `within`)."""

    type: Literal["tolerance"] = "tolerance"
    value: "Expr"
    reference: "Expr"
    percent: str
    outside: bool = True
    fraction: Rational | None = None  # resolved (20% -> 1/5)
    kind: str | None = None  # resolved


class CriteriaOf(Node):
    """The `when` condition of another row: `criteria of 8.1`."""

    type: Literal["criteria_of"] = "criteria_of"
    code: str


class Constant(Node):
    """`always` or `never`."""

    type: Literal["constant"] = "constant"
    value: bool


class Not(Node):
    type: Literal["not"] = "not"
    operand: "Expr"


class And(Node):
    type: Literal["and"] = "and"
    operands: tuple["Expr", ...]


class Or(Node):
    type: Literal["or"] = "or"
    operands: tuple["Expr", ...]


class CaseBranch(Node):
    type: Literal["branch"] = "branch"
    value: "Expr"
    condition: "Expr"


class Case(Node):
    """`age < 16 years if jurisdiction is Scotland` / `age < 18 years otherwise`."""

    type: Literal["case"] = "case"
    branches: tuple[CaseBranch, ...]
    otherwise: "Expr"
    kind: str | None = None  # resolved


Expr = Annotated[
    Union[Ref, Number, Percent, Scale, Ratio, Compare, IsValue, Includes, Tolerance, CriteriaOf,
          Constant, Not, And, Or, Case],
    Field(discriminator="type"),
]


# ---------------------------------------------------------------- declarations


class Text(Node):
    """A line of text: the regulator's words (`says`) or ours (`note`)."""

    text: str


class Interpretation(Node):
    """A reading we chose where the guidance is unclear; listed in docs/interpretations.md."""

    id: str
    text: str


class Allow(Node):
    """A lint finding accepted on purpose: `allow band_edge "the reason"`."""

    rule: str
    reason: str


class Literal_(Node):
    """A literal value in an example or a default: `England`, `6 mSv`, `yes`, `2024-09-01`."""

    form: Literal["name", "string", "number", "percent", "date", "list"]
    text: str = ""
    unit: str | None = None
    items: tuple["Literal_", ...] = ()

    def as_input(self) -> Any:
        """The value as an incident would give it in JSON."""
        if self.form == "list":
            return [item.as_input() for item in self.items]
        if self.form == "number" and self.unit:
            return f"{self.text} {self.unit}"
        if self.form == "number":
            # A long digit string stays text: int() refuses 4,300 digits, and the reader bounds it anyway.
            return int(self.text) if self.text.isdigit() and len(self.text) <= 30 else self.text
        if self.form == "name" and self.text in ("yes", "no"):
            return self.text == "yes"
        return self.text


class Documented(Node):
    clause_spans: dict[str, Span] = Field(default_factory=dict,
                                          description="where each clause of the block is (its first line)")
    says: tuple[Text, ...] = ()
    notes: tuple[Text, ...] = ()
    interpretations: tuple[Interpretation, ...] = ()
    allows: tuple[Allow, ...] = ()

    def at(self, clause: str) -> Span | None:
        """Where a clause of the block is (its first line), or the block itself."""
        return self.clause_spans.get(clause, self.span)


class Header(Node):
    version: str
    title: str | None = None
    publisher: str | None = None
    published: dt.date | None = None
    in_force: dt.date | None = None
    supersedes: str | None = None
    source: str | None = None
    vocabulary: str | None = None


class Definition(Documented):
    name: str
    body: Expr


class Row(Documented):
    """A row of a guidance table."""

    code: str
    label: str | None = Field(default=None, description="tells apart rows that share a code: 'England only'")
    table: str = ""
    category: Text | None = None
    exposure: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()
    band: Expr | None = None
    when: Expr | None = None
    unless: Expr | None = None

    @property
    def name(self) -> str:
        return f"{self.code} ({self.label})" if self.label else self.code


class Table(Documented):
    title: str
    exposure: tuple[str, ...] = ()
    rows: tuple[Row, ...] = ()


class Complementary(Documented):
    code: str
    category: Text | None = None
    suffix_from: int | None = None
    suffix_to: int | None = None
    role: str | None = None
    when: Expr | None = None


class Exclusion(Documented):
    name: str
    codes: tuple[str, ...] = ()
    when: Expr | None = None


class Deadline(Documented):
    name: str
    amount: Number
    after: str
    days: int | None = None  # resolved


class Authority(Documented):
    jurisdiction: str
    name: str | None = None
    contact: str | None = None


class AdviceText(Node):
    jurisdictions: tuple[str, ...]
    text: str


class Advice(Documented):
    name: str
    when: Expr | None = None
    texts: tuple[AdviceText, ...] = ()


class RouteTo(Node):
    """Where a route goes: everywhere (no jurisdictions), or in the jurisdictions named."""

    jurisdictions: tuple[str, ...] = ()
    text: str


# The verdicts a route may name, as a result's `notifiable` is true, false or null.
VERDICTS: dict[str, bool | None] = {"notifiable": True, "not notifiable": False, "undetermined": None}


class Route(Documented):
    """`route hse`: where an incident also goes (the HSE, ARSAC, local investigation), why, and when."""

    name: str
    when: Expr | None = None
    to: tuple[RouteTo, ...] = ()
    why: str | None = None
    verdicts: tuple[Literal["notifiable", "not notifiable", "undetermined"], ...] = Field(
        default=(), description="the verdicts the route applies to; empty: every verdict")

    def destination(self, jurisdiction: str | None) -> tuple[RouteTo, ...]:
        """The `to` lines for a jurisdiction: the one naming it, else the one for everywhere; all when unknown.

        >>> r = Route(name="hse", to=(RouteTo(text="HSE"), RouteTo(jurisdictions=("Northern Ireland",), text="HSENI")))
        >>> [t.text for t in r.destination("Wales")], [t.text for t in r.destination("Northern Ireland")]
        (['HSE'], ['HSENI'])
        >>> len(r.destination(None))
        2
        """
        if jurisdiction is None:
            return self.to
        named = tuple(t for t in self.to if jurisdiction in t.jurisdictions)
        return named or tuple(t for t in self.to if not t.jurisdictions)


class DeriveBranch(Node):
    """`unintended if event is wrong_laterality`: a value of the derived fact, and when it is the value."""

    value: str
    condition: Expr


class Derivation(Documented):
    """`derive exposure`: a fact worked out from others, once, when an incident is read.

    The first branch whose condition holds gives the value; when none holds, or one before it is
    unknown, the fact stays as the incident gives it (unknown if absent). Given too, and different,
    it is an error naming both facts.
    """

    fact: str
    branches: tuple[DeriveBranch, ...] = ()
    reads: tuple[str, ...] = Field(default=(), description="resolved: the facts the conditions read, in order")

    @property
    def name(self) -> str:
        return self.fact


class Conflict(Documented):
    """`conflict NAME`: facts that contradict each other; an incident that gives them all and meets
    the condition is refused, and its result names the facts."""

    name: str
    when: Expr | None = None
    message: str | None = None
    reads: tuple[str, ...] = Field(default=(), description="resolved: the facts the condition reads, in order")


class Given(Node):
    name: str
    value: Literal_


class Expectation(Node):
    what: Literal["notifiable", "not notifiable", "undetermined", "codes", "missing", "date", "authority", "routes"]
    items: tuple[str, ...] = ()
    field: str | None = None


class Example(Documented):
    title: str
    given: tuple[Given, ...] = ()
    expects: tuple[Expectation, ...] = ()


class Criteria(Node):
    """A whole criteria file: one version of the guidance."""

    type: Literal["criteria"] = "criteria"
    header: Header
    allows: tuple[Allow, ...] = Field(default=(), description="lint findings accepted for the whole file")
    definitions: tuple[Definition, ...] = ()
    tables: tuple[Table, ...] = ()
    complementary: tuple[Complementary, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
    authorities: tuple[Authority, ...] = ()
    advice: tuple[Advice, ...] = ()
    routes: tuple[Route, ...] = ()
    derivations: tuple[Derivation, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    examples: tuple[Example, ...] = ()

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(row for table in self.tables for row in table.rows)


# ------------------------------------------------------------------ vocabulary


class KindSpec(Node):
    """The kind of a fact: a name from the kinds table, or an enumeration."""

    name: str = Field(description="'one of', 'one or more of', 'yes or no', or a kind of the kinds table")
    values: tuple[str, ...] = ()


class Fact(Documented):
    name: str
    kind: KindSpec
    absent: Literal_ | None = None
    assumed: bool = Field(default=False, description="`absent assumes`: the absent value is a judgement, reported "
                                                     "in a result's `assumed` when it decides the verdict or codes")
    minimum: Number | None = None
    unit: str | None = None


class Vocabulary(Node):
    type: Literal["vocabulary"] = "vocabulary"
    title: str
    says: tuple[Text, ...] = ()
    notes: tuple[Text, ...] = ()
    facts: tuple[Fact, ...] = ()

    def fact(self, name: str) -> Fact | None:
        for fact in self.facts:
            if fact.name == name:
                return fact
        return None


# Every model builds its validator when it first validates (defer_build): a process that only reads
# checked ASTs from the cache (evaluator/cache.py) never pays for building them.
