"""`irmer render`: a criteria file laid out the way the regulator prints its table.

Two outputs of the same page, for people who review policy rather than code:

- `html(guidance)`: one self-contained HTML page (inline CSS, no scripts, no
  external resources; prints on A4), from the template
  evaluator/pages/templates/criteria.html and the pages' one stylesheet;
- `markdown(guidance)`: GitHub-flavoured markdown, to paste into a review.

Both show, in this order:

1. the title and the header facts (version, publisher, dates, source);
2. each table of the guidance under its heading, with the table's notes (its
   `says` lines), and its rows under the columns the guidance uses:
   Notification code | Exposure category | Criteria for notification, the
   criteria in the regulator's words, one paragraph per `says`. Beneath each
   row, set apart as secondary: the formal rule as the language writes it
   (scope, band, when, unless, and the general exclusions that apply to the
   code), our notes, the interpretations (flagged with ⚑ and linked to
   docs/interpretations.md), and the examples of the row, each run, with a
   pass or fail mark;
3. the complementary codes (code, category, criteria, suffix range, role),
   each with its rule, interpretations and examples;
4. the general exclusions, the definitions, the deadlines, the enforcing
   authorities and the advice;
5. the examples no row shows, and an index of the interpretations.

An example is shown under a row when the row fires in its result, or when it
expects the row's code (and no other row with that code fires); under a
complementary code when its result or its expectation has that letter.

>>> from evaluator import load_criteria
>>> page = html(load_criteria("2024"))
>>> page.lower().startswith('<!doctype html>')
True
>>> 'Criteria for notification' in page and 'irmer-2024-08-28' in page
True
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import click

from ..language import ast
from ..language.diagnostics import CriteriaError, render
from .examples import ExampleOutcome, run_examples
from ..load import Guidance, compile_file, find_criteria
from ..language.printer import PRECEDENCE, expression
from .. import pages
from .markup import md, md_code, md_prose, md_table

INTERPRETATIONS = "docs/interpretations.md"
KEYWORD = 11  # the rule's keyword column: "modalities " is the longest keyword
COLUMNS = ("Notification code", "Exposure category", "Criteria for notification")
COMPLEMENTARY_COLUMNS = ("Code", "Exposure category", "Criteria for notification", "Suffix codes", "Role")
PASS, FAIL = "✓", "✗"
FLAG = "⚑"
COMPLEMENTARY_INTRO = ("A complementary code is reported with a notification code as its suffix, the most relevant "
                       "exposure category: M2.1, E4.2c.")
ROLES = {"statutory": "statutory notification", "tag": "tag on a notifiable incident",
         "voluntary": "voluntary notification"}


# ------------------------------------------------------------------ the model
# What both outputs show, worked out once: which examples go where, the rule
# lines of each row, the anchors of the interpretations.


@dataclass
class Flag:
    """An interpretation where it is recorded: its id, text, where on the page, and the link to its doc."""

    id: str
    text: str
    owner: str  # what it is attached to, in words: "code 2.2", "definition child"
    anchor: str  # the owner's anchor on the page
    link: str  # docs/interpretations.md#...

    @property
    def target(self) -> str:
        """Its own anchor on the page, where its text is shown."""
        return f"{self.anchor}-{self.id}"


@dataclass
class Item:
    """A row or a complementary code with everything shown beneath it."""

    anchor: str
    rule: list[str]
    exclusions: list[tuple[ast.Exclusion, list[str]]] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    examples: list[ExampleOutcome] = field(default_factory=list)


@dataclass
class Page:
    guidance: Guidance
    interpretations: str
    outcomes: list[ExampleOutcome]
    rows: dict[int, Item] = field(default_factory=dict)  # by id() of the row or complementary node
    flags: list[Flag] = field(default_factory=list)
    shown: set[int] = field(default_factory=set)  # indexes of the examples shown under a row
    anchors: dict[str, str] = field(default_factory=dict)  # interpretation id -> heading anchor in the docs

    @property
    def criteria(self) -> ast.Criteria:
        return self.guidance.ast

    def item(self, node: ast.Row | ast.Complementary) -> Item:
        return self.rows[id(node)]

    @property
    def others(self) -> list[ExampleOutcome]:
        return [o for i, o in enumerate(self.outcomes) if i not in self.shown]

    def flags_of(self, node: Any, owner: str, anchor: str) -> list[Flag]:
        made = [Flag(i.id, i.text, owner, anchor, self.link(i.id)) for i in getattr(node, "interpretations", ())]
        self.flags += made
        return made

    def flags_at(self, anchor: str) -> list[Flag]:
        """The interpretations of what is shown at an anchor (a table, a block, an authority)."""
        return [f for f in self.flags if f.anchor == anchor]

    def link(self, ident: str) -> str:
        return f"{self.interpretations}#{self.anchors.get(ident, ident)}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-").lower() or "x"


def _anchor(prefix: str, *names: str | None) -> str:
    return "-".join([prefix] + [_slug(n) for n in names if n])


def _row_anchor(row: ast.Row) -> str:
    return _anchor("code", row.code, row.label)


# --------------------------------------------------------- interpretation links

def _doc_path(guidance: Guidance) -> Path | None:
    """docs/interpretations.md of the checkout the criteria file is in (or of the one irmer runs from)."""
    start = guidance.path or Path(guidance.name).resolve()
    for folder in list(start.parents) + [Path(__file__).resolve().parent.parent]:
        candidate = folder / INTERPRETATIONS
        if candidate.is_file():
            return candidate
    return None


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lower case, punctuation dropped, spaces to hyphens.

    >>> github_anchor("`band_edges` — where the dose bands of 2.1 to 2.4 meet")
    'band_edges--where-the-dose-bands-of-21-to-24-meet'
    """
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _doc_anchors(guidance: Guidance) -> dict[str, str]:
    """Each interpretation id documented in docs/interpretations.md -> the anchor of its heading."""
    path = _doc_path(guidance)
    if path is None:
        return {}
    anchors: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{1,6}\s+(.*)", line)
        if not heading:
            continue
        for ident in re.findall(r"`([A-Za-z0-9_]+)`", heading.group(1)):
            anchors.setdefault(ident, github_anchor(heading.group(1)))
    return anchors


def interpretations_link(guidance: Guidance, target: Path | None) -> str:
    """The link to docs/interpretations.md from where the page is written (a file, or the current folder)."""
    path = _doc_path(guidance)
    if path is None:
        return INTERPRETATIONS
    base = target.resolve().parent if target is not None else Path.cwd()
    return Path(os.path.relpath(path, base)).as_posix()


# ----------------------------------------------------------------- the rules

def _value(value: str) -> str:
    """A name as the language writes it: bare when it can be, else quoted."""
    return value if value.replace("_", "").isalnum() else f'"{value}"'


def _clause(keyword: str, text: str, width: int = KEYWORD) -> list[str]:
    """`keyword  text`, the text starting at column `width`, its further lines under its first."""
    lines = text.splitlines() or [""]
    head = f"{keyword:<{width - 1}} {lines[0]}"
    return [head] + [" " * width + line for line in lines[1:]]


def _clauses(keyword: str, node: Any, width: int = KEYWORD) -> list[str]:
    """`keyword expression` as the files write it: a long `or` (or `and`) broken before each operand,
    the operator hanging left of the operand column; a `case` one branch a line."""
    text = expression(node)
    head = f"{keyword:<{width - 1}} "
    long = len(text) > (40 if isinstance(node, ast.Or) else 60)
    if isinstance(node, (ast.Or, ast.And)) and long and "\n" not in text:
        word = "or" if isinstance(node, ast.Or) else "and"
        parts = []
        for operand in node.operands:
            part = expression(operand)
            parts.append(f"({part})" if PRECEDENCE.get(type(operand), 4) <= PRECEDENCE[ast.And] else part)
        return [head + parts[0]] + [" " * (width - len(word) - 1) + f"{word} {part}" for part in parts[1:]]
    lines = text.splitlines()
    return [head + lines[0]] + [" " * width + line for line in lines[1:]]


def row_rule(row: ast.Row, table: ast.Table) -> list[str]:
    """A row's formal rule, one clause a line, as the criteria file writes it."""
    lines: list[str] = []
    if row.exposure:
        inherited = "exposure" not in row.clause_spans
        note = "  # from the table" if inherited and tuple(row.exposure) == tuple(table.exposure) else ""
        lines += _clause("exposure", ", ".join(_value(v) for v in row.exposure) + note)
    if row.modalities:
        lines += _clause("modalities", ", ".join(_value(v) for v in row.modalities))
    if row.jurisdictions:
        lines += _clause("in", ", ".join(_value(v) for v in row.jurisdictions))
    for keyword in ("band", "when", "unless"):
        part = getattr(row, keyword)
        if part is not None:
            lines += _clauses(keyword, part)
    return lines


def complementary_rule(item: ast.Complementary) -> list[str]:
    lines: list[str] = []
    if item.suffix_from is not None:
        lines += _clause("suffix", f"{item.suffix_from} to {item.suffix_to}")
    if item.role:
        lines += _clause("role", item.role)
    if item.when is not None:
        lines += _clauses("when", item.when)
    return lines


def exclusion_rule(item: ast.Exclusion) -> list[str]:
    lines = _clause("codes", ", ".join(item.codes), 6) if item.codes else []
    return lines + (_clauses("when", item.when, 6) if item.when is not None else [])


def derivation_rule(item: ast.Derivation) -> list[str]:
    """`as VALUE if CONDITION`, one branch a line, as the files write it."""
    return [("as " if i == 0 else "   ") + f"{b.value} if {expression(b.condition)}" for i, b in enumerate(item.branches)]


def conflict_rule(item: ast.Conflict) -> list[str]:
    lines = _clause("message", f'"{item.message}"', 8) if item.message else []
    return lines + (_clauses("when", item.when, 8) if item.when is not None else [])


def definition_rule(item: ast.Definition) -> list[str]:
    return _clauses("as", item.body, 3)


def deadline_rule(item: ast.Deadline) -> str:
    unit = f" {item.amount.unit}" if item.amount.unit else ""
    return f"deadline {item.name}: {item.amount.text}{unit} after {item.after}"


def _exclusions_of(criteria: ast.Criteria, code: str) -> list[tuple[ast.Exclusion, list[str]]]:
    return [(e, _clauses("when", e.when, 5) if e.when is not None else [])
            for e in criteria.exclusions if code in e.codes]


# ------------------------------------------------------------ the examples

def _literal(value: ast.Literal_) -> str:
    if value.form == "list":
        return ", ".join(_literal(v) for v in value.items)
    if value.form == "number" and value.unit:
        return f"{value.text} {value.unit}"
    if value.form == "percent" and not value.text.endswith("%"):
        return f"{value.text}%"
    return value.text


def given_facts(example: ast.Example) -> list[str]:
    """Each fact of an example as `name value`."""
    return [f"{g.name} {_literal(g.value)}" for g in example.given]


def expected(example: ast.Example) -> list[str]:
    """Each expectation of an example in words, as the file writes it."""
    out = []
    for e in example.expects:
        if e.what in ("notifiable", "not notifiable", "undetermined"):
            out.append(e.what)
        elif e.what == "codes":
            out.append(f"code{'s' if len(e.items) != 1 else ''} {', '.join(e.items) or 'none'}")
        elif e.what == "missing":
            out.append(f"missing {', '.join(e.items)}")
        elif e.what == "date":
            out.append(f"{e.field} {e.items[0] if e.items else ''}")
        elif e.what == "authority":
            out.append(f"authority {e.items[0] if e.items else ''}")
    return out


def _expected_codes(example: ast.Example) -> set[str]:
    return {code for e in example.expects if e.what == "codes" for code in e.items}


def _fires(outcome: ExampleOutcome, code: str, label: str | None) -> bool:
    return any(c.code == code and c.label == label and c.outcome == "met" for c in outcome.result.explanation)


def build(guidance: Guidance, interpretations: str = INTERPRETATIONS) -> Page:
    """Work out what the page shows: rules, flags, and which examples go under which row."""
    criteria = guidance.ast
    page = Page(guidance=guidance, interpretations=interpretations, outcomes=run_examples(guidance),
                anchors=_doc_anchors(guidance))
    rows = criteria.rows
    base_codes = {row.code for row in rows}
    for table in criteria.tables:
        page.flags_of(table, f"table {table.title}", _anchor("table", table.title))
        for row in table.rows:
            anchor = _row_anchor(row)
            item = Item(anchor=anchor, rule=row_rule(row, table), exclusions=_exclusions_of(criteria, row.code))
            item.flags = page.flags_of(row, f"code {row.name}", anchor)
            siblings = [r for r in rows if r.code == row.code]
            for index, outcome in enumerate(page.outcomes):
                fired = _fires(outcome, row.code, row.label)
                sibling_fired = any(_fires(outcome, r.code, r.label) for r in siblings)
                if fired or (row.code in _expected_codes(outcome.example) and not sibling_fired):
                    item.examples.append(outcome)
                    page.shown.add(index)
            page.rows[id(row)] = item
    for comp in criteria.complementary:
        anchor = _anchor("code", comp.code)
        item = Item(anchor=anchor, rule=complementary_rule(comp), exclusions=_exclusions_of(criteria, comp.code))
        item.flags = page.flags_of(comp, f"code {comp.code}", anchor)
        for index, outcome in enumerate(page.outcomes):
            codes = _expected_codes(outcome.example) | set(outcome.result.codes)
            if any(c[:1] == comp.code and (c[1:] in base_codes or not c[1:]) for c in codes):
                item.examples.append(outcome)
                page.shown.add(index)
        page.rows[id(comp)] = item
    for field, word, anchor_word, name in FLAGGED_BLOCKS:
        for block in getattr(criteria, field):
            page.flags_of(block, f"{word} {getattr(block, name)}", _anchor(anchor_word, getattr(block, name)))
    return page


# The other blocks whose interpretations are flagged: (the criteria's field, how the flag names a block,
# the anchor's word, the attribute that names it).
FLAGGED_BLOCKS = (
    ("exclusions", "general exclusion", "exclusion", "name"),
    ("definitions", "definition", "definition", "name"),
    ("deadlines", "deadline", "deadline", "name"),
    ("authorities", "authority", "authority", "jurisdiction"),
    ("advice", "advice", "advice", "name"),
    ("routes", "route", "route", "name"),
    ("derivations", "derive", "derive", "fact"),
    ("conflicts", "conflict", "conflict", "name"),
)


# ------------------------------------------------------------------ shared words

def _date(day: dt.date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day else ""


def header_facts(header: ast.Header) -> list[tuple[str, str]]:
    facts = [("Version", header.version), ("Publisher", header.publisher or ""),
             ("Published", _date(header.published)), ("In force", _date(header.in_force)),
             ("Supersedes", header.supersedes or ""), ("Source", header.source or ""),
             ("Vocabulary", header.vocabulary or "")]
    return [(k, v) for k, v in facts if v]


def _plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _tally(outcomes: list[ExampleOutcome]) -> str:
    """'12 examples, all pass' or '12 examples, 1 FAIL'."""
    failed = sum(not o.passed for o in outcomes)
    return f"{_plural(len(outcomes), 'example')}, " + (f"{failed} FAIL" if failed else "all pass")


def summary(page: Page) -> str:
    criteria = page.criteria
    parts = [f"{_plural(len(criteria.rows), 'row')} in {_plural(len(criteria.tables), 'table')}",
             _plural(len(criteria.complementary), "complementary code"),
             _plural(len(criteria.exclusions), "general exclusion"),
             _tally(page.outcomes), _plural(len(page.flags), "interpretation")]
    return ", ".join(parts) + "."


def result_words(outcome: ExampleOutcome) -> str:
    result = outcome.result
    if result.error:
        return f"error: {result.error.field}: {result.error.message}"
    verdict = {True: "notifiable", False: "not notifiable", None: "undetermined"}[result.notifiable]
    codes = f", codes {', '.join(result.codes)}" if result.codes else ""
    missing = f", missing {', '.join(result.missing)}" if result.missing else ""
    return verdict + codes + missing


FOOTER = ("The exposure categories, the criteria for notification, the notes of each table and the quoted "
          "passages are the regulator's words, byte for byte as the criteria file records them. The rules "
          "(in monospace), the notes marked as ours, the interpretations and the examples are ours; each "
          "example was run when this page was made.")


# --------------------------------------------------------------------- html
# The page's view: what evaluator/pages/templates/criteria.html lays out, worked out here as plain
# data. Text stays text (the template escapes it); the layout is the template's.


@dataclass
class ExampleRow:
    """An example as a row of a table of examples."""

    passed: bool
    title: str
    says: list[str]
    notes: list[str]
    given: list[str]  # `name value`
    expected: list[str]  # each expectation in words
    failures: list[str]  # when it failed: what did not hold, then what came out


@dataclass
class Examples:
    caption: str
    rows: list[ExampleRow]


@dataclass
class Applies:
    """A general exclusion shown under a code it applies to."""

    name: str
    anchor: str
    rule: str


@dataclass
class Detail:
    """What is shown beneath a row, a complementary code or in a block: the rule, and our notes on it."""

    rule: str = ""
    exclusions: list[Applies] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    examples: Examples | None = None


@dataclass
class RowView:
    """A row of a guidance table, or a complementary code (with its suffix and role `cells`)."""

    anchor: str
    code: str
    label: str | None
    category: str
    says: list[str]
    flags: list[Flag]
    detail: Detail
    cells: list[tuple[str, str]] = field(default_factory=list)  # (class, text) after the criteria

    @property
    def marker(self) -> str:
        """What the mark beside a flagged code says."""
        return _plural(len(self.flags), "interpretation")


@dataclass
class TableView:
    anchor: str
    title: str
    exposure: str
    says: list[str]
    notes: list[str]
    flags: list[Flag]
    rows: list[RowView]


@dataclass
class Block:
    """A general exclusion, definition, deadline or advice, in a section of its own."""

    anchor: str
    name: str
    says: list[str]
    detail: Detail
    applies: str = ""  # an exclusion's codes
    days: tuple[int, str] | None = None  # a deadline's days, and the date they count from
    texts: list[tuple[str, str]] = field(default_factory=list)  # an advice's text (a route's `to`), where it is given
    heading: tuple[str, str] = ("The advice in each jurisdiction", "Advice given with the result")  # caption, column
    why: str = ""  # a route's `why`


@dataclass
class AuthorityView:
    anchor: str
    jurisdiction: str
    name: str
    contact: str
    says: list[str]
    notes: list[str]
    flags: list[Flag]


@dataclass
class View:
    """The whole page, in its order."""

    title: str
    version: str
    file: str
    facts: list[tuple[str, str]]
    summary: str
    failing: bool
    contents_tables: list[tuple[str, str]]  # (anchor, title)
    contents: list[tuple[str, str]]
    tables: list[TableView]
    complementary: list[RowView]
    exclusions: list[Block]
    definitions: list[Block]
    deadlines: list[Block]
    authorities: list[AuthorityView]
    advice: list[Block]
    routes: list[Block]
    derivations: list[Block]
    conflicts: list[Block]
    others: Examples | None
    flags: list[Flag]
    interpretations: str  # the link to docs/interpretations.md


def _texts(node: Any, name: str) -> list[str]:
    """The texts of a node's `says` or `note` lines."""
    return [t.text for t in getattr(node, name, ())]


def _examples(outcomes: list[ExampleOutcome], caption: str) -> Examples | None:
    if not outcomes:
        return None
    rows = [ExampleRow(passed=o.passed, title=o.example.title, says=_texts(o.example, "says"),
                       notes=_texts(o.example, "notes"), given=given_facts(o.example), expected=expected(o.example),
                       failures=[] if o.passed else [*o.failures, f"got: {result_words(o)}"])
            for o in outcomes]
    return Examples(f"{caption}: {_tally(outcomes)}", rows)


def _detail(item: Item, node: Any, what: str) -> Detail:
    return Detail(rule="\n".join(item.rule), notes=_texts(node, "notes"), flags=item.flags,
                  exclusions=[Applies(e.name, _anchor("exclusion", e.name), "\n".join(lines))
                              for e, lines in item.exclusions],
                  examples=_examples(item.examples, f"Examples of {what}"))


def _where(route: ast.Route, to: ast.RouteTo) -> str:
    """The jurisdictions of a route's `to` line, for a reader."""
    return ", ".join(to.jurisdictions) or ("Everywhere else" if len(route.to) > 1 else "Everywhere")


def route_rule(route: ast.Route) -> list[str]:
    """A route's rule as the file writes it: its `when`, and the verdicts it applies to."""
    rule = _clauses("when", route.when, 5) if route.when is not None else []
    return rule + ([f"verdict {', '.join(route.verdicts)}"] if route.verdicts else [])


def _block(page: Page, prefix: str, node: Any, rule: list[str], **extra: Any) -> Block:
    anchor = _anchor(prefix, node.name)
    detail = Detail(rule="\n".join(rule), notes=_texts(node, "notes"), flags=page.flags_at(anchor))
    return Block(anchor=anchor, name=node.name, says=_texts(node, "says"), detail=detail, **extra)


def view(page: Page) -> View:
    """What the HTML page shows, in its order."""
    criteria = page.criteria
    header = criteria.header
    tables = []
    for table in criteria.tables:
        rows = []
        for row in table.rows:
            item = page.item(row)
            rows.append(RowView(anchor=item.anchor, code=row.code, label=row.label,
                                category=row.category.text if row.category else "", says=_texts(row, "says"),
                                flags=item.flags, detail=_detail(item, row, f"code {row.name}")))
        anchor = _anchor("table", table.title)
        tables.append(TableView(anchor=anchor, title=table.title, exposure=", ".join(table.exposure),
                                says=_texts(table, "says"), notes=_texts(table, "notes"),
                                flags=page.flags_at(anchor), rows=rows))
    complementary = []
    for comp in criteria.complementary:
        item = page.item(comp)
        suffix = f"{comp.suffix_from} to {comp.suffix_to}" if comp.suffix_from is not None else "—"
        complementary.append(RowView(
            anchor=item.anchor, code=comp.code, label=None, category=comp.category.text if comp.category else "",
            says=_texts(comp, "says"), flags=item.flags, detail=_detail(item, comp, f"code {comp.code}"),
            cells=[("suffix", suffix), ("role", ROLES.get(comp.role or "", comp.role or "—"))]))
    authorities = []
    for a in criteria.authorities:
        anchor = _anchor("authority", a.jurisdiction)
        authorities.append(AuthorityView(anchor=anchor, jurisdiction=a.jurisdiction, name=a.name or "",
                                         contact=a.contact or "", says=_texts(a, "says"), notes=_texts(a, "notes"),
                                         flags=page.flags_at(anchor)))
    others = page.others
    contents = [("complementary", "Complementary codes", criteria.complementary),
                ("exclusions", "General exclusions", criteria.exclusions),
                ("definitions", "Definitions", criteria.definitions), ("deadlines", "Deadlines", criteria.deadlines),
                ("authorities", "Enforcing authorities", criteria.authorities), ("advice", "Advice", criteria.advice),
                ("routes", "Where an incident also goes", criteria.routes),
                ("derivations", "Derived facts", criteria.derivations),
                ("conflicts", "Contradictory facts", criteria.conflicts),
                ("other-examples", "Examples not shown under a row", others),
                ("interpretations", "Interpretations", page.flags)]
    return View(
        title=header.title or header.version, version=header.version, file=Path(page.guidance.name).name,
        facts=header_facts(header), summary=summary(page), failing=any(not o.passed for o in page.outcomes),
        contents_tables=[(t.anchor, t.title) for t in tables],
        contents=[(anchor, title) for anchor, title, present in contents if present],
        tables=tables, complementary=complementary,
        exclusions=[_block(page, "exclusion", e, exclusion_rule(e), applies=", ".join(e.codes))
                    for e in criteria.exclusions],
        definitions=[_block(page, "definition", d, definition_rule(d)) for d in criteria.definitions],
        deadlines=[_block(page, "deadline", d, [deadline_rule(d)], days=(d.days, d.after) if d.days else None)
                   for d in criteria.deadlines],
        authorities=authorities,
        advice=[_block(page, "advice", a, _clauses("when", a.when, 5) if a.when is not None else [],
                       texts=[(", ".join(t.jurisdictions), t.text) for t in a.texts]) for a in criteria.advice],
        routes=[_block(page, "route", r, route_rule(r), texts=[(_where(r, t), t.text) for t in r.to],
                       heading=("Where the incident goes, in each jurisdiction", "Where it goes"), why=r.why or "")
                for r in criteria.routes],
        derivations=[_block(page, "derive", d, derivation_rule(d)) for d in criteria.derivations],
        conflicts=[_block(page, "conflict", c, conflict_rule(c)) for c in criteria.conflicts],
        others=_examples(others, "Other examples"), flags=page.flags, interpretations=page.interpretations)


def html(guidance: Guidance, interpretations: str = INTERPRETATIONS) -> str:
    """The criteria as one self-contained page, laid out like the guidance table.

    `interpretations` is the link to docs/interpretations.md from where the page will be read.
    The page is evaluator/pages/templates/criteria.html, with the one stylesheet of the pages.
    """
    shown = view(build(guidance, interpretations))
    return pages.render("criteria.html", page="criteria-page", title=f"{shown.title} ({shown.version})", view=shown,
                        columns=COLUMNS, complementary_columns=COMPLEMENTARY_COLUMNS,
                        complementary_intro=COMPLEMENTARY_INTRO, interpretations_doc=INTERPRETATIONS, footer=FOOTER,
                        flag=FLAG, pass_mark=PASS, fail_mark=FAIL)


# ----------------------------------------------------------------- markdown



def _md_url(url: str) -> str:
    """A link destination: in angle brackets when it has spaces or brackets."""
    return f"<{url}>" if re.search(r"[\s()<>]", url) else url


def _md_fence(lines: list[str]) -> list[str]:
    fence = "`" * max(3, max((len(r) for line in lines for r in re.findall(r"`+", line)), default=0) + 1)
    return [fence] + lines + [fence]


def _md_flags(flags: list[Flag]) -> list[str]:
    out = []
    for flag in flags:
        out += [f"> {FLAG} **Interpretation** [{md_code(flag.id)}]({_md_url(flag.link)}): {md_prose(flag.text)}",
                ""]
    return out


def _md_notes(node: Any) -> list[str]:
    return [line for t in getattr(node, "notes", ()) for line in (f"*Note (ours):* {md_prose(t.text)}", "")]


def _md_rule(lines: list[str], label: str = "Rule") -> list[str]:
    return [f"{label}:", ""] + _md_fence(lines) + [""] if lines else []


def _md_examples(outcomes: list[ExampleOutcome], page: Page, caption: str) -> list[str]:
    if not outcomes:
        return []
    rows = []
    for outcome in outcomes:
        example = outcome.example
        mark = f"{PASS} pass" if outcome.passed else f"**{FAIL} FAIL**"
        title = f"**{md(example.title)}**"
        title += "".join(f"<br>*“{md(t.text)}”*" for t in example.says)
        title += "".join(f"<br>{md_prose(t.text, cell=True)}" for t in example.notes)
        given = " · ".join(md_code(f, cell=True) for f in given_facts(example)) or "none"
        expect = "<br>".join(md(e) for e in expected(example))
        if not outcome.passed:
            expect += "".join(f"<br>**{md(f)}**" for f in outcome.failures)
            expect += f"<br>got: {md(result_words(outcome))}"
        rows.append([mark, title, given, expect])
    return [f"{caption}: {_tally(outcomes)}.", ""] + md_table(
        ["Run", "Example", "Given", "Expected"], rows) + [""]


def _md_exclusions(item: Item) -> list[str]:
    out = []
    for exclusion, lines in item.exclusions:
        label = f"General exclusion {md_code(exclusion.name)} applies: not notifiable under this code"
        out += _md_rule(lines, label)
    return out


def _md_says(node: Any) -> list[str]:
    return [line for t in getattr(node, "says", ()) for line in (md(t.text), "")]


def _md_cell_says(node: Any) -> str:
    return "<br>".join(md(t.text) for t in getattr(node, "says", ()))


def _md_code_name(code: str, label: str | None, flags: list[Flag]) -> str:
    return md(code) + (f" ({md(label)})" if label else "") + (f" {FLAG}" if flags else "")


def markdown(guidance: Guidance, interpretations: str = INTERPRETATIONS) -> str:
    """The criteria as GitHub-flavoured markdown, in the order of the HTML page, for a review."""
    page = build(guidance, interpretations)
    criteria = guidance.ast
    header = criteria.header
    lines = [f"# {md(header.title or header.version)}", "",
             f"Criteria file {md_code(Path(guidance.name).name)}.", ""]
    lines += md_table(["", ""], [[f"**{k}**", md(v)] for k, v in header_facts(header)]) + [""]
    lines += [f"**{md(summary(page))}**", "",
              f"Ordinary type in the tables: the regulator's words. `Code`: the formal rule, as the criteria "
              f"language writes it. "
              f"{FLAG}: an interpretation we chose. {PASS} pass / {FAIL} FAIL: an example, run.", "",
              "## Notification codes, categories and criteria", ""]
    for table in criteria.tables:
        anchor = _anchor("table", table.title)
        lines += [f"### {md(table.title)}", ""]
        if table.exposure:
            lines += [f"Exposure: {md_code(', '.join(table.exposure))}", ""]
        lines += _md_says(table) + _md_notes(table) + _md_flags(page.flags_at(anchor))
        for row in table.rows:
            item = page.item(row)
            category = f" — {md(row.category.text)}" if row.category else ""
            lines += [f"#### {md(row.name)}{category}", ""]
            lines += md_table(list(COLUMNS), [[_md_code_name(row.code, row.label, item.flags),
                                                md(row.category.text) if row.category else "", _md_cell_says(row)]])
            lines += [""] + _md_rule(item.rule) + _md_exclusions(item) + _md_notes(row) + _md_flags(item.flags)
            lines += _md_examples(item.examples, page, f"Examples of code {md(row.name)}")
    if criteria.complementary:
        lines += ["## Complementary codes", "",
                  md(COMPLEMENTARY_INTRO), ""]
        rows = []
        for comp in criteria.complementary:
            suffix = f"{comp.suffix_from} to {comp.suffix_to}" if comp.suffix_from is not None else "—"
            rows.append([_md_code_name(comp.code, None, page.item(comp).flags),
                         md(comp.category.text) if comp.category else "", _md_cell_says(comp), suffix,
                         md(ROLES.get(comp.role or "", comp.role or "—"))])
        lines += md_table(list(COMPLEMENTARY_COLUMNS), rows) + [""]
        for comp in criteria.complementary:
            item = page.item(comp)
            lines += [f"### {md(comp.code)}", ""]
            lines += _md_rule(item.rule) + _md_exclusions(item) + _md_notes(comp) + _md_flags(item.flags)
            lines += _md_examples(item.examples, page, f"Examples of code {md(comp.code)}")
    sections: list[tuple[str, str, Iterable[Any]]] = [
        ("General exclusions", "exclusion", criteria.exclusions), ("Definitions", "definition", criteria.definitions),
        ("Deadlines", "deadline", criteria.deadlines)]
    for title, prefix, nodes in sections:
        nodes = list(nodes)
        if not nodes:
            continue
        lines += [f"## {title}", ""]
        for node in nodes:
            anchor = _anchor(prefix, node.name)
            lines += [f"### {md_code(node.name)}", ""] + _md_says(node)
            if isinstance(node, ast.Exclusion):
                lines += [f"Applies to codes {md(', '.join(node.codes))}.", ""]
                rule = exclusion_rule(node)
            elif isinstance(node, ast.Definition):
                rule = definition_rule(node)
            else:
                rule = [deadline_rule(node)]
                if node.days:
                    lines += [f"{node.days} days after {md_code(node.after)}.", ""]
            lines += _md_rule(rule) + _md_notes(node) + _md_flags(page.flags_at(anchor))
    if criteria.authorities:
        lines += ["## Enforcing authorities", ""]
        lines += md_table(["Jurisdiction", "Authority", "Contact", "The guidance says"],
                           [[md(a.jurisdiction), md(a.name or ""), md(a.contact or ""), _md_cell_says(a)]
                            for a in criteria.authorities]) + [""]
        for a in criteria.authorities:
            anchor = _anchor("authority", a.jurisdiction)
            lines += _md_notes(a) + _md_flags(page.flags_at(anchor))
    if criteria.advice:
        lines += ["## Advice", ""]
        for a in criteria.advice:
            lines += [f"### {md_code(a.name)}", ""] + _md_says(a)
            if a.texts:
                lines += md_table(["Where", "Advice given with the result"],
                                   [[md(", ".join(t.jurisdictions)), md(t.text)] for t in a.texts]) + [""]
            lines += _md_rule(_clauses("when", a.when, 5) if a.when is not None else []) + _md_notes(a)
            lines += _md_flags(page.flags_at(_anchor("advice", a.name)))
    if criteria.routes:
        lines += ["## Where an incident also goes", ""]
        for r in criteria.routes:
            lines += [f"### {md_code(r.name)}", ""] + _md_says(r)
            if r.why:
                lines += [f"Why: {md(r.why)}", ""]
            lines += md_table(["Where", "Where it goes"],
                               [[md(_where(r, t)), md(t.text)] for t in r.to]) + [""]
            lines += _md_rule(route_rule(r)) + _md_notes(r)
            lines += _md_flags(page.flags_at(_anchor("route", r.name)))
    for title, prefix, nodes, rule_of in (("Derived facts", "derive", criteria.derivations, derivation_rule),
                                          ("Contradictory facts", "conflict", criteria.conflicts, conflict_rule)):
        if nodes:
            lines += [f"## {title}", ""]
            for node in nodes:
                lines += [f"### {md_code(node.name)}", ""] + _md_says(node) + _md_rule(rule_of(node))
                lines += _md_notes(node) + _md_flags(page.flags_at(_anchor(prefix, node.name)))
    others = page.others
    if others:
        lines += ["## Examples not shown under a row", "",
                  "Examples that fire no row and expect no code: mostly incidents just short of a threshold, "
                  "which must not be notifiable.", ""]
        lines += _md_examples(others, page, "Other examples")
    if page.flags:
        lines += [f"## {FLAG} Interpretations", "",
                  f"Readings we chose where the guidance is unclear, each explained in [{INTERPRETATIONS}]"
                  f"({_md_url(page.interpretations)}).", ""]
        lines += md_table(["Interpretation", "Where"],
                           [[f"[{md_code(f.id, cell=True)}]({_md_url(f.link)})", md(f.owner)] for f in page.flags])
        lines.append("")
    lines += ["---", "", f"*{md(FOOTER)}*"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- run

def run(file: Path | str, shape: str, target: Path | None) -> int:
    """`irmer render FILE`: 0 when written, 1 when the file does not check, 2 when the output cannot be written.

    The diagnostics of a file that does not check go to standard error, as `irmer check` prints them.
    The page links to docs/interpretations.md relative to where it is written (`target`, else the
    current folder).
    """
    try:
        path = Path(file)
        # A file; or, as elsewhere, a shipped version: 2024, irmer-2023-04-19.
        guidance = compile_file(path if path.exists() or path.suffix == ".irmer" else find_criteria(str(file)))
    except CriteriaError as error:
        click.echo(error.render(), err=True)
        return 1
    for warning in guidance.warnings:
        click.echo(render(warning, guidance.source), err=True)
    link = interpretations_link(guidance, target)
    text = (markdown if shape == "markdown" else html)(guidance, link)
    if target is None:
        click.echo(text, nl=False)
        return 0
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as error:
        click.echo(f"irmer render: cannot write {target}: {error.strerror or error}", err=True)
        return 2
    return 0
