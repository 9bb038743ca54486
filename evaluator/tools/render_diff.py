"""Output for `irmer diff`: text for the terminal, markdown for a review, one HTML page.

Each function takes a DiffReport (evaluator/tools/diff.py) and returns a string. All
three show the same things in the same order:

1. which versions are compared, how many codes changed, and whether any
   incident can flip;
2. every changed code: its structural changes, the changed wording (a redline,
   or the old and new texts in full when the text was rewritten), the verdict,
   the proof, and each witness incident with both versions' results;
3. notifiable under any code, with its witnesses;
4. the other sections (the tables' own words, definitions, exclusions, deadlines,
   authorities, advice, interpretations);
5. the population impact, when the report has one;
6. the assumptions every verdict rests on.

`text` is rich markup, like evaluator/tools/render_text.py: colour on a terminal,
and, when rich drops the colour, the same text with `[-removed-]` and
`{+added+}` marks (as `git diff --word-diff` writes them), so that nothing
depends on colour alone. `html` works out the page's `view` (plain dataclasses)
and lays it out with the template evaluator/pages/templates/diff.html.

>>> from evaluator.tools.diff import redline
>>> [(c.kind, c.parts) for c in (_side(redline("a b", "a c"), "old"), _side(redline("a b", "a c"), "new"))]
[('marked', [('same', 'a '), ('removed', 'b')]), ('marked', [('same', 'a '), ('added', 'c')])]
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from rich.markup import escape

from .diff import (Change, CodeChange, DiffReport, NoWitness, Redline, RedlinePart, SectionChange, Side, Text,
                   VersionRef, Witness)
from .diff import redline as _redline
from .impact import Group, Population, Transition
from .markup import md, md_code, md_prose, md_table
from .. import pages

VERDICTS = ("narrowed", "broadened", "both", "equivalent")
# What each verdict means, said once in each output.
MEANING = {
    "narrowed": "some incidents no longer meet it, and none newly do",
    "broadened": "some incidents newly meet it, and none stop",
    "both": "some incidents newly meet it and others no longer do",
    "equivalent": "exactly the same incidents meet it in both versions (proved)",
}
DIRECTION = {
    "narrowed": "an incident the old version catches and the new one does not",
    "broadened": "an incident the new version catches and the old one does not",
}
SECTION_TITLE = {"table": "Table", "definition": "Definition", "exclusion": "General exclusion",
                 "deadline": "Deadline", "authority": "Enforcing authority", "advice": "Advice", "header": "Header",
                 "interpretation": "Interpretation"}
# Changes whose old and new forms are texts, shown as a redline rather than as code.
TEXT_CHANGES = {"advice", "text", "note", "title"}
WIDTH = 110  # where the text output wraps long texts


# ------------------------------------------------------------------ shared

def _date(day: dt.date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day else ""


def _version(ref: VersionRef) -> str:
    return f"{ref.version} ({_date(ref.published)})" if ref.published else ref.version


def _value(value: Any) -> str:
    """A fact's value as a reader writes it: yes/no, lists joined."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_value(v) for v in value)
    return str(value)


def _codes(codes: list[str]) -> str:
    return ", ".join(codes) if codes else "none"


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "undetermined"}[value]


def _counts(report: DiffReport) -> str:
    """'8 narrowed, 1 broadened, ...' over the changed codes, in a fixed order."""
    changed = report.changed_codes()
    counts = [(v, sum(1 for c in changed if c.verdict == v)) for v in VERDICTS]
    words = [f"{n} {v}" for v, n in counts if n]
    unknown = sum(1 for c in changed if c.verdict is None)
    if unknown:
        words.append(f"{unknown} without a verdict")
    return ", ".join(words)


def _headline(report: DiffReport) -> str:
    """How many codes changed, with the verdicts."""
    changed = report.changed_codes()
    if not changed:
        return f"None of the {len(report.codes)} codes changed."
    counts = _counts(report)
    return f"{len(changed)} of {len(report.codes)} codes changed" + (f" ({counts})." if counts else ".")


def _flip(report: DiffReport) -> str:
    """Whether an incident can flip, in words."""
    if not report.can_flip:
        return "No incident can flip: every code is proved equivalent."
    return {
        "both": "Incidents can flip: some become notifiable, others stop.",
        "narrowed": "Incidents can flip: some stop being notifiable, none become so.",
        "broadened": "Incidents can flip: some become notifiable, none stop.",
        "equivalent": "Incidents can change codes, but the same ones are notifiable in both versions.",
    }.get(report.notifiable.verdict or "", "Incidents can flip: the two versions classify some differently.")


def _unchanged(report: DiffReport) -> list[str]:
    return [c.code for c in report.codes if c.status == "unchanged"]


def _code_name(change: CodeChange) -> str:
    return f"{change.code} (was {change.old_code})" if change.old_code else change.code


def _rewritten(line: Redline) -> bool:
    """Whether a redline is too broken up to read word by word: show the old and new texts in full instead."""
    if not line.old.strip() or not line.new.strip():
        return False
    hunks, in_hunk, same = 0, False, 0
    for part in line.parts:
        if part.op == "same" and part.text.strip():
            in_hunk = False
            same += len(part.text.strip())
        elif part.op != "same" and not in_hunk:
            hunks, in_hunk = hunks + 1, True
    longest = max(len(line.old.strip()), len(line.new.strip()))
    return hunks >= 2 and same < longest / 3


def _redline_kind(line: Redline) -> str:
    """added (no old text), removed (no new text), rewritten, or redline."""
    if not line.old.strip():
        return "added"
    if not line.new.strip():
        return "removed"
    return "rewritten" if _rewritten(line) else "redline"


def _change_forms(change: Change) -> tuple[str | None, str | None]:
    """The old and new forms of a change worth showing beside its message (not when the message says them)."""
    if change.what in TEXT_CHANGES:
        return None, None
    old = change.old if change.old and change.old not in change.message else None
    new = change.new if change.new and change.new not in change.message else None
    if old is None and new is None:
        return None, None
    return change.old, change.new


def _text_change(change: Change) -> Redline | None:
    """A change between two texts (advice), as a redline."""
    if change.what in TEXT_CHANGES and change.old is not None and change.new is not None:
        return _redline(change.old, change.new)
    return None


def _section_changes(section: SectionChange) -> list[Change]:
    """A section's changes, without the one that only repeats its status ('exclusion x added')."""
    echo = f"{section.section} {section.name} {section.status}"
    return [c for c in section.changes if c.message != echo]


def _code_note(change: CodeChange) -> str:
    if change.status == "changed" and change.verdict == "equivalent" and not change.changes:
        return "wording only"
    return ""


def _section_note(section: SectionChange) -> str:
    if section.status == "changed" and section.says is not None and not section.changes:
        return "wording only"
    return ""


def _transition(t: Transition, arrow: str = "->") -> str:
    return f"{t.old} {arrow} {t.new}"


def _examples(t: Transition) -> str:
    more = t.count - len(t.examples)
    return ", ".join(t.examples) + (f" and {more} more" if more > 0 and t.examples else "")


def _outcomes(population: Population) -> list[tuple[str, int]]:
    return [("became notifiable", population.became_notifiable),
            ("stopped being notifiable", population.stopped_being_notifiable),
            ("between undetermined and not notifiable", population.undetermined_changed),
            ("notifiable under other codes", population.codes_changed),
            ("unchanged", population.unchanged)]


# Why the groups' counts can add up to more than the incidents: what puts an incident in several groups.
SEVERAL = {"modality": ("in_several_modalities", "an incident with several modalities is counted under each"),
           "old code": ("in_several_old_codes", "an incident notifiable under several codes in the old version is "
                                                "counted under each")}


def _several(population: Population, key: str, groups: list[Group]) -> str:
    """Said beside every grouping: an incident can sit in several groups, and how many do here."""
    field, rule = SEVERAL[key]
    many = getattr(population, field)
    total = sum(g.count for g in groups)
    if many:
        return (f"{rule}: {many} incident{'s' if many != 1 else ''} here, so the groups count {total} for "
                f"{population.evaluated} incidents")
    return f"{rule}; none is here"


def _group_cells(group: Group, arrow: str) -> tuple[str, str]:
    def cell(transitions: list[Transition]) -> str:
        return "; ".join(f"{_transition(t, arrow)}: {t.count} ({_examples(t)})" if t.examples
                         else f"{_transition(t, arrow)}: {t.count}" for t in transitions)
    return cell(group.notifiable), cell(group.codes)


# ------------------------------------------------------------------- text

STYLE = {"narrowed": "yellow", "broadened": "red", "both": "magenta", "equivalent": "green"}
NOTIFIABLE = {True: "[bold red]NOTIFIABLE[/]", False: "[bold green]not notifiable[/]",
              None: "[bold yellow]UNDETERMINED[/]"}
LABEL = 9


def _verdict_markup(verdict: str | None) -> str:
    if verdict is None:
        return "[dim]no verdict[/]"
    return f"[bold {STYLE[verdict]}]{verdict}[/]"


def _label(label: str, value: str, indent: int = 2) -> str:
    return f"{' ' * indent}[bold]{label:<{LABEL}}[/]{value}" if value else f"{' ' * indent}[bold]{label}[/]"


def _words(parts: Iterable[tuple[str, str]]) -> list[tuple[bool, str, str]]:
    """(space before, op, word) for every word of a redline's parts."""
    out: list[tuple[bool, str, str]] = []
    pending = False
    for op, text in parts:
        for space, word in re.findall(r"(\s*)(\S+)", text):
            out.append((pending or bool(space), op, word))
            pending = False
        if text and text[-1].isspace():
            pending = True
    return out


MARKS = {"same": ("", ""), "removed": ("[red strike][-", "-][/]"), "added": ("[green]{+", "+}[/]")}
PLAIN = {"removed": ("[red]", "[/]"), "added": ("[green]", "[/]"), "same": ("", "")}


def _wrapped(parts: Iterable[tuple[str, str]], indent: int, first: int | None = None,
             marks: dict[str, tuple[str, str]] = MARKS) -> list[str]:
    """Words with their ops, wrapped to WIDTH, each run of one op inside its marks (closed at each line's end).

    `first` is the column the first line starts at (the rest start at `indent`).
    """
    visible = {op: len(re.sub(r"\[[a-z/][^\]]*\]", "", a + b)) for op, (a, b) in marks.items()}
    lines: list[list[tuple[bool, str, str]]] = [[]]
    column, previous = (first if first is not None else indent), "same"
    for space, op, word in _words(parts):
        extra = visible[op] if op != previous or not lines[-1] else 0
        if lines[-1] and column + len(word) + 1 + extra > WIDTH:
            lines.append([])
            column, extra = indent, visible[op]
        column += len(word) + (1 if space and lines[-1] else 0) + extra
        lines[-1].append((space and bool(lines[-1]), op, word))
        previous = op
    out = []
    for number, tokens in enumerate(lines):
        text, current = "", "same"
        for space, op, word in tokens:
            if op != current:
                text += marks[current][1]
                text += (" " if space else "") + marks[op][0]
                current = op
            elif space:
                text += " "
            text += escape(word)
        text += marks[current][1]
        out.append(text if number == 0 else " " * indent + text)
    return out


def _text_block(label: str, line: Redline, indent: int) -> list[str]:
    """A redline under a label; a rewritten text as its old and new forms in full."""
    kind = _redline_kind(line)
    head = " " * indent + f"[bold]{label:<{LABEL}}[/]"
    inner = indent + LABEL
    if kind == "redline":
        body = _wrapped([(p.op, p.text) for p in line.parts], inner, first=inner)
        return [head + body[0]] + body[1:]
    if kind in ("added", "removed"):
        op = "added" if kind == "added" else "removed"
        text = line.new if kind == "added" else line.old
        body = _wrapped([(op, text)], inner + 9, first=inner + 9, marks=PLAIN)
        return [head + f"[italic]{'new text' if kind == 'added' else 'removed'}[/]  " + body[0]] + body[1:]
    was = _wrapped([("removed", line.old)], inner + 5, first=inner + 5, marks=PLAIN)
    now = _wrapped([("added", line.new)], inner + 5, first=inner + 5, marks=PLAIN)
    return ([head + "[italic]rewritten[/]", " " * inner + "[bold]was[/]  " + was[0]] + was[1:]
            + [" " * inner + "[bold]now[/]  " + now[0]] + now[1:])


def _proof_lines(proof: str, indent: int) -> list[str]:
    body = _wrapped([("same", proof)], indent + LABEL, first=indent + LABEL)
    return [f"{' ' * indent}[dim]{'proof':<{LABEL}}{body[0]}[/]"] + [f"[dim]{line}[/]" for line in body[1:]]


def _change_lines(change: Change, indent: int) -> list[str]:
    old, new = _change_forms(change)
    body = _wrapped([("same", change.message)], indent + LABEL, first=indent + LABEL, marks=PLAIN)
    lines = [" " * indent + f"{'change':<{LABEL}}" + body[0]] + body[1:]
    if old or new:
        pad = " " * (indent + LABEL + 2)
        lines += [f"{pad}[dim]was[/]  {escape(old or '(nothing)')}", f"{pad}[dim]now[/]  {escape(new or '(nothing)')}"]
    text = _text_change(change)
    if text is not None:
        lines += _text_block("", text, indent + 2)
    return lines


def _joined(items: list[str], indent: int, empty: str = "") -> list[str]:
    """Items joined with ' · ', wrapped between items; the lines after the first indented."""
    lines, current = [], ""
    for item in items:
        candidate = f"{current} · {item}" if current else item
        if current and indent + len(candidate) > WIDTH:
            lines.append(current)
            current = item
        else:
            current = candidate
    if current or not lines:
        lines.append(current or empty)
    return [escape(lines[0])] + [" " * indent + escape(line) for line in lines[1:]]


def _incident_lines(incident: dict[str, Any], indent: int) -> list[str]:
    """An incident as `key value` pairs, wrapped."""
    return _joined([f"{key} {_value(value)}" for key, value in incident.items()], indent, "(no facts)")


def _side_markup(side: Side) -> str:
    codes = f"code{'s' if len(side.codes) > 1 else ''} {', '.join(side.codes)}" if side.codes else "no code"
    return f"{escape(side.version)}: {NOTIFIABLE[side.notifiable]} ({escape(codes)})"


def _witness_lines(witness: Witness, indent: int) -> list[str]:
    inner = indent + LABEL
    lines = [_label("witness", f"{_verdict_markup(witness.direction)}  [dim]{DIRECTION[witness.direction]}[/]",
                    indent)]
    incident = _incident_lines(witness.incident, inner + LABEL)
    lines.append(_label("incident", incident[0], inner))
    lines += incident[1:]
    lines.append(_label("result", f"{_side_markup(witness.old)}  ->  {_side_markup(witness.new)}", inner))
    for note in witness.boundary:
        lines.append(_label("boundary", escape(note), inner))
    return lines


def _no_witness_lines(missing: NoWitness, indent: int) -> list[str]:
    """A direction proved without a witness shown, and why."""
    head = _label("witness", f"{_verdict_markup(missing.direction)}  [dim]none shown[/]", indent)
    body = _wrapped([("same", missing.reason)], indent + LABEL * 2, first=indent + LABEL * 2)
    return [head, _label("why", body[0], indent + LABEL)] + body[1:]


def _code_text(change: CodeChange) -> list[str]:
    status = f"[dim]{change.status}[/]" if change.status == "changed" else f"[bold]{change.status}[/]"
    title = f"  {escape(change.title)}" if change.title else ""
    note = f"  [dim]{_code_note(change)}[/]" if _code_note(change) else ""
    lines = [f"[bold]{escape(_code_name(change))}[/]{title}  {status}  {_verdict_markup(change.verdict)}{note}"]
    for item in change.changes:
        lines += _change_lines(item, 2)
    whole = _only_text(change)
    if whole is not None:
        lines += _whole_text(whole, 2)
    if change.category is not None:
        lines += _text_block("category", change.category, 2)
    if change.says is not None:
        lines += _text_block("criteria", change.says, 2)
    if change.proof:
        lines += _proof_lines(change.proof, 2)
    for witness in change.witnesses:
        lines += _witness_lines(witness, 2)
    for missing in change.no_witness:
        lines += _no_witness_lines(missing, 2)
    return lines


def _section_text(section: SectionChange) -> list[str]:
    note = _section_note(section)
    status = f"[dim]{section.status}[/]" if section.status == "changed" else f"[bold]{section.status}[/]"
    lines = [f"  [bold]{escape(section.section)} {escape(section.name)}[/]  {status}"
             + (f"  [dim]{note}[/]" if note else "")]
    for change in _section_changes(section):
        lines += _change_lines(change, 4)
    whole = _only_text(section)
    if whole is not None:
        lines += _whole_text(whole, 4)
    if section.says is not None:
        lines += _text_block("text", section.says, 4)
    return lines


def _only_text(item: CodeChange | SectionChange) -> Text | None:
    """The text of something added or removed: the one version that has it."""
    return {"added": item.new_text, "removed": item.old_text}.get(item.status)


def _whole_text(text: Text, indent: int) -> list[str]:
    """The regulator's words and the rule of something added or removed."""
    lines: list[str] = []
    for words in text.says:
        body = _wrapped([("same", f"“{words}”")], indent, first=indent, marks=PLAIN)
        lines += [" " * indent + f"[italic]{body[0]}[/]"] + [f"[italic]{line}[/]" for line in body[1:]]
    for rule in text.rule:
        body = _wrapped([("same", rule)], indent + 2, first=indent, marks=PLAIN)
        lines += [" " * indent + f"[cyan]{body[0]}[/]"] + [f"[cyan]{line}[/]" for line in body[1:]]
    return lines


def _transition_rows(transitions: list[Transition], indent: int) -> list[str]:
    width = max(len(_transition(t)) for t in transitions)
    count = max(len(str(t.count)) for t in transitions)
    return [f"{' ' * indent}{escape(_transition(t)):<{width}}  {t.count:>{count}}  [dim]{escape(_examples(t))}[/]"
            for t in transitions]


def _groups_text(title: str, groups: list[Group], note: str) -> list[str]:
    if not groups:
        return []
    lines = [f"  [bold]{title}[/]  [dim]({escape(note)})[/]"]
    quiet = [g for g in groups if not g.notifiable and not g.codes]
    for group in groups:
        if group in quiet:
            continue
        plural = "s" if group.count != 1 else ""
        lines.append(f"    [bold]{escape(group.key)}[/]  [dim]{group.count} incident{plural}[/]")
        for label, transitions in (("verdict", group.notifiable), ("codes", group.codes)):
            for row in _transition_rows(transitions, 0) if transitions else []:
                lines.append(f"      {label:<8}{row}")
    if quiet:
        lines.append("    [dim]no change:[/] " + escape(", ".join(f"{g.key} ({g.count})" for g in quiet)))
    return lines


def _population_text(population: Population) -> list[str]:
    lines = [f"[bold]Impact on {escape(population.source)}[/]  {population.rows} incidents, "
             f"{population.evaluated} evaluated, {len(population.refused)} refused"]
    counts = _joined([f"{n} {words}" for words, n in _outcomes(population)], 2)
    lines += ["  " + counts[0]] + counts[1:]
    if population.notifiable:
        lines.append("  [bold]verdict changes[/]  [dim](old -> new, incidents, examples)[/]")
        lines += _transition_rows(population.notifiable, 4)
    if population.codes:
        lines.append("  [bold]code changes[/]  [dim](old -> new, incidents, examples)[/]")
        lines += _transition_rows(population.codes, 4)
    lines += _groups_text("by modality", population.by_modality,
                          _several(population, "modality", population.by_modality))
    lines += _groups_text("by old code", population.by_old_code,
                          _several(population, "old code", population.by_old_code))
    for refused in population.refused:
        where = f"row {refused.row}" + (f" ({refused.id})" if refused.id else "")
        field = f"{refused.field}: " if refused.field and not refused.reason.startswith(refused.field) else ""
        lines.append(_label("refused", escape(f"{where}: {field}{refused.reason}")))
    return lines


def text(report: DiffReport) -> str:
    """The report as rich markup for the terminal (plain text when rich drops the colour)."""
    lines = [f"[bold]irmer diff[/]  {escape(_version(report.old))} -> {escape(_version(report.new))}",
             f"{escape(_headline(report))} "
             + (f"[bold red]{escape(_flip(report))}[/]" if report.can_flip else f"[green]{escape(_flip(report))}[/]")]
    unchanged = _unchanged(report)
    if unchanged:
        lines.append(f"[dim]unchanged:[/] {escape(', '.join(unchanged))}")
    for change in report.changed_codes():
        lines += [""] + _code_text(change)
    overall = report.notifiable
    lines += ["", f"[bold]Notifiable under any code[/]  {_verdict_markup(overall.verdict)}"]
    if overall.proof:
        lines += _proof_lines(overall.proof, 2)
    for witness in overall.witnesses:
        lines += _witness_lines(witness, 2)
    for missing in overall.no_witness:
        lines += _no_witness_lines(missing, 2)
    if report.sections:
        lines += ["", "[bold]Other sections[/]"]
        for section in report.sections:
            lines += _section_text(section)
    if report.population is not None:
        lines += [""] + _population_text(report.population)
    lines += ["", "[dim]Assumptions:[/]"]
    for number, assumption in enumerate(report.assumptions, 1):
        wrapped = _wrapped([("same", assumption)], 5, first=5)
        lines += [f"[dim]  {number}. {wrapped[0]}[/]"] + [f"[dim]{line}[/]" for line in wrapped[1:]]
    lines.append("[dim]Verdicts:[/]")
    lines += [f"[dim]  {v:<12}{escape(MEANING[v])}[/]" for v in VERDICTS]
    return "\n".join(lines)


# --------------------------------------------------------------- markdown



def _md_parts(parts: list[RedlinePart]) -> str:
    """A redline inline: ~~removed~~ and **added**, the marks kept next to the words as GFM needs."""
    out = []
    for part in parts:
        lead = " " if part.text[:1].isspace() else ""
        trail = " " if part.text[-1:].isspace() else ""
        if not part.text.strip():
            out.append(lead)
            continue
        mark = {"same": "", "removed": "~~", "added": "**"}[part.op]
        out.append(f"{lead}{mark}{md(part.text)}{mark}{trail}")
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _md_text(label: str, line: Redline, report: DiffReport) -> list[str]:
    kind = _redline_kind(line)
    if kind == "redline":
        return [f"**{label}:** {_md_parts(line.parts)}", ""]
    if kind == "added":
        return [f"**{label}** (new text): **{md(line.new)}**", ""]
    if kind == "removed":
        return [f"**{label}** (removed): ~~{md(line.old)}~~", ""]
    return [f"**{label}** (rewritten):", ""] + md_table(
        [md(report.old.version), md(report.new.version)], [[md(line.old), md(line.new)]]) + [""]


def _md_change(change: Change) -> list[str]:
    old, new = _change_forms(change)
    forms = ""
    if old or new:
        forms = f" (was {md_code(old) if old else 'nothing'}; now {md_code(new) if new else 'nothing'})"
    lines = [f"- {md(change.message)}{forms}"]
    text = _text_change(change)
    if text is not None:
        lines.append(f"  - {_md_parts(text.parts)}")
    return lines


def _md_witness(witness: Witness, code: str | None) -> list[str]:
    lines = [f"**Witness, {witness.direction}:** {DIRECTION[witness.direction]}.", ""]
    lines += md_table(["Fact", "Value"], [[md(k), md(_value(v))] for k, v in witness.incident.items()])
    rows = [["notifiable", _yes_no(witness.old.notifiable), _yes_no(witness.new.notifiable)],
            ["codes", md(_codes(witness.old.codes)), md(_codes(witness.new.codes))]]
    if code is not None:
        rows.append([f"{md(code)} met", _yes_no(witness.old.met), _yes_no(witness.new.met)])
    lines += [""] + md_table(["", f"Old: {md(witness.old.version)}", f"New: {md(witness.new.version)}"], rows)
    for note in witness.boundary:
        lines += ["", f"Boundary: {md_prose(note)}"]
    return lines + [""]


def _md_no_witness(missing: NoWitness) -> list[str]:
    return [f"**No witness shown, {missing.direction}:** {md(missing.reason)}.", ""]


def _md_code_change(change: CodeChange, report: DiffReport) -> list[str]:
    title = f" — {md(change.title)}" if change.title else ""
    lines = [f"### {md(_code_name(change))}{title}", ""]
    verdict = f"**{change.verdict}**" if change.verdict else "no verdict"
    meaning = f": {MEANING[change.verdict]}" if change.verdict else ""
    note = f" ({_code_note(change)})" if _code_note(change) else ""
    lines += [f"Status: {change.status}{note}. Verdict: {verdict}{meaning}.", ""]
    if change.changes:
        for item in change.changes:
            lines += _md_change(item)
        lines.append("")
    whole = _only_text(change)
    if whole is not None:
        lines += _md_whole(whole)
    if change.category is not None:
        lines += _md_text("Category", change.category, report)
    if change.says is not None:
        lines += _md_text("Criteria", change.says, report)
    if change.proof:
        lines += [f"*Proof: {md(change.proof)}*", ""]
    code = change.code if change.status != "removed" else (change.old_code or change.code)
    for witness in change.witnesses:
        lines += _md_witness(witness, code)
    for missing in change.no_witness:
        lines += _md_no_witness(missing)
    return lines


def _md_whole(text: Text) -> list[str]:
    """The regulator's words as a quote, and the rule as code, of something added or removed."""
    lines = [f"> {md(words)}" for words in text.says]
    if text.says:
        lines.append("")
    if text.rule:
        lines += ["```"] + text.rule + ["```", ""]
    return lines


def _md_transitions(header: list[str], transitions: list[Transition]) -> list[str]:
    return md_table(header + ["Incidents", "Examples"],
                     [[md(t.old), md(t.new), t.count, md(_examples(t))] for t in transitions],
                     "|---|---|--:|---|")


def _md_groups(title: str, key: str, groups: list[Group], note: str) -> list[str]:
    if not groups:
        return []
    rows = []
    for group in groups:
        verdicts, codes = _group_cells(group, "→")
        rows.append([md(group.key), group.count, md(verdicts) or "—", md(codes) or "—"])
    return [f"### {title}", "", f"{md(note[0].upper() + note[1:])}.", ""] + md_table(
        [key, "Incidents", "Verdict changes", "Code changes"], rows, "|---|--:|---|---|") + [""]


def _md_population(population: Population) -> list[str]:
    lines = [f"## Impact on {md_code(population.source)}", "",
             f"{population.rows} incidents: {population.evaluated} evaluated, {len(population.refused)} refused.", ""]
    lines += md_table(["Outcome", "Incidents"], [[w.capitalize(), n] for w, n in _outcomes(population)],
                       "|---|--:|") + [""]
    if population.notifiable:
        lines += ["### Verdict changes", ""] + _md_transitions(["Old", "New"], population.notifiable) + [""]
    if population.codes:
        lines += ["### Code changes", ""] + _md_transitions(["Old codes", "New codes"], population.codes) + [""]
    lines += _md_groups("By modality", "Modality", population.by_modality,
                        _several(population, "modality", population.by_modality))
    lines += _md_groups("By old code", "Old code", population.by_old_code,
                        _several(population, "old code", population.by_old_code))
    if population.refused:
        lines += ["### Refused", ""] + md_table(
            ["Row", "Id", "Field", "Reason"],
            [[r.row, md(r.id or ""), md(r.field or ""), md(r.reason)] for r in population.refused]) + [""]
    return lines


def markdown(report: DiffReport) -> str:
    """The report as GitHub-flavoured markdown, to paste into a review."""
    old, new = report.old, report.new
    lines = [f"# What changes from {md(old.version)} to {md(new.version)}", "",
             f"- Old: **{md(old.version)}**" + (f", published {_date(old.published)}" if old.published else "")
             + f" ({md_code(old.file)})",
             f"- New: **{md(new.version)}**" + (f", published {_date(new.published)}" if new.published else "")
             + f" ({md_code(new.file)})", "",
             f"**{md(_headline(report))}** {md(_flip(report))}", "",
             "## Codes", ""]
    rows = []
    for change in report.codes:
        verdict = change.verdict or "—"
        rows.append([md(_code_name(change)), md(change.title),
                     change.status, verdict if change.status == "unchanged" else f"**{verdict}**"])
    lines += md_table(["Code", "Title", "Status", "Verdict"], rows) + [""]
    lines += ["Verdicts: " + "; ".join(f"*{v}*: {MEANING[v]}" for v in VERDICTS) + ".", ""]
    changed = report.changed_codes()
    if changed:
        lines += ["## Changed codes", ""]
        for change in changed:
            lines += _md_code_change(change, report)
    overall = report.notifiable
    lines += ["## Notifiable under any code", ""]
    lines += [f"Verdict: **{overall.verdict}**" + (f": {MEANING[overall.verdict]}." if overall.verdict else "."), ""]
    if overall.proof:
        lines += [f"*Proof: {md(overall.proof)}*", ""]
    for witness in overall.witnesses:
        lines += _md_witness(witness, None)
    for missing in overall.no_witness:
        lines += _md_no_witness(missing)
    if report.sections:
        lines += ["## Other sections", ""]
        for section in report.sections:
            note = _section_note(section)
            title = SECTION_TITLE.get(section.section, section.section.capitalize())
            lines += [f"### {md(title)} {md_code(section.name)}: {section.status}" + (f" ({note})" if note else ""),
                      ""]
            changes = _section_changes(section)
            for change in changes:
                lines += _md_change(change)
            if changes:
                lines.append("")
            whole = _only_text(section)
            if whole is not None:
                lines += _md_whole(whole)
            if section.says is not None:
                lines += _md_text("Text", section.says, report)
    if report.population is not None:
        lines += _md_population(report.population)
    lines += ["## Assumptions", ""] + [f"{n}. {md(a)}" for n, a in enumerate(report.assumptions, 1)]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------- html
# The page's view: what evaluator/pages/templates/diff.html lays out, worked out here as plain data.
# Text stays text (the template escapes it); the layout is the template's.

ABSENT = "(not in this version)"


def _anchor(prefix: str, name: str) -> str:
    return prefix + "-" + (re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "x")


@dataclass
class Cell:
    """One side of a row of an old-and-new table; the template draws each kind of cell its own way."""

    kind: str  # plain, absent (greyed), code, rule (a formal rule, line by line), paragraphs, marked (a redline)
    text: str = ""
    paragraphs: list[str] = field(default_factory=list)
    parts: list[tuple[str, str]] = field(default_factory=list)  # marked: (same | removed | added, text)
    whole: bool = False  # marked: the whole text, rewritten


@dataclass
class Row:
    label: str
    old: Cell
    new: Cell


@dataclass
class Compare:
    """A table of old and new, side by side."""

    caption: str
    rows: list[Row]


@dataclass
class WitnessView:
    number: int
    direction: str
    meaning: str
    facts: list[tuple[str, str]]
    results: list[tuple[str, str, str]]  # (what, old, new)
    boundary: list[str]  # prose with `code` spans


@dataclass
class Verdict:
    """A verdict with what stands behind it: the proof, the witnesses, the directions without one."""

    verdict: str | None
    meaning: str  # the verdict in words, when there is one
    proof: str
    witnesses: list[WitnessView]
    missing: list[NoWitness]


@dataclass
class CodeView(Verdict):
    anchor: str = ""
    name: str = ""
    title: str = ""
    status: str = ""
    note: str = ""
    compare: Compare | None = None


@dataclass
class SectionView:
    anchor: str
    title: str
    name: str
    status: str
    note: str
    compare: Compare


@dataclass
class DataTable:
    caption: str
    header: list[str]
    rows: list[list[Any]]  # the first cell of a row heads it
    numeric: tuple[int, ...] = ()  # the columns aligned right


@dataclass
class PopulationView:
    source: str
    counts: str
    tables: list[DataTable]  # side by side
    groups: list[tuple[str, DataTable]]  # (what counting by the group means, its table)
    refused: DataTable | None


@dataclass
class VersionView:
    label: str
    version: str
    published: str
    file: str


@dataclass
class View:
    """The whole page, in its order."""

    old: VersionView
    new: VersionView
    headline: str
    flip: str
    can_flip: bool
    changed: list[CodeView]
    unchanged: str
    legend: list[tuple[str, str]]  # (verdict, what it means)
    overall: Verdict
    sections: list[SectionView]
    population: PopulationView | None
    assumptions: list[str]


def _side(line: Redline, side: str) -> Cell:
    """One side of a redline: the old text with its removals marked, or the new with its additions."""
    text = line.old if side == "old" else line.new
    if not text.strip():
        return Cell("absent", "(no text)")
    keep = "removed" if side == "old" else "added"
    if _redline_kind(line) == "rewritten":
        return Cell("marked", parts=[(keep, text)], whole=True)
    return Cell("marked", parts=[(p.op, p.text) for p in line.parts if p.op in ("same", keep)])


def _words_cell(text: Text | None) -> Cell:
    if text is None:
        return Cell("absent", ABSENT)
    if not text.says:
        return Cell("absent", "(no text)")
    return Cell("paragraphs", paragraphs=list(text.says))


def _rule_cell(text: Text | None) -> Cell:
    if text is None or not text.rule:
        return Cell("absent", "—")
    return Cell("rule", "\n".join(text.rule))


def _code_cell(value: str | None) -> Cell:
    return Cell("code", value) if value else Cell("absent", "—")


def _redline_row(label: str, line: Redline) -> Row:
    return Row(label, _side(line, "old"), _side(line, "new"))


def _change_row(change: Change) -> Row:
    text = _text_change(change)
    if text is not None:
        return _redline_row(change.message, text)
    if change.old is None and change.new is None:
        return Row(change.message, Cell("absent", "—"), Cell("absent", "—"))
    return Row(change.message, _code_cell(change.old), _code_cell(change.new))


def _code_rows(change: CodeChange) -> list[Row]:
    rows = []
    if change.category is not None:
        rows.append(_redline_row("Category", change.category))
    else:
        here = Cell("plain", change.title)
        rows.append(Row("Category", here if change.status != "added" else Cell("absent", ABSENT),
                        here if change.status != "removed" else Cell("absent", ABSENT)))
    if change.says is not None:
        rows.append(_redline_row("Criteria", change.says))
    else:  # the same words in both versions, or the words of the one version that has the code
        rows.append(Row("Criteria", _words_cell(change.old_text), _words_cell(change.new_text)))
    rows.append(Row("Rule", _rule_cell(change.old_text), _rule_cell(change.new_text)))
    return rows + [_change_row(item) for item in change.changes]


def _witness(witness: Witness, code: str | None, number: int) -> WitnessView:
    results = [("Notifiable", _yes_no(witness.old.notifiable), _yes_no(witness.new.notifiable)),
               ("Codes", _codes(witness.old.codes), _codes(witness.new.codes))]
    if code is not None:
        results.append((f"{code} met", _yes_no(witness.old.met), _yes_no(witness.new.met)))
    return WitnessView(number=number, direction=witness.direction, meaning=DIRECTION[witness.direction],
                       facts=[(k, _value(v)) for k, v in witness.incident.items()], results=results,
                       boundary=list(witness.boundary))


def _meaning(verdict: str | None) -> str:
    return f"{verdict.capitalize()}: {MEANING[verdict]}." if verdict else ""


def _code(change: CodeChange) -> CodeView:
    code = change.code if change.status != "removed" else (change.old_code or change.code)
    return CodeView(verdict=change.verdict, meaning=_meaning(change.verdict), proof=change.proof or "",
                    witnesses=[_witness(w, code, n) for n, w in enumerate(change.witnesses, 1)],
                    missing=list(change.no_witness), anchor=_anchor("code", change.code), name=_code_name(change),
                    title=change.title, status=change.status, note=_code_note(change),
                    compare=Compare(f"Code {_code_name(change)}, old and new", _code_rows(change)))


def _section(section: SectionChange) -> SectionView:
    title = SECTION_TITLE.get(section.section, section.section.capitalize())
    old, new = section.old_text, section.new_text
    rows = []
    if section.says is not None:
        rows.append(_redline_row("Text", section.says))
    elif old is not None or new is not None:
        rows.append(Row("Text", _words_cell(old), _words_cell(new)))
    if (old and old.rule) or (new and new.rule):
        rows.append(Row("Rule", _rule_cell(old), _rule_cell(new)))
    rows += [_change_row(change) for change in _section_changes(section)]
    if not rows:
        left = {"added": ABSENT, "removed": "removed"}.get(section.status, "")
        right = {"added": "added", "removed": ABSENT}.get(section.status, "")
        rows.append(Row(section.name, Cell("absent", left), Cell("absent", right)))
    return SectionView(anchor=_anchor(section.section, section.name), title=title, name=section.name,
                       status=section.status, note=_section_note(section),
                       compare=Compare(f"{title} {section.name}, old and new", rows))


def _population(population: Population) -> PopulationView:
    tables = [DataTable("Outcomes", ["Outcome", "Incidents"], [[w.capitalize(), n] for w, n in _outcomes(population)],
                        (1,))]
    for caption, header, transitions in (("Verdict changes", ["Old", "New"], population.notifiable),
                                         ("Code changes", ["Old codes", "New codes"], population.codes)):
        if transitions:
            tables.append(DataTable(caption, header + ["Incidents", "Examples"],
                                    [[t.old, t.new, t.count, _examples(t)] for t in transitions], (2,)))
    groups = []
    for caption, key, members in (("By modality", "Modality", population.by_modality),
                                  ("By old code", "Old code", population.by_old_code)):
        if members:
            rows = []
            for group in members:
                verdicts, codes = _group_cells(group, "→")
                rows.append([group.key, group.count, verdicts or "—", codes or "—"])
            groups.append((f"{caption}: {_several(population, key.lower(), members)}.",
                           DataTable(caption, [key, "Incidents", "Verdict changes", "Code changes"], rows, (1,))))
    refused = None
    if population.refused:
        refused = DataTable("Refused incidents", ["Row", "Id", "Field", "Reason"],
                            [[r.row, r.id or "", r.field or "", r.reason] for r in population.refused])
    return PopulationView(source=population.source, counts=f"{population.rows} incidents: {population.evaluated} "
                          f"evaluated, {len(population.refused)} refused.", tables=tables, groups=groups,
                          refused=refused)


def _version_view(label: str, ref: VersionRef) -> VersionView:
    return VersionView(label, ref.version, _date(ref.published), ref.file)


def view(report: DiffReport) -> View:
    """What the HTML page shows, in its order."""
    overall = report.notifiable
    return View(
        old=_version_view("Old", report.old), new=_version_view("New", report.new), headline=_headline(report),
        flip=_flip(report), can_flip=report.can_flip, changed=[_code(c) for c in report.changed_codes()],
        unchanged=", ".join(_unchanged(report)), legend=[(v, MEANING[v].capitalize()) for v in VERDICTS],
        overall=Verdict(verdict=overall.verdict, meaning=_meaning(overall.verdict), proof=overall.proof or "",
                        witnesses=[_witness(w, None, n) for n, w in enumerate(overall.witnesses, 1)],
                        missing=list(overall.no_witness)),
        sections=[_section(s) for s in report.sections],
        population=_population(report.population) if report.population is not None else None,
        assumptions=list(report.assumptions))


def html(report: DiffReport) -> str:
    """The report as one self-contained HTML page: old and new side by side, print-friendly.

    The page is evaluator/pages/templates/diff.html, with the one stylesheet of the pages.
    """
    shown = view(report)
    return pages.render("diff.html", page="diff-page", title=f"irmer diff: {shown.old.version} → {shown.new.version}",
                        view=shown)
