"""Reading incidents onto the compiled engine's scales, at the speed of a dict lookup per field."""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction
from typing import Any, Callable, Mapping

from ...language.units import BOOL, ENUM, KINDS, SET
from ...language.values import _FALSE, _TRUE, FactInfo, Measure, _fold, id_text
from ..alternative import ALTERNATIVE
from ..kept import Kept
from .runtime import scaled


_QUANTITY = re.compile(r"([0-9]{1,15})(?:\.([0-9]{1,15}))? ?([A-Za-zµμ]{1,5})")
_UNIT = re.compile(r"[A-Za-zµμ]{1,5}")  # a unit as _QUANTITY reads it ("years" has five letters)
_POWERS = [10 ** k for k in range(16)]
_DATE = re.compile(r"(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}")


class Reader:
    """Reads incidents onto the engine's scales.

    The common forms (a named value, also in lower case or with spaces for its
    underscores, "england", "northern ireland"; a quantity written "22.5 mSv",
    "42.5 years", or as a bare number in the fact's unit; a whole number, also
    as text, "3"; a date written 2024-09-02; true/false and "yes"/"no") are read
    here directly, each to what the vocabulary's reader makes of it. Anything
    else, right or wrong, goes to the vocabulary's own reader
    (language/incident.py), which decides what is valid and says what is wrong,
    so both readers accept exactly the same incidents (tests/test_compiled.py).
    """

    def __init__(self, facts: Mapping[str, FactInfo], scales: Mapping[str, int],
                 units: Mapping[str, Mapping[str, Fraction]]):
        self.facts = facts
        self.scales = scales
        self.units = units  # kind -> spelling -> factor to the kind's base unit (from the unit registry)
        self.readers: dict[str, Callable[[Any], Any]] = {}
        for name, info in facts.items():
            reader = self._reader(info)
            if reader is not None:
                self.readers[name] = reader
        # Judgement defaults (`absent assumes`) are left out: the engine fills them in itself (engine.py).
        self.defaults = {name: self.convert(info, info.default) for name, info in facts.items()
                         if info.has_default and not getattr(info, "assumed", False)}

    def _reader(self, info: FactInfo) -> Callable[[Any], Any] | None:
        kind = info.kind
        if kind == ENUM:
            named = _spellings(info.values)
            return lambda raw: named.get(raw, _SLOW) if type(raw) is str else _SLOW
        if kind == SET:
            named = _spellings(info.values)
            single = {spelling: frozenset({value}) for spelling, value in named.items()}

            def read_set(raw: Any) -> Any:
                if type(raw) is str:
                    return single.get(raw, _SLOW)
                if type(raw) is list and raw and all(type(x) is str and x in named for x in raw):
                    return frozenset(named[x] for x in raw)
                return _SLOW
            return read_set
        if kind == BOOL:
            return lambda raw: raw if raw is True or raw is False else _WORDS.get(raw, _SLOW) if type(raw) is str \
                else _SLOW
        if kind == "count":
            low = int(info.minimum or 0)

            def read_count(raw: Any) -> Any:
                if type(raw) is int:
                    return raw if low <= raw < 10**9 else _SLOW
                # "12" as a CSV or a form gives it: digits alone, no sign, space or leading zero
                if type(raw) is str and 0 < len(raw) <= 9 and raw.isdigit() and raw.isascii() and \
                        (raw[0] != "0" or raw == "0"):
                    value = int(raw)
                    return value if value >= low else _SLOW
                return _SLOW
            return read_count
        if kind == "date":
            def read_date(raw: str) -> Any:
                if len(raw) == 10 and _DATE.fullmatch(raw):
                    try:
                        return dt.date.fromisoformat(raw)
                    except ValueError:
                        return _SLOW
                return _SLOW
            return _kept(read_date)
        if kind == "text":
            return lambda raw: raw if type(raw) is str else _SLOW
        if kind in KINDS and KINDS[kind].dimension:
            return self._quantity_reader(info)
        return None  # ratios and anything new: the vocabulary's reader

    def _quantity_reader(self, info: FactInfo) -> Callable[[Any], Any]:

        scale = self.scales[info.kind]
        factors = {spelling: factor * scale for spelling, factor in self.units[info.kind].items()}
        factors = {u: (f.numerator if f.denominator == 1 else f) for u, f in factors.items()}
        bare = factors.get(info.unit) if info.unit else None
        floor = scaled(info.minimum, scale) if info.minimum is not None else 0
        match = _QUANTITY.fullmatch
        # "22.5 mSv", the form nearly every incident uses, is taken apart with str methods (a third of the
        # regular expression's time), and scaled by one multiplication where the unit's factor is a whole
        # multiple of the decimals' power of ten (by unit: the multiplier for 0 to 15 decimals, or None);
        # anything else goes to the expression, which says what is read.
        exact = {unit: [factor // 10 ** n if type(factor) is int and factor % 10 ** n == 0 else None
                        for n in range(16)]
                 for unit, factor in factors.items() if _UNIT.fullmatch(unit)}

        # A bare number ("41.5") is in the fact's own unit, where it has one.
        if bare is not None:
            exact[""] = [bare // 10 ** n if type(bare) is int and bare % 10 ** n == 0 else None for n in range(16)]

        def read_number(raw: Any) -> Any:
            if type(raw) is int and bare is not None and 0 <= raw < 10**9:
                value = raw * bare
                return value if value >= floor else _SLOW
            return _SLOW

        def read_text(raw: str) -> Any:
            number, _, unit = raw.partition(" ")
            multipliers = exact.get(unit) if unit or " " not in raw else None
            if multipliers is not None:
                whole, dot, decimals = number.partition(".")
                if whole.isdigit() and whole.isascii() and len(whole) <= 15:
                    places = len(decimals)
                    if not dot:
                        multiplier = multipliers[0]
                        if multiplier is not None:
                            value = int(whole) * multiplier
                            return value if value >= floor else _SLOW
                    elif places <= 15 and decimals.isdigit() and decimals.isascii():
                        multiplier = multipliers[places]
                        if multiplier is not None:
                            value = int(whole + decimals) * multiplier
                            return value if value >= floor else _SLOW
            found = match(raw)
            if found is None:
                return _SLOW
            whole, decimals, unit = found.groups()
            factor = factors.get(unit)
            if factor is None:
                return _SLOW
            if decimals:
                value = int(whole + decimals) * factor
                divisor = _POWERS[len(decimals)]
                value = value // divisor if value % divisor == 0 else Fraction(value, divisor)
            else:
                value = int(whole) * factor
            return value if value >= floor else _SLOW
        return _kept(read_text, read_number)

    def read(self, data: Any) -> tuple[dict[str, Any], Any, list[str]]:
        """(values, id, notes) of an incident; raises IncidentError as the vocabulary's reader does."""
        values: dict[str, Any] = self.defaults.copy()  # what the incident gives replaces them
        readers = self.readers
        if type(data) is dict:
            for key, raw in data.items():
                if raw is None:
                    continue
                reader = readers.get(key)
                if reader is None:
                    if (key == "id" and (type(raw) is str or (type(raw) is int and -10**18 < raw < 10**18))) or \
                            (key == "description" and type(raw) is str):
                        continue
                    return self.slow(data)
                value = reader(raw)
                if value is _SLOW:
                    return self.slow(data)
                values[key] = value
            ident = data.get("id")
            return values, (None if ident is None else id_text(ident)), []
        return self.slow(data)

    def slow(self, data: Any) -> tuple[dict[str, Any], Any, list[str]]:
        from ...language.incident import read_incident  # the vocabulary's reader: only when needed
        incident = read_incident(data, self.facts)
        values = {name: self.convert(self.facts[name], value) for name, value in incident.values.items()
                  if name not in self.facts or name in incident.given or not getattr(self.facts[name], "assumed", False)}
        if incident.alternative:  # doses in an alternative quantity: the engine decides from their ratio
            values[ALTERNATIVE] = incident.alternative
        return values, incident.id, list(incident.notes)

    def convert(self, info: FactInfo, value: Any) -> Any:
        """A value as the vocabulary's reader gives it -> the engine's representation."""
        if isinstance(value, Measure):
            return scaled(value.value, self.scales.get(info.kind, 1))
        return value


_SLOW = object()  # a reader's answer for "not a common form: ask the vocabulary's reader"


def _kept(read: Callable[[str], Any], other: Callable[[Any], Any] | None = None) -> Callable[[Any], Any]:
    """A reader: `read` for text, keeping what it made of each text (the same doses and dates come back over
    and over, "2 mSv", the day's date, and each is read once; bounded: when full, it starts again), and
    `other` for anything else (none: the vocabulary's reader).

    >>> read = _kept(lambda raw: int(raw) * 2)
    >>> read("21"), read("21"), read(21) is _SLOW
    (42, 42, True)
    """
    known = Kept()
    get = known.get

    def read_kept(raw: Any) -> Any:
        if type(raw) is str:
            found = get(raw)
            if found is None:
                found = read(raw)
                if len(raw) <= 64:  # a dose, a date: not a page of text
                    known.put(raw, found)
            return found
        return _SLOW if other is None else other(raw)
    return read_kept


_WORDS = {**{word: True for word in _TRUE}, **{word: False for word in _FALSE}}  # as written: "yes", "no"


def _spellings(values: tuple[str, ...]) -> dict[str, str]:
    """Spellings of named values read here -> the value the vocabulary's reader makes of each: the value, in
    lower case, with spaces for its underscores or underscores for its spaces (the first value a spelling folds
    to, as the reader takes it).

    >>> _spellings(("England", "Northern Ireland"))["northern ireland"]
    'Northern Ireland'
    """
    first: dict[str, str] = {}
    for value in values:
        first.setdefault(_fold(value), value)
    out: dict[str, str] = {}
    for value in values:
        lower = value.lower()
        for spelling in (value, lower, lower.replace("_", " "), lower.replace(" ", "_")):
            out.setdefault(spelling, first[_fold(spelling)])
    return out
