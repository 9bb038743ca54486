"""Three-valued logic and exact intervals: the semantics every Python engine shares.

A condition is true, false, or unknown (``None``) when it needs a fact the
incident does not give. An unknown number is the interval of the values it
could take (a count of at least 1 is [1, ∞)), so ``0 >= 50% of
intended_images`` is false even when ``intended_images`` is unknown. The
interpreter and the compiled engine both compute with these rules, so they
cannot disagree on what a comparison of intervals means.

>>> and3([True, None]), and3([False, None]), or3([None, True])
(None, False, True)
>>> ge(Interval(Fraction(3), Fraction(3)), Interval(Fraction(1), INF))
>>> ge(Interval(Fraction(0), Fraction(0)), Interval(Fraction(1, 2), INF))
False
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable, Iterable

B3 = bool | None  # three-valued: True, False, or None for unknown
INF = math.inf  # the upper end of an unknown quantity; never used as a measured value
Missing = frozenset[str]
NONE: Missing = frozenset()
YES_NO: dict[B3, str] = {True: "yes", False: "no", None: "unknown"}


def not3(a: B3) -> B3:
    return None if a is None else not a


def and3(values: Iterable[B3]) -> B3:
    result: B3 = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def or3(values: Iterable[B3]) -> B3:
    result: B3 = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


class Interval:
    """The values a number may have: exactly one when known, a range when not.

    An end is open when the value cannot equal it: (0.3 mSv, 2.5 mSv) is every
    dose strictly between. Marking an end closed when it is really open is
    always safe (it only makes fewer comparisons decidable); the reverse is not.
    Immutable by convention; a plain class with slots, because engines make
    millions of them.
    """

    __slots__ = ("lo", "hi", "lo_open", "hi_open")

    def __init__(self, lo: Fraction, hi: Fraction | float, lo_open: bool = False, hi_open: bool = False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open  # hi is INF when unbounded

    @property
    def known(self) -> bool:
        return self.lo == self.hi and not (self.lo_open or self.hi_open)

    def scale(self, factor: Fraction) -> "Interval":
        if factor == 0:
            return Interval(Fraction(0), Fraction(0))
        return Interval(self.lo * factor, self.hi * factor if self.hi != INF else INF, self.lo_open, self.hi_open)

    def _key(self) -> tuple:
        return self.lo, self.hi, self.lo_open, self.hi_open

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interval) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Interval({self.lo!r}, {self.hi!r}" + (f", lo_open={self.lo_open}" if self.lo_open else "") +
                (f", hi_open={self.hi_open}" if self.hi_open else "") + ")")


def point(value) -> Interval:
    return Interval(value, value)


def divide(a: Interval, b: Interval) -> Interval:
    """a / b for non-negative intervals; division by zero gives ∞ (or [0, ∞) for 0/0)."""
    if b.hi == INF:
        lo, lo_open = Fraction(0), False
    elif b.hi == 0:
        lo, lo_open = (INF, False) if a.lo > 0 else (Fraction(0), False)
    else:
        lo, lo_open = Fraction(a.lo) / b.hi, a.lo_open or b.hi_open  # exact, if the ends are ints too
    if b.lo == 0 or a.hi == INF:
        hi, hi_open = INF, False
    else:
        hi, hi_open = Fraction(a.hi) / b.lo, a.hi_open or b.lo_open
    if lo == INF:
        return Interval(INF, INF)  # type: ignore[arg-type]
    return Interval(lo, hi, lo_open, hi_open)


def ge(a: Interval, b: Interval) -> B3:
    # Every a >= every b when a's least value is at least b's greatest; none is when
    # a's greatest is below b's least (or equal to it, but not reached by one of them).
    if a.lo >= b.hi:
        return True
    if a.hi < b.lo or (a.hi == b.lo and (a.hi_open or b.lo_open)):
        return False
    return None


def gt(a: Interval, b: Interval) -> B3:
    if a.lo > b.hi or (a.lo == b.hi and (a.lo_open or b.hi_open)):
        return True
    if a.hi <= b.lo:
        return False
    return None


def eq(a: Interval, b: Interval) -> B3:
    if a.known and b.known:
        return a.lo == b.lo
    if gt(a, b) is True or gt(b, a) is True:
        return False
    return None


# Canonical operator -> how it compares two intervals.
INTERVAL_COMPARE: dict[str, Callable[[Interval, Interval], B3]] = {
    ">=": ge, ">": gt,
    "<=": lambda a, b: ge(b, a), "<": lambda a, b: gt(b, a),
    "=": eq, "!=": lambda a, b: not3(eq(a, b)),
}


def outside(value: Interval, reference: Interval, fraction: Fraction) -> B3:
    """`value outside ±fraction of reference`: below the low end or above the high end."""
    low, high = reference.scale(1 - fraction), reference.scale(1 + fraction)
    return or3([gt(low, value), gt(value, high)])


def missing_if(result: B3, parts: Iterable[Missing]) -> Missing:
    """The facts that would decide a result: none when it is decided."""
    return NONE if result is not None else frozenset().union(*parts)


def decided(value) -> bool:
    return value.known if isinstance(value, Interval) else value is not None


def join_truth(values: list[B3]) -> B3:
    return values[0] if len(set(values)) == 1 else None


def hull(values: list[Interval]) -> Interval:
    return Interval(min(v.lo for v in values), max(v.hi for v in values))  # closed ends: always safe
