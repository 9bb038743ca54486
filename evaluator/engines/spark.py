"""The columnar engine on Apache Spark: the same SQL (engines/sql.py), printed in Spark's dialect.

A SparkSession is the caller's (``evaluate_table(..., spark=session)``, as a
job run with ``spark-submit`` has one), or a local one (``local[2]``, or
``--spark-master URL``). Rows with a value the SQL does not read, and rows
that need the case split, are evaluated by ``Guidance.evaluate`` on the
driver (they are few), and joined back; ``case_split="sql"`` runs the case
split in the query instead (Spark's lambdas: a much larger plan, slow to
analyse). A Spark DataFrame in gives a Spark DataFrame out, with its Summary as
``irmer_summary``; anything else gives an Arrow table, as on DuckDB.

pyspark is the optional extra ``spark`` (``pip install 'irmer-criteria[spark]'``)
and needs Java 17.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import pyarrow as pa
import sqlglot

from ..language.incident import ENVELOPE
from .columnar import (_BAD_LINE, RESULT_TYPES, ROW, SUMMARY_KEY, VERSION, Summary, TableError, _attach,
                       _unknown_columns, python_results, query_for, to_arrow, version_sql, version_view)
from .sql import FALLBACK, RESULT_COLUMNS, UNDECIDED

APP = "irmer"


def session(master: str | None = None) -> Any:
    """A SparkSession: the active one, else a new one on `master` (default local[2])."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise TableError("the Spark engine needs pyspark: pip install 'irmer-criteria[spark]' (and Java 17)") from None
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    builder = SparkSession.builder.appName(APP).master(master or "local[2]")
    builder = builder.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
    builder = builder.config("spark.driver.memory", "4g")  # the query is large: the analyzer needs room
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


def evaluate_spark(table: Any, *, criteria: Any, units: Mapping[str, str], spark: Any, master: str | None,
                   facts: Mapping[str, Any], case_split: str = "python") -> Any:
    from pyspark.sql import functions as F
    from ..load import compile_file, versions
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
    parts = []
    python_only: list[str] = []
    for version, guidance in chosen.items():
        view = version_view("_irmer_source", version)
        spark.sql(f"SELECT * FROM _irmer_source WHERE {VERSION} = '{version}'").createOrReplaceTempView(view)
        sql = query_for(guidance, types, units, keep, view, refine=case_split == "sql", dialect="spark")
        if sql is None:
            summary.notes.append(f"{version} does not compile to SQL; its rows are evaluated in Python")
            python_only.append(version)
            continue
        parts.append(spark.sql(sql))
    result = None
    for part in parts:
        result = part if result is None else result.unionByName(part)
    # The rows for Python: a value the SQL does not read, or (with case_split="python") the case split.
    wanted = F.col(FALLBACK) | F.col(UNDECIDED)
    flagged = result.filter(wanted).select(ROW, FALLBACK).collect() if result is not None else []
    ids = [row[ROW] for row in flagged]
    summary.fallback_values = sum(1 for row in flagged if row[FALLBACK])
    summary.fallback_split = len(flagged) - summary.fallback_values
    if python_only:
        extra = frame.filter(F.col(VERSION).isin(python_only)).select(ROW).collect()
        ids += [row[ROW] for row in extra]
        summary.fallback_values += len(extra)
    python_frame = None
    if ids:
        readable = [c for c in frame.columns if c in types or c == _BAD_LINE]
        rows = frame.filter(F.col(ROW).isin(ids)).select(ROW, *readable).collect()
        dicts = [{k: v for k, v in row.asDict().items() if k != ROW} for row in rows]
        results = python_results(dicts, facts, units, criteria)
        fixed = _attach(pa.table({ROW: pa.array([row[ROW] for row in rows], pa.int64())}), results)
        python_frame = spark.createDataFrame(fixed)
    if result is None:
        result = frame.select(*keep, ROW).join(python_frame, ROW, "inner")
    elif python_frame is not None:
        renamed = python_frame.select(ROW, F.lit(True).alias("_py_here"),
                                      *[F.col(n).alias(f"_py_{n}") for n in RESULT_COLUMNS])
        result = result.join(renamed, ROW, "left")
        for name in RESULT_COLUMNS:
            result = result.withColumn(name, F.when(F.col("_py_here").isNotNull(), F.col(f"_py_{name}"))
                                       .otherwise(F.col(name)))
    result = result.orderBy(ROW).select(*keep, *RESULT_COLUMNS)
    if given_frame:
        result.irmer_summary = summary
        summary.seconds = time.perf_counter() - start
        return result
    out = result.toArrow() if hasattr(result, "toArrow") else pa.Table.from_pandas(result.toPandas())
    for name in RESULT_COLUMNS:
        index = out.column_names.index(name)
        out = out.set_column(index, name, out.column(name).cast(RESULT_TYPES[name]))
    summary.rows = out.num_rows
    summary.fallback = len(ids)
    summary.in_sql = summary.rows - summary.fallback
    summary.seconds = time.perf_counter() - start
    summary.errors = out.num_rows - out.column("error").null_count
    summary.versions = {str(v["values"]): v["counts"] for v in out.column("criteria").value_counts().to_pylist()}
    import json
    from dataclasses import asdict
    return out.replace_schema_metadata({**(out.schema.metadata or {}), SUMMARY_KEY: json.dumps(asdict(summary)).encode()})

