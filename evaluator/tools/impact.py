"""Level 3 of the diff: run both versions on a file of incidents and count what changes.

Incidents come as JSON (one object or an array), JSON Lines or CSV (a header
row of field names; an empty cell is an absent fact; a modality cell may list
several values separated by `;`). Every row is accounted for: evaluated under
both versions, or refused with its reason.

>>> from evaluator import load_criteria
>>> rows = [{"id": "A", "jurisdiction": "England", "exposure": "unintended", "modality": "radiotherapy_imaging",
...          "imaging_cause": "hardware_software_failure", "fraction_images": 3, "age": 40,
...          "intended_dose": "0.1 mSv", "total_dose": "0.1 mSv"},
...         {"id": "B", "jurisdiction": "England", "exposure": "accidental", "total_dose": "8 mSv"}]
>>> impact = population(load_criteria("2023"), load_criteria("2024"), rows, "two incidents")
>>> impact.became_notifiable, impact.stopped_being_notifiable, impact.unchanged
(1, 0, 1)
>>> impact.codes[0].old, impact.codes[0].new, impact.codes[0].examples
('(none)', '4.2a', ['A'])
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from pydantic import BaseModel, Field

from ..language.incident import DuplicateKeyError, strict_object
from ..load import Guidance

EXAMPLES_PER_CELL = 3
COLUMNAR_FROM = 10_000  # from this many incidents both versions run on the columnar engine (faster from there)
WORDS = {True: "notifiable", False: "not notifiable", None: "undetermined"}


class Transition(BaseModel):
    """How many incidents went from one outcome to another, with a few of their ids."""

    old: str
    new: str
    count: int
    examples: list[str] = Field(default_factory=list)


class Group(BaseModel):
    """The transitions of one group of incidents (one modality, or one old code)."""

    key: str
    count: int
    notifiable: list[Transition] = Field(default_factory=list)
    codes: list[Transition] = Field(default_factory=list)


class Refused(BaseModel):
    """An incident that could not be evaluated, and why."""

    row: int
    id: str | None = None
    field: str | None = None
    reason: str


class Population(BaseModel):
    """Both versions on every incident of a file."""

    source: str
    rows: int
    evaluated: int
    refused: list[Refused] = Field(default_factory=list)
    became_notifiable: int = 0
    stopped_being_notifiable: int = 0
    undetermined_changed: int = Field(0, description="incidents that moved between undetermined and not notifiable")
    codes_changed: int = Field(0, description="incidents notifiable in both versions but under other codes")
    unchanged: int = 0
    notifiable: list[Transition] = Field(default_factory=list, description="old verdict -> new verdict")
    codes: list[Transition] = Field(default_factory=list, description="old codes -> new codes, where they differ")
    by_modality: list[Group] = Field(default_factory=list, description="an incident with several modalities is "
                                      "counted in the group of each, so the counts can add up to more than evaluated")
    by_old_code: list[Group] = Field(default_factory=list, description="an incident notifiable under several codes "
                                      "in the old version is counted in the group of each")
    in_several_modalities: int = Field(0, description="evaluated incidents counted in more than one modality group")
    in_several_old_codes: int = Field(0, description="evaluated incidents counted in more than one old-code group")


class IncidentFileError(ValueError):
    """A file of incidents that cannot be read at all."""


def read_incidents(path: str | Path) -> list[Any]:
    """The incidents of a JSON, JSON Lines or CSV file, one item per row (a row that cannot be read is a string)."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IncidentFileError(f"cannot read {path}: {error}") from None
    if target.suffix.lower() == ".csv":
        return _csv(text)
    stripped = text.strip()
    if not stripped:
        return []
    try:
        document = json.loads(stripped, parse_float=Decimal, parse_constant=str, object_pairs_hook=strict_object)
        return document if isinstance(document, list) else [document]
    except DuplicateKeyError as error:
        raise IncidentFileError(f"{path}: {error}") from None
    except json.JSONDecodeError as error:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise IncidentFileError(f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from None
        out: list[Any] = []
        for number, line in enumerate(lines, 1):
            try:
                out.append(json.loads(line, parse_float=Decimal, parse_constant=str, object_pairs_hook=strict_object))
            except json.JSONDecodeError as line_error:
                out.append(f"line {number}: not valid JSON at column {line_error.colno}: {line_error.msg}")
            except DuplicateKeyError as repeated:
                out.append(f"line {number}: {repeated}")
        return out


def _csv(text: str) -> list[Any]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        return []
    rows: list[Any] = []
    for record in reader:
        if None in record:
            rows.append(f"line {reader.line_num}: more cells than the header has names")
            continue
        incident: dict[str, Any] = {}
        for key, cell in record.items():
            cell = (cell or "").strip()
            if not cell:
                continue
            incident[key.strip()] = [v.strip() for v in cell.split(";") if v.strip()] if ";" in cell else cell
        rows.append(incident)
    return rows


def _codes(codes: list[str]) -> str:
    return ", ".join(codes) if codes else "(none)"


def _count(transitions: dict[tuple[str, str], list[str]]) -> list[Transition]:
    return [Transition(old=old, new=new, count=len(ids), examples=ids[:EXAMPLES_PER_CELL])
            for (old, new), ids in sorted(transitions.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def population(old: Guidance, new: Guidance, incidents: Iterable[Any], source: str) -> Population:
    """Evaluate every incident under both versions and count the changes."""
    items = list(incidents)
    report = Population(source=source, rows=len(items), evaluated=0)
    verdicts: dict[tuple[str, str], list[str]] = defaultdict(list)
    codes: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_modality: dict[str, dict[str, dict]] = defaultdict(lambda: {"n": 0, "v": defaultdict(list),
                                                                     "c": defaultdict(list)})
    by_old_code: dict[str, dict[str, dict]] = defaultdict(lambda: {"n": 0, "v": defaultdict(list),
                                                                     "c": defaultdict(list)})
    outcomes = _outcomes(old, new, items)
    for row, (item, pair) in enumerate(zip(items, outcomes), 1):
        ident = str(item.get("id")) if isinstance(item, dict) and item.get("id") is not None else None
        if isinstance(item, str):
            report.refused.append(Refused(row=row, reason=item))
            continue
        if not isinstance(item, dict):
            report.refused.append(Refused(row=row, reason=f"an incident is an object, not {type(item).__name__}"))
            continue
        a, b = pair
        if a.error or b.error:
            error = a.error or b.error
            report.refused.append(Refused(row=row, id=ident, field=error.field, reason=error.message))
            continue
        report.evaluated += 1
        name = ident or f"row {row}"
        verdict = (WORDS[a.notifiable], WORDS[b.notifiable])
        code = (_codes(a.codes), _codes(b.codes))
        if a.notifiable is not True and b.notifiable is True:
            report.became_notifiable += 1
        elif a.notifiable is True and b.notifiable is not True:
            report.stopped_being_notifiable += 1
        elif a.notifiable != b.notifiable:
            report.undetermined_changed += 1
        elif code[0] != code[1]:
            report.codes_changed += 1
        else:
            report.unchanged += 1
        if verdict[0] != verdict[1]:
            verdicts[verdict].append(name)
        if code[0] != code[1]:
            codes[code].append(name)
        modalities = item.get("modality") or "(not given)"
        keys = list(dict.fromkeys(str(m) for m in (modalities if isinstance(modalities, list) else [modalities])))
        for modality in keys:
            _group(by_modality[modality], verdict, code, name)
        report.in_several_modalities += len(keys) > 1
        for old_code in (a.codes or ["(none)"]):
            _group(by_old_code[old_code], verdict, code, name)
        report.in_several_old_codes += len(a.codes) > 1
    report.notifiable = _count(verdicts)
    report.codes = _count(codes)
    report.by_modality = _groups(by_modality)
    report.by_old_code = _groups(by_old_code)
    return report


@dataclass
class Outcome:
    """What one version said of one incident: as much of a Result as the report reads."""

    notifiable: bool | None = None
    codes: list[str] = field(default_factory=list)
    error: Any = None  # an ErrorInfo: field and message


def _outcomes(old: Guidance, new: Guidance, items: list[Any]) -> list[tuple[Outcome, Outcome] | None]:
    """Both versions' outcome for each incident (None for an item that is not one).

    A large file goes through the columnar engine (SQL on DuckDB, the same answers as
    Guidance.evaluate, row for row); a few incidents, and those the table form would read
    differently (a field that is not a fact, a `;` inside a JSON modality), through evaluate.
    """
    from ..language.incident import ENVELOPE
    facts = new.vocabulary.facts
    out: list[tuple[Outcome, Outcome] | None] = [None] * len(items)
    table_rows = []
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        plain = all(key in facts or key in ENVELOPE for key in item) and not (
            isinstance(item.get("modality"), str) and ";" in item["modality"])
        if len(items) >= COLUMNAR_FROM and plain:
            table_rows.append(n)
        else:
            out[n] = (_outcome(old.evaluate(item)), _outcome(new.evaluate(item)))
    if table_rows:
        from ..engines.columnar import evaluate_table, rows_to_table
        table = rows_to_table([items[n] for n in table_rows])
        answers = [evaluate_table(table, criteria=guidance) for guidance in (old, new)]
        columns = [(a.column("notifiable").to_pylist(), a.column("codes").to_pylist(), a.column("error").to_pylist())
                   for a in answers]
        for k, n in enumerate(table_rows):
            pair = []
            for guidance, (notifiable, codes, errors) in zip((old, new), columns):
                if errors[k] is not None:  # the error's field and words, as evaluate gives them
                    pair.append(_outcome(guidance.evaluate(items[n])))
                else:
                    pair.append(Outcome(notifiable[k], codes[k] or []))
            out[n] = (pair[0], pair[1])
    return out


def _outcome(result: Any) -> Outcome:
    return Outcome(result.notifiable, list(result.codes), result.error)


def _group(group: dict, verdict: tuple[str, str], code: tuple[str, str], name: str) -> None:
    group["n"] += 1
    if verdict[0] != verdict[1]:
        group["v"][verdict].append(name)
    if code[0] != code[1]:
        group["c"][code].append(name)


def _groups(groups: dict[str, dict]) -> list[Group]:
    return [Group(key=key, count=g["n"], notifiable=_count(g["v"]), codes=_count(g["c"]))
            for key, g in sorted(groups.items())]
