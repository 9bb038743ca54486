"""Judgement defaults: a fact the vocabulary says `absent assumes` (docs/language.md, section 13).

Such a fact takes its value when an incident does not give it, as an `absent means` fact does; but the
value is a judgement the guidance leaves to the employer (was there a failure in procedure? was an error
involved?), so a result says so whenever it decides the outcome. The engines evaluate the incident again
with each other value of the fact, the rest unchanged, and report in `assumed` every one that gives
another verdict or other codes. An other value that would leave the incident undetermined is not
reported: it decides nothing without further facts (a failure in procedure matters to code 6 only with an
infant's dose, and a report of a diagnostic scan that gives none is not asked about one). Both engines
build the entries here, so they cannot differ in what they say.

>>> entry("procedural_failure", False, True, (False, []), (True, ["6"]))["text"]
'procedural_failure is taken as no (not given); if it is yes: notifiable, 6'
>>> entry("error_involved", True, False, (True, ["2.2"]), (False, []))["text"]
'error_involved is taken as yes (not given); if it is no: not notifiable'
>>> entry("error_involved", True, False, (True, ["6"]), (True, ["6"])) is None  # the default decides nothing
True
>>> entry("procedural_failure", False, True, (False, []), (None, [])) is None  # nor does the other value, alone
True
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

from ..language.units import BOOL


def assumed_facts(facts: Mapping[str, Any]) -> tuple[tuple[str, Any, tuple[Any, ...]], ...]:
    """(fact, the value assumed, the other values) for each judgement default, in the vocabulary's order.

    >>> from evaluator import load_vocabulary
    >>> [(name, value) for name, value, _ in assumed_facts(load_vocabulary().facts)]
    [('procedural_failure', False), ('error_involved', True)]
    """
    out = []
    for name, info in facts.items():
        if not getattr(info, "assumed", False) or not info.has_default:
            continue
        others = (not info.default,) if info.kind == BOOL else tuple(v for v in info.values if v != info.default)
        out.append((name, info.default, others))
    return tuple(out)


def _show(value: Any) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)


def _outcome(notifiable: bool, codes: list[str]) -> str:
    if notifiable is False:
        return "not notifiable" + (f", {', '.join(codes)}" if codes else "")
    return "notifiable" + (f", {', '.join(codes)}" if codes else "")


def entry(fact: str, value: Any, other: Any, base: tuple[bool | None, list[str]],
          alternative: tuple[bool | None, list[str]]) -> dict[str, Any] | None:
    """The `assumed` entry for a fact taken as `value` when `other` gives `alternative` instead of `base`
    ((notifiable, codes) each), or None when the two agree or the other value decides nothing."""
    if alternative[0] is None or (base[0], list(base[1])) == (alternative[0], list(alternative[1])):
        return None
    codes = tuple(alternative[1])
    return {**_made(fact, value, other, alternative[0], codes), "codes": list(codes)}


@lru_cache(maxsize=1024, typed=True)
def _made(fact: str, value: Any, other: Any, notifiable: bool, codes: tuple[str, ...]) -> dict[str, Any]:
    """An entry: the same few over and over (a fact, its values, an outcome), so made once each (and copied:
    a result's entry is its own)."""
    return {"fact": fact, "value": value, "otherwise": other, "notifiable": notifiable, "codes": list(codes),
            "text": f"{fact} is taken as {_show(value)} (not given); if it is {_show(other)}: "
                    f"{_outcome(notifiable, list(codes))}"}
