"""The comparison operators, as data: how they are written, read and applied.

>>> COMPARATORS["≥"], COMPARE[">="](3, 3), SYMBOL[">="]
('>=', True, '≥')
"""

from __future__ import annotations

import operator
from typing import Callable

# Every spelling the language accepts -> the canonical operator.
COMPARATORS: dict[str, str] = {
    ">=": ">=", "≥": ">=",
    "<=": "<=", "≤": "<=",
    ">": ">", "<": "<",
    "=": "=", "!=": "!=", "≠": "!=",
}

# Canonical operator -> how to apply it to two exact numbers.
COMPARE: dict[str, Callable[[object, object], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
    "=": operator.eq, "!=": operator.ne,
}

# Canonical operator -> how explanations print it.
SYMBOL: dict[str, str] = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "=": "=", "!=": "≠"}

# Canonical operator -> the same test with its operands swapped.
FLIPPED: dict[str, str] = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "=": "=", "!=": "!="}

# Canonical operator -> how generated Python code writes it (the compiled engine).
PYTHON: dict[str, str] = {">=": ">=", "<=": "<=", ">": ">", "<": "<", "=": "==", "!=": "!="}
