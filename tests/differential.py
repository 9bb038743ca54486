"""Incidents for the differential tests of the Python engines (tests/test_compiled.py, bench/bench_engine.py).

Built on the boundary-biased generator of the columnar tests (tests/columnar_data.py:
every threshold of both versions and just either side of it, mixed units, any
fact missing, odd spellings), with the relative thresholds added: a total dose
of exactly 10 (or 2.5) times the intended dose and just either side, a
delivered dose of exactly 1.1, 1.2 or 0.9 times the intended, an activity
exactly on ±10% and ±20% of the prescribed, a miss of exactly 2.5 margins, and
additional images of exactly half the intended ones.
"""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from typing import Any, Iterator

from columnar_data import Incidents, python_incident

# (fact, the fact it is a multiple of, the multiples the criteria compare with), in base units.
RELATIVE = [
    ("total_dose", "intended_dose", [Fraction(10), Fraction(5, 2)], ("mSv", "uSv", "Sv")),
    ("ptv_delivered_dose", "ptv_intended_dose", [Fraction(11, 10), Fraction(9, 10)], ("Gy", "cGy", "mGy")),
    ("oar_delivered_dose", "oar_intended_dose", [Fraction(11, 10)], ("Gy", "cGy", "mGy")),
    ("fraction_delivered_dose", "fraction_intended_dose", [Fraction(6, 5)], ("Gy", "cGy", "mGy")),
    ("delivered_activity", "prescribed_activity", [Fraction(4, 5), Fraction(6, 5), Fraction(9, 10), Fraction(11, 10)],
     ("MBq", "GBq", "kBq")),
    ("miss_displacement", "error_margin", [Fraction(5, 2)], ("mm", "cm")),
]
FACTORS = {"Sv": Fraction(1), "mSv": Fraction(1, 1000), "uSv": Fraction(1, 10**6), "Gy": Fraction(1),
           "cGy": Fraction(1, 100), "mGy": Fraction(1, 1000), "MBq": Fraction(10**6), "GBq": Fraction(10**9),
           "kBq": Fraction(1000), "mm": Fraction(1, 1000), "cm": Fraction(1, 100)}
BASES = {"mSv": [Fraction(3, 10**4), Fraction(1, 1000), Fraction(1, 400), Fraction(1, 100), Fraction(3, 250)],
         "Gy": [Fraction(2), Fraction(60), Fraction(54), Fraction(20)],
         "MBq": [Fraction(15 * 10**8), Fraction(55 * 10**5), Fraction(555 * 10**7)],
         "mm": [Fraction(4, 1000), Fraction(3, 1000)]}


def _written(value: Fraction, unit: str) -> str:
    number = value / FACTORS[unit]
    text = f"{Decimal(number.numerator) / Decimal(number.denominator):.12f}".rstrip("0").rstrip(".")
    return f"{text or '0'} {unit}"


def _exact(value: Fraction, unit: str) -> bool:
    number = value / FACTORS[unit]
    denominator = number.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1 and (number * 10**12).denominator == 1


def relative(rng: random.Random, incident: dict[str, Any]) -> None:
    """Put one pair of facts on (or just beside) a relative threshold."""
    fact, reference, multiples, units = rng.choice(RELATIVE)
    base_unit = units[0] if units[0] in BASES else {"Sv": "mSv", "Gy": "Gy"}.get(units[0], units[0])
    base = rng.choice(BASES.get(base_unit, BASES["mSv"]))
    multiple = rng.choice(multiples)
    nudge = rng.choice([0, 0, 0, Fraction(1, 10**6), -Fraction(1, 10**6)])
    value = base * multiple * (1 + nudge)
    for name, amount in ((reference, base), (fact, value)):
        choices = [u for u in units if _exact(amount, u)]
        if choices:
            incident[name] = _written(amount, rng.choice(choices))
        else:
            incident.pop(name, None)
    if fact == "total_dose":
        incident.setdefault("modality", "diagnostic")
        if rng.random() < 0.1:
            alternative(rng, incident, base, value)
    if rng.random() < 0.3:
        incident["additional_images"] = rng.choice([0, 1, 2, 3, 5])
        incident["intended_images"] = rng.choice([1, 2, 4, 5, 6, 10])


# Doses in an alternative quantity (language/altunits.py): a spelling, and the factor from mSv to its number.
ALTERNATIVE = [("Gy cm2", Fraction(1)), ("mGy·cm²", Fraction(1000)), ("µGy m2", Fraction(10)), ("mGy cm", Fraction(50)),
               ("mGy CTDIvol", Fraction(4)), ("mGy air kerma", Fraction(1, 4))]


def alternative(rng: random.Random, incident: dict[str, Any], intended: Fraction, total: Fraction) -> None:
    """The pair of doses in an alternative quantity (their ratio kept, on or beside 10 or 2.5 times); now and
    then only one of them, or the other in mSv (an error naming both), or another quantity (an error too)."""
    unit, factor = rng.choice(ALTERNATIVE)
    scale = factor * rng.choice([Fraction(1), Fraction(7), Fraction(1, 8)])
    for name, amount in (("intended_dose", intended), ("total_dose", total)):
        number = amount * 1000 * scale
        text = f"{Decimal(number.numerator) / Decimal(number.denominator):.12f}".rstrip("0").rstrip(".")
        incident[name] = f"{text or '0'} {unit}"
    odd = rng.random()
    if odd < 0.1:
        incident.pop(rng.choice(["intended_dose", "total_dose"]))
    elif odd < 0.15:
        incident["intended_dose"] = "1 mSv"
    elif odd < 0.2:
        incident["intended_dose"] = "3 mGy cm" if unit != "mGy cm" else "3 Gy cm2"


def incidents(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """n incidents as Guidance.evaluate takes them, the same for the same seed."""
    rng = random.Random(seed)
    base = Incidents(seed)
    for i in range(n):
        incident = python_incident(base.incident(i))
        if rng.random() < 0.4:
            relative(rng, incident)
        yield incident
