"""A complementary code's suffix: "a notification code 1 to 10, to indicate the most relevant exposure
category" (the guidance's complementary codes section). Both engines call this, so they cannot differ.

When notification codes are met, each is a suffix (M2.2). When none is met (M and C are notifiable
regardless of dose), the suffix is the category the incident falls in: a banded category first (2.1 by
the intended dose, 8.2 for an under-dose, ...), else a row without a band whose scope holds; when the
facts do not single one out, the bare letter, with a note naming the candidates
(docs/interpretations.md, suffix_from_category).

>>> notes = []
>>> suffixed("M", 1, 10, ["2.2"], [], notes), notes
(['M2.2'], [])
>>> suffixed("E", 1, 9, ["10.1"], [], notes)
['E10.1']
>>> notes[0][:60]
'E10.1: the E row allows suffix codes 1 to 9; 10.1 is outside'
>>> suffixed("M", 1, 10, [], [("2.1", True, True), ("3", False, None)], [])  # in 2.1's band
['M2.1']
"""

from __future__ import annotations

from typing import Iterable


def suffixed(letter: str, suffix_from: int | None, suffix_to: int | None, codes: list[str],
             categories: Iterable[tuple[str, bool, object]], notes: list[str]) -> list[str]:
    """The complementary codes to report for a letter.

    `codes`: the notification codes met, in order. `categories`: for each row whose scope holds (in_scope
    true), (its code, whether it has a band, its band's truth). Notes are appended to `notes`.
    """
    suffixes = list(codes)
    if not suffixes:
        rows = list(categories)
        banded = list(dict.fromkeys(code for code, has_band, band in rows if has_band and band is True))
        plain = list(dict.fromkeys(code for code, has_band, _ in rows if not has_band))
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
