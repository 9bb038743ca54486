"""Reading one fact's value, for any kind: the same code reads incidents,
`absent means` defaults and the `given` lines of examples.

Quantities are strings with a unit and become exact fractions in the kind's
base unit; a bare number is allowed only where the fact names a unit
(`age`: years). Mistakes come back as :class:`ValueProblem` with a hint.

>>> info = FactInfo(name="total_dose", kind="effective dose")
>>> read_value(info, "3000 uSv").value
Fraction(3, 1000)
>>> read_value(FactInfo(name="foetal_dose", kind="absorbed dose"), "12 mSv")
Traceback (most recent call last):
...
evaluator.language.values.ValueProblem: foetal_dose is an absorbed dose in Gy, but "12 mSv" is an effective dose
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .units import BOOL, ENUM, KINDS, SET, UnitError, describe_kind, resolve_unit


class ValueProblem(ValueError):
    """A value that cannot be read for its fact, said in words."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message)


@dataclass(frozen=True)
class Measure:
    """A known numeric value: exact, in the kind's base unit, with how it was written."""

    value: Fraction
    kind: str
    text: str = ""
    unit: str | None = None

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class FactInfo:
    """What the checker knows about a fact of the vocabulary."""

    name: str
    kind: str
    values: tuple[str, ...] = ()
    unit: str | None = None  # the unit a bare number is taken in
    minimum: Fraction | None = None
    default: Any = None
    has_default: bool = False
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def numeric(self) -> bool:
        return self.kind in KINDS and KINDS[self.kind].numeric

    def describe(self) -> str:
        if self.kind == BOOL:
            return "yes or no"
        if self.kind in (ENUM, SET):
            return f"{self.kind} {', '.join(self.values)}"
        return describe_kind(self.kind)


_NUMBER = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
_TRUE = {"yes", "true", "y"}
_FALSE = {"no", "false", "n"}


def exact(number: Any) -> Fraction:
    """An exact fraction from an int, a decimal string or a JSON float as written."""
    if isinstance(number, bool):
        raise TypeError("a yes/no value is not a number")
    if isinstance(number, float):
        # repr gives the shortest decimal that reads back as the same float:
        # 0.3 -> "0.3" -> 3/10, not the binary 0.299999...
        number = repr(number)
    if isinstance(number, Decimal):
        if not number.is_finite():
            raise ValueError("not a finite number")
        return Fraction(number)
    if isinstance(number, int):
        return Fraction(number)
    return Fraction(str(number).strip())  # "nan" and "inf" raise ValueError here


def read_value(info: FactInfo, raw: Any) -> Any:
    """Read a raw JSON value as a value of the fact's kind."""
    reader = READERS.get(info.kind)
    if reader is None:
        raise ValueProblem(f"{info.name} has a kind we cannot read: {info.kind}")
    return reader(info, raw)


def _read_bool(info: FactInfo, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueProblem(f"{info.name} is yes or no, not {_show(raw)}", "use true or false")


def _canonical(info: FactInfo, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueProblem(f"{info.name} must be one of {_listing(info.values)}, not {_show(raw)}")
    wanted = _fold(raw)
    for value in info.values:
        if _fold(value) == wanted:
            return value
    close = difflib.get_close_matches(raw, info.values, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else None
    raise ValueProblem(f"{info.name} must be one of {_listing(info.values)}, not {_show(raw)}", hint)


def _fold(text: str) -> str:
    return re.sub(r"[\s_-]+", "_", text.strip().lower())


def _read_enum(info: FactInfo, raw: Any) -> str:
    return _canonical(info, raw)


def _read_set(info: FactInfo, raw: Any) -> frozenset[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ValueProblem(f"{info.name} needs at least one value", f"one of {_listing(info.values)}")
    return frozenset(_canonical(info, item) for item in items)


def _read_date(info: FactInfo, raw: Any) -> dt.date:
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise ValueProblem(f"{info.name} must be a date written YYYY-MM-DD, not {_show(raw)}") from None


def _read_text(info: FactInfo, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueProblem(f"{info.name} must be text, not {_show(raw)}")
    return raw


def _read_count(info: FactInfo, raw: Any) -> Measure:
    try:
        value = exact(raw)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueProblem(f"{info.name} is a count, not {_show(raw)}", "give a whole number, such as 3") from None
    if value.denominator != 1:
        raise ValueProblem(f"{info.name} is a count, so it must be a whole number, not {_show(raw)}")
    _check_minimum(info, value, raw)
    return Measure(value=value, kind=info.kind, text=str(value.numerator))


def _read_ratio(info: FactInfo, raw: Any) -> Measure:
    text = str(raw).strip()
    try:
        value = exact(text[:-1]) / 100 if text.endswith("%") else exact(raw)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueProblem(f"{info.name} is a ratio, not {_show(raw)}", "give a number such as 1.5 or 20%") from None
    _check_minimum(info, value, raw)
    return Measure(value=value, kind=info.kind, text=text)


def _read_quantity(info: FactInfo, raw: Any) -> Measure:
    kind = KINDS[info.kind]
    examples = " or ".join(f'"{n} {u}"' for n, u in zip(("6", "0.5"), kind.units[1:3] or kind.units))
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise ValueProblem(f"{info.name} is {describe_kind(info.kind)}: give it as text with a unit, such as {examples}")
    if isinstance(raw, (int, float, Decimal)):
        if info.unit is None:
            raise ValueProblem(f"{info.name} needs a unit: {_show(raw)} alone could be in any unit",
                               f"write it as text with a unit, such as {examples}")
        try:
            number, unit = exact(raw), info.unit
        except (ValueError, ZeroDivisionError):
            raise ValueProblem(f"{info.name} must be a finite number, not {_show(raw)}") from None
    else:
        match = _NUMBER.match(raw)
        if not match:
            raise ValueProblem(f"{info.name} must be a number with a unit, such as {examples}, not {_show(raw)}")
        number = exact(match.group(1))
        unit = match.group(2) or info.unit
        if not unit:
            raise ValueProblem(f"{info.name} needs a unit: {_show(raw)} alone could be in any unit",
                               f"write it with a unit, such as {examples}")
    try:
        unit_kind, factor = resolve_unit(unit)
    except UnitError as error:
        hint = f"did you mean {error.suggestion}?" if error.suggestion else f"use {', '.join(kind.units)}"
        raise ValueProblem(f"{info.name}: unknown unit `{error.unit}`", hint) from None
    if unit_kind != info.kind:
        raise ValueProblem(
            f"{info.name} is {describe_kind(info.kind)}, but {_show(raw)} is {KINDS[unit_kind].description}",
            f"give {info.name} in {', '.join(kind.units)}")
    if number < 0:
        raise ValueProblem(f"{info.name} cannot be negative: {_show(raw)}")
    value = number * factor
    _check_minimum(info, value, raw)
    text = raw.strip() if isinstance(raw, str) else f"{raw} {unit}"
    return Measure(value=value, kind=info.kind, text=text, unit=unit)


def _check_minimum(info: FactInfo, value: Fraction, raw: Any) -> None:
    if value < 0:
        raise ValueProblem(f"{info.name} cannot be negative: {_show(raw)}")
    if info.minimum is not None and value < info.minimum:
        raise ValueProblem(f"{info.name} must be at least {info.minimum}, not {_show(raw)}")


def _show(raw: Any) -> str:
    if isinstance(raw, str):
        return f'"{raw}"'
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return "null"
    return str(raw)


def _listing(values: tuple[str, ...]) -> str:
    return ", ".join(values)


# Kind -> reader: one table, no if-chain.
READERS = {
    BOOL: _read_bool, ENUM: _read_enum, SET: _read_set,
    "date": _read_date, "text": _read_text, "count": _read_count, "ratio": _read_ratio,
    **{name: _read_quantity for name, kind in KINDS.items() if kind.dimension},
}
