"""A case split, as data: the unknown facts a decision can be split on, and how a split is enumerated.

The plan (engines/plan.py) works the splits out from the checked AST, once;
this module is what the engines need of them at run time, without the AST: the
compiled engine keeps its splits in its Table (engines/compiled/), pickled in
the cache.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from .kept import Kept

SPLIT_BUDGET = 1024  # the most cases a split enumerates for one decision
SCOPE_FACTS = ("exposure", "modality", "jurisdiction")  # every row is scoped by them
# A row's scope clauses: (the clause, the fact it restricts, whether the fact holds several values).
ROW_SCOPES = (("exposure", "exposure", False), ("modalities", "modality", True), ("jurisdictions", "jurisdiction", False))



@dataclass(frozen=True)
class Choice:
    """One unknown fact a decision can be split on, and the values that cover every case."""

    fact: str
    values: tuple[Any, ...]  # True/False, named values, one-value sets, or Intervals for numbers
    direct: bool = False  # a number compared only with constants: a point of each region stands for it


@dataclass(frozen=True)
class Part:
    """A row or a complementary code of a decision: the facts it reads, and the scope that can rule it out."""

    facts: frozenset[str]
    scopes: tuple[tuple[str, frozenset[str], bool], ...] = ()  # (fact, allowed values, the fact holds several)

    def ruled_out(self, known: Mapping[str, Any]) -> bool:
        for fact, allowed, any_of in self.scopes:
            value = known.get(fact)
            if value is not None and (allowed.isdisjoint(value) if any_of else value not in allowed):
                return True
        return False


@dataclass(frozen=True)
class Split:
    """The choices for one decision, in the order a split takes them (fewest values first)."""

    choices: tuple[Choice, ...]
    parts: tuple[Part, ...] = field(default=(), repr=False, compare=False)

    def choice(self, fact: str) -> Choice | None:
        return next((c for c in self.choices if c.fact == fact), None)

    def cases(self, known: Mapping[str, Any]) -> list[Choice]:
        """The choices to enumerate for an incident: its unknown facts, within the budget.

        A fact that only rows ruled out by the incident's own scope read (the
        radiotherapy rows of a diagnostic incident) cannot change the decision:
        it is not enumerated, and leaves the budget to the facts that can.
        """
        live = None
        if self.parts:
            live = frozenset().union(*(part.facts for part in self.parts if not part.ruled_out(known)))
        kept: list[Choice] = []
        total = 1
        for choice in self.choices:
            if choice.fact in known or (live is not None and choice.fact not in live):
                continue
            if total * len(choice.values) > SPLIT_BUDGET:
                break
            kept.append(choice)
            total *= len(choice.values)
        return kept


_NOTHING = object()


class KeptCases:
    """`Split.cases`, and the parts the incident's own scope rules out, kept by all they depend on: the
    values of the facts the parts are scoped by, and which of the split's facts the incident gives. An
    engine that decides many incidents asks the same few questions (a diagnostic incident without its age).

    >>> ct = (("modality", frozenset({"ct"}), True),)  # a part scoped to CT
    >>> split = Split((Choice("age", (True, False)),), (Part(frozenset({"age"}), ct),))
    >>> kept = KeptCases(split)
    >>> [c.fact for c in kept({"modality": frozenset({"ct"})})[0]], kept({"modality": frozenset({"pet"})})[1]
    (['age'], frozenset({0}))
    """

    def __init__(self, split: Split):
        self.split = split
        self.scoped = tuple(sorted({fact for part in split.parts for fact, _, _ in part.scopes}))
        self.facts = tuple(choice.fact for choice in split.choices)
        self.kept = Kept()  # (the cases, the parts ruled out), by the key of __call__

    def __call__(self, known: Mapping[str, Any]) -> tuple[list[Choice], frozenset[int]]:
        key = (tuple(map(known.get, self.scoped)), tuple(map(known.__contains__, self.facts)))
        found = self.kept.get(key)
        if found is None:
            parts = self.split.parts
            found = self.kept.put(key, (self.split.cases(known),
                                        frozenset(i for i, part in enumerate(parts) if part.ruled_out(known))))
        return found


def agree(results: Iterable[Any], differ: Any = None) -> Any:
    """The answer every case gives, or None as soon as one case is undecided, or `differ` (None too unless
    asked) as soon as two cases differ.

    >>> agree([True, True]), agree([True, False]), agree([False, None]), agree([]), agree([True, False], "both")
    (True, None, None, None, 'both')
    """
    outcome: Any = _NOTHING
    for result in results:
        if result is None:
            return None
        if outcome is _NOTHING:
            outcome = result
        elif result != outcome:
            return differ
    return None if outcome is _NOTHING else outcome


def any_met(split: Split, known: Mapping[str, Any], options: Mapping[str, tuple],
            met: Callable[[int, list[str], tuple], Any], unmet: frozenset[int] | set[int] = frozenset(),
            answers: dict | None = None, kept: KeptCases | None = None) -> Any:
    """Whether some part of the split's decision is met whatever its unknown facts are: True, False, or
    None when the cases disagree or one is undecided. Exactly the refine of "any part met" over the
    split's cases (every case of the facts it enumerates), worked out with less work:

    each part reads only some of the facts enumerated, so its answer in one case is its answer in every
    case that gives those facts the same values. Each part is first asked over its own facts' cases: if
    it is met in all of them, every case is notifiable; if every part is unmet in all of its own, no
    case is. Only otherwise are the cases of all the facts enumerated, with these answers kept.

    `options[fact]` are the values an engine assigns to a fact (its choice's values, in the engine's
    form); `met(part, facts, values)` is whether the part is met when the facts have those values.
    `unmet`: parts already found unmet with the incident's facts alone (three-valued, without a split):
    knowing more facts cannot make them met or undecided, so they are unmet in every case and never asked
    (the facts enumerated are chosen as before, so the answer is the same).
    `answers`: the parts' answers, kept by the facts enumerated and the part, for another call on the same
    incident (the compiled engine's other value of a judgement passes on those of the parts that do not read
    it; the facts enumerated depend on which facts are known, not on their values).
    `kept`: the split's cases and the parts ruled out, kept (KeptCases), else worked out.
    """
    if kept is not None:
        chosen, out = kept(known)
    else:
        chosen, out = split.cases(known), frozenset(i for i, part in enumerate(split.parts) if part.ruled_out(known))
    if not chosen:
        return None
    names = [choice.fact for choice in chosen]
    values = [options[name] for name in names]
    # A part the incident's own scope rules out is unmet in every case: it is never asked.
    live = [index for index in range(len(split.parts)) if index not in unmet and index not in out]
    reads = [tuple(i for i, name in enumerate(names) if name in split.parts[index].facts) for index in live]
    # Cases are tuples of indices into each fact's values: cheap to hash, whatever the values are.
    if answers is None:
        memo: list[dict[tuple, Any]] = [{} for _ in live]
    else:
        parts = answers.setdefault(tuple(names), {})
        memo = [parts.setdefault(index, {}) for index in live]

    def answer(part: int, relevant: tuple, key: tuple) -> Any:
        known_answers = memo[part]
        found = known_answers.get(key, _NOTHING)
        if found is _NOTHING:
            own = [names[i] for i in relevant]
            found = known_answers[key] = met(live[part], own, tuple(values[i][k] for i, k in zip(relevant, key)))
        return found

    # The first case alone often settles it: undecided there, undecided overall.
    verdict: Any = False
    for index, relevant in enumerate(reads):
        result = answer(index, relevant, (0,) * len(relevant))
        if result is True:
            verdict = True
            break
        if result is None:
            verdict = None
    if verdict is None:
        return None
    # Two cases that differ settle it too: an undetermined incident (most that come here) is usually
    # told apart by the case at the other end of every fact's values, before any part is enumerated.
    last = tuple(len(v) - 1 for v in values)
    if any(last):
        other: Any = False
        for index, relevant in enumerate(reads):
            result = answer(index, relevant, tuple(last[i] for i in relevant))
            if result is True:
                other = True
                break
            if result is None:
                other = None
        if other is not verdict:
            return None
    always_unmet = True
    for index, relevant in enumerate(reads):
        answers = {answer(index, relevant, key) for key in itertools.product(*(range(len(values[i]))
                                                                              for i in relevant))}
        if answers == {True}:
            return True
        always_unmet = always_unmet and answers == {False}
    if always_unmet:
        return False
    parts = [(relevant, memo[index]) for index, relevant in enumerate(reads)]

    def case(combination: tuple) -> Any:
        result: Any = False
        for relevant, answers_of in parts:
            found = answers_of[tuple(combination[i] for i in relevant)]
            if found is True:
                return True
            if found is None:
                result = None
        return result
    return agree(case(c) for c in itertools.product(*(range(len(v)) for v in values)))
