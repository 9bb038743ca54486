"""Stage 4, the SQL backend: checked criteria compiled to one SQL query, printed by sqlglot.

The query reads a table of incidents (one column per fact of the vocabulary,
any other column passed through) and adds the result's columns: notifiable,
codes, complementary, missing, authority, notify_by, report_by, criteria,
error. It is built as sqlglot expressions, by tables of generators keyed by
node type (``BOOL_RULES``, ``NUMBER_RULES``, like the interpreter's), and
sqlglot's dialects print it: DuckDB and Spark run it; Postgres and BigQuery
print it for a warehouse (``irmer sql``).

The answers are the interpreter's, row for row, including for unknown facts:

- numbers are exact: ``DECIMAL(30, 12)`` in each kind's base unit (Sv, Gy, Bq,
  m, year), parsed from the incident's strings in SQL (``"3000 uSv"``), never
  a float; comparisons with a multiple or a ratio are multiplied out with
  integer coefficients, so no division is ever rounded;
- logic is three-valued, NULL is unknown (SQL's AND, OR and NOT are Kleene's);
- an unknown number is an interval, its ends SQL expressions (an end may be
  infinite, or open), so ``additional_images >= 50% of intended_images`` is
  false for 0 additional images whatever the intended ones;
- where Kleene logic leaves a criterion unknown, the query enumerates the
  same case split as the interpreter (same facts, same regions, same budget of
  1024 cases), inside a lambda over the cases, and decides when every case
  agrees;
- a value the SQL does not read exactly (an exponent, a unit in days, a
  spelling it does not know, a bad value) sets the row's ``_irmer_fallback``
  column: the engine evaluates that row in Python instead, so a row is never
  answered differently, and a bad value gets the Python reader's message.

>>> from evaluator import load_criteria
>>> query = compile_query(load_criteria("2024").checked, "incidents")
>>> "_irmer_fallback" in print_sql(query, "duckdb")
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache, reduce
from typing import Any, Callable, Iterable, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.dialects.spark import Spark

from ..language import ast
from ..language.check import Checked
from ..language.units import ACCEPTED, BOOL, ENUM, KINDS, SET, resolve_unit
from ..language.values import FactInfo
from .logic import INF, INTERVAL_COMPARE as STATIC_COMPARE, Interval
from .plan import SCOPE_FACTS, SPLIT_BUDGET, Choice, Plan, Split, category_conjuncts, facts_of

SCALE = 12  # digits after the point, in the kind's base unit: 1 pSv, 1 pGy, 1 pm, ...
PRECISION = 30  # total digits: values below 10^18 base units
NUMERIC = f"DECIMAL({PRECISION}, {SCALE})"
DIALECTS = ("duckdb", "spark", "postgres", "bigquery")

# The result columns the query adds, in order.
RESULT_COLUMNS = ("notifiable", "codes", "complementary", "missing", "authority", "notify_by", "report_by",
                  "criteria", "error")
FALLBACK = "_irmer_fallback"  # true where a value is one the SQL does not read: Python evaluates the row
REFUSED = "_irmer_derived"  # a derivation or a conflict applies: Python evaluates the row (engines/derive.py)
UNDECIDED = "_irmer_undecided"  # without the case split in SQL: true where the row needs it (Python decides)
SPLIT = "_irmer_split"  # with the case split as "explode": the row was split for some decision
OPEN = "_irmer_open"  # without the case split, on request: the decisions the row leaves open, one bit each
COMPLEMENTARY_MET = "_irmer_some_complementary"  # some complementary code is met: its suffix is wanted
ENVELOPE_COLUMNS = ("id", "description", "date_of_birth", "exposure_date")

# How a column holds its values, from the table's schema (columnar.py reads it):
# text is read as the incident JSON would be ("3000 uSv", "England", "yes");
# a number is a bare number (in the unit declared for the column, or the fact's own unit).
COLUMN_TYPES = ("text", "integer", "decimal", "float", "boolean", "date", "list", "other")


class SQLUnsupported(Exception):
    """Criteria the SQL backend does not compile (the rows are then evaluated in Python)."""


# ------------------------------------------------------------- SQL helpers
# A condition is an sqlglot expression, or a Python constant folded away
# (True, False, or None for the unknown constant).

B = Any  # exp.Expression | bool | None


def to_sql(value: B) -> exp.Expression:
    if value is True:
        return exp.true()
    if value is False:
        return exp.false()
    if value is None:
        return cast(exp.null(), "BOOLEAN")
    return value


def AND(*values: B) -> B:
    """Kleene's and, with constants folded."""
    parts: list[B] = []
    for value in values:
        if value is False:
            return False
        if value is True:
            continue
        parts.append(value)
    if not parts:
        return True
    if all(p is None for p in parts):
        return None
    # Flat (`a AND b AND c`), not nested pair by pair: the parentheses of a left-deep chain cost Spark's
    # parser (ANTLR) seconds per level of nesting on a cold start.
    return exp.and_(*[_operand(p) for p in parts], copy=False, wrap=False)


def OR(*values: B) -> B:
    """Kleene's or, with constants folded."""
    parts: list[B] = []
    for value in values:
        if value is True:
            return True
        if value is False:
            continue
        parts.append(value)
    if not parts:
        return False
    if all(p is None for p in parts):
        return None
    return exp.or_(*[_operand(p) for p in parts], copy=False, wrap=False)


def _operand(value: B) -> exp.Expr:
    """An operand of AND or OR: in parentheses only where it is itself an AND or OR (every other condition
    binds tighter), so the printed query nests no deeper than its logic."""
    node = to_sql(value)
    return exp.paren(node, copy=False) if isinstance(node, exp.Connector) else node


def NOT(value: B) -> B:
    if value is None or isinstance(value, bool):
        return None if value is None else not value
    return exp.not_(exp.paren(value, copy=False), copy=False)


def IS_NULL(value: B) -> B:
    """Two-valued: is a condition unknown?"""
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    return exp.Is(this=value if isinstance(value, exp.Column) else exp.paren(value, copy=False), expression=exp.null())


def TRI(true: B, false: B) -> B:
    """True where `true` holds, false where `false` holds, else unknown."""
    if true is True:
        return True
    if true is False and false is True:
        return False
    if true is False and false is False:
        return None
    case = exp.Case()
    if true is not False:
        case = case.when(to_sql(true), exp.true(), copy=False)
    if false is not False:
        case = case.when(to_sql(false), exp.false(), copy=False)
    return cast(case, "BOOLEAN") if false is not True else case.else_(exp.false(), copy=False)


def CASE(pairs: list[tuple[B, Any]], default: Any = None) -> Any:
    """CASE WHEN ... with constant conditions folded; values are expressions."""
    case = exp.Case()
    for condition, value in pairs:
        if condition is False or condition is None:
            continue
        if condition is True:
            if not case.args.get("ifs"):
                return value
            return case.else_(_value(value), copy=False)
        case = case.when(to_sql(condition), _value(value), copy=False)
    if not case.args.get("ifs"):
        return default
    if default is not None:
        case = case.else_(_value(default), copy=False)
    return case


def _value(value: Any) -> exp.Expression:
    return to_sql(value) if value is None or isinstance(value, bool) else value


@lru_cache(maxsize=None)
def _type(name: str) -> exp.DataType:
    return exp.DataType.build(name)


def cast(value: exp.Expression, to: str) -> exp.Cast:
    """CAST without copying the operand (sqlglot's builder copies by default)."""
    return exp.Cast(this=value, to=_type(to).copy())


def _copy(value: B) -> B:
    return value.copy() if isinstance(value, exp.Expression) else value


def _again(value: B) -> B:
    """`value`, used in a second place of the query without a copy of it.

    A query is built to be printed once and never edited after (query_for and
    create_view print it in place, copy=False), so a subtree may sit in two
    places: sqlglot prints each place from the same nodes. Only conditions and
    arithmetic are shared this way, none of whose printing depends on where
    they sit. Copying the large ones (a split's running count of cases, which
    facts it keeps, the conditions of `missing`) was most of a build.
    """
    return value


def column(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def string(text: str) -> exp.Literal:
    return exp.Literal.string(text)


def integer(value: int) -> exp.Expression:
    return exp.Literal.number(value)


def decimal(value: Fraction) -> exp.Expression:
    """An exact DECIMAL literal; refused when the value has no exact decimal at SCALE."""
    scaled = value * 10 ** SCALE
    if scaled.denominator != 1:
        raise SQLUnsupported(f"{value} has no exact decimal with {SCALE} digits")
    return cast(string(_decimal_text(value)), NUMERIC)


def _decimal_text(value: Fraction) -> str:
    scaled = int(value * 10 ** SCALE)
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(SCALE + 1, "0")
    whole, frac = digits[:-SCALE], digits[-SCALE:].rstrip("0")
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def whole(value: int) -> exp.Expression:
    """An integer coefficient, as a DECIMAL with no fraction digits."""
    return cast(exp.Literal.number(value), f"DECIMAL({max(len(str(abs(value))), 1)}, 0)")


@lru_cache(maxsize=None)
def _template(text: str, dialect: str = "duckdb") -> exp.Expression:
    return sqlglot.parse_one(text, read=dialect)


def template(text: str, dialect: str = "duckdb", **values: exp.Expression) -> exp.Expression:
    """An expression from a small SQL template with :name placeholders (parsed once)."""
    return exp.replace_placeholders(_template(text, dialect).copy(), **values)


# ------------------------------------------------------------- intervals

@dataclass(frozen=True)
class End:
    """One end of an interval: k * e / d (e, d SQL numbers, None for 1; d > 0), or +∞ where `inf`.

    Invariant: e and d are not NULL wherever inf is false.
    """

    k: Fraction
    e: exp.Expression | None = None
    d: exp.Expression | None = None
    inf: B = False

    def scale(self, factor: Fraction) -> "End":
        return replace(self, k=self.k * factor)


@dataclass(frozen=True)
class Num:
    """The values a number may take (the interpreter's Interval), as SQL expressions.

    Most rows give the facts a comparison needs, so a number also says what it
    is then: `point`, its exact value wherever `known` holds; and `static`, the
    interval it is wherever `known` fails, when that does not depend on the row
    (an unknown fact is [its minimum, ∞)). Comparisons take the short way where
    they can and the interval way only for the other rows.
    """

    lo: End
    hi: End
    lo_open: B = False
    hi_open: B = False
    point: End | None = None
    known: B = False
    static: Interval | None = None


ZERO = End(Fraction(0))
INFINITE = End(Fraction(0), inf=True)


def constant(value: Fraction) -> Num:
    return Num(End(value), End(value), point=End(value), known=True)


def _finite(x: End, op: str, y: End) -> B:
    """x op y for finite ends: kx*ex*dy op ky*ey*dx, multiplied out with integer coefficients."""
    left = [f for f in (x.e, y.d) if f is not None]
    right = [f for f in (y.e, x.d) if f is not None]
    if len(left) > 1 or len(right) > 1:
        raise SQLUnsupported("a comparison that multiplies two facts together")
    if not left and not right:
        return {">=": x.k >= y.k, ">": x.k > y.k, "=": x.k == y.k}[op]
    common = math.lcm(x.k.denominator, y.k.denominator)
    a, b = int(x.k * common), int(y.k * common)
    lhs, rhs = _times(a, left[0] if left else None), _times(b, right[0] if right else None)
    return {">=": exp.GTE, ">": exp.GT, "=": exp.EQ}[op](this=lhs, expression=rhs)


def _times(n: int, factor: exp.Expression | None) -> exp.Expression:
    if factor is None or n == 0:
        return whole(n)
    if n == 1:
        return factor.copy()
    return exp.Mul(this=whole(n), expression=factor.copy())


def end_ge(x: End, y: End) -> B:
    return OR(x.inf, AND(NOT(y.inf), _finite(x, ">=", y)))


def end_gt(x: End, y: End) -> B:
    return OR(AND(x.inf, NOT(y.inf)), AND(NOT(x.inf), NOT(y.inf), _finite(x, ">", y)))


def end_eq(x: End, y: End) -> B:
    return OR(AND(x.inf, y.inf), AND(NOT(x.inf), NOT(y.inf), _finite(x, "=", y)))


def is_zero(x: End) -> B:
    if x.k == 0:
        return NOT(x.inf)
    return AND(NOT(x.inf), exp.EQ(this=x.e.copy(), expression=whole(0)) if x.e is not None else False)


def is_positive(x: End) -> B:
    if x.k == 0:
        return x.inf
    return OR(x.inf, exp.GT(this=x.e.copy(), expression=whole(0)) if x.e is not None else True)


def i_ge(a: Num, b: Num) -> B:
    return TRI(end_ge(a.lo, b.hi), OR(end_gt(b.lo, a.hi), AND(end_eq(a.hi, b.lo), OR(a.hi_open, b.lo_open))))


def _gt_true(a: Num, b: Num) -> B:
    return OR(end_gt(a.lo, b.hi), AND(end_eq(a.lo, b.hi), OR(a.lo_open, b.hi_open)))


def i_gt(a: Num, b: Num) -> B:
    return TRI(_gt_true(a, b), end_ge(b.lo, a.hi))


def _known(a: Num) -> B:
    return AND(end_eq(a.lo, a.hi), NOT(a.lo_open), NOT(a.hi_open))


def i_eq(a: Num, b: Num) -> B:
    both = AND(_known(a), _known(b))
    apart = OR(_gt_true(a, b), _gt_true(b, a))
    if both is True:
        return end_eq(a.lo, b.lo)
    if both is False:
        return TRI(False, apart)
    equal = end_eq(a.lo, b.lo)
    return cast(CASE([(both, to_sql(equal)), (apart, exp.false())]), "BOOLEAN")


# Canonical operator -> how two intervals compare (the interpreter's INTERVAL_COMPARE).
INTERVAL_COMPARE: dict[str, Callable[[Num, Num], B]] = {
    ">=": i_ge, ">": i_gt, "<=": lambda a, b: i_ge(b, a), "<": lambda a, b: i_gt(b, a),
    "=": i_eq, "!=": lambda a, b: NOT(i_eq(a, b)),
}


def scale(value: Num, factor: Fraction) -> Num:
    if factor == 0:
        return constant(Fraction(0))
    return Num(value.lo.scale(factor), replace(value.hi, k=value.hi.k * factor), value.lo_open, value.hi_open,
               value.point.scale(factor) if value.point is not None else None, value.known,
               value.static.scale(factor) if value.static is not None else None)


_SWAPPED = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "=": "=", "!=": "!="}


def _point_compare(x: End, op: str, y: End) -> B:
    """Two exact values compared: the short way."""
    if op in ("<=", "<"):
        return _finite(y, _SWAPPED[op], x)
    if op == "!=":
        return NOT(_finite(x, "=", y))
    return _finite(x, op, y)


def compare(a: Num, op: str, b: Num) -> B:
    """The interpreter's comparison of intervals, the short way for rows whose values are known."""
    general = INTERVAL_COMPARE[op](a, b)
    if a.point is None or b.point is None:
        return general
    fast = _point_compare(a.point, op, b.point)
    known = AND(a.known, b.known)
    if known is True:
        return fast
    # A fact compared with a constant: where the fact is unknown, the answer does not depend on the row
    # (and the short way gives NULL there, as its column is NULL).
    for side, other, flip in ((a, b, False), (b, a, True)):
        constant = other.known is True and other.point.e is None and other.point.d is None
        if constant and side.static is not None and isinstance(side.known, exp.Is | exp.Not):
            value = Interval(other.point.k, other.point.k)
            static = STATIC_COMPARE[op](value, side.static) if flip else STATIC_COMPARE[op](side.static, value)
            return fast if static is None else exp.Coalesce(this=to_sql(fast), expressions=[to_sql(static)])
    return CASE([(known, to_sql(fast))], to_sql(general))


def _product(a: exp.Expression | None, b: exp.Expression | None) -> exp.Expression | None:
    if a is None or b is None:
        return a if b is None else b
    raise SQLUnsupported("a ratio that multiplies two facts together")


def divide(a: Num, b: Num) -> Num:
    """a / b for non-negative intervals, as the interpreter's _divide: x/0 is ∞, 0/0 is [0, ∞)."""
    if a.lo.inf is not False:
        raise SQLUnsupported("a ratio of a ratio")
    # The low end: 0 when b may be infinite, ∞ when b is 0 and a is not, else a.lo / b.hi.
    b_zero = AND(NOT(b.hi.inf), is_zero(b.hi))
    lo_inf = AND(b_zero, is_positive(a.lo))
    lo_zero = OR(b.hi.inf, AND(b_zero, NOT(is_positive(a.lo))))
    if lo_zero is True:
        lo = ZERO
    elif lo_inf is True:
        return Num(INFINITE, INFINITE)
    else:
        k = a.lo.k / b.hi.k
        e, d = _product(a.lo.e, b.hi.d), _product(a.lo.d, b.hi.e)
        if lo_zero is not False:
            e = CASE([(lo_zero, whole(0))], e if e is not None else whole(1))
            d = CASE([(lo_zero, whole(1))], d if d is not None else whole(1))
        lo = End(k, e, d, lo_inf)
    lo_open = AND(NOT(lo_zero), NOT(lo_inf), OR(a.lo_open, b.hi_open))
    # The high end: ∞ when b may be 0 or a may be infinite, else a.hi / b.lo.
    hi_inf = OR(is_zero(b.lo), a.hi.inf)
    if hi_inf is True:
        hi = INFINITE
    else:
        if a.hi.k == 0 or b.lo.k == 0:
            raise SQLUnsupported("a ratio with a constant zero")
        hi = End(a.hi.k / b.lo.k, _product(a.hi.e, b.lo.d), _product(a.hi.d, b.lo.e), hi_inf)
    hi_open = AND(NOT(hi_inf), OR(a.hi_open, b.lo_open))
    point, known = None, False
    if a.point is not None and b.point is not None and a.point.d is None and b.point.d is None and b.point.k != 0:
        point = End(a.point.k / b.point.k, a.point.e, b.point.e)
        # exact where both are known and the denominator is not 0 (x/0 is ∞ or unknown)
        known = AND(a.known, b.known, exp.GT(this=b.point.e.copy(), expression=whole(0))
                    if b.point.e is not None else True)
    return Num(lo, hi, lo_open, hi_open, point, known)


def hull(values: list[Num]) -> Num:
    """The smallest interval holding constant intervals (closed ends, as the interpreter's _hull)."""
    los = [v.lo.k for v in values]
    his = [v.hi for v in values]
    if any(v.lo.e is not None or v.lo.d is not None or v.hi.e is not None or v.hi.d is not None for v in values):
        raise SQLUnsupported("a case whose branches are not constants")
    hi = INFINITE if any(h.inf is True for h in his) else End(max(h.k for h in his))
    return Num(End(min(los)), hi)


# ------------------------------------------------------------- environments

Missing = dict[str, B]  # fact -> when it is among the facts that would decide (two-valued)


def union(*parts: Missing) -> Missing:
    out: Missing = {}
    for part in parts:
        for fact, when in part.items():
            out[fact] = OR(out.get(fact, False), when)
    return {f: w for f, w in out.items() if w is not False}


def only_if(condition: B, missing: Missing) -> Missing:
    """The interpreter's _missing_if: the facts count only while the result is unknown."""
    if condition is False or not missing:
        return {}
    return {f: w for f, w in ((f, AND(condition, w)) for f, w in missing.items()) if w is not False}


def value_name(fact: str, value: str) -> str:
    return f"_v_{fact}__{value}"


class Env:
    """The facts of a row, as SQL: the columns the reading layer made."""

    def __init__(self, facts: Mapping[str, FactInfo]):
        self.facts = facts

    def raw(self, fact: str) -> exp.Expression:
        return column(f"_v_{fact}")

    def unknown(self, fact: str) -> B:
        info = self.facts[fact]
        if info.has_default:
            return False
        if info.kind == SET:
            return exp.Is(this=column(value_name(fact, info.values[0])), expression=exp.null())
        return exp.Is(this=self.raw(fact), expression=exp.null())

    def number(self, fact: str) -> Num:
        info = self.facts[fact]
        floor = info.minimum or Fraction(0)
        value = self.raw(fact)
        if info.has_default:
            return Num(End(Fraction(1), value), End(Fraction(1), value), point=End(Fraction(1), value), known=True)
        low = exp.Coalesce(this=value, expressions=[decimal(floor)])
        return Num(End(Fraction(1), low), End(Fraction(1), value.copy(), inf=self.unknown(fact)),
                   point=End(Fraction(1), self.raw(fact)), known=NOT(self.unknown(fact)), static=Interval(floor, INF))

    def named(self, fact: str) -> B:
        return self.raw(fact)

    def truth(self, fact: str) -> B:
        return self.raw(fact)

    def has(self, fact: str, value: str) -> B:
        return column(value_name(fact, value))


class CaseEnv(Env):
    """The facts of a row in one case of a split: an unknown fact the split keeps takes the case's value.

    Which unknown facts are kept (the interpreter's budget of cases) depends on
    the row, so it is worked out in SQL, as is each fact's index in the case
    number `i` (a mixed-radix digit). Each case is a struct with the value of
    every fact of the split (`fields`, built once per case), and the
    expressions read its fields, so a fact used many times costs a field read.
    """

    CASE = "_irmer_c"  # the lambda's name for one case

    def __init__(self, base: Env, choices: Iterable[Choice], i: exp.Expression,
                 relevant: Mapping[str, B] | None = None, plan: str = "_irmer_plan",
                 live: Mapping[str, B] | None = None):
        super().__init__(base.facts)
        self.PLAN = plan
        self.base = base
        choices = list(choices)
        self.splits = {c.fact: c for c in choices}
        self.slot = {c.fact: n for n, c in enumerate(choices)}
        # Per row, once: which facts the budget keeps, each one's radix, and the number of cases
        # (the struct `plan`, bound to PLAN by a lambda); per case, each fact's digit of i.
        self.plan: list[tuple[str, exp.Expression]] = []
        kept: dict[str, B] = {}
        index: dict[str, exp.Expression] = {}
        product: exp.Expression = integer(1)  # the cases so far, capped above the budget
        cap = integer(2 * SPLIT_BUDGET)
        for n, choice in enumerate(choices):
            size = len(choice.values)
            # A fact is enumerated when unknown and read by some part the row's scope does not rule out
            # (engines/split.py Split.cases).
            unknown = AND(base.unknown(choice.fact), _again((live or {}).get(choice.fact, True)))
            # copy=False: the product so far goes into the new one as it is (a copy of it at every step
            # made building the query quadratic in the facts of a split).
            product = exp.func("LEAST", exp.Mul(this=product, expression=exp.paren(
                CASE([(unknown, integer(size))], integer(1)), copy=False)), cap.copy(), copy=False)
            self.plan.append((f"k{n}", to_sql(AND(unknown, exp.LTE(this=_again(product),
                                                                    expression=integer(SPLIT_BUDGET))))))
            kept[choice.fact] = self.field(f"k{n}")
        radix: exp.Expression = integer(1)
        relevant = relevant or {}
        for n, choice in enumerate(choices):
            size = len(choice.values)
            self.plan.append((f"r{n}", _again(radix)))
            index[choice.fact] = exp.Mod(this=exp.paren(exp.IntDiv(this=i.copy(), expression=self.field(f"r{n}"))),
                                         expression=integer(size))
            # Only the kept facts some undecided term reads are enumerated (see QueryBuilder.refine).
            enumerated = AND(_again(dict(self.plan)[f"k{n}"]), relevant.get(choice.fact, True))
            radix = exp.Mul(this=radix, expression=exp.paren(CASE([(enumerated, integer(size))], integer(1)),
                                                             copy=False))
        self.plan.append(("n", radix))
        self.cases = self.field("n")  # the number of cases: the product of the kept facts' sizes
        # Sizes come in increasing order, so some fact is kept exactly when a fact that fits the
        # budget on its own is unknown (the first unknown one is then kept).
        self.any_kept = OR(*(AND(base.unknown(c.fact), _again((live or {}).get(c.fact, True)))
                             for c in choices if len(c.values) <= SPLIT_BUDGET))
        self.fields: list[tuple[str, exp.Expression]] = []
        self.used: set[str] = set()
        for choice in choices:
            self.fields += FIELD_RULES[self._form(choice.fact)](self, choice, kept[choice.fact], index[choice.fact])

    def field(self, name: str) -> exp.Expression:
        """A field of the row's plan (a struct column of the layer before)."""
        return exp.Dot(this=column(self.PLAN), expression=exp.to_identifier(name))

    def _form(self, fact: str) -> str:
        kind = self.facts[fact].kind
        return kind if kind in (ENUM, SET, BOOL) else "number"

    def _pick(self, choice: Choice, kept: B, index: exp.Expression, known: Any, choose: Callable[[Any], Any],
              otherwise: Any) -> exp.Expression:
        options = [choose(v) for v in choice.values]
        if all(isinstance(o, bool) for o in options) and options.count(True) == 1:
            picked: Any = exp.EQ(this=index, expression=integer(options.index(True)))
        else:
            picked = exp.Case(this=index, ifs=[exp.If(this=integer(n), true=_value(o)) for n, o in enumerate(options)])
        return _value(CASE([(NOT(self.base.unknown(choice.fact)), known), (kept, picked)], otherwise))

    def _field(self, fact: str, part: str) -> exp.Expression:
        name = f"_{self.slot[fact]}{part}"
        self.used.add(name)
        return exp.column(name, table=self.CASE)

    def struct(self) -> exp.Struct:
        """One case: the fields the compiled expressions read."""
        return exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(name), expression=value)
                                       for name, value in self.fields if name in self.used])

    def fields_number(self, choice: Choice, kept: B, index: exp.Expression) -> list[tuple[str, exp.Expression]]:
        floor = self.facts[choice.fact].minimum or Fraction(0)
        value = self.base.raw(choice.fact)
        n = self.slot[choice.fact]
        return [
            (f"_{n}lo", self._pick(choice, kept, index, value, lambda r: decimal(r.lo), decimal(floor))),
            (f"_{n}hi", self._pick(choice, kept, index.copy(), value.copy(),
                                   lambda r: decimal(r.hi) if r.hi != INF else decimal(Fraction(0)),
                                   decimal(Fraction(0)))),
            (f"_{n}inf", self._pick(choice, kept, index.copy(), exp.false(), lambda r: r.hi == INF, exp.true())),
            (f"_{n}lop", self._pick(choice, kept, index.copy(), exp.false(), lambda r: r.lo_open, exp.false())),
            (f"_{n}hop", self._pick(choice, kept, index.copy(), exp.false(), lambda r: r.hi_open, exp.false())),
        ]

    def fields_enum(self, choice: Choice, kept: B, index: exp.Expression) -> list[tuple[str, exp.Expression]]:
        return [(f"_{self.slot[choice.fact]}v", self._pick(choice, kept, index, self.base.raw(choice.fact), string,
                                                           cast(exp.null(), "VARCHAR")))]

    def fields_bool(self, choice: Choice, kept: B, index: exp.Expression) -> list[tuple[str, exp.Expression]]:
        return [(f"_{self.slot[choice.fact]}v", self._pick(choice, kept, index, self.base.raw(choice.fact),
                                                           lambda v: v, cast(exp.null(), "BOOLEAN")))]

    def fields_set(self, choice: Choice, kept: B, index: exp.Expression) -> list[tuple[str, exp.Expression]]:
        info = self.facts[choice.fact]
        return [(f"_{self.slot[choice.fact]}h{j}",
                 self._pick(choice, kept, index.copy(), self.base.has(choice.fact, value),
                            lambda v, value=value: value in v, cast(exp.null(), "BOOLEAN")))
                for j, value in enumerate(info.values)]

    def number(self, fact: str) -> Num:
        if fact not in self.splits:
            return self.base.number(fact)
        return Num(End(Fraction(1), self._field(fact, "lo")),
                   End(Fraction(1), self._field(fact, "hi"), inf=self._field(fact, "inf")),
                   self._field(fact, "lop") if any(r.lo_open for r in self.splits[fact].values) else False,
                   self._field(fact, "hop") if any(r.hi_open for r in self.splits[fact].values) else False)

    def named(self, fact: str) -> B:
        return self._field(fact, "v") if fact in self.splits else self.base.named(fact)

    def truth(self, fact: str) -> B:
        return self._field(fact, "v") if fact in self.splits else self.base.truth(fact)

    def has(self, fact: str, value: str) -> B:
        if fact not in self.splits:
            return self.base.has(fact, value)
        return self._field(fact, f"h{self.facts[fact].values.index(value)}")

    def unknown(self, fact: str) -> B:
        if fact not in self.splits:
            return self.base.unknown(fact)
        if self._form(fact) == "number":
            return self._field(fact, "inf")
        if self._form(fact) == SET:
            return IS_NULL(self._field(fact, "h0"))
        return IS_NULL(self._field(fact, "v"))


FIELD_RULES: dict[str, Callable[..., list[tuple[str, exp.Expression]]]] = {
    "number": CaseEnv.fields_number, ENUM: CaseEnv.fields_enum, BOOL: CaseEnv.fields_bool, SET: CaseEnv.fields_set,
}


# ------------------------------------------------------------- expressions

class Lets:
    """Definitions and `criteria of` worked out once per row, as columns of layers before the rows'.

    A value stored in layer n can be used from layer n + 1 on; a definition that
    uses another goes in a later layer.
    """

    def __init__(self) -> None:
        self.layers: list[Columns] = []
        self.done: dict[str, tuple[Any, Missing, int]] = {}

    def store(self, key: str, value: Any, missing: Missing, level: int) -> tuple[Any, Missing]:
        while len(self.layers) <= level:
            self.layers.append([])
        layer = self.layers[level]
        prefix = f"_d{len(self.done)}"

        def keep(part: Any, name: str) -> Any:
            if not isinstance(part, exp.Expression):
                return part
            layer.append((prefix + name, part))
            return column(prefix + name)

        if isinstance(value, Num):
            point = value.point
            if point is not None:
                point = End(point.k, keep(point.e, "pe"), keep(point.d, "pd"))
            value = Num(End(value.lo.k, keep(value.lo.e, "le"), keep(value.lo.d, "ld"), keep(value.lo.inf, "li")),
                        End(value.hi.k, keep(value.hi.e, "he"), keep(value.hi.d, "hd"), keep(value.hi.inf, "hi")),
                        keep(value.lo_open, "lo"), keep(value.hi_open, "ho"), point,
                        keep(value.known, "k"), value.static)
        else:
            value = keep(value, "")
        missing = {fact: keep(when, f"_m_{fact}") for fact, when in missing.items()}
        self.done[key] = (value, missing, level)
        return value, missing


class Compiler:
    """Conditions and numbers of one checked file, as SQL over an environment."""

    def __init__(self, checked: Checked, env: Env, track_missing: bool = True, lets: Lets | None = None):
        self.checked = checked
        self.env = env
        self.track = track_missing
        self.rows_by_code: dict[str, list[ast.Row]] = {}
        for row in checked.rows:
            self.rows_by_code.setdefault(row.code, []).append(row)
        self.memo: dict[str, tuple[Any, Missing]] = {}
        self.lets = lets
        self.levels: list[int] = []  # while storing a let: the first layer its body can go in

    def let(self, key: str, compute: Callable[[], tuple[Any, Missing]]) -> tuple[Any, Missing]:
        """A shared value: a column of an earlier layer (with lets), else computed once per compiler."""
        if self.lets is None:
            if key not in self.memo:
                self.memo[key] = compute()
            return _copy_pair(self.memo[key])
        if key not in self.lets.done:
            self.levels.append(0)
            value, missing = compute()
            level = self.levels.pop()
            self.lets.store(key, value, missing, level)
        value, missing, level = self.lets.done[key]
        if self.levels:
            self.levels[-1] = max(self.levels[-1], level + 1)
        return _copy_pair((value, missing))

    def truth(self, node: Any) -> tuple[B, Missing]:
        return BOOL_RULES[type(node)](self, node)

    def number(self, node: Any) -> tuple[Num, Missing]:
        return NUMBER_RULES[type(node)](self, node)

    def _missing(self, result: B, parts: Iterable[Missing]) -> Missing:
        if not self.track:
            return {}
        return only_if(IS_NULL(result), union(*parts))

    def b_compare(self, node: ast.Compare) -> tuple[B, Missing]:
        values = [self.number(op) for op in node.operands]
        result = AND(*(compare(values[i][0], op, values[i + 1][0]) for i, op in enumerate(node.ops)))
        return result, self._missing(result, (m for _, m in values))

    def b_is(self, node: ast.IsValue) -> tuple[B, Missing]:
        value = self.env.named(node.fact)
        if value is None:
            return None, {node.fact: True} if self.track else {}
        test: B = exp.In(this=exp.paren(value, copy=False), expressions=[string(v) for v in node.values])
        if node.negated:
            test = NOT(test)
        return test, self._missing(test, [{node.fact: True}])

    def b_includes(self, node: ast.Includes) -> tuple[B, Missing]:
        result = OR(*(self.env.has(node.fact, v) for v in node.values))
        return result, self._missing(result, [{node.fact: True}])

    def b_tolerance(self, node: ast.Tolerance) -> tuple[B, Missing]:
        value, m1 = self.number(node.value)
        reference, m2 = self.number(node.reference)
        low, high = scale(reference, 1 - node.fraction), scale(reference, 1 + node.fraction)
        outside = OR(compare(low, ">", value), compare(value, ">", high))
        result = outside if node.outside else NOT(outside)
        return result, self._missing(result, (m1, m2))

    def b_criteria_of(self, node: ast.CriteriaOf) -> tuple[B, Missing]:
        def compute() -> tuple[B, Missing]:
            results = [self.truth(row.when) for row in self.rows_by_code.get(node.code, ()) if row.when]
            result = OR(*(r for r, _ in results))
            return result, self._missing(result, (m for _, m in results))
        return self.let(f"criteria of {node.code}", compute)

    def b_constant(self, node: ast.Constant) -> tuple[B, Missing]:
        return node.value, {}

    def b_not(self, node: ast.Not) -> tuple[B, Missing]:
        value, missing = self.truth(node.operand)
        return NOT(value), missing

    def b_and(self, node: ast.And) -> tuple[B, Missing]:
        results = [self.truth(op) for op in node.operands]
        result = AND(*(r for r, _ in results))
        return result, self._missing(result, (m for _, m in results))

    def b_or(self, node: ast.Or) -> tuple[B, Missing]:
        results = [self.truth(op) for op in node.operands]
        result = OR(*(r for r, _ in results))
        return result, self._missing(result, (m for _, m in results))

    def b_ref(self, node: ast.Ref) -> tuple[B, Missing]:
        if node.target == "definition":
            return self.let(node.name, lambda: self.truth(self.checked.definitions[node.name].body))
        value = self.env.truth(node.name)
        return value, self._missing(value, [{node.name: True}])

    def b_case(self, node: ast.Case) -> tuple[B, Missing]:
        return self._case(node, self.truth, _join_truth)

    def _case(self, node: ast.Case, evaluate: Callable, join: Callable) -> tuple[Any, Missing]:
        # Every way the branch conditions can come out (true, false or unknown, in order) is a
        # path; on each path the interpreter joins the values of the branches that could apply.
        conditions = [self.truth(branch.condition) for branch in node.branches]
        values = [evaluate(branch.value) for branch in node.branches] + [evaluate(node.otherwise)]
        paths: list[tuple[B, list[int], list[int]]] = []  # (when, candidates, unknown guards)

        def walk(i: int, when: B, candidates: list[int], guards: list[int]) -> None:
            if when is False:
                return
            if i == len(conditions):
                paths.append((when, candidates + [len(conditions)], guards))
                return
            condition = conditions[i][0]
            paths_true = AND(when, _is(condition, True))
            if paths_true is not False:
                paths.append((paths_true, candidates + [i], guards))
            walk(i + 1, AND(when, _is(condition, False)), candidates, guards)
            walk(i + 1, AND(when, IS_NULL(condition)), candidates + [i], guards + [i])

        walk(0, True, [], [])
        outcomes = []
        for when, candidates, guards in paths:
            value = join([values[c][0] for c in candidates])
            missing = union(*(values[c][1] for c in candidates),
                            *((conditions[g][1] for g in guards) if len(candidates) > 1 else ()))
            outcomes.append((when, value, missing))
        return join_paths(outcomes, self)

    def n_ref(self, node: ast.Ref) -> tuple[Num, Missing]:
        if node.target == "definition":
            return self.let(node.name, lambda: self.number(self.checked.definitions[node.name].body))
        unknown = self.env.unknown(node.name)
        return self.env.number(node.name), ({node.name: unknown} if self.track and unknown is not False else {})

    def n_number(self, node: ast.Number | ast.Percent) -> tuple[Num, Missing]:
        return constant(node.value), {}

    def n_scale(self, node: ast.Scale) -> tuple[Num, Missing]:
        value, missing = self.number(node.operand)
        return scale(value, node.value), missing

    def n_ratio(self, node: ast.Ratio) -> tuple[Num, Missing]:
        a, m1 = self.number(node.numerator)
        b, m2 = self.number(node.denominator)
        return divide(a, b), union(m1, m2)

    def n_case(self, node: ast.Case) -> tuple[Num, Missing]:
        return self._case(node, self.number, hull)


def _copy_pair(pair: tuple[Any, Missing]) -> tuple[Any, Missing]:
    value, missing = pair
    if isinstance(value, Num):
        value = Num(_copy_end(value.lo), _copy_end(value.hi), _copy(value.lo_open), _copy(value.hi_open),
                    _copy_end(value.point) if value.point is not None else None, _copy(value.known), value.static)
    else:
        value = _copy(value)
    return value, {f: _copy(w) for f, w in missing.items()}


def _copy_end(end: End) -> End:
    return End(end.k, _copy(end.e), _copy(end.d), _copy(end.inf))


def _is(condition: B, wanted: bool) -> B:
    """Two-valued: the condition is known and equals `wanted`."""
    if condition is None or isinstance(condition, bool):
        return condition is wanted
    return exp.Is(this=exp.paren(condition, copy=False), expression=exp.true() if wanted else exp.false())


def _join_truth(values: list[B]) -> B:
    first = values[0]
    if len(values) == 1:
        return first
    if all(isinstance(v, bool) or v is None for v in values):
        return first if len(set(values)) == 1 else None
    same = AND(*(exp.NullSafeEQ(this=to_sql(first), expression=to_sql(v)) for v in values[1:]))
    return cast(CASE([(same, to_sql(first))]), "BOOLEAN") if same is not True else first


def join_paths(outcomes: list[tuple[B, Any, Missing]], compiler: Compiler) -> tuple[Any, Missing]:
    """One value and one missing set from the paths of a case."""
    if not outcomes:
        raise SQLUnsupported("a case with no possible branch")
    if isinstance(outcomes[0][1], Num):
        if len(outcomes) == 1:
            value = outcomes[0][1]
        else:
            value = _select_num([(w, v) for w, v, _ in outcomes])
        decided = OR(*(AND(w, _known(v)) for w, v, _ in outcomes))
    else:
        value = outcomes[0][1] if len(outcomes) == 1 else cast(
            CASE([(w, to_sql(v)) for w, v, _ in outcomes]), "BOOLEAN")
        decided = NOT(IS_NULL(value))
    if not compiler.track:
        return value, {}
    missing = union(*(only_if(w, m) for w, _, m in outcomes))
    return value, only_if(NOT(decided), missing)


def _select_num(pairs: list[tuple[B, Num]]) -> Num:
    def pick(get: Callable[[Num], Any]) -> Any:
        return CASE([(w, _value(get(v))) for w, v in pairs])

    for _, v in pairs:
        if v.lo.e is not None or v.hi.e is not None or v.lo.d is not None or v.hi.d is not None:
            raise SQLUnsupported("a case whose branches are not constants")
    lo = pick(lambda v: decimal(v.lo.k))
    hi = pick(lambda v: decimal(v.hi.k) if v.hi.inf is False else decimal(Fraction(0)))
    inf = pick(lambda v: exp.true() if v.hi.inf is True else exp.false())
    return Num(End(Fraction(1), lo), End(Fraction(1), hi, inf=inf))


# Node type -> rule, for conditions and for numbers: tables, not if-chains.
BOOL_RULES: dict[type, Callable[..., tuple[B, Missing]]] = {
    ast.Compare: Compiler.b_compare, ast.IsValue: Compiler.b_is, ast.Includes: Compiler.b_includes,
    ast.Tolerance: Compiler.b_tolerance, ast.CriteriaOf: Compiler.b_criteria_of,
    ast.Constant: Compiler.b_constant, ast.Not: Compiler.b_not, ast.And: Compiler.b_and, ast.Or: Compiler.b_or,
    ast.Ref: Compiler.b_ref, ast.Case: Compiler.b_case,
}
NUMBER_RULES: dict[type, Callable[..., tuple[Num, Missing]]] = {
    ast.Ref: Compiler.n_ref, ast.Number: Compiler.n_number, ast.Percent: Compiler.n_number,
    ast.Scale: Compiler.n_scale, ast.Ratio: Compiler.n_ratio, ast.Case: Compiler.n_case,
}


# ------------------------------------------------------------- reading a table

def _fold(text: str) -> str:
    """The interpreter's spelling-insensitive form of a named value (values.py _fold), for what SQL folds."""
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def _unit_factor(factor: Fraction) -> tuple[int, int] | None:
    """A unit's factor as (m, e) with factor = m * 10^e, or None (4/1461 year for a day)."""
    e = 0
    while factor.denominator != 1:
        factor *= 10
        e -= 1
        if e < -SCALE:
            return None
    m = factor.numerator
    while e < 0 and m % 10 == 0:
        m //= 10
        e += 1
    return m, e


_NUMBER = r"([0-9]+(\.[0-9]*)?|\.[0-9]+)"


Columns = list[tuple[str, exp.Expression]]


@dataclass
class Read:
    """How one fact's column is read: columns in three stages, and where SQL could not read it."""

    extract: Columns = field(default_factory=list)  # from the raw column (regular expressions, names)
    parse: Columns = field(default_factory=list)  # from the extracted parts (exact numbers)
    final: Columns = field(default_factory=list)  # the value the rules use, with its default
    unread: B = False  # the raw column has a value SQL did not read: Python reads the row


class Reader:
    """Each fact's column read in SQL exactly as values.py reads it, or marked for Python.

    `types` names how each present column holds its values (COLUMN_TYPES); a
    fact without a column is unknown. `units` declares the unit of bare numbers
    in a column (`total_dose` -> `mSv`). The reading takes three layers, so
    that no part is computed twice.
    """

    def __init__(self, facts: Mapping[str, FactInfo], types: Mapping[str, str], units: Mapping[str, str],
                 structs: bool = False):
        self.facts = facts
        self.types = types
        self.units = units
        # DuckDB only (the two-valued query): a dose's text matched once, its parts into a struct.
        self.structs = structs

    def text(self, name: str) -> exp.Expression:
        kind = self.types[name]
        if kind == "text":
            return column(name)
        if kind == "float":  # the shortest decimal that reads back as the same float, as Python's repr
            return cast(cast(column(name), "DOUBLE"), "VARCHAR")
        return cast(column(name), "VARCHAR")

    def layers(self) -> list[Columns]:
        """The reading layers; the last one holds each fact's value and the fallback flag."""
        reads: list[Read] = []
        for name, info in self.facts.items():
            if name not in self.types:
                reads.append(Read(final=self.absent(name, info)))
            else:
                reads.append(READ_RULES.get(info.kind, Reader.unsupported)(self, name, info))
        bad = [r.unread for r in reads]
        for name in ("date_of_birth", "exposure_date"):
            if name in self.types:  # an age worked out from dates: Python does it
                bad.append(NOT(IS_NULL(column(name))))
        if "id" in self.types and self.types["id"] not in ("text", "integer", "any"):
            bad.append(NOT(IS_NULL(column("id"))))
        if "description" in self.types and self.types["description"] not in ("text", "any"):
            bad.append(NOT(IS_NULL(column("description"))))
        unread = OR(*bad)
        fallback = to_sql(unread) if isinstance(unread, bool) or unread is None else exp.Coalesce(
            this=unread, expressions=[exp.false()])
        return [[c for r in reads for c in r.extract], [c for r in reads for c in r.parse],
                [c for r in reads for c in r.final] + [(FALLBACK, fallback)]]

    def absent(self, name: str, info: FactInfo) -> Columns:
        if info.kind == SET:
            default = info.default if info.has_default else None
            return [(value_name(name, v), to_sql(None if default is None else v in default)) for v in info.values]
        return [(f"_v_{name}", self.default(info) if info.has_default else cast(exp.null(), self.sql_type(info)))]

    @staticmethod
    def sql_type(info: FactInfo) -> str:
        if info.kind == BOOL:
            return "BOOLEAN"
        if info.kind == "date":
            return "DATE"
        if info.kind in KINDS and KINDS[info.kind].numeric:
            return NUMERIC
        return "VARCHAR"

    @staticmethod
    def default(info: FactInfo) -> exp.Expression:
        value = info.default
        if isinstance(value, bool):
            return to_sql(value)
        if hasattr(value, "value"):  # a Measure
            return decimal(value.value)
        if info.kind == "date":
            return cast(string(value.isoformat()), "DATE")
        return string(str(value))

    def _final(self, name: str, info: FactInfo, parsed: str) -> Read:
        """The value from the parsed column, with the fact's default; unread where SQL gave no value."""
        value: exp.Expression = column(parsed)
        if info.has_default:
            value = exp.Coalesce(this=value, expressions=[self.default(info)])
        return Read(final=[(f"_v_{name}", value)], unread=AND(NOT(IS_NULL(column(name))), IS_NULL(column(parsed))))

    def unsupported(self, name: str, info: FactInfo) -> Read:
        # A kind or a column type the SQL does not read: any value goes to Python.
        return Read(final=self.absent(name, info), unread=NOT(IS_NULL(column(name))))

    # ------------------------------------------------------------- by kind
    def named_value(self, info: FactInfo, text: exp.Expression) -> exp.Expression:
        """A named value, exact or in another spelling the reader accepts; NULL when SQL cannot tell."""
        exact = exp.In(this=text.copy(), expressions=[string(v) for v in info.values])
        folded = exp.func("REPLACE", exp.func("REPLACE", exp.Lower(this=exp.Trim(this=text.copy())),
                                              string(" "), string("_")), string("-"), string("_"))
        loose = exp.Case(this=folded, ifs=[exp.If(this=string(_fold(v)), true=string(v)) for v in info.values])
        return CASE([(exact, text.copy())], loose)

    def read_enum(self, name: str, info: FactInfo) -> Read:
        if self.types[name] not in ("text", "any"):
            return self.unsupported(name, info)
        read = self._final(name, info, f"_p_{name}")
        read.extract = [(f"_p_{name}", self.named_value(info, self.text(name)))]
        return read

    def read_set(self, name: str, info: FactInfo) -> Read:
        kind = self.types[name]
        if kind not in ("text", "list", "any"):
            return self.unsupported(name, info)
        mapped_item = self.named_value(info, exp.column(exp.to_identifier("_irmer_item")))
        single, listed = f"_s_{name}", f"_l_{name}"
        read = Read()
        if kind == "list":
            items: Any = column(name)
            read.extract.append((single, cast(exp.null(), "VARCHAR")))
        else:
            # One value, or several separated by `;` (as a CSV cell gives them).
            text = self.text(name)
            several = exp.GT(this=exp.func("STRPOS", text, string(";")), expression=integer(0))
            read.extract.append((single, CASE([(NOT(several), self.named_value(info, text.copy()))])))
            items = CASE([(several.copy(), template(
                "LIST_FILTER(LIST_TRANSFORM(STRING_SPLIT(:s, ';'), LAMBDA _irmer_item: TRIM(_irmer_item)),"
                " LAMBDA _irmer_item: _irmer_item <> '')", s=text.copy()))])
        read.extract.append((listed, template("LIST_TRANSFORM(:items, LAMBDA _irmer_item: :m)", items=items,
                                              m=mapped_item)))
        nulls = template("LIST_FILTER(:l, LAMBDA _irmer_item: _irmer_item IS NULL)", l=column(listed))
        read.parse.append((f"_ok_{name}", AND(exp.GT(this=exp.ArraySize(this=column(listed)), expression=integer(0)),
                                             exp.EQ(this=exp.ArraySize(this=nulls), expression=integer(0)))))
        ok = column(f"_ok_{name}")
        for value in info.values:
            has = CASE([(NOT(IS_NULL(column(single))), exp.EQ(this=column(single), expression=string(value))),
                        (ok.copy(), exp.ArrayContains(this=column(listed), expression=string(value)))])
            if info.has_default:
                has = exp.Coalesce(this=has, expressions=[to_sql(value in info.default)])
            read.final.append((value_name(name, value), has))
        read.unread = AND(NOT(IS_NULL(column(name))), IS_NULL(column(single)),
                          NOT(exp.Coalesce(this=ok.copy(), expressions=[exp.false()])))
        return read

    def read_bool(self, name: str, info: FactInfo) -> Read:
        kind = self.types[name]
        if kind == "boolean":
            value: exp.Expression = column(name)
        elif kind in ("text", "any"):
            folded = exp.Lower(this=exp.Trim(this=self.text(name)))
            value = cast(CASE([(exp.In(this=folded, expressions=[string(w) for w in ("yes", "true", "y")]),
                                exp.true()),
                               (exp.In(this=folded.copy(), expressions=[string(w) for w in ("no", "false", "n")]),
                                exp.false())]), "BOOLEAN")
        else:
            return self.unsupported(name, info)
        read = self._final(name, info, f"_p_{name}")
        read.extract = [(f"_p_{name}", value)]
        return read

    def read_date(self, name: str, info: FactInfo) -> Read:
        kind = self.types[name]
        if kind == "date":
            value: exp.Expression = column(name)
        elif kind in ("text", "any"):
            text = self.text(name)
            pattern = exp.RegexpLike(this=text, expression=string(r"^ *[1-9][0-9]{3}-[0-9]{2}-[0-9]{2} *$"))
            value = CASE([(pattern, exp.TryCast(this=exp.Trim(this=text.copy()), to=_type("DATE").copy()))])
        else:
            return self.unsupported(name, info)
        read = self._final(name, info, f"_p_{name}")
        read.extract = [(f"_p_{name}", value)]
        return read

    def read_count(self, name: str, info: FactInfo) -> Read:
        kind = self.types[name]
        if kind == "integer":
            value = CASE([(AND(exp.GTE(this=column(name), expression=integer(0)),
                               exp.LT(this=column(name), expression=integer(10 ** 17))),
                           cast(column(name), NUMERIC))])
        elif kind in ("text", "decimal", "float", "any"):
            digits = exp.RegexpExtract(this=self.text(name), expression=string(r"^ *([0-9]{1,17}) *$"),
                                       group=integer(1))
            if self.structs:  # the digits once, in a column of their own
                read = self._final(name, info, f"_p_{name}")
                read.extract = [(f"_n_{name}", digits)]
                value = CASE([(exp.NEQ(this=column(f"_n_{name}"), expression=string("")),
                               cast(column(f"_n_{name}"), NUMERIC))])
                read.parse = [(f"_p_{name}", self._at_least(info, value))]
                return read
            value = CASE([(exp.NEQ(this=digits, expression=string("")), cast(digits.copy(), NUMERIC))])
        else:
            return self.unsupported(name, info)
        read = self._final(name, info, f"_p_{name}")
        read.extract = [(f"_p_{name}", self._at_least(info, value))]
        return read

    def read_number(self, name: str, info: FactInfo, kind: str, factor: tuple[int, int]) -> Read:
        """A numeric column in a declared unit: scaled exactly, no text in between."""
        scale = 0 if kind == "integer" else int(kind[len("decimal("):-1].split(",")[1])
        m, e = factor
        if scale - e > SCALE:  # more digits than the SQL keeps: Python reads the values
            return self.unsupported(name, info)
        # value < 10^18 base units, so it fits NUMERIC
        limit = Fraction(10 ** (PRECISION - SCALE)) / (m * Fraction(10) ** e)
        raw = cast(column(name), f"DECIMAL(38, {scale})") if kind == "integer" else column(name)
        if m * Fraction(10) ** e == 1:
            scaled: exp.Expression = raw.copy()
        elif e >= 0:
            scaled = exp.Mul(this=raw.copy(), expression=whole(m * 10 ** e))
        else:
            scaled = exp.Mul(this=raw.copy(), expression=cast(string(_decimal_text(Fraction(m, 10 ** -e))),
                                                               f"DECIMAL({len(str(m)) - e}, {-e})"))
        value = CASE([(AND(exp.GTE(this=raw, expression=integer(0)),
                           exp.LT(this=raw.copy(), expression=integer(math.floor(limit)))), cast(scaled, NUMERIC))])
        read = self._final(name, info, f"_p_{name}")
        read.extract = [(f"_p_{name}", self._at_least(info, value))]
        return read

    def _at_least(self, info: FactInfo, value: exp.Expression) -> exp.Expression:
        if not info.minimum:
            return value
        return CASE([(exp.GTE(this=value, expression=decimal(info.minimum)), value.copy())])

    def read_quantity(self, name: str, info: FactInfo) -> Read:
        kind = self.types[name]
        if kind not in ("text", "integer", "decimal", "float", "any") and not kind.startswith("decimal("):
            return self.unsupported(name, info)
        default_unit = self.units.get(name) or info.unit
        if kind not in ("text", "any") and default_unit is None:
            return self.unsupported(name, info)  # a bare number with no unit: Python says so
        spellings = {u: _unit_factor(resolve_unit(u)[1]) for u, k in ACCEPTED.items() if k == info.kind}
        spellings = {u: f for u, f in spellings.items() if f is not None}
        if default_unit is not None and default_unit not in spellings:
            return self.unsupported(name, info)
        if kind == "integer" or kind.startswith("decimal("):
            return self.read_number(name, info, kind, spellings[default_unit])
        alternatives = "|".join(sorted(spellings, key=lambda u: (-len(u), u)))
        optional = "?" if default_unit else ""
        pattern = f"^ *{_NUMBER} *({alternatives}){optional} *$"
        text = self.text(name)
        number_name, unit_name = f"_n_{name}", f"_u_{name}"
        read = self._final(name, info, f"_p_{name}")
        if self.structs:  # the pattern's groups as a struct (more groups would cost RE2 twice as much)
            parts = exp.Array(expressions=[string(g) for g in ("n", "p", "u")])
            read.extract = [(f"_x_{name}", exp.RegexpExtract(this=text, expression=string(pattern), group=parts))]
            part = lambda g: exp.Dot(this=column(f"_x_{name}"), expression=exp.to_identifier(g))  # noqa: E731
            number_of, unit_of = lambda: part("n"), lambda: part("u")  # noqa: E731
        else:
            read.extract = [(number_name, exp.RegexpExtract(this=text, expression=string(pattern), group=integer(1))),
                            (unit_name, exp.RegexpExtract(this=text.copy(), expression=string(pattern),
                                                          group=integer(3)))]
            number_of, unit_of = lambda: column(number_name), lambda: column(unit_name)  # noqa: E731
        number = number_of()
        dot = exp.StrPosition(this=number_of(), substr=string("."))
        length = exp.Length(this=number_of())
        int_digits = CASE([(exp.GT(this=dot, expression=integer(0)), exp.Sub(this=dot.copy(), expression=integer(1)))],
                          length)
        frac_digits = CASE([(exp.GT(this=dot.copy(), expression=integer(0)),
                             exp.Sub(this=length.copy(), expression=dot.copy()))], integer(0))
        cases = []
        for spelling, (m, e) in sorted(spellings.items()):
            units = [spelling] + ([""] if spelling == default_unit else [])
            if e >= 0:
                factor = m * 10 ** e
                width = PRECISION - len(str(factor))
                max_int = min(width - SCALE, 18 - len(str(factor)))
                max_frac = SCALE
                scaled: exp.Expression = cast(number.copy(), f"DECIMAL({width}, {SCALE})")
                if factor != 1:
                    scaled = exp.Mul(this=scaled, expression=whole(factor))
            else:
                max_int, max_frac = PRECISION - SCALE, SCALE + e
                # With structs (DuckDB): the number read at the scale that the factor's digits bring to
                # SCALE, so the product needs no rescaling (a division of 128-bit integers, 7 times slower).
                read_as = f"DECIMAL({max_int + max_frac}, {max_frac})" if self.structs else NUMERIC
                scaled = exp.Mul(this=cast(number.copy(), read_as),
                                 expression=cast(string(_decimal_text(Fraction(m, 10 ** -e))),
                                                 f"DECIMAL({len(str(m)) - e}, {-e})"))
            fits = AND(exp.LTE(this=int_digits.copy(), expression=integer(max_int)),
                       exp.LTE(this=frac_digits.copy(), expression=integer(max_frac)))
            cases.append((AND(exp.In(this=unit_of(), expressions=[string(u) for u in units]), fits),
                          cast(scaled, NUMERIC)))
        value = CASE([(exp.NEQ(this=number_of(), expression=string("")), CASE(cases))])
        read.parse = [(f"_p_{name}", self._at_least(info, value))]
        return read


READ_RULES: dict[str, Callable[..., tuple[list, B]]] = {
    ENUM: Reader.read_enum, SET: Reader.read_set, BOOL: Reader.read_bool, "date": Reader.read_date,
    "count": Reader.read_count,
    **{name: Reader.read_quantity for name, kind in KINDS.items() if kind.dimension},
}


# ------------------------------------------------------------- the query

@dataclass
class Site:
    """One decision's case split: the row's plan (a struct), a case (a struct), its code, how many cases."""

    name: str
    plan: exp.Expression
    struct: exp.Expression
    code: exp.Expression  # 1 true, 0 false, 2048 unknown
    cases: exp.Expression
    any_kept: B


@dataclass
class Term:
    """One disjunct of a decision the case split makes: a row's or a code's `met`, in a case."""

    guard: B  # where the term can matter: its phase-one value was unknown
    decide: Callable[["Compiler"], B]
    facts: set[str]  # the facts it reads


def _reads(nodes: Iterable[ast.Node]) -> set[str]:
    """Every fact a decision reads (whether or not its own split could enumerate it), and the scope facts."""
    return facts_of(nodes) | set(SCOPE_FACTS)


def _layer(previous: exp.Expression, name: str, columns: list[tuple[str, exp.Expression]]) -> exp.Select:
    """SELECT *, <columns> FROM (previous): each layer may use the columns of the ones before."""
    source = exp.Subquery(this=previous, alias=exp.TableAlias(this=exp.to_identifier(name)))
    return exp.select(exp.Star(), *(exp.alias_(_value(e), n, quoted=True, copy=False) for n, e in columns),
                      copy=False).from_(source, copy=False)


# A subtree shared by at least two places of a layer, and at least this many nodes when written out, is
# worked out once, in a layer of its own before it (`hoisted`).
HOIST_FROM = 12

_LEAVES = (exp.Column, exp.Literal, exp.Identifier, exp.DataType, exp.Boolean, exp.Null, exp.Var)


def hoisted(previous: exp.Expression, name: str, columns: list[tuple[str, exp.Expression]],
            guard: exp.Expression | None = None) -> tuple[exp.Expression, list[tuple[str, exp.Expression]]]:
    """The subtrees that `columns` share, worked out once each in layers of their own over `previous`;
    returns those layers and `columns` reading them.

    The builder shares conditions between places without copying them (_again): the facts that would decide
    a row repeat the row's conditions once per fact, and each complementary code its choice of suffix.
    Written out in full they were most of the three-valued query's text, and what Spark's analyser spends
    its seconds on. A shared node is found by identity, so only what the builder shared is hoisted, never
    two subtrees that merely print alike. A hoisted subtree is evaluated where it stood: `guard` (the
    condition under which `columns` are read, e.g. `_notifiable IS NULL` for `missing`) keeps it from
    being worked out for the other rows. Nothing inside a lambda is hoisted (it reads the lambda's
    variable).

    >>> shared = exp.condition("a + 1 > b * 2 AND c < d AND e = 1")
    >>> columns = [("x", exp.or_(shared, column("z"), copy=False)), ("y", exp.not_(shared, copy=False))]
    >>> query, out = hoisted(exp.select("*").from_("t"), "_h", columns, guard=exp.condition("z IS NULL"))
    >>> print_sql(_layer(query, "_l", out), "duckdb")
    'SELECT *, "_h_0" OR "z" AS "x", NOT "_h_0" AS "y" FROM (SELECT *, CASE WHEN z IS NULL THEN a + 1 > b * 2 AND c < d AND e = 1 END AS "_h_0" FROM (SELECT * FROM t) AS _h0) AS _l'
    """
    refs: dict[int, int] = {}  # a node's places in the columns (its id: shared nodes are the same object)
    size: dict[int, int] = {}  # its number of nodes, written out

    def count(node: exp.Expression) -> int:
        key = id(node)
        refs[key] = refs.get(key, 0) + 1
        if key in size:
            return size[key]
        total = 1
        if not isinstance(node, _LEAVES):
            for child in node.iter_expressions():
                if isinstance(child, exp.Lambda):
                    total += _expanded(child)
                else:
                    total += count(child)
        size[key] = total
        return total

    for _, expression in columns:
        count(expression)
    chosen = {key for key, n in refs.items() if n > 1 and size[key] >= HOIST_FROM}
    if not chosen:
        return previous, columns
    depth: dict[int, int] = {}  # a hoisted subtree's layer: after those of the hoisted subtrees it holds
    named: dict[int, str] = {}
    rebuilt: dict[int, exp.Expression] = {}

    def rebuild(node: exp.Expression, top: bool = False) -> tuple[exp.Expression, int]:
        """The node with its hoisted parts read from their columns, and the layer it can go in."""
        key = id(node)
        if key in chosen and not top:
            if key not in named:
                body, level = rebuild(node, top=True)
                named[key] = f"{name}_{len(named)}"
                depth[key] = level
                rebuilt[key] = body
            return column(named[key]), depth[key] + 1
        if isinstance(node, _LEAVES) or key not in size:
            return node, 0
        if isinstance(node, exp.Paren) and id(node.this) in chosen:  # a column needs no parentheses
            return rebuild(node.this)
        changed, level = False, 0

        def child(value: Any) -> Any:
            """An argument of the node (or an item of a list argument), its hoisted parts read from columns."""
            nonlocal changed, level
            if isinstance(value, exp.Expression) and not isinstance(value, exp.Lambda):
                new, at = rebuild(value)
                changed, level = changed or new is not value, max(level, at)
                return new
            return value
        args = {arg: [child(item) for item in value] if isinstance(value, list) else child(value)
                for arg, value in node.args.items()}
        if not changed:
            return node, level
        copy = type(node)(**args)  # a new node: the original may sit in a layer that cannot read the columns
        return copy, level

    out = [(alias, rebuild(expression)[0]) for alias, expression in columns]
    layers: list[list[tuple[str, exp.Expression]]] = []
    for key, column_name in named.items():
        while len(layers) <= depth[key]:
            layers.append([])
        body = rebuilt[key]
        layers[depth[key]].append((column_name, body if guard is None else CASE([(guard.copy(), body)])))
    for n, layer in enumerate(layers):
        previous = _layer(previous, f"{name}{n}", layer)
    return previous, out


def _expanded(node: exp.Expression) -> int:
    """A subtree's number of nodes (a lambda's: its parts are never hoisted, but they count in its size)."""
    return sum(1 for _ in node.walk())


def _text_list(items: list[tuple[B, str]]) -> exp.Expression:
    """The texts whose condition holds, in order, as a list."""
    kept = [(c, t) for c, t in items if c is not False and c is not None]
    if not kept:
        return cast(exp.Array(expressions=[]), "VARCHAR[]")
    array = exp.Array(expressions=[string(t) if c is True else CASE([(c, string(t))]) for c, t in kept])
    if all(c is True for c, _ in kept):
        return array
    return template("LIST_FILTER(:a, LAMBDA _irmer_item: _irmer_item IS NOT NULL)", a=array)


class QueryBuilder:
    """The whole query for one checked file: read, rows, refinement, codes, outputs."""

    def __init__(self, checked: Checked, source: exp.Expression, types: Mapping[str, str],
                 units: Mapping[str, str], keep: Iterable[str], refine: bool = True, form: str = "lambda",
                 key: str = "_irmer_row", decisions: Iterable[str] | None = None, report_open: bool = False):
        self.checked = checked
        # The case split's decisions to make (by name: a row's number, "c" and a shared code's, "n" for the
        # verdict), None for all: a decision no row leaves open need not be in the query.
        self.decisions = None if decisions is None else set(decisions)
        self.report_open = report_open  # without the case split: add OPEN, the decisions each row leaves open
        self.made: list[str] = []  # with "explode": the columns that say a row was split, one per stage
        self.refining = refine
        self.form = form  # the case split as a lambda over the cases (portable), or "explode" (UNNEST; DuckDB)
        self.key = key  # with "explode": a column that tells the rows apart
        self.ctes: list[tuple[str, exp.Expression]] = []
        self.criteria = checked.criteria
        self.rows = self.criteria.rows
        self.source = source
        self.types = types
        self.units = units
        self.keep = list(keep)
        self.plan = Plan(checked)  # the case splits the interpreter makes, shared
        self.env = Env(checked.facts)
        self.exclusions = self.plan.exclusions

    # ------------------------------------------------------------- verdicts
    def scope(self, row: ast.Row, compiler: Compiler) -> tuple[B, Missing]:
        env = compiler.env
        parts = []
        for fact, allowed, test in (("exposure", row.exposure, "in"), ("modality", row.modalities, "any"),
                                    ("jurisdiction", row.jurisdictions, "in")):
            if not allowed:
                continue
            if test == "any":
                result = OR(*(env.has(fact, v) for v in allowed))
            else:
                value = env.named(fact)
                result = None if value is None else exp.In(this=value, expressions=[string(v) for v in allowed])
            parts.append((result, {fact: IS_NULL(result)} if compiler.track else {}))
        result = AND(*(r for r, _ in parts))
        return result, compiler._missing(result, (m for _, m in parts))

    def excluded(self, code: str, compiler: Compiler) -> tuple[B, Missing]:
        results = [compiler.truth(e.when) for e in self.exclusions.get(code, ())]
        value = OR(*(v for v, _ in results))
        return value, compiler._missing(value, (m for _, m in results))

    def row_verdict(self, row: ast.Row, compiler: Compiler) -> dict[str, Any]:
        scope, m_scope = self.scope(row, compiler)
        band, m_band = compiler.truth(row.band) if row.band is not None else (True, {})
        in_scope = AND(scope, band)
        when, m_when = compiler.truth(row.when)
        unless, m_unless = compiler.truth(row.unless) if row.unless is not None else (False, {})
        excluded, m_excluded = self.excluded(row.code, compiler)
        met = AND(in_scope, when, NOT(unless), NOT(excluded))
        missing = compiler._missing(met, (m_scope, m_band, m_when, m_unless, m_excluded))
        return {"in": in_scope, "band": band, "met": met, "missing": missing}

    def comp_verdict(self, item: ast.Complementary, compiler: Compiler) -> dict[str, Any]:
        when, m_when = compiler.truth(item.when)
        excluded, m_excluded = self.excluded(item.code, compiler)
        met = AND(when, NOT(excluded))
        return {"met": met, "missing": compiler._missing(met, (m_when, m_excluded))}

    def site(self, split: Split | None, terms: list[Term], name: str) -> "Site | B":
        """The interpreter's refine for one decision, in SQL: a Site, or a constant when it does not depend
        on the case.

        The decision is the `or` of the terms. A term whose phase-one value was
        decided keeps that value in every case (narrowing a fact's interval never
        changes a decided comparison), so a false one is skipped (`guard`); and a
        kept fact that no undecided term reads is not enumerated, as every one of
        its values gives the same answer. The cases left are the interpreter's,
        each once.
        """
        if split is None:
            return None
        i = exp.to_identifier("_irmer_case")
        # Facts with a default are never unknown, so never split.
        choices = [c for c in split.choices if not self.checked.facts[c.fact].has_default]
        relevant = {c.fact: OR(*(t.guard for t in terms if c.fact in t.facts)) for c in choices}
        env = CaseEnv(self.env, choices, i, relevant, plan=name, live=self.live(split, choices))
        if env.any_kept is False:
            return None
        compiler = Compiler(self.checked, env, track_missing=False)
        result = OR(*(AND(t.guard, t.decide(compiler)) if t.guard is True else
                      _value(CASE([(t.guard, to_sql(t.decide(compiler)))], exp.false())) for t in terms))
        if result is None or isinstance(result, bool):
            # The same in every case: decided wherever some fact is kept (the interpreter's `if not kept`).
            return None if result is None else cast(CASE([(env.any_kept, to_sql(result))]), "BOOLEAN")
        code = exp.Coalesce(this=cast(to_sql(result), "INTEGER"), expressions=[integer(2 * SPLIT_BUDGET)])
        plan = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(field), expression=value)
                                       for field, value in env.plan])
        return Site(name, plan, env.struct(), code, env.cases, env.any_kept)

    def live(self, split: Split, choices: list[Choice]) -> dict[str, B] | None:
        """Per fact: some part of the decision that reads it is not ruled out by the row's known scope."""
        parts = getattr(split, "parts", ())
        if not parts:
            return None
        out: dict[str, B] = {}
        for choice in choices:
            out[choice.fact] = OR(*(NOT(self.ruled_out(part)) for part in parts if choice.fact in part.facts))
        return out

    def ruled_out(self, part: Any) -> B:
        """Two-valued: a known scope fact puts the part out of scope (engines/split.py Part.ruled_out)."""
        outs = []
        for fact, allowed, any_of in part.scopes:
            if any_of:
                outs.append(AND(NOT(self.env.unknown(fact)), NOT(OR(*(self.env.has(fact, v) for v in sorted(allowed))))))
            else:
                value = self.env.named(fact)
                outs.append(AND(NOT(IS_NULL(value)),
                                NOT(exp.In(this=_copy(value), expressions=[string(v) for v in sorted(allowed)]))))
        return OR(*outs)

    def refine(self, split: Split | None, terms: list[Term], name: str) -> tuple[exp.Expression | None, B]:
        """The case split in a lambda over the cases (portable: DuckDB, Spark; the view `irmer sql` prints).

        Returns the row's plan of cases (a struct, for a column `name` of the
        layer before, where it is needed) and the decision, which reads it.
        """
        site = self.site(split, terms, name)
        if not isinstance(site, Site):
            return None, site
        every = template("LIST_TRANSFORM(RANGE(0, :n), LAMBDA _irmer_case: :s)", n=site.cases.copy(), s=site.struct)
        each = template("LIST_TRANSFORM(:cases, LAMBDA _irmer_c: :body)", cases=every, body=site.code)
        total = template("AGGREGATE(:l, 0, (_irmer_acc, _irmer_item) -> _irmer_acc + _irmer_item)", "spark", l=each)
        decided = exp.Case(this=total, ifs=[exp.If(this=integer(0), true=exp.false()),
                                            exp.If(this=site.cases.copy(), true=exp.true())])
        return site.plan, cast(CASE([(NOT(_copy(site.any_kept)), cast(exp.null(), "BOOLEAN"))], decided), "BOOLEAN")

    def decide_all(self, query: exp.Expression, decisions: list[tuple[str, Split | None, list[Term], B]],
                   stage: str) -> tuple[exp.Expression, dict[str, B]]:
        """The case split for several decisions (name, split, terms, where needed): the query with what the
        decisions read, and each decision's value (None where the split is not made in SQL)."""
        values: dict[str, B] = {}
        if not self.refining:
            return query, {name: None for name, _, _, _ in decisions}
        if self.decisions is not None:
            values = {name: None for name, _, _, _ in decisions if name not in self.decisions}
            decisions = [d for d in decisions if d[0] in self.decisions]
        if self.form == "lambda":
            plans = []
            for name, split, terms, needed in decisions:
                plan, values[name] = self.refine(split, terms, f"_plan_{name}")
                if plan is not None:
                    plans.append((f"_plan_{name}", CASE([(needed, plan)])))
            return (_layer(query, f"_irmer_{stage}_plans", plans) if plans else query), values
        # "explode": one row per case (UNNEST), grouped back by row: vectorised, where DuckDB runs
        # lambdas row by row. The layers so far become a CTE that each decision reads.
        base = f"_irmer_{stage}_base"
        self.ctes.append((base, query))
        parts = []
        for number, (name, split, terms, needed) in enumerate(decisions):
            site = self.site(split, terms, f"_plan_{name}")
            if not isinstance(site, Site):
                values[name] = site
                continue
            # The rows that need the split first; then what the plan shares, once (hoisted); then the plan.
            wanted = exp.select(exp.Star(), copy=False).from_(exp.to_table(base), copy=False).where(
                to_sql(AND(needed, _copy(site.any_kept))), copy=False)
            wanted, [(_, plan)] = hoisted(wanted, f"_irmer_plan_{name}", [(site.name, site.plan)])
            rows = exp.select(exp.Star(), exp.alias_(plan, site.name, quoted=True, copy=False), copy=False
                              ).from_(exp.Subquery(this=wanted), copy=False)
            rows = exp.select(exp.Star(), template("UNNEST(RANGE(0, :n)) AS _irmer_case", n=site.cases.copy()),
                              copy=False).from_(exp.Subquery(this=rows), copy=False)
            rows = exp.select(exp.Star(), exp.alias_(site.struct, "_irmer_c", copy=False), copy=False).from_(
                exp.Subquery(this=rows), copy=False)
            decided = exp.Case(this=exp.Sum(this=site.code), ifs=[
                exp.If(this=integer(0), true=exp.false()),
                exp.If(this=exp.AnyValue(this=site.cases.copy()), true=exp.true())])
            parts.append(exp.select(column(self.key), exp.alias_(integer(number), "_irmer_site", copy=False),
                                    exp.alias_(decided, "_irmer_value", copy=False), copy=False).from_(
                exp.Subquery(this=rows), copy=False).group_by(column(self.key), copy=False))
            values[name] = column(f"_ref_{name}")
        made = f"_irmer_split_{stage}"  # the row was split for some decision of this stage
        self.made.append(made)
        if not parts:
            return exp.select(exp.Star(), exp.alias_(exp.false(), made, quoted=True, copy=False), copy=False).from_(
                exp.to_table(base), copy=False), values
        union = reduce(lambda a, b: exp.union(a, b, distinct=False, copy=False), parts)
        pivot = exp.select(column(self.key), *(
            exp.alias_(exp.Max(this=CASE([(exp.EQ(this=column("_irmer_site"), expression=integer(number)),
                                           column("_irmer_value"))])), f"_ref_{name}", quoted=True)
            for number, (name, *_rest) in enumerate(decisions) if isinstance(values.get(name), exp.Column)
        ), copy=False).from_(exp.Subquery(this=union), copy=False).group_by(column(self.key), copy=False)
        pivot_table = exp.Subquery(this=pivot, alias=exp.TableAlias(this=exp.to_identifier("_irmer_p")))
        joined = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("_irmer_b")),
                            *(exp.column(f"_ref_{name}", table="_irmer_p", quoted=True)
                              for name, value in values.items() if isinstance(value, exp.Column)),
                            exp.alias_(exp.not_(exp.Is(this=exp.column(self.key, table="_irmer_p", quoted=True),
                                                       expression=exp.null())), made, quoted=True, copy=False),
                            copy=False)
        joined = joined.from_(exp.to_table(base).as_("_irmer_b", copy=False), copy=False).join(
            pivot_table, on=exp.EQ(this=exp.column(self.key, table="_irmer_b", quoted=True),
                                   expression=exp.column(self.key, table="_irmer_p", quoted=True)),
            join_type="LEFT", copy=False)
        return joined, values

    def row_term(self, n: int, guard: B = True) -> "Term":
        row = self.rows[n]
        roots = [row.band, row.when, row.unless] + [e.when for e in self.exclusions.get(row.code, ())]
        return Term(guard, lambda c: self.row_verdict(row, c)["met"], _reads(self.checked.reachable(roots)))

    def comp_term(self, n: int, guard: B) -> "Term":
        item = self.criteria.complementary[n]
        roots = [item.when] + [e.when for e in self.exclusions.get(item.code, ())]
        return Term(guard, lambda c: self.comp_verdict(item, c)["met"], _reads(self.checked.reachable(roots)))

    # ------------------------------------------------------------- the query
    def build(self) -> exp.Select:
        query = self.source
        # With "explode" (DuckDB only), a dose's text is matched once, into a struct.
        reader = Reader(self.checked.facts, self.types, self.units, structs=self.form == "explode")
        for n, layer in enumerate(reader.layers()):
            if layer:
                query = _layer(query, f"_irmer_read{n}", layer)

        # Rows and complementary codes: three-valued, with the facts that would decide each;
        # definitions first, in layers of their own.
        lets = Lets()
        compiler = Compiler(self.checked, self.env, lets=lets)
        layer: list[tuple[str, exp.Expression]] = []
        # (verdict's met column, fact, when): worked out only for the rows left undetermined
        self.missing_columns: list[tuple[str, str, B]] = []
        # How well the facts fit each row's category: it chooses a complementary code's suffix, so it is worked
        # out (below, with the codes) only where one is met (a CASE evaluates its branch on those rows alone).
        fits = [(n, self.category_fit(row, compiler)) for n, row in enumerate(self.rows) if row.band is None]
        for n, row in enumerate(self.rows):
            verdict = self.row_verdict(row, compiler)
            layer += [(f"_in_{n}", verdict["in"]), (f"_band_{n}", verdict["band"]), (f"_met_{n}", verdict["met"])]
            for fact, when in verdict["missing"].items():
                self.missing_columns.append((f"_rmet_{n}", fact, when))
        for n, item in enumerate(self.criteria.complementary):
            verdict = self.comp_verdict(item, compiler)
            layer.append((f"_cmet_{n}", verdict["met"]))
            for fact, when in verdict["missing"].items():
                self.missing_columns.append((f"_cmet_{n}", fact, when))
        layer.append((REFUSED, to_sql(self.derived_or_conflicting(compiler))))
        for n, shared in enumerate(lets.layers):
            query = _layer(query, f"_irmer_let{n}", shared)
        query = _layer(query, "_irmer_rows", layer)

        # Rows left unknown: the case split, as the interpreter makes it.
        query, refined = self.decide_all(query, [
            (str(n), self.plan.row(n), [self.row_term(n)], IS_NULL(column(f"_met_{n}")))
            for n in range(len(self.rows))], "rows")
        layer = []
        for n, row in enumerate(self.rows):
            met, value = column(f"_met_{n}"), refined[str(n)]
            layer.append((f"_rmet_{n}", met if value is None else cast(CASE([(IS_NULL(met), to_sql(value))],
                                                                            met.copy()), "BOOLEAN")))
        layer.append((COMPLEMENTARY_MET, OR(*(_is(column(f"_cmet_{n}"), True)
                                              for n in range(len(self.criteria.complementary))))))
        query = _layer(query, "_irmer_refined", layer)

        # Codes shared by several rows; a row's scope, settled when it cannot fire.
        codes = list(dict.fromkeys(row.code for row in self.rows))
        layer = []
        for n, row in enumerate(self.rows):
            layer.append((f"_fin_{n}", cast(CASE([(AND(IS_NULL(column(f"_in_{n}")), _is(column(f"_rmet_{n}"), False)),
                                                       exp.true())], column(f"_in_{n}")), "BOOLEAN")))
        shared = {j: [n for n, r in enumerate(self.rows) if r.code == code] for j, code in enumerate(codes)}
        query, refined = self.decide_all(query, [
            (f"c{j}", self.plan.code(codes[j]), [self.row_term(n, IS_NULL(column(f"_met_{n}"))) for n in same
                                                 if self.open(str(n))],
             IS_NULL(OR(*(column(f"_rmet_{n}") for n in same))))
            for j, same in shared.items() if len(same) > 1], "codes")
        for j, same in shared.items():
            met = OR(*(column(f"_rmet_{n}") for n in same))
            value = refined.get(f"c{j}")
            if value is not None:
                met = cast(CASE([(IS_NULL(met), to_sql(value))], _copy(met)), "BOOLEAN")
            layer.append((f"_code_{j}", met))
        layer += [(f"_cat_{n}", CASE([(column(COMPLEMENTARY_MET), fit)])) for n, fit in fits]
        query = _layer(query, "_irmer_codes", layer)

        # Notifiable: any code, or a statutory complementary code; else the case split over everything.
        statutory = [(n, item) for n, item in enumerate(self.criteria.complementary) if item.role == "statutory"]
        first = OR(*(column(f"_code_{j}") for j in range(len(codes))), *(column(f"_cmet_{n}") for n, _ in statutory))
        # A term is guarded by its own verdict being unknown: one no row leaves unknown is left out.
        terms = [self.row_term(n, IS_NULL(column(f"_met_{n}"))) for n in range(len(self.rows)) if self.open(str(n))]
        terms += [self.comp_term(n, IS_NULL(column(f"_cmet_{n}"))) for n, _ in statutory if self.open(f"m{n}")]
        query, refined = self.decide_all(query, [("n", self.plan.notifiable(), terms, IS_NULL(_copy(first)))],
                                         "notifiable")
        value = refined["n"]
        notifiable = first if value is None else cast(CASE([(IS_NULL(first), to_sql(value))], _copy(first)),
                                                          "BOOLEAN")
        # Without the case split in SQL, a row that needs it is left to Python.
        undecided = False if self.refining else OR(*(IS_NULL(column(f"_met_{n}")) for n in range(len(self.rows))),
                                                    IS_NULL(_copy(notifiable)))
        reported = [(OPEN, self.open_decisions(codes, shared, first))] if self.report_open and not self.refining else []
        query = _layer(query, "_irmer_notifiable", [("_notifiable", notifiable), (UNDECIDED, to_sql(undecided)),
                                                    *self.category_scores(), *reported,
                                                    ("_codes_met", self.codes_met(codes))])
        # What `missing` and the codes share, worked out once (`hoisted`): `missing` only where the verdict
        # is unknown.
        query, [(_, why)] = hoisted(query, "_irmer_why", [("why", self.why())], guard=IS_NULL(column("_notifiable")))
        query, out = hoisted(query, "_irmer_shared", self.outputs(codes, why))
        query = _layer(query, "_irmer_out", out)
        final = [exp.column(name, quoted=True) for name in self.keep]
        final += [exp.alias_(exp.column(f"_out_{name}", quoted=True), name, quoted=True, copy=False)
                  for name in RESULT_COLUMNS]
        final += [exp.alias_(_value(OR(column(FALLBACK), column(REFUSED))), FALLBACK, quoted=True, copy=False),
                  exp.column(UNDECIDED, quoted=True), *(column(name) for name, _ in reported)]
        if self.made:
            final.append(exp.alias_(_value(OR(*(column(m) for m in self.made))), SPLIT, quoted=True, copy=False))
        result = exp.select(*final, copy=False).from_(exp.Subquery(this=query, alias=exp.TableAlias(
            this=exp.to_identifier("_irmer_result"))), copy=False)
        for name, body in self.ctes:
            result = result.with_(name, as_=body, copy=False)
        return result

    def open(self, name: str) -> bool:
        """Whether some row may leave the decision (or the verdict) `name` open: all may, unless told."""
        return self.decisions is None or name in self.decisions

    @staticmethod
    def decision_names_of(checked: Checked) -> list[str]:
        """The case split's decisions, in OPEN's bit order: each row, each code of several rows, the verdict."""
        rows = checked.criteria.rows
        codes = list(dict.fromkeys(row.code for row in rows))
        shared = [j for j, code in enumerate(codes) if sum(r.code == code for r in rows) > 1]
        statutory = [n for n, item in enumerate(checked.criteria.complementary) if item.role == "statutory"]
        return [str(n) for n in range(len(rows))] + [f"c{j}" for j in shared] + ["n"] + [f"m{n}" for n in statutory]

    def open_decisions(self, codes: list[str], shared: Mapping[int, list[int]], first: B) -> exp.Expression:
        """OPEN: bit k set where the k-th decision (decision_names_of) is left unknown without the split
        (for "m" and a statutory complementary code's number: where that code is unknown)."""
        opens: list[B] = [IS_NULL(column(f"_rmet_{n}")) for n in range(len(self.rows))]  # = _met_n, unrefined
        opens += [IS_NULL(OR(*(column(f"_rmet_{n}") for n in same))) for j, same in shared.items() if len(same) > 1]
        opens.append(IS_NULL(_copy(first)))
        opens += [IS_NULL(column(f"_cmet_{n}")) for n, item in enumerate(self.criteria.complementary)
                  if item.role == "statutory"]
        if len(opens) > 62:  # too many for one integer: every decision counts as open
            return integer(-1)
        terms = [_value(CASE([(o, integer(1 << k))], integer(0))) for k, o in enumerate(opens) if o is not False]
        total: exp.Expression = cast(integer(0), "BIGINT")
        for term in terms:
            total = exp.Add(this=total, expression=term)
        return total

    def given(self, fact: str) -> B:
        """The incident gives the fact: its column holds a value (over-approximated for a fact with a
        default: a value SQL would not read is given too, and Python then decides the row anyway)."""
        if fact not in self.types:
            return False
        return NOT(IS_NULL(column(fact)))

    def derived_or_conflicting(self, compiler: "Compiler") -> B:
        """Rows Python decides (engines/derive.py): a fact a derivation reads is given (the derived value and
        its contradictions are worked out once, in Python), or a conflict's facts are given and contradict."""
        parts: list[B] = [self.given(fact) for d in self.criteria.derivations for fact in d.reads]
        for conflict in self.criteria.conflicts:
            holds, _ = compiler.truth(conflict.when)
            parts.append(AND(*(self.given(fact) for fact in conflict.reads),
                             holds if isinstance(holds, bool) or holds is None
                             else exp.Coalesce(this=holds, expressions=[exp.false()])))
        refused = OR(*parts)
        return False if refused is None else refused

    def why(self) -> exp.Expression:
        """The facts that would decide it (read when it is undetermined)."""
        facts = sorted({fact for _, fact, _ in self.missing_columns})
        missing = []
        for fact in facts:
            missing.append((OR(*(AND(IS_NULL(column(met)), _again(when))
                                 for met, f, when in self.missing_columns if f == fact)), fact))
        return _text_list(missing)

    def outputs(self, codes: list[str], why: exp.Expression) -> list[tuple[str, exp.Expression]]:
        notifiable = column("_notifiable")
        met_codes = column("_codes_met")  # a column: each complementary code's suffixes read it again
        any_code = OR(*(_is(column(f"_code_{j}"), True) for j in range(len(codes))))
        letters: list[tuple[B, str]] = []
        all_codes = [met_codes]
        for n, item in enumerate(self.criteria.complementary):
            emitted = AND(_is(column(f"_cmet_{n}"), True), {
                "statutory": True, "tag": _is(notifiable, True), "voluntary": _is(notifiable, False)}[item.role])
            letters.append((emitted, item.code))
            prefixed = self.prefixed(item, met_codes, any_code)
            all_codes.append(CASE([(emitted, prefixed)], cast(exp.Array(expressions=[]), "VARCHAR[]")))
        codes_list = reduce(lambda a, b: exp.ArrayConcat(this=a, expressions=[b]), all_codes)
        jurisdiction = self.env.named("jurisdiction")
        authority = CASE([(exp.EQ(this=jurisdiction.copy(), expression=string(a.jurisdiction)), string(a.name or ""))
                          for a in self.criteria.authorities], cast(exp.null(), "VARCHAR"))
        out = [("_out_notifiable", notifiable), ("_out_codes", codes_list), ("_out_complementary", _text_list(letters)),
               ("_out_missing", CASE([(IS_NULL(notifiable), why)], _text_list([]))), ("_out_authority", authority)]
        out += self.deadlines(notifiable)
        out += [("_out_criteria", string(self.criteria.header.version)),
                ("_out_error", cast(exp.null(), "VARCHAR"))]
        return out

    @staticmethod
    def codes_met(codes: list[str]) -> exp.Expression:
        """The codes met, in the file's order (`_codes_met`)."""
        return _text_list([(column(f"_code_{j}"), code) for j, code in enumerate(codes)])

    def deadlines(self, notifiable: exp.Expression) -> list[tuple[str, exp.Expression]]:
        """notify_by and report_by: the days after the fact each names, unless the verdict is false."""
        out = []
        for name in ("notify_by", "report_by"):
            deadline = next((d for d in self.criteria.deadlines if d.name == name and d.days is not None), None)
            if deadline is None:
                out.append((f"_out_{name}", cast(exp.null(), "DATE")))
                continue
            start = column(f"_v_{deadline.after}")
            day = cast(exp.DateAdd(this=start, expression=integer(deadline.days), unit=exp.var("DAY")), "DATE")
            out.append((f"_out_{name}", cast(CASE([(_is(notifiable.copy(), False), exp.null())], day), "DATE")))
        return out

    def prefixed(self, item: ast.Complementary, met_codes: exp.Expression, any_code: B) -> exp.Expression:
        """A complementary code with the suffix of the most relevant code (the interpreter's `prefixed`)."""
        with_codes = template("LIST_TRANSFORM(:l, LAMBDA _irmer_item: CONCAT(:k, _irmer_item))",
                              l=met_codes.copy(), k=string(item.code))
        banded, plain = self.suffix_choices()
        n_banded = self._count(banded)
        n_plain = self._count(plain)
        bare = exp.Array(expressions=[string(item.code)])
        one = lambda options: CASE([(c, exp.Array(expressions=[string(item.code + code)])) for c, code in options
                                    if c is not False])
        return CASE([(any_code, with_codes),
                     (exp.EQ(this=n_banded, expression=integer(1)), one(banded)),
                     (AND(exp.EQ(this=n_banded.copy(), expression=integer(0)),
                          exp.EQ(this=n_plain, expression=integer(1))), one(plain))], bare)

    def suffix_choices(self) -> tuple[list[tuple[B, str]], list[tuple[B, str]]]:
        """The codes whose suffix a complementary code may take, each with when it is a candidate: the
        banded rows' codes met in their band, and the plain categories that fit best (engines/suffix.py)."""
        order = list(dict.fromkeys(row.code for row in self.rows))
        banded = [(OR(*(AND(_is(column(f"_fin_{n}"), True), _is(column(f"_band_{n}"), True))
                        for n, r in enumerate(self.rows) if r.code == code and r.band is not None)), code)
                  for code in order]
        # The plain categories whose tests fit best (engines/suffix.py): no other scores higher.
        # When none fits any test, every plain category in scope is a candidate.
        scored = self.plain_codes()
        positive = lambda k: _is(exp.GT(this=column(f"_score_{k}"), expression=integer(0)), True)  # noqa: E731
        any_fit = OR(*(positive(k) for k in range(len(scored))))
        plain = [(OR(AND(any_fit, positive(k),
                         *(NOT(_is(exp.GT(this=column(f"_score_{j}"), expression=column(f"_score_{k}")), True))
                           for j in range(len(scored)) if j != k)),
                     AND(NOT(_copy(any_fit)), *[OR(*(_is(column(f"_fin_{n}"), True) for n, r in enumerate(self.rows)
                                                      if r.code == code and r.band is None))])), code)
                 for k, code in enumerate(scored)]
        return banded, plain

    def category_fit(self, row: ast.Row, compiler: "Compiler") -> exp.Expression:
        """How many of the row's category tests the facts meet; NULL when one fails (suffix.fit)."""
        truths = [compiler.truth(node)[0] for node, _ in category_conjuncts(self.checked, row)]
        terms = [CASE([(_is(_copy(t), True), integer(1))], integer(0)) for t in truths]
        count = reduce(lambda a, b: exp.Add(this=a, expression=b), terms) if terms else integer(0)
        failed = OR(*(_is(_copy(t), False) for t in truths))
        return cast(CASE([(failed, exp.null())], count), "INTEGER")

    def plain_codes(self) -> list[str]:
        """The codes with rows without a band, in the file's order: `_score_{k}` is the k-th's best fit."""
        return list(dict.fromkeys(row.code for row in self.rows if row.band is None))

    def category_scores(self) -> list[tuple[str, exp.Expression]]:
        """For each code with rows without a band: the best fit among those in scope (NULL: none)."""
        out = []
        for k, code in enumerate(self.plain_codes()):
            fits = [CASE([(_is(column(f"_fin_{n}"), True), column(f"_cat_{n}"))])
                    for n, r in enumerate(self.rows) if r.code == code and r.band is None]
            best = fits[0]
            for other in fits[1:]:  # rows of one code are few: a CASE a row
                best = CASE([(OR(IS_NULL(_copy(other)), exp.GTE(this=_copy(best), expression=_copy(other))),
                              _copy(best))], other)
            out.append((f"_score_{k}", best))
        return out

    @staticmethod
    def _count(options: list[tuple[B, str]]) -> exp.Expression:
        terms = [CASE([(c, integer(1))], integer(0)) for c, _ in options if c is not False]
        return reduce(lambda a, b: exp.Add(this=a, expression=b), terms) if terms else integer(0)


def compile_query(checked: Checked, table: str | exp.Expression, types: Mapping[str, str] | None = None,
                  units: Mapping[str, str] | None = None, keep: Iterable[str] | None = None,
                  refine: bool = True, form: str = "lambda", decisions: Iterable[str] | None = None,
                  report_open: bool = False) -> exp.Select:
    """The query over a table of incidents (by default: a text column for every fact and `id`).

    With `refine=False` the query leaves out the case split and marks the rows
    that need it (UNDECIDED), and with `report_open` says which decisions each
    leaves open (OPEN); with `decisions` (QueryBuilder.decision_names) the
    query makes only those splits. Raises
    SQLUnsupported for criteria this backend does not compile.
    """
    if types is None:
        types = {name: "text" for name in ["id", *checked.facts]}
    source = exp.select(exp.Star()).from_(exp.to_table(table) if isinstance(table, str) else table, copy=False)
    keep = list(types) if keep is None else list(keep)
    return QueryBuilder(checked, source, types, units or {}, keep, refine, form, decisions=decisions,
                        report_open=report_open).build()


def create_view(checked: Checked, table: str, view: str, dialect: str, units: Mapping[str, str] | None = None,
                columns: Iterable[str] | None = None) -> str:
    """`CREATE VIEW view AS ...` over `table`, printed for a dialect (irmer sql)."""
    names = list(columns) if columns else ["id", *checked.facts]
    types = {name: "any" for name in names}  # read through their text: works for any column type
    query = compile_query(checked, table, types, units, names)
    statement = exp.Create(this=exp.to_table(view), kind="VIEW", expression=query, replace=True)
    return print_sql(statement, dialect)


# ------------------------------------------------------------- printing

class _SparkPrinter(Spark):
    """Spark's SQL, printed without the rewrites our queries never need.

    Spark's generator rewrites every SELECT for constructs these queries do not
    contain (QUALIFY, DISTINCT ON, UNNEST in a join, ANY), each rewrite searching
    the whole subtree below it: quadratic in the nesting of the query's layers.
    Its STRUCT copies every field's value before printing it. The text is the
    same (tests/test_sql.py compares the two printings); it takes a third of the time.
    """

    class Generator(Spark.Generator):
        TRANSFORMS = {node: rule for node, rule in Spark.Generator.TRANSFORMS.items() if node is not exp.Select}

        def struct_sql(self, expression: exp.Struct) -> str:
            # sqlglot's Generator.struct_sql, without a copy of each value (the tree is printed once).
            expression.set("expressions", [
                exp.alias_(e.expression, e.name if e.this.is_string else e.this, copy=False)
                if isinstance(e, exp.PropertyEQ) else e for e in expression.expressions])
            return self.function_fallback_sql(expression)


# A dialect's name -> what prints it (the dialect itself unless named here).
PRINTERS: dict[str, Any] = {"spark": _SparkPrinter}


def print_sql(expression: exp.Expression, dialect: str) -> str:
    """A query built for this printing, printed in place (no copy of it first: sqlglot's copy of a tree
    this size took longer than printing it).

    >>> print_sql(exp.select(exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier("k"),
    ...                                                        expression=exp.column("a"))])), "spark")
    'SELECT STRUCT(a AS k)'
    """
    return expression.sql(dialect=PRINTERS.get(dialect, dialect), copy=False)
