"""Stage 2: parse tree -> AST, with one Lark Transformer.

Clauses of a block may come in any order; a clause that may appear once but
appears twice is reported here, with both places. Everything else about
meaning (names, kinds, units) is the checker's job.

>>> from evaluator.language.parse import parse_text
>>> vocab = to_ast(parse_text('vocabulary "v"\\nfact age: duration\\n  unit years\\n', "v.irmer"), "v.irmer")
>>> vocab.facts[0].kind.name, vocab.facts[0].unit
('duration', 'years')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from functools import lru_cache

from lark import Token, Tree

from . import ast
from .gcpause import paused
from .diagnostics import CriteriaError, Diagnostic, Span
from .operators import COMPARATORS
from .values import parse_decimal


@dataclass
class Clause:
    """A clause of a block before it is put in its place: `when ...`, `says ...`."""

    name: str
    value: Any
    span: Span


# Clauses that may appear many times in a block; any other appears at most once.
REPEATABLE = {"says", "notes", "interpretations", "allows", "texts", "given", "expects", "to"}


def unquote(token: Token) -> str:
    body = str(token)[1:-1]
    return body.replace('\\"', '"').replace("\\\\", "\\")


class ToAst:
    """Builds AST nodes; collects diagnostics for repeated clauses.

    Each rule of the grammar that has a method here becomes what the method
    returns, called as ``method(meta, children)`` with its children already
    transformed; a rule without one stays a ``Tree`` (as a Lark ``Transformer``
    with ``v_args(meta=True)`` would do, without its per-call wrappers, which
    cost a third of this stage).
    """

    def __init__(self, file: str):
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self._last_meta: Any = None
        self._last_span: Span | None = None

    def transform(self, tree: Tree) -> Any:
        """The AST of a parse tree (children first, each rule by its method)."""
        methods = _methods(type(self))
        return _walk(tree, methods, self)

    # -------------------------------------------------------------- helpers
    def span(self, meta: Any) -> Span | None:
        if meta is self._last_meta:  # a clause's span is asked for twice, for the clause and its node
            return self._last_span
        if getattr(meta, "empty", True):
            return None
        span = Span(file=self.file, line=meta.line, column=meta.column,
                    end_line=meta.end_line, end_column=meta.end_column)
        self._last_meta, self._last_span = meta, span
        return span

    def tspan(self, token: Token) -> Span:
        return Span(file=self.file, line=token.line, column=token.column,
                    end_line=token.end_line, end_column=token.end_column)

    def collect(self, block: str, clauses: list[Any], allowed: set[str]) -> dict[str, Any]:
        """Group clauses by name, reporting a repeated single clause."""
        fields: dict[str, Any] = {}
        first: dict[str, Span] = {}
        for clause in clauses:
            if not isinstance(clause, Clause):
                continue
            if clause.name not in allowed:  # pragma: no cover - the grammar prevents it
                continue
            if clause.name in REPEATABLE:
                fields.setdefault(clause.name, []).append(clause.value)
            elif clause.name in fields:
                word = clause.name.rstrip("s") if clause.name == "modalities" else clause.name
                self.diagnostics.append(Diagnostic(
                    message=f"{block} has a second `{word}` line",
                    span=clause.span,
                    hint=f"the first is at line {first[clause.name].line}; join them into one"))
            else:
                fields[clause.name] = clause.value
                first[clause.name] = clause.span
        out = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
        out["clause_spans"] = first | {k: v for k, v in self._first_repeatable(clauses).items()}
        return out

    @staticmethod
    def _first_repeatable(clauses: list[Any]) -> dict[str, Span]:
        spans: dict[str, Span] = {}
        for clause in clauses:
            if isinstance(clause, Clause) and clause.name in REPEATABLE:
                spans.setdefault(clause.name, clause.span)
        return spans

    # ------------------------------------------------------------- top level
    def start(self, meta, children):
        return children[-1]

    def criteria(self, meta, children):
        header, *items = children
        groups: dict[str, list] = {"allows": [], "definitions": [], "tables": [], "complementary": [],
                                   "exclusions": [], "deadlines": [], "authorities": [], "advice": [], "routes": [],
                                   "derivations": [], "conflicts": [], "examples": []}
        for item in items:
            if isinstance(item, Clause):  # a file-level `allow`
                groups["allows"].append(item.value)
                continue
            groups[ITEM_GROUP[type(item)]].append(item)
        return ast.Criteria(header=header, span=self.span(meta), **{k: tuple(v) for k, v in groups.items()})

    def header(self, meta, children):
        version, *fields = children
        values: dict[str, Any] = {}
        for key, value, span in fields:
            if key in values:
                self.diagnostics.append(Diagnostic(message=f"the header has a second `{key.replace('_', ' ')}` line",
                                                   span=span))
            if value is not None:
                values[key] = value
        return ast.Header(version=unquote(version), span=self.span(meta), **values)

    def header_field(self, meta, children):
        key_token, value_token = children
        key = "in_force" if str(key_token).startswith("in") else str(key_token)
        wanted = HEADER_FIELDS[key]
        words = {"date": "a date (YYYY-MM-DD)", "text": 'text in double quotes ("...")'}
        span = self.tspan(value_token)
        given = "date" if value_token.type == "DATE" else "text"
        if given != wanted:
            self.diagnostics.append(Diagnostic(
                message=f"`{key.replace('_', ' ')}` takes {words[wanted]}, not {words[given]}", span=span,
                hint="published 2024-08-28" if wanted == "date" else f'{key} "..."'))
            return key, None, self.span(meta)
        if given == "text":
            return key, unquote(value_token), self.span(meta)
        try:
            return key, dt.date.fromisoformat(str(value_token)), self.span(meta)
        except ValueError:
            self.diagnostics.append(Diagnostic(message=f"{value_token} is not a date", span=span,
                                               hint="write it YYYY-MM-DD"))
            return key, None, self.span(meta)

    # ---------------------------------------------------------------- text
    def says(self, meta, children):
        return Clause("says", ast.Text(text=unquote(children[0]), span=self.span(meta)), self.span(meta))

    def note(self, meta, children):
        return Clause("notes", ast.Text(text=unquote(children[0]), span=self.span(meta)), self.span(meta))

    def allow(self, meta, children):
        rule, reason = children
        return Clause("allows", ast.Allow(rule=str(rule), reason=unquote(reason), span=self.span(meta)), self.span(meta))

    def interpretation(self, meta, children):
        ident, text = children
        node = ast.Interpretation(id=str(ident), text=unquote(text), span=self.span(meta))
        return Clause("interpretations", node, self.span(meta))

    def category(self, meta, children):
        return Clause("category", ast.Text(text=unquote(children[0]), span=self.tspan(children[0])),
                      self.span(meta))

    # --------------------------------------------------------- definitions
    def definition(self, meta, children):
        name, *clauses = children
        fields = self.collect(f"definition `{name}`", clauses, {"allows", "says", "notes", "interpretations", "body"})
        if "body" not in fields:
            self.diagnostics.append(Diagnostic(message=f"definition `{name}` has no `as` line",
                                               span=self.tspan(name), hint="say what it means: as <expression>"))
            fields["body"] = ast.Constant(value=False)
        return ast.Definition(name=str(name), span=self.span(meta), **fields)

    def as_expr(self, meta, children):
        return Clause("body", children[0], self.span(meta))

    def as_cases(self, meta, children):
        *branches, otherwise = children
        case = ast.Case(branches=tuple(branches), otherwise=otherwise, span=self.span(meta))
        return Clause("body", case, self.span(meta))

    def case_branch(self, meta, children):
        value, condition = children
        return ast.CaseBranch(value=value, condition=condition, span=self.span(meta))

    def case_otherwise(self, meta, children):
        return children[0]

    # ------------------------------------------------------------- tables
    def table(self, meta, children):
        title, *rest = children
        clauses = [c for c in rest if isinstance(c, Clause)]
        rows = [r for r in rest if isinstance(r, ast.Row)]
        fields = self.collect(f"table {unquote(title)}", clauses,
                              {"allows", "says", "notes", "interpretations", "exposure"})
        table_title = unquote(title)
        exposure = fields.get("exposure", ())
        rows = [row.model_copy(update={"table": table_title, "exposure": row.exposure or exposure})
                for row in rows]
        return ast.Table(title=table_title, rows=tuple(rows), span=self.span(meta), **fields)

    def exposure_scope(self, meta, children):
        return Clause("exposure", children[0], self.span(meta))

    def modality_scope(self, meta, children):
        return Clause("modalities", children[0], self.span(meta))

    def jurisdiction_scope(self, meta, children):
        return Clause("jurisdictions", children[0], self.span(meta))

    def band(self, meta, children):
        return Clause("band", children[0], self.span(meta))

    def when(self, meta, children):
        return Clause("when", children[0], self.span(meta))

    def unless(self, meta, children):
        return Clause("unless", children[0], self.span(meta))

    def row(self, meta, children):
        code, *rest = children
        label = None
        if rest and isinstance(rest[0], Token) and rest[0].type == "STRING":
            label = unquote(rest.pop(0))
        name = f"row {code}" + (f" ({label})" if label else "")
        fields = self.collect(name, rest, {"allows", "category", "says", "notes", "interpretations", "exposure",
                                           "modalities", "jurisdictions", "band", "when", "unless"})
        return ast.Row(code=str(code), label=label, span=self.span(meta), **fields)

    # ------------------------------------------------------- complementary
    def complementary(self, meta, children):
        code, *clauses = children
        fields = self.collect(f"complementary {code}", clauses,
                              {"allows", "category", "says", "notes", "interpretations", "suffix", "role", "when"})
        suffix = fields.pop("suffix", (None, None))
        return ast.Complementary(code=str(code), suffix_from=suffix[0], suffix_to=suffix[1],
                                 span=self.span(meta), **fields)

    def suffix(self, meta, children):
        return Clause("suffix", (self.whole(children[0]), self.whole(children[1])), self.span(meta))

    def whole(self, token: Token) -> int:
        """A whole number written in the file, within the bounds on numbers (int() refuses 4,300 digits)."""
        try:
            return int(parse_decimal(str(token)))
        except ValueError as error:
            self.diagnostics.append(Diagnostic(message=str(error), span=self.tspan(token)))
            return 0

    def role(self, meta, children):
        return Clause("role", str(children[0]), self.span(meta))

    def exclusion(self, meta, children):
        name, *clauses = children
        fields = self.collect(f"exclusion {name}", clauses, {"allows", "says", "notes", "interpretations", "codes", "when"})
        return ast.Exclusion(name=str(name), span=self.span(meta), **fields)

    def codes(self, meta, children):
        return Clause("codes", children[0], self.span(meta))

    # -------------------------------------------------- deadlines, authorities
    def deadline(self, meta, children):
        name, number, unit, after, *clauses = children
        fields = self.collect(f"deadline {name}", clauses, {"allows", "says", "notes", "interpretations"})
        fields["clause_spans"] |= {"name": self.tspan(name), "after": self.tspan(after)}
        amount = ast.Number(text=str(number), unit=str(unit), span=_join(self.tspan(number), self.tspan(unit)))
        return ast.Deadline(name=str(name), amount=amount, after=str(after), span=self.span(meta), **fields)

    def authority(self, meta, children):
        jurisdiction, *clauses = children
        fields = self.collect(f"authority {jurisdiction}", clauses, {"says", "notes", "name", "contact"})
        fields["clause_spans"]["jurisdiction"] = self.span(meta)
        return ast.Authority(jurisdiction=jurisdiction, span=self.span(meta), **fields)

    def authority_name(self, meta, children):
        return Clause("name", unquote(children[0]), self.span(meta))

    def authority_contact(self, meta, children):
        return Clause("contact", unquote(children[0]), self.span(meta))

    def advice(self, meta, children):
        name, *clauses = children
        fields = self.collect(f"advice {name}", clauses, {"says", "notes", "when", "texts"})
        return ast.Advice(name=str(name), span=self.span(meta), **fields)

    def advice_text(self, meta, children):
        jurisdictions, text = children
        node = ast.AdviceText(jurisdictions=jurisdictions, text=unquote(text), span=self.span(meta))
        return Clause("texts", node, self.span(meta))

    def route(self, meta, children):
        name, *clauses = children
        fields = self.collect(f"route {name}", clauses, {"says", "notes", "interpretations", "when", "to", "why",
                                                         "verdicts"})
        return ast.Route(name=str(name), span=self.span(meta), **fields)

    def route_to_all(self, meta, children):
        node = ast.RouteTo(text=unquote(children[0]), span=self.span(meta))
        return Clause("to", node, self.span(meta))

    def route_to_in(self, meta, children):
        jurisdictions, text = children
        node = ast.RouteTo(jurisdictions=jurisdictions, text=unquote(text), span=self.span(meta))
        return Clause("to", node, self.span(meta))

    def route_why(self, meta, children):
        return Clause("why", unquote(children[0]), self.span(meta))

    def route_verdict(self, meta, children):
        return Clause("verdicts", tuple(children), self.span(meta))

    def verdict_notifiable(self, meta, children):
        return "notifiable"

    def verdict_not_notifiable(self, meta, children):
        return "not notifiable"

    def verdict_undetermined(self, meta, children):
        return "undetermined"

    # ---------------------------------------------------- derivations, conflicts
    def derivation(self, meta, children):
        name, *clauses = children
        fields = self.collect(f"derive {name}", clauses, {"allows", "says", "notes", "interpretations", "branches"})
        if "branches" not in fields:
            self.diagnostics.append(Diagnostic(message=f"derive {name} has no `as` line", span=self.tspan(name),
                                               hint="say when each value holds: as <value> if <condition>"))
        return ast.Derivation(fact=str(name), span=self.span(meta), **fields)

    def derive_cases(self, meta, children):
        return Clause("branches", tuple(children), self.span(meta))

    def derive_branch(self, meta, children):
        value, condition = children
        return ast.DeriveBranch(value=value, condition=condition, span=self.span(meta))

    def conflict(self, meta, children):
        name, *clauses = children
        fields = self.collect(f"conflict {name}", clauses,
                              {"allows", "says", "notes", "interpretations", "when", "message"})
        return ast.Conflict(name=str(name), span=self.span(meta), **fields)

    def conflict_message(self, meta, children):
        return Clause("message", unquote(children[0]), self.span(meta))

    # ------------------------------------------------------------- examples
    def example(self, meta, children):
        title, *clauses = children
        fields = self.collect(f"example {unquote(title)}", clauses, {"allows", "says", "notes", "given", "expects"})
        given = tuple(g for block in fields.pop("given", ()) for g in block)
        return ast.Example(title=unquote(title), given=given, span=self.span(meta), **fields)

    def given(self, meta, children):
        return Clause("given", tuple(children), self.span(meta))

    def given_fact(self, meta, children):
        name, value = children
        return ast.Given(name=str(name), value=value, span=self.span(meta))

    def list_value(self, meta, children):
        return ast.Literal_(form="list", items=tuple(children), span=self.span(meta))

    def expect(self, meta, children):
        return Clause("expects", children[0].model_copy(update={"span": self.span(meta)}), self.span(meta))

    def expect_notifiable(self, meta, children):
        return ast.Expectation(what="notifiable")

    def expect_not_notifiable(self, meta, children):
        return ast.Expectation(what="not notifiable")

    def expect_undetermined(self, meta, children):
        return ast.Expectation(what="undetermined")

    def expect_codes(self, meta, children):
        return ast.Expectation(what="codes", items=children[0])

    def expect_no_codes(self, meta, children):
        return ast.Expectation(what="codes", items=())

    def expect_missing(self, meta, children):
        return ast.Expectation(what="missing", items=children[0])

    def expect_date(self, meta, children):
        field, date = children
        return ast.Expectation(what="date", field=str(field), items=(str(date),))

    def expect_authority(self, meta, children):
        return ast.Expectation(what="authority", items=(unquote(children[0]),))

    def expect_routes(self, meta, children):
        return ast.Expectation(what="routes", items=children[0])

    def expect_no_routes(self, meta, children):
        return ast.Expectation(what="routes", items=())

    # ----------------------------------------------------------- vocabulary
    def vocabulary(self, meta, children):
        title, *rest = children
        clauses = [c for c in rest if isinstance(c, Clause)]
        facts = tuple(f for f in rest if isinstance(f, ast.Fact))
        fields = self.collect("the vocabulary", clauses, {"says", "notes"})
        fields.pop("clause_spans")
        return ast.Vocabulary(title=unquote(title), facts=facts, span=self.span(meta), **fields)

    def fact(self, meta, children):
        name, kind, *clauses = children
        fields = self.collect(f"fact {name}", clauses, {"says", "notes", "absent", "minimum", "unit"})
        if "absent" in fields:
            fields["absent"], fields["assumed"] = fields["absent"]
        return ast.Fact(name=str(name), kind=kind, span=self.span(meta), **fields)

    def enum_kind(self, meta, children):
        return ast.KindSpec(name="one of", values=children[0], span=self.span(meta))

    def set_kind(self, meta, children):
        return ast.KindSpec(name="one or more of", values=children[0], span=self.span(meta))

    def bool_kind(self, meta, children):
        return ast.KindSpec(name="yes or no", span=self.span(meta))

    def named_kind(self, meta, children):
        return ast.KindSpec(name=" ".join(map(str, children)), span=self.span(meta))

    def absent(self, meta, children):
        return Clause("absent", (children[0], False), self.span(meta))

    def absent_assumes(self, meta, children):
        # One `absent` line a fact, whichever verb: a second is reported as a repeated clause.
        return Clause("absent", (children[0], True), self.span(meta))

    def minimum(self, meta, children):
        number = children[0]
        unit = str(children[1]) if len(children) > 1 else None
        return Clause("minimum", ast.Number(text=str(number), unit=unit, span=self.span(meta)), self.span(meta))

    def unit_hint(self, meta, children):
        return Clause("unit", str(children[0]), self.span(meta))

    # ---------------------------------------------------------- expressions
    def or_expr(self, meta, children):
        return ast.Or(operands=tuple(children), span=self.span(meta))

    def and_expr(self, meta, children):
        return ast.And(operands=tuple(children), span=self.span(meta))

    def negation(self, meta, children):
        return ast.Not(operand=children[0], span=self.span(meta))

    def comparison(self, meta, children):
        operands = tuple(children[0::2])
        ops = tuple(COMPARATORS[str(op)] for op in children[1::2])
        return ast.Compare(operands=operands, ops=ops, span=self.span(meta))

    def is_value(self, meta, children):
        return ast.IsValue(fact=str(children[0]), values=(children[1],), span=self.span(meta))

    def is_not_value(self, meta, children):
        return ast.IsValue(fact=str(children[0]), values=(children[1],), negated=True, span=self.span(meta))

    def is_one_of(self, meta, children):
        return ast.IsValue(fact=str(children[0]), values=children[1], one_of=True, span=self.span(meta))

    def is_not_one_of(self, meta, children):
        return ast.IsValue(fact=str(children[0]), values=children[1], one_of=True, negated=True,
                           span=self.span(meta))

    def includes(self, meta, children):
        return ast.Includes(fact=str(children[0]), values=children[1], span=self.span(meta))

    def outside(self, meta, children):
        value, _pm, percent, reference = children
        return ast.Tolerance(value=value, reference=reference, percent=_percent_text(percent), outside=True,
                             span=self.span(meta))

    def within(self, meta, children):
        value, _pm, percent, reference = children
        return ast.Tolerance(value=value, reference=reference, percent=_percent_text(percent), outside=False,
                             span=self.span(meta))

    def criteria_of(self, meta, children):
        return ast.CriteriaOf(code=str(children[0]), span=self.span(meta))

    def always(self, meta, children):
        return ast.Constant(value=True, span=self.span(meta))

    def never(self, meta, children):
        return ast.Constant(value=False, span=self.span(meta))

    def ratio(self, meta, children):
        return ast.Ratio(numerator=children[0], denominator=children[1], span=self.span(meta))

    def times(self, meta, children):
        return ast.Scale(factor=str(children[0]), operand=children[1], span=self.span(meta))

    def percent_of(self, meta, children):
        return ast.Scale(factor=_percent_text(children[0]), percent=True, operand=children[1], span=self.span(meta))

    def ref(self, meta, children):
        return ast.Ref(name=str(children[0]), span=self.span(meta))

    def number(self, meta, children):
        unit = str(children[1]) if len(children) > 1 else None
        return ast.Number(text=str(children[0]), unit=unit, span=self.span(meta))

    def percent(self, meta, children):
        return ast.Percent(text=_percent_text(children[0]), span=self.span(meta))

    # ------------------------------------------------------------- literals
    def value(self, meta, children):
        token = children[0]
        return unquote(token) if token.type == "STRING" else str(token)

    def value_list(self, meta, children):
        return tuple(children)

    def name_list(self, meta, children):
        return tuple(str(c) for c in children)

    def code_list(self, meta, children):
        return tuple(str(c) for c in children)

    def name_literal(self, meta, children):
        return ast.Literal_(form="name", text=str(children[0]), span=self.span(meta))

    def string_literal(self, meta, children):
        return ast.Literal_(form="string", text=unquote(children[0]), span=self.span(meta))

    def number_literal(self, meta, children):
        unit = str(children[1]) if len(children) > 1 else None
        return ast.Literal_(form="number", text=str(children[0]), unit=unit, span=self.span(meta))

    def percent_literal(self, meta, children):
        return ast.Literal_(form="percent", text=_percent_text(children[0]), span=self.span(meta))

    def date_literal(self, meta, children):
        return ast.Literal_(form="date", text=str(children[0]), span=self.span(meta))


@lru_cache(maxsize=None)
def _methods(cls: type) -> dict[str, Any]:
    """The rule methods of a transformer class, by rule name (public methods that are not helpers)."""
    return {name: getattr(cls, name) for name in dir(cls)
            if not name.startswith("_") and name not in _HELPERS and callable(getattr(cls, name))}


_HELPERS = {"span", "tspan", "collect", "whole", "transform"}


def _walk(tree: Tree, methods: dict[str, Any], transformer: ToAst) -> Any:
    children = [_walk(child, methods, transformer) if type(child) is Tree else child for child in tree.children]
    method = methods.get(tree.data)
    if method is None:
        return Tree(tree.data, children, tree.meta)
    return method(transformer, tree.meta, children)


def _percent_text(token: Token) -> str:
    return str(token).replace(" ", "").replace("\t", "").rstrip("%")


def _join(a: Span, b: Span) -> Span:
    return Span(file=a.file, line=a.line, column=a.column, end_line=b.end_line, end_column=b.end_column)


# Header field -> the kind of value it takes.
HEADER_FIELDS: dict[str, str] = {
    "title": "text", "publisher": "text", "published": "date", "in_force": "date", "supersedes": "text",
    "source": "text", "vocabulary": "text",
}

ITEM_GROUP = {
    ast.Definition: "definitions", ast.Table: "tables", ast.Complementary: "complementary",
    ast.Exclusion: "exclusions", ast.Deadline: "deadlines", ast.Authority: "authorities",
    ast.Advice: "advice", ast.Route: "routes", ast.Derivation: "derivations", ast.Conflict: "conflicts",
    ast.Example: "examples",
}


@paused
def to_ast(tree: Tree, file: str = "<string>", source: str | None = None) -> ast.Criteria | ast.Vocabulary:
    """Transform a parse tree; raise CriteriaError listing every structural problem."""
    transformer = ToAst(file)
    node = transformer.transform(tree)
    if transformer.diagnostics:
        raise CriteriaError(transformer.diagnostics, {file: source} if source is not None else {})
    return node
