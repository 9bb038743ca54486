"""Markdown (GitHub-flavoured) for the pages the tools write, and prose split at its `code` spans.

Shared by `irmer diff` (evaluator/tools/render_diff.py) and `irmer render`
(evaluator/tools/render_criteria.py), so that text is escaped one way everywhere.
The HTML pages are not built here: they come from the templates in
evaluator/pages, where Jinja2 escapes every value (`code_spans` is a filter
there, so that a template can set the code of a note in <code>).

>>> md("a | b *c*")
'a \\\\| b \\\\*c\\\\*'
>>> md_code("x `y` z")
'``x `y` z``'
>>> md_prose("use `total_dose >= 3 mSv` here")
'use `total_dose >= 3 mSv` here'
>>> code_spans("use `total_dose >= 3 mSv` here")
[(False, 'use '), (True, 'total_dose >= 3 mSv'), (False, ' here')]
"""

from __future__ import annotations

import re
from typing import Any, Iterable

_MD_SPECIAL = re.compile(r"([\\`*~\[\]<|])")


def md(value: Any) -> str:
    """Text for markdown: special characters escaped, line breaks folded (safe in a table cell too)."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))
    escaped = re.sub(r"^([#>+-])", r"\\\1", escaped)
    escaped = re.sub(r"^(\d+)([.)])(?=\s|$)", r"\1\\\2", escaped)  # not an ordered list
    # An underscore inside a word is plain text in GFM; one at a word's edge could start emphasis.
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", escaped)


def md_code(value: Any, cell: bool = False) -> str:
    """Inline code, with a fence longer than any run of backticks inside; pipes escaped in a table cell."""
    text = " ".join(str(value).split())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    if cell:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def code_spans(value: Any) -> list[tuple[bool, str]]:
    """Prose cut at its backticks: (is code, text) pieces; unbalanced backticks leave it all prose.

    >>> code_spans("a `b` c `d")
    [(False, 'a `b` c `d')]
    """
    text = str(value)
    pieces = text.split("`")
    if len(pieces) % 2 == 0:
        return [(False, text)]
    return [(i % 2 == 1, piece) for i, piece in enumerate(pieces) if piece or i % 2 == 1]


def md_prose(value: Any, cell: bool = False) -> str:
    """Prose with `code` spans: the prose escaped, the code kept as code."""
    return "".join(md_code(p, cell) if code else _spaced(p) for code, p in code_spans(value))


def _spaced(text: str) -> str:
    """Prose between code spans, escaped, keeping the space that separates it from them."""
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() and text.strip() else ""
    return lead + md(text) + trail


def md_row(cells: Iterable[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def md_table(header: list[str], rows: list[list[Any]], align: str | None = None) -> list[str]:
    """A table: header, rule (or the alignment row given), rows; cells already escaped."""
    rule = align or "|" + "|".join("---" for _ in header) + "|"
    return [md_row(header), rule] + [md_row(r) for r in rows]
