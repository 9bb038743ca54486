"""The language server: `irmer lsp` speaks the Language Server Protocol on stdin and stdout.

An editor starts it for `.irmer` files (docs/authoring.md says how). It gives:

- **diagnostics as you type**: every problem `irmer check` reports (syntax,
  names, kinds and units, examples), warnings, and the findings of `irmer lint`
  that the file does not `allow`;
- **hover**: over a notification code (after `row`, `complementary`,
  `criteria of`, `codes`, `expect codes`) the row's category, the regulator's
  words and the rule; over a fact, its kind and notes from the vocabulary; over
  a definition, its meaning;
- **go to definition**: from a fact to its `fact` line in the vocabulary (the
  one beside the file, else the shipped one), from a definition to its `define`
  line, from a code to its `row` (or `complementary`) line.

While a file does not parse, hover uses the last version of it that did, and go
to definition reads the lines as they are now, so both keep working while you
type. The work is done by plain functions of the text (`analyse`, `hover_text`,
`definition_targets`), which the tests call without an editor; the server only
connects them to the protocol. Checks run one at a time in a worker thread, a
short while after the last keystroke, so that typing stays responsive.

Every request gets an answer (`IrmerProtocol`): a result, null when there is
nothing to say (a hover over a document that is neither open nor on disk), or
a JSON-RPC error when the request itself cannot be read (no params, params of
the wrong shape, not JSON-RPC, not JSON).

>>> text = 'guidance "g"\\ndefine adult\\n  as not child\\n'
>>> lines = text.split("\\n")
>>> token, context = token_at(lines, 2, 12)
>>> token.text, classify(context, token)
('child', 'name')
>>> token, context = token_at(['  expect codes 4.2c, E4.2c'], 0, 21)
>>> token.text, classify(context, token)
('E4.2c', 'code')
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from cattrs import transform_error
from lsprotocol import types
from pygls.exceptions import (JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcMethodNotFound,
                              JsonRpcParseError)
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import PositionCodec

from . import __version__
from .language import ast
from .language.check import fact_infos
from .language.diagnostics import CriteriaError, Diagnostic, Span
from .load import VOCABULARY_FILE, Guidance, compile_text, load_vocabulary
from .language.parse import parse_text
from .language.printer import expression
from .resources import criteria_dir
from .language.transform import ToAst
from .language.units import KINDS

log = logging.getLogger("irmer.lsp")

SOURCE = "irmer"
DELAY = 0.3  # seconds after the last change before a document is checked again

SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


# ------------------------------------------------------------------------- analysis

@dataclass
class Analysis:
    """What one version of a document says: its diagnostics and what hover and go to definition need."""

    diagnostics: list[types.Diagnostic]
    tree: ast.Criteria | ast.Vocabulary | None  # this text's AST, when it parses
    guidance: Guidance | None = None  # this text compiled, when it compiles
    vocabulary: ast.Vocabulary | None = None
    vocabulary_path: Path | None = None


def document_name(path: Path | None, uri: str | None = None) -> str:
    """The file name spans carry: the document's path, or its URI when it has none (untitled)."""
    return str(path) if path is not None else (uri or "<document>")


def parse_only(text: str, name: str) -> tuple[ast.Criteria | ast.Vocabulary | None, list[Diagnostic]]:
    """The AST of a text and the structural problems found building it (a repeated clause, ...).

    Unlike `to_ast`, it returns the AST even when there are such problems, so
    that hover works on a file that parses but does not yet check.
    """
    try:
        tree = parse_text(text, name)
    except CriteriaError as error:
        return None, error.diagnostics
    transformer = ToAst(name)
    try:
        node = transformer.transform(tree)
    except Exception as error:  # a bug of ours: say so instead of going quiet
        log.exception("transforming %s", name)
        return None, [Diagnostic(message=f"irmer: internal error: {type(error).__name__}: {error}")]
    return node, transformer.diagnostics


_HEADER_VOCABULARY = re.compile(r'^[ \t]*vocabulary[ \t]+"((?:[^"\\\n]|\\.)*)"', re.M)


def is_vocabulary_text(text: str) -> bool:
    """Whether a text is a vocabulary file: its first word is `vocabulary`, not `guidance`."""
    for line in text.split("\n"):
        words = line.split("#", 1)[0].split()
        if words:
            return words[0] == "vocabulary"
    return False


def find_vocabulary(text: str, tree: Any, base: Path | None) -> Path | None:
    """The vocabulary file a criteria text uses: beside it, else the shipped one (as `compile_text` looks)."""
    wanted = None
    if isinstance(tree, ast.Criteria):
        wanted = tree.header.vocabulary
    elif not is_vocabulary_text(text):
        found = _HEADER_VOCABULARY.search(text)
        wanted = found.group(1) if found else None
    wanted = wanted or VOCABULARY_FILE
    candidates = ([base / wanted] if base else []) + [criteria_dir() / Path(wanted).name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    return None


def read_vocabulary(path: Path | None) -> ast.Vocabulary | None:
    """A vocabulary's AST: checked when it checks, else as far as it parses."""
    if path is None:
        return None
    try:
        return load_vocabulary(path).ast
    except CriteriaError:
        pass
    try:
        tree, _ = parse_only(path.read_text(encoding="utf-8"), str(path))
    except OSError:
        return None
    return tree if isinstance(tree, ast.Vocabulary) else None


def lint_findings(guidance: Guidance) -> list[Any]:
    """The findings of `irmer lint` that the file does not accept with `allow`.

    evaluator/tools/lint.py is optional here: without it, there are none.
    """
    try:
        from .tools.lint import lint
    except ImportError:
        return []
    try:
        findings = lint(guidance)
    except Exception:
        log.exception("lint failed")
        return []
    return [finding for finding in findings if not getattr(finding, "allowed", None)]


def lint_diagnostics(guidance: Guidance, name: str, lines: list[str], codec: PositionCodec | None = None,
                     ) -> list[types.Diagnostic]:
    """The lint findings of a compiled document as LSP diagnostics, with the rule as their code."""
    codec = codec or PositionCodec()
    anchor = _vocabulary_line(lines)
    diagnostics = []
    for finding in lint_findings(guidance):
        hint = getattr(finding, "hint", None)
        witness = getattr(finding, "witness", None)
        if witness:
            shown = ", ".join(f"{key} {_witness_value(value)}" for key, value in witness.items())
            hint = f"{hint}\nfor example: {shown}" if hint else f"for example: {shown}"
        severity = "error" if getattr(finding, "severity", "warning") == "error" else "warning"
        diagnostics.append(to_lsp(finding.message, getattr(finding, "span", None), severity, hint, name, lines,
                                  codec, code=getattr(finding, "rule", None), anchor=anchor))
    return diagnostics


def _witness_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_witness_value(v) for v in value)
    return str(value)


def analyse(text: str, path: Path | None = None, uri: str | None = None,
            codec: PositionCodec | None = None, lint: bool = True) -> Analysis:
    """Check a document's text as `irmer check` (and with `lint`, `irmer lint`) would; keep what hover needs.

    The server runs lint apart (`lint_diagnostics`), after publishing the
    check's diagnostics: it takes longer.
    """
    name = document_name(path, uri)
    base = path.parent if path is not None else None
    lines = text.split("\n")
    codec = codec or PositionCodec()
    tree, problems = parse_only(text, name)
    guidance = None
    notes: list[str] = []
    if isinstance(tree, ast.Vocabulary):
        if not problems:
            problems = fact_infos(tree, name)[1]
    elif tree is not None and not problems:
        try:
            guidance = compile_text(text, name, base)
        except CriteriaError as error:
            problems = error.diagnostics
        except Exception as error:  # a bug of ours: say so instead of going quiet
            log.exception("checking %s", name)
            problems = [Diagnostic(message=f"irmer: internal error: {type(error).__name__}: {error}",
                                   hint="this is a bug in irmer; please report it with the file")]
        else:
            problems = list(guidance.warnings)
            notes = list(guidance.notes)

    anchor = _vocabulary_line(lines)
    diagnostics = [to_lsp(d.message, d.span, d.severity, d.hint, name, lines, codec, anchor=anchor)
                   for d in problems]
    diagnostics += [to_lsp(note, None, "info", None, name, lines, codec, anchor=anchor) for note in notes]
    if lint and guidance is not None:
        diagnostics += lint_diagnostics(guidance, name, lines, codec)

    if isinstance(tree, ast.Vocabulary):
        return Analysis(diagnostics, tree, None, tree, path)
    if guidance is not None:
        return Analysis(diagnostics, tree, guidance, guidance.vocabulary.ast, guidance.vocabulary.path.resolve())
    vocabulary_path = find_vocabulary(text, tree, base)
    return Analysis(diagnostics, tree, None, read_vocabulary(vocabulary_path), vocabulary_path)


def _vocabulary_line(lines: list[str]) -> int:
    """Where to show a problem that is in another file (the vocabulary): the header's `vocabulary` line."""
    for number, line in enumerate(lines):
        if re.match(r'^[ \t]*vocabulary\b', line):
            return number
    return 0


def lsp_position(lines: list[str], line: int, column: int, codec: PositionCodec) -> types.Position:
    """A 0-based line and 0-based code-point column, in the client's units (UTF-16 by default)."""
    line = max(0, min(line, len(lines) - 1))
    column = max(0, min(column, len(lines[line])))
    return codec.position_to_client_units(lines, types.Position(line=line, character=column))


def lsp_range(span: Span, lines: list[str], codec: PositionCodec) -> types.Range:
    """A span (1-based, end exclusive) as an LSP range (0-based, end exclusive)."""
    start = (span.line - 1, span.column - 1)
    end = (span.end_line - 1, span.end_column - 1)
    if end <= start:
        end = (start[0], start[1] + 1)
    return types.Range(start=lsp_position(lines, *start, codec), end=lsp_position(lines, *end, codec))


def to_lsp(message: str, span: Span | None, severity: str, hint: str | None, name: str, lines: list[str],
           codec: PositionCodec, code: str | None = None, anchor: int = 0) -> types.Diagnostic:
    """One of our diagnostics as an LSP diagnostic of the document called `name`.

    A problem in another file (the vocabulary) is shown on the `anchor` line,
    with the place it is in, and a link to it.
    """
    text = f"{message}\nhint: {hint}" if hint else message
    related = None
    if span is not None and span.file == name:
        where = lsp_range(span, lines, codec)
    else:
        where = types.Range(start=lsp_position(lines, anchor, 0, codec),
                            end=lsp_position(lines, anchor, len(lines[anchor]) if anchor < len(lines) else 0, codec))
        if span is not None:
            text = f"{span.file}:{span.line}:{span.column}: {text}"
            other = Path(span.file)
            if other.is_file():
                related = [types.DiagnosticRelatedInformation(
                    location=types.Location(uri=from_fs_path(str(other.resolve())), range=types.Range(
                        start=types.Position(line=span.line - 1, character=span.column - 1),
                        end=types.Position(line=span.end_line - 1, character=span.end_column - 1))),
                    message=message)]
    return types.Diagnostic(range=where, message=text, severity=SEVERITY.get(severity, types.DiagnosticSeverity.Error),
                            source=SOURCE, code=code, related_information=related)


# ---------------------------------------------------------------- words under the cursor

_TOKEN = re.compile(r"""
    (?P<comment>\#.*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"?)
  | (?P<word>[A-Z]?\d+(?:\.\d+)?[a-z]?(?![\w.])      # a code (4.2b, E4.2c) or a number
            |[A-Za-z_µμ][A-Za-z0-9_µμ]*              # a keyword, a name, a unit
            |\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<other>\S)
""", re.X)
_CODE = re.compile(r"[A-Z]?\d+(?:\.\d+)?[a-z]?|[A-Z]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, other
    text: str
    line: int  # 0-based
    start: int  # 0-based code-point columns, end exclusive
    end: int


def line_tokens(text: str, line: int) -> list[Token]:
    """The tokens of a line, comments left out."""
    return [Token(m.lastgroup or "other", m.group(), line, m.start(), m.end())
            for m in _TOKEN.finditer(text) if m.lastgroup != "comment"]


def token_at(lines: list[str], line: int, column: int) -> tuple[Token, list[Token]] | tuple[None, list[Token]]:
    """The token at a 0-based position and the tokens of its clause so far.

    A clause's list can run over several lines, each but the last ending with
    a comma (`codes 2.1, 2.2,` / `4.1, M`): the context starts on the first.
    """
    if not 0 <= line < len(lines):
        return None, []
    here = line_tokens(lines[line], line)
    token = next((t for t in here if t.start <= column < t.end), None) or \
        next((t for t in here if t.end == column and t.kind == "word"), None)
    if token is None:
        return None, []
    first = line
    while first > 0:
        above = line_tokens(lines[first - 1], first - 1)
        if not above or above[-1].text != ",":
            break
        first -= 1
    context = [t for number in range(first, line) for t in line_tokens(lines[number], number)]
    context += [t for t in here if t.start <= token.start]
    return token, context


def classify(context: list[Token], token: Token) -> str | None:
    """What a word is where it stands: `code` (a notification code), `name` (a fact or a definition), or None."""
    if token.kind != "word":
        return None
    words = [t.text for t in context]
    i = len(words) - 1
    if i >= 2 and words[i - 1] == "of" and words[i - 2] == "criteria":
        return "code" if _CODE.fullmatch(token.text) else None
    if words[0] in ("row", "complementary") and i == 1:
        return "code" if _CODE.fullmatch(token.text) else None
    if (words[0] == "codes" and i >= 1) or (words[:2] == ["expect", "codes"] and i >= 2):
        return "code" if _CODE.fullmatch(token.text) else None
    if _NAME.fullmatch(token.text):
        return "name"
    return None


# ------------------------------------------------------------------------------ hover

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")


def md(text: str, code_spans: bool = False) -> str:
    """Text for markdown, shown as written. Our notes may use `code`: keep those spans with code_spans."""
    if not code_spans:
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    parts = re.split(r"(`[^`\n]+`)", text)
    return "".join(part if part.startswith("`") and part.endswith("`") and len(part) > 1
                   else _MARKDOWN_SPECIAL.sub(r"\\\1", part) for part in parts)


def _quote(texts: Iterable[ast.Text]) -> list[str]:
    """The regulator's words, one paragraph each."""
    paragraphs = [f"> {md(t.text)}" for t in texts]
    if not paragraphs:
        return []
    return ["The guidance says:\n\n" + "\n>\n".join(paragraphs)]


def _notes(node: Any) -> list[str]:
    out = [f"- {md(n.text, code_spans=True)}" for n in getattr(node, "notes", ())]
    out += [f"- *interpretation* `{i.id}`: {md(i.text, code_spans=True)}" for i in getattr(node, "interpretations", ())]
    return ["\n".join(out)] if out else []


def _rule(lines: list[tuple[str, Any]]) -> list[str]:
    shown = []
    for word, expr in lines:
        if expr is not None:
            text = expression(expr).replace("\n", "\n" + " " * (len(word) + 1))
            shown.append(f"{word} {text}")
    return ["```irmer\n" + "\n".join(shown) + "\n```"] if shown else []


def row_markdown(row: ast.Row) -> str:
    title = f"**Code {row.code}**" + (f" ({md(row.label)})" if row.label else "")
    if row.table:
        title += f" · table *{md(row.table)}*"
    parts = [title]
    if row.category:
        parts.append(f"**Category:** {md(row.category.text)}")
    scope = [f"{word} {', '.join(values)}" for word, values in
             (("exposure", row.exposure), ("modalities", row.modalities), ("in", row.jurisdictions)) if values]
    parts += _quote(row.says)
    if scope:
        parts.append("Scope: " + "; ".join(f"`{s}`" for s in scope))
    parts += _rule([("band", row.band), ("when", row.when), ("unless", row.unless)])
    parts += _notes(row)
    return "\n\n".join(parts)


def complementary_markdown(item: ast.Complementary) -> str:
    parts = [f"**Complementary code {item.code}**" + (f" · role *{item.role}*" if item.role else "")
             + (f" · suffix {item.suffix_from} to {item.suffix_to}" if item.suffix_from is not None else "")]
    if item.category:
        parts.append(f"**Category:** {md(item.category.text)}")
    parts += _quote(item.says)
    parts += _rule([("when", item.when)])
    parts += _notes(item)
    return "\n\n".join(parts)


def code_markdown(criteria: ast.Criteria, code: str) -> str | None:
    """The rows (and complementary code) a code names: `4.2b`, `M`, `E4.2c`."""
    letter, base = (code, None) if re.fullmatch(r"[A-Z]", code) else (
        (code[0], code[1:]) if re.fullmatch(r"[A-Z]\d.*", code) else (None, code))
    parts = [complementary_markdown(c) for c in criteria.complementary if letter and c.code == letter]
    parts += [row_markdown(r) for r in criteria.rows if base and r.code == base]
    return "\n\n---\n\n".join(parts) or None


def _kind_text(kind: ast.KindSpec) -> str:
    if kind.values:
        values = ", ".join(f"`{v}`" if _NAME.fullmatch(v) else f'`"{v}"`' for v in kind.values)
        return f"{kind.name} {values}"
    spec = KINDS.get(kind.name)
    if spec is None:
        return kind.name
    text = spec.description
    if spec.units:
        text += " (write it in " + ", ".join(spec.units) + ")"
    return text


def _literal_text(value: ast.Literal_) -> str:
    if value.form == "list":
        return ", ".join(_literal_text(item) for item in value.items)
    text = f'"{value.text}"' if value.form == "string" else value.text
    return f"{text} {value.unit}" if value.unit else (f"{text}%" if value.form == "percent" else text)


def fact_markdown(fact: ast.Fact, where: str | None = None) -> str:
    parts = [f"**{md(fact.name)}** · fact of the vocabulary: *{_kind_text(fact.kind)}*"]
    details: list[str] = []
    if fact.absent is not None:
        details.append(f"absent {'assumes' if fact.assumed else 'means'} `{_literal_text(fact.absent)}`"
                       + (" (a judgement: a result says in `assumed` when it decides)" if fact.assumed else ""))
    else:
        details.append("unknown when absent")
    if fact.minimum is not None:
        details.append(f"at least `{fact.minimum.text}{' ' + fact.minimum.unit if fact.minimum.unit else ''}`")
    if fact.unit:
        details.append(f"a bare number is in {fact.unit}")
    summary = "; ".join(details)
    parts.append(summary[:1].upper() + summary[1:])
    parts += _quote(fact.says)
    parts += _notes(fact)
    if where:
        parts.append(f"*from {md(where)}*")
    return "\n\n".join(p for p in parts if p)


def definition_markdown(definition: ast.Definition) -> str:
    parts = [f"**{md(definition.name)}** · definition"]
    parts += _quote(definition.says)
    parts += _rule([("as", definition.body)])
    parts += _notes(definition)
    return "\n\n".join(parts)


def hover_text(token: Token, context: list[Token], tree: Any, vocabulary: ast.Vocabulary | None,
               vocabulary_name: str | None = None, lines: list[str] | None = None) -> str | None:
    """The markdown to show over a token, or None."""
    what = classify(context, token)
    if what == "code":
        return code_markdown(tree, token.text) if isinstance(tree, ast.Criteria) else None
    if what != "name":
        return None
    if isinstance(tree, ast.Criteria):
        for definition in tree.definitions:
            if definition.name == token.text:
                return definition_markdown(definition)
    elif lines is not None and tree is None:
        source = definition_source(lines, token.text)
        if source:
            return f"**{md(token.text)}** · definition\n\n```irmer\n{source}\n```"
    if vocabulary is not None:
        fact = vocabulary.fact(token.text)
        if fact is not None:
            where = vocabulary_name if not isinstance(tree, ast.Vocabulary) else None
            return fact_markdown(fact, where)
    return None


_ITEM_START = re.compile(r"^(guidance|define|table|row|complementary|exclusion|deadline|authority|advice|route|derive|"
                         r"conflict|example|"
                         r"vocabulary|fact|allow)\b")


def definition_source(lines: list[str], name: str) -> str | None:
    """A definition's `define` and `as` lines as written (for hover while the file does not parse)."""
    found = find_lines(lines, rf"^[ \t]*define[ \t]+({re.escape(name)})\b")
    if not found:
        return None
    start = found[0][0]
    block = [lines[start].rstrip()]
    for line in lines[start + 1:]:
        if _ITEM_START.match(line.strip()) and not line.strip().startswith("allow"):
            break
        block.append(line.rstrip())
    # The meaning: the `as` line and the lines that continue it (not the long texts around it).
    meaning, inside = [block[0]], False
    for line in block[1:]:
        first = (line.split() or [""])[0]
        if first == "as":
            inside = True
        elif first in ("says", "note", "interpretation", "allow"):
            inside = False
        if inside and line.strip() and not line.strip().startswith("#"):
            meaning.append(line)
    return "\n".join(meaning)


# -------------------------------------------------------------------- go to definition

def find_lines(lines: list[str], pattern: str) -> list[tuple[int, int, int]]:
    """(line, start, end) of group 1 of a pattern, on each line where it matches (0-based)."""
    regex = re.compile(pattern)
    found = []
    for number, line in enumerate(lines):
        match = regex.match(line)
        if match:
            found.append((number, match.start(1), match.end(1)))
    return found


@dataclass(frozen=True)
class Target:
    """A place to go to: a file (None for the document itself), a 0-based line and columns."""

    path: Path | None
    line: int
    start: int
    end: int


def definition_targets(token: Token, context: list[Token], lines: list[str], is_vocabulary: bool,
                       vocabulary_path: Path | None, read: Callable[[Path], str | None]) -> list[Target]:
    """Where a code, a definition or a fact is declared. `read` gives a file's text (an open editor's first)."""
    what = classify(context, token)
    if what == "code":
        code = token.text
        targets = []
        if re.fullmatch(r"[A-Z]\d.*|[A-Z]", code):
            targets += find_lines(lines, rf"^[ \t]*complementary[ \t]+({code[0]})\b")
            code = code[1:]
        if code:
            targets += find_lines(lines, rf"^[ \t]*row[ \t]+({re.escape(code)})(?![\w.])")
        return [Target(None, *t) for t in targets]
    if what != "name":
        return []
    name = re.escape(token.text)
    if not is_vocabulary:
        targets = find_lines(lines, rf"^[ \t]*define[ \t]+({name})\b")
        if targets:
            return [Target(None, *t) for t in targets]
    if is_vocabulary:
        return [Target(None, *t) for t in find_lines(lines, rf"^[ \t]*fact[ \t]+({name})\b")]
    if vocabulary_path is None:
        return []
    text = read(vocabulary_path)
    if text is None:
        return []
    return [Target(vocabulary_path, *t) for t in find_lines(text.split("\n"), rf"^[ \t]*fact[ \t]+({name})\b")]


# ---------------------------------------------------------------------------- the server

class _Refused:
    """A message that could not be read: answered already (a request) or dropped (a notification)."""


REFUSED = _Refused()


def _lsp_names(message: str) -> str:
    """cattrs names fields as Python does (`$.params.text_document`); say them as the protocol does (`textDocument`)."""
    where, at, path = message.rpartition(" @ ")
    return f"{where}{at}{re.sub(r'_([a-z])', lambda m: m.group(1).upper(), path)}" if at else message


def _request_id(data: Any) -> int | str | None:
    """The id to answer a request with: its own when it is a valid JSON-RPC id, else null (as the spec says)."""
    ident = data.get("id") if isinstance(data, dict) else None
    return ident if isinstance(ident, (int, str)) and not isinstance(ident, bool) else None


class IrmerProtocol(LanguageServerProtocol):
    """pygls's protocol, with every request answered.

    pygls drops a request whose params it cannot read (none, or of the wrong
    shape), and one that is not JSON-RPC at all, without a word: the client
    would wait for ever. Here each gets a JSON-RPC error naming what is wrong
    (Invalid Params, -32602; Invalid Request, -32600: not JSON-RPC 2.0, an id
    that is not a number, a text or null; Method Not Found, -32601: a method
    the server lacks, whatever its params); so does a request after `shutdown`,
    as the protocol asks. A notification has no answer, so a bad one is only
    logged.
    """

    def structure_message(self, data: Any) -> Any:
        if isinstance(data, dict) and "method" in data and "id" in data:  # a request: it gets an answer
            ident = data["id"]
            readable = ident is None or (isinstance(ident, (str, int)) and not isinstance(ident, bool))
            method = data["method"]
            if data.get("jsonrpc") != "2.0" or not readable or not isinstance(method, str):
                why = ("not JSON-RPC 2.0" if data.get("jsonrpc") != "2.0" else
                       "an id is a number, a text or null" if not readable else "a method is a text")
                self.refuse(ident if readable else None, JsonRpcInvalidRequest(f"Invalid Request: {why}"))
                return REFUSED
            kind = self.get_message_type(method)
            notification = kind is not None and kind.__name__.endswith("Notification")
            if notification or (method not in self.fm.builtin_features and method not in self.fm.features):
                # Whatever its params: the server has no such method (pygls would first fail on the params),
                # or it is a notification (`$/setTrace`), which has no answer as a request would.
                self.refuse(ident, JsonRpcMethodNotFound(
                    f"Method Not Found: {method or '(empty)'}" + (" is a notification" if notification else "")))
                return REFUSED
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                cause = error.__cause__
                detail = "; ".join(_lsp_names(line) for line in transform_error(cause)) \
                    if cause is not None and hasattr(cause, "exceptions") else str(cause or error)
                method = data.get("method")
                self.refuse(_request_id(data), JsonRpcInvalidParams(
                    f"Invalid Params: {method if isinstance(method, str) else 'the request'}: {detail}"))
            return REFUSED

    def handle_message(self, message: Any) -> None:
        if message is REFUSED:
            return
        if not hasattr(message, "jsonrpc"):  # an object without "jsonrpc", or not an object
            log.warning("not a JSON-RPC message: %.200r", message)
            if isinstance(message, dict) and "method" in message and "id" in message:
                self.refuse(_request_id(message), JsonRpcInvalidRequest("Invalid Request: not JSON-RPC 2.0"))
            elif not isinstance(message, dict):
                self.refuse(None, JsonRpcInvalidRequest("Invalid Request: a message is a JSON object"))
            return
        method = getattr(message, "method", None)
        if self._shutdown and method not in (None, types.EXIT) and getattr(message, "id", None) is not None:
            self.refuse(message.id, JsonRpcInvalidRequest(f"Invalid Request: {method} after shutdown"))
            return
        super().handle_message(message)

    def refuse(self, ident: int | str | None, error: JsonRpcException) -> None:
        """Answer a request with an error; `id` is null when the request's own could not be read (JSON-RPC 2.0)."""
        # A plain object: pygls's converter would leave out an id of null, which JSON-RPC requires.
        self._send_data({"jsonrpc": "2.0", "id": ident, "error": {"code": error.code, "message": error.message}})


@dataclass
class DocumentState:
    """What the server keeps about an open document between checks."""

    tree: ast.Criteria | ast.Vocabulary | None = None  # the last AST of the document that parsed
    vocabulary: ast.Vocabulary | None = None
    vocabulary_path: Path | None = None
    lint: tuple[str, list[types.Diagnostic]] | None = None  # the text lint last ran on, and its findings


def _path(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None


class IrmerLanguageServer(LanguageServer):
    """The language server of the criteria language (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__("irmer", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full,
                         protocol_cls=IrmerProtocol)
        self.states: dict[str, DocumentState] = {}
        # One check at a time, and lint (slower: it asks z3) apart, so that a long lint
        # never holds up the diagnostics of the next edit.
        self._checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="irmer-check")
        self._linter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="irmer-lint")
        self._pending: dict[str, asyncio.Task] = {}
        self._generation: dict[str, int] = {}

    # ------------------------------------------------------------- checking
    def current(self, uri: str, text: str) -> bool:
        """Whether a document is still open with this text."""
        if uri not in self.states:
            return False
        try:
            return self.workspace.get_text_document(uri).source == text
        except Exception:
            return False

    async def check(self, uri: str) -> None:
        """Check a document now and publish its diagnostics; then lint it and publish again.

        A result for a text that has changed meanwhile is dropped: a newer check is on its way.
        """
        try:
            document = self.workspace.get_text_document(uri)
        except Exception:
            return
        text, version = document.source, document.version
        generation = self._generation[uri] = self._generation.get(uri, 0) + 1
        codec = self.workspace.position_codec
        loop = asyncio.get_running_loop()
        analysis = await loop.run_in_executor(self._checker, lambda: analyse(text, _path(uri), uri, codec,
                                                                               lint=False))
        if not self.current(uri, text):
            return
        state = self.states[uri]
        if analysis.tree is not None:
            state.tree = analysis.tree
        state.vocabulary = analysis.vocabulary or state.vocabulary
        state.vocabulary_path = analysis.vocabulary_path or state.vocabulary_path
        # Lint's findings for this very text (a save without an edit) are still good: keep them showing.
        kept = state.lint[1] if state.lint and state.lint[0] == text and analysis.guidance is not None else []
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=version, diagnostics=analysis.diagnostics + kept))
        if analysis.guidance is None or kept:
            return

        def run_lint() -> list[types.Diagnostic] | None:
            if self._generation.get(uri) != generation:
                return None  # the document has changed since: skip the work
            return lint_diagnostics(analysis.guidance, analysis.guidance.name, text.split("\n"), codec)

        found = await loop.run_in_executor(self._linter, run_lint)
        if found is None or self._generation.get(uri) != generation or not self.current(uri, text):
            return
        state.lint = (text, found)
        if found:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=uri, version=version, diagnostics=analysis.diagnostics + found))

    def check_later(self, uri: str, delay: float = DELAY) -> None:
        """Check a document once it has not changed for `delay` seconds."""
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()

        async def later() -> None:
            await asyncio.sleep(delay)
            if self._pending.get(uri) is task:
                del self._pending[uri]
            await self.check(uri)

        task = asyncio.ensure_future(later())
        self._pending[uri] = task

    def forget(self, uri: str) -> None:
        self.states.pop(uri, None)
        self._generation.pop(uri, None)
        pending = self._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """A message that is not JSON at all is answered with Parse Error (-32700, id null), as JSON-RPC asks."""
        if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)):
            self.protocol.refuse(None, JsonRpcParseError(f"Parse Error: {error}"))
            return
        super().report_server_error(error, source)

    def shutdown(self) -> None:
        self._checker.shutdown(wait=False, cancel_futures=True)
        self._linter.shutdown(wait=False, cancel_futures=True)
        super().shutdown()

    # ------------------------------------------------------------- reading
    def read(self, path: Path) -> str | None:
        """A file's text: an open editor's, else the file's."""
        uri = from_fs_path(str(path))
        if uri in self.states:
            try:
                return self.workspace.get_text_document(uri).source
            except Exception:
                pass
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            return None

    def located(self, uri: str, position: types.Position
                ) -> tuple[Any, Token | None, list[Token], list[str]] | None:
        """The document, the token at a position and its clause, the lines; None for a document we cannot read.

        pygls reads a document that was never opened from its file: a file that
        is not there (or not text) has nothing to hover over.
        """
        document = self.workspace.get_text_document(uri)
        try:
            text = document.source
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        lines = text.split("\n")
        codec = self.workspace.position_codec
        server = codec.position_from_client_units(lines, types.Position(line=position.line,
                                                                        character=position.character))
        token, context = token_at(lines, server.line, server.character)
        return document, token, context, lines

    def state(self, uri: str, text: str) -> DocumentState:
        """What hover and go to definition know of a document: an open one's state, kept between checks;
        for one never opened (read from its file), what its text says now, kept nowhere (it is not open)."""
        path = _path(uri)
        state = self.states.get(uri)
        if state is None:
            state = DocumentState(tree=parse_only(text, document_name(path, uri))[0])
        if state.vocabulary_path is None and not is_vocabulary_text(text):
            state.vocabulary_path = find_vocabulary(text, state.tree, path.parent if path else None)
            state.vocabulary = read_vocabulary(state.vocabulary_path)
        return state

    def token_range(self, lines: list[str], token: Token) -> types.Range:
        codec = self.workspace.position_codec
        return types.Range(start=lsp_position(lines, token.line, token.start, codec),
                           end=lsp_position(lines, token.line, token.end, codec))


def create_server() -> IrmerLanguageServer:
    """A language server with every feature registered (not yet started)."""
    server = IrmerLanguageServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: IrmerLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.states.setdefault(params.text_document.uri, DocumentState())
        await ls.check(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: IrmerLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.states.setdefault(params.text_document.uri, DocumentState())
        ls.check_later(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    async def did_save(ls: IrmerLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.states.setdefault(uri, DocumentState())
        await ls.check(uri)
        saved = _path(uri)
        # A saved vocabulary changes what the criteria files that use it mean.
        for other, state in list(ls.states.items()):
            if other != uri and saved is not None and state.vocabulary_path == saved.resolve():
                ls.check_later(other, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: IrmerLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri,
                                                                            diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: IrmerLanguageServer, params: types.HoverParams) -> types.Hover | None:
        located = ls.located(params.text_document.uri, params.position)
        if located is None:
            return None
        document, token, context, lines = located
        if token is None:
            return None
        state = ls.state(params.text_document.uri, document.source)
        name = state.vocabulary_path.name if state.vocabulary_path else None
        text = hover_text(token, context, state.tree, state.vocabulary, name, lines)
        if text is None:
            return None
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                           range=ls.token_range(lines, token))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: IrmerLanguageServer, params: types.DefinitionParams) -> list[types.Location] | None:
        uri = params.text_document.uri
        located = ls.located(uri, params.position)
        if located is None:
            return None
        document, token, context, lines = located
        if token is None:
            return None
        state = ls.state(uri, document.source)
        targets = definition_targets(token, context, lines, is_vocabulary_text(document.source),
                                     state.vocabulary_path, ls.read)
        locations = []
        codec = ls.workspace.position_codec
        for target in targets:
            if target.path is None:
                target_uri, target_lines = uri, lines
            else:
                target_uri = from_fs_path(str(target.path))
                target_lines = (ls.read(target.path) or "").split("\n")
            locations.append(types.Location(uri=target_uri, range=types.Range(
                start=lsp_position(target_lines, target.line, target.start, codec),
                end=lsp_position(target_lines, target.line, target.end, codec))))
        return locations or None

    return server


def run() -> None:
    """Serve on stdin and stdout until the editor says `exit`."""
    logging.basicConfig(level=logging.WARNING, format="irmer lsp: %(levelname)s: %(message)s")
    create_server().start_io()
