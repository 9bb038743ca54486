"""How fast is the columnar engine? Incidents per second, and ratios against a bare scan in the same run.

A Parquet file of N incidents (default 2,000,000) is written the way a
dose-management system would export them: named values as text, counts and
ages as integers, doses as decimals in a declared unit (`--unit
total_dose=mSv`, ...), dates as dates; and a second file with the doses as
text with their units ("3 mSv"), as in the incident JSON. The incidents are
realistic (bench_evaluate.py's: every modality, doses around the thresholds,
the facts of each modality given), repeated to N rows with their own ids.

Figures, each measured in this run, the best of a few:

- the engine: `evaluate_table(file)` on DuckDB, end to end (read, SQL, the
  rows Python decides, the result table), in incidents per second;
- the baseline: a bare DuckDB scan of the same columns of the same file
  (every column read, counted); the target is an engine at >= 25% of it;
- the share of rows the two-valued query decided (the others go through the
  three-valued one, engines/columnar.py), and of rows decided in Python (the
  fallback), and why.

Run: `make bench` or `python bench/bench_columnar.py [N]`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bench_evaluate import incidents  # noqa: E402
from evaluator import load_vocabulary  # noqa: E402
from evaluator.engines.columnar import Summary, evaluate_table  # noqa: E402
from evaluator.language.units import resolve_unit  # noqa: E402
from evaluator.language.values import read_value  # noqa: E402

UNITS = {"effective dose": "mSv", "absorbed dose": "Gy", "activity": "MBq"}
DISTINCT = 50_000  # distinct incidents, repeated to N rows


def typed_columns(items: list[dict], facts) -> tuple[dict[str, pa.Array], dict[str, str]]:
    """Columns as a dose-management export has them, and the declared unit of each dose column."""
    columns: dict[str, pa.Array] = {}
    units: dict[str, str] = {}
    for name, info in facts.items():
        values = [item.get(name) for item in items]
        if all(v is None for v in values):
            continue
        if info.kind in UNITS:
            unit = UNITS[info.kind]
            factor = resolve_unit(unit)[1]
            exact = [None if v is None else read_value(info, v).value / factor for v in values]
            columns[name] = pa.array([None if v is None else Decimal(v.numerator) / Decimal(v.denominator)
                                      for v in exact], pa.decimal128(18, 6))
            units[name] = unit
        elif info.kind in ("count", "duration"):
            columns[name] = pa.array(values, pa.int64())
        elif info.kind == "date":
            import datetime as dt
            columns[name] = pa.array([None if v is None else dt.date.fromisoformat(v) for v in values], pa.date32())
        else:
            columns[name] = pa.array(values, pa.string())
    return columns, units


def write_files(n: int, folder: Path) -> tuple[Path, Path, dict[str, str]]:
    items = incidents(DISTINCT)
    facts = load_vocabulary().facts
    typed, units = typed_columns(items, facts)
    text = {name: pa.array([None if i.get(name) is None else str(i[name]) for i in items], pa.string())
            for name in facts if any(i.get(name) is not None for i in items)}
    repeats = -(-n // DISTINCT)
    paths = []
    for label, columns in (("typed", typed), ("text", text)):
        base = pa.table({"id": pa.array([f"B-{k:06d}" for k in range(DISTINCT)]), **columns})
        table = pa.concat_tables([base] * repeats).slice(0, n)
        table = table.set_column(0, "id", pa.array([f"B-{k:07d}" for k in range(n)]))
        path = folder / f"incidents-{label}.parquet"
        pq.write_table(table, path, row_group_size=122_880)
        paths.append(path)
    return paths[0], paths[1], units


def best_of(repeats: int, work) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def scan(path: Path) -> float:
    """The bare scan: every column of the file read by DuckDB, nothing computed."""
    con = duckdb.connect()
    names = pq.read_schema(path).names
    query = f"SELECT count(*), {', '.join(f'count({chr(34)}{c}{chr(34)})' for c in names)} FROM read_parquet('{path}')"
    seconds, _ = best_of(3, lambda: con.execute(query).fetchall())
    return seconds


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    with tempfile.TemporaryDirectory() as folder:
        typed, text, units = write_files(n, Path(folder))
        print(f"columnar engine, {n:,} incidents (DuckDB {duckdb.__version__}, {duckdb.connect().execute('select current_setting(' + chr(39) + 'threads' + chr(39) + ')').fetchone()[0]} threads)")
        for label, path, declared in (("numeric doses, declared units", typed, units),
                                      ("doses as text with units", text, {})):
            baseline = scan(path)
            evaluate_table(path, units=declared)  # warm: compile the SQL once
            seconds, out = best_of(2, lambda: evaluate_table(path, units=declared))
            summary = Summary.of(out)
            rate = n / seconds
            print(f"  {label}:")
            print(f"    engine      {seconds:7.2f} s   {rate:12,.0f} incidents/s")
            print(f"    bare scan   {baseline:7.2f} s   {n / baseline:12,.0f} rows/s")
            print(f"    ratio       {baseline / seconds:7.1%} of the bare scan's throughput (target >= 25%)")
            print(f"    two-valued  {summary.two_valued / n:7.2%} of rows decided by the two-valued query; "
                  f"{summary.split_in_sql / n:.2%} split in SQL")
            print(f"    fallback    {summary.fallback_share:7.2%} of rows in Python "
                  f"({summary.fallback_split:,} need the case split, {summary.fallback_values:,} values "
                  f"the SQL does not read)")


if __name__ == "__main__":
    main()
