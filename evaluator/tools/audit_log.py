"""An incident log for the audit: read it, map an export's columns onto the vocabulary, evaluate every row.

An incident system's export is a CSV, JSON Lines or Parquet file with a row
per incident: the vocabulary's facts (docs/incidents.md), the audit columns
below, and any other columns (site, sub-modality, ...), which are kept. An
export whose columns are named otherwise is described by a mapping file
(TOML, docs/audit.md):

    [columns]                 # our name = the export's column
    id = "Incident ref"
    total_dose = "Dose (mSv)"
    notified_on = "Date reported"
    [units]                   # a column of bare numbers: its unit
    total_dose = "mSv"
    [values.jurisdiction]     # the export's word = the vocabulary's
    Eng = "England"
    [dates]
    format = "%d/%m/%Y"       # how every date column is written (ISO 8601 without it)

Evaluation: a log of `COLUMNAR_FROM` rows or more goes through the columnar
engine (SQL on DuckDB, evaluator/engines/columnar.py); a smaller one through
the compiled Python engine, row by row (faster to start). Both give the same
table: the log's columns and the result's (notifiable, codes, complementary,
missing, authority, notify_by, report_by, criteria, error). Each row is
evaluated under the version in force on its discovered_on, unless a version
is chosen.

>>> import pyarrow as pa
>>> log = pa.table({"id": ["A"], "jurisdiction": ["Wales"], "exposure": ["accidental"], "site": ["North"]})
>>> out = evaluate(log)
>>> out.column("codes").to_pylist(), out.column("site").to_pylist(), out.column("authority").to_pylist()
([['1']], ['North'], ['Healthcare Inspectorate Wales (HIW)'])
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import CriteriaError

# The audit columns: what the employer did about each incident. Each is read as its kind says.
AUDIT_COLUMNS: dict[str, str] = {
    "notified_on": "date",          # the day the enforcing authority was notified
    "report_sent_on": "date",       # the day the investigation report was sent
    "notified_codes": "codes",      # the codes notified, separated by ; or , (or a list)
    "authority_notified": "text",   # the authority notified: its name, its abbreviation, or its jurisdiction
}
# Columns the audit reads that are not facts: `cause` groups incidents into possible themes.
OTHER_COLUMNS: dict[str, str] = {"cause": "text"}
MAP_TABLES = ("columns", "units", "values", "dates")
COLUMNAR_FROM = 10_000  # from this many rows the log goes through the columnar engine (DuckDB)
ENGINES = ("auto", "python", "duckdb")
ISO = "%Y-%m-%d"


class LogError(Exception):
    """A log that cannot be audited at all (unreadable, a result column clash): exit status 2."""


# ------------------------------------------------------------------ the mapping file

@dataclass
class LogMap:
    """How an export's columns, units, values and dates map onto the vocabulary."""

    path: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # our name -> the export's column
    units: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_format: str | None = None
    text: str = ""

    def error(self, message: str, table: str | None = None, key: str | None = None,
              hint: str | None = None) -> CriteriaError:
        """An error at the line of `key` in `[table]` of the mapping file (file:line:col and a caret)."""
        from ..language.diagnostics import Diagnostic, Span
        span = None
        if self.path is not None:
            line, column, width = _key_position(self.text, table, key)
            span = Span(file=self.path, line=line, column=column, end_line=line, end_column=column + width)
        return CriteriaError([Diagnostic(message=message, span=span, hint=hint)],
                             {self.path: self.text} if self.path else {})


def _key_position(text: str, table: str | None, key: str | None) -> tuple[int, int, int]:
    """Where `key` is written under `[table]` (1-based line and column, and its width): tomllib gives
    no positions, so the text is searched the way a reader would look for it."""
    current = None
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1).replace('"', "").replace(" ", "")
            if key is None and current == table:
                return number, line.index("[") + 1, len(stripped)
            continue
        if key is not None and current == table:
            match = re.match(r'^(\s*)("?)' + re.escape(key) + r'\2\s*=', line)
            if match:
                return number, len(match.group(1)) + 1, len(key) + 2 * len(match.group(2))
    return 1, 1, max(1, len(lines[0]) if lines else 1)


def read_map(path: str | Path, facts: Mapping[str, Any]) -> LogMap:
    """A mapping file, checked against the vocabulary; a problem raises CriteriaError at its line."""
    import tomllib
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LogError(f"cannot read the mapping file {name}: {error}") from None
    out = LogMap(path=name, text=text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        from ..language.diagnostics import Diagnostic, Span
        span = None
        if where:
            line, column = int(where.group(1)), int(where.group(2))
            span = Span(file=name, line=line, column=column, end_line=line, end_column=column + 1)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise CriteriaError([Diagnostic(message=f"not valid TOML: {message}", span=span,
                                        hint="the mapping file is TOML: see docs/audit.md")], {name: text}) from None
    for table in data:
        if table not in MAP_TABLES or not isinstance(data[table], dict):
            raise out.error(f"unknown table [{table}] in the mapping file", table=None, key=table,
                            hint=f"the tables are {', '.join('[' + t + ']' for t in MAP_TABLES)}")
    known = {**{n: "fact" for n in facts}, **{n: "envelope" for n in _envelope()}, **AUDIT_COLUMNS, **OTHER_COLUMNS}
    for ours, theirs in data.get("columns", {}).items():
        if not isinstance(theirs, str) or not theirs:
            raise out.error(f"[columns] {ours}: give the export's column name as text", "columns", ours)
        if ours not in known:
            close = difflib.get_close_matches(ours, list(known), n=1, cutoff=0.8)
            if close:
                raise out.error(f"[columns] {ours} is not a name the audit reads", "columns", ours,
                                hint=f"did you mean {close[0]}?")
        out.columns[ours] = theirs
    for fact, unit in data.get("units", {}).items():
        if not isinstance(unit, str):
            raise out.error(f"[units] {fact}: give the unit as text, such as \"mSv\"", "units", fact)
        from ..engines.columnar import TableError, check_units
        try:
            check_units({fact: unit}, facts)
        except TableError as error:
            raise out.error(str(error).replace("--unit ", "[units] ", 1), "units", fact) from None
        out.units[fact] = unit.strip()
    for fact, table in data.get("values", {}).items():
        if not isinstance(table, dict):
            raise out.error(f"[values] {fact}: write a table [values.{fact}] of \"the export's word\" = "
                            "\"the vocabulary's\"", "values", fact)
        info = facts.get(fact)
        if info is None or info.numeric:
            raise out.error(f"[values.{fact}]: {fact} is not a fact with named values", f"values.{fact}", None,
                            hint="a table of values maps words: jurisdiction, exposure, modality, yes/no facts ...")
        allowed = _words(info)
        for theirs, ours in table.items():
            if not isinstance(ours, str) or (allowed and ours not in allowed):
                raise out.error(f"[values.{fact}] {theirs} = {ours!r}: not a value of {fact}", f"values.{fact}",
                                theirs, hint=f"one of {', '.join(sorted(allowed))}")
        out.values[fact] = dict(table)
    dates = data.get("dates", {})
    for key, value in dates.items():
        if key != "format":
            raise out.error(f"[dates] {key}: the only key is format", "dates", key)
        if not isinstance(value, str) or not _good_format(value):
            raise out.error(f"[dates] format {value!r} does not write a whole date", "dates", key,
                            hint="strftime codes with a day, a month and a year, such as \"%d/%m/%Y\"")
        out.date_format = value
    return out


def _envelope() -> dict[str, str]:
    from ..language.incident import ENVELOPE
    return ENVELOPE


def _words(info: Any) -> set[str]:
    if info.kind == "yes or no":
        return {"yes", "no"}
    return set(info.values)


def _good_format(text: str) -> bool:
    day = dt.date(2004, 11, 23)
    try:
        return dt.datetime.strptime(day.strftime(text), text).date() == day
    except ValueError:
        return False


# ------------------------------------------------------------------ reading

def read_log(path: str | Path) -> pa.Table:
    """The log as an Arrow table (CSV cells as text, as an incident's JSON values would be)."""
    from ..engines.columnar import TableError, read_file
    try:
        return read_file(str(path))
    except TableError as error:
        raise LogError(str(error)) from None


@dataclass
class Mapped:
    """A log with our column names, values and dates; `problems` by row for the values it could not read."""

    table: pa.Table
    units: dict[str, str]
    problems: dict[int, list[str]] = field(default_factory=dict)


def apply_map(table: pa.Table, mapping: LogMap | None, facts: Mapping[str, Any]) -> Mapped:
    """Rename, translate values and read dates as the mapping says; read the audit columns' dates."""
    mapping = mapping or LogMap()
    names = list(table.column_names)
    for ours, theirs in mapping.columns.items():
        if theirs not in names:
            close = difflib.get_close_matches(theirs, names, n=3, cutoff=0.6)
            raise mapping.error(f"[columns] {ours} = {theirs!r}: the log has no column {theirs!r}", "columns", ours,
                                hint=f"did you mean {', '.join(repr(c) for c in close)}?" if close else
                                f"its columns are {', '.join(repr(c) for c in names[:12])}"
                                f"{' ...' if len(names) > 12 else ''}")
        if ours in names and ours != theirs and ours not in mapping.columns.values():
            raise mapping.error(f"[columns] {ours} = {theirs!r}: the log already has a column {ours!r}",
                                "columns", ours, hint=f"map {ours!r} too, or remove it from the log")
    renamed = {theirs: ours for ours, theirs in mapping.columns.items()}
    table = table.rename_columns([renamed.get(n, n) for n in names])
    problems: dict[int, list[str]] = {}
    for fact, words in mapping.values.items():
        if fact in table.column_names:
            table = _set(table, fact, _translate(table.column(fact), words))
    dates = [n for n in table.column_names if AUDIT_COLUMNS.get(n) == "date" or
             (n in facts and facts[n].kind == "date")]
    for name in dates:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            table = _set(table, name, pc.cast(column, pa.date32()))
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            if mapping.date_format is None and name not in AUDIT_COLUMNS:
                continue  # a fact's ISO date: the engine reads it, and says what is wrong with a bad one
            fmt = mapping.date_format or ISO
            read, bad = _dates(column, fmt)
            for row in bad:
                value = column[row].as_py()
                problems.setdefault(row, []).append(
                    f"{name}: {value!r} is not a date" + (f" written {fmt}" if mapping.date_format else
                                                          " (write YYYY-MM-DD)"))
            table = _set(table, name, read)
    return Mapped(table, dict(mapping.units), problems)


def _set(table: pa.Table, name: str, column: Any) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, column)


def _translate(column: pa.ChunkedArray, words: Mapping[str, str]) -> pa.ChunkedArray:
    """Each cell that is one of the export's words, as the vocabulary's (several modalities: each one)."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    encoded = column.combine_chunks().dictionary_encode()

    def one(text: str) -> str:
        if text in words:
            return words[text]
        if ";" in text:
            return ";".join(words.get(part.strip(), part.strip()) for part in text.split(";"))
        return words.get(text.strip(), text)

    dictionary = pa.array([one(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return pa.chunked_array([pc.take(dictionary, encoded.indices)])


def _dates(column: pa.ChunkedArray, fmt: str) -> tuple[pa.ChunkedArray, list[int]]:
    """The column read as dates in `fmt`, and the rows whose text is not one.

    Each distinct text is read once, by Python's strict reader (31/02/2025 is no date; Arrow's reader
    would make it 3 March): a log of a million rows has a few thousand distinct dates.
    """
    encoded = column.combine_chunks().dictionary_encode()
    read: list[dt.date | None] = []
    bad: list[bool] = []
    for text in encoded.dictionary.to_pylist():
        day = _date(text.strip(), fmt) if text.strip() else None
        read.append(day)
        bad.append(day is None and bool(text.strip()))
    days = pc.take(pa.array(read, pa.date32()), encoded.indices)
    wrong = pc.take(pa.array(bad, pa.bool_()), encoded.indices)
    rows = pc.indices_nonzero(pc.fill_null(wrong, False)).to_pylist() if any(bad) else []
    return pa.chunked_array([days]), rows


def _date(text: str, fmt: str) -> dt.date | None:
    try:
        if fmt == ISO:  # ISO 8601's calendar date, and nothing looser
            return dt.date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        return None


# ------------------------------------------------------------------ evaluating

def evaluate(table: pa.Table, criteria: str | None = None, units: Mapping[str, str] | None = None,
             engine: str = "auto") -> pa.Table:
    """The log with the result's columns added, each row under its version (or `criteria`).

    `engine`: "duckdb" (the columnar engine), "python" (the compiled engine, row by row), or "auto"
    (DuckDB from COLUMNAR_FROM rows). Raises LogError for a log that cannot be evaluated at all.
    """
    from ..engines.columnar import TableError, check_units
    from ..load import load_vocabulary
    if engine not in ENGINES:
        raise LogError(f"unknown engine {engine}: one of {', '.join(ENGINES)}")
    facts = load_vocabulary().facts
    try:
        declared = check_units(dict(units or {}), facts)
    except TableError as error:
        raise LogError(str(error)) from None
    if engine == "duckdb" or (engine == "auto" and table.num_rows >= COLUMNAR_FROM):
        from ..engines.columnar import evaluate_table
        from ..load import load_criteria
        try:
            return evaluate_table(table, criteria=load_criteria(criteria) if criteria else None,
                                  engine="duckdb", units=declared)
        except TableError as error:
            raise LogError(str(error)) from None
    return _evaluate_rows(table, criteria, declared, facts)


def _evaluate_rows(table: pa.Table, criteria: str | None, units: Mapping[str, str],
                   facts: Mapping[str, Any]) -> pa.Table:
    """The compiled engine on each row, as `irmer evaluate` runs it; the columnar engine's output shape."""
    from ..batch import make_versions
    from ..engines.columnar import _BAD_LINE, RESULT_TYPES, incident_of
    from ..engines.sql import RESULT_COLUMNS
    from ..language.incident import ENVELOPE
    clash = [n for n in table.column_names if n in RESULT_COLUMNS and n not in facts]
    if clash:
        raise LogError(f"the log already has a column named {clash[0]}, which the result adds; rename it "
                       f"(a mapping file's [columns] can: docs/audit.md)")
    versions = make_versions(criteria)
    read = [n for n in table.column_names if n in facts or n in ENVELOPE or n == _BAD_LINE]
    results: dict[str, list[Any]] = {name: [] for name in RESULT_COLUMNS}
    for row in table.select(read).to_pylist():
        if row.get(_BAD_LINE):
            document = {"notifiable": None, "codes": [], "complementary": [], "missing": [], "authority": None,
                        "notify_by": None, "report_by": None, "criteria": None,
                        "error": {"field": "incident", "message": row[_BAD_LINE], "hint": None}}
        else:
            incident = incident_of(row, facts, units)
            prepared, _ = versions.pick(incident)
            document = prepared.document(incident)
        for name in RESULT_COLUMNS:
            results[name].append(_cell(name, document))
    out = table.drop_columns([_BAD_LINE]) if _BAD_LINE in table.column_names else table
    for name in RESULT_COLUMNS:
        out = out.append_column(name, pa.array(results[name], RESULT_TYPES[name]))
    return out


def _cell(name: str, document: Mapping[str, Any]) -> Any:
    """One result column's value from a result document, as the columnar engine writes it."""
    value = document.get(name)
    if name == "authority":
        return value["name"] if isinstance(value, Mapping) else value
    if name in ("notify_by", "report_by") and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if name == "error" and value is not None:
        message = value["message"]
        text = message if message.startswith(value["field"]) else f"{value['field']}: {message}"
        return text + (f"; {value['hint']}" if value.get("hint") else "")
    if name in ("codes", "complementary", "missing"):
        return list(value or [])
    return value
