"""Output for `irmer diff`: text for the terminal, markdown for a review, one HTML page.

Each function takes a DiffReport (evaluator/tools/diff.py) and returns a string. All
three show the same things in the same order:

1. which versions are compared, how many codes changed, and whether any
   incident can flip;
2. every changed code: its structural changes, the changed wording (a redline,
   or the old and new texts in full when the text was rewritten), the verdict,
   the proof, and each witness incident with both versions' results;
3. notifiable under any code, with its witnesses;
4. the other sections (definitions, exclusions, deadlines, authorities, advice);
5. the population impact, when the report has one;
6. the assumptions every verdict rests on.

`text` is rich markup, like evaluator/tools/render_text.py: colour on a terminal,
and, when rich drops the colour, the same text with `[-removed-]` and
`{+added+}` marks (as `git diff --word-diff` writes them), so that nothing
depends on colour alone.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable

from rich.markup import escape

from .diff import (Change, CodeChange, DiffReport, NoWitness, Redline, RedlinePart, SectionChange, Side, Text,
                   VersionRef, Witness)
from .diff import redline as _redline
from .impact import Group, Population, Transition

VERDICTS = ("narrowed", "broadened", "both", "equivalent")
from .markup import h, md, md_code, md_prose, md_table
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
SECTION_TITLE = {"definition": "Definition", "exclusion": "General exclusion", "deadline": "Deadline",
                 "authority": "Enforcing authority", "advice": "Advice", "header": "Header",
                 "interpretation": "Interpretation"}
# Changes whose old and new forms are texts, shown as a redline rather than as code.
TEXT_CHANGES = {"advice", "text"}
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

def _anchor(prefix: str, name: str) -> str:
    return prefix + "-" + (re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "x")


def _badge(verdict: str | None) -> str:
    if verdict is None:
        return '<span class="badge none">no verdict</span>'
    return f'<span class="badge {verdict}">{h(verdict)}</span>'


def _status(status: str) -> str:
    return f'<span class="status {status}">{h(status)}</span>'


def _html_note(note: str) -> str:
    pieces = note.split("`")
    if len(pieces) % 2 == 0:
        return h(note)
    return "".join(h(p) if i % 2 == 0 else f"<code>{h(p)}</code>" for i, p in enumerate(pieces))


def _html_side(line: Redline, side: str) -> str:
    """One side of a redline: the old text with its removals marked, or the new with its additions."""
    kind = _redline_kind(line)
    if kind == "rewritten":
        text = line.old if side == "old" else line.new
        tag = "del" if side == "old" else "ins"
        return f'<{tag} class="whole">{h(text)}</{tag}>' if text else ""
    keep = "removed" if side == "old" else "added"
    out = []
    for part in line.parts:
        if part.op == "same":
            out.append(h(part.text))
        elif part.op == keep:
            tag = "del" if keep == "removed" else "ins"
            out.append(f"<{tag}>{h(part.text)}</{tag}>")
    return "".join(out)


def _html_text_cell(line: Redline, side: str) -> str:
    text = line.old if side == "old" else line.new
    if not text.strip():
        return '<td class="absent">(no text)</td>'
    return f"<td>{_html_side(line, side)}</td>"


def _html_code_form(value: str | None) -> str:
    return f"<td><code>{h(value)}</code></td>" if value else '<td class="absent">—</td>'


def _html_change_row(change: Change) -> str:
    text = _text_change(change)
    if text is not None:
        cells = _html_text_cell(text, "old") + _html_text_cell(text, "new")
    elif change.old is None and change.new is None:
        cells = '<td class="absent">—</td><td class="absent">—</td>'
    else:
        cells = _html_code_form(change.old) + _html_code_form(change.new)
    return f'<tr><th scope="row">{h(change.message)}</th>{cells}</tr>'


def _html_compare(report: DiffReport, rows: list[str], caption: str) -> str:
    return ("<table class=\"compare\">"
            f'<caption class="vh">{h(caption)}</caption>'
            "<colgroup><col class=\"what\"><col class=\"side\"><col class=\"side\"></colgroup>"
            f"<thead><tr><td></td><th scope=\"col\">Old: {h(report.old.version)}</th>"
            f"<th scope=\"col\">New: {h(report.new.version)}</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")


def _html_code_rows(change: CodeChange) -> list[str]:
    rows = []
    old_here, new_here = change.status != "added", change.status != "removed"
    if change.category is not None:
        rows.append(f'<tr><th scope="row">Category</th>{_html_text_cell(change.category, "old")}'
                    f'{_html_text_cell(change.category, "new")}</tr>')
    else:
        left = f"<td>{h(change.title)}</td>" if old_here else '<td class="absent">(not in this version)</td>'
        right = f"<td>{h(change.title)}</td>" if new_here else '<td class="absent">(not in this version)</td>'
        rows.append(f'<tr><th scope="row">Category</th>{left}{right}</tr>')
    if change.says is not None:
        rows.append(f'<tr><th scope="row">Criteria</th>{_html_text_cell(change.says, "old")}'
                    f'{_html_text_cell(change.says, "new")}</tr>')
    else:  # the same words in both versions, or the words of the one version that has the code
        rows.append(f'<tr><th scope="row">Criteria</th>{_html_words(change.old_text)}'
                    f'{_html_words(change.new_text)}</tr>')
    rows.append(f'<tr><th scope="row">Rule</th>{_html_rule(change.old_text)}{_html_rule(change.new_text)}</tr>')
    for item in change.changes:
        rows.append(_html_change_row(item))
    return rows


def _html_words(text: Text | None) -> str:
    if text is None:
        return '<td class="absent">(not in this version)</td>'
    if not text.says:
        return '<td class="absent">(no text)</td>'
    return "<td>" + "".join(f"<p>{h(words)}</p>" for words in text.says) + "</td>"


def _html_rule(text: Text | None) -> str:
    if text is None or not text.rule:
        return '<td class="absent">—</td>'
    return '<td><pre class="rule">' + h("\n".join(text.rule)) + "</pre></td>"


def _html_witness(witness: Witness, code: str | None, number: int) -> str:
    facts = "".join(f'<tr><th scope="row">{h(k)}</th><td>{h(_value(v))}</td></tr>'
                    for k, v in witness.incident.items())
    rows = [("Notifiable", _yes_no(witness.old.notifiable), _yes_no(witness.new.notifiable)),
            ("Codes", _codes(witness.old.codes), _codes(witness.new.codes))]
    if code is not None:
        rows.append((f"{code} met", _yes_no(witness.old.met), _yes_no(witness.new.met)))
    results = "".join(f'<tr><th scope="row">{h(a)}</th><td class="v-{h(b)}">{h(b)}</td>'
                      f'<td class="v-{h(c)}">{h(c)}</td></tr>' for a, b, c in rows)
    boundary = "".join(f'<p class="boundary">{_html_note(n)}</p>' for n in witness.boundary)
    return (f'<div class="witness {witness.direction}">'
            f'<h4>Witness {number}: {_badge(witness.direction)} <span class="direction">'
            f'{h(DIRECTION[witness.direction])}</span></h4>'
            '<div class="witness-tables">'
            f'<table class="facts"><caption>The incident</caption><thead><tr><th scope="col">Fact</th>'
            f'<th scope="col">Value</th></tr></thead><tbody>{facts}</tbody></table>'
            '<table class="results"><caption>What each version says</caption><thead><tr><td></td>'
            f'<th scope="col">Old: {h(witness.old.version)}</th><th scope="col">New: {h(witness.new.version)}</th>'
            f'</tr></thead><tbody>{results}</tbody></table>'
            f'</div>{boundary}</div>')


def _html_no_witness(missing: NoWitness) -> str:
    return (f'<div class="witness none"><h4>No witness shown: {_badge(missing.direction)}</h4>'
            f'<p class="boundary">{h(missing.reason)}.</p></div>')


def _html_code(change: CodeChange, report: DiffReport) -> str:
    anchor = _anchor("code", change.code)
    title = f' <span class="title">{h(change.title)}</span>' if change.title else ""
    parts = [f'<section class="code" id="{anchor}" aria-labelledby="{anchor}-h">',
             f'<h3 id="{anchor}-h"><span class="code-id">{h(_code_name(change))}</span>{title} '
             f'{_badge(change.verdict)} {_status(change.status)}'
             + (f' <span class="note">{h(_code_note(change))}</span>' if _code_note(change) else "") + "</h3>"]
    if change.verdict:
        parts.append(f'<p class="meaning">{h(change.verdict.capitalize())}: {h(MEANING[change.verdict])}.</p>')
    parts.append(_html_compare(report, _html_code_rows(change), f"Code {_code_name(change)}, old and new"))
    if change.proof:
        parts.append(f'<p class="proof">{h(change.proof)}</p>')
    code = change.code if change.status != "removed" else (change.old_code or change.code)
    for number, witness in enumerate(change.witnesses, 1):
        parts.append(_html_witness(witness, code, number))
    parts += [_html_no_witness(missing) for missing in change.no_witness]
    parts.append("</section>")
    return "\n".join(parts)


def _html_table(caption: str, header: list[str], rows: list[list[Any]], numeric: Iterable[int] = ()) -> str:
    numeric = set(numeric)
    num = ' class="num"'
    head = "".join(f'<th scope="col"{num if i in numeric else ""}>{h(title)}</th>' for i, title in enumerate(header))
    body = "".join("<tr>" + "".join(
        (f'<th scope="row">{h(c)}</th>' if i == 0 else f'<td{num if i in numeric else ""}>{h(c)}</td>')
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    return (f'<table class="data"><caption>{h(caption)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _html_population(population: Population) -> str:
    parts = ['<section id="population" aria-labelledby="population-h">',
             f'<h2 id="population-h">Impact on <code>{h(population.source)}</code></h2>',
             f"<p>{population.rows} incidents: {population.evaluated} evaluated, "
             f"{len(population.refused)} refused.</p>",
             '<div class="tables">',
             _html_table("Outcomes", ["Outcome", "Incidents"], [[w.capitalize(), n] for w, n in _outcomes(population)],
                         numeric=[1])]
    if population.notifiable:
        parts.append(_html_table("Verdict changes", ["Old", "New", "Incidents", "Examples"],
                                 [[t.old, t.new, t.count, _examples(t)] for t in population.notifiable], numeric=[2]))
    if population.codes:
        parts.append(_html_table("Code changes", ["Old codes", "New codes", "Incidents", "Examples"],
                                 [[t.old, t.new, t.count, _examples(t)] for t in population.codes], numeric=[2]))
    parts.append("</div>")
    for caption, key, groups in (("By modality", "Modality", population.by_modality),
                                 ("By old code", "Old code", population.by_old_code)):
        if groups:
            note = _several(population, key.lower(), groups)
            parts.append(f'<p class="boundary">{h(caption)}: {h(note)}.</p>')
            rows = []
            for group in groups:
                verdicts, codes = _group_cells(group, "→")
                rows.append([group.key, group.count, verdicts or "—", codes or "—"])
            parts.append(_html_table(caption, [key, "Incidents", "Verdict changes", "Code changes"], rows,
                                     numeric=[1]))
    if population.refused:
        parts.append(_html_table("Refused incidents", ["Row", "Id", "Field", "Reason"],
                                 [[r.row, r.id or "", r.field or "", r.reason] for r in population.refused]))
    parts.append("</section>")
    return "\n".join(parts)


def _html_section(section: SectionChange, report: DiffReport) -> str:
    anchor = _anchor(section.section, section.name)
    title = SECTION_TITLE.get(section.section, section.section.capitalize())
    note = _section_note(section)
    rows = []
    if section.says is not None:
        rows.append(f'<tr><th scope="row">Text</th>{_html_text_cell(section.says, "old")}'
                    f'{_html_text_cell(section.says, "new")}</tr>')
    elif section.old_text is not None or section.new_text is not None:
        rows.append(f'<tr><th scope="row">Text</th>{_html_words(section.old_text)}'
                    f'{_html_words(section.new_text)}</tr>')
    if (section.old_text and section.old_text.rule) or (section.new_text and section.new_text.rule):
        rows.append(f'<tr><th scope="row">Rule</th>{_html_rule(section.old_text)}{_html_rule(section.new_text)}</tr>')
    for change in _section_changes(section):
        rows.append(_html_change_row(change))
    if not rows:
        left = {"added": "(not in this version)", "removed": "removed"}.get(section.status, "")
        right = {"added": "added", "removed": "(not in this version)"}.get(section.status, "")
        rows.append(f'<tr><th scope="row">{h(section.name)}</th><td class="absent">{h(left)}</td>'
                    f'<td class="absent">{h(right)}</td></tr>')
    return "\n".join([f'<section class="other" id="{anchor}" aria-labelledby="{anchor}-h">',
                      f'<h3 id="{anchor}-h">{h(title)} <code>{h(section.name)}</code> {_status(section.status)}'
                      + (f' <span class="note">{h(note)}</span>' if note else "") + "</h3>",
                      _html_compare(report, rows, f"{title} {section.name}, old and new"), "</section>"])


CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa;
  --del-bg: #ffebe9; --del-ink: #82071e; --ins-bg: #dafbe1; --ins-ink: #0a3d1a; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1240px; padding: 24px 32px 48px; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.7em; margin: 0 0 .3em; }
h2 { font-size: 1.35em; margin: 1.8em 0 .6em; padding-bottom: .25em; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.12em; margin: 0 0 .4em; display: flex; flex-wrap: wrap; gap: .5em; align-items: baseline; }
h4 { font-size: 1em; margin: .9em 0 .4em; }
code { font: .9em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  background: var(--soft); padding: .05em .3em; border-radius: 4px; }
pre.rule { margin: 0; white-space: pre-wrap; font: .85em/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas,
  "Liberation Mono", monospace; }
td p { margin: 0 0 .4em; }
td p:last-child { margin-bottom: 0; }
.versions { margin: 0 0 .8em; padding: 0; list-style: none; color: var(--muted); }
.summary { font-size: 1.05em; padding: .7em 1em; background: var(--soft); border-left: 4px solid var(--muted);
  border-radius: 4px; }
.summary.flips { border-left-color: #cf222e; }
.badge { display: inline-block; font-size: .8rem; font-weight: 700; padding: .1em .6em; border-radius: 1em;
  border: 1px solid currentColor; white-space: nowrap; }
.badge.narrowed { background: #fff8c5; color: #6a4a00; }
.badge.broadened { background: #ffebe9; color: #a40e26; }
.badge.both { background: #ffeff7; color: #99286e; }
.badge.equivalent { background: #dafbe1; color: #116329; }
.badge.none { background: var(--soft); color: var(--muted); }
.status { font-size: .8rem; color: var(--muted); font-weight: 400; }
.status.added, .status.removed { font-weight: 700; color: var(--ink); }
.code-id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.title { font-weight: 600; }
.note, .direction { font-size: .85rem; font-weight: 400; color: var(--muted); }
.meaning, .proof { margin: .2em 0 .6em; color: var(--muted); }
.proof { font-size: .9em; font-style: italic; }
section.code, section.other, section.overall { border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px;
  margin: 0 0 18px; }
table { border-collapse: collapse; }
caption { text-align: left; font-weight: 600; color: var(--muted); font-size: .85rem; padding: 0 0 .3em; }
th, td { border: 1px solid var(--line); padding: .35em .6em; vertical-align: top; text-align: left; }
thead th { background: var(--soft); }
table.compare { width: 100%; table-layout: fixed; margin: .3em 0 .6em; }
table.compare col.what { width: 22%; }
table.compare tbody th { font-weight: 500; background: #fbfcfd; }
.absent { color: var(--muted); font-style: italic; }
del { background: var(--del-bg); color: var(--del-ink); text-decoration: line-through;
  text-decoration-color: rgba(130, 7, 30, .55); }
ins { background: var(--ins-bg); color: var(--ins-ink); text-decoration: underline;
  text-decoration-color: rgba(10, 61, 26, .45); }
del.whole, ins.whole { text-decoration: none; background: none; display: block; padding: .1em .4em;
  border-left: 3px solid; }
del.whole { border-color: #cf222e; } ins.whole { border-color: #1a7f37; }
del::before, del::after, ins::before, ins::after { clip-path: inset(100%); clip: rect(1px, 1px, 1px, 1px);
  height: 1px; width: 1px; overflow: hidden; position: absolute; white-space: nowrap; }
del::before { content: " [removed: "; } ins::before { content: " [added: "; }
del::after, ins::after { content: "] "; }
.witness { margin: .6em 0 .2em; padding: .2em 0 0; border-top: 1px dashed var(--line); }
.witness-tables { display: flex; flex-wrap: wrap; gap: 16px 28px; align-items: flex-start; }
table.facts td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
table.facts th { font-weight: 500; }
table.results th[scope=row] { font-weight: 500; }
td.v-yes { font-weight: 700; color: #a40e26; }
td.v-no { color: var(--muted); }
.boundary { margin: .3em 0; font-size: .9em; color: var(--muted); }
table.data { margin: .2em 0 1em; min-width: 40%; }
table.data td.num, table.data th.num { text-align: right; }
table.data tbody th { font-weight: 500; }
.tables { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
.unchanged { color: var(--muted); }
.legend { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 6px 24px; margin: .8em 0;
  font-size: .9em; }
.legend div { display: flex; gap: .6em; align-items: baseline; }
.legend dt { flex: none; } .legend dd { margin: 0; color: var(--muted); }
.vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
footer { margin-top: 2.5em; padding-top: .6em; border-top: 1px solid var(--line); color: var(--muted);
  font-size: .9em; }
a { color: #0550ae; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  section.code, section.other, section.overall, .witness, table { break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
  .badge, del, ins, thead th { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""


def _html_version(label: str, ref: VersionRef) -> str:
    published = f", published {h(_date(ref.published))}" if ref.published else ""
    return f"<li>{label}: <strong>{h(ref.version)}</strong>{published} (<code>{h(ref.file)}</code>)</li>"


def html(report: DiffReport) -> str:
    """The report as one self-contained HTML page: old and new side by side, print-friendly."""
    old, new = report.old, report.new
    title = f"irmer diff: {old.version} → {new.version}"
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{h(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>", "<header>",
           f"<h1>What changes from {h(old.version)} to {h(new.version)}</h1>",
           '<ul class="versions">',
           _html_version("Old", old), _html_version("New", new),
           "</ul>",
           f'<p class="summary{" flips" if report.can_flip else ""}"><strong>{h(_headline(report))}</strong> '
           f"{h(_flip(report))}</p>", "</header>", "<main>"]
    # The changed codes at a glance, each linked to its section; the unchanged ones on one line.
    rows = []
    for change in report.changed_codes():
        name = f'<a href="#{_anchor("code", change.code)}">{h(_code_name(change))}</a>'
        rows.append(f'<tr><th scope="row">{name}</th><td>{h(change.title)}</td><td>{h(change.status)}</td>'
                    f"<td>{_badge(change.verdict)}</td></tr>")
    out += ['<section id="codes" aria-labelledby="codes-h">', '<h2 id="codes-h">Codes</h2>']
    if rows:
        out.append('<table class="data codes"><caption>The codes that changed</caption><thead><tr>'
                   '<th scope="col">Code</th><th scope="col">Title</th><th scope="col">Status</th>'
                   '<th scope="col">Verdict</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")
    unchanged = _unchanged(report)
    if unchanged:
        out.append(f'<p class="unchanged"><strong>Unchanged</strong> (the same wording and rule, proved '
                   f'equivalent): {h(", ".join(unchanged))}.</p>')
    out += ['<dl class="legend">' + "".join(f"<div><dt>{_badge(v)}</dt><dd>{h(MEANING[v].capitalize())}.</dd></div>"
                                            for v in VERDICTS) + "</dl>",
            "</section>"]
    changed = report.changed_codes()
    if changed:
        out += ['<section id="changed" aria-labelledby="changed-h">', '<h2 id="changed-h">Changed codes</h2>']
        out += [_html_code(change, report) for change in changed]
        out.append("</section>")
    overall = report.notifiable
    out += ['<section id="notifiable" aria-labelledby="notifiable-h">',
            '<h2 id="notifiable-h">Notifiable under any code</h2>', '<section class="overall">',
            f"<h3>Overall verdict {_badge(overall.verdict)}</h3>"]
    if overall.verdict:
        out.append(f'<p class="meaning">{h(overall.verdict.capitalize())}: {h(MEANING[overall.verdict])}.</p>')
    if overall.proof:
        out.append(f'<p class="proof">{h(overall.proof)}</p>')
    out += [_html_witness(w, None, n) for n, w in enumerate(overall.witnesses, 1)]
    out += [_html_no_witness(missing) for missing in overall.no_witness]
    out += ["</section>", "</section>"]
    if report.sections:
        out += ['<section id="sections" aria-labelledby="sections-h">', '<h2 id="sections-h">Other sections</h2>']
        out += [_html_section(section, report) for section in report.sections]
        out.append("</section>")
    if report.population is not None:
        out.append(_html_population(report.population))
    out += ["</main>", '<footer aria-labelledby="assumptions-h">', '<h2 id="assumptions-h">Assumptions</h2>', "<ol>"]
    out += [f"<li>{h(a)}</li>" for a in report.assumptions]
    out += ["</ol>", "</footer>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
