"""What a new version of the guidance changes: structure, meaning, and who is affected.

Three levels (docs/diff.md):

1. Structural: rows matched by code (or a rename map), each changed part shown
   as a word-level redline or as a normalised change ("threshold 20% -> 50%",
   "condition dropped: procedural_failure", "imaging_cause: now also
   hardware_software_failure"), a code that changes through a definition, a
   `criteria of` or a general exclusion it reads ("changes through the
   definition `child`"), and the other sections (the tables' own words,
   definitions, exclusions, deadlines, authorities, advice, routes, derived
   facts and conflicts).
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
from dataclasses import dataclass, field as dataclass_field
from fractions import Fraction
from math import ceil, floor
from typing import Any, Iterable, Iterator, Literal

import z3
from pydantic import BaseModel, Field

from ..language import ast
from ..language.show import show_number
from .impact import Population
from ..load import Guidance
from ..language.printer import expression, value as quoted
from ..engines.smt import Encoded, Space, rational
from ..language.incident import IncidentError
from ..language.units import BOOL, ENUM, KINDS, SET, to_unit
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
                                  "unless, exclusion, through (a definition, `criteria of` or general exclusion "
                                  "the code reads changed), note, interpretation, title, suffix, role, definition, "
                                  "text, ...")
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


class NoWitness(BaseModel):
    """A direction the verdict proves, for which no incident is shown, and why."""

    direction: Literal["narrowed", "broadened"]
    reason: str


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
    no_witness: list[NoWitness] = Field(default_factory=list, description="directions proved but shown without a "
                                        "witness: no incident the evaluator confirms could be written exactly")


class SectionChange(BaseModel):
    """A change outside the rows: a table's own words, a definition, an exclusion, a deadline, an authority,
    advice, a route, a derived fact, a conflict, an interpretation."""

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
    """A definition, exclusion, deadline, authority, advice, route, derivation or conflict as its version
    writes it."""
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
    elif isinstance(node, ast.Route):
        lines = (([f"when {expression(node.when)}"] if node.when else [])
                 + ([f"verdict {', '.join(node.verdicts)}"] if node.verdicts else [])
                 + [f"to {', '.join(t.jurisdictions) + ': ' if t.jurisdictions else ''}{t.text}" for t in node.to]
                 + ([f"why {node.why}"] if node.why else []))
    elif isinstance(node, ast.Derivation):
        lines = [f"as {branch.value} if {expression(branch.condition)}" for branch in node.branches]
    elif isinstance(node, ast.Conflict):
        lines = ([f"when {expression(node.when)}"] if node.when else []) + (
            [f"message {node.message}"] if node.message else [])
    elif isinstance(node, ast.Interpretation):
        return Text(says=[node.text])
    elif isinstance(node, ast.Table):
        lines = ([f"exposure {', '.join(node.exposure)}"] if node.exposure else []) + [
            f"rows {', '.join(dict.fromkeys(row.code for row in node.rows))}"]
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
        for change in note_changes(a.notes, b.notes):
            change.message = prefix + change.message
            changes.append(change)
    # Under a rename the old rows have the old code: each version's exclusions are looked up by its own.
    old_code, new_code = (old_rows or new_rows)[0].code, (new_rows or old_rows)[0].code
    before, after = _exclusions_for(old.ast, old_code), _exclusions_for(new.ast, new_code)
    for name in sorted(after - before):
        changes.append(Change(what="exclusion", message=f"general exclusion {name} now applies", new=name))
    for name in sorted(before - after):
        changes.append(Change(what="exclusion", message=f"general exclusion {name} no longer applies", old=name))
    return changes


def note_changes(old: Iterable[ast.Text], new: Iterable[ast.Text]) -> list[Change]:
    """Our notes that were added, removed or reworded (one removed and one added is one note reworded)."""
    before, after = [t.text for t in old], [t.text for t in new]
    gone, came = [n for n in before if n not in after], [n for n in after if n not in before]
    if len(gone) == 1 and len(came) == 1:
        return [Change(what="note", message="note reworded", old=gone[0], new=came[0])]
    return ([Change(what="note", message=f"note removed: {n}", old=n) for n in gone]
            + [Change(what="note", message=f"note added: {n}", new=n) for n in came])


def interpretation_changes(old: Iterable[ast.Interpretation], new: Iterable[ast.Interpretation]) -> list[Change]:
    """The interpretations recorded on one block, by id (each is also listed, with its text, as a section)."""
    before, after = {i.id: i.text for i in old}, {i.id: i.text for i in new}
    changes = [Change(what="interpretation", message=f"interpretation {i} removed", old=i) for i in before
               if i not in after]
    changes += [Change(what="interpretation", message=f"interpretation {i} added", new=i) for i in after
                if i not in before]
    changes += [Change(what="interpretation", message=f"interpretation {i} reworded", old=i, new=i)
                for i in after if i in before and before[i] != after[i]]
    return changes


def table_changes(a: ast.Table, b: ast.Table) -> list[Change]:
    """What changed in a table's own clauses: its title, its exposure, our notes and interpretations on it.

    Its regulator's words are compared as a redline beside these (the section's `says`).
    """
    changes = []
    if a.title != b.title:
        changes.append(Change(what="title", message=f"title: {a.title} -> {b.title}", old=a.title, new=b.title))
    if set(a.exposure) != set(b.exposure):
        added, removed = [v for v in b.exposure if v not in a.exposure], [v for v in a.exposure if v not in b.exposure]
        bits = ([f"now also {', '.join(added)}"] if added else []) + ([f"no longer {', '.join(removed)}"] if removed
                                                                      else [])
        changes.append(Change(what="scope", message=f"exposure: {'; '.join(bits)} (for every row of the table)",
                              old=", ".join(a.exposure) or "all", new=", ".join(b.exposure) or "all"))
    return changes + note_changes(a.notes, b.notes) + interpretation_changes(a.interpretations, b.interpretations)


def _tables_paired(old: ast.Criteria, new: ast.Criteria) -> tuple[dict[str, ast.Table], dict[str, ast.Table]]:
    """Both versions' tables, keyed alike: by title, and a retitled table by the codes of its rows."""
    olds, news = {t.title: t for t in old.tables}, {t.title: t for t in new.tables}
    for title, table in list(news.items()):
        if title in olds:
            continue
        codes = {row.code for row in table.rows}
        match = next((o for o, other in olds.items() if o not in news and codes & {r.code for r in other.rows}), None)
        if match is not None:
            olds[title] = olds.pop(match)
    return olds, news


# ----------------------------------------------------- changes through what a code reads

def dependencies(criteria: ast.Criteria, code: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """What a code's rule reads beyond its own rows, each with the way it is reached.

    (kind, name) -> via: every definition and `criteria of` its band, `when`
    and `unless` reach (through each other), and every general exclusion that
    names it, with what those read in turn. `via` lists what leads there
    ("the definition `adult`" for `child` read by row 1), nearest first.
    """
    definitions = {d.name: d for d in criteria.definitions}
    rows = _rows_by_code(criteria)
    roots: list[tuple[Any, tuple[str, ...]]] = []
    for row in rows.get(code, []):
        roots += [(part, ()) for part in (row.band, row.when, row.unless) if part is not None]
    roots += [(c.when, ()) for c in criteria.complementary if c.code == code and c.when is not None]
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for exclusion in criteria.exclusions:
        if code in exclusion.codes:
            found[("exclusion", exclusion.name)] = ()
            if exclusion.when is not None:
                roots.append((exclusion.when, (_DEPENDENCY["exclusion"](exclusion.name),)))
    queue = list(roots)
    while queue:  # breadth first: the shortest way to each
        node, via = queue.pop(0)
        for sub in node.walk():
            if isinstance(sub, ast.Ref) and sub.target == "definition" and sub.name in definitions:
                key = ("definition", sub.name)
                if key not in found:
                    found[key] = via
                    queue.append((definitions[sub.name].body, via + (_DEPENDENCY["definition"](sub.name),)))
            elif isinstance(sub, ast.CriteriaOf) and ("criteria of", sub.code) not in found:
                found[("criteria of", sub.code)] = via
                queue += [(row.when, via + (_DEPENDENCY["criteria of"](sub.code),))
                          for row in rows.get(sub.code, []) if row.when is not None]
    return found


# How each kind of dependency is named in a message.
_DEPENDENCY = {"definition": lambda name: f"the definition `{name}`",
               "criteria of": lambda code: f"`criteria of {code}`",
               "exclusion": lambda name: f"the general exclusion `{name}`"}


def _dependency_rule(criteria: ast.Criteria, kind: str, name: str) -> Any:
    """The rule a dependency stands for in one version (None when it has none): a definition's body, the
    `when` of the rows a `criteria of` names, an exclusion's condition."""
    if kind == "definition":
        return next((d.body for d in criteria.definitions if d.name == name), None)
    if kind == "criteria of":
        whens = [row.when for row in criteria.rows if row.code == name and row.when is not None]
        return whens[0] if len(whens) == 1 else (ast.Or(operands=tuple(whens)) if whens else None)
    return next((e.when for e in criteria.exclusions if e.name == name), None)


def through_changes(old: ast.Criteria, new: ast.Criteria, old_code: str | None, new_code: str | None,
                    facts: dict) -> list[Change]:
    """A code changed through something it reads: 'changes through the definition `child`', with what moved there.

    Each definition, `criteria of` and general exclusion the code reads (in
    either version) whose rule differs between the versions gives one `through`
    change, and its thresholds, edges and conditions as changes of their own
    (so that a witness can sit on a threshold that moved in a definition). An
    exclusion that starts or stops naming the code is said elsewhere ("now
    applies").
    """
    reads: dict[tuple[str, str], tuple[str, ...]] = {}
    for criteria, code in ((new, new_code), (old, old_code)):
        if code is not None:
            for key, via in dependencies(criteria, code).items():
                reads.setdefault(key, via)
    changes: list[Change] = []
    for (kind, name), via in reads.items():
        a, b = _dependency_rule(old, kind, name), _dependency_rule(new, kind, name)
        if kind == "exclusion" and not (a is not None and b is not None
                                        and any(e.name == name and old_code in e.codes for e in old.exclusions)
                                        and any(e.name == name and new_code in e.codes for e in new.exclusions)):
            continue  # added to the code or taken from it: "general exclusion ... now applies"
        before, after = (_one_line(a), _one_line(b))
        if before == after:
            continue
        label = _DEPENDENCY[kind](name)
        where = f" (read through {', '.join(via)})" if via else ""
        changes.append(Change(what="through", message=f"changes through {label}{where}", old=before, new=after))
        if a is not None and b is not None and not isinstance(a, ast.Case) and not isinstance(b, ast.Case):
            for inner in compare_conditions(a, b, facts, "when"):
                inner.message = f"{label}: {inner.message.removeprefix('when: ')}"
                changes.append(inner)
        elif a is not None and b is not None:
            for branch_a, branch_b in zip(_case_parts(a), _case_parts(b)):
                for inner in compare_conditions(branch_a, branch_b, facts, "when"):
                    inner.message = f"{label}: {inner.message.removeprefix('when: ')}"
                    changes.append(inner)
    return changes


def _one_line(node: Any) -> str | None:
    """A rule on one line (a definition by cases is printed on several: `; ` between its branches)."""
    return None if node is None else "; ".join(line.strip() for line in expression(node).splitlines())


def _case_parts(node: Any) -> list[Any]:
    """The conditions and values of a definition by cases, in order, to compare branch by branch."""
    if not isinstance(node, ast.Case):
        return [node]
    return [part for branch in node.branches for part in (branch.value, branch.condition)] + [node.otherwise]


def _settle_through(change: "CodeChange") -> None:
    """Once the verdict is known: a dependency that changed and made no difference is said to be so."""
    if change.verdict != "equivalent":
        return
    for item in change.changes:
        if item.what == "through":
            item.message = (item.message.replace("changes through", "reads", 1)
                            + ", which changed; no incident meets this code differently (proved)")


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
# When no incident on the grid shows a difference, the grid is divided by these in turn; None: no grid at all.
REFINE: tuple[int | None, ...] = (1, 10**3, 10**6, 10**9, 10**12, None)
# A value z3 gives with no finite decimal (1/3) is tried at these decimal places, rounded each way.
PLACES = (3, 6, 9, 12, 18)
ROUNDING = ("nearest", "down", "up")
# Round steps a witness prefers for a value that is not at a threshold (in base units).
ROUND: dict[str, tuple[Fraction, ...]] = {
    "effective dose": (Fraction(1, 1000), Fraction(1, 10**4)), "absorbed dose": (Fraction(1), Fraction(1, 10)),
    "activity": (Fraction(10**8),), "length": (Fraction(1, 1000),), "duration": (Fraction(5),),
}


@dataclass(frozen=True)
class Edge:
    """A changed threshold a witness can sit on: the fact it moves, and a term that is zero exactly there."""

    fact: str
    zero: Any
    text: str  # the comparison, as the file writes it
    version: str
    side: Literal["old", "new"]


@dataclass
class Found:
    """An incident the witness search found, and how: each numeric fact's grid step, the facts moved to an edge."""

    values: dict[str, Any]  # each fact's value: a named value, yes/no, a set, an exact fraction in base units
    steps: dict[str, Fraction] = dataclass_field(default_factory=dict)
    moved: set[str] = dataclass_field(default_factory=set)


class Semantics:
    """Both versions over one space of incidents, with a solver to compare them."""

    def __init__(self, old: Guidance, new: Guidance):
        facts = {**old.vocabulary.facts, **new.vocabulary.facts}
        self.old, self.new = old, new
        self.space = Space(facts)
        self.e_old = Encoded(old, self.space)
        # One version against itself (lint's search) is encoded once: its formulas are built once, not twice.
        self.e_new = self.e_old if new is old else Encoded(new, self.space)
        # Incidents both versions can read: derived facts agree with their derivation, no conflict holds.
        self.domain = z3.And(self.space.domain(), self.e_old.consistent(), self.e_new.consistent())
        self._solver: z3.Solver | None = None
        # A realistic witness contradicts nothing where it can (a complete incident gives every fact a conflict
        # reads; `readable` leaves one out where it must); proofs keep the wider domain, where a conflict
        # needs its facts given (Encoded.consistent).
        self.conflicts = [z3.Not(side.cond(c.when)) for side in (self.e_old, self.e_new)
                          for c in side.criteria.conflicts if c.when is not None]

    def formula(self, side: Encoded, code: str | None) -> z3.BoolRef:
        if code is None:
            return z3.BoolVal(False)
        return side.notifiable() if code == "*" else side.code_met(code)

    def difference(self, direction: str, old_code: str | None, new_code: str | None) -> z3.BoolRef:
        """The incidents that show a direction: met under the old rule only (narrowed), or the new only."""
        a, b = self.formula(self.e_old, old_code), self.formula(self.e_new, new_code)
        return z3.And(a, z3.Not(b)) if direction == "narrowed" else z3.And(z3.Not(a), b)

    def verdict(self, old_code: str | None, new_code: str | None) -> tuple[Verdict, dict[str, z3.ModelRef | None]]:
        models = {direction: self.solve(self.difference(direction, old_code, new_code))
                  for direction in ("narrowed", "broadened")}
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
        return self.satisfiable(yes != no)

    def satisfiable(self, target: z3.BoolRef) -> bool:
        """Whether an incident of the space meets `target`: `solve` without fetching the model, which costs as
        much as the answer when the answer is all a question needs (lint asks hundreds)."""
        return self.solve(target, model=False) is not None

    def solve(self, target: z3.BoolRef, model: bool = True) -> z3.ModelRef | Literal[True] | None:
        """An incident of the space meeting `target` (with `model=False`, True), or None when there is none
        (a proof)."""
        # One solver keeps the domain (asserted once, the bulk of every query); each target is pushed and
        # popped: lint asks some 600 questions of one file, and a fresh solver each time cost a third of it.
        if self._solver is None:
            self._solver = z3.Solver()
            self._solver.add(self.domain)
        solver = self._solver
        solver.push()
        try:
            solver.add(target)
            if solver.check() != z3.sat:
                return None
            return solver.model() if model else True
        finally:
            solver.pop()

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
                  edges: Iterable[Edge] = ()) -> Found | None:
        """A witness a clinician would recognise.

        On a grid of realistic steps, within realistic ceilings, nothing zero
        unless that is the point; other codes unmet where possible (so the
        difference stands alone); one modality; values at a changed threshold as
        close to it as the difference allows (the boundary witness); every other
        value typical and round. When no incident on the grid shows the
        difference (thresholds 0.0000001 mSv apart), the grid is refined a
        thousandfold at a time, and at last dropped with the ceilings.
        """
        # On a tie, the threshold of the rule that catches the witness: the old one's when narrowed
        # (25 mSv when `>= 25 mSv` became `>= 30 mSv`), the new one's when broadened (20.001 mSv for `> 20 mSv`).
        catches = "old" if direction == "narrowed" else "new"
        edges = sorted(edges, key=lambda edge: edge.side != catches)
        target = self.difference(direction, old_code, new_code)
        for refine in REFINE:
            found = self._realistic(target, {edge.fact for edge in edges}, refine)
            if found is not None:
                return self._at_edges(found, target, edges) if edges else found
        return None

    def _realistic(self, target: z3.BoolRef, at_edges: set[str], refine: int | None) -> Found | None:
        opt = z3.Optimize()
        opt.add(self.domain, target)
        for consistent in self.conflicts:
            opt.add_soft(consistent, 100)
        steps: dict[str, Any] = {}
        grid: dict[str, Fraction] = {}
        for name, info in self.space.facts.items():
            var = self.space.vars.get(name)
            if var is None or not info.numeric:
                continue
            if info.kind == "count":
                grid[name] = Fraction(1)
            if refine is None:  # the last resort: any value the rules allow
                continue
            if info.kind in GRID:
                grid[name] = GRID[info.kind] / refine
                steps[name] = z3.Int(f"{name}#steps")
                opt.add(var == steps[name] * rational(grid[name]))
            if info.kind in CEILING:
                opt.add(var <= rational(CEILING[info.kind]) if info.kind != "count" else var <= int(CEILING["count"]))
            if info.kind in ("effective dose", "absorbed dose", "activity", "length", "duration"):
                opt.add(var >= rational(GRID[info.kind]))  # nothing zero unless that is the point
        codes = (self.e_old.codes(), self.e_new.codes())
        for code in dict.fromkeys(codes[0] + codes[1]):
            # Other codes unmet where possible: the code in question is in the target, so this costs it nothing.
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
            if var is None or name in at_edges or not info.numeric:
                continue
            if info.kind in TYPICAL:
                typical = TYPICAL[info.kind]
                opt.add_soft(var == (int(typical) if info.kind == "count" else rational(typical)), 1, "typical")
            for weight, step in enumerate(ROUND.get(info.kind, ()), start=1):
                if name in steps:
                    per = step / grid[name]
                    opt.add_soft(steps[name] % int(per) == 0, 3 - weight, "round")
        if opt.check() != z3.sat:
            return None
        return Found(self.values(opt.model()), grid)

    def _at_edges(self, found: Found, target: z3.BoolRef, edges: list[Edge]) -> Found:
        """Move each value at a changed threshold as near it as the difference allows, the rest held.

        With the other facts held, a threshold is one value of the fact moved,
        absolute (`25 mSv`) or relative (`10 times intended_dose`, `outside ±20%
        of prescribed_activity`) alike: the threshold itself when it shows the
        difference, else the nearest step of the grid on either side that does.
        Each candidate is checked exactly (every fact substituted), so the
        nearest is found without an optimiser, which can stall on a region of
        two pieces.
        """
        values = dict(found.values)
        formula = z3.And(self.domain, target)
        moved: set[str] = set()
        for name in sorted({edge.fact for edge in edges}):
            var, kind = self.space.vars[name], self.space.facts[name].kind
            step = found.steps.get(name)
            held = self.pairs(values, skip=name)
            best: tuple[Fraction, Fraction] | None = None
            for edge in (e for e in edges if e.fact == name):
                at0 = _evaluate(edge.zero, held + [(var, _numeral(var, Fraction(0)))])
                at1 = _evaluate(edge.zero, held + [(var, _numeral(var, Fraction(1)))])
                if at0 is None or at1 is None or at1 == at0:
                    continue  # the fact does not move this threshold once the others are held
                threshold = -at0 / (at1 - at0)
                for value in _near(threshold, step, positive=kind != "count"):
                    distance = abs(value - threshold)
                    if best is not None and distance >= best[0]:
                        break
                    if _evaluate(formula, held + [(var, _numeral(var, value))]) is True:
                        best = (distance, value)
                        break
            if best is not None:
                values[name] = best[1]
                moved.add(name)
        return Found(values, found.steps, moved)

    def pairs(self, values: dict[str, Any], skip: str | None = None) -> list[tuple[Any, Any]]:
        """Each fact's variable with its value, for z3.substitute."""
        out: list[tuple[Any, Any]] = []
        for name, value in values.items():
            var, info = self.space.vars.get(name), self.space.facts[name]
            if var is None or name == skip:
                continue
            if info.kind == SET:
                out += [(member, z3.BoolVal(key in value)) for key, member in var.items()]
            elif info.kind == BOOL:
                out.append((var, z3.BoolVal(bool(value))))
            elif info.kind == ENUM:
                out.append((var, z3.IntVal(info.values.index(value))))
            else:
                out.append((var, _numeral(var, value)))
        return out

    def values(self, model: z3.ModelRef) -> dict[str, Any]:
        """Each fact's exact value in a model (numbers as fractions in base units)."""
        return {name: self.space.value_of(model, name) for name in self.space.facts if name in self.space.vars}

    def incidents(self, values: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Exact values (`values`) as incidents in the public vocabulary, values written exactly in units a clinician reads.

        z3's numbers are exact rationals: each is written as the decimal it is.
        When one has no finite decimal (1/3 mSv), nearby decimals follow, ever
        finer, rounded to nearest, down and up: the caller keeps the first the
        evaluator confirms.
        """
        exact = self._written(values, None)
        if exact is not None:
            yield self.readable(exact)
            return
        for places in PLACES:
            for mode in ROUNDING:
                written = self._written(values, (places, mode))
                yield written if written is None else self.readable(written)

    def readable(self, incident: dict[str, Any]) -> dict[str, Any]:
        """A complete incident both versions read: z3 gives every fact, but a fact a derivation reads is
        left out (the derived facts are there, consistent with it: Encoded.consistent), and where a
        conflict's facts contradict (a complete incident gives them all), its last fact without a default
        is left out, unknown: the evaluator then confirms the witness or not (engines/derive.py)."""
        from ..language.incident import IncidentError
        sides = (self.old, self.new)
        for guidance in sides:
            for derivation in guidance.ast.derivations:
                for fact in derivation.reads:
                    incident.pop(fact, None)
        for _ in range(4):
            try:
                for guidance in sides:
                    guidance.read(incident)
                return incident
            except IncidentError as error:
                refused = " ".join(p.hint or "" for p in error.problems)
            dropped = False
            for conflict in (c for guidance in sides for c in guidance.ast.conflicts):
                if f"(conflict {conflict.name})" in refused and all(fact in incident for fact in conflict.reads):
                    for fact in reversed(conflict.reads):
                        if not self.space.facts[fact].has_default:
                            incident.pop(fact)
                            dropped = True
                            break
            if not dropped:
                break
        return incident

    def _written(self, values: dict[str, Any], rounding: tuple[int, str] | None) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        for name, value in values.items():
            info = self.space.facts[name]
            if info.kind == SET:
                out[name] = sorted(value) if len(value) > 1 else next(iter(value))
            elif info.kind in (BOOL, ENUM):
                out[name] = value
            elif info.kind == "count":
                out[name] = int(value)
            elif info.kind == "duration" and info.unit and value.denominator == 1:
                out[name] = int(value)  # a bare number is in the fact's unit (age: years)
            else:
                text = exact_quantity(value, info.kind)
                if text is None:
                    if rounding is None:
                        return None
                    text = rounded_quantity(value, info.kind, *rounding)
                out[name] = text
        return out



def _fraction(value: Any) -> Fraction:
    """A z3 rational numeral as an exact fraction."""
    if z3.is_int_value(value):
        return Fraction(value.as_long())
    return Fraction(value.numerator_as_long(), value.denominator_as_long())


def _numeral(var: Any, value: Fraction) -> Any:
    return z3.IntVal(int(value)) if z3.is_int(var) else rational(value)


def _evaluate(term: Any, pairs: list[tuple[Any, Any]]) -> Any:
    """A term with every variable given: a fraction, True or False; None when a variable is left."""
    value = z3.simplify(z3.substitute(term, *pairs) if pairs else term)
    if z3.is_true(value) or z3.is_false(value):
        return z3.is_true(value)
    if z3.is_rational_value(value) or z3.is_int_value(value):
        return _fraction(value)
    return None


def _near(threshold: Fraction, step: Fraction | None, positive: bool) -> list[Fraction]:
    """The values nearest a threshold, nearest first: itself, then a step either side; on a grid, its points."""
    if step is None:
        candidates = [threshold]
    elif threshold % step == 0:
        candidates = [threshold, threshold - step, threshold + step]
    else:
        low = floor(threshold / step) * step
        candidates = sorted([low, low + step], key=lambda v: abs(v - threshold))
    return [v for v in candidates if v > 0 or (not positive and v >= 0)]


def exact_decimal(value: Fraction) -> str | None:
    """A fraction as the decimal it is, every digit kept; None when it has no finite decimal (1/3).

    >>> exact_decimal(Fraction(30000001, 10**10)), exact_decimal(Fraction(1, 3))
    ('0.0030000001', None)
    """
    rest, places = value.denominator, 0
    for prime in (2, 5):
        count = 0
        while rest % prime == 0:
            rest //= prime
            count += 1
        places = max(places, count)
    if rest != 1:
        return None
    digits = str(abs(value.numerator) * 10**places // value.denominator).rjust(places + 1, "0")
    whole, decimals = digits[:len(digits) - places], digits[len(digits) - places:].rstrip("0")
    return ("-" if value < 0 else "") + whole + (f".{decimals}" if decimals else "")


def _units(kind: str, value: Fraction) -> list[str]:
    """The units to write a value of a kind in, the one a clinician reads first, then the others of the kind."""
    first = next((unit for unit, least in DISPLAY.get(kind, ()) if value >= least), None)
    others = list(KINDS[kind].units) if kind in KINDS else []
    return ([first] if first else []) + [unit for unit in others if unit != first]


def exact_quantity(value: Fraction, kind: str) -> str | None:
    """A value written exactly, in the first unit where it has a finite decimal: '25 mSv', '3.0000001 mSv'.

    None when it has none in any unit of its kind; it then has no exact text.
    """
    units = _units(kind, value)
    if not units:
        return exact_decimal(value)
    for unit in units:
        text = exact_decimal(to_unit(value, kind, unit))
        if text is not None:
            return f"{text} {unit}"
    return None


def rounded_quantity(value: Fraction, kind: str, places: int, mode: str) -> str:
    """A value rounded to `places` decimals of the unit a clinician reads (to nearest, down or up)."""
    units = _units(kind, value)
    shown = to_unit(value, kind, units[0]) if units else value
    scaled = shown * 10**places
    whole = {"nearest": round(scaled), "down": floor(scaled), "up": ceil(scaled)}[mode]
    text = exact_decimal(Fraction(whole, 10**places))
    return f"{text} {units[0]}" if units else text


def quantity_text(value: Fraction, kind: str) -> str:
    """A value in the unit a clinician reads it in: 0.025 Sv -> '25 mSv', 0.012 Gy -> '12 mGy'.

    Exact when it can be; else (a value with no finite decimal) shown to 4 figures with '≈'.
    """
    exact = exact_quantity(value, kind)
    if exact is not None:
        return exact
    units = _units(kind, value)
    return f"{show_number(to_unit(value, kind, units[0]))} {units[0]}" if units else show_number(value)


# ------------------------------------------------------------------ witnesses

def _signature(guidance: Guidance, incident: dict, code: str | None) -> tuple:
    result = guidance.evaluate(incident, explain=True)
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


def _given(semantics: Semantics, incident: dict) -> dict[str, Fraction]:
    """The exact numbers the evaluator reads in an incident (in base units), defaults included."""
    try:
        read = semantics.new.read(incident)
    except IncidentError:
        return {}
    return {name: value.value for name, value in read.values.items() if isinstance(value, Measure)}


def _boundary(semantics: Semantics, incident: dict, edges: list[Edge], found: Found) -> list[str]:
    """Say where each value at a changed threshold sits: exactly on it, or the nearest step past it."""
    given = _given(semantics, incident)
    pairs = [(semantics.space.vars[name], _numeral(semantics.space.vars[name], value))
             for name, value in given.items() if name in semantics.space.vars]
    notes = []
    for name in dict.fromkeys(edge.fact for edge in edges):
        if name not in incident:
            continue
        on = next((edge for edge in edges if edge.fact == name and _evaluate(edge.zero, pairs) == 0), None)
        if on is not None:
            notes.append(f"{name} {incident[name]} is exactly the threshold of `{on.text}` in {on.version}")
        elif name in found.moved:
            kind = semantics.space.facts[name].kind
            step = found.steps.get(name)
            steps = f", in steps of {quantity_text(step, kind) if kind != 'count' else 1}," if step else ""
            notes.append(f"{name} {incident[name]}: the nearest value to the changed threshold{steps} that shows "
                         f"the difference")
    return notes



def _edges(semantics: Semantics, changes: list[Change]) -> list[Edge]:
    """The changed thresholds, absolute or relative, in the old and the new version."""
    edges: list[Edge] = []
    for change in changes:
        if change.what not in ("threshold", "edge"):
            continue
        for text, side, which in ((change.old, semantics.e_old, "old"), (change.new, semantics.e_new, "new")):
            for node in side.criteria.walk():
                if isinstance(node, (ast.Compare, ast.Tolerance)) and expression(node) == text:
                    edges += [Edge(fact, zero, text, side.criteria.header.version, which)
                              for fact, zero in side.boundaries(node)]
    return edges


EXPECTED = {"narrowed": (True, False), "broadened": (False, True)}
# How the evaluator's verdict on a candidate is said, for a code or for "notifiable under any code".
_STATE = {"code": {True: "meets the code", False: "does not meet the code", None: "leaves the code undetermined"},
          "*": {True: "notifiable", False: "not notifiable", None: "undetermined"}}


def witness(semantics: Semantics, direction: str, old_code: str | None, new_code: str | None,
            fallback: z3.ModelRef, changes: list[Change] | None = None) -> Witness | NoWitness:
    """An incident the evaluator confirms the two versions classify as the verdict says, or why there is none.

    Each candidate is run through the evaluator under both versions; only one
    that flips the code in the stated direction is shown, with the values it was
    checked with, written exactly.
    """
    edges = _edges(semantics, changes or [])
    found = semantics.realistic(direction, old_code, new_code, edges)
    attempts = ([found] if found is not None else []) + [Found(semantics.values(fallback))]
    seen: tuple | None = None
    for attempt in attempts:
        for full in semantics.incidents(attempt.values):
            old_side, new_side = _signature(semantics.old, full, old_code), _signature(semantics.new, full, new_code)
            if (old_side[2], new_side[2]) != EXPECTED[direction]:
                seen = seen or (old_side[2], new_side[2])
                continue
            incident = _minimise(semantics, full, old_code, new_code)
            old_n, old_codes, old_met = _signature(semantics.old, incident, old_code)
            new_n, new_codes, new_met = _signature(semantics.new, incident, new_code)
            if (old_met, new_met) != EXPECTED[direction]:  # cannot happen: _minimise keeps both results
                incident = full
                old_n, old_codes, old_met = old_side
                new_n, new_codes, new_met = new_side
            return Witness(direction=direction, incident=incident,
                           old=Side(version=semantics.old.version, notifiable=old_n, codes=list(old_codes),
                                    met=old_met),
                           new=Side(version=semantics.new.version, notifiable=new_n, codes=list(new_codes),
                                    met=new_met),
                           boundary=_boundary(semantics, incident, edges, attempt))
    reason = ("z3 proves such incidents exist, but none it found could be written with exact values that the "
              "evaluator confirms")
    if seen is not None:
        said = _STATE["*" if old_code == "*" else "code"]
        reason += (f" (the evaluator finds the one tried {said[seen[0]]} under the old version and "
                   f"{said[seen[1]]} under the new)")
    return NoWitness(direction=direction, reason=reason + "; the verdict above stands on the proof alone")


def _proof(verdict: Verdict, old_code: str | None, new_code: str | None) -> str:
    if verdict == "equivalent":
        return ("proved equivalent: no complete incident meets one version's rule and not the other's "
                "(z3: both directions unsatisfiable)")
    return {"narrowed": "narrowed: some incidents meet the old rule and not the new; none the reverse (z3)",
            "broadened": "broadened: some incidents meet the new rule and not the old; none the reverse (z3)",
            "both": "both: some incidents meet only the old rule, others only the new (z3)"}[verdict]


def semantic(semantics: Semantics, change: CodeChange, old_code: str | None, new_code: str | None,
             changes: list[Change] | None = None) -> None:
    """The verdict and its proof, and a witness (or why there is none) for each direction that exists.

    `changes` are the structural changes whose thresholds a witness may sit on (the code's own by default).
    """
    verdict, models = semantics.verdict(old_code, new_code)
    change.verdict = verdict
    change.proof = _proof(verdict, old_code, new_code)
    for direction in ("narrowed", "broadened"):
        if models[direction] is not None:
            found = witness(semantics, direction, old_code, new_code, models[direction],
                            change.changes if changes is None else changes)
            if isinstance(found, Witness):
                change.witnesses.append(found)
            else:
                change.no_witness.append(found)

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

    pair("table", *_tables_paired(old.ast, new.ast), lambda a, b: (table_changes(a, b), texts(a, b)))
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
    pair("route", {r.name: r for r in old.ast.routes}, {r.name: r for r in new.ast.routes},
         lambda a, b: (_route_changes(a, b) + compare_conditions(a.when, b.when, facts, "when"), texts(a, b)))
    pair("derive", {d.fact: d for d in old.ast.derivations}, {d.fact: d for d in new.ast.derivations},
         lambda a, b: (_branch_changes(a, b, facts), texts(a, b)))
    pair("conflict", {c.name: c for c in old.ast.conflicts}, {c.name: c for c in new.ast.conflicts},
         lambda a, b: (([Change(what="message", message="the message changed", old=a.message, new=b.message)]
                        if a.message != b.message else []) + compare_conditions(a.when, b.when, facts, "when"),
                       texts(a, b)))
    pair("interpretation", _interpretations(old.ast), _interpretations(new.ast),
         lambda a, b: ([], redline(a.text, b.text)))
    return out


def _route_changes(a: ast.Route, b: ast.Route) -> list[Change]:
    """Where a route goes, why, and for which verdicts: what changed, in words."""
    out = []
    olds = {t.jurisdictions: t.text for t in a.to}
    for t in b.to:
        if olds.get(t.jurisdictions) != t.text:
            place = f"in {', '.join(t.jurisdictions)}" if t.jurisdictions else "everywhere"
            out.append(Change(what="to", message=f"{place}: goes to {t.text}", old=olds.get(t.jurisdictions),
                              new=t.text))
    news = {t.jurisdictions for t in b.to}
    out += [Change(what="to", message=f"in {', '.join(t.jurisdictions) or 'every jurisdiction'}: no longer goes "
                                      f"to {t.text}", old=t.text) for t in a.to if t.jurisdictions not in news]
    if a.why != b.why:
        out.append(Change(what="why", message="why changed", old=a.why, new=b.why))
    if a.verdicts != b.verdicts:
        out.append(Change(what="verdict", message=f"verdicts {', '.join(a.verdicts) or 'every one'} -> "
                                                  f"{', '.join(b.verdicts) or 'every one'}"))
    return out


def _branch_changes(a: ast.Derivation, b: ast.Derivation, facts: dict) -> list[Change]:
    """The values a derived fact takes and when: branch by value."""
    olds = {branch.value: branch.condition for branch in a.branches}
    news = {branch.value: branch.condition for branch in b.branches}
    out = []
    for value in list(olds) + [v for v in news if v not in olds]:
        if value not in news or value not in olds:
            out.append(Change(what="as", message=f"{b.fact} {value} {'added' if value not in olds else 'removed'}"))
        else:
            out += compare_conditions(olds[value], news[value], facts, f"as {value} if")
    if [x.value for x in a.branches if x.value in news] != [x.value for x in b.branches if x.value in olds]:
        out.append(Change(what="as", message="the branches are tried in another order"))
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
            change.changes += through_changes(old.ast, new.ast, old_code, new_code, new.vocabulary.facts)
        change.old_text, change.new_text = row_text(a_rows, a_item), row_text(b_rows, b_item)
        _note_irrelevant(semantics, change, old_code, new_code)
        semantic(semantics, change, old_code, new_code if in_new else None)
        _settle_through(change)
        if status == "changed" and change.verdict == "equivalent" and not (change.changes or change.category
                                                                               or change.says):
            change.status = "unchanged"
        codes.append(change)
    overall = CodeChange(code="notifiable", status="changed", title="notifiable under any code")
    semantic(semantics, overall, "*", "*", [item for code in codes for item in code.changes])
    sections = _section_changes(old, new)
    return DiffReport(
        old=VersionRef(version=old.version, published=old.header.published, file=old.name),
        new=VersionRef(version=new.version, published=new.header.published, file=new.name),
        codes=codes, notifiable=overall, sections=sections,
        can_flip=overall.verdict != "equivalent" or any(c.verdict != "equivalent" for c in codes))
