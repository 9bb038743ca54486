"""The two-valued query: the criteria in plain SQL, for the rows whose facts decide them (most rows).

The three-valued query of engines/sql.py keeps the interpreter's intervals for
unknown numbers and makes the case split: exact for every row, but every
comparison carries its interval form and the query is large. Most rows of a
real table give every fact their decision reads, and for them a comparison is
a comparison. This query is that: each fact read once (the same reading
layers), each comparison a plain comparison of exact values multiplied out
with integer coefficients (never a division), SQL's own NULL for an unknown
fact, no interval forms, no case split, no `missing`.

Why its answers are the three-valued query's, where it says so: SQL's AND, OR
and NOT are Kleene's, and a comparison is NULL wherever it reads an unknown
fact (or a ratio whose denominator is not positive, or a case whose condition
is unknown). Treating a comparison as unknown is sound, and Kleene's logic is
monotone: wherever this query gives a verdict true or false, every value of
the unknown facts gives the same, so the interpreter's intervals (at least
as precise) give it too, with no case split. The query therefore adds
`_irmer_exact`: true where every value the result is composed of came out
true or false here (each row's scope and verdict, each complementary code,
where one is met the category tests of the rows in scope, which choose its
suffix, and each conflict that could apply). Only those rows take this
query's answer; the engine (engines/columnar.py) sends the others through
the three-valued query.

>>> from evaluator import load_criteria
>>> sql = compile_plain(load_criteria("2024").checked, "incidents").sql("duckdb")
>>> "_irmer_exact" in sql and "_irmer_case" not in sql
True
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping

from sqlglot import exp

from ..language import ast
from ..language.check import Checked
from .plan import category_conjuncts
from .sql import (
    AND, B, BOOL_RULES, COMPLEMENTARY_MET, FALLBACK, IS_NULL, OPEN, NOT, OR, REFUSED, RESULT_COLUMNS, CASE, Compiler,
    End, Missing, NUMERIC, QueryBuilder, Reader, SQLUnsupported, integer, string, _copy, _is, _layer, _point_compare,
    _value, cast, column, decimal, to_sql,
)

EXACT = "_irmer_exact"  # true where this query's answer is the three-valued query's
KEY = "_irmer_key"  # the codes, the complementary codes' suffixes and the authority, as one integer (Layout)


@dataclass(frozen=True)
class Layout:
    """How `_irmer_key` holds a result's lists: what the query computes once per row as one integer,
    and the engine turns into lists once per distinct value (a table has few).

    Bit j is the j-th code (in the file's order) met; then, for each complementary code, the option its
    suffix takes (0: not emitted; k: options[k - 1], "with" the codes met, a "banded" or a "plain"
    code's, or "bare"); then the authority (0: none; k: the k-th).

    >>> from evaluator import load_criteria
    >>> layout = Layout.of(load_criteria("2024").checked)
    >>> layout.decode(1 | 1 << layout.items[0][2] | 1 << layout.authority_shift)
    (['1', 'M1'], ['M'], 'Care Quality Commission (CQC)')
    """

    codes: tuple[str, ...]
    items: tuple[tuple[str, tuple[tuple[str, str | None], ...], int], ...]  # (code, options, shift)
    authorities: tuple[str, ...]
    authority_shift: int

    @classmethod
    def of(cls, checked: Checked) -> "Layout":
        criteria = checked.criteria
        codes = tuple(dict.fromkeys(row.code for row in criteria.rows))
        banded = [c for c in codes if any(r.code == c and r.band is not None for r in criteria.rows)]
        plain = list(dict.fromkeys(row.code for row in criteria.rows if row.band is None))
        options = (("with", None), *(("banded", c) for c in banded), *(("plain", c) for c in plain), ("bare", None))
        shift, items = len(codes), []
        for item in criteria.complementary:
            items.append((item.code, options, shift))
            shift += len(options).bit_length()
        if shift + len(criteria.authorities).bit_length() > 62:
            raise SQLUnsupported("too many codes for one integer")
        return cls(codes, tuple(items), tuple(a.name or "" for a in criteria.authorities), shift)

    def decode(self, key: int) -> tuple[list[str], list[str], str | None]:
        """The codes (with the complementary ones, suffixed), the complementary letters, the authority."""
        met = [code for j, code in enumerate(self.codes) if key >> j & 1]
        codes, letters = list(met), []
        for code, options, shift in self.items:
            choice = key >> shift & ((1 << len(options).bit_length()) - 1)
            if not choice:
                continue
            letters.append(code)
            kind, target = options[choice - 1]
            codes += [code + c for c in met] if kind == "with" else [code + target] if target else [code]
        authority = key >> self.authority_shift
        return codes, letters, self.authorities[authority - 1] if authority else None


def _times_bit(condition: B, value: int) -> exp.Expression:
    return _value(CASE([(condition, integer(value))], integer(0)))


@dataclass(frozen=True)
class Point:
    """A number as an exact value, k * e / d (e, d SQL numbers, None for 1), valid where `ok` holds.

    Where `ok` fails the number is unknown (a ratio over zero, say): its
    comparisons are NULL.
    """

    k: Fraction
    e: exp.Expression | None = None
    d: exp.Expression | None = None
    ok: B = True

    def copy(self) -> "Point":
        return Point(self.k, _copy(self.e), _copy(self.d), _copy(self.ok))


def _known(value: B) -> B:
    """Two-valued: the condition came out true or false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return True
    return exp.Not(this=exp.Is(this=exp.paren(_copy(value), copy=False), expression=exp.null()))


class PlainCompiler(Compiler):
    """Conditions and numbers as plain SQL: Kleene's logic over NULL, exact values, no intervals."""

    def __init__(self, checked: Checked, env: Any):
        super().__init__(checked, env, track_missing=False)

    def truth(self, node: Any) -> tuple[B, Missing]:
        rule = PLAIN_BOOL.get(type(node))
        return rule(self, node) if rule is not None else BOOL_RULES[type(node)](self, node)

    def number(self, node: Any) -> tuple[Point, Missing]:  # type: ignore[override]
        return PLAIN_NUMBER[type(node)](self, node)

    def let(self, key: str, compute: Callable[[], tuple[Any, Missing]]) -> tuple[Any, Missing]:
        if key not in self.memo:
            self.memo[key] = compute()
        value, _ = self.memo[key]
        return (value.copy() if isinstance(value, Point) else _copy(value)), {}

    # ------------------------------------------------------------- numbers
    def n_ref(self, node: ast.Ref) -> tuple[Point, Missing]:
        if node.target == "definition":
            return self.let(node.name, lambda: self.number(self.checked.definitions[node.name].body))
        return Point(Fraction(1), self.env.raw(node.name)), {}

    def n_number(self, node: ast.Number | ast.Percent) -> tuple[Point, Missing]:
        return Point(node.value), {}

    def n_scale(self, node: ast.Scale) -> tuple[Point, Missing]:
        value, _ = self.number(node.operand)
        if node.value == 0:
            return Point(Fraction(0)), {}
        return Point(value.k * node.value, value.e, value.d, value.ok), {}

    def n_ratio(self, node: ast.Ratio) -> tuple[Point, Missing]:
        a, _ = self.number(node.numerator)
        b, _ = self.number(node.denominator)
        if a.d is not None or b.d is not None:
            raise SQLUnsupported("a ratio of a ratio")
        if b.k == 0:
            raise SQLUnsupported("a ratio with a constant zero")
        # Exact where the denominator is positive; x/0 is the interpreter's ∞ or unknown: left unknown here.
        positive = True if b.e is None else exp.GT(this=b.e.copy(), expression=decimal(Fraction(0)))
        return Point(a.k / b.k, a.e, b.e, AND(a.ok, b.ok, positive)), {}

    def n_case(self, node: ast.Case) -> tuple[Point, Missing]:
        values = [self.number(branch.value)[0] for branch in node.branches] + [self.number(node.otherwise)[0]]
        if any(v.e is not None or v.d is not None or v.ok is not True for v in values):
            raise SQLUnsupported("a case whose branches are not constants")
        return Point(Fraction(1), self._select([decimal(v.k) for v in values], node, NUMERIC)), {}

    def _select(self, values: list[Any], node: ast.Case, kind: str) -> Any:
        """CASE over the branches: the first true condition's value; NULL at an unknown condition."""
        pairs: list[tuple[B, Any]] = []
        for branch, value in zip(node.branches, values):
            condition, _ = self.truth(branch.condition)
            pairs.append((IS_NULL(condition), cast(exp.null(), kind)))
            pairs.append((_is(_copy(condition), True), value))
        return CASE(pairs, values[-1])

    # ------------------------------------------------------------- conditions
    def compare_points(self, x: Point, op: str, y: Point) -> B:
        ok = AND(x.ok, y.ok)
        if ok is False or ok is None:
            return None
        result = _point_compare(End(x.k, x.e, x.d), op, End(y.k, y.e, y.d))
        return result if ok is True else cast(CASE([(ok, to_sql(result))]), "BOOLEAN")

    def b_compare(self, node: ast.Compare) -> tuple[B, Missing]:
        values = [self.number(op)[0] for op in node.operands]
        return AND(*(self.compare_points(values[i].copy(), op, values[i + 1].copy())
                     for i, op in enumerate(node.ops))), {}

    def b_tolerance(self, node: ast.Tolerance) -> tuple[B, Missing]:
        value, _ = self.number(node.value)
        reference, _ = self.number(node.reference)
        low = Point(reference.k * (1 - node.fraction), reference.e, reference.d, reference.ok)
        high = Point(reference.k * (1 + node.fraction), _copy(reference.e), _copy(reference.d), _copy(reference.ok))
        outside = OR(self.compare_points(low, ">", value), self.compare_points(value.copy(), ">", high))
        return (outside if node.outside else NOT(outside)), {}

    def b_case(self, node: ast.Case) -> tuple[B, Missing]:
        values = [_value(self.truth(branch.value)[0]) for branch in node.branches]
        values.append(_value(self.truth(node.otherwise)[0]))
        return cast(self._select(values, node, "BOOLEAN"), "BOOLEAN"), {}


PLAIN_NUMBER: dict[type, Callable[..., tuple[Point, Missing]]] = {
    ast.Ref: PlainCompiler.n_ref, ast.Number: PlainCompiler.n_number, ast.Percent: PlainCompiler.n_number,
    ast.Scale: PlainCompiler.n_scale, ast.Ratio: PlainCompiler.n_ratio, ast.Case: PlainCompiler.n_case,
}
PLAIN_BOOL: dict[type, Callable[..., tuple[B, Missing]]] = {
    ast.Compare: PlainCompiler.b_compare, ast.Tolerance: PlainCompiler.b_tolerance, ast.Case: PlainCompiler.b_case,
}


class PlainBuilder(QueryBuilder):
    """The two-valued query: the three-valued query's columns where `_irmer_exact` holds."""

    def __init__(self, *args: Any, structs: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # A dose's text matched once into a struct (DuckDB), or each part matched on its own (elsewhere:
        # Spark's regexp_extract takes one group at a time).
        self.structs = structs

    def build(self) -> exp.Select:
        query = self.source
        for n, layer in enumerate(Reader(self.checked.facts, self.types, self.units, structs=self.structs).layers()):
            if layer:
                query = _layer(query, f"_irmer_read{n}", layer)
        compiler = PlainCompiler(self.checked, self.env)
        self.missing_columns = []
        # First each part once (a row's scope, its conditions, each code's exclusions), then the verdicts
        # from those columns: DuckDB does not share a subexpression between columns.
        parts: list[tuple[str, Any]] = []
        excluded = {code: self.excluded(code, compiler)[0] for code in self.exclusions}
        parts += [(f"_exc_{j}", value) for j, value in enumerate(excluded.values())]
        exc_column = {code: column(f"_exc_{j}") for j, code in enumerate(excluded)}
        verdicts: list[tuple[str, Any]] = []
        # How well the facts fit each row's category (its tests met): it chooses a complementary code's
        # suffix, so it is worked out only on the rows where one is met and the row is in scope (a CASE
        # evaluates its branch on those rows alone). Every row paying for it was a third of this query.
        fits: list[tuple[str, Any]] = []
        known: list[str] = []  # columns that must come out true or false
        hold: list[str] = []  # columns that must come out true
        for n, row in enumerate(self.rows):
            scope, _ = self.scope(row, compiler)
            band, _ = compiler.truth(row.band) if row.band is not None else (True, {})
            when, _ = compiler.truth(row.when)
            unless, _ = compiler.truth(row.unless) if row.unless is not None else (False, {})
            parts += [(f"_in_{n}", AND(scope, band)), (f"_band_{n}", band), (f"_when_{n}", when),
                      (f"_unless_{n}", unless)]
            verdicts.append((f"_rmet_{n}", AND(column(f"_in_{n}"), column(f"_when_{n}"), NOT(column(f"_unless_{n}")),
                                               NOT(_copy(exc_column.get(row.code, False))))))
            known += [f"_in_{n}", f"_rmet_{n}"]
            if row.band is None:
                fits.append((f"_cat_{n}", CASE([(AND(column(COMPLEMENTARY_MET), _is(column(f"_in_{n}"), True)),
                                                 self.category_fit(row, compiler))])))
                # The suffix reads the category tests of the rows in scope: each must be decided too
                # (where a complementary code is met).
                tests = [compiler.truth(node)[0] for node, _ in category_conjuncts(self.checked, row)]
                verdicts.append((f"_catok_{n}", OR(NOT(column(f"_in_{n}")), AND(*(_known(t) for t in tests)))))
                hold.append(f"_catok_{n}")
        for n, item in enumerate(self.criteria.complementary):
            when, _ = compiler.truth(item.when)
            parts.append((f"_cwhen_{n}", when))
            verdicts.append((f"_cmet_{n}", AND(column(f"_cwhen_{n}"), NOT(_copy(exc_column.get(item.code, False))))))
            known.append(f"_cmet_{n}")
        parts.append((REFUSED, to_sql(self.derived_or_conflicting(compiler))))
        conflicts: list[B] = []
        for conflict in self.criteria.conflicts:  # a conflict left unknown here may hold in intervals
            holds, _ = compiler.truth(conflict.when)
            conflicts.append(OR(NOT(AND(*(self.given(fact) for fact in conflict.reads))), _known(holds)))
        parts.append(("_conflicts_known", to_sql(self._two_valued(AND(*conflicts)))))
        query = _layer(query, "_irmer_parts", parts)
        query = _layer(query, "_irmer_rows", verdicts)
        # The category tests choose a complementary code's suffix: they matter where one is met.
        some_complementary = OR(*(_is(column(f"_cmet_{n}"), True) for n in range(len(self.criteria.complementary))))
        exact = AND(column("_conflicts_known"), *(_known(column(name)) for name in known),
                    *(OR(NOT(_copy(some_complementary)), _is(column(name), True)) for name in hold))
        query = _layer(query, "_irmer_exact", [(EXACT, to_sql(self._two_valued(exact))),
                                               (COMPLEMENTARY_MET, _copy(some_complementary))])

        codes = list(dict.fromkeys(row.code for row in self.rows))
        layer = [(f"_fin_{n}", column(f"_in_{n}")) for n in range(len(self.rows))]
        layer += fits
        for j, code in enumerate(codes):
            layer.append((f"_code_{j}", OR(*(column(f"_rmet_{n}") for n, r in enumerate(self.rows) if r.code == code))))
        query = _layer(query, "_irmer_codes", layer)
        statutory = [n for n, item in enumerate(self.criteria.complementary) if item.role == "statutory"]
        notifiable = OR(*(column(f"_code_{j}") for j in range(len(codes))), *(column(f"_cmet_{n}") for n in statutory))
        # The decisions a row leaves open here: a superset of those the three-valued query leaves open.
        shared = {j: [n for n, r in enumerate(self.rows) if r.code == code] for j, code in enumerate(codes)}
        query = _layer(query, "_irmer_notifiable", [("_notifiable", notifiable), *self.category_scores(),
                                                    # Read only where this query's answer is not taken.
                                                    (OPEN, CASE([(column(EXACT), integer(0))], self.open_decisions(
                                                        codes, shared, _copy(notifiable))))])
        query = _layer(query, "_irmer_suffix", [("_suffix", CASE([(column(COMPLEMENTARY_MET), self.suffix())],
                                                                 integer(0)))])
        query = _layer(query, "_irmer_out", [(KEY, self.result_key()), *self.deadlines(column("_notifiable"))])
        final = [exp.column(name, quoted=True) for name in self.keep]
        final += [exp.alias_(column("_notifiable"), "notifiable", quoted=True, copy=False), column(KEY),
                  *(exp.alias_(column(f"_out_{name}"), name, quoted=True, copy=False)
                    for name in ("notify_by", "report_by")),
                  exp.alias_(_value(OR(column(FALLBACK), column(REFUSED))), FALLBACK, quoted=True, copy=False),
                  column(EXACT), column(OPEN)]
        return exp.select(*final, copy=False).from_(exp.Subquery(this=query, alias=exp.TableAlias(
            this=exp.to_identifier("_irmer_result"))), copy=False)

    def suffix(self) -> exp.Expression:
        """The option a complementary code's suffix takes, if it is emitted (the same for every one): an
        index into Layout's options (the interpreter's `prefixed`, as sql.QueryBuilder.prefixed)."""
        layout = Layout.of(self.checked)
        options = layout.items[0][1] if layout.items else ()
        codes = layout.codes
        any_code = OR(*(_is(column(f"_code_{j}"), True) for j in range(len(codes))))
        banded, plain = self.suffix_choices()
        banded = [(c, code) for c, code in banded if c is not False]
        plain = [(c, code) for c, code in plain if c is not False]
        if [t for kind, t in options if kind == "banded"] != [code for _, code in banded] or \
                [t for kind, t in options if kind == "plain"] != [code for _, code in plain]:
            raise SQLUnsupported("the suffixes of a complementary code do not fit the layout")
        if not options:
            return integer(0)
        index = {option: k + 1 for k, option in enumerate(options)}
        n_banded, n_plain = self._count(banded), self._count(plain)
        return _value(CASE([(any_code, integer(index["with", None])),
                            (exp.EQ(this=n_banded, expression=integer(1)),
                             CASE([(c, integer(index["banded", t])) for c, t in banded])),
                            (AND(exp.EQ(this=n_banded.copy(), expression=integer(0)),
                                 exp.EQ(this=n_plain, expression=integer(1))),
                             CASE([(c, integer(index["plain", t])) for c, t in plain]))],
                           integer(index["bare", None])))

    def result_key(self) -> exp.Expression:
        """The codes met, each complementary code's suffix and the authority, as one integer (Layout)."""
        layout = Layout.of(self.checked)
        terms: list[exp.Expression] = [
            _times_bit(_is(column(f"_code_{j}"), True), 1 << j) for j in range(len(layout.codes))]
        notifiable = column("_notifiable")
        for n, item in enumerate(self.criteria.complementary):
            emitted = AND(_is(column(f"_cmet_{n}"), True), {
                "statutory": True, "tag": _is(notifiable, True), "voluntary": _is(notifiable, False)}[item.role])
            choice = CASE([(emitted, column("_suffix"))], integer(0))
            terms.append(exp.Mul(this=cast(_value(choice), "BIGINT"), expression=integer(1 << layout.items[n][2])))
        authority = CASE([(exp.EQ(this=self.env.named("jurisdiction"), expression=string(a.jurisdiction)),
                           integer(k + 1)) for k, a in enumerate(self.criteria.authorities)], integer(0))
        terms.append(exp.Mul(this=cast(_value(authority), "BIGINT"), expression=integer(1 << layout.authority_shift)))
        total = cast(terms[0], "BIGINT")
        for term in terms[1:]:
            total = exp.Add(this=total, expression=term)
        return total

    @staticmethod
    def _two_valued(value: B) -> B:
        if value is None or isinstance(value, bool):
            return bool(value)
        return exp.Coalesce(this=value, expressions=[exp.false()])


def compile_plain(checked: Checked, table: str | exp.Expression, types: Mapping[str, str] | None = None,
                  units: Mapping[str, str] | None = None, keep: Iterable[str] | None = None,
                  dialect: str = "duckdb") -> exp.Select:
    """The two-valued query over a table of incidents (the arguments of sql.compile_query), for `dialect`."""
    if types is None:
        types = {name: "text" for name in ["id", *checked.facts]}
    source = exp.select(exp.Star()).from_(exp.to_table(table) if isinstance(table, str) else table, copy=False)
    keep = list(types) if keep is None else list(keep)
    return PlainBuilder(checked, source, types, units or {}, keep, refine=False, structs=dialect == "duckdb").build()
