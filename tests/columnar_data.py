"""Random incidents for the differential tests of the SQL engines (tests/test_columnar.py, tests/test_spark.py).

Boundary-biased: every number is one the criteria compare with (each
threshold of both versions, and just above and below it), or a region in
between; quantities come in mixed units ("3000 uSv" and "3 mSv"); any fact
may be missing; named values are sometimes in another spelling the reader
accepts ("england"); a few values only Python reads ("1e-3 Sv", "30 days")
or no one does (a bad unit), so the fallback is exercised too.
"""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from typing import Any

from evaluator import load_criteria
from evaluator.engines.plan import thresholds
from evaluator.language import ast
from evaluator.language.units import BOOL, ENUM, KINDS, SET

UNITS = {"effective dose": [("Sv", 1), ("mSv", Fraction(1, 1000)), ("uSv", Fraction(1, 10 ** 6))],
         "absorbed dose": [("Gy", 1), ("cGy", Fraction(1, 100)), ("mGy", Fraction(1, 1000))],
         "activity": [("MBq", 10 ** 6), ("GBq", 10 ** 9), ("kBq", 1000), ("mCi", 37 * 10 ** 6)],
         "length": [("mm", Fraction(1, 1000)), ("cm", Fraction(1, 100)), ("m", 1)],
         "duration": [("years", 1)]}


def _cuts() -> dict[str, list[Fraction]]:
    """The constants each numeric fact is compared with, in both versions."""
    found: dict[str, set[Fraction]] = {}
    for version in ("2023", "2024"):
        checked = load_criteria(version).checked
        nodes = checked.reachable([r for row in checked.rows for r in (row.band, row.when, row.unless)] +
                                  [c.when for c in checked.criteria.complementary])
        for name, info in checked.facts.items():
            if info.numeric:
                found.setdefault(name, set()).update(thresholds(name, nodes))
    return {name: sorted(values) for name, values in found.items()}


def _decimal(value: Fraction, digits: int = 9) -> str:
    text = f"{Decimal(value.numerator) / Decimal(value.denominator):.{digits}f}".rstrip("0").rstrip(".")
    return text or "0"


# Pairs of doses in an alternative quantity (language/altunits.py): ratios on and beside the factors, and a mix.
ALTERNATIVE_PAIRS = [("50 Gy cm2", "60 Gy cm2"), ("50 Gy cm2", "500 Gy cm2"), ("50 Gy cm2", "499.99 Gy cm2"),
                     ("400 mGy cm", "1 Gy cm"), ("10 mGy CTDIvol", "25 mGy CTDIvol"), ("50 Gy cm2", "5 mSv")]


class Incidents:
    """A generator of incident dicts, seeded."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.facts = load_criteria("2024").vocabulary.facts
        self.cuts = _cuts()

    def number(self, name: str) -> Fraction:
        rng = self.rng
        cuts = self.cuts.get(name) or []
        info = self.facts[name]
        integer = KINDS[info.kind].integer
        if cuts and rng.random() < 0.7:
            edge = rng.choice(cuts)
            step = Fraction(1) if integer else edge / 1000 or Fraction(1, 10 ** 6)
            value = edge + rng.choice([-step, 0, 0, step])
        else:
            top = max(cuts, default=Fraction(10)) * 3
            value = Fraction(rng.randint(0, 10 ** 6)) * top / 10 ** 6
            if integer:
                value = Fraction(round(value))
        floor = info.minimum or 0
        return max(value, Fraction(floor))

    def quantity(self, name: str) -> Any:
        info = self.facts[name]
        value = self.number(name)
        if info.kind == "count":
            return int(value) if self.rng.random() < 0.7 else str(int(value))
        if name == "age" and self.rng.random() < 0.5:
            return int(value) if value.denominator == 1 else _decimal(value, 4)
        unit, factor = self.rng.choice(UNITS[info.kind])
        return f"{_decimal(value / factor)} {unit}"

    def incident(self, i: int) -> dict[str, Any]:
        rng = self.rng
        incident: dict[str, Any] = {"id": f"R-{i:05d}"}
        for name, info in self.facts.items():
            if rng.random() < (0.15 if name in ("jurisdiction", "exposure", "modality") else 0.35):
                continue  # missing
            if info.kind == BOOL:
                incident[name] = rng.choice([True, False, "yes", "no"])
            elif info.kind == ENUM:
                value = rng.choice(info.values)
                incident[name] = value.lower() if rng.random() < 0.1 else value
            elif info.kind == SET:
                values = rng.sample(info.values, rng.choice([1, 1, 1, 2]))
                incident[name] = values[0] if len(values) == 1 else ";".join(values)
            elif info.kind == "date":
                incident[name] = rng.choice(["2023-04-18", "2023-04-19", "2024-08-27", "2024-08-28", "2025-01-31"])
            elif info.numeric:
                incident[name] = self.quantity(name)
        # What happened (`event`) derives the exposure, and contradicts an exposure given otherwise: drawn
        # for about one incident in six, half of those without an exposure of their own.
        if "event" in incident and rng.random() < 0.75:
            del incident["event"]
        elif "event" in incident and rng.random() < 0.5:
            incident.pop("exposure", None)
        # Contradictory facts (the criteria's `conflict` blocks) make an error: kept for one incident in ten.
        no = (False, "no")
        if incident.get("error_involved") in no and "imaging_cause" in incident and rng.random() < 0.9:
            del incident["imaging_cause"]
        if incident.get("near_miss") in (True, "yes") and "exposure" in incident and rng.random() < 0.9:
            del incident["near_miss"]
        roll = rng.random()
        if roll < 0.01:
            incident["total_dose"] = "1e-3 Sv"  # only Python reads an exponent
        elif roll < 0.02:
            incident["total_dose"] = "3 mSvv"  # no one reads it: an error
        elif roll < 0.025:
            incident["age"] = "200 days"  # only Python reads days
        elif roll < 0.035:  # doses in an alternative quantity: Python decides from their ratio (or refuses a mix)
            incident["intended_dose"], incident["total_dose"] = rng.choice(ALTERNATIVE_PAIRS)
        return incident

    def many(self, n: int) -> list[dict[str, Any]]:
        return [self.incident(i) for i in range(n)]


def as_text(incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every value as text, as a CSV or a text column gives it (yes/no as true/false)."""
    out = []
    for incident in incidents:
        out.append({k: ("true" if v is True else "false" if v is False else str(v)) for k, v in incident.items()})
    return out


def python_incident(incident: dict[str, Any]) -> dict[str, Any]:
    """The incident as Guidance.evaluate reads it: a `;` cell is a list of modalities."""
    out = dict(incident)
    if isinstance(out.get("modality"), str) and ";" in out["modality"]:
        out["modality"] = [v.strip() for v in out["modality"].split(";") if v.strip()]
    return out


def expected(incident: dict[str, Any], criteria: Any = None, interpreter: bool = False) -> dict[str, Any]:
    """What Guidance.evaluate says (the compiled engine, held to the interpreter by tests/test_compiled.py),
    or with `interpreter` the reference engine itself, as the engine's columns."""
    from evaluator.engines.columnar import result_row
    from evaluator.load import criteria_for
    data = python_incident(incident)
    guidance = criteria or criteria_for(data)[0]
    return result_row(guidance.evaluate(data, explain=interpreter))


COMPARED = ("notifiable", "codes", "complementary", "missing", "authority", "notify_by", "report_by", "criteria",
            "error")


def differences(rows: list[dict[str, Any]], incidents: list[dict[str, Any]], criteria: Any = None,
                interpreter: bool = False) -> list[str]:
    """Every row where the engine's columns differ from Python's, described."""
    out = []
    for row, incident in zip(rows, incidents):
        want = expected(incident, criteria, interpreter)
        got = {k: row[k] for k in COMPARED}
        if got != want:
            changed = {k: (got[k], want[k]) for k in COMPARED if got[k] != want[k]}
            out.append(f"{incident}: (engine, python) {changed}")
    return out


__all__ = ["Incidents", "as_text", "differences", "expected", "python_incident", "ast"]
