"""What a new version of the guidance changes: structure, meaning, and who is affected.

Three levels (docs/diff.md):

1. Structural: rows matched by code (or a rename map), each changed part shown
   as a word-level redline or as a normalised change ("threshold 20% -> 50%",
   "condition dropped: procedural_failure", "imaging_cause: now also
   hardware_software_failure"), and the other sections (definitions,
   exclusions, deadlines, authorities, advice).
2. Semantic: for every code, z3 decides over every complete incident whether
   the new version narrows it, broadens it, both, or neither (equivalent), and
   gives a witness incident for each direction that exists, checked with the
   evaluator and shown with both results side by side.
3. Population (evaluator/tools/impact.py): both versions run on a file of incidents.

>>> from evaluator import load_criteria
>>> report = diff(load_criteria("2023"), load_criteria("2024"))
>>> {c.code: c.verdict for c in report.codes if c.code in ("3", "4.2a", "7")}
{'3': 'broadened', '4.2a': 'broadened', '7': 'equivalent'}
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from fractions import Fraction
from typing import Any, Iterable, Literal

import z3
from pydantic import BaseModel, Field

from ..language import ast
from ..language.show import show_number
from .impact import Population
from ..load import Guidance
from ..language.printer import expression, value as quoted
from ..engines.smt import Encoded, Space, rational
from ..language.units import BOOL, ENUM, SET, to_unit
from ..language.values import Measure

Verdict = Literal["equivalent", "narrowed", "broadened", "both"]
Status = Literal["added", "removed", "changed", "unchanged"]

# The input space every semantic verdict is about (shown with every report).
ASSUMPTIONS = [
    "Verdicts are about every complete incident: every fact of the vocabulary has a value, at or above its "
    "minimum, and the intended dose (which the multiplication factor divides by) is more than zero.",
    "Each verdict is proved with the z3 SMT solver over exact rational arithmetic, not sampled; "
    "tests/test_smt.py checks the encoding against the evaluator on thousands of random incidents.",
]


# ------------------------------------------------------------------ the report

class RedlinePart(BaseModel):
    op: Literal["same", "removed", "added"]
    text: str


class Redline(BaseModel):
    """A word-level comparison of two texts."""

    old: str
    new: str
    parts: list[RedlinePart]

    @property
    def changed(self) -> bool:
        return self.old != self.new


class Change(BaseModel):
    """One structural change, said in words, with the old and new forms."""

    what: str = Field(description="threshold, edge, values, condition added, condition dropped, scope, band, "
                                  "unless, exclusion, suffix, role, definition, text, ...")
    message: str
    old: str | None = None
    new: str | None = None


class Text(BaseModel):
    """A code or a section as one version writes it: the regulator's words and the rule."""

    category: str | None = None
    says: list[str] = Field(default_factory=list)
    rule: list[str] = Field(default_factory=list, description="the formal lines, as the criteria file writes them")


class Side(BaseModel):
    """What one version says about a witness incident."""

    version: str
    notifiable: bool | None
    codes: list[str]
    met: bool | None = Field(description="whether the code in question is met")


class Witness(BaseModel):
    """An incident the two versions classify differently."""

    direction: Literal["narrowed", "broadened"]
    incident: dict[str, Any]
    old: Side
    new: Side
    boundary: list[str] = Field(default_factory=list, description="values at or just past a threshold")


class CodeChange(BaseModel):
    """How one notification or complementary code changed."""

    code: str
    old_code: str | None = Field(None, description="the code in the old version, when renamed")
    status: Status
    title: str
    category: Redline | None = None
    says: Redline | None = None
    old_text: Text | None = Field(None, description="the code in the old version (absent when added)")
    new_text: Text | None = Field(None, description="the code in the new version (absent when removed)")
    changes: list[Change] = Field(default_factory=list)
    verdict: Verdict | None = None
    proof: str | None = None
    witnesses: list[Witness] = Field(default_factory=list)


class SectionChange(BaseModel):
    """A change outside the rows: a definition, an exclusion, a deadline, an authority, advice, the header."""

    section: str
    name: str
    status: Status
    changes: list[Change] = Field(default_factory=list)
    says: Redline | None = None
    old_text: Text | None = None
    new_text: Text | None = None


class VersionRef(BaseModel):
    version: str
    published: dt.date | None
    file: str


class DiffReport(BaseModel):
    """Everything `irmer diff` reports; `irmer diff --format json` prints it."""

    old: VersionRef
    new: VersionRef
    codes: list[CodeChange]
    notifiable: CodeChange = Field(description="the overall verdict: notifiable under any code")
    sections: list[SectionChange]
    can_flip: bool = Field(description="some incident is classified differently by the two versions")
    assumptions: list[str] = Field(default_factory=lambda: list(ASSUMPTIONS))
    population: Population | None = Field(None, description="both versions on a file of incidents (--incidents)")

    def changed_codes(self) -> list[CodeChange]:
        return [c for c in self.codes if c.status != "unchanged"]


# --------------------------------------------------------------- the texts

def row_text(rows: list[ast.Row] | None, item: ast.Complementary | None) -> Text | None:
    """A code as its version writes it, for a side-by-side view."""
    if rows:
        lines: list[str] = []
        for row in rows:
            prefix = f"({row.label}) " if row.label and len(rows) > 1 else ""
            for word, values in (("exposure", row.exposure), ("modalities", row.modalities), ("in", row.jurisdictions)):
                if values:
                    lines.append(f"{prefix}{word} {', '.join(quoted(v) for v in values)}")
            for word in ("band", "when", "unless"):
                part = getattr(row, word)
                if part is not None:
                    lines.append(f"{prefix}{word} {expression(part)}")
        says = [t.text for row in rows for t in row.says]
        return Text(category=rows[0].category.text if rows[0].category else None,
                    says=list(dict.fromkeys(says)), rule=lines)
    if item is not None:
        lines = [f"suffix {item.suffix_from} to {item.suffix_to}", f"role {item.role}"]
        if item.when is not None:
            lines.append(f"when {expression(item.when)}")
        return Text(category=item.category.text if item.category else None, says=[t.text for t in item.says],
                    rule=lines)
    return None


def section_text(node: Any) -> Text | None:
    """A definition, exclusion, deadline, authority or advice as its version writes it."""
    if node is None:
        return None
    lines: list[str] = []
    if isinstance(node, ast.Definition):
        lines = [f"as {line}" for line in expression(node.body).splitlines()]
    elif isinstance(node, ast.Exclusion):
        lines = [f"codes {', '.join(node.codes)}"] + ([f"when {expression(node.when)}"] if node.when else [])
    elif isinstance(node, ast.Deadline):
        lines = [f"{node.name}: {node.amount.text} {node.amount.unit} after {node.after}"]
    elif isinstance(node, ast.Authority):
        lines = [f"name {node.name}"] + ([f"contact {node.contact}"] if node.contact else [])
    elif isinstance(node, ast.Advice):
        lines = ([f"when {expression(node.when)}"] if node.when else []) + [
            f"in {', '.join(t.jurisdictions)}: {t.text}" for t in node.texts]
    elif isinstance(node, ast.Interpretation):
        return Text(says=[node.text])
    return Text(says=[t.text for t in getattr(node, "says", ())], rule=lines)


# ---------------------------------------------------------------- redlines

def redline(old: str, new: str) -> Redline:
    """Word-level differences, keeping the spaces, for a reader to see what moved."""
    a, b = re.findall(r"\S+|\s+", old), re.findall(r"\S+|\s+", new)
    parts: list[RedlinePart] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(RedlinePart(op="same", text="".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(RedlinePart(op="removed", text="".join(a[i1:i2])))
        if j2 > j1:
            parts.append(RedlinePart(op="added", text="".join(b[j1:j2])))
    return Redline(old=old, new=new, parts=parts)


def _paragraphs(texts: Iterable[ast.Text]) -> str:
    return " ".join(t.text for t in texts)


# --------------------------------------------------------- structural changes

_CONSTANT = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:%|\s*(?:[A-Za-zµμ]+(?=\s|$|\))))?")


def _atoms(node: Any) -> list[Any]:
    """The leaf conditions of an expression, each with its `not` folded in."""
    if node is None:
        return []
    if isinstance(node, (ast.And, ast.Or)):
        return [atom for op in node.operands for atom in _atoms(op)]
    if isinstance(node, ast.Not) and isinstance(node.operand, (ast.And, ast.Or)):
        return _atoms(node.operand)
    return [node]


def _skeleton(text: str) -> str:
    return _CONSTANT.sub("#", text)


def _operators(text: str) -> str:
    return re.sub(r">=|<=|!=|>|<|=", "~", text)


def _value_set(atom: ast.IsValue, domain: tuple[str, ...]) -> frozenset[str]:
    chosen = frozenset(atom.values)
    return frozenset(domain) - chosen if atom.negated else chosen


def compare_conditions(old: Any, new: Any, facts: dict, part: str) -> list[Change]:
    """What changed between two conditions, atom by atom, in words."""
    if old is None and new is None:
        return []
    if old is None or new is None:
        return [Change(what=part, message=f"{part} {'added' if old is None else 'removed'}",
                       old=expression(old) if old is not None else None,
                       new=expression(new) if new is not None else None)]
    if expression(old) == expression(new):
        return []
    changes: list[Change] = []
    left = list({expression(a): a for a in _atoms(old)}.items())
    right = list({expression(a): a for a in _atoms(new)}.items())
    for text, _ in list(left):  # the same atom on both sides: unchanged
        match = next((r for r in right if r[0] == text), None)
        if match:
            left.remove(next(l for l in left if l[0] == text))
            right.remove(match)
    # Tests of the same fact with other values.
    for l_text, l_atom in list(left):
        if not isinstance(l_atom, ast.IsValue):
            continue
        match = next((r for r in right if isinstance(r[1], ast.IsValue) and r[1].fact == l_atom.fact), None)
        if match is None or l_atom.fact not in facts:
            continue
        domain = facts[l_atom.fact].values
        before, after = _value_set(l_atom, domain), _value_set(match[1], domain)
        words = []
        if after - before:
            words.append("now also " + ", ".join(v for v in domain if v in after - before))
        if before - after:
            words.append("no longer " + ", ".join(v for v in domain if v in before - after))
        where = f"{part}: " if part in ("band", "unless") else ""
        message = where + (f"{l_atom.fact}: " + "; ".join(words) if words else f"{l_atom.fact}: written differently")
        changes.append(Change(what="values", message=message, old=l_text, new=match[0]))
        left.remove((l_text, l_atom))
        right.remove(match)
    # The same comparison with another threshold, another operator at the same threshold
    # (an edge that opens or closes), or both.
    for key, what in ((_skeleton, "threshold"), (_operators, "edge"), (lambda t: _operators(_skeleton(t)), "threshold")):
        for l_text, l_atom in list(left):
            match = next((r for r in right if key(r[0]) == key(l_text)), None)
            if match is None:
                continue
            where = f"{part} " if part in ("band", "unless") else ""  # `when` is the default place
            changes.append(Change(what=what, message=f"{where}{what}: {l_text} -> {match[0]}", old=l_text,
                                  new=match[0]))
            left.remove((l_text, l_atom))
            right.remove(match)
    for text, _ in left:
        changes.append(Change(what="condition dropped", message=f"{part}: condition dropped: {text}", old=text))
    for text, _ in right:
        changes.append(Change(what="condition added", message=f"{part}: condition added: {text}", new=text))
    if not changes:  # the same atoms, put together differently
        changes.append(Change(what=part, message=f"{part} rearranged", old=expression(old), new=expression(new)))
    return changes


def _scope_changes(old: ast.Row, new: ast.Row) -> list[Change]:
    changes = []
    for field, word in (("exposure", "exposure"), ("modalities", "modalities"), ("jurisdictions", "jurisdictions")):
        before, after = getattr(old, field), getattr(new, field)
        if set(before) == set(after):
            continue
        added = [v for v in after if v not in before]
        removed = [v for v in before if v not in after]
        bits = ([f"now also {', '.join(added)}"] if added else []) + (
            [f"no longer {', '.join(removed)}"] if removed else [])
        changes.append(Change(what="scope", message=f"{word}: {'; '.join(bits) or 'all'}",
                              old=", ".join(before) or "all", new=", ".join(after) or "all"))
    return changes


def _exclusions_for(criteria: ast.Criteria, code: str) -> set[str]:
    return {e.name for e in criteria.exclusions if code in e.codes}


def row_changes(old_rows: list[ast.Row], new_rows: list[ast.Row], old: Guidance, new: Guidance) -> list[Change]:
    """Structural changes between the rows of one code in two versions."""
    facts = new.vocabulary.facts
    changes: list[Change] = []
    old_by_label = {r.label: r for r in old_rows}
    new_by_label = {r.label: r for r in new_rows}
    for label in list(old_by_label) + [l for l in new_by_label if l not in old_by_label]:
        a, b = old_by_label.get(label), new_by_label.get(label)
        prefix = f"({label}) " if label else ""
        if a is None or b is None:
            changes.append(Change(what="row", message=f"row {prefix}{'added' if a is None else 'removed'}".strip()))
            continue
        for change in _scope_changes(a, b):
            change.message = prefix + change.message
            changes.append(change)
        for part in ("band", "when", "unless"):
            for change in compare_conditions(getattr(a, part), getattr(b, part), facts, part):
                change.message = prefix + change.message
                changes.append(change)
    code = (new_rows or old_rows)[0].code
    before, after = _exclusions_for(old.ast, code), _exclusions_for(new.ast, code)
    for name in sorted(after - before):
        changes.append(Change(what="exclusion", message=f"general exclusion {name} now applies", new=name))
    for name in sorted(before - after):
        changes.append(Change(what="exclusion", message=f"general exclusion {name} no longer applies", old=name))
    return changes


def complementary_changes(a: ast.Complementary, b: ast.Complementary, facts: dict) -> list[Change]:
    changes = []
    if (a.suffix_from, a.suffix_to) != (b.suffix_from, b.suffix_to):
        changes.append(Change(what="suffix", message=f"suffix codes {a.suffix_from} to {a.suffix_to} -> "
                                                     f"{b.suffix_from} to {b.suffix_to}",
                              old=f"{a.suffix_from} to {a.suffix_to}", new=f"{b.suffix_from} to {b.suffix_to}"))
    if a.role != b.role:
        changes.append(Change(what="role", message=f"role {a.role} -> {b.role}", old=a.role, new=b.role))
    changes += compare_conditions(a.when, b.when, facts, "when")
    return changes


# ------------------------------------------------------------------ semantics

# Where witnesses live: each quantity on a grid of realistic steps (in its base
# unit), and the typical value it takes unless the witness needs another.
GRID: dict[str, Fraction] = {
    "effective dose": Fraction(1, 10**6), "absorbed dose": Fraction(1, 1000), "activity": Fraction(10**6),
    "length": Fraction(1, 10**4), "duration": Fraction(1), "ratio": Fraction(1, 100),
}
TYPICAL: dict[str, Fraction] = {
    "effective dose": Fraction(1, 1000), "absorbed dose": Fraction(2), "activity": Fraction(10**9),
    "length": Fraction(5, 1000), "duration": Fraction(50), "ratio": Fraction(1), "count": Fraction(1),
}
CEILING: dict[str, Fraction] = {
    "effective dose": Fraction(1, 10), "absorbed dose": Fraction(80), "activity": Fraction(10**10),
    "length": Fraction(5, 100), "duration": Fraction(95), "ratio": Fraction(100), "count": Fraction(40),
}
# The units a clinician reads each kind in: (unit, the least value shown in it), first that fits.
DISPLAY: dict[str, tuple[tuple[str, Fraction], ...]] = {
    "effective dose": (("mSv", Fraction(0)),),
    "absorbed dose": (("Gy", Fraction(1, 10)), ("mGy", Fraction(0))),
    "activity": (("GBq", Fraction(10**9)), ("MBq", Fraction(0))),
    "length": (("mm", Fraction(0)),),
    "duration": (("years", Fraction(0)),),
}
# Round steps a witness prefers for a value that is not at a threshold (in base units).
ROUND: dict[str, tuple[Fraction, ...]] = {
    "effective dose": (Fraction(1, 1000), Fraction(1, 10**4)), "absorbed dose": (Fraction(1), Fraction(1, 10)),
    "activity": (Fraction(10**8),), "length": (Fraction(1, 1000),), "duration": (Fraction(5),),
}


class Semantics:
    """Both versions over one space of incidents, with a solver to compare them."""

    def __init__(self, old: Guidance, new: Guidance):
        facts = {**old.vocabulary.facts, **new.vocabulary.facts}
        self.old, self.new = old, new
        self.space = Space(facts)
        self.e_old, self.e_new = Encoded(old, self.space), Encoded(new, self.space)
        self.domain = self.space.domain()

    def formula(self, side: Encoded, code: str | None) -> z3.BoolRef:
        if code is None:
            return z3.BoolVal(False)
        return side.notifiable() if code == "*" else side.code_met(code)

    def verdict(self, old_code: str | None, new_code: str | None) -> tuple[Verdict, dict[str, z3.ModelRef | None]]:
        a, b = self.formula(self.e_old, old_code), self.formula(self.e_new, new_code)
        models = {"narrowed": self.solve(z3.And(a, z3.Not(b))), "broadened": self.solve(z3.And(z3.Not(a), b))}
        narrowed, broadened = models["narrowed"] is not None, models["broadened"] is not None
        verdict: Verdict = ("both" if narrowed and broadened else "narrowed" if narrowed
                            else "broadened" if broadened else "equivalent")
        return verdict, models

    def matters(self, side: Encoded, code: str, fact: str) -> bool:
        """Whether a yes/no fact can change whether a code is met in one version."""
        var = self.space.vars.get(fact)
        if not isinstance(var, z3.BoolRef) or code not in side.codes():
            return True
        formula = side.code_met(code)
        yes, no = z3.substitute(formula, (var, z3.BoolVal(True))), z3.substitute(formula, (var, z3.BoolVal(False)))
        return self.solve(yes != no) is not None

    def solve(self, target: z3.BoolRef) -> z3.ModelRef | None:
        """An incident of the space meeting `target`, or None when there is none (a proof)."""
        solver = z3.Solver()
        solver.add(self.domain, target)
        return solver.model() if solver.check() == z3.sat else None

    def involved(self, codes: Iterable[str | None]) -> list[str]:
        """The numeric facts a code's rules read, in the order they appear."""
        names: list[str] = []
        for side in (self.e_old, self.e_new):
            for code in codes:
                if code is None:
                    continue
                roots: list[Any] = []
                if code in side.complementary:
                    roots.append(side.complementary[code].when)
                for row in side.rows_by_code.get(code, []):
                    roots += [row.band, row.when, row.unless]
                roots += [e.when for e in side.exclusions.get(code, [])]
                for node in side.checked.reachable(roots):
                    if isinstance(node, ast.Ref) and node.target == "fact" and node.name not in names:
                        if self.space.facts[node.name].numeric:
                            names.append(node.name)
        return names

    def realistic(self, direction: str, old_code: str | None, new_code: str | None,
                  edges: dict[str, set[Fraction]]) -> z3.ModelRef | None:
        """A witness a clinician would recognise.

        On a grid of realistic steps, within realistic ceilings, nothing zero
        unless that is the point; other codes unmet where possible (so the
        difference stands alone); one modality; values at a changed threshold as
        close to it as the difference allows (the boundary witness); every other
        value typical and round.
        """
        a, b = self.formula(self.e_old, old_code), self.formula(self.e_new, new_code)
        target = z3.And(a, z3.Not(b)) if direction == "narrowed" else z3.And(z3.Not(a), b)
        opt = z3.Optimize()
        opt.add(self.domain, target)
        steps: dict[str, Any] = {}
        for name, info in self.space.facts.items():
            var = self.space.vars.get(name)
            if var is None or not info.numeric:
                continue
            if info.kind in GRID:
                steps[name] = z3.Int(f"{name}#steps")
                opt.add(var == steps[name] * rational(GRID[info.kind]))
            if info.kind in CEILING:
                opt.add(var <= rational(CEILING[info.kind]) if info.kind != "count" else var <= int(CEILING["count"]))
            if info.kind in ("effective dose", "absorbed dose", "activity", "length", "duration"):
                opt.add(var >= rational(GRID[info.kind]))  # nothing zero unless that is the point
        others = [c for c in self.e_old.codes() + self.e_new.codes() if c not in (old_code, new_code)]
        for code in dict.fromkeys(others):
            opt.add_soft(z3.Not(self.e_old.code_met(code)), 10, "others")
            opt.add_soft(z3.Not(self.e_new.code_met(code)), 10, "others")
        if "modality" in self.space.vars:  # one modality, as most incidents have
            members = list(self.space.vars["modality"].values())
            opt.add_soft(z3.PbEq([(m, 1) for m in members], 1), 5, "plain")
        for name, info in self.space.facts.items():  # else the first value the vocabulary lists
            if info.kind == ENUM:
                opt.add_soft(self.space.is_value(name, info.values[0]), 1, "first")
            elif info.kind == SET:
                opt.add_soft(self.space.vars[name][info.values[0]], 1, "first")
        for name, info in self.space.facts.items():
            var = self.space.vars.get(name)
            if var is None or name in edges or not info.numeric:
                continue
            if info.kind in TYPICAL:
                typical = TYPICAL[info.kind]
                opt.add_soft(var == (int(typical) if info.kind == "count" else rational(typical)), 1, "typical")
            for weight, step in enumerate(ROUND.get(info.kind, ()), start=1):
                if name in steps:
                    per = step / GRID[info.kind]
                    opt.add_soft(steps[name] % int(per) == 0, 3 - weight, "round")
        if opt.check() != z3.sat:
            return None
        model = opt.model()
        return self._at_edges(model, target, steps, edges) if edges else model

    def _at_edges(self, model: z3.ModelRef, target: z3.BoolRef, steps: dict[str, Any],
                  edges: dict[str, set[Fraction]]) -> z3.ModelRef:
        """Move each value at a changed threshold as near it as the difference allows, the rest held.

        One small problem per fact and threshold, each convex (minimise |value - t|,
        an exact integer linear programme on the grid); the nearest wins. Mixed with
        the preferences above, or with a disjunction over thresholds, z3's optimiser
        may stop short of the optimum.
        """
        for name in sorted(edges):
            best: tuple[Fraction, z3.ModelRef] | None = None
            for threshold in sorted(edges[name]):
                opt = z3.Optimize()
                opt.add(self.domain, target)
                for other, var in self.space.vars.items():
                    if other == name:
                        continue
                    if isinstance(var, dict):
                        opt.add(*[m == model.eval(m, model_completion=True) for m in var.values()])
                    else:
                        opt.add(var == model.eval(var, model_completion=True))
                var = self.space.vars[name]
                if name in steps:
                    opt.add(var == steps[name] * rational(GRID[self.space.facts[name].kind]))
                distance = z3.Real(f"{name}#distance")
                opt.add(distance >= var - rational(threshold), distance >= rational(threshold) - var)
                opt.minimize(distance)
                if opt.check() != z3.sat:
                    continue
                found = opt.model()
                value = found.eval(distance, model_completion=True)
                reached = Fraction(value.numerator_as_long(), value.denominator_as_long())
                if best is None or reached < best[0]:
                    best = (reached, found)
            if best is not None:
                model = best[1]
        return model

    def incident(self, model: z3.ModelRef) -> dict[str, Any]:
        """A model as an incident in the public vocabulary, values in units a clinician reads."""
        out: dict[str, Any] = {}
        for name, info in self.space.facts.items():
            if name not in self.space.vars:
                continue
            value = self.space.value_of(model, name)
            if info.kind == SET:
                out[name] = sorted(value) if len(value) > 1 else next(iter(value))
            elif info.kind in (BOOL, ENUM):
                out[name] = value
            elif info.kind == "count":
                out[name] = int(value)
            elif info.kind == "duration" and info.unit:
                out[name] = int(value) if value.denominator == 1 else f"{show_number(value)} years"
            else:
                out[name] = quantity_text(value, info.kind)
        return out


def quantity_text(value: Fraction, kind: str) -> str:
    """An exact value in the unit a clinician reads it in: 0.025 Sv -> '25 mSv', 0.012 Gy -> '12 mGy'."""
    for unit, least in DISPLAY.get(kind, ()):
        if value >= least:
            return f"{show_number(to_unit(value, kind, unit))} {unit}"
    return show_number(value)


# ------------------------------------------------------------------ witnesses

def _signature(guidance: Guidance, incident: dict, code: str | None) -> tuple:
    result = guidance.evaluate(incident)
    met: bool | None = False  # a code a version does not have is never met
    if code == "*":
        met = result.notifiable
    elif code is not None:
        outcomes = [e.outcome for e in result.explanation if e.code == code]
        met = True if (code in result.codes or "met" in outcomes) else (
            None if "undetermined" in outcomes else False)
    return result.notifiable, tuple(result.codes), met


def _minimise(semantics: Semantics, incident: dict, old_code: str | None, new_code: str | None) -> dict:
    """Drop every fact whose absence leaves both versions' results as they are."""
    want = (_signature(semantics.old, incident, old_code), _signature(semantics.new, incident, new_code))
    keep = {"jurisdiction", "exposure", "modality"}
    order = sorted(incident, key=lambda k: (semantics.space.facts[k].has_default is False, k))
    current = dict(incident)
    for name in order:
        if name in keep:
            continue
        trial = {k: v for k, v in current.items() if k != name}
        if (_signature(semantics.old, trial, old_code), _signature(semantics.new, trial, new_code)) == want:
            current = trial
    # Facts given as their default say nothing: drop them too.
    for name in list(current):
        info = semantics.space.facts[name]
        if info.has_default and info.kind in (BOOL, ENUM) and current[name] == info.default:
            trial = {k: v for k, v in current.items() if k != name}
            if (_signature(semantics.old, trial, old_code), _signature(semantics.new, trial, new_code)) == want:
                current = trial
    return current


def _boundary(semantics: Semantics, incident: dict, edges: list[str]) -> list[str]:
    """Say where each value at a changed threshold sits: exactly on it, or the nearest step past it."""
    notes = []
    for name in edges:
        if name not in incident:
            continue
        value = semantics.old.read({name: incident[name]}).values[name]
        if not isinstance(value, Measure):
            continue
        for side in (semantics.e_old, semantics.e_new):
            hits = [n for n in side.criteria.walk() if isinstance(n, ast.Compare)
                    and any(isinstance(o, ast.Ref) and o.name == name for o in n.operands)
                    and any(isinstance(o, ast.Number) and o.value == value.value for o in n.operands)]
            if hits:
                notes.append(f"{name} {incident[name]} is exactly the threshold of `{expression(hits[0])}` "
                             f"in {side.criteria.header.version}")
                break
        else:
            notes.append(f"{name} {incident[name]}: the nearest value to the changed threshold that shows the "
                         f"difference")
    return notes


def _edges(semantics: Semantics, changes: list[Change]) -> dict[str, set[Fraction]]:
    """The numeric facts whose thresholds changed, and the old and new thresholds."""
    edges: dict[str, set[Fraction]] = {}
    for change in changes:
        if change.what not in ("threshold", "edge"):
            continue
        for text, guidance in ((change.old, semantics.old), (change.new, semantics.new)):
            for node in guidance.ast.walk():
                if isinstance(node, ast.Compare) and expression(node) == text:
                    facts = [o.name for o in node.operands if isinstance(o, ast.Ref) and o.target == "fact"]
                    values = [o.value for o in node.operands if isinstance(o, ast.Number)]
                    for fact in facts:
                        if semantics.space.facts[fact].numeric:
                            edges.setdefault(fact, set()).update(values)
    return {k: v for k, v in edges.items() if v}


def witness(semantics: Semantics, direction: str, old_code: str | None, new_code: str | None,
            fallback: z3.ModelRef, changes: list[Change] | None = None) -> Witness:
    edges = _edges(semantics, changes or [])
    model = semantics.realistic(direction, old_code, new_code, edges) or fallback
    full = semantics.incident(model)
    incident = _minimise(semantics, full, old_code, new_code)
    old_n, old_codes, old_met = _signature(semantics.old, incident, old_code)
    new_n, new_codes, new_met = _signature(semantics.new, incident, new_code)
    return Witness(direction=direction, incident=incident,
                   old=Side(version=semantics.old.version, notifiable=old_n, codes=list(old_codes), met=old_met),
                   new=Side(version=semantics.new.version, notifiable=new_n, codes=list(new_codes), met=new_met),
                   boundary=_boundary(semantics, incident, list(edges)))


def _proof(verdict: Verdict, old_code: str | None, new_code: str | None) -> str:
    if verdict == "equivalent":
        return ("proved equivalent: no complete incident meets one version's rule and not the other's "
                "(z3: both directions unsatisfiable)")
    return {"narrowed": "narrowed: some incidents meet the old rule and not the new; none the reverse (z3)",
            "broadened": "broadened: some incidents meet the new rule and not the old; none the reverse (z3)",
            "both": "both: some incidents meet only the old rule, others only the new (z3)"}[verdict]


def semantic(semantics: Semantics, change: CodeChange, old_code: str | None, new_code: str | None) -> None:
    verdict, models = semantics.verdict(old_code, new_code)
    change.verdict = verdict
    change.proof = _proof(verdict, old_code, new_code)
    for direction in ("narrowed", "broadened"):
        if models[direction] is not None:
            change.witnesses.append(witness(semantics, direction, old_code, new_code, models[direction],
                                            change.changes))


# ----------------------------------------------------------------- sections

def _section_changes(old: Guidance, new: Guidance) -> list[SectionChange]:
    out: list[SectionChange] = []
    facts = new.vocabulary.facts

    def pair(section: str, olds: dict, news: dict, compare) -> None:
        for name in list(olds) + [n for n in news if n not in olds]:
            a, b = olds.get(name), news.get(name)
            texts = {"old_text": section_text(a), "new_text": section_text(b)}
            if a is None or b is None:
                out.append(SectionChange(section=section, name=name, status="added" if a is None else "removed",
                                         changes=[Change(what=section, message=f"{section} {name} "
                                                                               f"{'added' if a is None else 'removed'}")],
                                         **texts))
                continue
            changes, says = compare(a, b)
            if changes or (says and says.changed):
                out.append(SectionChange(section=section, name=name, status="changed", changes=changes,
                                         says=says if says and says.changed else None, **texts))

    def texts(a: Any, b: Any) -> Redline | None:
        return redline(_paragraphs(a.says), _paragraphs(b.says))

    pair("definition", {d.name: d for d in old.ast.definitions}, {d.name: d for d in new.ast.definitions},
         lambda a, b: (compare_conditions(a.body, b.body, facts, "definition")
                       if not isinstance(a.body, ast.Case) or expression(a.body) != expression(b.body) else [],
                       texts(a, b)))
    pair("exclusion", {e.name: e for e in old.ast.exclusions}, {e.name: e for e in new.ast.exclusions},
         lambda a, b: (([Change(what="codes", message=f"codes {', '.join(a.codes)} -> {', '.join(b.codes)}")]
                        if a.codes != b.codes else []) + compare_conditions(a.when, b.when, facts, "when"),
                       texts(a, b)))
    pair("deadline", {d.name: d for d in old.ast.deadlines}, {d.name: d for d in new.ast.deadlines},
         lambda a, b: ([Change(what="deadline", message=f"{a.days} days -> {b.days} days after {b.after}",
                               old=f"{a.days} days", new=f"{b.days} days")] if (a.days, a.after) != (b.days, b.after)
                       else [], texts(a, b)))
    pair("authority", {a.jurisdiction: a for a in old.ast.authorities},
         {a.jurisdiction: a for a in new.ast.authorities},
         lambda a, b: ([Change(what="authority", message=f"{field}: {getattr(a, field)} -> {getattr(b, field)}",
                               old=getattr(a, field), new=getattr(b, field))
                        for field in ("name", "contact") if getattr(a, field) != getattr(b, field)], texts(a, b)))
    pair("advice", {a.name: a for a in old.ast.advice}, {a.name: a for a in new.ast.advice},
         lambda a, b: ([Change(what="advice", message=f"in {', '.join(t.jurisdictions)}: advice changed",
                               old=next((o.text for o in a.texts if o.jurisdictions == t.jurisdictions), None),
                               new=t.text)
                        for t in b.texts if t.text not in [o.text for o in a.texts]]
                       + compare_conditions(a.when, b.when, facts, "when"), texts(a, b)))
    pair("interpretation", _interpretations(old.ast), _interpretations(new.ast),
         lambda a, b: ([], redline(a.text, b.text)))
    return out


def _interpretations(criteria: ast.Criteria) -> dict[str, ast.Interpretation]:
    found: dict[str, ast.Interpretation] = {}
    for node in criteria.walk():
        if isinstance(node, ast.Interpretation):
            found.setdefault(node.id, node)
    return found


# -------------------------------------------------------------------- diff

def _rows_by_code(criteria: ast.Criteria) -> dict[str, list[ast.Row]]:
    rows: dict[str, list[ast.Row]] = {}
    for row in criteria.rows:
        rows.setdefault(row.code, []).append(row)
    return rows


def _note_irrelevant(semantics: Semantics, change: CodeChange, old_code: str | None, new_code: str | None) -> None:
    """A yes/no condition dropped or added that never changed the outcome is said to be so."""
    for item in change.changes:
        text = item.old if item.what == "condition dropped" else item.new if item.what == "condition added" else None
        if not text:
            continue
        fact = text.removeprefix("not ").strip()
        side, code = ((semantics.e_old, old_code) if item.what == "condition dropped"
                      else (semantics.e_new, new_code))
        if code and fact in semantics.space.facts and not semantics.matters(side, code, fact):
            rule = "old" if item.what == "condition dropped" else "new"
            item.message += f" (it never mattered: the {rule} rule gives the same answer with or without it)"


def _title(rows: list[ast.Row] | None, item: ast.Complementary | None) -> str:
    node = (rows[0] if rows else item)
    return node.category.text if node is not None and node.category is not None else ""


def diff(old: Guidance, new: Guidance, renames: dict[str, str] | None = None) -> DiffReport:
    """Compare two versions of the criteria at the structural and semantic levels."""
    renames = dict(renames or {})
    semantics = Semantics(old, new)
    old_rows, new_rows = _rows_by_code(old.ast), _rows_by_code(new.ast)
    old_comp = {c.code: c for c in old.ast.complementary}
    new_comp = {c.code: c for c in new.ast.complementary}
    new_for_old = {code: renames.get(code, code) for code in list(old_rows) + list(old_comp)}
    old_for_new = {v: k for k, v in new_for_old.items()}
    order = list(new_rows) + [renames.get(c, c) for c in old_rows if renames.get(c, c) not in new_rows]
    order += list(new_comp) + [c for c in old_comp if c not in new_comp]
    codes: list[CodeChange] = []
    for new_code in dict.fromkeys(order):
        old_code = old_for_new.get(new_code)
        if old_code is not None and old_code not in old_rows and old_code not in old_comp:
            old_code = None
        in_new = new_code in new_rows or new_code in new_comp
        a_rows, b_rows = old_rows.get(old_code or ""), new_rows.get(new_code)
        a_item, b_item = old_comp.get(old_code or ""), new_comp.get(new_code)
        status: Status = "added" if old_code is None else "removed" if not in_new else "changed"
        change = CodeChange(code=new_code if in_new else old_code, status=status,
                            old_code=old_code if old_code and old_code != new_code else None,
                            title=_title(b_rows or a_rows, b_item or a_item))
        if status == "changed":
            a_doc, b_doc = (a_rows[0] if a_rows else a_item), (b_rows[0] if b_rows else b_item)
            category = redline(a_doc.category.text if a_doc.category else "",
                               b_doc.category.text if b_doc.category else "")
            says = redline(_paragraphs(a_doc.says), _paragraphs(b_doc.says))
            change.category = category if category.changed else None
            change.says = says if says.changed else None
            if a_rows is not None and b_rows is not None:
                change.changes = row_changes(a_rows, b_rows, old, new)
            elif a_item is not None and b_item is not None:
                change.changes = complementary_changes(a_item, b_item, new.vocabulary.facts)
                before, after = _exclusions_for(old.ast, old_code), _exclusions_for(new.ast, new_code)
                change.changes += [Change(what="exclusion", message=f"general exclusion {n} now applies", new=n)
                                   for n in sorted(after - before)]
                change.changes += [Change(what="exclusion", message=f"general exclusion {n} no longer applies",
                                          old=n) for n in sorted(before - after)]
            else:
                change.changes = [Change(what="kind", message="a row in one version, a complementary code in "
                                                              "the other")]
        change.old_text, change.new_text = row_text(a_rows, a_item), row_text(b_rows, b_item)
        _note_irrelevant(semantics, change, old_code, new_code)
        semantic(semantics, change, old_code, new_code if in_new else None)
        if status == "changed" and change.verdict == "equivalent" and not (change.changes or change.category
                                                                               or change.says):
            change.status = "unchanged"
        codes.append(change)
    overall = CodeChange(code="notifiable", status="changed", title="notifiable under any code")
    semantic(semantics, overall, "*", "*")
    sections = _section_changes(old, new)
    return DiffReport(
        old=VersionRef(version=old.version, published=old.header.published, file=old.name),
        new=VersionRef(version=new.version, published=new.header.published, file=new.name),
        codes=codes, notifiable=overall, sections=sections,
        can_flip=overall.verdict != "equivalent" or any(c.verdict != "equivalent" for c in codes))
