"""Stage 3: the checker. Names, types, quantity kinds and units.

It takes the AST and the vocabulary and returns the AST with every number
resolved to an exact value in its kind's base unit, every name resolved to a
fact or a definition and every comparison typed. Units are resolved here,
once; the backends never call pint. Every problem is a located diagnostic,
and the checker reports them all, not just the first.

Types are strings: ``"yes or no"`` for conditions, a kind name (``"effective
dose"``, ``"count"``, ``"number"``, ...) for numbers, ``"one of:<fact>"`` and
``"one or more of:<fact>"`` for facts with named values, ``"date"``, ``"text"``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterable

from . import ast
from .diagnostics import Diagnostic, Span
from .gcpause import paused
from .incident import ENVELOPE
from .units import BOOL, DIMENSIONLESS, ENUM, KINDS, NUMBER, SET, VALUE_KINDS, UnitError, describe_kind, resolve_unit
from .limits import LIMITS, MAX_DEADLINE_DAYS
from .values import FactInfo, NumberLimitError, ValueProblem, parse_decimal, read_value

ERROR = "error"  # the type of an expression that already has an error: no further errors about it

# The scope lines of a row, and the vocabulary fact each one restricts.
SCOPES: dict[str, str] = {"exposure": "exposure", "modalities": "modality", "jurisdictions": "jurisdiction"}

# What a complementary code's role means (see evaluate.py for how each is applied).
ROLES: dict[str, str] = {
    "statutory": "makes the incident notifiable on its own",
    "tag": "marks a notifiable incident; never makes one notifiable",
    "voluntary": "a voluntary notification, not a statutory one",
}

# Deadlines the result reports: name -> what it is.
DEADLINES: dict[str, str] = {
    "notify_by": "the date by which to notify the enforcing authority",
    "report_by": "the date by which to send the investigation report",
}

# What to do about a number beyond the bounds of limits.py.
NUMBER_HINT = "write the number with at most 30 significant digits, between 1e-30 and 1e30"


def _number_hint(error: ValueError) -> str | None:
    return NUMBER_HINT if isinstance(error, NumberLimitError) else None

# Header fields every criteria file must have.
REQUIRED_HEADER = ("title", "publisher", "published", "in_force", "source", "vocabulary")


def fact_infos(vocabulary: ast.Vocabulary, file: str) -> tuple[dict[str, FactInfo], list[Diagnostic]]:
    """Check a vocabulary and return what each fact is."""
    infos: dict[str, FactInfo] = {}
    diagnostics: list[Diagnostic] = []
    for fact in vocabulary.facts:
        kind = fact.kind.name
        if fact.name in infos:
            diagnostics.append(Diagnostic(message=f"fact `{fact.name}` is declared twice", span=fact.span))
            continue
        if fact.name in ENVELOPE:
            diagnostics.append(Diagnostic(message=f"`{fact.name}` is an incident field, not a fact", span=fact.span))
            continue
        if kind not in VALUE_KINDS and kind not in KINDS:
            close = difflib.get_close_matches(kind, list(KINDS), n=1)
            diagnostics.append(Diagnostic(
                message=f"fact `{fact.name}` has an unknown kind `{kind}`", span=fact.kind.span,
                hint=f"did you mean `{close[0]}`?" if close else
                f"kinds are: {', '.join(VALUE_KINDS + tuple(KINDS))}"))
            continue
        if kind in (ENUM, SET) and len(set(fact.kind.values)) != len(fact.kind.values):
            diagnostics.append(Diagnostic(message=f"fact `{fact.name}` lists a value twice", span=fact.kind.span))
        unit = fact.unit
        if unit is not None:
            try:
                unit_kind, _ = resolve_unit(unit)
            except UnitError as error:
                diagnostics.append(Diagnostic(message=str(error), span=fact.span))
                unit = None
            else:
                if unit_kind != kind:
                    diagnostics.append(Diagnostic(message=f"`unit {unit}` is not {describe_kind(kind)}", span=fact.span))
                    unit = None
        minimum = None
        if fact.minimum is not None:
            if not (kind in KINDS and KINDS[kind].numeric):
                diagnostics.append(Diagnostic(message=f"`at least` needs a number, but `{fact.name}` is {kind}",
                                              span=fact.minimum.span))
            else:
                minimum = _literal_value(fact.minimum, kind, diagnostics)
        info = FactInfo(name=fact.name, kind=kind, values=fact.kind.values, unit=unit, minimum=minimum,
                        notes=tuple(n.text for n in fact.notes))
        if fact.absent is not None:
            verb = "assumes" if fact.assumed else "means"
            try:
                default = read_value(info, fact.absent.as_input())
            except ValueProblem as problem:
                diagnostics.append(Diagnostic(message=f"`absent {verb}`: {problem.message}", span=fact.absent.span,
                                              hint=problem.hint))
            else:
                if fact.assumed and kind not in (BOOL, ENUM):
                    # The engines report what each other value would change: a yes/no or a named value has
                    # a few; a number has no list of them.
                    diagnostics.append(Diagnostic(
                        message=f"`absent assumes` needs a yes-or-no or one-of fact, but `{fact.name}` is {kind}",
                        span=fact.absent.span, hint="write `absent means` for a default that is the norm"))
                else:
                    info = FactInfo(**{**info.__dict__, "default": default, "has_default": True,
                                       "assumed": fact.assumed})
        infos[fact.name] = info
    for name in SCOPES.values():
        if name not in infos:
            diagnostics.append(Diagnostic(message=f"the vocabulary must declare `{name}`: rows are scoped by it",
                                          span=vocabulary.span))
    return infos, diagnostics


def _literal_value(number: ast.Number, kind: str, diagnostics: list[Diagnostic]) -> Fraction | None:
    try:
        value = parse_decimal(number.text)
    except ValueError as error:
        diagnostics.append(Diagnostic(message=str(error), span=number.span, hint=_number_hint(error)))
        return None
    if number.unit is None:
        return value
    try:
        unit_kind, factor = resolve_unit(number.unit)
    except UnitError as error:
        diagnostics.append(Diagnostic(message=str(error), span=number.span))
        return None
    if unit_kind != kind:
        diagnostics.append(Diagnostic(message=f"{number.text} {number.unit} is not {describe_kind(kind)}",
                                      span=number.span))
        return None
    return value * factor


@dataclass
class Checked:
    """A checked criteria file: the resolved AST and everything the backends need to know."""

    criteria: ast.Criteria
    vocabulary: ast.Vocabulary
    facts: dict[str, FactInfo]
    definitions: dict[str, ast.Definition]
    types: dict[str, str]  # definition name -> type
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def rows(self) -> tuple[ast.Row, ...]:
        return self.criteria.rows

    def rows_with_code(self, code: str) -> tuple[ast.Row, ...]:
        return tuple(row for row in self.rows if row.code == code)

    def reachable(self, roots: Iterable[Any]) -> list[ast.Node]:
        """Every node the roots depend on, through definitions and `criteria of`, each once."""
        seen: list[ast.Node] = []
        stack = [r for r in roots if r is not None]
        visited: set[int] = set()
        while stack:
            below = [stack.pop()]  # a root's nodes depth first; a node seen before is skipped with its
            while below:           # subtree, every node of which was seen with it, so the order is a walk's
                sub = below.pop()
                if id(sub) in visited:
                    continue
                visited.add(id(sub))
                seen.append(sub)
                if isinstance(sub, ast.Ref) and sub.target == "definition":
                    stack.append(self.definitions[sub.name].body)
                elif isinstance(sub, ast.CriteriaOf):
                    stack.extend(row.when for row in self.rows_with_code(sub.code) if row.when)
                below.extend(reversed(sub.children()))
        return seen


class Checker:
    def __init__(self, facts: dict[str, FactInfo], file: str, source: str | None = None):
        self.facts = facts
        self.file = file
        self.lines = source.splitlines() if source is not None else []
        self.diagnostics: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.definitions: dict[str, ast.Definition] = {}
        self.resolved_definitions: dict[str, ast.Definition] = {}
        self.types: dict[str, str] = {}
        self.resolving: list[str] = []  # definitions being typed, outermost first
        self.entries: list[Span | None] = []  # the reference that led into each of them
        self.row_codes: set[str] = set()

    def error(self, message: str, span: Span | None, hint: str | None = None) -> str:
        self.diagnostics.append(Diagnostic(message=message, span=span, hint=hint))
        return ERROR

    def narrow(self, span: Span | None, text: str) -> Span | None:
        """The part of a span where `text` is written (its last occurrence), for a tighter caret."""
        if span is None or not self.lines:
            return span
        for line in range(span.end_line, span.line - 1, -1):
            source = self.lines[line - 1]
            start = span.column - 1 if line == span.line else 0
            stop = span.end_column - 1 if line == span.end_line else len(source)
            found = source.rfind(text, start, stop)
            if found >= 0:
                return Span(file=span.file, line=line, column=found + 1, end_line=line,
                            end_column=found + 1 + len(text))
        return span

    def warn(self, message: str, span: Span | None, hint: str | None = None) -> None:
        self.warnings.append(Diagnostic(message=message, span=span, hint=hint, severity="warning"))

    # ----------------------------------------------------------- the file
    def check(self, criteria: ast.Criteria) -> ast.Criteria:
        self.check_header(criteria.header)
        for definition in criteria.definitions:
            if definition.name in self.definitions:
                self.error(f"`{definition.name}` is defined twice", definition.span,
                           f"the first definition is at line {self.definitions[definition.name].span.line}")
            elif definition.name in self.facts:
                self.error(f"`{definition.name}` is a fact of the vocabulary; a definition needs another name",
                           definition.span)
            else:
                self.definitions[definition.name] = definition
        for name in self.definitions:
            self.definition_type(name, None)
        definitions = tuple(self.resolved_definitions.get(d.name, d) for d in criteria.definitions)
        self.row_codes = {row.code for row in criteria.rows}
        tables = tuple(self.check_table(table) for table in criteria.tables)
        self.check_codes(criteria)
        self.check_criteria_of_cycles(tables)
        complementary = self.check_complementary(criteria.complementary)
        exclusions = tuple(self.check_exclusion(e, complementary) for e in criteria.exclusions)
        deadlines = tuple(self.check_deadline(d) for d in criteria.deadlines)
        self.check_authorities(criteria.authorities)
        advice = tuple(self.check_advice(a) for a in criteria.advice)
        routes = self.check_routes(criteria.routes)
        derivations = self.check_derivations(criteria.derivations)
        conflicts = tuple(self.check_conflict(c) for c in criteria.conflicts)
        return criteria.model_copy(update={
            "definitions": definitions, "tables": tables, "complementary": complementary,
            "exclusions": exclusions, "deadlines": deadlines, "advice": advice, "routes": routes,
            "derivations": derivations, "conflicts": conflicts,
        })

    def check_header(self, header: ast.Header) -> None:
        for name in REQUIRED_HEADER:
            if getattr(header, name) is None:
                self.error(f"the header has no `{name.replace('_', ' ')}` line", header.span,
                           "a criteria file starts: guidance \"<version id>\", then title, publisher, "
                           "published, in force, supersedes, source and vocabulary lines")
        if header.published and header.in_force and header.in_force < header.published:
            self.error("`in force` is before `published`", header.span)

    # ------------------------------------------------------------ definitions
    def definition_type(self, name: str, reference: Span | None) -> str:
        if name in self.types:
            return self.types[name]
        definition = self.definitions[name]
        if name in self.resolving:
            start = self.resolving.index(name)
            cycle = " -> ".join(self.resolving[start:] + [name])
            self.types[name] = ERROR
            # Point into the definition the circle starts from (the first one in the file).
            where = self.entries[start + 1] if start + 1 < len(self.entries) else reference
            return self.error(f"definitions refer to each other in a circle: {cycle}", where or definition.span,
                              "a definition cannot depend on itself")
        self.resolving.append(name)
        self.entries.append(reference)
        body, kind = self.expr(definition.body)
        self.resolving.pop()
        self.entries.pop()
        if name not in self.types:
            self.types[name] = kind
        self.resolved_definitions[name] = definition.model_copy(update={"body": body})
        return self.types[name]

    # ----------------------------------------------------------------- tables
    def check_table(self, table: ast.Table) -> ast.Table:
        exposure = self.scope_values("exposure", table.exposure, table.span, table)
        rows = tuple(self.check_row(row) for row in table.rows)
        return table.model_copy(update={"rows": rows, "exposure": exposure})

    def scope_span(self, node: Any, scope: str, value: str) -> Span | None:
        return self.narrow(node.at(scope), value)

    def scope_values(self, scope: str, values: tuple[str, ...], span: Span | None,
                     node: Any = None) -> tuple[str, ...]:
        info = self.facts.get(SCOPES[scope])
        if info is None:
            return values
        canonical = []
        for value in values:
            try:
                canonical.append(read_value(FactInfo(name=info.name, kind=ENUM, values=info.values), value))
            except ValueProblem as problem:
                where = self.narrow(node.at(scope), value) if node is not None else span
                self.error(problem.message, where, problem.hint)
        return tuple(canonical)

    def check_row(self, row: ast.Row) -> ast.Row:
        name = f"row {row.name}"
        for clause in ("category", "when"):
            if getattr(row, clause) is None:
                self.error(f"{name} has no `{clause}` line", row.span,
                           "every row has its category, the regulator's words (says) and its rule (when)")
        if not row.says:
            self.error(f"{name} has no `says` line: put the regulator's words for it", row.span)
        if not row.exposure:
            self.error(f"{name} has no exposure: give its table (or the row) an `exposure` line", row.span)
        update: dict[str, Any] = {
            "exposure": self.scope_values("exposure", row.exposure, row.span,
                                          row if "exposure" in row.clause_spans else None),
            "modalities": self.scope_values("modalities", row.modalities, row.span, row),
            "jurisdictions": self.scope_values("jurisdictions", row.jurisdictions, row.span, row),
        }
        for clause in ("band", "when", "unless"):
            expr = getattr(row, clause)
            if expr is not None:
                update[clause] = self.condition(expr, f"the `{clause}` of {name}")
        return row.model_copy(update=update)

    def check_codes(self, criteria: ast.Criteria) -> None:
        """Rows may share a code only with a label each and in different jurisdictions."""
        everywhere = self.facts["jurisdiction"].values if "jurisdiction" in self.facts else ()
        earlier: dict[str, list[ast.Row]] = {}
        for row in criteria.rows:
            for first in earlier.get(row.code, []):
                if not row.label or not first.label or row.label == first.label:
                    need = "different labels" if row.label and first.label else "a label each"
                    self.error(f"code {row.code} appears twice; rows that share a code need {need}", row.span,
                               f'the other is at line {first.span.line}; write row {row.code} "<label>"')
                    break
                shared = set(row.jurisdictions or everywhere) & set(first.jurisdictions or everywhere)
                if shared:
                    self.error(f"rows {first.name} and {row.name} both apply in {', '.join(sorted(shared))}",
                               row.span, "rows that share a code must be in different jurisdictions")
                    break
            earlier.setdefault(row.code, []).append(row)
        # Two exclusions or deadlines of one name would silently override each other.
        # (Two examples of one title only confuse a reader: `irmer lint` warns.)
        for kind, items, key in (("exclusion", criteria.exclusions, "name"), ("deadline", criteria.deadlines, "name")):
            seen: dict[str, Any] = {}
            for item in items:
                name = getattr(item, key)
                if name in seen:
                    self.error(f"two {kind}s are called {name!r}", item.span,
                               f"the other is at line {seen[name].span.line}; give each a name of its own")
                seen.setdefault(name, item)

    def check_criteria_of_cycles(self, tables: tuple[ast.Table, ...]) -> None:
        graph: dict[str, list[ast.CriteriaOf]] = {}
        for table in tables:
            for row in table.rows:
                if row.when is not None:
                    graph.setdefault(row.code, []).extend(
                        n for n in row.when.walk() if isinstance(n, ast.CriteriaOf))

        def visit(code: str, path: list[str]) -> None:
            for ref in graph.get(code, []):
                if ref.code in path:
                    self.error(f"rows refer to each other's criteria in a circle: {' -> '.join(path + [ref.code])}",
                               ref.span)
                    continue
                visit(ref.code, path + [ref.code])

        for code in graph:
            visit(code, [code])

    # --------------------------------------------------------- complementary
    def check_complementary(self, items: tuple[ast.Complementary, ...]) -> tuple[ast.Complementary, ...]:
        out = []
        seen: set[str] = set()
        for item in items:
            name = f"complementary {item.code}"
            if not (len(item.code) == 1 and item.code.isalpha()):
                self.error(f"a complementary code is one capital letter, not `{item.code}`", item.span)
            if item.code in seen:
                self.error(f"complementary code {item.code} is declared twice", item.span)
            seen.add(item.code)
            if item.category is None:
                self.error(f"{name} has no `category` line", item.span)
            if item.suffix_from is None:
                self.error(f"{name} has no `suffix` line", item.span, "say which codes it may prefix: suffix 1 to 10")
            elif item.suffix_from > item.suffix_to:
                self.error(f"{name}: suffix {item.suffix_from} to {item.suffix_to} is empty", item.at("suffix"))
            if item.role is None:
                self.error(f"{name} has no `role` line", item.span, f"roles are: {', '.join(ROLES)}")
            elif item.role not in ROLES:
                close = difflib.get_close_matches(item.role, list(ROLES), n=1)
                self.error(f"{name}: unknown role `{item.role}`", self.narrow(item.at("role"), item.role),
                           f"did you mean `{close[0]}`?" if close else f"roles are: {', '.join(ROLES)}")
            when = item.when
            if when is None:
                self.error(f"{name} has no `when` line", item.span)
            else:
                when = self.condition(when, f"the `when` of {name}")
            out.append(item.model_copy(update={"when": when}))
        return tuple(out)

    def check_exclusion(self, exclusion: ast.Exclusion, complementary: tuple[ast.Complementary, ...]) -> ast.Exclusion:
        known = self.row_codes | {c.code for c in complementary}
        for code in exclusion.codes:
            if code not in known:
                self.error(f"exclusion {exclusion.name} names code {code}, which no row has",
                           self.narrow(exclusion.at("codes"), code), _did_you_mean(code, known))
        if not exclusion.says:
            self.error(f"exclusion {exclusion.name} has no `says` line", exclusion.span)
        when = exclusion.when
        if when is None:
            self.error(f"exclusion {exclusion.name} has no `when` line", exclusion.span)
        else:
            when = self.condition(when, f"the `when` of exclusion {exclusion.name}")
        return exclusion.model_copy(update={"when": when})

    def check_deadline(self, deadline: ast.Deadline) -> ast.Deadline:
        if deadline.name not in DEADLINES:
            self.error(f"unknown deadline `{deadline.name}`", deadline.at("name"),
                       _did_you_mean(deadline.name, DEADLINES) or f"deadlines are: {', '.join(DEADLINES)}")
        info = self.facts.get(deadline.after)
        if info is None or info.kind != "date":
            self.error(f"a deadline counts from a date fact; `{deadline.after}` is not one", deadline.at("after"),
                       "such as discovered_on")
        amount, kind = self.expr(deadline.amount)
        days = None
        if kind not in (ERROR, "duration"):
            self.error(f"a deadline is a duration, not {describe_kind(kind)}", deadline.amount.span)
        elif kind == "duration":
            exact_days = amount.value * 1461 / 4  # base unit is the year of 365.25 days
            if exact_days.denominator != 1:
                self.error("a deadline must be a whole number of days", deadline.amount.span, "give it in days or weeks")
            elif exact_days > MAX_DEADLINE_DAYS:
                # A date that far ahead may not exist (year 10000), and no guidance gives one.
                self.error(f"a deadline of {exact_days} days is too long: {LIMITS['deadline']}",
                           deadline.amount.span)
            else:
                days = int(exact_days)
        return deadline.model_copy(update={"amount": amount, "days": days})

    def check_authorities(self, authorities: tuple[ast.Authority, ...]) -> None:
        info = self.facts.get("jurisdiction")
        seen: set[str] = set()
        for authority in authorities:
            if info and authority.jurisdiction not in info.values:
                self.error(f"unknown jurisdiction `{authority.jurisdiction}`", authority.at("jurisdiction"),
                           _did_you_mean(authority.jurisdiction, info.values))
            if authority.jurisdiction in seen:
                self.error(f"{authority.jurisdiction} has two authorities", authority.span)
            seen.add(authority.jurisdiction)
            if authority.name is None:
                self.error(f"the authority for {authority.jurisdiction} has no `name` line", authority.span)
        if info:
            for jurisdiction in info.values:
                if jurisdiction not in seen:
                    self.warn(f"no enforcing authority is given for {jurisdiction}", None)

    def check_advice(self, advice: ast.Advice) -> ast.Advice:
        when = advice.when
        if when is None:
            self.error(f"advice {advice.name} has no `when` line", advice.span)
        else:
            when = self.condition(when, f"the `when` of advice {advice.name}")
        for text in advice.texts:
            self.scope_values("jurisdictions", text.jurisdictions, text.span)
        return advice.model_copy(update={"when": when})

    def check_routes(self, routes: tuple[ast.Route, ...]) -> tuple[ast.Route, ...]:
        """Each route: a `when`, somewhere to go (once per jurisdiction), verdicts named once; names unique."""
        seen: dict[str, ast.Route] = {}
        out = []
        for route in routes:
            if route.name in seen:
                self.error(f"route {route.name} is given twice", route.span,
                           f"the first is at line {seen[route.name].span.line}" if seen[route.name].span else None)
            seen.setdefault(route.name, route)
            when = route.when
            if when is None:
                self.error(f"route {route.name} has no `when` line", route.span,
                           "say when the incident goes there: when <condition>, or when always")
            else:
                when = self.condition(when, f"the `when` of route {route.name}")
            if not route.to:
                self.error(f"route {route.name} has no `to` line", route.span,
                           'say where the incident goes: to "Health and Safety Executive (HSE)"')
            places: dict[str, Span | None] = {}
            for to in route.to:
                self.scope_values("jurisdictions", to.jurisdictions, to.span)
                for place in to.jurisdictions or ("",):
                    if place in places:
                        where = "everywhere" if not place else f"in {place}"
                        self.error(f"route {route.name} says twice where it goes {where}", to.span,
                                   f"the first is at line {places[place].line}" if places[place] else None)
                    places.setdefault(place, to.span)
            for k, verdict in enumerate(route.verdicts):
                if verdict in route.verdicts[:k]:
                    self.error(f"route {route.name} names the verdict `{verdict}` twice", route.at("verdicts"))
            out.append(route.model_copy(update={"when": when}))
        return tuple(out)

    # -------------------------------------------------- derivations, conflicts
    def facts_read(self, node: Any, where: str) -> tuple[str, ...]:
        """The facts a condition of a derivation or a conflict reads, in order; it may read nothing else.

        Both are applied when an incident is read, before any row: a definition or `criteria of`
        would bring in the rows' own logic (and, through them, the derived fact itself)."""
        found: list[str] = []
        for sub in node.walk():
            if isinstance(sub, ast.Ref) and sub.target == "definition":
                self.error(f"{where} reads the definition `{sub.name}`; it may read facts only", sub.span,
                           "write the condition over the facts the definition reads")
            elif isinstance(sub, ast.CriteriaOf):
                self.error(f"{where} reads `criteria of {sub.code}`; it may read facts only", sub.span)
            elif isinstance(sub, ast.Ref) and sub.target == "fact":
                found.append(sub.name)
            elif isinstance(sub, (ast.IsValue, ast.Includes)):
                found.append(sub.fact)
        return tuple(dict.fromkeys(found))

    def check_derivations(self, derivations: tuple[ast.Derivation, ...]) -> tuple[ast.Derivation, ...]:
        """Each derived fact: a fact with named values, derived once, from other facts, without a circle.
        Returned in an order where a fact is derived before any derivation that reads it."""
        checked: dict[str, ast.Derivation] = {}
        for derivation in derivations:
            name, where = derivation.fact, f"derive {derivation.fact}"
            info = self.facts.get(name)
            at = derivation.at("branches")
            if info is None:
                self.error(f"`{name}` is not a fact of the vocabulary: only a fact can be derived", derivation.span,
                           _did_you_mean(name, self.facts) or "declare it in the vocabulary first")
                continue
            if info.kind not in (ENUM, BOOL):
                self.error(f"derive works out a fact with one named value or yes or no, but `{name}` is "
                           f"{info.describe()}", derivation.span, "derive a fact declared `one of ...` or `yes or no`")
                continue
            if name in checked:
                self.error(f"`{name}` is derived twice", derivation.span,
                           f"the first derivation is at line {checked[name].span.line}; join their branches")
                continue
            branches = []
            for branch in derivation.branches:
                if info.kind == BOOL and branch.value not in ("yes", "no"):
                    self.error(f"`{branch.value}` is not a value of `{name}`", self.narrow(branch.span, branch.value),
                               "its values are: yes, no")
                elif info.kind == ENUM:
                    self.enum_values(info, (branch.value,), branch.span)
                condition = self.condition(branch.condition, f"the condition of `{branch.value}` in {where}")
                branches.append(branch.model_copy(update={"condition": condition}))
            reads = self.facts_read(ast.And(operands=tuple(b.condition for b in branches)), where)
            if name in reads:
                self.error(f"{where} reads `{name}` itself", at, "derive it from other facts")
            checked[name] = derivation.model_copy(update={"branches": tuple(branches), "reads": reads})
        # A circle through several derivations (a from b, b from a) has no first one to work out.
        ordered: list[ast.Derivation] = []
        state: dict[str, int] = {}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " -> ".join(path[path.index(name):] + [name])
                self.error(f"derivations depend on each other in a circle: {cycle}", checked[name].span,
                           "a derived fact cannot depend on itself")
                return
            state[name] = 1
            for read in checked[name].reads:
                if read in checked and read != name:
                    visit(read, path + [name])
            state[name] = 2
            ordered.append(checked[name])

        for name in checked:
            visit(name, [])
        return tuple(ordered)

    def check_conflict(self, conflict: ast.Conflict) -> ast.Conflict:
        where = f"conflict {conflict.name}"
        if conflict.when is None:
            self.error(f"{where} has no `when` line", conflict.span, "say which facts contradict each other")
            return conflict
        if conflict.message is None:
            self.error(f"{where} has no `message` line", conflict.span,
                       "say in plain words why the facts cannot both hold")
        when = self.condition(conflict.when, f"the `when` of {where}")
        reads = self.facts_read(when, where)
        if len(reads) < 2:
            self.error(f"{where} reads {len(reads)} fact{'s' if len(reads) != 1 else ''}: a contradiction is "
                       f"between two facts or more", conflict.at("when"),
                       "a value a fact cannot take is the vocabulary's business")
        return conflict.model_copy(update={"when": when, "reads": reads})

    # ------------------------------------------------------------ expressions
    def condition(self, expr: Any, where: str) -> Any:
        node, kind = self.expr(expr)
        if kind not in (BOOL, ERROR):
            self.error(f"{where} must be a condition (yes or no), but this is {self.describe(kind)}", expr.span,
                       "compare it with something: total_dose >= 3 mSv")
        return node

    def describe(self, kind: str) -> str:
        if kind.startswith(ENUM + ":") or kind.startswith(SET + ":"):
            return f"the fact `{kind.split(':', 1)[1]}`, which has named values"
        return describe_kind(kind)

    def expr(self, node: Any) -> tuple[Any, str]:
        return EXPR_RULES[type(node)](self, node)

    def rule_ref(self, node: ast.Ref) -> tuple[Any, str]:
        if node.name in self.facts:
            info = self.facts[node.name]
            kind = info.kind if info.kind not in (ENUM, SET) else f"{info.kind}:{node.name}"
            return node.model_copy(update={"target": "fact", "kind": kind}), kind
        if node.name in self.definitions:
            kind = self.definition_type(node.name, node.span)
            return node.model_copy(update={"target": "definition", "kind": kind}), kind
        names = list(self.facts) + list(self.definitions)
        return node, self.error(f"unknown name `{node.name}`", node.span,
                                _did_you_mean(node.name, names) or "declare it in the vocabulary or define it")

    def decimal(self, text: str, span: Span | None) -> Fraction | None:
        """A number written in the file, exactly; None (and an error) beyond the bounds on numbers."""
        try:
            return parse_decimal(text)
        except ValueError as error:
            self.error(str(error), self.narrow(span, text), _number_hint(error))
            return None

    def rule_number(self, node: ast.Number) -> tuple[Any, str]:
        value = self.decimal(node.text, node.span)
        if value is None:
            return node, ERROR
        if node.unit is None:
            return node.model_copy(update={"kind": NUMBER, "value": value}), NUMBER
        try:
            kind, factor = resolve_unit(node.unit)
        except UnitError as error:
            hint = (f"did you mean `{node.text} {error.suggestion}`?" if error.suggestion
                    else f"units are: {', '.join(u for k in KINDS.values() for u in k.units)}")
            return node, self.error(f"unknown unit `{error.unit}`", self.narrow(node.span, error.unit), hint)
        return node.model_copy(update={"kind": kind, "value": value * factor}), kind

    def rule_percent(self, node: ast.Percent) -> tuple[Any, str]:
        value = self.decimal(node.text, node.span)
        if value is None:
            return node, ERROR
        return node.model_copy(update={"value": value / 100}), NUMBER

    def rule_scale(self, node: ast.Scale) -> tuple[Any, str]:
        operand, kind = self.expr(node.operand)
        factor = self.decimal(node.factor, node.span)
        if factor is None:
            return node, ERROR
        factor /= 100 if node.percent else 1
        if kind != ERROR and not self.numeric(kind):
            kind = self.error(f"`{_scale_text(node)}` needs a number or a quantity, not {self.describe(kind)}",
                              node.operand.span)
        result = NUMBER if kind in DIMENSIONLESS else kind
        return node.model_copy(update={"operand": operand, "value": factor, "kind": result}), result

    def rule_ratio(self, node: ast.Ratio) -> tuple[Any, str]:
        numerator, a = self.expr(node.numerator)
        denominator, b = self.expr(node.denominator)
        if ERROR not in (a, b):
            if not (self.numeric(a) and self.numeric(b)):
                return node, self.error("only numbers and quantities can be divided", node.span)
            if not self.compatible(a, b):
                return node, self.error(f"cannot divide {self.describe(a)} by {self.describe(b)}", node.span,
                                        "a multiplication factor divides two values of the same kind")
            if isinstance(denominator, (ast.Number, ast.Percent)) and denominator.value == 0:
                return node, self.error("division by zero: the number below `/` is 0", denominator.span,
                                        "a ratio divides by a value that is never 0")
        return node.model_copy(update={"numerator": numerator, "denominator": denominator, "kind": NUMBER}), NUMBER

    def rule_compare(self, node: ast.Compare) -> tuple[Any, str]:
        resolved = [self.expr(operand) for operand in node.operands]
        kinds = [kind for _, kind in resolved]
        if ERROR in kinds:
            return node.model_copy(update={"operands": tuple(n for n, _ in resolved)}), BOOL
        for (operand, kind), original in zip(resolved, node.operands):
            if not self.numeric(kind):
                what = self.describe(kind)
                hint = None
                if kind.startswith(ENUM + ":"):
                    hint = f"test it with `{kind.split(':', 1)[1]} is <value>`"
                elif kind == BOOL:
                    hint = "a yes-or-no value is a condition on its own: use it without comparing"
                self.error(f"only numbers and quantities can be compared, not {what}", original.span, hint)
                return node, BOOL
        for i in range(len(resolved) - 1):
            (_, a), (_, b) = resolved[i], resolved[i + 1]
            if not self.compatible(a, b):
                self.compare_error(node.operands[i], a, node.operands[i + 1], b)
                return node, BOOL
        kind = next((k for k in kinds if k not in DIMENSIONLESS), NUMBER)
        return node.model_copy(update={"operands": tuple(n for n, _ in resolved), "kind": kind}), BOOL

    def compare_error(self, left: Any, a: str, right: Any, b: str) -> None:
        # Point at the literal when there is one: that is what the author typed wrong.
        literal, other, other_kind = (right, left, a) if isinstance(right, ast.Number) else (left, right, b)
        literal_kind = b if literal is right else a
        hint = None
        spec = KINDS.get(other_kind)
        if isinstance(literal, ast.Number) and spec and spec.units:
            hint = f"{_text(other)} is {spec.description}: write the value in {' or '.join(spec.units[:3])}"
        elif other_kind in DIMENSIONLESS:
            hint = f"{_text(other)} is {describe_kind(other_kind)}: compare it with a number without a unit"
        self.error(f"cannot compare {_text(other)} ({self.describe(other_kind)}) with {_text(literal)} "
                   f"({self.describe(literal_kind)})", literal.span, hint)

    def rule_is(self, node: ast.IsValue) -> tuple[Any, str]:
        info = self.facts.get(node.fact)
        if info is None:
            return node, self.error(f"unknown fact `{node.fact}`", node.span, _did_you_mean(node.fact, self.facts))
        if info.kind == SET:
            return node, self.error(f"`{node.fact}` can hold several values: test it with `{node.fact} includes ...`",
                                    node.span)
        if info.kind != ENUM:
            hint = f"`{node.fact}` is a condition on its own" if info.kind == BOOL else "compare it with >=, <, ..."
            return node, self.error(f"`is` tests a fact with named values, but `{node.fact}` is {info.describe()}",
                                    node.span, hint)
        return node.model_copy(update={"values": self.enum_values(info, node.values, node.span)}), BOOL

    def rule_includes(self, node: ast.Includes) -> tuple[Any, str]:
        info = self.facts.get(node.fact)
        if info is None:
            return node, self.error(f"unknown fact `{node.fact}`", node.span, _did_you_mean(node.fact, self.facts))
        if info.kind != SET:
            return node, self.error(f"`includes` tests a fact that holds several values; `{node.fact}` is "
                                    f"{info.describe()}", node.span, f"use `{node.fact} is ...`")
        return node.model_copy(update={"values": self.enum_values(info, node.values, node.span)}), BOOL

    def enum_values(self, info: FactInfo, values: tuple[str, ...], span: Span | None) -> tuple[str, ...]:
        out = []
        for value in values:
            if value in info.values:
                out.append(value)
            else:
                self.error(f"`{value}` is not a value of `{info.name}`", self.narrow(span, value),
                           _did_you_mean(value, info.values) or f"its values are: {', '.join(info.values)}")
        return tuple(out)

    def rule_tolerance(self, node: ast.Tolerance) -> tuple[Any, str]:
        value, a = self.expr(node.value)
        reference, b = self.expr(node.reference)
        if ERROR not in (a, b):
            if not (self.numeric(a) and self.numeric(b)):
                self.error("`outside` and `within` compare numbers or quantities", node.span)
            elif not self.compatible(a, b):
                self.compare_error(node.value, a, node.reference, b)
        fraction = self.decimal(node.percent, node.span)
        if fraction is None:
            return node, BOOL
        fraction /= 100
        kind = a if a not in DIMENSIONLESS else NUMBER
        return node.model_copy(update={"value": value, "reference": reference, "fraction": fraction,
                                       "kind": kind}), BOOL

    def rule_criteria_of(self, node: ast.CriteriaOf) -> tuple[Any, str]:
        if node.code not in self.row_codes:
            self.error(f"`criteria of {node.code}`: no row has code {node.code}", node.span,
                       _did_you_mean(node.code, self.row_codes))
        return node, BOOL

    def rule_constant(self, node: ast.Constant) -> tuple[Any, str]:
        return node, BOOL

    def rule_not(self, node: ast.Not) -> tuple[Any, str]:
        return node.model_copy(update={"operand": self.condition(node.operand, "`not`")}), BOOL

    def rule_and(self, node: ast.And) -> tuple[Any, str]:
        operands = tuple(self.condition(op, "each side of `and`") for op in node.operands)
        return node.model_copy(update={"operands": operands}), BOOL

    def rule_or(self, node: ast.Or) -> tuple[Any, str]:
        operands = tuple(self.condition(op, "each side of `or`") for op in node.operands)
        return node.model_copy(update={"operands": operands}), BOOL

    def rule_case(self, node: ast.Case) -> tuple[Any, str]:
        branches = []
        kinds = []
        for branch in node.branches:
            value, kind = self.expr(branch.value)
            condition = self.condition(branch.condition, "the condition after `if`")
            branches.append(branch.model_copy(update={"value": value, "condition": condition}))
            kinds.append((kind, branch.value))
        otherwise, kind = self.expr(node.otherwise)
        kinds.append((kind, node.otherwise))
        result = kinds[0][0]
        for kind, where in kinds[1:]:
            if ERROR in (kind, result):
                result = ERROR
            elif not (kind == result or self.compatible(kind, result)):
                result = self.error(f"every branch must be of one kind: {self.describe(kinds[0][0])} and "
                                    f"{self.describe(kind)} differ", where.span)
        return node.model_copy(update={"branches": tuple(branches), "otherwise": otherwise, "kind": result}), result

    @staticmethod
    def numeric(kind: str) -> bool:
        return kind in DIMENSIONLESS or (kind in KINDS and KINDS[kind].numeric)

    @staticmethod
    def compatible(a: str, b: str) -> bool:
        return a == b or (a in DIMENSIONLESS and b in DIMENSIONLESS)


def _scale_text(node: ast.Scale) -> str:
    return f"{node.factor}% of" if node.percent else f"{node.factor} times"


def _text(node: Any) -> str:
    if isinstance(node, ast.Number):
        return f"{node.text} {node.unit}" if node.unit else node.text
    if isinstance(node, ast.Ref):
        return node.name
    if isinstance(node, ast.Scale):
        return f"{_scale_text(node)} {_text(node.operand)}"
    if isinstance(node, ast.Ratio):
        return f"{_text(node.numerator)} / {_text(node.denominator)}"
    return "this value"


def _did_you_mean(name: str, candidates: Any) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


# Node type -> checking rule: one table, like sqlglot's generators.
EXPR_RULES: dict[type, Callable[[Checker, Any], tuple[Any, str]]] = {
    ast.Ref: Checker.rule_ref, ast.Number: Checker.rule_number, ast.Percent: Checker.rule_percent,
    ast.Scale: Checker.rule_scale, ast.Ratio: Checker.rule_ratio, ast.Compare: Checker.rule_compare,
    ast.IsValue: Checker.rule_is, ast.Includes: Checker.rule_includes, ast.Tolerance: Checker.rule_tolerance,
    ast.CriteriaOf: Checker.rule_criteria_of, ast.Constant: Checker.rule_constant, ast.Not: Checker.rule_not,
    ast.And: Checker.rule_and, ast.Or: Checker.rule_or, ast.Case: Checker.rule_case,
}


@paused
def check(criteria: ast.Criteria, vocabulary: ast.Vocabulary, facts: dict[str, FactInfo], file: str,
          source: str | None = None) -> tuple[Checked | None, list[Diagnostic], list[Diagnostic]]:
    """Check a criteria file against its vocabulary: (checked, errors, warnings)."""
    checker = Checker(facts, file, source)
    resolved = checker.check(criteria)
    checked = Checked(criteria=resolved, vocabulary=vocabulary, facts=facts,
                      definitions=checker.resolved_definitions, types=checker.types, warnings=checker.warnings)
    return checked, checker.diagnostics, checker.warnings
