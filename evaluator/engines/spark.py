"""The columnar engine on Apache Spark: the same SQL (engines/sqlplain.py, engines/sql.py), printed in
Spark's dialect.

A SparkSession is the caller's (``evaluate_table(..., spark=session)``, as a
job run with ``spark-submit`` has one), or a local one (``local[2]``, or
``--spark-master URL``). As on DuckDB, every row goes through the two-valued
query first, and only the rows it leaves through the three-valued one (or,
fewer than a thousand, straight to Python). Rows with a value the SQL does not
read, and rows that need the case split, are evaluated by ``Guidance.evaluate``
on the driver (they are few), and joined back; ``case_split="sql"`` runs the
case split in the query instead (Spark's lambdas: a much larger plan, slow to
analyse). A Spark DataFrame in gives a Spark DataFrame out, with its Summary as
``irmer_summary``; anything else gives an Arrow table, as on DuckDB.

pyspark is the optional extra ``spark`` (``pip install 'irmer-criteria[spark]'``)
and needs Java 17.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Mapping

import pyarrow as pa
import sqlglot

from ..language.incident import ENVELOPE
from .columnar import (_BAD_LINE, RESULT_TYPES, ROW, SUMMARY_KEY, VERSION, Summary, TableError, _attach,
                       _unknown_columns, python_results, query_for, readable_only, to_arrow, version_sql,
                       version_view)
from .sql import FALLBACK, RESULT_COLUMNS, UNDECIDED
from .sqlplain import EXACT, KEY, Layout

APP = "irmer"

# pyspark 4 warns that it does not yet fully support pandas 3 when its module pyspark.testing.utils is first
# imported, which its own code does on the way to making a DataFrame from local data, pandas or not. This
# engine gives Spark Arrow tables and takes Arrow back (toArrow), never pandas, so the warning says nothing
# about what it does, and would only alarm the reader of `irmer evaluate`'s output.
PANDAS_WARNING = "PySpark does not yet fully support pandas"


def _import_pyspark_quietly() -> None:
    """Import what pyspark imports on the way (once a process), without its warning about pandas 3."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)
        try:
            import pyspark.testing.utils  # noqa: F401
        except Exception:  # noqa: BLE001 - pyspark's own import, only to have it done quietly
            pass


def session(master: str | None = None, config: Mapping[str, str] | None = None) -> Any:
    """A SparkSession: the active one, else a new one on `master` (default local[2]), with `config` (Spark's
    settings, as for ``spark-submit --conf``) over ours."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise TableError("the Spark engine needs pyspark: pip install 'irmer-criteria[spark]' (and Java 17)") from None
    _import_pyspark_quietly()
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    builder = SparkSession.builder.appName(APP).master(master or "local[2]")
    # No web UI and no progress bar: the command line prints its own summary, on the same stderr.
    builder = builder.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    builder = builder.config("spark.driver.memory", "4g")  # the query is large: the analyzer needs room
    # The queries nest a few dozen SELECTs; Spark's analyser resolves them in a fixed point of at most 100
    # iterations by default, which deeper criteria (or the case split in lambdas) can pass.
    builder = builder.config("spark.sql.analyzer.maxIterations", "1000")
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as error:  # no Java, or a master that cannot be reached
        raise TableError(f"cannot start Spark ({master or 'local[2]'}): {str(error).splitlines()[0]}") from None


def spark_type(data_type: Any) -> str:
    """How a Spark column holds its values, for the SQL reader (sql.COLUMN_TYPES)."""
    from pyspark.sql import types as T
    if isinstance(data_type, T.StringType):
        return "text"
    if isinstance(data_type, T.BooleanType):
        return "boolean"
    if isinstance(data_type, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return "integer"
    if isinstance(data_type, T.DecimalType):
        return f"decimal({data_type.precision},{data_type.scale})"
    if isinstance(data_type, (T.FloatType, T.DoubleType)):
        return "float"
    if isinstance(data_type, T.DateType):
        return "date"
    if isinstance(data_type, T.ArrayType) and isinstance(data_type.elementType, T.StringType):
        return "list"
    return "other"


# The result columns' Spark types: every part (two-valued, three-valued, Python) is cast to them before the union.
SPARK_TYPES = {"notifiable": "boolean", "codes": "array<string>", "complementary": "array<string>",
               "missing": "array<string>", "authority": "string", "notify_by": "date", "report_by": "date",
               "criteria": "string", "error": "string"}


def evaluate_spark(table: Any, *, criteria: Any, units: Mapping[str, str], spark: Any, master: str | None,
                   facts: Mapping[str, Any], case_split: str = "auto") -> Any:
    """The columnar engine's flow (columnar._duckdb_table), on Spark.

    Every row goes through the two-valued query (engines/sqlplain.py); the rows it decides exactly get
    their lists from the result key, decoded once per distinct key and joined back (a broadcast join).
    The rows it leaves go through the three-valued query (over those rows only), or straight to Python
    when there are fewer than THREE_VALUED_FROM of them and `case_split` is "auto" (Spark's analysis of
    the three-valued query takes seconds). Rows the three-valued query leaves undetermined go to Python
    ("python", the default beyond "auto"), or are split in the query ("sql": lambdas, slow to analyse).
    """
    from pyspark.sql import functions as F
    from ..load import compile_file, versions
    from . import columnar
    _import_pyspark_quietly()
    start = time.perf_counter()
    given_frame = type(table).__module__.startswith("pyspark")
    if given_frame:
        frame = table
        spark = spark or frame.sparkSession
    else:
        spark = spark or session(master)
        arrow = to_arrow(table)
        frame = spark.createDataFrame(arrow) if arrow.num_columns else spark.createDataFrame([], "x string")
    clash = [name for name in frame.columns if name in RESULT_COLUMNS and name not in facts]
    if clash:
        raise TableError(f"the table already has a column named {clash[0]}, which the result adds; rename it")
    keep = [name for name in frame.columns if name != _BAD_LINE]
    types = {f.name: spark_type(f.dataType) for f in frame.schema.fields if f.name in facts or f.name in ENVELOPE}
    frame = frame.withColumn(ROW, F.monotonically_increasing_id())
    summary = Summary(engine="spark")
    if not given_frame:
        summary.notes += _unknown_columns(arrow, facts)
    if criteria is not None:
        chosen = {criteria.version: criteria}
        frame = frame.withColumn(VERSION, F.lit(criteria.version))
    else:
        chosen = {info.version: compile_file(info.path) for info in versions()}
        frame = frame.withColumn(VERSION, F.expr(sqlglot.transpile(version_sql(types), read="duckdb",
                                                                   write="spark")[0]))
    frame.createOrReplaceTempView("_irmer_source")

    def typed(part: Any) -> Any:
        return part.select(*keep, ROW, *[F.col(n).cast(SPARK_TYPES[n]).alias(n) for n in RESULT_COLUMNS])

    parts: list[Any] = []
    python_ids: list[int] = []
    cached: list[Any] = []
    left: dict[str, Any] = {}  # version -> the two-valued query's rows it does not decide
    open_rows = 0
    readable_line = readable_only(frame.columns)
    for version, guidance in chosen.items():
        view = version_view("_irmer_source", version)
        spark.sql(f"SELECT * FROM _irmer_source WHERE {VERSION} = '{version}'{readable_line}") \
            .createOrReplaceTempView(view)
        sql = query_for(guidance, types, units, keep, view, refine=False, dialect="spark", form="plain")
        if sql is None:
            summary.notes.append(f"{version} does not compile to SQL; its rows are evaluated in Python")
            ids = [row[ROW] for row in spark.table(view).select(ROW).collect()]
            python_ids += ids
            summary.fallback_values += len(ids)
            continue
        plain = spark.sql(sql).cache()  # read by three actions below: computed once
        cached.append(plain)
        flags = {(row[EXACT], row[FALLBACK]): row["count"] for row in plain.groupBy(EXACT, FALLBACK).count().collect()}
        fallback = [row[ROW] for row in plain.filter(F.col(FALLBACK)).select(ROW).collect()]
        python_ids += fallback
        summary.fallback_values += len(fallback)
        decided = plain.filter(F.col(EXACT) & ~F.col(FALLBACK))
        summary.two_valued += flags.get((True, False), 0)
        # The lists, once per distinct key: decoded here, joined back to the rows (broadcast: a few rows).
        layout = Layout.of(guidance.checked)
        lookup = [(key, *layout.decode(key)) for (key,) in decided.select(KEY).distinct().collect()]
        if lookup:
            keys = spark.createDataFrame(lookup, f"{KEY} bigint, codes array<string>, complementary array<string>, "
                                                 "authority string")
            decided = decided.join(F.broadcast(keys), KEY, "left").withColumn("missing", F.array()) \
                .withColumn("criteria", F.lit(version)).withColumn("error", F.lit(None))
            parts.append(typed(decided))
        if flags.get((False, False), 0):
            left[version] = plain.filter(~F.col(EXACT) & ~F.col(FALLBACK)).select(ROW)
            open_rows += flags[(False, False)]
    if case_split == "auto" and open_rows < columnar.THREE_VALUED_FROM:
        ids = [row[ROW] for part in left.values() for row in part.collect()]
        python_ids += ids
        summary.fallback_few = len(ids)
        left = {}
    for version, rows in left.items():
        guidance = chosen[version]
        view = version_view("_irmer_rest", version)
        source = version_view("_irmer_source", version)
        rows.createOrReplaceTempView(f"{view}_rows")
        spark.sql(f"SELECT s.* FROM {source} s LEFT SEMI JOIN {view}_rows r ON s.{ROW} = r.{ROW}") \
            .createOrReplaceTempView(view)
        sql = query_for(guidance, types, units, keep, view, refine=case_split == "sql", dialect="spark")
        if sql is None:
            summary.notes.append(f"{version} does not compile to SQL; its rows are evaluated in Python")
            ids = [row[ROW] for row in rows.collect()]
            python_ids += ids
            summary.fallback_values += len(ids)
            continue
        three = spark.sql(sql).cache()
        cached.append(three)
        flagged = three.filter(F.col(FALLBACK) | F.col(UNDECIDED)).select(ROW, FALLBACK).collect()
        python_ids += [row[ROW] for row in flagged]
        summary.fallback_values += sum(1 for row in flagged if row[FALLBACK])
        summary.fallback_split += sum(1 for row in flagged if not row[FALLBACK])
        parts.append(typed(three.filter(~F.col(FALLBACK) & ~F.col(UNDECIDED))))
    if readable_line:
        bad = [row[ROW] for row in frame.filter(F.col(_BAD_LINE).isNotNull()).select(ROW).collect()]
        python_ids += bad
        summary.fallback_unread += len(bad)
    if python_ids:
        readable = [c for c in frame.columns if c in types or c == _BAD_LINE]
        rows = frame.filter(F.col(ROW).isin(python_ids)).select(ROW, *readable).collect()
        dicts = [{k: v for k, v in row.asDict().items() if k != ROW} for row in rows]
        results = python_results(dicts, facts, units, criteria)
        fixed = _attach(pa.table({ROW: pa.array([row[ROW] for row in rows], pa.int64())}), results)
        answers = spark.createDataFrame(fixed)
        parts.append(typed(frame.select(*keep, ROW).join(answers, ROW, "inner")))
    summary.fallback = len(python_ids)  # each row once: the parts' filters do not overlap
    result = None
    for part in parts:
        result = part if result is None else result.unionByName(part)
    if result is None:  # no rows at all
        result = typed(frame.select(*keep, ROW, *[F.lit(None).alias(n) for n in RESULT_COLUMNS]))
    result = result.orderBy(ROW).select(*keep, *RESULT_COLUMNS)
    if given_frame:
        result.irmer_summary = summary
        summary.seconds = time.perf_counter() - start
        return result
    out = result.toArrow() if hasattr(result, "toArrow") else pa.Table.from_pandas(result.toPandas())
    for part in cached:
        part.unpersist()
    for name in RESULT_COLUMNS:
        index = out.column_names.index(name)
        out = out.set_column(index, name, out.column(name).cast(RESULT_TYPES[name]))
    summary.rows = out.num_rows
    summary.in_sql = summary.rows - summary.fallback
    summary.seconds = time.perf_counter() - start
    summary.errors = out.num_rows - out.column("error").null_count
    summary.versions = {str(v["values"]): v["counts"] for v in out.column("criteria").value_counts().to_pylist()}
    import json
    from dataclasses import asdict
    return out.replace_schema_metadata({**(out.schema.metadata or {}), SUMMARY_KEY: json.dumps(asdict(summary)).encode()})
