"""`irmer fmt`: lay criteria and vocabulary files out the canonical way.

The layout is decided by the AST alone (plus the comments): the same criteria
written with any indentation, spacing, clause order or line breaks come out the
same. The regulator's words and every other text in double quotes are copied
byte for byte from the source (never re-wrapped, never re-escaped), and so is
every comment. docs/authoring.md describes the style for policy authors.

The canonical style (the house style of the shipped files):

- a block's clauses are indented two spaces under its first line (a row's four,
  under `row`, which is indented two under its table; a `given` fact four);
- in rows and complementary codes the value of a clause starts 9 characters
  after the indentation (`category `, `says     `, `when     `); in exclusions
  6 (`codes `, `when  `), in authorities 8 (`contact `), in routes 5 (`to   `,
  `why  `), in the header 12
  (`in force    `); a longer keyword (`modalities`), `interpretation ID` and
  `allow RULE` are followed by one space; every other block (definitions,
  tables, deadlines, advice, examples, the vocabulary) puts one space after a
  keyword;
- clauses come in a fixed order (for a row: category, says, exposure, modalities,
  in, note, interpretation, allow, band, when, unless); `says`, `note`, ... keep
  their relative order;
- items come in the order of the language reference: the header, file-wide
  `allow` lines, definitions, tables, complementary codes, exclusions, deadlines,
  authorities, advice, routes, derivations, conflicts, examples; a route's clauses:
  when, verdict, to, why, says, note, interpretation;
- one blank line between items, between a table's clauses and its rows and
  between rows; two before a table and before a comment that stands on its own
  (a section ruler) at the top level; none inside a block;
- a condition whose top is an `and` or an `or` is written one operand a line,
  each continuation line starting with its `and`/`or`, the operands lined up
  under the first one; an `and` or `or` inside brackets stays on its line unless
  the line would be longer than LIMIT characters, when it is broken inside its
  brackets, each `and`/`or` under the first operand; a case definition has one
  line a case;
- values are written bare when they are names (`England`), in quotes otherwise
  (`"Northern Ireland"`); comparisons with `>=`, `<=`, `!=` (not `≥`, `≤`, `≠`),
  tolerances with `±` (not `+/-`), percentages without a space (`20%`);
- one space around operators and after commas; no trailing spaces; the file ends
  with one newline.

Comments: a comment on a line of its own belongs to the clause or block that
follows it and moves with it (a comment followed by a blank line at the top level
or among rows stands on its own: it keeps a blank line after it); a comment at
the end of a line stays at the end of that line; a comment inside a condition
that spans several lines stays with the operand it was next to: above the line
of the operand below it, or at the end of the line of the operand before it.
When the canonical layout has no such line, a comment on a line of its own goes
just above the clause, and one at the end of a line at the end of the line that
now holds what it followed (if two would end the same line, the first goes on a
line of its own above it). Comments after the last item stay at the end.

>>> print(format_text('vocabulary  "v"\\nfact age :duration   # years\\n     unit years\\n'), end="")
vocabulary "v"
<BLANKLINE>
fact age: duration  # years
  unit years
"""

from __future__ import annotations

import bisect
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import click

from . import ast
from .diagnostics import CriteriaError, Span
from .parse import parse_text
from .printer import ATOM, PRECEDENCE, expression as _expression, reserved_words
from .transform import to_ast, unquote

__all__ = ["LIMIT", "print_file", "format_text", "run"]

LIMIT = 100  # the longest a line may be before a bracketed `and`/`or` is broken

STRING = re.compile(r'"([^"\\\n]|\\.)*"')
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HEADER_LINE = re.compile(r"[ \t]*(title|publisher|published|in[ \t]+force|supersedes|source|vocabulary)\b")

# Header fields in canonical order: (AST field, keyword).
HEADER_FIELDS = [("title", "title"), ("publisher", "publisher"), ("published", "published"),
                 ("in_force", "in force"), ("supersedes", "supersedes"), ("source", "source"),
                 ("vocabulary", "vocabulary")]

# Where the value of a clause starts, after the indentation, in each kind of block (0: one space).
HEADER, ROW, COMPLEMENTARY, EXCLUSION, AUTHORITY, ROUTE, PLAIN = 12, 9, 9, 6, 8, 5, 0


# ------------------------------------------------------------------- the source


@dataclass(frozen=True)
class Comment:
    line: int  # 1-based
    text: str  # from `#`, trailing white space removed
    full: bool  # alone on its line (else it ends a line of code)


class Source:
    """What the AST does not keep: comments, blank lines, and strings as written."""

    def __init__(self, text: str):
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        self.comments: list[Comment] = []
        self.blank: set[int] = set()
        self.strings: dict[int, list[tuple[int, int, str]]] = {}  # line -> (column, end column, raw)
        self.first_raw: dict[str, str] = {}
        self.used: set[tuple[int, int]] = set()
        for number, line in enumerate(self.lines, 1):
            if not line.strip():
                self.blank.add(number)
                continue
            index = 0
            while index < len(line):
                char = line[index]
                if char == '"':
                    match = STRING.match(line, index)
                    end = match.end() if match else len(line)
                    raw = line[index:end]
                    self.strings.setdefault(number, []).append((index + 1, end + 1, raw))
                    if match:
                        self.first_raw.setdefault(unquote(raw), raw)
                    index = end
                elif char == "#":
                    self.comments.append(Comment(number, line[index:].rstrip(), not line[:index].strip()))
                    break
                else:
                    index += 1

    def raw(self, value: str, span: Span | None) -> str | None:
        """The string token, as written, that gives `value` within `span` (else anywhere)."""
        if span is not None:
            found = []
            for line in range(span.line, span.end_line + 1):
                for column, end, raw in self.strings.get(line, ()):
                    if line == span.line and column < span.column:
                        continue
                    if line == span.end_line and end > span.end_column:
                        continue
                    if STRING.fullmatch(raw) and unquote(raw) == value:
                        found.append((line, column, raw))
            for line, column, raw in found:
                if (line, column) not in self.used:
                    self.used.add((line, column))
                    return raw
            if found:
                return found[0][2]
        return self.first_raw.get(value)

    def header_lines(self, span: Span | None) -> dict[str, int]:
        """The line of each header field (keyword -> line), within the header's span."""
        found: dict[str, int] = {}
        if span is None:
            return found
        for number in range(span.line + 1, span.end_line + 1):
            match = HEADER_LINE.match(self.lines[number - 1])
            if match:
                found.setdefault(re.sub(r"[ \t]+", " ", match.group(1)), number)
        return found

    def blank_between(self, after: int, before: int) -> bool:
        return any(line in self.blank for line in range(after + 1, before))


# ------------------------------------------------------------------- the output


@dataclass
class Line:
    """A printed line and the source lines of what it prints (for placing comments)."""

    text: str
    start: int | None = None
    end: int | None = None

    def prefixed(self, prefix: str) -> "Line":
        return Line(prefix + self.text, self.start, self.end)

    def then(self, text: str, other: "Line | None" = None) -> "Line":
        if other is None:
            return Line(self.text + text, self.start, self.end)
        return Line(self.text + text + other.text, _min(self.start, other.start), _max(self.end, other.end))


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class Unit:
    """A head line or a clause: one or more printed lines that comments attach to."""

    lines: list[Line]
    indent: int
    level: str  # "top" (an item, a fact), "block" (a row) or "clause"
    blank: int  # blank lines before it
    start: int | None
    end: int | None
    lead: list[Comment] = field(default_factory=list)
    inner: dict[int, list[Comment]] = field(default_factory=dict)  # comments before line k > 0
    trail: dict[int, list[Comment]] = field(default_factory=dict)  # comments at the end of line k


def _lines_of(span: Span | None) -> tuple[int | None, int | None]:
    return (span.line, span.end_line) if span is not None else (None, None)


def _chain(node: object) -> bool:
    return PRECEDENCE.get(type(node), ATOM) <= PRECEDENCE[ast.And]


def _pad(keyword: str, width: int) -> str:
    return keyword.ljust(width - 1) + " " if len(keyword) < width else keyword + " "


# ------------------------------------------------------------------ the printer


class Printer:
    """AST -> units of canonical text; with a Source, strings as written and comments in place."""

    def __init__(self, source: Source | None = None):
        self.source = source
        self.units: list[Unit] = []
        self.keywords = reserved_words()

    # ------------------------------------------------------------ words
    def quote(self, value: str, span: Span | None = None) -> str:
        raw = self.source.raw(value, span) if self.source is not None else None
        return raw or '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def value(self, value: str, span: Span | None = None) -> str:
        if NAME.fullmatch(value) and value not in self.keywords:
            return value
        return self.quote(value, span)

    def values(self, values: tuple[str, ...], span: Span | None = None) -> str:
        return ", ".join(self.value(v, span) for v in values)

    def literal(self, node: ast.Literal_) -> str:
        if node.form == "list":
            return ", ".join(self.literal(item) for item in node.items)
        if node.form == "string":
            return self.quote(node.text, node.span)
        if node.form == "number":
            return f"{node.text} {node.unit}" if node.unit else node.text
        if node.form == "percent":
            return f"{node.text}%"
        return node.text

    # ------------------------------------------------------- expressions
    def inline(self, node: object) -> str:
        """An expression on one line, as evaluator.language.printer writes it, with values as written."""
        if isinstance(node, ast.Or):
            return " or ".join(self._inline_child(op) for op in node.operands)
        if isinstance(node, ast.And):
            return " and ".join(self._inline_child(op) for op in node.operands)
        if isinstance(node, ast.Not):
            return "not " + self._inline_child(node.operand)
        if isinstance(node, ast.IsValue):
            verb = "is not" if node.negated else "is"
            if node.one_of:
                return f"{node.fact} {verb} one of {self.values(node.values, node.span)}"
            return f"{node.fact} {verb} {self.value(node.values[0], node.span)}"
        if isinstance(node, ast.Includes):
            return f"{node.fact} includes {self.values(node.values, node.span)}"
        return _expression(node)

    def _inline_child(self, node: object) -> str:
        text = self.inline(node)
        return f"({text})" if _chain(node) else text

    def lay(self, node: object, column: int, force: bool = False, tail: int = 0) -> list[Line]:
        """The lines of an expression whose first character is in `column`.

        The first line has no indentation (the caller writes what comes before
        it); later lines have theirs. A chain of `and`/`or` is broken one
        operand a line when `force` is set (the top of a condition: operands
        lined up, `or`/`and` before them) or when it does not fit on the line,
        `tail` characters still following it there (inside brackets: `or`/`and`
        under the first operand).
        """
        start, end = _lines_of(getattr(node, "span", None))
        if isinstance(node, (ast.Or, ast.And)):
            text = self.inline(node)
            if not force and column + len(text) + tail <= LIMIT:
                return [Line(text, start, end)]
            word = "or" if isinstance(node, ast.Or) else "and"
            lines: list[Line] = []
            last = len(node.operands) - 1
            for index, operand in enumerate(node.operands):
                if index == 0:
                    prefix = ""
                elif force:  # the top of a condition: the operands line up, each `and`/`or` before its operand
                    prefix = " " * max(column - len(word) - 1, 0) + word + " "
                else:  # inside brackets: each `and`/`or` under the first operand
                    prefix = " " * column + word + " "
                at = column if index == 0 else len(prefix)
                sub = self._lay_child(operand, at, tail if index == last else 0)
                sub[0] = sub[0].prefixed(prefix)
                lines += sub
            return lines
        if isinstance(node, ast.Not):
            sub = self._lay_child(node.operand, column + 4, tail)
            sub[0] = Line("not " + sub[0].text, _min(start, sub[0].start), sub[0].end)
            return sub
        return [Line(self.inline(node), start, end)]

    def _lay_child(self, node: object, column: int, tail: int) -> list[Line]:
        if not _chain(node):
            return self.lay(node, column, tail=tail)
        sub = self.lay(node, column + 1, tail=tail + 1)
        sub[0] = sub[0].prefixed("(")
        sub[-1] = sub[-1].then(")")
        return sub

    def lay_case(self, node: ast.Case, column: int) -> list[Line]:
        """One line a case: `VALUE if CONDITION`, then `VALUE otherwise`."""
        lines: list[Line] = []
        cases: list[ast.CaseBranch | None] = [*node.branches, None]
        for branch in cases:
            if branch is not None:
                # What follows the value on its line: ` if` and, when it cannot be broken, the condition.
                condition_node = branch.condition
                while isinstance(condition_node, ast.Not):
                    condition_node = condition_node.operand
                tail = len(" if ") + (0 if _chain(condition_node) else len(self.inline(branch.condition)))
                value = self.lay(branch.value, column, tail=tail)
                at = (column if len(value) == 1 else 0) + len(value[-1].text) + len(" if ")
                condition = self.lay(branch.condition, at)
                value[-1] = value[-1].then(" if ", condition[0])
                part = value + condition[1:]
                part[0] = Line(part[0].text, _min(_lines_of(branch.span)[0], part[0].start), part[0].end)
            else:
                part = self.lay(node.otherwise, column, tail=len(" otherwise"))
                part[-1] = part[-1].then(" otherwise")
            if lines:
                part[0] = part[0].prefixed(" " * column)
            lines += part
        return lines

    # ------------------------------------------------------------- units
    def unit(self, lines: list[Line], indent: int, span: Span | None, level: str = "clause", blank: int = 0,
             end_span: Span | None = None) -> None:
        start, end = _lines_of(span)
        if end_span is not None:
            end = _max(end, end_span.end_line)
        if lines and start is not None:
            lines[0] = Line(lines[0].text, start, _max(lines[0].end, start))
        self.units.append(Unit(lines, indent, level, blank, start, end))

    def head(self, text: str, indent: int, span: Span | None, blank: int, level: str = "top",
             end_span: Span | None = None) -> None:
        line_span = None if span is None else Span(file=span.file, line=span.line, column=span.column,
                                                   end_line=span.line, end_column=span.column + 1)
        self.unit([Line(" " * indent + text)], indent, line_span, level, blank, end_span)

    def clause(self, indent: int, keyword: str, width: int, rest: str, span: Span | None) -> None:
        self.unit([Line(" " * indent + _pad(keyword, width) + rest)], indent, span)

    def condition(self, indent: int, keyword: str, width: int, node: object, span: Span | None) -> None:
        lead = " " * indent + _pad(keyword, width)
        if isinstance(node, ast.Case):
            lines = self.lay_case(node, len(lead))
        else:
            lines = self.lay(node, len(lead), force=True)
        lines[0] = lines[0].prefixed(lead)
        self.unit(lines, indent, span)

    def texts(self, indent: int, keyword: str, width: int, texts: tuple[ast.Text, ...]) -> None:
        for text in texts:
            self.clause(indent, keyword, width, self.quote(text.text, text.span), text.span)

    def documented(self, node: ast.Documented, indent: int, width: int, says: bool = True) -> None:
        """`says`, `note`, `interpretation` and `allow` lines, in that order."""
        if says:
            self.texts(indent, "says", width, node.says)
        self.notes(node, indent, width)

    def notes(self, node: ast.Documented, indent: int, width: int) -> None:
        self.texts(indent, "note", width, node.notes)
        for item in node.interpretations:  # `KEYWORD ID "text"`: one space, never padded
            self.clause(indent, "interpretation", PLAIN, f"{item.id} {self.quote(item.text, item.span)}", item.span)
        for item in node.allows:
            self.clause(indent, "allow", PLAIN, f"{item.rule} {self.quote(item.reason, item.span)}", item.span)

    # -------------------------------------------------------------- files
    def file(self, node: ast.Criteria | ast.Vocabulary) -> str:
        if isinstance(node, ast.Vocabulary):
            self.vocabulary(node)
        else:
            self.criteria(node)
        return self.render()

    def criteria(self, node: ast.Criteria) -> None:
        self.header(node.header)
        for index, allow in enumerate(node.allows):
            self.head(f"allow {allow.rule} {self.quote(allow.reason, allow.span)}", 0, allow.span,
                      blank=0 if index else 1, end_span=allow.span)
        for item in node.definitions:
            self.definition(item)
        for item in node.tables:
            self.table(item)
        for item in node.complementary:
            self.complementary(item)
        for item in node.exclusions:
            self.exclusion(item)
        for item in node.deadlines:
            self.deadline(item)
        for item in node.authorities:
            self.authority(item)
        for item in node.advice:
            self.advice(item)
        for item in node.routes:
            self.route(item)
        for item in node.derivations:
            self.derivation(item)
        for item in node.conflicts:
            self.conflict(item)
        for item in node.examples:
            self.example(item)

    def header(self, node: ast.Header) -> None:
        self.head(f"guidance {self.quote(node.version, node.span)}", 0, node.span, blank=0)
        lines = self.source.header_lines(node.span) if self.source is not None else {}
        for name, keyword in HEADER_FIELDS:
            value = getattr(node, name)
            if value is None:
                continue
            text = value.isoformat() if name in ("published", "in_force") else self.quote(value, node.span)
            line = lines.get(keyword)
            span = None if line is None else Span(line=line, column=1, end_line=line, end_column=1)
            self.clause(2, keyword, HEADER, text, span)

    def definition(self, node: ast.Definition) -> None:
        self.head(f"define {node.name}", 0, node.span, blank=1)
        self.documented(node, 2, PLAIN)
        self.condition(2, "as", PLAIN, node.body, node.clause_spans.get("body"))

    def table(self, node: ast.Table) -> None:
        self.head(f"table {self.quote(node.title, node.span)}", 0, node.span, blank=2)
        if node.exposure:
            self.clause(2, "exposure", PLAIN, self.values(node.exposure, node.clause_spans.get("exposure")),
                        node.clause_spans.get("exposure"))
        self.documented(node, 2, PLAIN)
        for row in node.rows:
            self.row(row, node)

    def row(self, node: ast.Row, table: ast.Table) -> None:
        spans = node.clause_spans
        label = f" {self.quote(node.label, node.span)}" if node.label is not None else ""
        self.head(f"row {node.code}{label}", 2, node.span, blank=1, level="block")
        if node.category is not None:
            self.clause(4, "category", ROW, self.quote(node.category.text, node.category.span), spans.get("category"))
        self.texts(4, "says", ROW, node.says)
        if node.exposure and node.exposure != table.exposure:
            self.clause(4, "exposure", ROW, self.values(node.exposure, spans.get("exposure")), spans.get("exposure"))
        if node.modalities:
            self.clause(4, "modalities", ROW, self.values(node.modalities, spans.get("modalities")),
                        spans.get("modalities"))
        if node.jurisdictions:
            self.clause(4, "in", ROW, self.values(node.jurisdictions, spans.get("jurisdictions")),
                        spans.get("jurisdictions"))
        self.notes(node, 4, ROW)
        for keyword in ("band", "when", "unless"):
            body = getattr(node, keyword)
            if body is not None:
                self.condition(4, keyword, ROW, body, spans.get(keyword))

    def complementary(self, node: ast.Complementary) -> None:
        spans = node.clause_spans
        self.head(f"complementary {node.code}", 0, node.span, blank=1)
        if node.category is not None:
            self.clause(2, "category", COMPLEMENTARY, self.quote(node.category.text, node.category.span),
                        spans.get("category"))
        self.texts(2, "says", COMPLEMENTARY, node.says)
        if node.suffix_from is not None and node.suffix_to is not None:
            self.clause(2, "suffix", COMPLEMENTARY, f"{node.suffix_from} to {node.suffix_to}", spans.get("suffix"))
        if node.role is not None:
            self.clause(2, "role", COMPLEMENTARY, node.role, spans.get("role"))
        self.notes(node, 2, COMPLEMENTARY)
        if node.when is not None:
            self.condition(2, "when", COMPLEMENTARY, node.when, spans.get("when"))

    def exclusion(self, node: ast.Exclusion) -> None:
        spans = node.clause_spans
        self.head(f"exclusion {node.name}", 0, node.span, blank=1)
        self.documented(node, 2, EXCLUSION)
        if node.codes:
            self.clause(2, "codes", EXCLUSION, ", ".join(node.codes), spans.get("codes"))
        if node.when is not None:
            self.condition(2, "when", EXCLUSION, node.when, spans.get("when"))

    def deadline(self, node: ast.Deadline) -> None:
        amount = f"{node.amount.text} {node.amount.unit}" if node.amount.unit else node.amount.text
        self.head(f"deadline {node.name}: {amount} after {node.after}", 0, node.span, blank=1)
        self.documented(node, 2, PLAIN)

    def authority(self, node: ast.Authority) -> None:
        spans = node.clause_spans
        self.head(f"authority {self.value(node.jurisdiction, node.span)}", 0, node.span, blank=1)
        if node.name is not None:
            self.clause(2, "name", AUTHORITY, self.quote(node.name, spans.get("name")), spans.get("name"))
        if node.contact is not None:
            self.clause(2, "contact", AUTHORITY, self.quote(node.contact, spans.get("contact")), spans.get("contact"))
        self.documented(node, 2, AUTHORITY)

    def advice(self, node: ast.Advice) -> None:
        self.head(f"advice {node.name}", 0, node.span, blank=1)
        if node.when is not None:
            self.condition(2, "when", PLAIN, node.when, node.clause_spans.get("when"))
        self.documented(node, 2, PLAIN)
        for text in node.texts:
            self.clause(2, "in", PLAIN, f"{self.values(text.jurisdictions, text.span)}: "
                                        f"{self.quote(text.text, text.span)}", text.span)

    def route(self, node: ast.Route) -> None:
        spans = node.clause_spans
        self.head(f"route {node.name}", 0, node.span, blank=1)
        if node.when is not None:
            self.condition(2, "when", ROUTE, node.when, spans.get("when"))
        if node.verdicts:
            self.clause(2, "verdict", ROUTE, ", ".join(node.verdicts), spans.get("verdicts"))
        for to in node.to:
            where = f"{self.values(to.jurisdictions, to.span)}: " if to.jurisdictions else ""
            self.clause(2, "to", ROUTE, where + self.quote(to.text, to.span), to.span)
        if node.why is not None:
            self.clause(2, "why", ROUTE, self.quote(node.why, spans.get("why")), spans.get("why"))
        self.documented(node, 2, ROUTE)

    def derivation(self, node: ast.Derivation) -> None:
        """`derive FACT`, its texts, then `as VALUE if CONDITION`, one branch a line, the values lined up."""
        self.head(f"derive {node.fact}", 0, node.span, blank=1)
        self.documented(node, 2, PLAIN)
        lead = "  as "
        lines: list[Line] = []
        for branch in node.branches:
            prefix = (lead if not lines else " " * len(lead)) + self.value(branch.value, branch.span) + " if "
            condition = self.lay(branch.condition, len(prefix))
            condition[0] = condition[0].prefixed(prefix)
            condition[0] = Line(condition[0].text, _min(_lines_of(branch.span)[0], condition[0].start),
                                condition[0].end)
            lines += condition
        if lines:
            self.unit(lines, 2, node.clause_spans.get("branches"))

    def conflict(self, node: ast.Conflict) -> None:
        spans = node.clause_spans
        self.head(f"conflict {node.name}", 0, node.span, blank=1)
        self.documented(node, 2, PLAIN)
        if node.message is not None:
            self.clause(2, "message", PLAIN, self.quote(node.message, spans.get("message")), spans.get("message"))
        if node.when is not None:
            self.condition(2, "when", PLAIN, node.when, spans.get("when"))

    def example(self, node: ast.Example) -> None:
        self.head(f"example {self.quote(node.title, node.span)}", 0, node.span, blank=1)
        self.documented(node, 2, PLAIN)
        if node.given:
            self.head("given", 2, node.clause_spans.get("given"), blank=0, level="clause")
            for given in node.given:
                self.clause(4, given.name, PLAIN, self.literal(given.value), given.span)
        for expectation in node.expects:
            self.clause(2, "expect", PLAIN, self.expectation(expectation), expectation.span)

    def expectation(self, node: ast.Expectation) -> str:
        if node.what == "codes":
            return f"codes {', '.join(node.items)}" if node.items else "no codes"
        if node.what == "missing":
            return f"missing {', '.join(node.items)}"
        if node.what == "date":
            return f"{node.field} {node.items[0]}"
        if node.what == "authority":
            return f"authority {self.quote(node.items[0], node.span)}"
        if node.what == "routes":
            return f"routes {', '.join(node.items)}" if node.items else "no routes"
        return node.what

    def vocabulary(self, node: ast.Vocabulary) -> None:
        self.head(f"vocabulary {self.quote(node.title, node.span)}", 0, node.span, blank=0)
        self.texts(2, "says", PLAIN, node.says)
        self.texts(2, "note", PLAIN, node.notes)
        for fact in node.facts:
            self.fact(fact)

    def fact(self, node: ast.Fact) -> None:
        spans = node.clause_spans
        kind = node.kind
        if kind.name in ("one of", "one or more of"):
            kind_text = f"{kind.name} {self.values(kind.values, kind.span)}"
        else:
            kind_text = kind.name
        self.head(f"fact {node.name}: {kind_text}", 0, node.span, blank=1, end_span=kind.span)
        self.texts(2, "says", PLAIN, node.says)
        if node.absent is not None:
            verb = "assumes" if node.assumed else "means"
            self.clause(2, "absent", PLAIN, f"{verb} {self.literal(node.absent)}", spans.get("absent"))
        if node.minimum is not None:
            minimum = node.minimum
            self.clause(2, "at", PLAIN, f"least {minimum.text}" + (f" {minimum.unit}" if minimum.unit else ""),
                        spans.get("minimum"))
        if node.unit is not None:
            self.clause(2, "unit", PLAIN, node.unit, spans.get("unit"))
        self.texts(2, "note", PLAIN, node.notes)

    # ---------------------------------------------------------- rendering
    def render(self) -> str:
        eof = self.place_comments()
        out: list[str] = []

        def blanks(count: int) -> None:
            if out:
                out.extend([""] * count)

        for unit in self.units:
            paragraphs = self.paragraphs(unit.lead, unit.start) if unit.level != "clause" else [unit.lead]
            paragraphs = [p for p in paragraphs if p]
            detached = (unit.level != "clause" and bool(unit.lead) and unit.start is not None
                        and self.source is not None and unit.lead[-1].line < unit.start
                        and self.source.blank_between(unit.lead[-1].line, unit.start))
            if paragraphs:
                blanks(2 if detached and unit.level == "top" else unit.blank)
                for index, paragraph in enumerate(paragraphs):
                    if index:
                        out.append("")
                    out.extend(" " * unit.indent + comment.text for comment in paragraph)
                if detached:
                    out.append("")
            else:
                blanks(unit.blank)
            for index, line in enumerate(unit.lines):
                if index:
                    indent = len(line.text) - len(line.text.lstrip(" "))
                    out.extend(" " * indent + comment.text for comment in unit.inner.get(index, ()))
                trail = unit.trail.get(index)
                out.append(line.text + (f"  {trail[-1].text}" if trail else ""))
        if eof:
            last = max((u.end for u in self.units if u.end is not None), default=0)
            if out and self.source is not None and self.source.blank_between(last, eof[0].line):
                out.append("")
            for index, paragraph in enumerate(self.paragraphs(eof, None)):
                if index:
                    out.append("")
                out.extend(comment.text for comment in paragraph)
        return "\n".join(line.rstrip() for line in out) + "\n"

    def paragraphs(self, comments: list[Comment], before: int | None) -> list[list[Comment]]:
        """Comments split where the source has a blank line between two of them."""
        groups: list[list[Comment]] = []
        for comment in comments:
            if groups and self.source is not None:
                previous = groups[-1][-1].line
                upto = comment.line if before is None else min(comment.line, before)
                if self.source.blank_between(previous, upto):
                    groups.append([])
            if not groups:
                groups.append([])
            groups[-1].append(comment)
        return groups

    def place_comments(self) -> list[Comment]:
        """Attach each comment of the source to a unit; return those after the last one."""
        if self.source is None or not self.source.comments:
            return []
        by_line: dict[int, Unit] = {}
        placed = [u for u in self.units if u.start is not None and u.end is not None]
        for unit in placed:
            for line in range(unit.start, unit.end + 1):  # type: ignore[arg-type]
                by_line.setdefault(line, unit)
        placed.sort(key=lambda u: u.start)  # type: ignore[arg-type,return-value]
        starts = [u.start for u in placed]
        eof: list[Comment] = []
        for comment in self.source.comments:
            unit = by_line.get(comment.line)
            if unit is not None and not (comment.full and comment.line <= unit.start):  # type: ignore[operator]
                if comment.full:  # inside a clause that spans lines: before the line after it
                    index = next((k for k, line in enumerate(unit.lines)
                                  if line.start is not None and line.start > comment.line), 0)
                    (unit.inner.setdefault(index, []) if index else unit.lead).append(comment)
                else:  # at the end of a line: after what was printed from that line
                    index = max((k for k, line in enumerate(unit.lines)
                                 if line.start is not None and line.start <= comment.line), default=0)
                    unit.trail.setdefault(index, []).append(comment)
                continue
            position = bisect.bisect_right(starts, comment.line)
            if position < len(placed):
                placed[position].lead.append(comment)
            else:
                eof.append(comment)
        for unit in self.units:  # one comment at the end of a line; the others go on lines of their own above it
            for index, comments in unit.trail.items():
                if len(comments) > 1:
                    target = unit.inner.setdefault(index, []) if index else unit.lead
                    target.extend(comments[:-1])
                    target.sort(key=lambda c: c.line)
                    unit.trail[index] = comments[-1:]
            unit.lead.sort(key=lambda c: c.line)
        return eof


# ----------------------------------------------------------------------- public


def print_file(node: ast.Criteria | ast.Vocabulary) -> str:
    """The canonical text of a criteria or vocabulary AST (without comments)."""
    return Printer().file(node)


def format_text(source: str, name: str = "<string>") -> str:
    """The canonical text of a criteria or vocabulary file, with its comments.

    Raises CriteriaError (with located diagnostics) when the file does not parse.
    """
    node = to_ast(parse_text(source, name), name, source)
    return Printer(Source(source)).file(node)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def run(files: tuple[Path, ...], check: bool) -> int:
    """Format files in place, or with `check` only show what would change.

    Exit status: 0 when every file is (now) formatted; 1 with `check` when a file
    would change; 2 when a file cannot be read or does not parse (it is left
    untouched and its diagnostics are printed; this wins over 1).
    """
    status = 0
    changed = unchanged = failed = 0
    for path in files:
        try:
            source = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            click.echo(f"irmer fmt: cannot read {path}: {reason}", err=True)
            failed += 1
            status = 2
            continue
        try:
            formatted = format_text(source, str(path))
        except CriteriaError as error:
            click.echo(error.render(), err=True)
            click.echo(f"irmer fmt: {path} does not parse; left unchanged", err=True)
            failed += 1
            status = 2
            continue
        if formatted == source:
            unchanged += 1
            continue
        changed += 1
        if check:
            diff = difflib.unified_diff(source.splitlines(keepends=True), formatted.splitlines(keepends=True),
                                        fromfile=str(path), tofile=str(path), fromfiledate="original",
                                        tofiledate="formatted")
            click.echo("".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                               for line in diff), nl=False)
            click.echo(f"would reformat {path}", err=True)
            status = max(status, 1)
        else:
            path.write_bytes(formatted.encode("utf-8"))
            click.echo(f"reformatted {path}", err=True)
    verb = "would be reformatted" if check else "reformatted"
    parts = []
    if changed or not (unchanged or failed):
        parts.append(f"{_plural(changed, 'file')} {verb}")
    if unchanged:
        parts.append(f"{_plural(unchanged, 'file')} already formatted")
    if failed:
        parts.append(f"{_plural(failed, 'file')} could not be formatted")
    click.echo(", ".join(parts), err=True)
    return status
