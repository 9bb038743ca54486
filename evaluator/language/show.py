"""How values and rules are shown to people: exact where the value is exact.

>>> from fractions import Fraction
>>> show_number(Fraction(66))
'66'
>>> show_number(Fraction(1, 3))
'≈0.3333'
>>> show_quantity(Fraction(3, 1000), "effective dose", "mSv")
'3 mSv'
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from .units import KINDS, to_unit


def show_number(value: Fraction | float) -> str:
    """A fraction as a decimal: exact when it terminates within 6 places, else ≈ 4 significant figures."""
    if isinstance(value, float):
        return "∞" if value > 0 else str(value)
    scaled = value * 10**6
    if scaled.denominator == 1:
        text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    return "≈" + format(float(value), ".4g")


def show_quantity(value: Fraction | float, kind: str, unit: str | None) -> str:
    """A value in a kind's base unit, shown in the unit given (or the kind's display unit)."""
    if isinstance(value, float):
        return "∞"
    spec = KINDS.get(kind)
    if spec is None or spec.dimension is None:
        return show_number(value)
    unit = unit or spec.display_unit
    return f"{show_number(to_unit(value, kind, unit))} {unit}"


def source_text(source: str | None, span: Any) -> str | None:
    """The text a span covers, with runs of white space folded to one space."""
    if source is None or span is None:
        return None
    lines = source.splitlines()
    if span.line == span.end_line:
        parts = [lines[span.line - 1][span.column - 1:span.end_column - 1]]
    else:
        parts = [lines[span.line - 1][span.column - 1:]]
        parts += lines[span.line:span.end_line - 1]
        parts.append(lines[span.end_line - 1][:span.end_column - 1])
    return " ".join(" ".join(_strip_comment(part) for part in parts).split())


def _strip_comment(line: str) -> str:
    in_string = False
    for i, char in enumerate(line):
        if char == '"':
            in_string = not in_string
        elif char == "#" and not in_string:
            return line[:i]
    return line
