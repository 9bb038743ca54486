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

import calendar
import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .limits import EARLIEST_DATE, LATEST_DATE, LIMITS, MAX_DIGITS, MAX_EXPONENT, MAX_NUMBER_LENGTH, Limit
from .altunits import PAIR, accepted_forms, alternative_unit
from .units import BOOL, ENUM, KINDS, SET, UnitError, describe_kind, resolve_unit, suggest_unit


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
class Alternative:
    """A dose given in a recognised alternative quantity (language/altunits.py): exact, in the quantity's
    base unit. It is not a value of its fact: the incident reader keeps it apart (IncidentFacts.alternative)."""

    value: Fraction
    quantity: str  # "dose-area product", ...
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
    assumed: bool = False  # `absent assumes`: the default is a judgement (engines/assumed.py)
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


# A number in an incident: ASCII digits only (Python's \d and int() take any script's digits).
_NUMBER = re.compile(r"^\s*([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*(.*?)\s*$")
_DECIMAL = re.compile(r"(?P<sign>[-+]?)(?P<whole>[0-9]*)(?:\.(?P<part>[0-9]*))?(?:[eE](?P<exp>[-+]?[0-9]+))?")
_TRUE = {"yes", "true", "y"}
_FALSE = {"no", "false", "n"}
# Integers at or beyond this are refused before they are turned into text (str() of a
# 5,000-digit int raises, and one of a million digits takes seconds).
_INT_BOUND = 10 ** (MAX_EXPONENT + 1)


class NumberProblem(ValueError):
    """A number that is not read, with a message fit for a person (it names no field)."""


class NumberLimitError(NumberProblem):
    """A number beyond a bound of :mod:`evaluator.language.limits`; the message names the bound."""

    def __init__(self, message: str, limit: Limit):
        self.limit = limit
        super().__init__(f"{message}: {limit}")


def exact(number: Any) -> Fraction:
    """An exact fraction from an int, a decimal string, a Decimal or a JSON float as written.

    Every number that comes in from outside goes through here (or :func:`parse_decimal`):
    its size is checked against the bounds in :mod:`evaluator.language.limits` before
    any Fraction is built, so "1e99999999" is refused at once instead of being expanded.

    >>> exact("0.3"), exact(0.3), exact(17)
    (Fraction(3, 10), Fraction(3, 10), Fraction(17, 1))
    >>> exact("1e99999999")
    Traceback (most recent call last):
    ...
    evaluator.language.values.NumberLimitError: 1e99999999 is too large: a number lies between 1e-30 and 1e30 in size (its exponent within ±30)
    """
    if isinstance(number, bool):
        raise TypeError("a yes/no value is not a number")
    if isinstance(number, int):
        if abs(number) >= _INT_BOUND:
            raise NumberLimitError(f"a whole number of {_int_digits(number)} digits is too large", LIMITS["exponent"])
        number = str(number)
    elif isinstance(number, float):
        # repr gives the shortest decimal that reads back as the same float:
        # 0.3 -> "0.3" -> 3/10, not the binary 0.299999...
        number = repr(number)
    elif isinstance(number, Decimal):
        if not number.is_finite():
            raise ValueError("not a finite number")
        number = str(number)
    if not isinstance(number, str):
        raise TypeError(f"not a number: {type(number).__name__}")
    return parse_decimal(number)


def parse_decimal(text: str) -> Fraction:
    """Read a decimal written with the digits 0-9 (sign, point and exponent optional), exactly and bounded.

    Raises :class:`NumberLimitError` for a number beyond the bounds (too many significant
    digits, too large, too small, too long), :class:`NumberProblem` for digits of another
    script, and ValueError for anything else that is not a decimal. Cheap for any input:
    the exponent is compared, never expanded.

    >>> parse_decimal("1.5e-3"), parse_decimal(" 0.000 ")
    (Fraction(3, 2000), Fraction(0, 1))
    >>> parse_decimal("1" * 31)
    Traceback (most recent call last):
    ...
    evaluator.language.values.NumberLimitError: 1111111111111111111111111111111 has 31 significant digits: a number has at most 30 significant digits
    """
    text = text.strip()
    match = _DECIMAL.fullmatch(text)
    if match is None or not (match["whole"] or match["part"]):
        foreign = [c for c in text if c.isdigit() and not c.isascii()]
        if foreign:
            raise NumberProblem(f"{show_text(text)} has a digit of another script ({foreign[0]}): "
                                "numbers are written with the digits 0 to 9")
        raise ValueError(f"not a number: {show_text(text)}")
    whole, part = match["whole"], match["part"] or ""
    digits = (whole + part).lstrip("0")
    if not digits:
        return Fraction(0)  # zero is zero, whatever its exponent
    significant = digits.rstrip("0")
    if len(significant) > MAX_DIGITS:
        raise NumberLimitError(f"{show_text(text)} has {len(significant):,} significant digits", LIMITS["digits"])
    written = (match["exp"] or "0").lstrip("+-").lstrip("0") or "0"
    negative_exponent = (match["exp"] or "").startswith("-")
    if len(written) > 6:  # beyond any bound, and never worth turning into an int
        raise NumberLimitError(f"{show_text(text)} is too {'small' if negative_exponent else 'large'}",
                               LIMITS["exponent"])
    exponent = -int(written) if negative_exponent else int(written)
    # value = significant * 10**scale; its size is the exponent of its first digit.
    scale = exponent - len(part) + (len(digits) - len(significant))
    size = scale + len(significant) - 1
    if not -MAX_EXPONENT <= size <= MAX_EXPONENT:
        raise NumberLimitError(f"{show_text(text)} is too {'small' if size < 0 else 'large'}", LIMITS["exponent"])
    if len(text) > MAX_NUMBER_LENGTH:
        raise NumberLimitError(f"{show_text(text)} is {len(text)} characters long", LIMITS["number length"])
    value = Fraction(int(significant) * 10 ** scale) if scale >= 0 else Fraction(int(significant), 10 ** -scale)
    return -value if match["sign"] == "-" else value


def _int_digits(number: int) -> str:
    """The number of decimal digits of a large int, without writing it out."""
    digits = int(abs(number).bit_length() * 0.30102999566398)  # log10(2): exact to within one digit
    return f"{digits + 1:,}" if abs(number) >= 10 ** digits else f"{digits:,}"


def show_text(text: str, width: int = 40) -> str:
    """A value as it is quoted in a message: cut short when it is long, and printable.

    A control character or a lone surrogate is written as its escape, so that a
    message can always be printed and written as UTF-8 JSON.

    >>> show_text("3 mSv\\ud800\\x00")
    '3 mSv\\\\ud800\\\\x00'
    """
    if len(text) > width:
        text = f"{text[:width // 2]}…{text[-8:]} ({len(text):,} characters)"
    return _UNPRINTABLE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def id_text(ident: str | int) -> str:
    """An incident's id as its result carries it: as text, unchanged, but for a lone surrogate (not a
    character, and not writable as UTF-8), which is written as its escape.

    >>> id_text(42), id_text("INC-7"), id_text("A\\ud800")
    ('42', 'INC-7', 'A\\\\ud800')
    """
    text = ident if isinstance(ident, str) else str(ident)
    if text.isascii():  # the common case, and no surrogate can be in it
        return text
    return _SURROGATE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")


def read_value(info: FactInfo, raw: Any) -> Any:
    """Read a raw JSON value as a value of the fact's kind.

    What a reading gives depends only on the raw value and on the fact's name,
    kind, values, unit and minimum, so those are the key, and the answer is
    immutable: a short text or a whole number is read once and kept (a log
    repeats its values: "England", "3 mSv", the day's date, an age). A value
    that is refused is read again each time (its message is worked out then).

    >>> info = FactInfo(name="total_dose", kind="effective dose")
    >>> read_value(info, "3000 uSv") is read_value(info, "3000 uSv")
    True
    """
    kind = type(raw)
    # Not a bool (True == 1 would find the reading of 1), nor a float (3.0 == 3), nor a page of text.
    if kind is int or kind is str and len(raw) <= 64:
        key = (info.name, info.kind, info.values, info.unit, info.minimum, raw)
        found = _KEPT.get(key)
        if found is None:
            found = _read_now(info, raw)
            if len(_KEPT) >= _KEPT_MOST:  # bounded: a log of distinct values starts again
                _KEPT.clear()
            _KEPT[key] = found
        return found
    return _read_now(info, raw)


def _read_now(info: FactInfo, raw: Any) -> Any:
    reader = READERS.get(info.kind)
    if reader is None:
        raise ValueProblem(f"{info.name} has a kind we cannot read: {info.kind}")
    return reader(info, raw)


_KEPT: dict[tuple[Any, ...], Any] = {}
_KEPT_MOST = 4096


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
    return _SEPARATORS.sub("_", text.strip().lower())


_SEPARATORS = re.compile(r"[\s_-]+")  # compiled once: _fold runs for every value of an enum, every read


def _read_enum(info: FactInfo, raw: Any) -> str:
    return _canonical(info, raw)


def _read_set(info: FactInfo, raw: Any) -> frozenset[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ValueProblem(f"{info.name} needs at least one value", f"one of {_listing(info.values)}")
    return frozenset(_canonical(info, item) for item in items)


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def read_date(name: str, raw: Any) -> dt.date:
    """Read a date: a string written YYYY-MM-DD, a ``datetime.date``, or a ``datetime`` (its date).

    Only that form is read (``fromisoformat`` would also take "20241007" and
    "2024-W41-1"), and only dates within the bounds of
    :mod:`evaluator.language.limits`, so that every deadline counted from one is a date.

    >>> read_date("discovered_on", "2024-10-07")
    datetime.date(2024, 10, 7)
    >>> read_date("discovered_on", "2024-02-30")
    Traceback (most recent call last):
    ...
    evaluator.language.values.ValueProblem: discovered_on: 2024-02-30 does not exist: February 2024 has 29 days
    """
    if isinstance(raw, dt.datetime):  # a database row gives a datetime: the day is what counts
        day = raw.date()
    elif isinstance(raw, dt.date):
        day = raw
    elif isinstance(raw, str) and _DATE.fullmatch(raw.strip()):
        text = raw.strip()
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueProblem(f"{name}: {text} does not exist: {_why_no_date(text)}") from None
    else:
        hint = "write it as text, such as \"2024-10-07\"" if not isinstance(raw, str) else "such as 2024-10-07"
        raise ValueProblem(f"{name} must be a date written YYYY-MM-DD, not {_show(raw)}", hint)
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        limit = LIMITS["earliest date" if day < EARLIEST_DATE else "latest date"]
        raise ValueProblem(f"{name}: {day.isoformat()} is out of range: {limit}")
    return day


def _why_no_date(text: str) -> str:
    year, month, day = (int(part) for part in text.split("-"))
    if not 1 <= month <= 12:
        return f"there is no month {month:02d}"
    if year < 1:
        return "there is no year 0"
    days = calendar.monthrange(year, month)[1]
    return f"{calendar.month_name[month]} {year} has {days} days" if day else "there is no day 00"


def _read_date(info: FactInfo, raw: Any) -> dt.date:
    return read_date(info.name, raw)


def _read_text(info: FactInfo, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueProblem(f"{info.name} must be text, not {_show(raw)}")
    return raw


def _read_count(info: FactInfo, raw: Any) -> Measure:
    try:
        value = exact(raw)
    except NumberProblem as problem:
        raise ValueProblem(f"{info.name}: {problem}") from None
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueProblem(f"{info.name} is a count, not {_show(raw)}", "give a whole number, such as 3") from None
    if value.denominator != 1:
        raise ValueProblem(f"{info.name} is a count, so it must be a whole number, not {_show(raw)}")
    _check_minimum(info, value, raw)
    return Measure(value=value, kind=info.kind, text=str(value.numerator))


def _read_ratio(info: FactInfo, raw: Any) -> Measure:
    text = raw.strip() if isinstance(raw, str) else ""
    try:
        value = exact(text[:-1]) / 100 if text.endswith("%") else exact(raw)
    except NumberProblem as problem:
        raise ValueProblem(f"{info.name}: {problem}") from None
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueProblem(f"{info.name} is a ratio, not {_show(raw)}", "give a number such as 1.5 or 20%") from None
    _check_minimum(info, value, raw)
    return Measure(value=value, kind=info.kind, text=text or _show(raw))


def _examples(kind: str) -> str:
    units = KINDS[kind].units
    return " or ".join(f'"{n} {u}"' for n, u in zip(("6", "0.5"), units[1:3] or units))


def _read_quantity(info: FactInfo, raw: Any) -> Measure | Alternative:
    kind = KINDS[info.kind]
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise ValueProblem(f"{info.name} is {describe_kind(info.kind)}: give it as text with a unit, such as "
                           f"{_examples(info.kind)}")
    try:
        if isinstance(raw, (int, float, Decimal)):
            if info.unit is None:
                raise ValueProblem(f"{info.name} needs a unit: {_show(raw)} alone could be in any unit",
                                   f"write it as text with a unit, such as {_examples(info.kind)}")
            try:
                number, unit = exact(raw), info.unit
            except (ValueError, ZeroDivisionError) as error:
                if isinstance(error, NumberProblem):
                    raise
                raise ValueProblem(f"{info.name} must be a finite number, not {_show(raw)}") from None
        else:
            match = _NUMBER.match(raw)
            if not match:
                exact(raw)  # says why, when it is a digit of another script
                raise ValueProblem(f"{info.name} must be a number with a unit, such as {_examples(info.kind)}, "
                                   f"not {_show(raw)}")
            number = exact(match.group(1))
            unit = match.group(2) or info.unit
            if not unit:
                raise ValueProblem(f"{info.name} needs a unit: {_show(raw)} alone could be in any unit",
                                   f"write it with a unit, such as {_examples(info.kind)}")
    except NumberProblem as problem:
        raise ValueProblem(f"{info.name}: {problem}") from None
    except ValueError as error:
        if isinstance(error, ValueProblem):
            raise
        raise ValueProblem(f"{info.name} must be a number with a unit, such as {_examples(info.kind)}, "
                           f"not {_show(raw)}") from None
    comma = _DECIMAL_COMMA.match(unit)
    if comma and isinstance(raw, str):
        whole = match.group(1) if match else ""
        decimal = f"{whole}.{comma['digits']}{comma['rest']}"
        if len(comma["digits"]) == 3:  # 3,500: a decimal comma, or a thousands separator?
            raise ValueProblem(f"{info.name}: {_show(raw)} has a comma in its number; numbers take a decimal "
                               "point and no thousands separator",
                               f'write "{decimal}" if the comma is a decimal comma, or '
                               f'"{whole}{comma["digits"]}{comma["rest"]}" if it separates thousands')
        raise ValueProblem(f"{info.name}: {_show(raw)} has a decimal comma; numbers take a decimal point",
                           f'write "{decimal}"')
    try:
        unit_kind, factor = resolve_unit(unit)
    except UnitError as error:
        alternative = _alternative(info, raw, number, unit)
        if alternative is not None:
            return alternative
        suggestion = suggest_unit(error.unit, info.kind)
        hint = f"did you mean {suggestion}?" if suggestion else f"use {', '.join(kind.units)}"
        raise ValueProblem(f"{info.name}: unknown unit `{show_text(error.unit)}`", hint) from None
    if unit_kind != info.kind:
        hint = f"give {info.name} in {', '.join(kind.units)}"
        if info.name in PAIR and unit_kind == "absorbed dose":
            # "12 mGy" for an effective dose: an absorbed dose, a CTDIvol or an air kerma? Written with its
            # quantity, it is one of the recognised alternatives.
            hint += f"; a dose in gray that is not an absorbed dose is written with its quantity: " \
                    f"{accepted_forms(qualified=True)}"
        raise ValueProblem(
            f"{info.name} is {describe_kind(info.kind)}, but {_show(raw)} is {KINDS[unit_kind].description}", hint)
    if number < 0:
        raise ValueProblem(f"{info.name} cannot be negative: {_show(raw)}")
    value = number * factor
    _check_minimum(info, value, raw)
    text = raw.strip() if isinstance(raw, str) else f"{_show(raw)} {unit}"
    return Measure(value=value, kind=info.kind, text=text, unit=unit)


def _alternative(info: FactInfo, raw: Any, number: Fraction, unit: str) -> Alternative | None:
    """A dose in a recognised alternative quantity, for the two facts that take one; None for a unit that is
    none of them; refused, naming the quantity, for any other fact."""
    found = alternative_unit(unit)
    if found is None:
        return None
    quantity, factor = found
    if info.name not in PAIR:
        raise ValueProblem(f"{info.name} is {describe_kind(info.kind)}, but {_show(raw)} is a {quantity}",
                           f"only {' and '.join(PAIR)} take an alternative quantity; give {info.name} in "
                           f"{', '.join(KINDS[info.kind].units)}")
    if number < 0:
        raise ValueProblem(f"{info.name} cannot be negative: {_show(raw)}")
    return Alternative(value=number * factor, quantity=quantity, text=raw.strip(), unit=unit)


# "3,5 mSv": the number reads as 3 and the unit as ",5 mSv" unless the comma is named.
_DECIMAL_COMMA = re.compile(r",(?P<digits>[0-9]+)(?P<rest>.*)", re.DOTALL)


def _check_minimum(info: FactInfo, value: Fraction, raw: Any) -> None:
    if value < 0:
        raise ValueProblem(f"{info.name} cannot be negative: {_show(raw)}")
    if info.minimum is not None and value < info.minimum:
        raise ValueProblem(f"{info.name} must be at least {info.minimum}, not {_show(raw)}")


def _show(raw: Any) -> str:
    """A raw value as a message quotes it: never long, and never a failing str() of a huge int."""
    if isinstance(raw, str):
        return f'"{show_text(raw)}"'
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return "null"
    if isinstance(raw, int) and abs(raw) >= _INT_BOUND:
        return f"a whole number of {_int_digits(raw)} digits"
    if isinstance(raw, (int, float, Decimal)):
        return show_text(str(raw))
    return type(raw).__name__ if isinstance(raw, (dict, list, tuple, set)) else show_text(repr(raw))


def _listing(values: tuple[str, ...]) -> str:
    return ", ".join(values)


# Kind -> reader: one table, no if-chain.
READERS = {
    BOOL: _read_bool, ENUM: _read_enum, SET: _read_set,
    "date": _read_date, "text": _read_text, "count": _read_count, "ratio": _read_ratio,
    **{name: _read_quantity for name, kind in KINDS.items() if kind.dimension},
}
