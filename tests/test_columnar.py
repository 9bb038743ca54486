"""The columnar engine (evaluator/engines/columnar.py): files and frames in and out, on DuckDB, row for row
the answers of Guidance.evaluate.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from columnar_data import Incidents, as_text, differences  # noqa: E402

from evaluator import load_criteria  # noqa: E402
from evaluator.engines import columnar  # noqa: E402
from evaluator.engines.columnar import (RESULT_COLUMNS, Summary, TableError, evaluate_table, read_file,  # noqa: E402
                                        rows_to_table, run_table)

G2023, G2024 = load_criteria("2023"), load_criteria("2024")


# ------------------------------------------------------------------ differential

@pytest.mark.parametrize("criteria, optimised", [(None, False), (G2023, False), (G2024, True)],
                         ids=["by date", "2023", "2024 optimised"])
def test_duckdb_agrees_with_python_on_random_incidents(criteria, optimised, monkeypatch):
    """Below columnar.OPTIMIZE_FROM rows (as in every other test here) DuckDB runs the queries unoptimised;
    the 2024 case runs them optimised, as a table of that size would be."""
    incidents = Incidents(7).many(2500)
    settings: list[bool] = []  # the optimizer's setting for each connection the engine opens
    optimize = columnar._optimize
    monkeypatch.setattr(columnar, "_optimize", lambda con, rows: (optimize(con, rows), settings.append(
        con.execute("SELECT current_setting('enable_optimizer')").fetchall()[0][0]))[0])
    if optimised:
        monkeypatch.setattr(columnar, "OPTIMIZE_FROM", 0)
    out = evaluate_table(rows_to_table(incidents), criteria=criteria, case_split="explode")
    assert settings and set(settings) == {optimised}
    assert not differences(out.to_pylist(), incidents, criteria)
    summary = Summary.of(out)
    assert summary.rows == 2500 and summary.in_sql + summary.fallback == 2500
    # The case split is made in SQL (one row per case); Python reads only the values the SQL does not.
    assert summary.split_in_sql > 500 and summary.fallback_split == 0
    assert summary.fallback == summary.fallback_values > 0


def test_the_case_split_left_to_python_gives_the_same_answers():
    incidents = Incidents(13).many(800)
    out = evaluate_table(rows_to_table(incidents), case_split="python")
    assert not differences(out.to_pylist(), incidents)
    assert Summary.of(out).fallback_split > 100


def test_one_table_with_rows_for_the_two_valued_and_the_three_valued_query():
    """Rows whose facts decide them (the two-valued query, engines/sqlplain.py) and rows with an unknown
    fact that matters (the three-valued query and its case split) in one table: each row its own answer,
    in input order."""
    complete = [{"id": f"C{n}", "jurisdiction": "England", "exposure": "unintended", "modality": "diagnostic",
                 "age": 40, "intended_dose": "1 mSv", "total_dose": total, "error_involved": "yes"}
                for n, total in enumerate(["1 mSv", "10 mSv", "20 mSv", "9.999 mSv"])]
    incidents = [item for pair in zip(Incidents(21).many(600), complete * 150) for item in pair]
    out = evaluate_table(rows_to_table(incidents), case_split="explode")
    assert not differences(out.to_pylist(), incidents)
    assert out.column("id").to_pylist() == [item.get("id") for item in incidents]
    summary = Summary.of(out)
    assert summary.two_valued >= 600 and summary.split_in_sql > 50
    assert summary.rows - summary.two_valued - summary.fallback > 100  # the three-valued query's own


@pytest.mark.parametrize("few_below, planned", [(31, False), (30, True)])
def test_a_few_rows_left_by_the_two_valued_query_go_to_python_unplanned(monkeypatch, few_below, planned):
    """By default (case_split "auto"), the rows the two-valued query leaves go to Python when there are
    fewer than THREE_VALUED_FROM (planning the three-valued query would take longer), and through the
    three-valued query from that many on: the same answers, counted where they were decided."""
    from evaluator.engines import columnar
    monkeypatch.setattr(columnar, "THREE_VALUED_FROM", few_below)
    open_rows = [{"id": f"O{n}", "jurisdiction": "England", "exposure": "accidental", "modality": "diagnostic",
                  "total_dose": dose} for n, dose in enumerate(["2 mSv", "8 mSv", "1.5 mSv"] * 10)]  # no age
    decided = [{"id": "D", "jurisdiction": "England", "exposure": "accidental", "modality": "diagnostic",
                "age": 40, "total_dose": "3 mSv"}]
    out = evaluate_table(rows_to_table(open_rows + decided), criteria=G2024)
    assert not differences(out.to_pylist(), open_rows + decided, G2024)
    summary = Summary.of(out)
    assert summary.two_valued == 1
    assert summary.fallback_few == (0 if planned else 30)
    assert summary.fallback_split == (30 if planned else 0)  # an unknown age: the split, left to Python
    assert ("too few to plan" in summary.text()) is not planned


BOUNDARY_DOSES = ["3 mSv", "3000 uSv", "0.003 Sv", "2.999999999 mSv", "2999.999 µSv", "1 mSv", "0.999999 mSv",
                  "1000 μSv", ".001 Sv", "3.000000001 mSv"]


@pytest.mark.parametrize("age", [17, 18, 40])
def test_the_two_valued_query_is_exact_at_the_thresholds(age):
    """"3 mSv or above" holds at exactly 3 mSv in every spelling, and not a picosievert below: the
    two-valued query decides these rows (every fact known), as Python does."""
    incidents = [{"id": str(n), "jurisdiction": "England", "exposure": "accidental", "age": age,
                  "total_dose": dose, "discovered_on": "2024-10-01"} for n, dose in enumerate(BOUNDARY_DOSES)]
    out = evaluate_table(rows_to_table(incidents))
    assert not differences(out.to_pylist(), incidents)
    assert Summary.of(out).two_valued == len(incidents)
    adult = [row["codes"] == ["1"] for row in out.to_pylist()]
    if age >= 18:
        assert adult == [True, True, True, False, False, False, False, False, False, True]


def test_every_value_as_text_gives_the_same_answers():
    incidents = Incidents(8).many(1500)
    out = evaluate_table(rows_to_table(as_text(incidents)))
    assert not differences(out.to_pylist(), incidents)


DATED = [{"id": str(n), "jurisdiction": "Wales", "exposure": "accidental", "discovered_on": day}
         for n, day in enumerate(["2023-04-19", "2024-08-27", "2024-08-28", "2022-01-01", None])]


def test_both_versions_are_chosen_by_discovered_on():
    out = evaluate_table(rows_to_table(DATED))
    assert out.column("criteria").to_pylist() == ["irmer-2023-04-19", "irmer-2023-04-19", "irmer-2024-08-28",
                                                  "irmer-2023-04-19", "irmer-2024-08-28"]
    assert out.column("notify_by").to_pylist()[:3] == [dt.date(2023, 5, 3), dt.date(2024, 9, 10),
                                                      dt.date(2024, 9, 11)]


def test_a_version_chosen_by_date_or_by_the_caller_is_one_compiled_query(monkeypatch):
    """The query for a version is compiled once (and kept on disk) however the version was chosen."""
    from evaluator.engines import columnar
    monkeypatch.setattr(columnar, "_QUERIES", {})
    by_date = evaluate_table(rows_to_table(DATED))
    fixed = evaluate_table(rows_to_table(DATED), criteria=G2024)
    assert {key[0] for key in columnar._QUERIES} == {G2023.version, G2024.version}
    assert len(columnar._QUERIES) == 2
    later = [n for n, version in enumerate(by_date.column("criteria").to_pylist()) if version == G2024.version]
    assert [fixed.column("codes")[n] for n in later] == [by_date.column("codes")[n] for n in later]


# ------------------------------------------------------------------ numeric columns and units

def test_numeric_columns_in_a_declared_unit_read_exactly():
    doses = ["2.999999", "3", "3.000001", "0.3", "25", "0"]
    text = [{"jurisdiction": "England", "exposure": "accidental", "age": 40, "total_dose": f"{d} mSv"} for d in doses]
    numeric = pa.table({"jurisdiction": ["England"] * 6, "exposure": ["accidental"] * 6, "age": [40] * 6,
                        "total_dose": pa.array([Decimal(d) for d in doses], pa.decimal128(12, 6))})
    a = evaluate_table(numeric, criteria=G2024, units={"total_dose": "mSv"})
    b = evaluate_table(rows_to_table(text), criteria=G2024)
    assert a.column("notifiable").to_pylist() == b.column("notifiable").to_pylist() == [
        False, True, True, False, True, False]
    assert Summary.of(a).fallback == 0
    assert not differences(a.to_pylist(), text, G2024)


def test_float_columns_are_read_as_the_decimal_they_print():
    floats = pa.table({"jurisdiction": ["England"] * 3, "exposure": ["accidental"] * 3, "age": [40.0, 17.5, 16.0],
                       "total_dose": [2.9999, 3.0, 0.1 + 0.2]})
    out = evaluate_table(floats, criteria=G2024, units={"total_dose": "mSv"})
    assert out.column("notifiable").to_pylist() == [False, True, False]
    rows = [{"jurisdiction": "England", "exposure": "accidental", "age": a, "total_dose": f"{d!r} mSv"}
            for a, d in zip([40.0, 17.5, 16.0], [2.9999, 3.0, 0.1 + 0.2])]
    assert not differences(out.to_pylist(), rows, G2024)


@pytest.mark.parametrize("unit, message", [("total_dose=mGy", "not a unit of"), ("totl_dose=mSv", "not a quantity"),
                                           ("total_dose=mSV", "unknown unit")])
def test_a_bad_unit_is_refused(unit, message):
    name, _, value = unit.partition("=")
    with pytest.raises(TableError, match=message):
        evaluate_table(pa.table({"total_dose": [1]}), units={name: value})


# ------------------------------------------------------------------ rows, errors, pass-through

def test_a_bad_value_gives_its_row_an_error_and_the_batch_goes_on():
    rows = [{"id": "ok", "jurisdiction": "Wales", "exposure": "accidental"},
            {"id": "bad", "jurisdiction": "Narnia", "exposure": "accidental"},
            {"id": "unit", "jurisdiction": "England", "exposure": "accidental", "total_dose": "3 mSvv"}]
    out = evaluate_table(rows_to_table(rows), criteria=G2024)
    errors = out.column("error").to_pylist()
    assert errors[0] is None and errors[1].startswith("jurisdiction") and "mSvv" in errors[2]
    assert out.column("codes").to_pylist()[0] == ["1"]
    assert Summary.of(out).errors == 2


def test_extra_columns_pass_through_unchanged_in_order():
    table = pa.table({"site": ["A", "B"], "id": [7, 8], "jurisdiction": ["Wales", "England"],
                      "exposure": ["accidental", "accidental"], "total_dose": ["1 mSv", "8 mSv"],
                      "sub_modality": ["CT head", "PET"], "seen": pa.array([dt.date(2024, 1, 2), None])})
    out = evaluate_table(table, criteria=G2024)
    assert out.column_names == table.column_names + list(RESULT_COLUMNS)
    for name in table.column_names:
        assert out.column(name).to_pylist() == table.column(name).to_pylist()


def test_a_column_named_like_a_result_is_refused():
    with pytest.raises(TableError, match="codes"):
        evaluate_table(pa.table({"codes": ["x"]}))


def test_a_misspelt_fact_is_noted():
    out = evaluate_table(pa.table({"totl_dose": ["3 mSv"], "exposure": ["accidental"]}), criteria=G2024)
    assert any("totl_dose" in note and "total_dose" in note for note in Summary.of(out).notes)


def test_pandas_and_polars_frames():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"id": ["A"], "jurisdiction": ["Wales"], "exposure": ["accidental"]})
    assert G2024.evaluate_table(frame).column("codes").to_pylist() == [["1"]]
    try:
        import polars as pl
    except ImportError:
        return
    assert G2024.evaluate_table(pl.from_pandas(frame)).column("codes").to_pylist() == [["1"]]


def test_python_engine_gives_the_same_table():
    incidents = Incidents(9).many(300)
    a = evaluate_table(rows_to_table(incidents), engine="python")
    b = evaluate_table(rows_to_table(incidents))
    assert a.select(list(RESULT_COLUMNS)).to_pylist() == b.select(list(RESULT_COLUMNS)).to_pylist()


# ------------------------------------------------------------------ files

@pytest.fixture
def incidents_files(tmp_path):
    incidents = Incidents(10).many(200)
    text = as_text(incidents)
    names = list(dict.fromkeys(k for row in text for k in row))
    pq.write_table(pa.table({n: pa.array([r.get(n) for r in text], pa.string()) for n in names}),
                   tmp_path / "in.parquet")
    with open(tmp_path / "in.csv", "w", encoding="utf-8") as handle:
        import csv
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(text)
    with open(tmp_path / "in.jsonl", "w", encoding="utf-8") as handle:
        for row in incidents:
            handle.write(json.dumps(row) + "\n")
    return incidents, tmp_path


@pytest.mark.parametrize("source", ["in.parquet", "in.csv", "in.jsonl"])
@pytest.mark.parametrize("target", ["out.parquet", "out.csv", "out.jsonl"])
def test_files_in_and_out(incidents_files, source, target, capsys):
    incidents, folder = incidents_files
    status = run_table(str(folder / source), str(folder / target), engine="duckdb", criteria=None, units={},
                       spark_master=None, explain=False)
    assert status == 1  # some random rows carry a bad value
    assert "incidents with duckdb" in capsys.readouterr().err
    out = read_file(str(folder / target))
    assert out.num_rows == len(incidents)
    assert out.column("id").to_pylist() == [i["id"] for i in incidents]
    if target.endswith(".parquet") or target.endswith(".jsonl"):
        rows = out.to_pylist()
        for row in rows:  # JSON Lines keeps dates as text
            for name in ("notify_by", "report_by"):
                if isinstance(row[name], str):
                    row[name] = dt.date.fromisoformat(row[name])
        assert not differences(rows, incidents)
    else:
        codes = out.column("codes").to_pylist()
        assert any(c and ";" not in c for c in codes)


def test_json_lines_with_a_bad_line_and_a_repeated_key(tmp_path, capsys):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "A", "jurisdiction": "Wales", "exposure": "accidental"}\n'
                    '{"id": "B", "jurisdiction": \n'
                    '{"id": "C", "total_dose": "3 mSv", "total_dose": "30 mSv"}\n', encoding="utf-8")
    assert run_table(str(path), str(tmp_path / "out.jsonl"), engine="duckdb", criteria="2024", units={},
                     spark_master=None, explain=False) == 1
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["codes"] for r in rows][0] == ["1"]
    assert rows[1]["error"].startswith("line 2") and "twice" in rows[2]["error"]
    # Both could not be read (neither is left to Python by the two-valued query too).
    assert "2 in Python (66.67%: 0 with a value the SQL does not read, 0 needing the case split, " \
           "2 that could not be read); 2 with an error" in capsys.readouterr().err


def test_a_file_that_cannot_be_read_is_status_2(tmp_path, capsys):
    assert run_table(str(tmp_path / "missing.parquet"), None, engine="duckdb", criteria=None, units={},
                     spark_master=None, explain=False) == 2
    assert "no such file" in capsys.readouterr().err
    assert run_table(str(tmp_path / "x.txt"), None, engine="duckdb", criteria=None, units={}, spark_master=None,
                     explain=False) == 2


# ------------------------------------------------------------------ irmer diff --incidents

def test_the_population_report_is_the_same_from_the_columnar_engine(monkeypatch):
    from columnar_data import python_incident
    from evaluator.tools import impact
    items = [python_incident(i) for i in Incidents(12).many(1200)] + ["line 7: not valid JSON", 3]
    items.append({"id": "odd", "totl_dose": "3 mSv"})  # not a fact: refused, as evaluate refuses it
    monkeypatch.setattr(impact, "COLUMNAR_FROM", 10 ** 9)
    by_python = impact.population(G2023, G2024, items, "f")
    monkeypatch.setattr(impact, "COLUMNAR_FROM", 100)
    by_sql = impact.population(G2023, G2024, items, "f")
    assert by_sql == by_python
    assert by_sql.refused[-1].field == "totl_dose"


def test_incident_files_refuse_a_key_given_twice(tmp_path):
    from evaluator.tools.impact import IncidentFileError, read_incidents
    lines = tmp_path / "in.jsonl"
    lines.write_text('{"id": "A"}\n{"id": "B", "age": 3, "age": 4}\n', encoding="utf-8")
    assert "twice" in read_incidents(lines)[1]
    single = tmp_path / "in.json"
    single.write_text('{"id": "B", "age": 3, "age": 4}', encoding="utf-8")
    with pytest.raises(IncidentFileError, match="twice"):
        read_incidents(single)


def test_a_json_lines_file_is_read_as_irmer_evaluate_reads_it(tmp_path):
    """One row a line, in order, whatever the text holds: a raw U+2028 or U+0085 inside a string (valid JSON, not
    a line break), a lone surrogate (kept as its JSON escape: no Arrow string can hold it), a byte that is not
    UTF-8 (that line's error); a byte-order mark first is skipped."""
    good = {"jurisdiction": "England", "exposure": "accidental", "total_dose": "3 mSv", "age": 40}
    lines = [b"\xef\xbb\xbf" + json.dumps({"id": "bom", **good}).encode(),
             json.dumps({"id": "A\u2028B\u0085C", **good}, ensure_ascii=False).encode(),
             json.dumps({"id": "C\ud800", **good}).encode(),  # the escape \ud800, as JSON writes it
             b'{"id": "bad", "jurisdiction": "Wal\xffes"}',
             json.dumps({"id": "after", "tags": ["x\udfff"], **good}).encode()]
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    for engine in ("duckdb", "python"):
        rows = evaluate_table(read_file(str(path)), criteria=G2024, engine=engine).to_pylist()
        assert [row["id"] for row in rows] == ["bom", "A\u2028B\u0085C", "C\\ud800", None, "after"], engine
        assert [row["codes"] for row in rows] == [["1"], ["1"], ["1"], [], ["1"]], engine
        assert rows[3]["error"] and "not valid UTF-8: byte 0xff" in rows[3]["error"], engine


def test_a_json_line_that_cannot_be_read_has_the_error_irmer_evaluate_gives(tmp_path):
    """The columnar engines read JSON Lines with `irmer evaluate`'s decoder (batch.decode_line): a line that is
    not JSON, has more after its value, is not an object, or nests too deeply is its row's error, worded as
    `irmer evaluate` words it ("line N: " and the message), and NaN for a fact is that fact's error."""
    from evaluator.batch import decode_line
    good = '{"id": "ok", "jurisdiction": "Wales", "exposure": "accidental"}'
    lines = [good, '{"id": "B", "jurisdiction": ', '{"id": "C"} {"id": "D"}', '42', "[" * 100_000 + "]" * 100_000,
             '{"id": "E", "jurisdiction": "England", "exposure": "accidental", "age": 40, "total_dose": NaN}']
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    want = [None] + [f"line {n}: {decode_line(line.encode(), n).error}" for n, line in enumerate(lines[1:4], 2)]
    want += ["line 5: not valid JSON: nested too deeply", G2024.evaluate(json.loads(lines[5].replace(
        "NaN", '"NaN"'))).error.message]
    assert "not valid JSON at column" in want[1] and "extra data" in want[2]
    for engine in ("duckdb", "python"):
        rows = evaluate_table(read_file(str(path)), criteria=G2024, engine=engine).to_pylist()
        assert [row["error"] for row in rows[:3]] == want[:3], engine
        assert rows[3]["error"] == "line 4: an incident is a JSON object, not a number", engine
        assert rows[4]["error"] == want[4] and rows[5]["error"] == want[5] and rows[5]["id"] == "E", engine


@pytest.mark.parametrize("shape", ["lines", "array"])
def test_an_incident_with_a_key_given_twice_is_its_rows_error_with_its_id(tmp_path, shape):
    """As `irmer evaluate` answers it: that incident's error (at any depth), keeping the id it gives once; the
    other incidents of the file are decided. The whole file was refused when it was an array, and the row's
    id was lost when it was JSON Lines."""
    good = '"jurisdiction": "England", "exposure": "accidental", "age": 40'
    items = ['{"id": "A", %s, "total_dose": "3 mSv", "total_dose": "30 mSv"}' % good,
             '{"id": "B", %s, "total_dose": "8 mSv"}' % good,
             '{"id": "C", %s, "total_dose": "8 mSv", "theme": {"ward": "x", "ward": "y"}}' % good,
             '{"id": "D", "id": "E", %s, "total_dose": "8 mSv"}' % good]
    path = tmp_path / ("in.jsonl" if shape == "lines" else "in.json")
    path.write_text("\n".join(items) if shape == "lines" else "[" + ",\n".join(items) + "]", encoding="utf-8")
    where = ["line 1", "line 3", "line 4"] if shape == "lines" else ["incident 1", "incident 3", "incident 4"]
    for engine in ("duckdb", "python"):
        rows = evaluate_table(read_file(str(path)), criteria=G2024, engine=engine).to_pylist()
        assert [row["id"] for row in rows] == ["A", "B", "C", None], engine  # D's id is itself given twice
        assert [row["codes"] for row in rows] == [[], ["1"], [], []], engine
        for row, key, place in zip([rows[0], rows[2], rows[3]], ["total_dose", "ward", "id"], where):
            assert row["notifiable"] is None and row["error"] == (
                f'{place}: the key "{key}" is given twice in one object; which value was meant cannot be told'), engine
