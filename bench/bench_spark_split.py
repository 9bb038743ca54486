"""Spark with the case split in the query (`case_split="sql"`): does it still run, and agree with Python?

The tests run Spark's two-valued and three-valued queries, but not the case
split written as lambdas: Spark takes about a minute to analyse and run it
even for a few rows, too long for `make test`. A change to the lambda form can
still break it on Spark alone (a query nested past what Spark's analyser
resolves, say), so `make bench` runs it here: N random incidents of the tests'
generator (boundary-biased, mixed units, missing facts; default 40) through a
local session with `case_split="sql"`, every row compared with
`Guidance.evaluate`, and the time, against the same rows with the default
split (Python decides the rows the three-valued query leaves).

Run: `make bench` or `python bench/bench_spark_split.py [N]`. Needs pyspark and
Java 17; says so and stops without them.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from columnar_data import Incidents, differences  # noqa: E402

from evaluator import load_criteria  # noqa: E402
from evaluator.engines.columnar import Summary, evaluate_table, rows_to_table  # noqa: E402


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("Spark with the case split in SQL: skipped (pyspark is the optional extra `spark`)")
        return 0
    if shutil.which("java") is None:
        print("Spark with the case split in SQL: skipped (no Java 17)")
        return 0
    from evaluator.engines.spark import session
    spark = session("local[2]")
    spark.sparkContext.setLogLevel("OFF")  # Spark logs its failed attempts at generating code; the answers stand
    guidance = load_criteria("2024")
    incidents = Incidents(5).many(n)
    table = rows_to_table(incidents)
    print(f"Spark {spark.version}, {n} random incidents (2024), the case split:")
    failed = False
    for split in ("python", "sql"):
        start = time.perf_counter()
        out = evaluate_table(table, criteria=guidance, engine="spark", spark=spark, case_split=split)
        seconds = time.perf_counter() - start
        disagree = differences(out.to_pylist(), incidents, guidance)
        summary = Summary.of(out)
        failed = failed or bool(disagree)
        print(f"  in {'SQL (lambdas)' if split == 'sql' else 'Python':14} {seconds:6.1f} s   "
              f"{len(disagree)} rows disagree with Guidance.evaluate; {summary.in_sql} of {summary.rows} in SQL")
    spark.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
