"""The bounds on every input, in one table.

Criteria files and incidents come from people and from other systems. Each
input is measured against its bound BEFORE it is worked on, so that no value,
however written, can make the pipeline hang, recurse without end or run out of
memory, and a value beyond its bound is refused with a message that names it.

The bounds are far beyond anything the guidance needs: its quantities run from
microsieverts to hundreds of gray and gigabecquerels, its deadlines are weeks,
and the shipped criteria files are under 40 kB with lines under 600 characters
and expressions nested under 10 deep.

>>> LIMITS["digits"].value, LIMITS["exponent"].value
(30, 30)
>>> print(LIMITS["deadline"])
a deadline is at most 3653 days (10 years)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limit:
    """One bound: its value, and the sentence that names it in messages and docs."""

    name: str
    value: Any
    says: str

    def __str__(self) -> str:
        return self.says


_TABLE = [
    # Numbers, in criteria and in incidents. The size of a number is the power of ten of its
    # first significant digit (its exponent in scientific notation): 3e-6 has -6, 1.19e9 has 9.
    Limit("digits", 30, "a number has at most 30 significant digits"),
    Limit("exponent", 30, "a number lies between 1e-30 and 1e30 in size (its exponent within ±30)"),
    Limit("number length", 100, "a number is written in at most 100 characters"),
    # Dates in incidents: a deadline counted from any of them is a real date.
    Limit("earliest date", dt.date(1900, 1, 1), "a date is no earlier than 1900-01-01"),
    Limit("latest date", dt.date(2199, 12, 31), "a date is no later than 2199-12-31"),
    # Incidents: the vocabulary has some 40 fields; a field beyond them is an error anyway, and a
    # million of them would each be looked up for a typo.
    Limit("fields", 100, "an incident has at most 100 fields"),
    # Criteria files.
    Limit("deadline", 3653, "a deadline is at most 3653 days (10 years)"),
    Limit("nesting", 64, "an expression is nested at most 64 levels deep"),
    Limit("file size", 1_000_000, "a criteria file is at most 1,000,000 characters"),
    Limit("line length", 10_000, "a line of a criteria file is at most 10,000 characters"),
]

LIMITS: dict[str, Limit] = {limit.name: limit for limit in _TABLE}

MAX_DIGITS: int = LIMITS["digits"].value
MAX_EXPONENT: int = LIMITS["exponent"].value
MAX_NUMBER_LENGTH: int = LIMITS["number length"].value
EARLIEST_DATE: dt.date = LIMITS["earliest date"].value
LATEST_DATE: dt.date = LIMITS["latest date"].value
MAX_FIELDS: int = LIMITS["fields"].value
MAX_DEADLINE_DAYS: int = LIMITS["deadline"].value
MAX_NESTING: int = LIMITS["nesting"].value
MAX_FILE_SIZE: int = LIMITS["file size"].value
MAX_LINE_LENGTH: int = LIMITS["line length"].value
