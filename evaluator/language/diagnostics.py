"""Errors are values: a diagnostic names a place in a file and says what is wrong.

Every stage of the pipeline (parse, transform, check, reading an incident)
reports problems as :class:`Diagnostic` values. Nothing a user types should
ever surface as a Python traceback; the CLI prints diagnostics with
:func:`render`.

>>> src = "when foetal_dose >= 10 mSv\\n"
>>> d = Diagnostic(message="cannot compare an absorbed dose with an effective dose",
...                span=Span(file="x.irmer", line=1, column=21, end_line=1, end_column=27),
...                hint="write the threshold in Gy or mGy")
>>> print(render(d, src))
x.irmer:1:21: error: cannot compare an absorbed dose with an effective dose
    1 | when foetal_dose >= 10 mSv
      |                     ^^^^^^
  hint: write the threshold in Gy or mGy
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..errors import CriteriaError  # noqa: F401 - raised with these diagnostics; defined apart (see there)


class Span(BaseModel):
    """A region of a source file: 1-based lines and columns, end exclusive."""

    model_config = ConfigDict(frozen=True)

    file: str = "<string>"
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


Severity = Literal["error", "warning", "info"]


class Diagnostic(BaseModel):
    """One problem, with where it is and, when we can tell, how to fix it."""

    model_config = ConfigDict(frozen=True)

    message: str
    span: Span | None = None
    severity: Severity = "error"
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        return f"{where}{self.severity}: {self.message}"


def render(diagnostic: Diagnostic, source: str | None = None) -> str:
    """Format a diagnostic as `file:line:col: severity: message`, the line, a caret."""
    lines = [str(diagnostic)]
    span = diagnostic.span
    if span and source is not None:
        text_lines = source.splitlines()
        if 1 <= span.line <= len(text_lines):
            text = text_lines[span.line - 1].expandtabs(1)
            gutter = f"{span.line:>5} | "
            width = (span.end_column - span.column) if span.end_line == span.line else len(text) - span.column + 1
            width = max(1, min(width, len(text) - span.column + 2))
            text, column, width = _window(text, span.column, width)
            lines.append(gutter + text)
            lines.append(" " * (len(gutter) - 2) + "| " + " " * (column - 1) + "^" * width)
    if diagnostic.hint:
        lines.append(f"  hint: {diagnostic.hint}")
    return "\n".join(lines)


SHOWN = 120  # the most of a source line a message shows: a 10,000-character line is cut around the caret


def _window(text: str, column: int, width: int) -> tuple[str, int, int]:
    """The part of a long line around the caret, with `…` where it is cut; the caret's new column and width."""
    if len(text) <= SHOWN:
        return text, column, width
    start = max(0, min(column - 1 - SHOWN // 3, len(text) - SHOWN))
    end = start + SHOWN
    shown = ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
    column = column - start + (1 if start else 0)
    return shown, column, max(1, min(width, SHOWN - (column - 1) + (1 if start else 0)))
