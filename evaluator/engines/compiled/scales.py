"""One exact integer scale per kind of quantity, and what generated code may call.

Every threshold of a criteria file, and every value written with up to six
decimals in any accepted unit, is an integer on its kind's scale, so the
compiled engine compares integers: ``3000 uSv`` and ``3 mSv`` are the same
integer, and 66 Gy is 1.1 times 60 Gy because ``66 * 10 >= 60 * 11``.

>>> from evaluator import load_criteria
>>> kind_scales(load_criteria("2024").checked)["effective dose"]
1000000000000
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from ...language import ast
from ...language.check import Checked
from ...language.units import DIMENSIONLESS, KINDS, resolve_unit


class Unknown(Exception):
    """Raised by generated code that meets a value it cannot decide with (a zero denominator)."""


# What the generated code may call: exact helpers, nothing else.


def _nz(value: Any) -> Any:
    """A denominator: a zero one is left to the three-valued engine (x / 0 is ∞ there, 0 / 0 unknown)."""
    if value == 0:
        raise Unknown
    return value


def _outside(n1: Any, d1: Any, n2: Any, d2: Any, p: int, q: int) -> bool:
    """n1/d1 outside ±p/q of n2/d2, multiplied out (every denominator is positive)."""
    value, low, high = n1 * d2 * q, n2 * (q - p) * d1, n2 * (q + p) * d1
    return value < low or value > high


def _fraction(n: Any, d: Any) -> Any:
    return n if d == 1 else Fraction(n) / d


RUNTIME = {"_nz": _nz, "_outside": _outside, "_fraction": _fraction, "Fraction": Fraction}


def kind_scales(checked: Checked) -> dict[str, int]:
    """One integer scale per kind of quantity: every threshold, and every value written with up to six
    decimals in any accepted unit, is an integer on it."""
    denominators: dict[str, set[int]] = {}
    for name, kind in KINDS.items():
        if kind.dimension:
            denominators[name] = {(resolve_unit(u)[1] / 10**6).denominator for u in kind.units + kind.spellings}
    nodes = [n for root in _roots(checked.criteria) for n in root.walk()]
    nodes += [info.minimum for info in checked.facts.values() if info.minimum is not None]
    for node in nodes:
        if isinstance(node, ast.Number) and node.kind in denominators and node.value is not None:
            denominators[node.kind].add(node.value.denominator)
    scales = {name: math.lcm(*dens) for name, dens in denominators.items()}
    for name in DIMENSIONLESS | {k for k in KINDS if k not in scales}:
        scales[name] = 1
    return scales


def _roots(criteria: ast.Criteria) -> list[ast.Node]:
    roots: list[ast.Node] = [d.body for d in criteria.definitions]
    for row in criteria.rows:
        roots += [x for x in (row.band, row.when, row.unless) if x is not None]
    roots += [x.when for x in (*criteria.complementary, *criteria.exclusions, *criteria.advice) if x.when is not None]
    return roots


def scaled(value: Fraction, scale: int) -> int | Fraction:
    """An exact value on a scale: an int when it falls on the scale, else a fraction."""
    value = value * scale
    return value.numerator if value.denominator == 1 else value
