"""The SQL backend (evaluator/engines/sql.py): the interpreter's answers, in SQL, exact at every threshold.

The queries here run the case split in SQL too (`case_split="sql"`, as the
view `irmer sql` prints), so every part of the query is checked against the
interpreter, the reference engine; tests/test_columnar.py checks the engine
around it against Guidance.evaluate, on more rows.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from columnar_data import Incidents, differences, expected  # noqa: E402

from evaluator import load_criteria  # noqa: E402
from evaluator.engines.columnar import Summary, evaluate_table, rows_to_table  # noqa: E402
from evaluator.engines.sql import DIALECTS, FALLBACK, compile_query, create_view  # noqa: E402
from evaluator.load import compile_text  # noqa: E402
from evaluator.resources import criteria_dir  # noqa: E402

G2023, G2024 = load_criteria("2023"), load_criteria("2024")
ENGLAND = {"jurisdiction": "England", "exposure": "accidental", "modality": "diagnostic"}
UNINTENDED = {"jurisdiction": "England", "exposure": "unintended", "modality": "diagnostic"}
IMAGING = {"jurisdiction": "England", "exposure": "unintended", "modality": "radiotherapy_imaging",
           "imaging_cause": "protocol_failure", "age": 30, "intended_dose": "0.1 mSv", "total_dose": "0.1 mSv"}


def in_sql(incidents: list[dict], guidance=G2024) -> list[dict]:
    out = evaluate_table(rows_to_table(incidents), criteria=guidance, case_split="sql")
    assert Summary.of(out).fallback_split == 0
    return out.to_pylist()


# Each case: the incident, and what the interpreter says (notifiable, codes). Both sides of each threshold.
CASES = [
    ({**ENGLAND, "age": 40, "total_dose": "3 mSv"}, True, ["1"]),
    ({**ENGLAND, "age": 40, "total_dose": "3000 uSv"}, True, ["1"]),
    ({**ENGLAND, "age": 40, "total_dose": "0.003 Sv"}, True, ["1"]),
    ({**ENGLAND, "age": 40, "total_dose": "2.999999 mSv"}, False, []),
    ({**ENGLAND, "age": 17, "total_dose": "1 mSv"}, True, ["1"]),
    ({**ENGLAND, "age": 17, "total_dose": "999.999 uSv"}, False, []),
    ({**ENGLAND, "age": 18, "total_dose": "2 mSv"}, False, []),
    ({**ENGLAND, "total_dose": "8 mSv"}, True, ["1"]),  # whatever the age: the case split, in SQL
    ({**ENGLAND, "total_dose": "2 mSv"}, None, []),
    ({**UNINTENDED, "intended_dose": "1 mSv", "total_dose": "10 mSv"}, True, ["2.2"]),
    ({**UNINTENDED, "intended_dose": "1 mSv", "total_dose": "9.999 mSv"}, False, []),
    ({**UNINTENDED, "intended_dose": "0.3 mSv", "total_dose": "3 mSv"}, True, ["2.2"]),
    ({**UNINTENDED, "intended_dose": "299.999 uSv", "total_dose": "3 mSv", "age": 30}, True, ["2.1"]),
    ({**UNINTENDED, "intended_dose": "12 mSv", "total_dose": "30 mSv"}, True, ["2.4"]),
    ({**UNINTENDED, "intended_dose": "12 mSv", "total_dose": "29.999 mSv"}, False, []),
    ({**UNINTENDED, "intended_dose": "0 mSv", "total_dose": "0 mSv", "age": 30}, False, []),
    ({**IMAGING, "intended_images": 5, "additional_images": 3}, True, ["4.2b"]),
    ({**IMAGING, "intended_images": 6, "additional_images": 2}, False, []),
    ({**IMAGING, "additional_images": 0}, False, []),  # 0 >= 50% of any count of at least 1: false
    ({**IMAGING, "additional_images": 1}, None, []),
    ({"jurisdiction": "Scotland", "exposure": "unintended", "modality": "diagnostic", "age": 17,
      "intended_dose": "0.1 mSv", "total_dose": "2 mSv"}, False, []),  # a child is under 16 in Scotland
    ({"jurisdiction": "England", "exposure": "unintended", "modality": "nuclear_medicine_therapy",
      "nm_therapy": "sirt", "prescribed_activity": "1 GBq", "delivered_activity": "1200 MBq",
      "ptv_intended_dose": "120 Gy", "ptv_delivered_dose": "120 Gy"}, False, []),
    # 8.2 reaches nuclear medicine therapy: without the target's doses, an activity within tolerance is open
    ({"jurisdiction": "England", "exposure": "unintended", "modality": "nuclear_medicine_therapy",
      "nm_therapy": "sirt", "prescribed_activity": "1 GBq", "delivered_activity": "1200 MBq"}, None, []),
    ({"jurisdiction": "England", "exposure": "unintended", "modality": "nuclear_medicine_therapy",
      "nm_therapy": "other", "prescribed_activity": "1.1 GBq", "delivered_activity": "1.1 GBq",
      "ptv_intended_dose": "300 Gy", "ptv_delivered_dose": "270 Gy"}, True, ["8.2"]),
    ({"jurisdiction": "England", "exposure": "unintended", "modality": "nuclear_medicine_therapy",
      "nm_therapy": "sirt", "prescribed_activity": "1 GBq", "delivered_activity": "1200.001 MBq"}, True, ["10.1"]),
]


def examples(guidance) -> list[dict]:
    return [{"id": e.title, **guidance.example_incident(e)} for e in guidance.ast.examples]


RANDOM = {"2023": Incidents(11).many(200), "2024": Incidents(12).many(200)}


@functools.lru_cache(maxsize=None)
def pooled(version: str) -> list[dict]:
    """The boundary cases (2024), each version's examples and 200 random incidents, in one query a version:
    DuckDB plans the query with the case split in SQL for seconds, whatever the number of rows."""
    guidance = {"2023": G2023, "2024": G2024}[version]
    cases = [incident for incident, _, _ in CASES] if version == "2024" else []
    return in_sql(cases + examples(guidance) + RANDOM[version], guidance)


def cases_in_sql() -> list[dict]:
    return pooled("2024")[:len(CASES)]


@functools.lru_cache(maxsize=None)
def view(dialect: str) -> str:
    """The view `irmer sql` prints for the 2024 file, printed once a dialect (some 800 kB of SQL)."""
    return create_view(G2024.checked, "incidents", "irmer_results", dialect)


@pytest.mark.parametrize("n", range(len(CASES)))
def test_boundaries(n):
    incident, notifiable, codes = CASES[n]
    want = expected(incident, G2024, interpreter=True)
    assert (want["notifiable"], want["codes"]) == (notifiable, codes)  # the table is right about the interpreter
    row = cases_in_sql()[n]
    assert {k: row[k] for k in want} == want


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_examples_of_both_versions(version):
    guidance = {"2023": G2023, "2024": G2024}[version]
    incidents = examples(guidance)
    start = len(CASES) if version == "2024" else 0
    rows = pooled(version)[start:start + len(incidents)]
    assert [row["id"] for row in rows] == [incident["id"] for incident in incidents]
    assert not differences(rows, incidents, guidance, interpreter=True)


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_random_incidents_with_the_case_split_in_sql(version):
    """Random incidents (boundary-biased, mixed units, missing facts) under each version, in the query that
    makes the case split in SQL (the version chosen by date is tested with the columnar engine's queries)."""
    guidance = {"2023": G2023, "2024": G2024}[version]
    incidents = RANDOM[version]
    rows = pooled(version)[-len(incidents):]
    assert not differences(rows, incidents, guidance, interpreter=True)


def test_a_multiple_of_a_fact_against_a_known_fact_is_not_folded():
    # A fact compared with a multiple of another, where only the other is unknown, once took the known
    # fact's coefficient for its value: 5 >= 2 times [1, ∞) came out false, not unknown.
    source = (criteria_dir() / "irmer-2024-08-28.irmer").read_text(encoding="utf-8")
    edited = source.replace("additional_images >= 50% of intended_images", "additional_images >= 2 times intended_images")
    assert edited != source
    guidance = compile_text(edited, "edited.irmer", criteria_dir())
    incident = {**IMAGING, "additional_images": 5}
    assert expected(incident, guidance)["notifiable"] is None
    assert in_sql([incident], guidance)[0]["notifiable"] is None


VALUES = [
    ("3 mSv", True), ("3000uSv", True), (" 3.0 mSv ", True), (".5 mSv", True), ("3 µSv", True),
    ("1e-3 Sv", False),  # an exponent: Python reads it
    ("0.0000000000001 Sv", False),  # more digits than the SQL keeps: Python reads it, exactly
    ("3 mSvv", False),  # nobody reads it: Python words the error
]


def test_values_the_sql_reads_and_those_it_leaves_to_python():
    incidents = [{**ENGLAND, "age": 40, "total_dose": text} for text, _ in VALUES]
    out = evaluate_table(rows_to_table(incidents), criteria=G2024)
    assert Summary.of(out).fallback_values == sum(1 for _, read in VALUES if not read)
    assert not differences(out.to_pylist(), incidents, G2024)
    assert out.column("error").to_pylist()[-1].startswith("total_dose")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_dialect_prints_a_view(dialect):
    text = view(dialect)
    assert text.startswith("CREATE")
    assert "irmer_results" in text and "incidents" in text
    assert text.count("(") == text.count(")")
    assert not re.search(r"\bFLOAT\b|\bDOUBLE\b|\bREAL\b", text.upper()), "numbers are exact decimals"


def test_the_duckdb_view_runs_in_duckdb():
    incidents = Incidents(5).many(150)
    text = [{k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in i.items()} for i in incidents]
    names = ["id", *G2024.vocabulary.facts]
    table = pa.table({n: pa.array([t.get(n) for t in text], pa.string()) for n in names})
    con = duckdb.connect()
    con.register("incidents", table)
    con.execute(view("duckdb"))
    rows = con.sql("SELECT * FROM irmer_results").to_arrow_table().to_pylist()
    kept = [(r, i) for r, i in zip(rows, incidents) if not r[FALLBACK]]
    assert len(kept) > 100
    assert not differences([r for r, _ in kept], [i for _, i in kept], G2024)


def test_the_query_is_built_from_tables_of_generators():
    from evaluator.engines import sql
    from evaluator.language import ast
    assert set(sql.BOOL_RULES) == {ast.Compare, ast.IsValue, ast.Includes, ast.Tolerance, ast.CriteriaOf,
                                   ast.Constant, ast.Not, ast.And, ast.Or, ast.Ref, ast.Case}
    assert set(sql.NUMBER_RULES) == {ast.Ref, ast.Number, ast.Percent, ast.Scale, ast.Ratio, ast.Case}
    query = compile_query(G2024.checked, "t").sql("duckdb")
    assert "DOUBLE" not in query.upper()


def test_irmer_sql_prints_a_view_and_refuses_a_bad_unit():
    from click.testing import CliRunner
    from evaluator.cli import main
    runner = CliRunner()
    ok = runner.invoke(main, ["sql", "2023", "--dialect", "spark", "--table", "dose_events", "--view", "irmer_2023",
                              "--unit", "total_dose=mSv", "--columns", "id,jurisdiction,exposure,total_dose"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("CREATE OR REPLACE VIEW irmer_2023") and "dose_events" in ok.output
    bad = runner.invoke(main, ["sql", "2024", "--unit", "total_dose=mGy"])
    assert bad.exit_code == 2 and "not a unit of" in bad.output


def test_spark_is_printed_as_sqlglot_prints_it():
    """The Spark printer (sql.print_sql) leaves out rewrites of constructs our queries never hold, and copies
    nothing: its text is sqlglot's own Spark SQL, for the two-valued query and a three-valued one with the
    case split (structs, lambdas, layers)."""
    from evaluator.engines.sql import print_sql
    from evaluator.engines.sqlplain import compile_plain
    for build in (lambda: compile_plain(G2024.checked, "t", {}, {}, ["id"], dialect="spark"),
                  lambda: compile_query(G2024.checked, "t", decisions=["0"])):
        ours = print_sql(build(), "spark")
        assert ours == build().sql("spark", copy=False)
    assert "STRUCT(" in ours and "AGGREGATE(" in ours  # the three-valued query has what the printer changes


# ------------------------------------------------------------------ what the query shares

def test_what_the_query_shares_is_written_once(monkeypatch):
    """The facts that would decide a row repeat its conditions, and the case split's plan its rows' scopes:
    those shared conditions are worked out once, in layers of their own (sql.hoisted). Printed in full they
    made the three-valued query almost twice as long, and the case split's more than twice (2.3 times
    with every decision); DuckDB and Spark spend their planning time reading them."""
    from evaluator.engines import sql

    def texts() -> tuple[str, str]:
        return (sql.print_sql(compile_query(G2024.checked, "t", refine=False), "duckdb"),
                sql.print_sql(compile_query(G2024.checked, "t", form="explode", decisions=("n",)), "duckdb"))

    three_valued, split = texts()
    monkeypatch.setattr(sql, "HOIST_FROM", 10 ** 9)  # nothing is large enough to hoist
    whole_three_valued, whole_split = texts()
    assert len(three_valued) < 0.65 * len(whole_three_valued) and len(split) < 0.65 * len(whole_split)
    # What `missing` reads is worked out only where the verdict is unknown.
    assert 'AS "_irmer_why_0"' in three_valued and three_valued.count('CASE WHEN "_notifiable" IS NULL THEN') > 10
