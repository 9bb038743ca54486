"""Stage 1: text -> parse tree, with Lark (LALR, contextual lexer, positions).

Syntax errors become :class:`~evaluator.language.diagnostics.Diagnostic` values that
say in words what was expected where.

>>> tree = parse_text('vocabulary "v"\\nfact age: duration\\n', "v.irmer")
>>> tree.data == "start"
True
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from .gcpause import paused
from .lalr import Driver
from .diagnostics import CriteriaError, Diagnostic, Span
from .limits import LIMITS, MAX_FILE_SIZE, MAX_LINE_LENGTH, MAX_NESTING
from ..resources import grammar_path

# What each terminal is called when we tell a person what we expected.
TERMINAL_WORDS: dict[str, str] = {
    "_NL": "the end of the line",
    "NAME": "a name",
    "STRING": 'text in double quotes ("...")',
    "NUMBER": "a number",
    "INT": "a whole number",
    "UNIT": "a unit (mSv, mGy, GBq, mm, years, ...)",
    "PERCENT": "a percentage (20%)",
    "DATE": "a date (YYYY-MM-DD)",
    "CODE": "a notification code (2.1, 4.2a, M)",
    "COMPARATOR": "a comparison (>=, <=, >, <, =, !=)",
    "PLUSMINUS": "± or +/-",
    "HEADER_KEY": "a header field (title, publisher, published, in force, supersedes, source, vocabulary)",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "a comma",
    "COLON": "a colon",
    "SLASH": "/",
    "$END": "the end of the file",
}

# Keywords that start a clause or a section: listed first when we say what was expected.
_KEYWORD_ORDER = ["when", "unless", "band", "category", "says", "note", "interpretation", "row", "table"]


def _spans_text(node: object) -> bool:
    """Newlines end clauses but are not part of them: keep them out of spans."""
    return not (isinstance(node, Token) and node.type == "_NL")


@lru_cache(maxsize=1)
def parser() -> Lark:
    return Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr",
                propagate_positions=_spans_text, maybe_placeholders=False)


@lru_cache(maxsize=1)
def driver() -> Driver:
    return Driver(parser())


@paused
def parse_text(text: str, file: str = "<string>") -> Tree:
    """Parse criteria or vocabulary text; raise CriteriaError with a located diagnostic.

    The text is measured first (its size, its lines) and the tree after (its
    depth), against the bounds of :mod:`evaluator.language.limits`: a file beyond them is
    refused here, before any later stage walks it recursively.
    """
    if not text.endswith("\n"):
        text += "\n"
    problem = _size_problem(text, file)
    if problem is not None:
        raise CriteriaError([problem], {file: text})
    tree = driver().parse(text)  # Lark's tables in a tight loop; None on a syntax error
    try:
        if tree is None:
            tree = parser().parse(text)  # Lark's own driver: the same tree, or its error
    except UnexpectedInput as error:
        raise CriteriaError([syntax_diagnostic(error, text, file)], {file: text}) from None
    problem = _depth_problem(tree, file)
    if problem is not None:
        raise CriteriaError([problem], {file: text})
    return tree


def _size_problem(text: str, file: str) -> Diagnostic | None:
    """The first place where the text is longer than a file or a line may be."""
    if len(text) > MAX_FILE_SIZE:
        line = text.count("\n", 0, MAX_FILE_SIZE) + 1
        column = MAX_FILE_SIZE - (text.rfind("\n", 0, MAX_FILE_SIZE) + 1) + 1
        return Diagnostic(message=f"the file is too long ({len(text):,} characters): {LIMITS['file size']}",
                          span=Span(file=file, line=line, column=column, end_line=line, end_column=column + 1),
                          hint="the file is cut off here; split it, or check that it is the file you meant")
    for number, line in enumerate(text.split("\n"), 1):
        if len(line) > MAX_LINE_LENGTH:
            return Diagnostic(message=f"this line is too long ({len(line):,} characters): {LIMITS['line length']}",
                              span=Span(file=file, line=number, column=MAX_LINE_LENGTH + 1, end_line=number,
                                        end_column=MAX_LINE_LENGTH + 2),
                              hint="split a long text into several lines of its clause (says, note)")
    return None


def _depth_problem(tree: Tree, file: str) -> Diagnostic | None:
    """Where the tree is nested deeper than the bound, found without recursion.

    Every later stage (transform, check, the engines, the printer) walks
    expressions recursively; a `not` nested a thousand deep would exhaust
    Python's stack in any of them.
    """
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            meta = node.meta
            line, column = (meta.line, meta.column) if not getattr(meta, "empty", True) else (1, 1)
            return Diagnostic(message=f"this expression is nested too deeply: {LIMITS['nesting']}",
                              span=Span(file=file, line=line, column=column, end_line=line, end_column=column + 1),
                              hint="give a part of it a name with `define`, and use the name")
        below = depth + 1
        for child in node.children:  # a loop, not a generator: this runs for every node of the tree
            if type(child) is Tree:
                stack.append((child, below))
    return None


def describe_expected(names: set[str]) -> str:
    words: list[str] = []
    keywords = sorted((n for n in names if _is_keyword(n)), key=lambda n: (_keyword_rank(n), n))
    for name in keywords:
        words.append(f"`{_keyword_text(name)}`")
    for name in sorted(n for n in names if not _is_keyword(n)):
        words.append(TERMINAL_WORDS.get(name, name.lower()))
    if len(words) > 8:
        words = words[:8] + ["..."]
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _is_keyword(name: str) -> bool:
    try:
        pattern = parser().get_terminal(name).pattern
    except KeyError:
        return False
    return pattern.type == "str" and pattern.value.isalpha()


def _keyword_text(name: str) -> str:
    return parser().get_terminal(name).pattern.value


def _keyword_rank(name: str) -> int:
    text = _keyword_text(name)
    return _KEYWORD_ORDER.index(text) if text in _KEYWORD_ORDER else len(_KEYWORD_ORDER)


def _token_words(token: Token) -> str:
    if token.type == "_NL":
        return "end of the line"
    if token.type == "$END":
        return "end of the file"
    return f"`{token.value}`"


def syntax_diagnostic(error: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line = getattr(error, "line", None) or 1
    column = getattr(error, "column", None) or 1
    lines = text.splitlines()
    char = lines[line - 1][column - 1:column] if line <= len(lines) else ""
    expected = _expected(error)
    if isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "_NL" and token.line is not None:
            # A newline token starts at the end of the line it ends: point there.
            line, column = token.line, token.column
        if token.type in ("NAME", "UNIT") and token.start_pos is not None:
            # A word the lexer cut short where no name may stand: show the whole word.
            word = re.match(r"[A-Za-z0-9_µμ]+", text[token.start_pos:])
            if word:
                token = Token(token.type, word.group(0), token.start_pos, token.line, token.column)
        width = max(1, len(token.value.split("\n")[0])) if token.type != "_NL" else 1
        message = f"unexpected {_token_words(token)}; expected {describe_expected(expected)}"
    elif isinstance(error, UnexpectedCharacters):
        width = 1
        message = f"unexpected character `{char}`"
        if expected:
            message += f"; expected {describe_expected(expected)}"
    elif isinstance(error, UnexpectedEOF):
        width = 1
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        message = f"the file ends too early; expected {describe_expected(expected)}"
    else:  # pragma: no cover - every Lark input error is one of the above
        width = 1
        message = str(error)
    if isinstance(error, UnexpectedCharacters) and char == '"':
        message = "this text in double quotes does not end on its line"
    hint = _hint(message)
    if isinstance(error, UnexpectedToken) and error.token.type in ("NAME", "UNIT", "CODE"):
        hint = _keyword_hint(str(token), expected) or hint
    if isinstance(error, (UnexpectedToken, UnexpectedEOF)) and expected <= {"RPAR", "_NL", "AND", "OR"} \
            and "RPAR" in expected:
        opening = _unclosed_bracket(text, error)
        if opening:
            line, column = opening
            width = 1
            message = "this bracket is never closed"
            hint = "close it with `)` before the end of the condition"
    span = Span(file=file, line=line, column=column, end_line=line, end_column=column + width)
    return Diagnostic(message=message, span=span, hint=hint)


def _expected(error: UnexpectedInput) -> set[str]:
    """The tokens the parser would accept at the error, exactly.

    LALR merges the lookaheads of states that look alike, so Lark's own list can
    name tokens that are not valid here; asking the interactive parser is exact.
    """
    interactive = getattr(error, "interactive_parser", None)
    if interactive is not None:
        try:
            return set(interactive.accepts()) - {"$END"} or {"$END"}
        except Exception:  # pragma: no cover - fall back to Lark's own list
            pass
    return set(getattr(error, "expected", None) or getattr(error, "allowed", None) or ())


# Words people write where the language has another: what to say instead.
MISTAKES: dict[str, str] = {
    "version": 'the version id goes on the first line: guidance "irmer-2024-08-28"',
    "code": "a row starts with its code: row 2.1",
    "criteria": "write the criterion on a `when` line",
    "rule": "write the rule on a `when` line",
    "if": "a row's condition goes on a `when` line",
}


def _keyword_hint(word: str, expected: set[str]) -> str | None:
    """`whn` where a clause keyword belongs: suggest the keyword."""
    keywords = [_keyword_text(name) for name in expected if _is_keyword(name)]
    if word in MISTAKES and word not in keywords:
        return MISTAKES[word]
    close = difflib.get_close_matches(word, keywords, n=1, cutoff=0.75)
    if close:
        return f"did you mean `{close[0]}`?"
    if keywords and len(keywords) > 3:
        return "each line of a block starts with a keyword, such as " + ", ".join(
            f"`{k}`" for k in sorted(keywords, key=lambda k: (_KEYWORD_ORDER.index(k) if k in _KEYWORD_ORDER
                                                               else len(_KEYWORD_ORDER), k))[:5])
    return None


def _unclosed_bracket(text: str, error: UnexpectedInput) -> tuple[int, int] | None:
    """The (line, column) of the last `(` left open before the error, outside strings and comments."""
    stop = getattr(error, "pos_in_stream", None)
    if stop is None and isinstance(error, UnexpectedToken):
        stop = error.token.start_pos
    stop = len(text) if stop is None else stop
    open_at: list[int] = []
    in_string = in_comment = False
    for index, char in enumerate(text[:stop]):
        if in_comment:
            in_comment = char != "\n"
        elif char == '"':
            in_string = not in_string
        elif in_string:
            in_string = char != "\n"
        elif char == "#":
            in_comment = True
        elif char == "(":
            open_at.append(index)
        elif char == ")" and open_at:
            open_at.pop()
    if not open_at:
        return None
    start = open_at[-1]
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return line, column


def _hint(message: str) -> str | None:
    if "double quotes does not end" in message:
        return 'end it with " on the same line; to write a long text, split it into several says lines'
    if "expected text in double quotes" in message:
        return 'put the regulator\'s words in double quotes: says "..."'
    return None
