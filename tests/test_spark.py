"""The columnar engine on Spark (evaluator/engines/spark.py): the same answers as Python, row for row.

One local session (local[2]) for the module; small data, one version, so the whole file stays under
a minute (Spark's analysis of the large query dominates). Skipped only where there is no Java or no
pyspark (.ci/run installs Debian's openjdk-17-jre-headless when it can).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from columnar_data import Incidents, differences  # noqa: E402

# Where CI has Java (IRMER_REQUIRE_SPARK, set by .ci/run), these tests must run, not skip.
REQUIRED = bool(os.environ.get("IRMER_REQUIRE_SPARK"))
if not REQUIRED:
    pytest.importorskip("pyspark", reason="pyspark is the optional extra `spark` (pip install '.[spark]')")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java 17: no `java` here (.ci/run installs openjdk-17-jre-headless)",
                    allow_module_level=True)

from evaluator import load_criteria  # noqa: E402
from evaluator.engines.columnar import RESULT_COLUMNS, Summary, evaluate_table, rows_to_table  # noqa: E402

G2024 = load_criteria("2024")


@pytest.fixture(scope="module")
def spark():
    from evaluator.engines.spark import session
    # The JVM's first-tier compiler only: a few hundred rows never repay the optimising compiler, whose
    # threads otherwise take as much CPU as the rest of the run together (tests share two cores).
    active = session("local[2]", {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1"})
    active.sparkContext.setLogLevel("ERROR")
    # A few hundred rows: Spark's interpreted expressions start at once, where compiling the generated
    # code of a plan this wide takes longer than running it (the answers are the same either way).
    active.conf.set("spark.sql.codegen.wholeStage", "false")
    active.conf.set("spark.sql.codegen.factoryMode", "NO_CODEGEN")
    yield active
    active.stop()


@pytest.fixture(scope="module")
def incidents():
    return Incidents(21).many(160)


@pytest.fixture(scope="module")
def answer(spark, incidents):
    frame = spark.createDataFrame(rows_to_table(incidents))
    return evaluate_table(frame, criteria=G2024, engine="spark", spark=spark, case_split="python")


def test_spark_agrees_with_python(answer, incidents):
    rows = [row.asDict() for row in answer.collect()]
    assert not differences(rows, incidents, G2024)


def test_a_spark_frame_in_gives_a_spark_frame_out_with_its_summary(answer, incidents):
    assert type(answer).__module__.startswith("pyspark")
    assert answer.columns[-len(RESULT_COLUMNS):] == list(RESULT_COLUMNS)
    summary = answer.irmer_summary
    assert summary.engine == "spark" and summary.fallback_values > 0  # the random rows carry a few bad values
    # The two-valued query decides the rows whose facts are given; those it leaves go through the
    # three-valued query (case_split="python", as for a table of THREE_VALUED_FROM rows or more), and
    # only those it leaves undetermined to Python.
    assert summary.two_valued > 40 and summary.fallback_few == 0 and summary.fallback_split > 0
    assert summary.fallback_values + summary.fallback_split < len(incidents) - summary.two_valued  # some in SQL


def test_an_arrow_table_in_gives_an_arrow_table_out(spark):
    rows = [{"id": "A", "jurisdiction": "Wales", "exposure": "accidental"},
            {"id": "B", "jurisdiction": "England", "exposure": "accidental", "total_dose": "2999 uSv", "age": 40},
            {"id": "C", "jurisdiction": "England", "exposure": "accidental", "total_dose": "2 mSv"}]  # no age
    out = evaluate_table(rows_to_table(rows), criteria=G2024, engine="spark", spark=spark)
    assert out.column("codes").to_pylist() == [["1"], [], []]
    assert out.column("notifiable").to_pylist() == [True, False, None]
    summary = Summary.of(out)
    # By default (case_split "auto"), a row or two left by the two-valued query go straight to Python.
    assert (summary.rows, summary.two_valued, summary.fallback_few) == (3, 2, 1)


def test_pysparks_warning_about_pandas_is_not_shown():
    """pyspark 4 warns that pandas 3 is not fully supported when it first imports pyspark.testing.utils (on the
    way to any DataFrame made from local data); the engine never hands Spark pandas (Arrow in, Arrow out), so it
    has that import done quietly first, and `irmer evaluate --engine spark` does not show the warning. In a
    fresh process: this one has long made that import."""
    probe = ("import warnings\n"
             "with warnings.catch_warnings(record=True) as caught:\n"
             "    warnings.simplefilter('always')\n"
             "    from pyspark.sql import SparkSession\n"
             "    def no_jvm(builder):\n"
             "        raise RuntimeError('no JVM in this probe')\n"
             "    SparkSession.Builder.getOrCreate = no_jvm\n"
             "    from evaluator.engines.spark import TableError, session\n"
             "    try:\n"
             "        session('local[1]')\n"
             "    except TableError:\n"
             "        pass\n"
             "    import pyspark.testing.utils  # what pyspark imports on the way to a DataFrame\n"
             "print(sum('pandas' in str(w.message) for w in caught))\n")
    counted = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert counted.stdout.strip() == "0", counted.stdout + counted.stderr


def test_a_json_line_that_cannot_be_read_is_one_row_with_its_error(spark, tmp_path):
    """A bad line of a JSON Lines file goes to Python alone (which words its error), not to the SQL too:
    one row each, in order, as on DuckDB."""
    from evaluator.engines.columnar import read_file
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "A", "jurisdiction": "Wales", "exposure": "accidental"}\n{"id": "B", "jurisdiction": \n'
                    '{"id": "C", "jurisdiction": "England", "exposure": "accidental", "total_dose": "8 mSv", "age": 40}\n',
                    encoding="utf-8")
    out = evaluate_table(read_file(str(path)), criteria=G2024, engine="spark", spark=spark)
    assert out.column("codes").to_pylist() == [["1"], [], ["1"]]
    errors = out.column("error").to_pylist()
    assert errors[0] is None and errors[1] and errors[2] is None
    summary = Summary.of(out)
    assert (summary.rows, summary.fallback, summary.fallback_values, summary.fallback_unread) == (3, 1, 0, 1)
