"""A complementary code's suffix: "a notification code 1 to 10, to indicate the most relevant exposure
category" (the guidance's complementary codes section). Both engines call this, so they cannot differ.

When notification codes are met, each is a suffix (M2.2). When none is met (M and C are notifiable
regardless of dose), the suffix is the category the incident falls in: a banded category first (2.1 by
the intended dose, 8.2 for an under-dose, ...), else a row without a band whose scope holds and whose
named facts fit the incident: a row's *category tests* (the `is`, `includes` and yes/no tests among the
`and`s of its `when`, worked out once in plan.py) rule it out when one is false, and the row that matches
the most of them is the most relevant (a hardware failure in a theme: 4.2c, whose tests are the cause
and the theme, before 4.2a, whose test is the cause alone). When no row matches any test, the facts
point to no category, and every row in scope is a candidate. When the facts do not single one out, the
bare letter, with a note naming the candidates (docs/interpretations.md, suffix_from_category).

>>> notes = []
>>> suffixed("M", 1, 10, ["2.2"], [], notes), notes
(['M2.2'], [])
>>> suffixed("E", 1, 9, ["10.1"], [], notes)
['E10.1']
>>> notes[0][:60]
'E10.1: the E row allows suffix codes 1 to 9; 10.1 is outside'
>>> suffixed("M", 1, 10, [], [("2.1", True, True), ("3", False, None)], [])  # in 2.1's band
['M2.1']
>>> cause, theme = CategoryTest("imaging_cause", frozenset({"hardware_software_failure"})), CategoryTest("theme", frozenset({True}))
>>> facts = {"imaging_cause": "hardware_software_failure", "theme": True}
>>> fit((cause,), facts), fit((cause, theme), facts), fit((CategoryTest("imaging_cause", frozenset({"protocol_failure"})),), facts)
(1, 2, None)
>>> suffixed("M", 1, 10, [], [("4.1", False, None, 0), ("4.2a", False, None, 1), ("4.2c", False, None, 2)], [])
['M4.2c']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping


@dataclass(frozen=True)
class CategoryTest:
    """A category test of a row: the fact holds one of `values` (for a fact of several values: one of
    them is among `values`); `negated`, the opposite. Yes/no facts hold True or False."""

    fact: str
    values: frozenset
    negated: bool = False
    several: bool = False

    def holds(self, value: Any) -> bool:
        held = not self.values.isdisjoint(value) if self.several else value in self.values
        return held != self.negated


def fit(tests: Iterable[CategoryTest], facts: Mapping[str, Any]) -> int | None:
    """How many of a row's category tests the facts meet; None when one fails. Unknown facts count for
    nothing either way."""
    count = 0
    for test in tests:
        value = facts.get(test.fact)
        if value is None:
            continue
        if not test.holds(value):
            return None
        count += 1
    return count


def suffixed(letter: str, suffix_from: int | None, suffix_to: int | None, codes: list[str],
             categories: Iterable[tuple[str, bool, object]], notes: list[str]) -> list[str]:
    """The complementary codes to report for a letter.

    `codes`: the notification codes met, in order. `categories`: for each row whose scope holds (in_scope
    true), (its code, whether it has a band, its band's truth[, how its category tests fit the facts:
    `fit`]). Notes are appended to `notes`.
    """
    suffixes = list(codes)
    if not suffixes:
        rows = list(categories)
        banded = list(dict.fromkeys(row[0] for row in rows if row[1] and row[2] is True))
        fits: dict[str, int] = {}
        for row in rows:
            score = row[3] if len(row) > 3 else 0
            if not row[1] and score is not None:
                fits[row[0]] = max(fits.get(row[0], score), score)
        best = max(fits.values(), default=0)
        if best > 0:  # the facts point to a category: those that fit them best
            plain = [code for code, score in fits.items() if score == best]
        else:  # they point to none: every category in scope is a candidate
            plain = list(dict.fromkeys(row[0] for row in rows if not row[1]))
        candidates = banded or plain
        if len(candidates) == 1:
            suffixes = candidates
        elif candidates:
            notes.append(f"{letter}: add the notification code of the most relevant exposure category "
                         f"({' or '.join(letter + c for c in candidates)}); the facts given do not single "
                         f"one out")
            return [letter]
        else:
            notes.append(f"{letter}: add the notification code of the most relevant exposure category; "
                         f"the facts given do not show which category the incident is in")
            return [letter]
    out = []
    for code in suffixes:
        major = int(code.split(".")[0])
        if suffix_from is not None and suffix_to is not None and not (suffix_from <= major <= suffix_to):
            notes.append(f"{letter}{code}: the {letter} row allows suffix codes {suffix_from} to "
                         f"{suffix_to}; {code} is outside that range, but the code is reported rather "
                         f"than dropped (see docs/interpretations.md)")
        out.append(letter + code)
    return out
