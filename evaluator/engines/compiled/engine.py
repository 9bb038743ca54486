"""The compiled engine at run time: read, dispatch, decide, compose the result.

It needs only a Table (table.py). The three-valued side (threevalued.py) is
built from the checked AST the first time an incident needs a fact it does not
give, so a process that loaded its Table from the cache and sees complete
incidents never parses, checks or imports the language.

A result is a plain dict in the shape of evaluator.result.Result (without its
explanation): `Guidance.evaluate` makes the Result of it, and `irmer evaluate`
writes it as JSON directly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from ..assumed import assumed_facts, entry
from ..kept import Kept, by_values
from ..logic import B3, NONE, or3
from ..derive import apply as apply_derivations, triggers as derive_triggers
from ..suffix import fit, suffixed
from ..alternative import ALTERNATIVE, INTENDED, TOTAL, Outcome, decide as decide_alternative
from .reader import Reader
from .runtime import ASSUMED, RUNTIME, SCOPE_OUT, ComplementaryInfo, RowInfo, Table, Unknown, scaled

BOTH = object()  # a row's split met it in one case and not in another (split.agree's `differ`)
_NOTHING = object()  # nothing kept under a key (Scope.others)

# The fields of a result, in the order evaluator.result.Result declares them (its explanation left out).
FIELDS = ("id", "notifiable", "codes", "complementary", "missing", "assumed", "authority", "notify_by", "report_by",
          "advice", "routes", "criteria", "notes", "error", "errors")


def error_document(ident: Any, version: str | None, problems: list[dict[str, Any]]) -> dict[str, Any]:
    """The result of an incident that could not be read: its problems, and nothing decided."""
    return {"id": ident, "notifiable": None, "codes": [], "complementary": [], "missing": [], "assumed": [],
            "authority": None, "notify_by": None, "report_by": None, "advice": [], "routes": [], "criteria": version,
            "notes": [], "error": problems[0] if problems else None, "errors": problems}


class CompiledEngine:
    """A criteria file compiled to Python: evaluate(dict) -> the result as a dict, without explanations."""

    def __init__(self, table: Table):
        self.table = table
        self.version = table.version
        namespace: dict[str, Any] = {**RUNTIME, **table.constants}
        exec(compile(table.source, f"<compiled {table.version}>", "exec"), namespace)  # our own generated code
        self.namespace = namespace
        self.rows: list[tuple[RowInfo, Callable]] = [(info, namespace[f"row_{info.index}"]) for info in table.rows]
        self.infos = tuple(table.rows)
        self.comps: list[tuple[ComplementaryInfo, Callable]] = [(info, namespace[f"comp_{info.index}"])
                                                                 for info in table.comps]
        self.advice = [(name, by_place, namespace[f"advice_{k}"], needs)
                       for k, (name, by_place, needs) in enumerate(table.advice)]
        # Routes, by verdict: (index, where it goes, its test (None when its condition is `always`), the facts
        # it cannot hold without). Advice likewise: (name, where, its test, the facts it cannot hold without).
        self.routes: dict[B3, list[tuple[int, dict, Callable | None, frozenset[str]]]] = {True: [], False: [],
                                                                                          None: []}
        for k, info in enumerate(table.routes):
            for verdict in info.verdicts:
                self.routes[verdict].append((k, info.by_place, None if info.always else namespace[f"route_{k}"],
                                             info.required))
        # All their conditions in one call (table.py, extras), and what each set of them gives, by place and
        # verdict: (the bits that hold, jurisdiction, notifiable) -> (advice, routes).
        self.extras = namespace["extras"]
        self._extras: dict[tuple, tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]] = {}
        self.reader = Reader(table.facts, table.scales, table.units)
        self.deadlines = [(name, after, dt.timedelta(days=days)) for name, after, days in table.deadlines]
        self._dispatch: dict[tuple, Scope] = {}  # see dispatch
        self._slow: Any = None
        self._kept = [Kept() for _ in table.rows]  # three-valued verdicts, by row (_verdict)
        self.statutory = [index for index, info in enumerate(table.comps) if info.role == "statutory"]
        # Judgement defaults (`absent assumes`): the reader leaves them out; generated code that reads one the
        # incident does not give takes it and notes it (runtime._assumed), the sign that it may decide (decide).
        self.assumed = assumed_facts(table.facts)
        self.assumed_defaults = {name: value for name, value, _ in self.assumed}
        self.comps_reading = {name: [info.index for info in table.comps if name in info.judgements]
                              for name in self.assumed_defaults}
        # What reads each judgement, for the three-valued side's splits: the codes of a row that reads it, and
        # the parts of the verdict's split (rows by index, then the statutory codes) that read it.
        self.codes_reading = {name: frozenset(info.code for info in table.rows if name in info.judgements)
                              for name in self.assumed_defaults}
        self.parts_reading = {name: frozenset(info.index for info in table.rows if name in info.judgements) |
                              frozenset(len(table.rows) + k for k, index in enumerate(self.statutory)
                                        if index in self.comps_reading[name])
                              for name in self.assumed_defaults}
        # A judgement that picks the rows (exposure, modality, jurisdiction) would change the rows dispatched.
        self.scoped_judgements = any(fact in self.assumed_defaults for fact in ("exposure", "modality",
                                                                               "jurisdiction"))
        # Derived facts and contradictions: only for an incident that gives one of the facts they read.
        self.derivations = [(info, [self._truth(f"derive3_{i}_{j}") for j in range(len(info.values))])
                            for i, info in enumerate(table.derivations)]
        self.conflicts = [(info, self._truth(f"conflict3_{k}")) for k, info in enumerate(table.conflicts)]
        self.triggers = derive_triggers(table.derivations, table.conflicts) if self.derivations or self.conflicts \
            else None

    def _truth(self, name: str) -> Callable[[dict[str, Any]], Any]:
        function = self.namespace[name]
        return lambda values: function(values, {})

    @classmethod
    def compile(cls, checked: Any, facts: Any) -> "CompiledEngine":
        """Compile checked criteria (a language.check.Checked) with their vocabulary's facts."""
        from .table import build_table
        return cls(build_table(checked, facts))

    @property
    def source(self) -> str:
        """The generated Python, for people (and the docs) to read."""
        return self.table.source

    @property
    def scales(self) -> dict[str, int]:
        return self.table.scales

    @property
    def slow(self) -> Any:
        """The three-valued side, built on first use (from the Table alone)."""
        if self._slow is None:
            from .threevalued import ThreeValued
            self._slow = ThreeValued(self.table, self.namespace)
        return self._slow

    # ------------------------------------------------------------ evaluating
    def evaluate(self, incident: Any) -> dict[str, Any]:
        """Evaluate one incident (a dict as in the incident JSON); raises IncidentError when it cannot be read."""
        values, ident, notes = self.reader.read(incident)
        triggers = self.triggers
        if triggers is not None and type(incident) is dict and not triggers.isdisjoint(incident):
            apply_derivations(values, lambda fact: incident.get(fact) is not None, self.derivations, self.conflicts,
                              notes)
        elif triggers is not None and type(incident) is not dict:
            self.prepare(values, incident, notes)
        if ALTERNATIVE in values:  # only the vocabulary's reader puts it there: never on the fast path's values
            return self.decide_alternative(values, ident, notes, values.pop(ALTERNATIVE))
        return self.decide(values, ident, notes)

    def decide_alternative(self, values: dict[str, Any], ident: Any, notes: list[str],
                           pair: dict[str, Any]) -> dict[str, Any]:
        """Both doses in one alternative quantity: decided from their ratio, region by region of the effective
        intended dose (engines/alternative.py), each region by `decide`."""
        found = self.table.alternative
        if found is None or found.refusal:
            return error_document(ident, self.version, [{"field": INTENDED, "message": found.refusal if found else
                                                         "these criteria cannot decide doses in an alternative "
                                                         "quantity", "hint": f"give {INTENDED} and {TOTAL} in mSv"}])
        scale = self.scales["effective dose"]

        def region(intended: Any, total: Any) -> Outcome:
            case = {**values, INTENDED: scaled(intended, scale), TOTAL: scaled(total, scale)}
            document = self.decide(case, ident, [])
            return Outcome(document["notifiable"], tuple(document["codes"]), tuple(document["complementary"]),
                           tuple(document["missing"]), tuple(document["assumed"]))

        def compose(outcome: Outcome, notes: list[str]) -> dict[str, Any]:
            document = self._document(dict(values), ident, notes, outcome.notifiable, list(outcome.codes),
                                      list(outcome.complementary), list(outcome.missing))
            document["assumed"] = list(outcome.assumed)
            return document

        intended, total = pair[INTENDED], pair[TOTAL]
        return decide_alternative(found, intended, total, intended.quantity, region, compose, notes)

    def prepare(self, values: dict[str, Any], incident: Any, notes: list[str]) -> None:
        """Derived facts and contradictions for an incident that is not a plain dict (read by the vocabulary's reader)."""
        from ...language.incident import read_incident
        given = read_incident(incident, self.table.facts).given
        apply_derivations(values, given.__contains__, self.derivations, self.conflicts, notes)

    def rows_for(self, values: dict[str, Any]) -> tuple[tuple[RowInfo, Callable], ...]:
        """The rows the incident's exposure, modality and jurisdiction do not rule out."""
        return self.dispatch(values).rows

    def dispatch(self, values: dict[str, Any]) -> "Scope":
        """What the incident's exposure, modality and jurisdiction leave to decide (Scope): worked out once
        per scope."""
        key = (values.get("exposure"), values.get("modality"), values.get("jurisdiction"))
        found = self._dispatch.get(key)
        if found is None:
            if None in key:
                rows = tuple(self.rows)
            else:
                given = dict(zip(("exposure", "modality", "jurisdiction"), key))
                rows = tuple((info, fast) for info, fast in self.rows
                             if not any(allowed.isdisjoint(given[fact]) if any_of else given[fact] not in allowed
                                        for fact, allowed, any_of in info.scopes))
            judging = {name: tuple((at, info, fast) for at, (info, fast) in enumerate(rows)
                                   if name in info.judgements) for name in self.assumed_defaults}
            found = Scope(rows, tuple(info for info, _ in rows), judging,
                          None if None in key else self._combined(rows, codes=True))
            if len(self._dispatch) < 4096:
                self._dispatch[key] = found
        return found

    def _combined(self, rows: tuple[tuple[RowInfo, Callable], ...],
                  comps: list[tuple[ComplementaryInfo, Callable]] | None = None,
                  codes: bool = False) -> Callable | None:
        """One generated function deciding rows of a scope (their scope's tests left out: it holds) and
        complementary codes (all by default): (the rows' verdicts, whether each code is met), as row_<i> and
        comp_<j> would give them, or KeyError or Unknown as they would raise, in the same order. One call
        instead of one a row and a code, and no test of the scope again. With `codes`, the codes of the rows
        met too, each once, in the rows' order (what `_codes` makes of the rows when no complementary code is
        met)."""
        comps = self.comps if comps is None else comps
        if not all(info.checks for info, _ in rows) or not all(info.checks for info, _ in comps):
            return None  # a Table of an older build: the functions one by one
        lines = ["def decide(v):"]
        for n, (info, _) in enumerate(rows):
            lines += _chain(f"r{n}", info.checks, "MET")
        for j, (info, _) in enumerate(comps):
            lines += _chain(f"c{j}", info.checks, "True")
        verdicts = "".join(f"r{n}, " for n in range(len(rows)))
        met = f"[{', '.join(f'c{j}' for j in range(len(comps)))}]"
        if not codes:
            lines.append(f"    return ({verdicts}), {met}")
        else:
            lines.append("    codes = []")
            by_code: dict[str, list[int]] = {}
            for n, (info, _) in enumerate(rows):
                by_code.setdefault(info.code, []).append(n)
            for code, at in by_code.items():
                lines.append(f"    if {' or '.join(f'r{n} is MET' for n in at)}: codes.append({code!r})")
            lines.append(f"    return ({verdicts}), {met}, codes")
        made: dict[str, Any] = {}
        exec(compile("\n".join(lines), f"<compiled {self.version}: a scope>", "exec"), self.namespace, made)
        return made["decide"]

    def decide(self, values: dict[str, Any], ident: Any, notes: list[str]) -> dict[str, Any]:
        scope = self.dispatch(values)
        rows, judging, combined = scope.rows, scope.judging, scope.combined
        composed = None  # the rows' verdicts and the codes met, when generated code composed the codes
        try:
            if combined is not None:
                verdicts, comp_met, codes = combined(values)
                if True not in comp_met:  # no complementary code met: the codes are the rows' (_codes)
                    composed = verdicts
                    decided = None  # (info, verdict) of each row: made only where needed (_other)
                else:
                    decided = list(zip(scope.infos, verdicts))
            else:
                decided = [(info, fast(values)) for info, fast in rows]
                comp_met = [fast(values) for _, fast in self.comps]
        except (KeyError, Unknown):
            values.pop(ASSUMED, None)
            absent = [name for name, _, _ in self.assumed if name not in values]
            if not absent:
                return self.decide_three_valued(values, ident, notes, rows)
            # Another fact is unknown: decide three-valued with the judgements taken, and try each that the
            # dispatched rows and the complementary codes read (the table knows which: RowInfo.judgements).
            for name in absent:
                values[name] = self.assumed_defaults[name]
            known: dict[int, Any] = {}
            known_comps: list[B3] = []
            shared: dict[str, Any] = {"answers": {}, "codes": {}}
            document = self.decide_three_valued(values, ident, notes, rows, keep=known, keep_comps=known_comps,
                                                shared=shared)
            read = [name for name in absent if judging[name] or self.comps_reading[name]]
            return self._assuming(values, ident, document, read, scope,
                                  [(info, known[info.index]) for info, _ in rows], known_comps, False, shared)
        if ASSUMED not in values:  # the fast path: no judgement default read
            if composed is not None:
                return self._document(values, ident, notes, bool(codes), codes, [], [])
            notifiable, codes, letters = self._codes(decided, comp_met, notes, values)
            return self._document(values, ident, notes, notifiable, codes, letters, [])
        read = values.pop(ASSUMED)
        for name, value, _ in self.assumed:
            values.setdefault(name, value)
        if composed is not None:
            notifiable, letters = bool(codes), []
        else:
            notifiable, codes, letters = self._codes(decided, comp_met, notes, values)
        return self._assuming(values, ident, self._document(values, ident, notes, notifiable, codes, letters, []),
                              read, scope, decided, comp_met, True, known=composed)

    def _assuming(self, values: dict[str, Any], ident: Any, document: dict[str, Any], read: list[str],
                  scope: "Scope", decided: list[tuple[RowInfo, Any]], known_comps: list[B3],
                  exact: bool, shared: dict[str, Any] | None = None, known: tuple | None = None) -> dict[str, Any]:
        """The judgements taken by default (`read`: those the decision read) that decide the incident: it is
        decided again with each other value of each (engines/assumed.py), and those that change it reported.

        Generated code reads a fact only where the decision needs it, so a judgement it never read cannot
        change the outcome: an incident whose decision reads none never comes here. When another fact is
        unknown (the three-valued side decides), every judgement not given that a dispatched row or a
        complementary code reads is tried.

        The other decision is composed from the first: `decided` holds the verdicts of the rows of the
        incident's `scope` (in their order) and `known_comps` whether each complementary code is met (`exact`:
        all decided by the generated two-valued code). Only a row or a code that reads the judgement
        (Scope.judging, from RowInfo.judgements; ComplementaryInfo.judgements) can change, so only those are
        decided again (`_again`). When
        each comes out as it was, and decided (met true or false), the outcome is the first's whatever the
        three-valued side's splits would make of it (a decided verdict holds in every case of a split), and
        assumed.entry makes no entry for an outcome equal to the first: nothing more is done. Nor when the
        rows that change are met neither before nor after while another row is met (`_same_codes`): the
        other value is then undecided or changes nothing. Otherwise the verdicts are composed, by `_codes`
        when all are two-valued, else by the three-valued side (which decides no row again, and takes from
        the first decision's `shared` the splits of the codes and the answers of the verdict's split's parts
        that do not read the judgement).
        """
        values.pop(ASSUMED, None)  # noted again if advice read one
        base = (document["notifiable"], document["codes"])
        found = document["assumed"]
        for name, value, others in self.assumed:
            if name not in read:
                continue
            taken = values[name]
            try:
                for other in others:
                    # The incident's own values with the other value (put back below): no copy of them.
                    values[name] = other
                    outcome = self._other(values, ident, name, scope, decided, known_comps, exact, base, shared, known)
                    if outcome is not None and outcome[0] is not None and outcome != base:
                        found.append(entry(name, value, other, base, outcome))
            finally:
                values[name] = taken
        return document

    def _other(self, case: dict[str, Any], ident: Any, name: str, scope: "Scope", decided: list[tuple[RowInfo, Any]],
               known_comps: list[B3], exact: bool, base: tuple[B3, list[str]],
               shared: dict[str, Any] | None = None, known: tuple | None = None) -> tuple[B3, list[str]] | None:
        """(notifiable, codes) with the judgement `name` as `case` gives it, or None when it cannot differ
        from the first decision (`base`) or can only be undetermined (_assuming).

        `known`: the first decision's verdicts, when the generated code made them all and met no
        complementary code. Then the outcome is a function of them, of the judgement, and of what the
        generated code makes of the rows and codes that read it: it is kept by those (Scope.others), and
        the same ones come back (an adult's diagnostic dose of the same band)."""
        if self.scoped_judgements:  # the judgement picks rows: every row decided again, and composed
            if decided is None:
                decided = list(zip(scope.infos, known))
            dispatched = self.rows_for(case)
            again = [(info, self._verdict(info, fast, case)) for info, fast in dispatched]
            two_valued = exact and all(type(verdict) is tuple for _, verdict in again)
            comp_met = list(known_comps)
            for j in self.comps_reading[name]:
                comp_met[j], exactly = self._comp(j, case)
                two_valued = two_valued and exactly
        else:
            verdicts, mets, decided_two_valued = self._again(case, name, scope)
            key = None
            if known is not None and decided_two_valued and True not in mets:
                key = (name, case[name], known, tuple(verdicts), tuple(mets))
                found = scope.others.get(key, _NOTHING)
                if found is not _NOTHING:
                    return None if found is None else (found[0], list(found[1]))
            if decided is None:
                decided = list(zip(scope.infos, known))
            outcome = self._other_again(case, ident, name, scope, decided, known_comps, exact, base, shared,
                                        verdicts, mets, decided_two_valued)
            if key is not None:
                scope.others.put(key, None if outcome is None else (outcome[0], tuple(outcome[1])))
            return outcome
        return self._composed_again(case, ident, name, dispatched, again, comp_met, two_valued, shared)

    def _other_again(self, case: dict[str, Any], ident: Any, name: str, scope: "Scope",
                     decided: list[tuple[RowInfo, Any]], known_comps: list[B3], exact: bool, base: tuple[B3, list[str]],
                     shared: dict[str, Any] | None, verdicts: Any, mets: Any,
                     decided_two_valued: bool) -> tuple[B3, list[str]] | None:
        """_other, when the judgement picks no rows: the rows and codes that read it decided again
        (`verdicts`, `mets`: _again's), and composed with the first decision's others."""
        dispatched, again, changed = scope.rows, list(decided), []
        two_valued = exact and decided_two_valued
        for (at, info, _), verdict in zip(scope.judging[name], verdicts):
            old = decided[at][1]
            if verdict is not old:  # generated code returns shared tuples (runtime.MET, ...)
                again[at] = (info, verdict)
                old, new = _triple(old), _triple(verdict)
                if old != new or new[2] is None:
                    changed.append((info, old[2], new[2]))
        comp_met = list(known_comps)
        comps_changed = False
        for j, met in zip(self.comps_reading[name], mets):
            comps_changed = comps_changed or met is None or met != known_comps[j]
            comp_met[j] = met
        if not comps_changed and (not changed or self._same_codes(changed, decided) or (
                exact and base[0] is False and self._undetermined(changed, again))):
            return None  # the same outcome, or an undetermined one
        return self._composed_again(case, ident, name, dispatched, again, comp_met, two_valued, shared)

    def _composed_again(self, case: dict[str, Any], ident: Any, name: str, dispatched: Any, again: list,
                        comp_met: list[B3], two_valued: bool,
                        shared: dict[str, Any] | None) -> tuple[B3, list[str]]:
        """The outcome of the rows and codes decided again (`again`, `comp_met`) with the judgement `name` as
        `case` gives it: by `_codes` when all are two-valued, else by the three-valued side."""
        if two_valued:
            notifiable, codes, _ = self._codes(again, comp_met, [], case)
            return notifiable, codes
        if shared is not None and not self.scoped_judgements:
            # What the first decision worked out from parts that do not read the judgement holds here too.
            reading = self.parts_reading[name]
            shared = {"answers": {names: {part: found for part, found in parts.items() if part not in reading}
                                  for names, parts in shared["answers"].items()},
                      "codes": {code: met for code, met in shared["codes"].items()
                                if code not in self.codes_reading[name]}}
        else:
            shared = None
        outcome = self.decide_three_valued(case, ident, [], dispatched,
                                           reuse={info.index: verdict for info, verdict in again}, outcome_only=True,
                                           shared=shared)
        return outcome["notifiable"], outcome["codes"]

    def _again(self, case: dict[str, Any], name: str, scope: "Scope") -> tuple[list, list, bool]:
        """The verdicts of the scope's rows that read the judgement `name` (in Scope.judging's order), whether
        each complementary code that reads it is met, and whether the generated two-valued code decided all:
        by one generated function when it can (Scope.judge), else one by one."""
        judge = scope.judge(self, name)
        if judge is not None:
            try:
                verdicts, mets = judge(case)
                return verdicts, mets, True
            except (KeyError, Unknown):
                pass
        verdicts = [self._verdict(info, fast, case) for _, info, fast in scope.judging[name]]
        comps = [self._comp(j, case) for j in self.comps_reading[name]]
        two_valued = all(type(verdict) is tuple for verdict in verdicts) and all(exactly for _, exactly in comps)
        return verdicts, [met for met, _ in comps], two_valued

    def _comp(self, j: int, values: dict[str, Any]) -> tuple[B3, bool]:
        """Whether the j-th complementary code is met, and whether the generated two-valued code decided it."""
        try:
            return self.comps[j][1](values), True
        except (KeyError, Unknown):
            return self.slow.comps[j].verdict(values).met, False

    def _undetermined(self, changed: list[tuple[RowInfo, B3, B3]], again: list[tuple[RowInfo, Any]]) -> bool:
        """Whether the other value can only leave undetermined an incident the first decision (two-valued)
        found not notifiable, every row and statutory code unmet: when one row alone changes, to unknown,
        and its own split met it in one case and not in another (Verdict.both). Every other row and code
        is unmet whatever the unknown facts are, so the incident is notifiable exactly where that row is met;
        each case of the verdict's split holds some of the facts' values, and no case can be met (or unmet)
        for all of them when some values meet the row and others do not: undetermined, and assumed.entry
        makes no entry for it. (With two rows changed, one could be met where the other is not.)"""
        if len(changed) != 1:
            return False
        info = changed[0][0]
        verdict = next(verdict for row, verdict in again if row is info)
        return type(verdict) is not tuple and verdict.both and info.code not in self.table.shared_codes

    def _same_codes(self, changed: list[tuple[RowInfo, B3, B3]], decided: list[tuple[RowInfo, Any]]) -> bool:
        """Whether rows decided again (`changed`: each with its met before and after) leave the outcome as it
        was, the complementary codes being as they were: when neither met was true, and no other row shares
        the row's code (no split of a code can then make it true), the codes met stay those met; and when
        one is met by another row, the incident stays notifiable with them, and the complementary codes'
        suffixes are those codes (engines/suffix.py). An undecided row adds nothing to a notifiable outcome.
        """
        shared = self.table.shared_codes
        if any(before is True or after is True or info.code in shared for info, before, after in changed):
            return False
        moved = {info.index for info, _, _ in changed}
        return any(_triple(verdict)[2] is True for info, verdict in decided if info.index not in moved)

    def _codes(self, decided: list, comp_met: list, notes: list[str],
               values: dict[str, Any]) -> tuple[bool, list[str], list[str]]:
        """Every row and code decided by the generated code (no unknowns, no splits): the verdict, the
        codes and the complementary letters."""
        codes: list[str] = []
        for info, verdict in decided:
            if verdict[2] and info.code not in codes:
                codes.append(info.code)
        notifiable = bool(codes)
        if not notifiable:
            for index in self.statutory:
                if comp_met[index]:
                    notifiable = True
                    break
        all_codes = list(codes)
        letters: list[str] = []
        for (info, _), met in zip(self.comps, comp_met):
            if met and (info.role == "statutory" or (info.role == "tag") == notifiable):
                letters.append(info.code)
                all_codes += self._prefixed(info, codes, decided, notes, values)
        return notifiable, all_codes, letters

    def decide_three_valued(self, values: dict[str, Any], ident: Any, notes: list[str],
                            dispatched: tuple[tuple[RowInfo, Callable], ...], reuse: dict[int, Any] | None = None,
                            keep: dict[int, Any] | None = None, keep_comps: list[B3] | None = None,
                            outcome_only: bool = False, shared: dict[str, Any] | None = None) -> dict[str, Any]:
        """Some row needs a fact the incident does not give: three-valued logic, and the plan's splits.

        `reuse`: verdicts already made for these values (by row index), taken as they are; `keep`: filled with
        the verdicts of the dispatched rows, `keep_comps` with whether each complementary code is met (for
        _assuming); `outcome_only`: only notifiable and codes are wanted (_assuming's other decisions);
        `shared`: the splits of shared codes ("codes") and the verdict's split's answers ("answers") worked
        out, kept for (or from) another decision of the incident (_other)."""
        slow = self.slow
        verdicts: list[Any] = [SCOPE_OUT] * len(self.rows)
        undecided = False
        for info, fast in dispatched:
            if reuse and info.index in reuse:
                verdict = verdicts[info.index] = reuse[info.index]
            else:
                verdict = verdicts[info.index] = self._verdict(info, fast, values)
            undecided = undecided or (verdict[2] if type(verdict) is tuple else verdict.met) is None
        if keep is not None:
            keep.update((info.index, verdicts[info.index]) for info, _ in dispatched)
        comp_met: list[B3] = []
        comp_verdicts: list[Any] = []
        for (info, fast), logic in zip(self.comps, slow.comps):
            try:
                comp_met.append(fast(values))
                comp_verdicts.append(None)
            except (KeyError, Unknown):
                verdict = logic.verdict(values)
                comp_met.append(verdict.met)
                comp_verdicts.append(verdict)
        if keep_comps is not None:
            keep_comps[:] = comp_met
        met_of = [v[2] if type(v) is tuple else v.met for v in verdicts]

        code_met: dict[str, B3] = {}
        for (info, _), met in zip(self.rows, met_of):  # or3 of the code's rows, written out (20 rows a call)
            before = code_met.get(info.code, False)
            code_met[info.code] = True if before is True or met is True else (
                None if before is None or met is None else False)
        if undecided:
            for code, met in code_met.items():
                split = slow.code_splits.get(code)
                if met is None and split is not None:
                    if shared is not None and code in shared["codes"]:
                        refined = shared["codes"][code]
                    else:
                        same = slow.rows_of_code[code]
                        refined = split.refine(values, lambda case, regions, same=same:
                                               or3(r.met(case, regions) for r in same))
                        if shared is not None:
                            shared["codes"][code] = refined
                    if refined is not None:
                        code_met[code] = refined
        notifiable = or3(list(code_met.values()) +
                         [m for (info, _), m in zip(self.comps, comp_met) if info.role == "statutory"])
        if notifiable is None:
            # Rows and statutory codes unmet from the facts alone stay unmet in every case of the split.
            unmet = {index for index, v in enumerate(verdicts)
                     if (v[2] is False if type(v) is tuple else v.met is False and not v.split)}
            first = len(verdicts)
            unmet.update(first + k for k, index in enumerate(self.statutory) if comp_met[index] is False)
            notifiable = slow.refine_notifiable(values, unmet, None if shared is None else shared["answers"])

        codes = [code for code, met in code_met.items() if met is True]
        all_codes = list(codes)
        letters: list[str] = []
        pairs = list(zip(self.infos, verdicts))
        for (info, _), met in zip(self.comps, comp_met):
            if met is not True:
                continue
            if info.role == "tag" and notifiable is not True or info.role == "voluntary" and notifiable is not False:
                continue
            letters.append(info.code)
            all_codes += self._prefixed(info, codes, pairs, notes, values)
        if outcome_only:
            return {"notifiable": notifiable, "codes": all_codes}

        def row_missing() -> frozenset[str]:
            return frozenset().union(*(v.missing for v in verdicts if type(v) is not tuple and v.met is None))

        if notifiable is True and not codes and not any(
                info.role == "statutory" and m is True for (info, _), m in zip(self.comps, comp_met)):
            open_codes = [code for code, met in code_met.items() if met is None]
            facts = sorted(row_missing())
            notes.append(f"notifiable whatever {' and '.join(facts)} {'is' if len(facts) == 1 else 'are'}, but "
                         f"the code depends on {'it' if len(facts) == 1 else 'them'}: one of "
                         f"{', '.join(open_codes)}")
        missing: list[str] = []
        if notifiable is None:
            found = set(row_missing())
            for verdict in comp_verdicts:
                if verdict is not None and verdict.met is None:
                    found |= verdict.missing
            missing = sorted(found)
        return self._document(values, ident, notes, notifiable, all_codes, letters, missing)

    def _verdict(self, info: RowInfo, fast: Callable, values: dict[str, Any]) -> Any:
        """A row's verdict: the generated two-valued code's when it decides, else the three-valued side's,
        refined by the row's split.

        A three-valued verdict depends only on the values of the facts the row reads or splits on
        (RowInfo.reads), and the same ones come back often: the same facts left out by the same kind of
        report (a therapy given without its PTV doses, a dose without the patient's age). So it is kept, by
        those values, and a verdict kept is never changed. Not when a judgement default it reads is not
        given: then generated code notes the default as read, which a kept verdict would skip."""
        try:
            return fast(values)
        except (KeyError, Unknown):
            pass
        if not info.judgements <= values.keys():
            return self._verdict3(info, values)
        return by_values(self._kept[info.index], info.reads, values.get, self._verdict3, info, values)

    def _verdict3(self, info: RowInfo, values: dict[str, Any]) -> Any:
        """A row's three-valued verdict, worked out: refined by its split, the facts it would need noted."""
        slow = self.slow
        logic = slow.rows[info.index]
        verdict = logic.verdict(values)
        if verdict.met is None:
            refined = slow.row_splits[info.index].refine(values, logic.met, BOTH)
            if refined is BOTH:
                verdict.both = True
            elif refined is not None:
                verdict.met, verdict.missing, verdict.split = refined, NONE, True
        if verdict.in_scope is None and verdict.met is False:
            verdict.in_scope = True  # scope unknown, but the row cannot fire either way
        return verdict

    def forget(self) -> None:
        """Drop what is kept by value: three-valued verdicts (_verdict), the split's answers
        (ThreeValued.refine_notifiable), the other values' outcomes (_other)."""
        for kept in self._kept:
            kept.clear()
        for scope in list(self._dispatch.values()):
            scope.others.clear()
        if self._slow is not None:
            self._slow.forget()

    def _document(self, values: dict[str, Any], ident: Any, notes: list[str], notifiable: B3, codes: list[str],
                  letters: list[str], missing: list[str]) -> dict[str, Any]:
        notify_by = report_by = None
        if notifiable is not False and self.deadlines:
            dates = {}
            for name, after, delta in self.deadlines:
                start = values.get(after)
                if start is not None:
                    dates[name] = start + delta
            notify_by, report_by = dates.get("notify_by"), dates.get("report_by")
            if notifiable is None and dates:
                notes.append("the deadlines apply if the incident turns out to be notifiable")
        jurisdiction = values.get("jurisdiction")
        advice, routes = self._shown(values, jurisdiction, notifiable)
        return {"id": ident, "notifiable": notifiable, "codes": codes, "complementary": letters, "missing": missing,
                "assumed": [],  # filled by _assuming when a judgement default decides the incident
                "authority": self.table.authorities.get(jurisdiction), "notify_by": notify_by, "report_by": report_by,
                "advice": advice, "routes": routes, "criteria": self.version, "notes": notes,
                "error": None, "errors": []}

    def _shown(self, values: dict[str, Any], jurisdiction: Any, notifiable: B3) -> tuple[list, list]:
        """The advice and the routes the incident is shown: one call of the generated `extras` decides every
        condition when the facts they read are known (they mostly have defaults), and what a set of them
        gives in a place for a verdict is worked out once; else each is decided apart (_advice, _routes)."""
        try:
            bits = self.extras(values)
        except (KeyError, Unknown):
            return self._advice(values, jurisdiction), self._routes(values, jurisdiction, notifiable)
        key = (bits, jurisdiction, notifiable)
        found = self._extras.get(key)
        if found is None:
            advice: list[dict[str, Any]] = []
            for k, (_, by_place, _, _) in enumerate(self.advice):
                if bits >> k & 1:
                    advice += by_place.get(jurisdiction, ())
            routes: list[dict[str, Any]] = []
            first = len(self.advice)
            for index, by_place, _, _ in self.routes[notifiable]:
                if bits >> (first + index) & 1:
                    routes += by_place.get(jurisdiction, ())
            found = (tuple(advice), tuple(routes))
            if len(self._extras) < 4096:
                self._extras[key] = found
        return list(found[0]), list(found[1])

    def _prefixed(self, item: ComplementaryInfo, codes: list[str], verdicts: list[tuple[RowInfo, Any]],
                  notes: list[str], values: dict[str, Any]) -> list[str]:
        """A complementary code with the suffix of the most relevant notification code (engines/suffix.py)."""
        categories = []
        for info, verdict in verdicts:
            in_scope, band = (verdict[0], verdict[1]) if type(verdict) is tuple else (verdict.in_scope, verdict.band)
            if in_scope is True:
                categories.append((info.code, info.banded, band, fit(info.tests, values)))
        return suffixed(item.code, item.suffix_from, item.suffix_to, codes, categories, notes)

    def _advice(self, values: dict[str, Any], jurisdiction: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for index, (_, by_place, fast, needs) in enumerate(self.advice):
            try:
                holds = fast(values)
            except (KeyError, Unknown):
                holds = False if _lacks(needs, values) else self.slow.advice[index](values, {})
            if holds is True:
                out += by_place.get(jurisdiction, ())
        return out

    def _routes(self, values: dict[str, Any], jurisdiction: Any, notifiable: B3) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for index, by_place, fast, needs in self.routes[notifiable]:
            if fast is not None:
                try:
                    if not fast(values):
                        continue
                except (KeyError, Unknown):
                    if _lacks(needs, values) or self.slow.routes[index](values, {}) is not True:
                        continue
            out += by_place.get(jurisdiction, ())
        return out


class Scope:
    """What an incident's exposure, modality and jurisdiction leave to decide: the rows they do not rule out
    (with their infos alone), by judgement default the rows that read it, each with its position among them,
    and the generated function deciding them all with the complementary codes (None when a scope fact is
    unknown: the rows' own functions test their scope)."""

    __slots__ = ("rows", "infos", "judging", "combined", "judges", "others")

    def __init__(self, rows: tuple[tuple[RowInfo, Callable], ...], infos: tuple[RowInfo, ...],
                 judging: dict[str, tuple[tuple[int, RowInfo, Callable], ...]], combined: Callable | None):
        self.rows, self.infos, self.judging, self.combined = rows, infos, judging, combined
        self.judges: dict[str, Callable | None] = {}
        self.others = Kept()  # the outcomes of a judgement's other value, kept (CompiledEngine._other)

    def judge(self, engine: CompiledEngine, name: str) -> Callable | None:
        """The generated function deciding the rows and the complementary codes that read the judgement
        `name` (CompiledEngine._combined), made the first time an incident of the scope needs it."""
        if name not in self.judges:
            self.judges[name] = None if self.combined is None else engine._combined(
                tuple((info, fast) for _, info, fast in self.judging[name]),
                [engine.comps[j] for j in engine.comps_reading[name]])
        return self.judges[name]


def _chain(name: str, checks: tuple[tuple[str, str], ...], otherwise: str) -> list[str]:
    """Generated code: `name` is the verdict of the first check that holds, else `otherwise`."""
    lines = [f"    {'if' if k == 0 else 'elif'} {test}: {name} = {result}" for k, (test, result) in enumerate(checks)]
    return lines + [f"    else: {name} = {otherwise}"]


def _triple(verdict: Any) -> tuple[B3, B3, B3]:
    """(in_scope, band, met) of a verdict, two-valued (a tuple) or three-valued (threevalued.Verdict)."""
    return verdict if type(verdict) is tuple else (verdict.in_scope, verdict.band, verdict.met)


def _lacks(needs: frozenset[str], values: dict[str, Any]) -> bool:
    """Whether a fact an advice's or a route's condition cannot hold without (table.required) is unknown: then
    it does not hold, and the three-valued side need not be built to say so."""
    return bool(needs) and not needs <= values.keys()
