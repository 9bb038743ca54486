"""Derived facts and contradictions: applied once, when an incident is read, before any row.

A criteria file may work out a fact from others (``derive exposure``: accidental
if the ``event`` is a wrong patient, ...) and name facts that contradict each
other (``conflict``). Every engine applies both here, with its own way of
deciding a condition (``truth``: the interpreter's rules, or the compiled
engine's generated three-valued code), so they agree by construction; the SQL
engine leaves such rows to Python (engines/sql.py).

- A derivation runs when the incident gives a fact its conditions read. The
  first branch whose condition holds gives the value; an unknown condition
  before it, or no branch holding, derives nothing. The fact given as well,
  with another value, is an error naming both facts.
- A conflict is checked when the incident gives every fact its condition reads
  (a default never contradicts anything: the reporter did not say it); when
  the condition holds, the incident is an error naming those facts.

Nothing here imports the language at module level: the compiled engine loads
its Table from the cache without it.

>>> d = DeriveInfo("exposure", ("event",), ("accidental", "unintended"))
>>> truths = [lambda v: v.get("event") == "wrong_patient", lambda v: v.get("event") == "wrong_laterality"]
>>> values, notes = {"event": "wrong_laterality"}, []
>>> apply(values, values.__contains__, [(d, truths)], [], notes)
>>> values["exposure"], notes
('unintended', ['exposure unintended: derived from event wrong_laterality'])
>>> values = {"event": "wrong_laterality", "exposure": "accidental"}
>>> apply(values, values.__contains__, [(d, truths)], [], [])
Traceback (most recent call last):
...
evaluator.language.incident.IncidentError: exposure accidental contradicts event wrong_laterality, which makes it unintended; give one of the two, or correct the other
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

Truth = Callable[[dict[str, Any]], Any]  # values -> True, False or None (unknown)


@dataclass(frozen=True)
class DeriveInfo:
    """A derivation as the engines need it: the fact, the facts its conditions read, each branch's value."""

    fact: str
    reads: tuple[str, ...]
    values: tuple[Any, ...]  # a named value, or True / False for a yes-or-no fact


@dataclass(frozen=True)
class ConflictInfo:
    """A conflict as the engines need it: its name, the facts its condition reads, the plain message."""

    name: str
    reads: tuple[str, ...]
    message: str


def infos(criteria: Any) -> tuple[tuple[DeriveInfo, ...], tuple[ConflictInfo, ...]]:
    """The derivations and conflicts of checked criteria (an ast.Criteria), as plain data."""
    derivations = tuple(DeriveInfo(d.fact, d.reads, tuple(_value(b.value) for b in d.branches))
                        for d in criteria.derivations)
    conflicts = tuple(ConflictInfo(c.name, c.reads, c.message or c.name) for c in criteria.conflicts)
    return derivations, conflicts


def _value(text: str) -> Any:
    """A branch's value as the engines hold it: yes and no are booleans (the checker allows them only
    for a yes-or-no fact), a named value its name."""
    return {"yes": True, "no": False}.get(text, text)


def triggers(derivations: Iterable[DeriveInfo], conflicts: Iterable[ConflictInfo]) -> frozenset[str]:
    """Facts without which neither a derivation nor a conflict can apply: an incident that gives none skips both."""
    found = {fact for d in derivations for fact in d.reads}
    found |= {c.reads[0] for c in conflicts if c.reads}
    return frozenset(found)


def _shown(value: Any) -> str:
    if value is True or value is False:
        return "yes" if value else "no"
    return str(value) if isinstance(value, (str, int)) else ""


def apply(values: dict[str, Any], given: Callable[[str], bool],
          derivations: Iterable[tuple[DeriveInfo, list[Truth]]], conflicts: Iterable[tuple[ConflictInfo, Truth]],
          notes: list[str]) -> None:
    """Derive facts into `values` (in the checker's order) and check the conflicts; raise IncidentError
    naming the facts of every contradiction found. `given(fact)` says whether the reporter gave it."""
    problems: list[tuple[str, str, str]] = []
    derived: set[str] = set()

    def stated(fact: str) -> bool:
        return fact in derived or given(fact)

    for info, truths in derivations:
        if not any(stated(fact) for fact in info.reads):
            continue
        value = None
        for candidate, truth in zip(info.values, truths):
            holds = truth(values)
            if holds is True:
                value = candidate
                break
            if holds is None:
                break
        if value is None:
            continue
        sources = [fact for fact in info.reads if stated(fact)]
        because = ", ".join(f"{fact} {_shown(values.get(fact))}".rstrip() for fact in sources)
        if given(info.fact) and values.get(info.fact) is not None:
            if values[info.fact] != value:
                problems.append((info.fact, f"{info.fact} {_shown(values[info.fact])} contradicts {because}, "
                                            f"which makes it {_shown(value)}",
                                 "give one of the two, or correct the other"))
            continue
        values[info.fact] = value
        derived.add(info.fact)
        notes.append(f"{info.fact} {_shown(value)}: derived from {because}")
    for conflict, truth in conflicts:
        if all(stated(fact) for fact in conflict.reads) and truth(values) is True:
            named = " and ".join(conflict.reads) if len(conflict.reads) == 2 else ", ".join(conflict.reads)
            problems.append((conflict.reads[0], f"{named} contradict each other: {conflict.message}",
                             f"correct one of {named} (conflict {conflict.name})"))
    if problems:
        from ..language.incident import IncidentError, Problem  # only when an incident is refused
        raise IncidentError([Problem(field=field, message=message, hint=hint) for field, message, hint in problems])
