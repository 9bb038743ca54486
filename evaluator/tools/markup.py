"""Escaping for the pages the tools write: markdown (GitHub-flavoured) and HTML.

Shared by `irmer diff` (evaluator/tools/render_diff.py) and `irmer render`
(evaluator/tools/render_criteria.py), so that text is escaped one way everywhere.

>>> md("a | b *c*")
'a \\\\| b \\\\*c\\\\*'
>>> md_code("x `y` z")
'``x `y` z``'
>>> md_prose("use `total_dose >= 3 mSv` here")
'use `total_dose >= 3 mSv` here'
>>> h("<b>")
'&lt;b&gt;'
"""

from __future__ import annotations

import html as _html
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


def md_prose(value: Any, cell: bool = False) -> str:
    """Prose with `code` spans: the prose escaped, the code kept as code."""
    pieces = str(value).split("`")
    if len(pieces) % 2 == 0:  # unbalanced backticks: all prose
        return md(value)
    return "".join(_spaced(p) if i % 2 == 0 else md_code(p, cell) for i, p in enumerate(pieces))


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


def h(value: Any) -> str:
    """Text for HTML."""
    return _html.escape(str(value))
