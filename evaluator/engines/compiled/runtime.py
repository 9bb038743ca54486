"""What the compiled engine needs at run time: the Table (what table.py compiles), the helpers
generated code may call, and what a row's generated function returns. Nothing here imports the language: a process that loads compiled criteria
from the cache starts deciding without it."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..logic import (INTERVAL_COMPARE, NONE, Interval, and3, decided, divide, gt, hull, join_truth, not3,
                     or3)

# What a row's generated function returns: (in_scope, band, met), as the interpreter's verdict has them.
SCOPE_OUT = (False, True, False)  # exposure, modality or jurisdiction rule the row out
BAND_OUT = (False, False, False)  # the incident is not in the row's category
NOT_MET = (True, True, False)
MET = (True, True, True)


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


ASSUMED = "\x00assumed"  # the key, in an incident's values, of the judgement defaults its decision read


def _assumed(v: dict, name: str, default: Any) -> Any:
    """A judgement default (`absent assumes`) the incident does not give: taken, and noted as read."""
    read = v.get(ASSUMED)
    if read is None:
        v[ASSUMED] = read = []
    read.append(name)
    return default


def _fraction(n: Any, d: Any) -> Any:
    return n if d == 1 else Fraction(n) / d


RUNTIME = {"_nz": _nz, "_outside": _outside, "_fraction": _fraction, "_assumed": _assumed, "Fraction": Fraction}
RUNTIME.update(SCOPE_OUT=SCOPE_OUT, BAND_OUT=BAND_OUT, NOT_MET=NOT_MET, MET=MET)
# The three-valued side's generated code (codegen3.py) calls the shared rules of engines/logic.py.
RUNTIME.update(NONE=NONE, ONCE=(None,), Interval=Interval, and3=and3, or3=or3, not3=not3, CMP=INTERVAL_COMPARE,
               GT=gt, DIVIDE=divide, JOIN_TRUTH=join_truth, HULL=hull, DECIDED=decided)


def comment(text: str) -> str:
    r"""Text from a criteria file as a comment of generated code: one line, printable, no NUL.

    >>> print(comment("row 1\x00\nnext"))
    row 1\x00\nnext
    """
    return text.encode("unicode_escape").decode("ascii")


def scaled(value: Fraction, scale: int) -> int | Fraction:
    """An exact value on a scale: an int when it falls on the scale, else a fraction."""
    value = value * scale
    return value.numerator if value.denominator == 1 else value


@dataclass(frozen=True)
class RowInfo:
    """What the composition of a result needs to know of a row."""

    index: int
    code: str
    label: str | None
    banded: bool  # the row has a band: its category is one band of a fact (2.1 by intended dose, ...)
    scopes: tuple[tuple[str, frozenset, bool], ...]  # (fact, allowed values, the fact holds several)
    # The judgement defaults (`absent assumes`) its code reads: worked out when the table is built, so an
    # incident whose dispatched rows read none is never decided again (engine.py, decide).
    judgements: frozenset = frozenset()
    # Its category tests (engines/suffix.py): which of them the facts meet picks a complementary code's suffix.
    tests: tuple = ()
    # What decides it once its scope holds, as generated code: (a test, the verdict when it holds), in order
    # (MET when none does). row_<index> is these after the scope's tests; engine.py inlines them.
    checks: tuple[tuple[str, str], ...] = ()
    # Every fact its verdict depends on, read or split on (table.facts_read): the engine keeps its
    # three-valued verdicts by their values. Empty when not known (then nothing is kept).
    reads: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComplementaryInfo:
    index: int
    code: str
    role: str
    suffix_from: int | None
    suffix_to: int | None
    judgements: frozenset = frozenset()
    checks: tuple[tuple[str, str], ...] = ()  # as RowInfo.checks: (a test, False when it holds); else True
    reads: tuple[str, ...] = ()  # as RowInfo.reads (a code has no split of its own)


@dataclass(frozen=True)
class RouteInfo:
    """A route as the composition of a result needs it: the verdicts it names, where it goes, by place."""

    name: str
    verdicts: tuple[Any, ...]  # True, False, None: the `notifiable` values it is shown with
    always: bool  # its condition is `always`: no test to run
    by_place: dict[Any, tuple[dict[str, Any], ...]]  # jurisdiction (None: unknown) -> the route entries shown
    required: frozenset[str] = frozenset()  # facts without which its condition cannot hold (table.required)


@dataclass
class Table:
    version: str
    source: str  # the generated Python: row_<i>, comp_<j>, advice_<k>, route_<k>, extras
    constants: dict[str, Any]
    scales: dict[str, int]
    units: dict[str, dict[str, Fraction]]  # kind -> spelling -> factor to the base unit
    facts: dict[str, Any]  # name -> language.values.FactInfo
    rows: tuple[RowInfo, ...]
    comps: tuple[ComplementaryInfo, ...]
    authorities: dict[str, dict[str, Any]]  # jurisdiction -> the result's authority
    advice: tuple[tuple[str, dict[Any, tuple[dict[str, Any], ...]]], ...]  # (name, place -> the advice shown)
    deadlines: tuple[tuple[str, str, int], ...]  # (name, the date it counts from, days)
    routes: tuple[RouteInfo, ...] = ()
    shared_codes: frozenset[str] = field(default_factory=frozenset)  # codes of several rows (code 1)
    # The plan's splits (engines/split.py): {"rows": [Split per row], "codes": {code: Split},
    # "notifiable": Split}, for the three-valued side.
    splits: dict[str, Any] = field(default_factory=dict)
    # Derived facts and contradictions (engines/derive.py): derive3_<i>_<j> and conflict3_<k> in the source.
    derivations: tuple[Any, ...] = ()  # DeriveInfo
    conflicts: tuple[Any, ...] = ()  # ConflictInfo
    # How the criteria compare intended_dose and total_dose (engines/alternative.py DoseUses), for doses in an
    # alternative quantity.
    alternative: Any = None
