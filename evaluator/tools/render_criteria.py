"""`irmer render`: a criteria file laid out the way the regulator prints its table.

Two outputs of the same page, for people who review policy rather than code:

- `html(guidance)`: one self-contained HTML page (inline CSS, no scripts, no
  external resources; prints on A4);
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
>>> page.startswith('<!DOCTYPE html>')
True
>>> '<th scope="col">Criteria for notification</th>' in page
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

INTERPRETATIONS = "docs/interpretations.md"
from .markup import h, md, md_code, md_prose, md_table
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
    for exclusion in criteria.exclusions:
        page.flags_of(exclusion, f"general exclusion {exclusion.name}", _anchor("exclusion", exclusion.name))
    for definition in criteria.definitions:
        page.flags_of(definition, f"definition {definition.name}", _anchor("definition", definition.name))
    for deadline in criteria.deadlines:
        page.flags_of(deadline, f"deadline {deadline.name}", _anchor("deadline", deadline.name))
    for authority in criteria.authorities:
        page.flags_of(authority, f"authority {authority.jurisdiction}", _anchor("authority", authority.jurisdiction))
    for advice in criteria.advice:
        page.flags_of(advice, f"advice {advice.name}", _anchor("advice", advice.name))
    return page


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


def summary(page: Page) -> str:
    criteria = page.criteria
    passed = sum(o.passed for o in page.outcomes)
    total = len(page.outcomes)
    examples = (f"{_plural(total, 'example')}, all pass" if passed == total
                else f"{_plural(total, 'example')}, {total - passed} FAIL")
    parts = [f"{_plural(len(criteria.rows), 'row')} in {_plural(len(criteria.tables), 'table')}",
             _plural(len(criteria.complementary), "complementary code"),
             _plural(len(criteria.exclusions), "general exclusion"),
             examples, _plural(len(page.flags), "interpretation")]
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

def _html_code(value: Any) -> str:
    """Prose with `code` spans: prose escaped, code in <code>."""
    pieces = str(value).split("`")
    if len(pieces) % 2 == 0:
        return h(value)
    return "".join(h(p) if i % 2 == 0 else f"<code>{h(p)}</code>" for i, p in enumerate(pieces))


def _html_says(node: Any, cls: str = "says") -> str:
    return "".join(f'<p class="{cls}">{h(t.text)}</p>' for t in getattr(node, "says", ()))


def _html_notes(node: Any) -> str:
    return "".join(f'<p class="note"><span class="label">Note (ours)</span> {_html_code(t.text)}</p>'
                   for t in getattr(node, "notes", ()))


def _html_flag(flag: Flag) -> str:
    return (f'<aside class="interp" id="{h(flag.anchor)}-{h(flag.id)}" aria-label="Interpretation {h(flag.id)}">'
            f'<p class="interp-head"><span class="flag" aria-hidden="true">{FLAG}</span> '
            f'<strong>Interpretation</strong> <a href="{h(flag.link)}"><code>{h(flag.id)}</code></a></p>'
            f"<p>{_html_code(flag.text)}</p></aside>")


def _html_flags(flags: list[Flag]) -> str:
    return "".join(_html_flag(f) for f in flags)


def _html_rule(lines: list[str], label: str = "Rule") -> str:
    if not lines:
        return ""
    return (f'<div class="rule-block"><p class="label">{h(label)}</p>'
            f'<pre class="rule"><code>{h(chr(10).join(lines))}</code></pre></div>')


def _html_exclusions(exclusions: list[tuple[ast.Exclusion, list[str]]]) -> str:
    out = []
    for exclusion, lines in exclusions:
        out.append(f'<div class="rule-block"><p class="label">General exclusion '
                   f'<a href="#{_anchor("exclusion", exclusion.name)}"><code>{h(exclusion.name)}</code></a> '
                   f'applies: not notifiable under this code</p>'
                   f'<pre class="rule"><code>{h(chr(10).join(lines))}</code></pre></div>')
    return "".join(out)


def _html_mark(outcome: ExampleOutcome) -> str:
    if outcome.passed:
        return f'<td class="mark pass"><span aria-hidden="true">{PASS}</span> pass</td>'
    return f'<td class="mark fail"><span aria-hidden="true">{FAIL}</span> FAIL</td>'


def _html_example_row(outcome: ExampleOutcome) -> str:
    example = outcome.example
    extra = "".join(f'<p class="quote">“{h(t.text)}”</p>' for t in example.says)
    extra += "".join(f'<p class="ex-note">{_html_code(t.text)}</p>' for t in example.notes)
    given = " ".join(f"<code>{h(fact)}</code>" for fact in given_facts(example)) or '<span class="absent">none</span>'
    expect = "<br>".join(h(e) for e in expected(example))
    if not outcome.passed:
        expect += "".join(f'<p class="failure">{h(f)}</p>' for f in outcome.failures)
        expect += f'<p class="failure">got: {h(result_words(outcome))}</p>'
    return (f'<tr>{_html_mark(outcome)}<th scope="row"><span class="ex-title">{h(example.title)}</span>'
            f"{extra}</th><td class=\"given\">{given}</td><td>{expect}</td></tr>")


def _html_examples(outcomes: list[ExampleOutcome], page: Page, caption: str) -> str:
    if not outcomes:
        return ""
    passed = sum(o.passed for o in outcomes)
    state = "all pass" if passed == len(outcomes) else f"{len(outcomes) - passed} FAIL"
    rows = "".join(_html_example_row(o) for o in outcomes)
    return (f'<table class="examples"><caption>{h(caption)}: {_plural(len(outcomes), "example")}, {state}</caption>'
            '<colgroup><col class="c-mark"><col class="c-title"><col class="c-given"><col class="c-expect"></colgroup>'
            '<thead><tr><th scope="col">Run</th><th scope="col">Example</th><th scope="col">Given</th>'
            f'<th scope="col">Expected</th></tr></thead><tbody>{rows}</tbody></table>')


def _html_detail(item: Item, node: Any, page: Page, columns: int, what: str) -> str:
    parts = [_html_rule(item.rule), _html_exclusions(item.exclusions), _html_notes(node), _html_flags(item.flags),
             _html_examples(item.examples, page, f"Examples of {what}")]
    return (f'<tr class="detail"><td colspan="{columns}"><div class="detail">'
            + "".join(parts) + "</div></td></tr>")


def _html_code_cell(code: str, label: str | None, flags: list[Flag], anchor: str) -> str:
    marker = ""
    if flags:
        marker = (f' <a class="flag-mark" href="#{h(flags[0].anchor)}-{h(flags[0].id)}" '
                  f'title="{h(_plural(len(flags), "interpretation"))}"><span aria-hidden="true">{FLAG}</span>'
                  f'<span class="vh">{h(_plural(len(flags), "interpretation"))}</span></a>')
    label_html = f' <span class="row-label">({h(label)})</span>' if label else ""
    return f'<th scope="row" id="{h(anchor)}"><span class="code">{h(code)}</span>{label_html}{marker}</th>'


def _html_row(row: ast.Row, page: Page) -> str:
    item = page.item(row)
    category = h(row.category.text) if row.category else ""
    return (f'<tbody class="row">'
            f'<tr class="words">{_html_code_cell(row.code, row.label, item.flags, item.anchor)}'
            f'<td class="category">{category}</td><td class="criteria">{_html_says(row)}</td></tr>'
            f"{_html_detail(item, row, page, 3, f'code {row.name}')}</tbody>")


def _html_table(table: ast.Table, page: Page) -> str:
    anchor = _anchor("table", table.title)
    flags = [f for f in page.flags if f.anchor == anchor]
    head = "".join(f'<th scope="col">{h(c)}</th>' for c in COLUMNS)
    scope = (f'<p class="scope">Exposure: <code>{h(", ".join(table.exposure))}</code></p>'
             if table.exposure else "")
    return "\n".join([
        f'<section class="gtable" id="{anchor}" aria-labelledby="{anchor}-h">',
        f'<h3 id="{anchor}-h">{h(table.title)}</h3>', scope, _html_says(table, "table-says"), _html_notes(table),
        _html_flags(flags),
        f'<table class="criteria"><caption class="vh">{h(table.title)}: notification codes, categories and '
        f'criteria</caption><colgroup><col class="c-code"><col class="c-category"><col class="c-criteria"></colgroup>'
        f"<thead><tr>{head}</tr></thead>",
        "\n".join(_html_row(row, page) for row in table.rows), "</table>", "</section>"])


def _html_complementary(page: Page) -> str:
    criteria = page.criteria
    if not criteria.complementary:
        return ""
    head = "".join(f'<th scope="col">{h(c)}</th>' for c in COMPLEMENTARY_COLUMNS)
    bodies = []
    for comp in criteria.complementary:
        item = page.item(comp)
        suffix = f"{comp.suffix_from} to {comp.suffix_to}" if comp.suffix_from is not None else "—"
        role = ROLES.get(comp.role or "", comp.role or "—")
        bodies.append(f'<tbody class="row"><tr class="words">'
                      f"{_html_code_cell(comp.code, None, item.flags, item.anchor)}"
                      f'<td class="category">{h(comp.category.text) if comp.category else ""}</td>'
                      f'<td class="criteria">{_html_says(comp)}</td><td class="suffix">{h(suffix)}</td>'
                      f'<td class="role">{h(role)}</td></tr>'
                      f"{_html_detail(item, comp, page, 5, f'code {comp.code}')}</tbody>")
    return "\n".join([
        '<section id="complementary" aria-labelledby="complementary-h">',
        '<h2 id="complementary-h">Complementary codes</h2>',
        f'<p class="intro">{h(COMPLEMENTARY_INTRO)}</p>',
        '<table class="criteria complementary"><caption class="vh">Complementary codes</caption>'
        '<colgroup><col class="c-code"><col class="c-category"><col class="c-criteria"><col class="c-suffix">'
        f'<col class="c-role"></colgroup><thead><tr>{head}</tr></thead>',
        "\n".join(bodies), "</table>", "</section>"])


def _html_block(anchor: str, title: str, node: Any, page: Page, rule: list[str], extra: str = "") -> str:
    flags = [f for f in page.flags if f.anchor == anchor]
    return "".join([f'<section class="block" id="{anchor}" aria-labelledby="{anchor}-h">',
                    f'<h3 id="{anchor}-h">{title}</h3>', _html_says(node), extra,
                    '<div class="detail">', _html_rule(rule), _html_notes(node), _html_flags(flags), "</div>",
                    "</section>"])


def _html_sections(page: Page) -> list[str]:
    criteria = page.criteria
    out: list[str] = []
    if criteria.exclusions:
        out += ['<section id="exclusions" aria-labelledby="exclusions-h">',
                '<h2 id="exclusions-h">General exclusions</h2>']
        for e in criteria.exclusions:
            codes = ", ".join(e.codes)
            out.append(_html_block(_anchor("exclusion", e.name), f"<code>{h(e.name)}</code>", e, page,
                                   exclusion_rule(e), f'<p class="scope">Applies to codes {h(codes)}.</p>'))
        out.append("</section>")
    if criteria.definitions:
        out += ['<section id="definitions" aria-labelledby="definitions-h">',
                '<h2 id="definitions-h">Definitions</h2>']
        for d in criteria.definitions:
            out.append(_html_block(_anchor("definition", d.name), f"<code>{h(d.name)}</code>", d, page,
                                   definition_rule(d)))
        out.append("</section>")
    if criteria.deadlines:
        out += ['<section id="deadlines" aria-labelledby="deadlines-h">', '<h2 id="deadlines-h">Deadlines</h2>']
        for d in criteria.deadlines:
            days = f'<p class="scope">{h(d.days)} days after <code>{h(d.after)}</code>.</p>' if d.days else ""
            out.append(_html_block(_anchor("deadline", d.name), f"<code>{h(d.name)}</code>", d, page,
                                   [deadline_rule(d)], days))
        out.append("</section>")
    if criteria.authorities:
        rows = []
        for a in criteria.authorities:
            anchor = _anchor("authority", a.jurisdiction)
            flags = [f for f in page.flags if f.anchor == anchor]
            rows.append(f'<tr id="{anchor}"><th scope="row">{h(a.jurisdiction)}</th><td>{h(a.name or "")}</td>'
                        f'<td>{h(a.contact or "")}</td><td>{_html_says(a)}{_html_notes(a)}{_html_flags(flags)}</td>'
                        "</tr>")
        out += ['<section id="authorities" aria-labelledby="authorities-h">',
                '<h2 id="authorities-h">Enforcing authorities</h2>',
                '<table class="plain"><caption class="vh">Enforcing authorities and their contacts</caption>'
                '<thead><tr><th scope="col">Jurisdiction</th><th scope="col">Authority</th>'
                '<th scope="col">Contact</th><th scope="col">The guidance says</th></tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table>", "</section>"]
    if criteria.advice:
        out += ['<section id="advice" aria-labelledby="advice-h">', '<h2 id="advice-h">Advice</h2>']
        for a in criteria.advice:
            texts = "".join(f'<tr><th scope="row">{h(", ".join(t.jurisdictions))}</th><td>{h(t.text)}</td></tr>'
                            for t in a.texts)
            table = ('<table class="plain"><caption class="vh">The advice in each jurisdiction</caption>'
                     '<thead><tr><th scope="col">Where</th><th scope="col">Advice given with the result</th>'
                     f"</tr></thead><tbody>{texts}</tbody></table>") if texts else ""
            rule = _clauses("when", a.when, 5) if a.when is not None else []
            out.append(_html_block(_anchor("advice", a.name), f"<code>{h(a.name)}</code>", a, page, rule, table))
        out.append("</section>")
    others = page.others
    if others:
        out += ['<section id="other-examples" aria-labelledby="other-examples-h">',
                '<h2 id="other-examples-h">Examples not shown under a row</h2>',
                '<p class="intro">Examples that fire no row and expect no code: mostly incidents just short of a '
                "threshold, which must not be notifiable.</p>",
                f'<div class="detail wide">{_html_examples(others, page, "Other examples")}</div>', "</section>"]
    if page.flags:
        rows = "".join(f'<tr><th scope="row"><a href="{h(f.link)}"><code>{h(f.id)}</code></a></th>'
                       f'<td><a href="#{h(f.anchor)}-{h(f.id)}">{h(f.owner)}</a></td></tr>' for f in page.flags)
        out += ['<section id="interpretations" aria-labelledby="interpretations-h">',
                f'<h2 id="interpretations-h"><span aria-hidden="true">{FLAG}</span> Interpretations</h2>',
                '<p class="intro">Readings we chose where the guidance is unclear. Each is explained, with the '
                f'words that made a choice necessary, in <a href="{h(page.interpretations)}">'
                f"{h(INTERPRETATIONS)}</a>.</p>",
                '<table class="plain"><caption class="vh">Every interpretation in this file</caption>'
                '<thead><tr><th scope="col">Interpretation (explained in the docs)</th>'
                f'<th scope="col">Where on this page</th></tr></thead><tbody>{rows}</tbody></table>', "</section>"]
    return out


def _html_contents(page: Page) -> str:
    criteria = page.criteria
    tables = "".join(f'<li><a href="#{_anchor("table", t.title)}">{h(t.title)}</a></li>' for t in criteria.tables)
    items = [("complementary", "Complementary codes", criteria.complementary),
             ("exclusions", "General exclusions", criteria.exclusions),
             ("definitions", "Definitions", criteria.definitions), ("deadlines", "Deadlines", criteria.deadlines),
             ("authorities", "Enforcing authorities", criteria.authorities), ("advice", "Advice", criteria.advice),
             ("other-examples", "Examples not shown under a row", page.others),
             ("interpretations", "Interpretations", page.flags)]
    rest = "".join(f'<li><a href="#{anchor}">{h(title)}</a></li>' for anchor, title, present in items if present)
    return (f'<nav aria-labelledby="contents-h"><p class="label" id="contents-h">Contents</p>'
            f'<ol><li><a href="#tables">Notification codes, categories and criteria</a>'
            f"<ol>{tables}</ol></li>{rest}</ol></nav>")


CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --rule-line: #8c959f;
  --soft: #f6f8fa; --head: #e8ecf1; --flag-bg: #fff8c5; --flag-ink: #6a4500; --flag-line: #d4a72c; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1240px; padding: 24px 32px 48px; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.75em; margin: 0 0 .4em; line-height: 1.25; }
h2 { font-size: 1.4em; margin: 1.8em 0 .6em; padding-bottom: .25em; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.18em; margin: 1.6em 0 .4em; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
code { font-size: .9em; }
p { margin: 0 0 .5em; }
a { color: #0550ae; }
.kicker { margin: 0 0 .2em; color: var(--muted); font-size: .9em; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1.2em; margin: 0 0 1em; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; }
.summary { padding: .6em 1em; background: var(--soft); border-left: 4px solid var(--muted); border-radius: 4px; }
.summary.failing { border-left-color: #cf222e; }
nav ol { margin: .3em 0; padding-left: 1.4em; columns: 2; column-gap: 2.5em; }
nav ol ol { columns: 1; }
.legend { display: flex; flex-wrap: wrap; gap: .4em 1.6em; margin: 1em 0 0; padding: .5em 0; font-size: .9em;
  color: var(--muted); border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); }
.legend span.sample { color: var(--ink); }
.legend code { background: var(--soft); padding: .05em .35em; border-radius: 3px; color: var(--ink); }
.table-says, .intro, .scope { color: var(--ink); max-width: 60em; }
.scope { color: var(--muted); font-size: .92em; }
table { border-collapse: collapse; }
caption { text-align: left; font-weight: 600; color: var(--muted); font-size: .85rem; padding: 0 0 .3em; }
th, td { border: 1px solid var(--line); padding: .4em .6em; vertical-align: top; text-align: left; }
table.criteria { width: 100%; table-layout: fixed; margin: .4em 0 1em; border: 1px solid var(--rule-line); }
table.criteria > thead th { background: var(--head); border-bottom: 2px solid var(--rule-line); font-weight: 700; }
table.criteria col.c-code { width: 15%; } table.criteria col.c-category { width: 24%; }
table.complementary col.c-code { width: 7%; } table.complementary col.c-category { width: 24%; }
table.complementary col.c-suffix { width: 8%; } table.complementary col.c-role { width: 12%; }
tbody.row { border-top: 2px solid var(--rule-line); }
tr.words > th, tr.words > td { padding: .6em .7em; font-size: 1.02em; }
tr.words > th { font-weight: 400; }
tr.words .code { font-weight: 700; font-size: 1.1em; }
.row-label { display: block; font-size: .9em; }
tr.words td.criteria p { margin: 0 0 .45em; }
tr.words td.criteria p:last-child { margin: 0; }
.flag-mark { text-decoration: none; color: var(--flag-ink); background: var(--flag-bg);
  border: 1px solid var(--flag-line); border-radius: 3px; padding: 0 .3em; margin-left: .3em; font-size: .85em; }
tr.detail > td { background: var(--soft); padding: 0; border-top: 1px dashed var(--line); }
div.detail { padding: .55em .8em .7em 1.1em; border-left: 4px solid var(--line); font-size: .88em; color: var(--ink); }
div.detail.wide { border-left: 0; padding: 0; font-size: .9em; }
section.block div.detail { background: var(--soft); border-radius: 4px; margin: .3em 0 0; }
.label { font-size: .92em; font-weight: 700; color: var(--muted); margin: 0 0 .15em; }
.rule-block { margin: 0 0 .5em; }
pre.rule { margin: 0; padding: .35em .6em; background: #fff; border: 1px solid var(--line); border-radius: 4px;
  font-size: 1.02em; line-height: 1.45; white-space: pre-wrap; overflow-wrap: anywhere; }
p.note { color: var(--muted); }
p.note .label { margin-right: .4em; }
aside.interp { margin: .5em 0; padding: .35em .7em; background: var(--flag-bg); border: 1px solid var(--flag-line);
  border-left: 5px solid var(--flag-line); border-radius: 4px; }
aside.interp p { margin: 0 0 .2em; } aside.interp p:last-child { margin: 0; }
.interp-head { color: var(--flag-ink); }
.interp-head a { color: #5c3b00; }
.flag { color: var(--flag-ink); }
table.examples { width: 100%; table-layout: fixed; margin: .6em 0 0; background: #fff; font-size: .97em; }
table.examples col.c-mark { width: 5.2em; } table.examples col.c-title { width: 37%; }
table.examples col.c-expect { width: 19%; }
table.examples th, table.examples td { padding: .3em .5em; }
table.examples thead th { background: var(--head); font-size: .9em; }
table.examples th[scope=row] { font-weight: 400; }
.ex-title { font-weight: 600; }
.quote { font-style: italic; margin: .25em 0 0; }
.ex-note { color: var(--muted); margin: .25em 0 0; }
td.given code { display: inline-block; margin: 0 .2em .2em 0; padding: 0 .3em; background: var(--soft);
  border: 1px solid var(--line); border-radius: 3px; font-size: .86em; white-space: nowrap; }
td.mark { font-weight: 700; white-space: nowrap; }
td.pass { color: #116329; background: #dafbe1; }
td.fail { color: #a40e26; background: #ffebe9; }
p.failure { color: #a40e26; margin: .3em 0 0; }
.absent { color: var(--muted); font-style: italic; }
table.plain { margin: .3em 0 1em; min-width: 60%; }
table.plain thead th { background: var(--head); }
table.plain tbody th { font-weight: 600; }
section.block h3 code { font-size: .95em; }
.vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
footer { margin-top: 2.5em; padding-top: .6em; border-top: 1px solid var(--line); color: var(--muted);
  font-size: .9em; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; }
  nav { display: none; }
  tbody.row, aside.interp, section.block, tr { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  thead { display: table-header-group; }
  tr.detail > td, td.pass, td.fail, aside.interp, thead th, .flag-mark {
    print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""


def html(guidance: Guidance, interpretations: str = INTERPRETATIONS) -> str:
    """The criteria as one self-contained page, laid out like the guidance table.

    `interpretations` is the link to docs/interpretations.md from where the page will be read.
    """
    page = build(guidance, interpretations)
    criteria = guidance.ast
    header = criteria.header
    title = header.title or header.version
    failing = any(not o.passed for o in page.outcomes)
    facts = "".join(f"<dt>{h(k)}</dt><dd>{h(v)}</dd>" for k, v in header_facts(header))
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{h(title)} ({h(header.version)})</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           "<header>", f'<p class="kicker">Criteria file <code>{h(Path(guidance.name).name)}</code></p>',
           f"<h1>{h(title)}</h1>", f'<dl class="facts">{facts}</dl>',
           f'<p class="summary{" failing" if failing else ""}">{h(summary(page))}</p>',
           _html_contents(page),
           '<p class="legend"><span><span class="sample">Ordinary type</span> in the tables: the regulator\'s words'
           "</span>"
           "<span><code>monospace</code>: the formal rule, as the criteria language writes it</span>"
           f'<span><span class="flag">{FLAG}</span> an interpretation we chose</span>'
           f"<span>{PASS} pass / {FAIL} FAIL: an example, run</span></p>",
           "</header>", "<main>",
           '<section id="tables" aria-labelledby="tables-h">',
           '<h2 id="tables-h">Notification codes, categories and criteria</h2>']
    out += [_html_table(table, page) for table in criteria.tables]
    out.append("</section>")
    out.append(_html_complementary(page))
    out += _html_sections(page)
    out += ["</main>", f"<footer><p>{h(FOOTER)}</p></footer>", "</body>", "</html>"]
    return "\n".join(part for part in out if part) + "\n"


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
    passed = sum(o.passed for o in outcomes)
    state = "all pass" if passed == len(outcomes) else f"{len(outcomes) - passed} FAIL"
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
    return [f"{caption}: {_plural(len(outcomes), 'example')}, {state}.", ""] + md_table(
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
        lines += _md_says(table) + _md_notes(table) + _md_flags([f for f in page.flags if f.anchor == anchor])
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
            lines += _md_rule(rule) + _md_notes(node) + _md_flags([f for f in page.flags if f.anchor == anchor])
    if criteria.authorities:
        lines += ["## Enforcing authorities", ""]
        lines += md_table(["Jurisdiction", "Authority", "Contact", "The guidance says"],
                           [[md(a.jurisdiction), md(a.name or ""), md(a.contact or ""), _md_cell_says(a)]
                            for a in criteria.authorities]) + [""]
        for a in criteria.authorities:
            anchor = _anchor("authority", a.jurisdiction)
            lines += _md_notes(a) + _md_flags([f for f in page.flags if f.anchor == anchor])
    if criteria.advice:
        lines += ["## Advice", ""]
        for a in criteria.advice:
            lines += [f"### {md_code(a.name)}", ""] + _md_says(a)
            if a.texts:
                lines += md_table(["Where", "Advice given with the result"],
                                   [[md(", ".join(t.jurisdictions)), md(t.text)] for t in a.texts]) + [""]
            lines += _md_rule(_clauses("when", a.when, 5) if a.when is not None else []) + _md_notes(a)
            lines += _md_flags([f for f in page.flags if f.anchor == _anchor("advice", a.name)])
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
