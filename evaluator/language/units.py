"""Kinds of quantity and their units, resolved once, exactly.

The kinds table says what each kind of fact is; the unit registry (pint,
built from units.txt alone, with exact fractions) converts a unit to the
kind's base unit. Units are resolved when criteria are checked and when an
incident is read: evaluation compares exact fractions and never calls pint.

>>> resolve_unit("mSv")
('effective dose', Fraction(1, 1000))
>>> resolve_unit("mCi")
('activity', Fraction(37000000, 1))
>>> resolve_unit("mGy")[0] == resolve_unit("mSv")[0]
False
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING

from rapidfuzz.distance import OSA

from ..resources import units_path

if TYPE_CHECKING:
    import pint


@dataclass(frozen=True)
class Kind:
    """A kind of fact value."""

    name: str
    description: str
    dimension: str | None = None  # pint dimension, for quantities
    base_unit: str | None = None  # the unit exact values are kept in
    display_unit: str | None = None  # the unit explanations use when none is given
    units: tuple[str, ...] = ()  # the spellings we document and suggest, main ones first
    spellings: tuple[str, ...] = ()  # every spelling accepted (units first); nothing else is
    numeric: bool = False
    integer: bool = False


# The kinds table: what a fact declared `fact x: <kind>` can be.
KINDS: dict[str, Kind] = {kind.name: kind for kind in [
    Kind("effective dose", "an effective dose", "[effective_dose]", "sievert", "mSv",
         ("Sv", "mSv", "uSv", "µSv"), ("μSv",), numeric=True),
    Kind("absorbed dose", "an absorbed dose", "[absorbed_dose]", "gray", "Gy",
         ("Gy", "cGy", "mGy", "uGy", "µGy"), ("μGy",), numeric=True),
    Kind("activity", "an activity", "[activity]", "becquerel", "MBq",
         ("Bq", "kBq", "MBq", "GBq", "Ci", "mCi", "uCi", "µCi"), ("μCi",), numeric=True),
    Kind("length", "a length", "[length]", "metre", "mm", ("mm", "cm", "m"), numeric=True),
    Kind("duration", "a duration", "[time]", "year", "years", ("days", "weeks", "years"),
         ("day", "week", "year"), numeric=True),
    Kind("ratio", "a ratio", numeric=True),
    Kind("count", "a count", numeric=True, integer=True),
    Kind("date", "a date (YYYY-MM-DD)"),
    Kind("text", "text"),
]}

# The kinds of facts that hold named values rather than numbers.
ENUM, SET, BOOL = "one of", "one or more of", "yes or no"
VALUE_KINDS = (ENUM, SET, BOOL)

# Kinds of dimensionless numbers: they compare with each other and with a bare number.
NUMBER = "number"
DIMENSIONLESS = frozenset({"ratio", "count", NUMBER})

# Kind -> (dimension -> kind): filled from KINDS, used to name a unit's kind.
_KIND_OF_DIMENSION = {kind.dimension: kind.name for kind in KINDS.values() if kind.dimension}

# Every unit spelling we accept -> its kind. Only these: pint would also read
# "MSv" as megasievert, a typo for mSv that must be refused, not obeyed.
ACCEPTED: dict[str, str] = {spelling: kind.name for kind in KINDS.values()
                            for spelling in kind.units + kind.spellings}


class UnitError(ValueError):
    """A unit we do not know, with a suggestion when one is close."""

    def __init__(self, unit: str, suggestion: str | None = None):
        self.unit = unit
        self.suggestion = suggestion
        message = f"unknown unit `{unit}`"
        if suggestion:
            message += f"; did you mean `{suggestion}`?"
        super().__init__(message)


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """Our pint registry, validated when built (pint is imported here, when a unit is first resolved)."""
    import pint
    ureg = pint.UnitRegistry(filename=None, non_int_type=Fraction, autoconvert_offset_to_baseunit=False)
    ureg.load_definitions(str(units_path()))
    _validate(ureg)
    return ureg


def _validate(ureg: pint.UnitRegistry) -> None:
    """The registry must keep each kind apart and know every unit the kinds table names."""
    dims = {}
    for kind in KINDS.values():
        if not kind.dimension:
            continue
        base = ureg.parse_units(kind.base_unit)
        if str(base.dimensionality) != kind.dimension:
            raise RuntimeError(f"units.txt: {kind.base_unit} is {base.dimensionality}, not {kind.dimension}")
        for spelling in kind.units + kind.spellings + (kind.display_unit,):
            if str(ureg.parse_units(spelling).dimensionality) != kind.dimension:
                raise RuntimeError(f"units.txt: {spelling} is not {kind.description}")
        dims[kind.dimension] = kind.name
    if len(dims) != len({k.dimension for k in KINDS.values() if k.dimension}):
        raise RuntimeError("units.txt: two kinds share a dimension")
    if ureg.parse_units("Sv").dimensionality == ureg.parse_units("Gy").dimensionality:
        raise RuntimeError("units.txt: sievert and gray must not be interchangeable")


def _normalise(unit: str) -> str:
    return unit.strip().replace("μ", "µ")


@lru_cache(maxsize=None)
def resolve_unit(unit: str) -> tuple[str, Fraction]:
    """The kind a unit measures, and the exact factor to the kind's base unit."""
    text = unit.strip()
    kind = ACCEPTED.get(text)
    if kind is None:
        raise UnitError(unit, suggest_unit(unit))
    return _factors()[text]


@lru_cache(maxsize=1)
def _factors() -> dict[str, tuple[str, Fraction]]:
    """Every accepted spelling's kind and exact factor, worked out by the registry once and kept in the
    cache (evaluator/cache.py), keyed by units.txt and the kinds table: a new process needs no pint."""
    from .. import cache
    inputs = [units_path().read_bytes(), repr(sorted(ACCEPTED.items())).encode(),
              repr([(k.name, k.base_unit) for k in KINDS.values()]).encode()]
    return cache.remember("units", inputs, _factors_from_registry)


def _factors_from_registry() -> dict[str, tuple[str, Fraction]]:
    ureg = registry()
    out = {}
    for spelling, kind in ACCEPTED.items():
        factor = ureg.Quantity(Fraction(1), ureg.parse_units(_normalise(spelling))).to(KINDS[kind].base_unit).magnitude
        out[spelling] = (kind, Fraction(factor))
    return out


def known_units() -> list[str]:
    return [u for kind in KINDS.values() for u in kind.units]


def suggest_unit(unit: str, kind: str | None = None) -> str | None:
    """The unit a mistyped one near certainly meant, or None: a hint must never change a value.

    A suggestion is the same value under another spelling: the same unit in
    other letters (`ｍSv` in full-width letters, `mSV`), or one slip of a key
    (`mSvv`, `Gyy`, `yaers`) that keeps the unit's prefix. A different prefix
    is a different value (`cSv`, `nSv` and `kSv` are not `Sv`; `MSv` is not
    `mSv`), and another kind is another quantity (`mrem` is not `mm`): no
    suggestion. With `kind`, only units of that kind are suggested. When two
    units are equally close, neither is.

    >>> suggest_unit("mSV"), suggest_unit("ｍSv"), suggest_unit("mSvv"), suggest_unit("yaers")
    ('mSv', 'mSv', 'mSv', 'years')
    >>> [suggest_unit(u) for u in ("cSv", "nSv", "kSv", "MSv", "mrem")]
    [None, None, None, None, None]
    """
    text = unicodedata.normalize("NFKC", unit.strip())
    accepted = {spelling: spelling_kind for spelling, spelling_kind in ACCEPTED.items()
                if kind is None or spelling_kind == kind}
    if text in accepted:
        return text
    # A unit in other capitals (`MSV`, `CM`) is that unit or nothing: another unit one key
    # away (`Ci` for `CM`) is not what was meant.
    same_letters = [c for c in accepted if c.casefold() == text.casefold()]
    if same_letters:
        candidates = [c for c in same_letters if _keeps_prefix(text, c)]
    else:
        candidates = [c for c in accepted
                      if _keeps_prefix(text, c) and OSA.distance(text.casefold(), c.casefold()) == 1]
    close = {_normalise(c).replace("µ", "u") for c in candidates}  # µSv and uSv are one unit
    return candidates[0] if len(close) == 1 else None


def _keeps_prefix(text: str, candidate: str) -> bool:
    """A typo keeps the unit's scale: the first letter of a prefixed unit must be written as it is.

    `mSV` keeps the prefix of `mSv`; `MSv` and `cSv` do not. A unit without a
    prefix (`Sv`, `Gy`, `days`) keeps its first letter in either case (`sv`).
    """
    if not text:
        return False
    if _has_prefix(candidate):
        return text[0] == candidate[0] or (candidate[0] == "µ" and text[0] in "uμ")
    return text[0].casefold() == candidate[0].casefold()


def _has_prefix(spelling: str) -> bool:
    """`mSv`, `kBq`, `cm`: a unit whose rest is itself a unit (`Sv`, `Bq`, `m`)."""
    return len(spelling) > 1 and spelling[1:] in ACCEPTED


def to_unit(value: Fraction, kind: str, unit: str) -> Fraction:
    """Convert an exact value in the kind's base unit to another unit of that kind."""
    unit_kind, factor = resolve_unit(unit)
    if unit_kind != kind:
        raise ValueError(f"{unit} is not {KINDS[kind].description}")
    return value / factor


def describe_kind(kind: str) -> str:
    """`effective dose` -> `an effective dose in Sv`; used in error messages."""
    if kind in KINDS:
        spec = KINDS[kind]
        return f"{spec.description} in {spec.units[0]}" if spec.units and spec.dimension != "[time]" else \
            spec.description
    if kind == NUMBER:
        return "a number"
    return kind
