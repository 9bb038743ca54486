"""The columnar engine: tables of incidents evaluated by the SQL backend, on DuckDB or Spark.

A table comes from a Parquet, CSV or JSON Lines file, or from an Arrow table,
a pandas or polars frame (or a Spark DataFrame) through the API. It has a
column per fact of the vocabulary (`id` and any other column pass through
unchanged); a missing column is an unknown fact. The result is the table with
the result's columns added: notifiable, codes, complementary, missing,
authority, notify_by, report_by, criteria, error.

The SQL (engines/sql.py) decides every row it can read, exactly. A row it
cannot (a value it does not read exactly, such as ``"1e-3 Sv"`` or a bad
value, whose error message Python words) is evaluated by ``Guidance.evaluate``
instead: a *fallback*. The rows that need the case split (where Kleene's
logic leaves a row undetermined) are decided on DuckDB by a second query over
those rows only, with one row per case, grouped back (DuckDB runs lambdas row
by row, so the lambdas of the portable query are slow there); on Spark they go
to Python by default. Fallbacks are counted, printed
in the summary and kept in the returned table's metadata. No row is ever
answered differently: the differential tests hold the engines to that.

Numeric columns: a bare number in a column of a quantity is in the unit the
caller declares for it (``units={"total_dose": "mSv"}``, ``--unit
total_dose=mSv``), or the fact's own unit (`age`: years); text is read as in
an incident (``"3000 uSv"``). A float is read as the shortest decimal that
reads back as the same float, as the Python engine reads a JSON float.

>>> import pyarrow as pa
>>> from evaluator import load_criteria
>>> table = pa.table({"id": ["A", "B"], "jurisdiction": ["England", "Wales"], "exposure": ["accidental"] * 2,
...                   "total_dose": ["8 mSv", None]})
>>> out = evaluate_table(table, criteria=load_criteria("2024"))
>>> out.column("codes").to_pylist(), out.column("notifiable").to_pylist()
([['1'], ['1']], [True, True])
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping

import pyarrow as pa

from ..batch import DECODER, Item, checked_if_seen, decode_line, fresh, json_type
from ..language.incident import ENVELOPE
from ..language.units import SET, UnitError, resolve_unit
from ..result import Result
from .sql import (FALLBACK, OPEN, RESULT_COLUMNS, SPLIT, UNDECIDED, QueryBuilder, SQLUnsupported, compile_query,
                  print_sql)
from .sqlplain import EXACT, KEY, Layout, compile_plain

ENGINES = ("python", "duckdb", "spark")
ROW = "_irmer_row"  # the row's place in the input, to put the output in the same order
VERSION = "_irmer_version"
SUMMARY_KEY = b"irmer"  # the summary, as JSON, in the returned table's schema metadata
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".json": "json"}
RESULT_TYPES = {
    "notifiable": pa.bool_(), "codes": pa.list_(pa.string()), "complementary": pa.list_(pa.string()),
    "missing": pa.list_(pa.string()), "authority": pa.string(), "notify_by": pa.date32(),
    "report_by": pa.date32(), "criteria": pa.string(), "error": pa.string(),
}


class TableError(ValueError):
    """A table that cannot be evaluated at all (an unreadable file, an unknown format, a bad --unit)."""


@dataclass
class Summary:
    """What an evaluation of a table did: rows, where each was decided, how long it took."""

    engine: str
    rows: int = 0
    in_sql: int = 0
    fallback: int = 0  # evaluated by Guidance.evaluate
    fallback_values: int = 0  # ... because of a value the SQL does not read
    fallback_split: int = 0  # ... because it needs the case split (with case_split="python")
    fallback_few: int = 0  # ... because the two-valued query left too few rows to plan the three-valued one for
    fallback_unread: int = 0  # ... because the incident could not be read (a JSON line, a key given twice): its error
    split_in_sql: int = 0  # rows the case split decided in SQL (DuckDB: one row per case, grouped)
    two_valued: int = 0  # rows the two-valued query decided (DuckDB: every fact that matters known)
    errors: int = 0
    seconds: float = 0.0
    versions: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def fallback_share(self) -> float:
        return self.fallback / self.rows if self.rows else 0.0

    def text(self) -> str:
        rate = f", {self.rows / self.seconds:,.0f} incidents/s" if self.seconds > 0 else ""
        lines = [f"irmer: {self.rows:,} incidents with {self.engine} in {self.seconds:.2f} s{rate}; "
                 f"{self.in_sql:,} decided in SQL ({self.split_in_sql:,} by the case split), "
                 f"{self.fallback:,} in Python "
                 f"({100 * self.fallback_share:.2f}%: {self.fallback_values:,} with a value the SQL does not read, "
                 f"{self.fallback_split:,} needing the case split"
                 + (f", {self.fallback_few:,} left by the two-valued query, too few to plan the three-valued one for"
                    if self.fallback_few else "")
                 + (f", {self.fallback_unread:,} that could not be read" if self.fallback_unread else "")
                 + f"); {self.errors:,} with an error"]
        lines += [f"irmer: note: {note}" for note in self.notes]
        return "\n".join(lines)

    @classmethod
    def of(cls, table: pa.Table) -> "Summary":
        """The summary kept in a table evaluate_table returned."""
        data = json.loads((table.schema.metadata or {})[SUMMARY_KEY])
        return cls(**data)


# ------------------------------------------------------------------ reading

def file_format(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise TableError(f"{path}: the format is chosen by the extension: {', '.join(sorted(FORMATS))}")
    return FORMATS[suffix]


def read_file(path: str) -> pa.Table:
    """A Parquet, CSV or JSON (Lines) file as an Arrow table; a JSON line that cannot be read keeps its place."""
    kind = file_format(path)
    if not Path(path).exists():
        raise TableError(f"no such file: {path}")
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq
            return pq.read_table(path)
        if kind == "csv":
            import pyarrow.csv as pcsv
            with open(path, "rb") as handle:
                header = handle.readline().decode("utf-8", "replace")
            names = next(iter(__import__("csv").reader([header])), [])
            # Every cell is text, as an incident's JSON values would be; an empty cell is an absent fact.
            options = pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
            return pcsv.read_csv(path, convert_options=options)
        return rows_to_table(_json_rows(path))
    except (OSError, pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise TableError(f"cannot read {path}: {error}") from None


_BAD_LINE = "_irmer_bad_line"  # a JSON line that could not be read: its message, for the row's error


def readable_only(columns: Any) -> str:
    """The tail of a WHERE that keeps a JSON line that could not be read out of the SQL: it goes to Python
    alone, which words the line's error (in the SQL too, a row would come out twice)."""
    return f" AND {_BAD_LINE} IS NULL" if _BAD_LINE in columns else ""


def _json_rows(path: str) -> list[dict[str, Any]]:
    """The incidents of a JSON file: an array of them, or JSON Lines, read as `irmer evaluate` reads them
    (evaluator/batch.py): lines split on "\\n" only (a raw U+2028 or U+0085 inside a string is valid JSON, not
    a line break), a UTF-8 byte-order mark skipped, and a line that is not UTF-8 or not JSON, or an incident
    with a key given twice, a row of its own with its error. `irmer evaluate`'s decoder (batch.DECODER) reads
    NaN and Infinity as text and an integer of more than 4,000 digits as a Decimal, for the incident reader
    to refuse with a message of its own."""
    data = Path(path).read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    stripped = data.strip()
    if stripped.startswith(b"["):
        fresh()
        try:
            items = DECODER.decode(stripped.decode("utf-8"))
        except ValueError as error:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
            raise TableError(f"{path}: not valid JSON: {error}") from None
        # searched for a key given twice only where the decoder met one
        return [_row(checked_if_seen(item), f"incident {number}: ") for number, item in enumerate(items, 1)]
    # each line as `irmer evaluate` reads it: the same errors, worded the same
    return [_row(decode_line(raw, number), f"line {number}: ")
            for number, raw in enumerate(data.split(b"\n"), 1) if raw.strip()]


def _row(item: Item, where: str) -> dict[str, Any]:
    """An incident of a JSON file as a row, or its error (`where`: which line or incident it is)."""
    if item.error is not None:
        return {_BAD_LINE: where + item.error, **({} if item.ident is None else {"id": item.ident})}
    if not isinstance(item.value, dict):
        return {_BAD_LINE: f"{where}an incident is a JSON object, not {json_type(item.value)}"}
    return item.value


def rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Incidents (dicts, as JSON gives them) as a table: one column per key, in the order keys appear."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        columns[_escaped(name)] = _column(values)  # a key, too, may hold a lone surrogate
    return pa.table(columns) if columns else pa.table({ROW: pa.array([], pa.int64())}).drop([ROW])


def _column(values: list[Any]) -> pa.Array:
    present = [v for v in values if v is not None]
    kinds = {type(v) for v in present}
    if kinds <= {str}:
        try:
            return pa.array(values, pa.string())
        except UnicodeEncodeError:  # a lone surrogate (valid in JSON's text), which no Arrow string can hold
            return pa.array([_escaped(v) for v in values], pa.string())
    if kinds <= {bool}:
        return pa.array(values, pa.bool_())
    if kinds <= {int} and all(-2 ** 63 <= v < 2 ** 63 for v in present):
        return pa.array(values, pa.int64())
    if kinds <= {list} and all(isinstance(x, str) for v in present for x in v):
        try:
            return pa.array(values, pa.list_(pa.string()))
        except UnicodeEncodeError:
            return pa.array([None if v is None else [_escaped(x) for x in v] for v in values], pa.list_(pa.string()))
    # Mixed or other values: each as the JSON text Python would read, kept exact.
    return pa.array([None if v is None else _as_text(v) for v in values], pa.string())


def _escaped(value: str | None) -> str | None:
    """A text with each lone surrogate as its JSON escape, as `irmer evaluate` writes it in a result.

    >>> _escaped("C\\ud800")
    'C\\\\ud800'
    """
    return None if value is None else value.encode("utf-8", "backslashreplace").decode("utf-8")


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return json.dumps(value, default=str)


def to_arrow(table: Any) -> pa.Table:
    """An Arrow table from an Arrow table, a pandas or polars frame, a list of dicts, or a file path."""
    if isinstance(table, pa.Table):
        return table
    if isinstance(table, (str, Path)):
        return read_file(str(table))
    if isinstance(table, list):
        return rows_to_table(table)
    if hasattr(table, "to_arrow"):  # polars
        return table.to_arrow()
    if type(table).__module__.startswith("pandas"):
        return pa.Table.from_pandas(table, preserve_index=False)
    raise TableError(f"cannot evaluate a {type(table).__name__}: give an Arrow table, a pandas or polars frame, "
                     f"a list of incidents or a file")


def column_type(arrow: pa.DataType) -> str:
    """How a column holds its values, for the SQL reader (sql.COLUMN_TYPES)."""
    if pa.types.is_dictionary(arrow):
        arrow = arrow.value_type
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "text"
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_integer(arrow):
        return "integer"
    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if pa.types.is_floating(arrow):
        return "float"
    if pa.types.is_date32(arrow) or pa.types.is_date64(arrow):
        return "date"
    if (pa.types.is_list(arrow) or pa.types.is_large_list(arrow)) and (
            pa.types.is_string(arrow.value_type) or pa.types.is_large_string(arrow.value_type)):
        return "list"
    return "other"


def check_units(units: Mapping[str, str], facts: Mapping[str, Any]) -> dict[str, str]:
    """`--unit total_dose=mSv`: a fact of the vocabulary, and a unit of its kind."""
    out = {}
    for name, unit in units.items():
        info = facts.get(name)
        if info is None or not info.numeric or info.kind in ("count", "ratio"):
            raise TableError(f"--unit {name}={unit}: {name} is not a quantity of the vocabulary")
        try:
            kind, _ = resolve_unit(unit)
        except UnitError as error:
            raise TableError(f"--unit {name}={unit}: {error}") from None
        if kind != info.kind:
            raise TableError(f"--unit {name}={unit}: {name} is {info.kind}, not a unit of {kind}")
        out[name] = unit.strip()
    return out


# ------------------------------------------------------------------ rows for Python

def incident_of(row: Mapping[str, Any], facts: Mapping[str, Any], units: Mapping[str, str]) -> dict[str, Any]:
    """A table row as the incident dict Guidance.evaluate reads (table conventions applied).

    A modality cell may list several values separated by `;`; a bare number in
    a column with a declared unit is in that unit; other columns are not facts.
    """
    incident: dict[str, Any] = {}
    for name, value in row.items():
        if value is None or (name not in facts and name not in ENVELOPE):
            continue
        info = facts.get(name)
        if info is not None and info.kind == SET and isinstance(value, str) and ";" in value:
            value = [v.strip() for v in value.split(";") if v.strip()]
        elif name in units and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            value = f"{value!r} {units[name]}" if isinstance(value, float) else f"{value} {units[name]}"
        elif name in units and isinstance(value, str) and _BARE.match(value):
            value = f"{value.strip()} {units[name]}"
        elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = value.isoformat()  # read the same as the date; the quick reader takes text
        incident[name] = value
    return incident


_BARE = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def result_row(result: Result) -> dict[str, Any]:
    error = None
    if result.error is not None:
        error = result.error.message if result.error.message.startswith(result.error.field) else \
            f"{result.error.field}: {result.error.message}"
        if result.error.hint:
            error += f"; {result.error.hint}"
    return {"notifiable": result.notifiable, "codes": list(result.codes), "complementary": list(result.complementary),
            "missing": list(result.missing), "authority": result.authority.name if result.authority else None,
            "notify_by": result.notify_by, "report_by": result.report_by, "criteria": result.criteria,
            "error": error}


def python_results(rows: list[dict[str, Any]], facts: Mapping[str, Any], units: Mapping[str, str],
                   guidance: Any, versions: list[str | None] | None = None) -> list[dict[str, Any]]:
    """Guidance.evaluate on each row: the fixed version, the one the SQL chose (`versions`), or the one
    in force on its discovered_on."""
    from ..load import criteria_for, load_criteria
    out = []
    loaded: dict[str, Any] = {}
    for n, row in enumerate(rows):
        if row.get(_BAD_LINE):
            out.append({**_empty(), "error": row[_BAD_LINE]})
            continue
        incident = incident_of(row, facts, units)
        if guidance is not None:
            chosen = guidance
        elif versions is not None and versions[n] is not None:
            if versions[n] not in loaded:
                loaded[versions[n]] = load_criteria(versions[n])
            chosen = loaded[versions[n]]
        else:
            chosen = criteria_for(incident)[0]
        out.append(result_row(chosen.evaluate(incident)))
    return out


def _empty() -> dict[str, Any]:
    return {name: ([] if name in ("codes", "complementary", "missing") else None) for name in RESULT_COLUMNS}


# ------------------------------------------------------------------ versions

def version_sql(types: Mapping[str, str]) -> str:
    """SQL (DuckDB's; Spark's through sqlglot): the version each row is evaluated under (the one in force
    on its discovered_on)."""
    day = day_sql(types)
    if day is None:
        return f"'{_catalogue()[-1].version}'"
    return f"(SELECT {version_of('d')} FROM (SELECT {day} AS d))"


def day_sql(types: Mapping[str, str]) -> str | None:
    """The day a row was discovered on, as a DATE (NULL where unknown or unread); None without a column."""
    kind = types.get("discovered_on")
    if kind == "date":
        return '"discovered_on"'
    if kind == "text":
        return ("CASE WHEN regexp_matches(\"discovered_on\", '^ *[1-9][0-9]{3}-[0-9]{2}-[0-9]{2} *$') "
                "THEN TRY_CAST(trim(\"discovered_on\") AS DATE) END")
    return None  # no column, or an unreadable date: the latest version, and Python reports the date


def version_of(day: str) -> str:
    """The version in force on `day` (a DATE expression), the latest when it is NULL."""
    catalogue = _catalogue()
    latest = catalogue[-1].version
    cases = " ".join(f"WHEN {day} >= DATE '{info.in_force}' THEN '{info.version}'"
                     for info in reversed(catalogue) if info.in_force)
    return f"CASE WHEN {day} IS NULL THEN '{latest}' {cases} ELSE '{catalogue[0].version}' END"


def _catalogue() -> list[Any]:
    from ..load import versions
    return versions()


# ------------------------------------------------------------------ DuckDB

@dataclass
class Prepared:
    table: pa.Table
    types: dict[str, str]
    keep: list[str]
    facts: Mapping[str, Any]


def _prepare(table: Any, facts: Mapping[str, Any]) -> Prepared:
    arrow = to_arrow(table)
    clash = [name for name in arrow.column_names if name in RESULT_COLUMNS and name not in facts]
    if clash:
        raise TableError(f"the table already has a column named {clash[0]}, which the result adds; rename it")
    types = {name: column_type(arrow.schema.field(name).type) for name in arrow.column_names
             if name in facts or name in ENVELOPE}
    keep = [name for name in arrow.column_names if name != _BAD_LINE]
    import numpy as np
    arrow = arrow.append_column(ROW, pa.array(np.arange(arrow.num_rows, dtype=np.int64)))
    return Prepared(arrow, types, keep, facts)


def _unknown_columns(arrow: pa.Table, facts: Mapping[str, Any]) -> list[str]:
    import difflib
    notes = []
    for name in arrow.column_names:
        if name in facts or name in ENVELOPE or name in (ROW, _BAD_LINE):
            continue
        close = difflib.get_close_matches(name, list(facts), n=1, cutoff=0.8)
        if close:
            notes.append(f"column {name} is not a fact of the vocabulary (did you mean {close[0]}?); "
                         f"it is passed through, not read")
    return notes


def evaluate_table(table: Any, *, criteria: Any = None, engine: str = "duckdb", units: Mapping[str, str] | None = None,
                   spark: Any = None, spark_master: str | None = None, case_split: str | None = None) -> Any:
    """Evaluate a table of incidents; the table with the result's columns added (see the module's doc).

    `criteria` is a Guidance (one version for every row) or None (each row under
    the version in force on its discovered_on, else the latest). Returns an Arrow
    table (a Spark DataFrame when given one), with the Summary in its metadata.
    `case_split` is where the rows that need the case split are decided:
    "explode" (a second query over those rows only, one row per case, grouped
    back), "sql" (lambdas over the cases in the one query, as the view `irmer
    sql` prints), or "python" (Guidance.evaluate). DuckDB's default, "auto",
    explodes when the two-valued query leaves SPLIT_IN_SQL_FROM rows or more
    (the query that makes the split takes a second or two to plan), hands
    the split of fewer to Python, and sends fewer than THREE_VALUED_FROM rows
    left straight to Python (planning the three-valued query would take
    longer than Python takes to decide them); on Spark, "auto" does the same
    but, with no "explode" there, makes the split of the rows left in Python.
    """
    from ..load import load_vocabulary
    if engine not in ENGINES:
        raise TableError(f"unknown engine {engine}: one of {', '.join(ENGINES)}")
    facts = criteria.vocabulary.facts if criteria is not None else load_vocabulary().facts
    units = check_units(units or {}, facts)
    if engine == "spark" or type(table).__module__.startswith("pyspark"):
        from .spark import evaluate_spark
        return evaluate_spark(table, criteria=criteria, units=units, spark=spark, master=spark_master, facts=facts,
                              case_split=case_split or "auto")
    start = time.perf_counter()
    prepared = _prepare(table, facts)
    summary = Summary(engine=engine, rows=prepared.table.num_rows)
    summary.notes += _unknown_columns(prepared.table, facts)
    if engine == "python":
        out = _python_table(prepared, criteria, units, summary)
    else:
        out = _duckdb_table(prepared, criteria, units, summary, split=case_split or "auto")
    summary.seconds = time.perf_counter() - start
    summary.errors = out.num_rows - out.column("error").null_count
    versions = out.column("criteria").value_counts().to_pylist()
    summary.versions = {str(v["values"]): v["counts"] for v in versions}
    metadata = dict(out.schema.metadata or {})
    metadata[SUMMARY_KEY] = json.dumps(asdict(summary)).encode()
    return out.replace_schema_metadata(metadata)


def _python_table(prepared: Prepared, criteria: Any, units: Mapping[str, str], summary: Summary) -> pa.Table:
    rows = prepared.table.select([n for n in prepared.table.column_names if n in prepared.types or n == _BAD_LINE]
                                 ).to_pylist()
    results = python_results(rows, prepared.facts, units, criteria)
    summary.fallback = len(results)
    return _attach(prepared.table.select(prepared.keep), results)


def _attach(base: pa.Table, results: list[dict[str, Any]]) -> pa.Table:
    for name in RESULT_COLUMNS:
        base = base.append_column(name, pa.array([r[name] for r in results], RESULT_TYPES[name]))
    return base


_QUERIES: dict[tuple, str | None] = {}  # compiled SQL by (version, column types, units)
# DuckDB's optimizer passes the query that makes the case split goes without: a third of its planning
# time, on a query that runs over the few rows the two-valued query leaves (the answers do not change).
SPLIT_OPTIMIZERS_OFF = "common_subexpressions,expression_rewriter"
SPLIT_IN_SQL_FROM = 2000  # from this many rows the two-valued query leaves, DuckDB makes the case split in SQL
# Below this many, the rows the two-valued query leaves go to Python, without the three-valued query: planning
# it takes a second or more a version, the Python engine a fraction of a millisecond a row (bench_columnar.py).
THREE_VALUED_FROM = 1000
# Below this many rows a query runs with DuckDB's optimizer off. The queries are wide (hundreds of kB of
# SQL), and optimising them costs 0.15 s (two-valued) to 0.6 s (three-valued) whatever the rows, while what
# it saves in running them pays for that only from some 50,000 rows (docs/performance.md, "The test suite").
OPTIMIZE_FROM = 50_000


def version_view(prefix: str, version: str) -> str:
    """The name of the view of one version's rows.

    Named for the version, not for its place among the versions a table uses,
    so the query compiled for it (which names the view, and is kept on disk by
    query_for) is the same whether each row's date chose the version or the
    caller did.

    >>> version_view("_irmer_source", "irmer-2024-08-28")
    '_irmer_source_irmer_2024_08_28_02aac7'
    """
    import hashlib
    readable = re.sub(r"[^0-9A-Za-z]", "_", version)[:40]
    return f"{prefix}_{readable}_{hashlib.sha256(version.encode()).hexdigest()[:6]}"


def query_for(guidance: Any, types: Mapping[str, str], units: Mapping[str, str], keep: list[str],
              source: str, refine: bool, dialect: str, form: str = "lambda",
              decisions: tuple[str, ...] | None = None, report_open: bool = False) -> str | None:
    """The SQL for one version over `source` (None when the criteria do not compile to SQL), cached.

    `form` is the case split's (see sql.QueryBuilder), or "plain": the two-valued query (engines/sqlplain.py).
    """
    key = (guidance.version, str(guidance.path), tuple(sorted(types.items())), tuple(sorted(units.items())),
           tuple(keep), source, refine, dialect, form, decisions, report_open)
    if key not in _QUERIES:
        def work() -> str | None:
            try:
                # The query is built for this printing alone (sql.print_sql prints it in place).
                if form == "plain":
                    return print_sql(compile_plain(guidance.checked, source, types, units, keep + [ROW],
                                                   dialect=dialect), dialect)
                return print_sql(compile_query(guidance.checked, source, types, units, keep + [ROW], refine=refine,
                                               form=form, decisions=decisions, report_open=report_open), dialect)
            except SQLUnsupported:
                return None
        # Building and printing the query takes a second or two: the disk cache keeps it (evaluator/cache.py).
        from ..cache import remember
        inputs = [guidance.source.encode(), guidance.vocabulary.source.encode(), repr(key[2:]).encode()]
        _QUERIES[key] = remember("sql", inputs, work)
    return _QUERIES[key]


def _duckdb_table(prepared: Prepared, criteria: Any, units: Mapping[str, str], summary: Summary,
                  split: str) -> pa.Table:
    """Every row through the two-valued query; the rows it leaves through the three-valued one (with the
    case split, "explode": only the decisions some row leaves open); the rows SQL does not read through
    Python. The answers are put back in input order by row number, in Arrow (Assembly)."""
    import duckdb
    import numpy as np
    import pyarrow.compute as pc
    from ..load import compile_file, versions
    con = duckdb.connect()
    _optimize(con, prepared.table.num_rows)
    con.register("_irmer_input", prepared.table)
    if criteria is not None:
        chosen = {criteria.version: criteria}
        con.execute(f"CREATE TEMP VIEW _irmer_source AS SELECT *, '{criteria.version}' AS {VERSION} FROM _irmer_input")
    else:
        chosen = {info.version: compile_file(info.path) for info in versions()}
        # The day read once per row (not in a subquery: DuckDB would join it back), then the version.
        day = day_sql(prepared.types) or "CAST(NULL AS DATE)"
        con.execute(f"CREATE TEMP VIEW _irmer_source AS SELECT * EXCLUDE (_irmer_day), {version_of('_irmer_day')} "
                    f"AS {VERSION} FROM (SELECT *, {day} AS _irmer_day FROM _irmer_input)")
    assembly = Assembly(prepared.table.num_rows)
    # The two-valued query on every row; a row it does not decide exactly is left to the three-valued one,
    # with the decisions it may leave open (OPEN: bits, -1 for all).
    rest: dict[str, tuple[Any, int]] = {}
    flagged: list[Any] = []
    readable_line = readable_only(prepared.table.column_names)
    for version, guidance in chosen.items():
        source = version_view("_irmer_source", version)
        con.execute(f"CREATE TEMP VIEW {source} AS SELECT * FROM _irmer_source WHERE {VERSION} = '{version}'"
                    f"{readable_line}")
        sql = query_for(guidance, prepared.types, units, [], source, refine=False, dialect="duckdb", form="plain")
        if sql is None:
            rows = con.sql(f"SELECT {ROW} FROM {source}").to_arrow_table().column(ROW)
            rest[version] = (rows.to_numpy(), -1)
            continue
        out = _arrow(con, sql)
        exact, fallback = out.column(EXACT), out.column(FALLBACK)
        flagged.append(out.filter(fallback).column(ROW).to_numpy())
        left = out.filter(pc.and_(pc.invert(exact), pc.invert(fallback)))
        opened = left.column(OPEN).to_numpy()
        rest[version] = (left.column(ROW).to_numpy(), int(np.bitwise_or.reduce(opened)) if len(opened) else 0)
        decided = out.filter(pc.and_(exact, pc.invert(fallback)))
        summary.two_valued += decided.num_rows
        assembly.plain(decided, Layout.of(guidance.checked), version)
    python_rows: list[Any] = []
    if split == "auto":  # the three-valued queries cost a second or more to plan: not for a few rows
        left = sum(len(rows) for rows, _ in rest.values())
        if left < THREE_VALUED_FROM:  # Python decides them in less time than DuckDB takes to plan the query
            python_rows += [rows for rows, _ in rest.values()]
            summary.fallback_few = left
            rest = {}
        split = "explode" if left >= SPLIT_IN_SQL_FROM else "python"
    # The three-valued query on the rows left, over those rows only: one query a version, each on a
    # cursor of its own, at once (planning is most of their time, and takes one core each).
    work: list[tuple[str, str, Any]] = []
    for version, (rows, opened) in rest.items():
        if not len(rows):
            continue
        guidance = chosen[version]
        source = version_view("_irmer_rest", version)
        names = QueryBuilder.decision_names_of(guidance.checked)
        decisions = None if opened < 0 else tuple(name for k, name in enumerate(names) if opened >> k & 1)
        if split == "explode":
            sql = query_for(guidance, prepared.types, units, [], source, refine=True, dialect="duckdb",
                            form="explode", decisions=decisions)
        else:
            sql = query_for(guidance, prepared.types, units, [], source, refine=split == "sql", dialect="duckdb")
        if sql is None:
            summary.notes.append(f"{version} does not compile to SQL; its rows are evaluated in Python")
            python_rows.append(rows)
            continue
        work.append((source, sql, prepared.table.take(pa.array(rows, pa.int64()))))

    def run(source: str, sql: str, rows: pa.Table) -> pa.Table:
        cursor = con.cursor()  # a cursor sees neither the registered tables nor the temporary ones
        cursor.register(source, rows)
        _optimize(cursor, rows.num_rows)
        if split == "explode":  # over a few rows, planning is most of its time: skip the costliest rewrites
            cursor.execute(f"SET disabled_optimizers = '{SPLIT_OPTIMIZERS_OFF}'")
        try:
            return _arrow(cursor, sql)
        finally:
            cursor.close()

    if len(work) > 1:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(len(work)) as pool:
            outs = list(pool.map(lambda item: run(*item), work))
    else:
        outs = [run(*item) for item in work]
    for out in outs:
        fallback = out.column(FALLBACK)
        to_python = fallback
        if split == "explode":
            summary.split_in_sql += pc.sum(pc.and_(out.column(SPLIT), pc.invert(fallback))).as_py() or 0
        elif split == "python":
            undecided = pc.and_(out.column(UNDECIDED), pc.invert(fallback))
            summary.fallback_split += pc.sum(undecided).as_py() or 0
            to_python = pc.or_(fallback, undecided)
        flagged.append(out.filter(to_python).column(ROW).to_numpy())
        assembly.place(out.filter(pc.invert(to_python)))
    if _BAD_LINE in prepared.table.column_names:  # a JSON line that could not be read: Python words its error
        unread = prepared.table.filter(pc.is_valid(prepared.table.column(_BAD_LINE))).column(ROW).to_numpy()
        summary.fallback_unread = len(unread)
        python_rows.append(unread)
    every = np.unique(np.concatenate([np.asarray(r, np.int64) for r in flagged + python_rows] or [np.zeros(0, np.int64)]))
    summary.fallback = len(every)
    summary.fallback_values = (summary.fallback - summary.fallback_split - summary.fallback_few
                               - summary.fallback_unread)  # values the SQL does not read
    summary.in_sql = summary.rows - summary.fallback
    if len(every):  # the rows for Python, with the version the SQL chose for each
        subset = prepared.table.take(pa.array(every, pa.int64()))
        rows = subset.select([n for n in subset.column_names if n in prepared.types or n == _BAD_LINE]).to_pylist()
        con.register("_irmer_wanted", pa.table({ROW: subset.column(ROW)}))
        chosen_versions = [v for (v,) in con.execute(f"SELECT s.{VERSION} FROM _irmer_wanted w JOIN _irmer_source s "
                                                     f"ON w.{ROW} = s.{ROW} ORDER BY w.{ROW}").fetchall()]
        results = python_results(rows, prepared.facts, units, criteria, chosen_versions)
        assembly.place(_attach(pa.table({ROW: subset.column(ROW)}), results))
    con.close()
    return assembly.table(prepared.table.select(prepared.keep))


def _optimize(con: Any, rows: int) -> None:
    """DuckDB's optimizer on for `rows` rows or more (OPTIMIZE_FROM), else off: a connection's setting."""
    con.execute("PRAGMA enable_optimizer" if rows >= OPTIMIZE_FROM else "PRAGMA disable_optimizer")


def _arrow(con: Any, sql: str) -> pa.Table:
    """A query's result as Arrow. The generated queries are long: `execute` sends their text as it is,
    where the relational API reads it through first (a tenth of a second for the case split's)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _irmer_result AS {sql}")
    return con.sql("SELECT * FROM _irmer_result").to_arrow_table()


class Assembly:
    """The result columns put together in input order from the parts that decided the rows.

    Each part (the two-valued query's rows, the three-valued query's, the case
    split's, Python's) gives its rows' results with their row numbers; a later
    part overrides an earlier one. The two-valued rows give their lists as an
    integer (sqlplain.Layout), turned into lists once per distinct value, and
    taken from there: no list is built per row.
    """

    SCALARS = ("notifiable", "notify_by", "report_by")
    LISTED = ("codes", "complementary", "missing", "authority", "criteria", "error")

    def __init__(self, rows: int):
        import numpy as np
        self.scalar_at = np.full(rows, -1, np.int64)  # row -> index into the scalar parts, concatenated
        self.listed_at = np.full(rows, -1, np.int64)  # row -> index into the listed parts, concatenated
        self.scalars: list[pa.Table] = []
        self.listed: list[pa.Table] = []
        self.sizes = [0, 0]

    def _add(self, rows: Any, scalars: pa.Table, listed: pa.Table, listed_index: Any) -> None:
        import numpy as np
        self.scalar_at[rows] = self.sizes[0] + np.arange(len(rows))
        self.listed_at[rows] = self.sizes[1] + listed_index
        self.sizes[0] += scalars.num_rows
        self.sizes[1] += listed.num_rows
        self.scalars.append(scalars.select(self.SCALARS).cast(_schema(self.SCALARS)))
        self.listed.append(listed.select(self.LISTED).cast(_schema(self.LISTED)))

    def place(self, part: pa.Table) -> None:
        """Rows with every result column (the three-valued query's, the split's, Python's)."""
        import numpy as np
        rows = part.column(ROW).to_numpy()
        self._add(rows, part, part, np.arange(len(rows)))

    def plain(self, part: pa.Table, layout: Any, version: str) -> None:
        """The two-valued query's rows: the lists from the distinct keys."""
        import pyarrow.compute as pc
        encoded = pc.dictionary_encode(part.column(KEY)).combine_chunks()
        keys = encoded.dictionary.to_pylist()
        decoded = [layout.decode(k) for k in keys]
        listed = pa.table({
            "codes": pa.array([d[0] for d in decoded], pa.list_(pa.string())),
            "complementary": pa.array([d[1] for d in decoded], pa.list_(pa.string())),
            "missing": pa.array([[] for _ in decoded], pa.list_(pa.string())),
            "authority": pa.array([d[2] for d in decoded], pa.string()),
            "criteria": pa.array([version] * len(decoded), pa.string()),
            "error": pa.nulls(len(decoded), pa.string())})
        self._add(part.column(ROW).to_numpy(), part, listed, encoded.indices.to_numpy(zero_copy_only=False))

    def table(self, base: pa.Table) -> pa.Table:
        """The base table with the result columns, in RESULT_COLUMNS order."""
        if (self.scalar_at < 0).any():
            raise AssertionError("a row was decided by no part")
        scalars = pa.concat_tables(self.scalars) if self.scalars else _schema(self.SCALARS).empty_table()
        listed = pa.concat_tables(self.listed) if self.listed else _schema(self.LISTED).empty_table()
        scalar_at, listed_at = pa.array(self.scalar_at), pa.array(self.listed_at)
        for name in RESULT_COLUMNS:
            source, at = (scalars, scalar_at) if name in self.SCALARS else (listed, listed_at)
            base = base.append_column(name, source.column(name).take(at))
        return base


def _schema(names: Iterable[str]) -> pa.Schema:
    return pa.schema([(name, RESULT_TYPES[name]) for name in names])


# ------------------------------------------------------------------ writing

def write_table(table: pa.Table, output: str | None) -> None:
    """Parquet, CSV or JSON Lines by the extension (JSON Lines on standard output without one)."""
    if output is None or output == "-":
        _write_jsonl(table, sys.stdout)
        return
    kind = file_format(output)
    if kind == "parquet":
        import pyarrow.parquet as pq
        pq.write_table(table, output)
    elif kind == "csv":
        import pyarrow.csv as pcsv
        pcsv.write_csv(_flat(table), output)
    else:
        with open(output, "w", encoding="utf-8") as handle:
            _write_jsonl(table, handle)


def _flat(table: pa.Table) -> pa.Table:
    """Lists as text separated by `;` (as a CSV cell lists several modalities), for CSV."""
    import pyarrow.compute as pc
    for index, column in enumerate(table.columns):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            joined = pc.binary_join(column, ";")
            table = table.set_column(index, table.column_names[index], joined)
    return table


def _write_jsonl(table: pa.Table, handle: Any) -> None:
    for batch in table.to_batches(max_chunksize=65536):
        for row in batch.to_pylist():
            handle.write(json.dumps(row, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


# ------------------------------------------------------------------ the CLI entry point

def run_table(source: str, output: str | None, *, engine: str, criteria: str | None, units: dict[str, str],
              spark_master: str | None, explain: bool) -> int:
    """`irmer evaluate --engine ... FILE -o OUT`: 0 all rows evaluated, 1 some row has an error, 2 could not run.

    The summary goes to standard error. `explain` has no column form: it is refused.
    """
    from ..language.diagnostics import CriteriaError
    from ..load import load_criteria
    if explain:
        print("irmer: --explain shows one incident's reasoning; it has no table form (use irmer explain FILE)",
              file=sys.stderr)
        return 2
    try:
        guidance = load_criteria(criteria) if criteria else None
        result = evaluate_table(source, criteria=guidance, engine=engine, units=units, spark_master=spark_master)
        if not isinstance(result, pa.Table):  # a Spark DataFrame
            result = result.toArrow()
        write_table(result, output)
    except CriteriaError as error:
        print(error.render(), file=sys.stderr)
        return 2
    except TableError as error:
        print(f"irmer: {error}", file=sys.stderr)
        return 2
    summary = Summary.of(result)
    print(summary.text(), file=sys.stderr)
    return 1 if summary.errors else 0


def parse_units(pairs: Iterable[str]) -> dict[str, str]:
    """`total_dose=mSv` pairs (repeatable --unit) as a dict."""
    out = {}
    for pair in pairs:
        name, sep, unit = pair.partition("=")
        if not sep or not name.strip() or not unit.strip():
            raise TableError(f"--unit {pair}: write FACT=UNIT, such as total_dose=mSv")
        out[name.strip()] = unit.strip()
    return out
