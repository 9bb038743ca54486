"""Alternative dose quantities: the recognised units a dose may be given in when it is not an effective dose.

The guidance: "Where the exposure is not easily estimated in mSv or the dose
unit is not specified, you may apply an alternative recognised unit and
specify this in the notification." Only the two doses a multiplication factor
divides, `intended_dose` and `total_dose` (``PAIR``), take one: their ratio
needs no conversion to an effective dose, and engines/alternative.py decides
an incident from it. Every other dose keeps its kind (a foetal dose is an
absorbed dose, in Gy; a breast-fed infant's dose an effective dose, in Sv).

The quantities and their spellings are data (``QUANTITIES``), each spelling
with its exact factor to the quantity's base unit:

- a dose-area product (DAP), "Gy cm2", "mGy·cm²", "mGy.cm2", "µGy m2", ...;
- a dose-length product (DLP), "mGy cm", "mGy·cm", ...;
- an air kerma and a CTDIvol, both in gray, so written with the quantity's
  name after the unit ("3 mGy air kerma", "12 mGy CTDIvol"): a bare "12 mGy"
  could as well be an absorbed dose, and is refused.

>>> alternative_unit("mGy·cm²")
('dose-area product', Fraction(1, 1000))
>>> alternative_unit("uGy m2"), alternative_unit("12 mGy") is None
(('dose-area product', Fraction(1, 100)), True)
>>> alternative_unit("mGy CTDIvol"), alternative_unit("mGy  Air Kerma")
(('CTDIvol', Fraction(1, 1)), ('air kerma', Fraction(1, 1)))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

# The facts that take an alternative quantity: the pair a multiplication factor divides.
PAIR = ("intended_dose", "total_dose")


@dataclass(frozen=True)
class Quantity:
    """A recognised alternative dose quantity: its name, short name, base unit and every spelling's factor."""

    name: str
    short: str
    base: str  # the unit values are kept and shown in
    units: tuple[tuple[str, Fraction], ...]  # (unit, factor to base), as documented, main ones first
    qualifier: str | None = None  # a word written after the unit ("CTDIvol"), for quantities in plain gray
    example: str = ""


# Gray and its prefixes, as factors to the milligray.
_GRAY = (("Gy", Fraction(1000)), ("dGy", Fraction(100)), ("cGy", Fraction(10)), ("mGy", Fraction(1)),
         ("µGy", Fraction(1, 1000)), ("uGy", Fraction(1, 1000)))
_AREA = (("cm2", Fraction(1)), ("m2", Fraction(10000)))  # factors to the square centimetre
_LENGTH = (("cm", Fraction(1)), ("mm", Fraction(1, 10)), ("m", Fraction(100)))  # factors to the centimetre

QUANTITIES: dict[str, Quantity] = {q.name: q for q in [
    Quantity("dose-area product", "DAP", "Gy cm2",
             tuple((f"{g} {a}", gf * af / 1000) for g, gf in _GRAY for a, af in _AREA), example="50 Gy cm2"),
    Quantity("dose-length product", "DLP", "mGy cm",
             tuple((f"{g} {length}", gf * lf) for g, gf in _GRAY for length, lf in _LENGTH), example="800 mGy cm"),
    Quantity("CTDIvol", "CTDIvol", "mGy", tuple((f"{g} CTDIvol", gf) for g, gf in _GRAY), qualifier="CTDIvol",
             example="12 mGy CTDIvol"),
    Quantity("air kerma", "air kerma", "mGy", tuple((f"{g} air kerma", gf) for g, gf in _GRAY),
             qualifier="air kerma", example="300 mGy air kerma"),
]}

# What may join a unit's parts ("Gy cm2", "Gy·cm2", "Gy.cm2", "Gy*cm2"), and how a square is written.
_JOINS = re.compile(r"\s*[·⋅.*]\s*|\s+")
_SQUARE = re.compile(r"(?<=m)(?:²|\^2)$")


def _key(unit: str) -> str:
    """A spelling's key: parts joined by one space, the square written 2, the micro sign µ, a qualifier
    in lower case (`CTDIvol`, `ctdi vol`)."""
    text = unit.strip().replace("μ", "µ")
    text = _SQUARE.sub("2", text)
    parts = [p for p in _JOINS.split(text) if p]
    if len(parts) >= 2 and parts[1][:1].isalpha() and parts[1].casefold() not in ("cm2", "m2", "cm", "mm", "m"):
        # A qualifier after a unit of gray: its words in any case, with or without a space ("CTDI vol").
        return f"{parts[0]} {''.join(parts[1:]).casefold()}"
    return " ".join(parts)


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, Fraction]]:
    return {_key(unit): (q.name, factor) for q in QUANTITIES.values() for unit, factor in q.units}


def alternative_unit(unit: str) -> tuple[str, Fraction] | None:
    """The alternative quantity a unit measures and its exact factor to the quantity's base unit, or None."""
    if len(unit) > 40:  # no spelling is near as long: not worth normalising
        return None
    return _table().get(_key(unit))


def accepted_forms(qualified: bool = False) -> str:
    """The forms a message names: `a dose-area product ("50 Gy cm2"), ...`; with `qualified`, only the
    quantities in plain gray, which are written with their name.

    >>> accepted_forms(qualified=True)
    'a CTDIvol ("12 mGy CTDIvol"), an air kerma ("300 mGy air kerma")'
    """
    return ", ".join(f'{"an" if q.name[0] in "aeiou" else "a"} {q.name} ("{q.example}")'
                     for q in QUANTITIES.values() if q.qualifier or not qualified)


def schema_pattern() -> str:
    """The JSON Schema pattern of a dose in an alternative quantity (the reader is the authority: it also
    takes a qualifier in any case, which this pattern spells out only for its first letters).

    >>> import re
    >>> [bool(re.match(schema_pattern(), t)) for t in ("50 Gy cm2", "5 mGy·cm²", "12 mGy CTDIvol", "12 mGy", "5 Gycm2")]
    [True, True, True, False, False]
    """
    gray = "(Gy|dGy|cGy|mGy|µGy|μGy|uGy)"
    join = r"(\s+|\s*[·⋅.*]\s*)"
    quantities = [f"{gray}{join}(cm|m)(2|²|\\^2)", f"{gray}{join}(cm|mm|m)",
                  f"{gray}\\s+([Cc][Tt][Dd][Ii]\\s?[Vv][Oo][Ll]|[Aa]ir\\s?[Kk]erma)"]
    return r"^\s*(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*(" + "|".join(f"({q})" for q in quantities) + r")\s*$"

