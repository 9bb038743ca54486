"""`irmer audit`: an incident log checked against the guidance (evaluator/tools/audit*.py, docs/audit.md).

tests/data/audit/log.csv is a synthetic log with planted findings of every
kind; each id says what it is (OK-: nothing to find, NT-: similar incidents
that are not a theme, PREV-, OLD-, FUT-: outside the audit period). Every
planted finding must be reported, and nothing else. The boundaries sit on
both sides of each deadline and of the theme window.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
from html.parser import HTMLParser

import jsonschema
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator.cli import main
from evaluator.tools import audit_log
from evaluator.tools.audit import GUIDANCE_WORDS, KINDS, Options, audit, audit_table, schema
from evaluator.tools.audit_log import LogError, read_log
from evaluator.tools.audit_report import EP17_REVIEW, EP17_SECOND, html, markdown, to_json

from browser import page_colours, screenshot
from conftest import GUIDANCE, ROOT, check_golden

DATA = ROOT / "tests" / "data" / "audit"
LOG = DATA / "log.csv"
AS_OF = dt.date(2025, 3, 31)

PLANTED = {
    "not_notified": ["NN-01", "NN-02-IN-TIME", "NN-03-UNDATED"],
    "late_notification": ["LN-01"],
    "late_report": ["LR-01", "LR-02"],
    "codes_differ": ["CD-01", "CD-02-NOT-NOTIFIABLE"],
    "wrong_authority": ["WA-01", "WA-02"],
    "undetermined": ["UD-01"],
    "unreadable": ["UR-01", "UR-02"],
    "possible_theme": ["TH-A1", "TH-A2", "TH-A3"],
}


def found(report) -> dict[str, list[str]]:
    return {f.kind: [i.id for i in f.items] for f in report.findings}


def log_rows() -> list[dict[str, str]]:
    with LOG.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def as_table(rows: list[dict[str, str]]) -> pa.Table:
    """Rows as the CSV reader gives them: every cell text, an empty cell absent."""
    names = list(rows[0]) if rows else ["id"]
    return pa.table({n: pa.array([r.get(n) or None for r in rows], pa.string()) for n in names})


def audited(rows: list[dict[str, str]] | None = None, **options) -> object:
    options.setdefault("as_of", AS_OF)
    return audit_table(as_table(rows if rows is not None else log_rows()), Options(**options), source="log.csv")


@pytest.fixture(scope="module")
def report():
    return audit(str(LOG), Options(as_of=AS_OF))


# ---------------------------------------------------------------- the planted findings

def test_every_planted_finding_is_reported_and_nothing_else(report):
    assert found(report) == PLANTED
    assert [f.kind for f in report.findings] == list(KINDS)  # every kind is planted, in the order of KINDS


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_both_engines_find_the_same(engine):
    out = audit(str(LOG), Options(as_of=AS_OF, engine=engine))
    assert out.method.engine == engine
    assert found(out) == PLANTED
    reference = audit(str(LOG), Options(as_of=AS_OF, engine="python"))
    assert out.model_dump(exclude={"method": {"engine"}}) == reference.model_dump(exclude={"method": {"engine"}})


def test_a_large_log_goes_through_the_columnar_engine(monkeypatch):
    monkeypatch.setattr(audit_log, "COLUMNAR_FROM", 10)
    out = audited()
    assert out.method.engine == "duckdb" and found(out) == PLANTED


def test_the_details_of_each_finding(report):
    items = {(f.kind, i.id): i for f in report.findings for i in f.items}
    overdue = items["not_notified", "NN-01"]
    assert (overdue.deadline, overdue.days_late, overdue.codes) == (dt.date(2025, 1, 20), 70, ["1"])
    assert overdue.detail == "meets code 1; notify by 2025-01-20: 70 days overdue"
    assert items["not_notified", "NN-02-IN-TIME"].days_late == -8  # 31 March to notify_by 8 April
    assert items["not_notified", "NN-03-UNDATED"].deadline is None
    assert items["late_notification", "LN-01"].days_late == 1
    assert items["late_report", "LR-01"].detail == "report sent on 2024-09-24, 1 day after report_by 2024-09-23"
    assert items["late_report", "LR-02"].detail == ("report outstanding on 2025-03-31, 63 days after report_by "
                                                    "2025-01-27")
    assert items["codes_differ", "CD-01"].detail == "notified 1; the criteria meet 1, E1; not notified: E1"
    assert items["codes_differ", "CD-02-NOT-NOTIFIABLE"].detail == "notified 2.2; the criteria meet no code"
    wales = items["wrong_authority", "WA-01"]
    assert (wales.authority, wales.authority_notified) == ("Healthcare Inspectorate Wales (HIW)", "CQC")
    assert "the enforcing authority for England" in wales.detail
    assert "not an IR(ME)R enforcing authority" in items["wrong_authority", "WA-02"].detail
    assert items["undetermined", "UD-01"].missing == ["age", "intended_dose", "total_dose"]
    assert "total_dose needs a unit" in items["unreadable", "UR-01"].detail
    assert items["unreadable", "UR-02"].detail == "notified_on: '31/10/2024' is not a date (write YYYY-MM-DD)"
    theme = next(f for f in report.findings if f.kind == "possible_theme")
    assert theme.judgement and theme.count == 1
    group = theme.groups[0]
    assert group.key == {"modality": "diagnostic", "cause": "wrong detector selected"}  # the case of a cause folded
    assert (group.first, group.last, group.count) == (dt.date(2024, 10, 1), dt.date(2024, 12, 30), 3)


# ---------------------------------------------------------------- boundaries, table-driven

def only(*ids: str) -> list[dict[str, str]]:
    return [r for r in log_rows() if r["id"] in ids]


@pytest.mark.parametrize("as_of, days_late, text", [
    (dt.date(2025, 1, 19), -1, "still in time"),
    (dt.date(2025, 1, 20), 0, "still in time"),    # notify_by itself: the last day in time
    (dt.date(2025, 1, 21), 1, "1 day overdue"),
])
def test_not_notified_on_both_sides_of_notify_by(as_of, days_late, text):
    out = audited(only("NN-01"), as_of=as_of)
    item = out.findings[0].items[0]
    assert (item.id, item.days_late) == ("NN-01", days_late) and item.detail.endswith(text)


@pytest.mark.parametrize("as_of, outstanding", [
    (dt.date(2025, 1, 27), False),   # report_by: still in time
    (dt.date(2025, 1, 28), True),
])
def test_an_outstanding_report_on_both_sides_of_report_by(as_of, outstanding):
    out = audited(only("LR-02"), as_of=as_of)
    assert found(out) == ({"late_report": ["LR-02"]} if outstanding else {})


@pytest.mark.parametrize("options, themes", [
    ({}, [["TH-A1", "TH-A2", "TH-A3"]]),
    ({"theme_window": 89}, []),                                                  # 1 Oct to 30 Dec is 90 days
    ({"theme_window": 91}, [["NT-B1", "NT-B2", "NT-B3"], ["TH-A1", "TH-A2", "TH-A3"]]),  # 1 May to 31 Jul: 91
    # Two are enough: each pair of NT-B is within 90 days, so the three are one group (NT-B1 to NT-B3 is 91).
    ({"theme_min": 2}, [["NT-B1", "NT-B2", "NT-B3"], ["TH-A1", "TH-A2", "TH-A3"], ["NT-C1", "NT-C2"]]),
    ({"theme_min": 4}, []),
    ({"theme_by": ("cause",)}, [["TH-A1", "NT-C1", "NT-C2", "TH-A2", "TH-A3"]]),  # modality no longer counts
    ({"theme_by": ("modality", "cause", "site")}, []),                          # TH-A2 is at another site
])
def test_the_theme_window_and_key_are_options(options, themes):
    out = audited(**options)
    groups = [g.incidents for f in out.findings if f.kind == "possible_theme" for g in f.groups]
    assert sorted(groups) == sorted(themes)


def test_a_theme_key_that_is_not_a_column_is_refused():
    with pytest.raises(Exception, match="--theme-by ward: the log has no column ward"):
        audited(theme_by=("modality", "ward"))


def test_incidents_notified_under_m_are_not_a_possible_theme():
    rows = log_rows()
    for row in rows:
        if row["id"] == "TH-A2":
            row.update(notified_on="2024-11-20", notified_codes="M2.1", authority_notified="CQC")
    out = audited(rows)
    assert "possible_theme" not in found(out)  # two left: no theme; TH-A2 is now a code difference instead
    assert "TH-A2" in found(out)["codes_differ"]


# ---------------------------------------------------------------- the period

def test_the_period_and_the_previous_period(report):
    assert (report.period.start, report.period.end) == (dt.date(2024, 4, 1), AS_OF)
    assert (report.previous_period.start, report.previous_period.end) == (dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    method = report.method
    assert (method.rows, method.in_period, method.undated, method.in_previous_period, method.other) == (34, 27, 1, 4, 2)
    assert report.summary.audited == 28
    assert report.re_audit_on == dt.date(2025, 9, 30)


def test_a_period_of_its_own():
    out = audited(since=dt.date(2025, 1, 1))
    assert (out.previous_period.start, out.previous_period.end) == (dt.date(2024, 10, 1), dt.date(2024, 12, 31))
    assert found(out) == {"not_notified": PLANTED["not_notified"]}
    months = next(t for t in out.tables if t.name == "months")
    assert [(r.key, r.previous_key) for r in months.rows] == [("2025-01", "2024-10"), ("2025-02", "2024-11"),
                                                              ("2025-03", "2024-12")]


def test_a_period_that_ends_before_it_starts_is_refused():
    with pytest.raises(Exception, match="starts on 2025-06-01, after the audit date"):
        audited(since=dt.date(2025, 6, 1))


# ---------------------------------------------------------------- what the log lacks

def test_checks_need_their_columns():
    rows = [{k: v for k, v in r.items() if k not in ("report_sent_on", "notified_codes", "authority_notified")}
            for r in log_rows()]
    out = audited(rows)
    skipped = {c.kind: c.why_not for c in out.method.checks if not c.performed}
    assert skipped == {"late_report": "the log has no report_sent_on column",
                       "codes_differ": "the log has no notified_codes column",
                       "wrong_authority": "the log has no authority_notified column"}
    assert {m.kind for m in out.compliance} == set(KINDS) - set(skipped) - {"possible_theme"}
    assert "late_report" not in found(out)


def test_a_log_without_audit_columns_is_not_reported_as_never_notified():
    rows = [{k: v for k, v in r.items() if k in ("id", "discovered_on", "jurisdiction", "exposure", "modality",
                                                 "total_dose")} for r in log_rows()]
    out = audited(rows)
    checks = {c.kind: c for c in out.method.checks}
    assert not checks["not_notified"].performed
    assert checks["not_notified"].why_not == "the log has no notified_on or notified_codes or authority_notified column"
    assert not checks["possible_theme"].performed


def test_a_log_with_no_finding():
    rows = [r for r in log_rows() if r["id"].startswith(("OK-", "PREV-"))]
    out = audited(rows)
    assert out.findings == [] and out.actions == []
    assert all(m.met == m.of for m in out.compliance)
    assert "No findings: every check performed was met." in markdown(out)
    assert "No findings" in html(out)


def test_a_hostile_id_is_escaped_everywhere():
    rows = log_rows()
    bad = "<script>alert(1)</script> | *x* [y](z)"
    next(r for r in rows if r["id"] == "NN-01")["id"] = bad
    out = audited(rows)
    page = html(out)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = markdown(out)
    assert "\\<script>alert(1)\\</script> \\| \\*x\\* \\[y\\](z)" in text


# ---------------------------------------------------------------- property

@settings(max_examples=8)
@given(st.permutations(log_rows()))
def test_the_order_of_the_rows_does_not_change_the_findings(rows):
    out = audited(list(rows))
    assert {k: sorted(v) for k, v in found(out).items()} == {k: sorted(v) for k, v in PLANTED.items()}


@settings(max_examples=25)
@given(found_on=st.dates(dt.date(2024, 4, 1), dt.date(2024, 12, 31)), notify=st.integers(0, 40),
       report=st.integers(20, 120))
def test_late_exactly_when_after_the_deadline(found_on, notify, report):
    """Notified d days after discovery is late exactly when d > 14; the report, when r > 84 (12 weeks)."""
    row = {"id": "X", "jurisdiction": "Wales", "exposure": "accidental", "modality": "diagnostic",
           "discovered_on": found_on.isoformat(), "notified_on": (found_on + dt.timedelta(days=notify)).isoformat(),
           "notified_codes": "1", "authority_notified": "HIW",
           "report_sent_on": (found_on + dt.timedelta(days=report)).isoformat()}
    kinds = set(found(audited([row])))
    assert kinds == {k for k, late in (("late_notification", notify > 14), ("late_report", report > 84)) if late}


# ---------------------------------------------------------------- other formats and exports

@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_parquet_and_json_lines_logs(tmp_path, suffix):
    import pyarrow.parquet as pq
    rows = log_rows()
    path = tmp_path / f"log{suffix}"
    if suffix == ".parquet":
        table = as_table(rows)
        typed = table.set_column(table.column_names.index("discovered_on"), "discovered_on",
                                 table.column("discovered_on").cast(pa.date32()))
        pq.write_table(typed, path)
    else:
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                item = {k: v for k, v in row.items() if v}
                if "notified_codes" in item:
                    item["notified_codes"] = item["notified_codes"].split(";")  # a list in JSON
                if "age" in item:
                    item["age"] = int(item["age"])
                handle.write(json.dumps(item) + "\n")
    assert found(audit(str(path), Options(as_of=AS_OF))) == PLANTED


def test_an_export_mapped_by_a_mapping_file():
    out = audit(str(DATA / "export.csv"), Options(as_of=AS_OF, mapping=str(DATA / "export-map.toml")))
    assert found(out) == {"not_notified": ["X-3"], "late_notification": ["X-2"], "unreadable": ["X-7"],
                          "possible_theme": ["X-4", "X-5", "X-6"]}
    bad = next(i for f in out.findings for i in f.items if i.id == "X-7")
    assert bad.detail == "discovered_on: '31/02/2025' is not a date written %d/%m/%Y"  # no 3 March
    assert out.method.mapping.endswith("export-map.toml")
    authorities = next(t for t in out.tables if t.name == "authorities")
    assert [r.key for r in authorities.rows] == ["Care Quality Commission (CQC)", "Healthcare Inspectorate Wales (HIW)"]


MAP_ERRORS = [
    ('[columns]\nid = "Reference"\n', 2, 1, "the log has no column 'Reference'", "its columns are 'Ref', 'Date found'"),
    ('[columns]\nid = "Ref."\n', 2, 1, "the log has no column 'Ref.'", "did you mean 'Ref'?"),
    ('[columns]\ntotl_dose = "Dose (mSv)"\n', 2, 1, "totl_dose is not a name the audit reads", "did you mean total_dose?"),
    ('[units]\ntotal_dose = "Gy"\n', 2, 1, "total_dose is effective dose, not a unit of absorbed dose", None),
    ('[units]\nage = "mSv"\n', 2, 1, "[units] age=mSv", None),
    ('[values.jurisdiction]\nEng = "Engand"\n', 2, 1, "not a value of jurisdiction", "one of England,"),
    ('[values.age]\nx = "y"\n', 1, 1, "age is not a fact with named values", None),
    ('[dates]\nformat = "%d/%m"\n', 2, 1, "does not write a whole date", None),
    ('[dates]\nstyle = "uk"\n', 2, 1, "[dates] style: the only key is format", None),
    ('[colums]\nid = "Ref"\n', 1, 1, "unknown table [colums]", "the tables are [columns], [units], [values], [dates]"),
    ('[columns]\nid = \n', 2, 6, "not valid TOML", None),
    ('[columns]\n\n  "id" = 3\n', 3, 3, "give the export's column name as text", None),
]


@pytest.mark.parametrize("text, line, column, message, hint", MAP_ERRORS)
def test_mapping_file_errors_say_where(tmp_path, text, line, column, message, hint):
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["audit", str(DATA / "export.csv"), "--map", str(path), "--as-of", "2025-03-31"])
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert f"{path}:{line}:{column}: error: " in err and message in err, err
    assert "Traceback" not in err
    assert re.search(r"^\s+\d+ \| .*\n\s+\| +\^", err, re.M), err  # the line, and a caret under it
    if hint:
        assert f"hint: {hint}" in err


# ---------------------------------------------------------------- the guidance's words

def normalise(text: str) -> str:
    """As tests/test_traceability.py reads the source: no emphasis, links, escapes or <p>; folded spaces."""
    text = text.replace("**", "")
    text = re.sub(r"\[([^\]]*)\]\(#\)", r"\1", text)
    text = text.replace("\\(", "(").replace("\\)", ")")
    text = re.sub(r"</?p>", " ", text)
    return " ".join(text.split())


def source_text(standard) -> str:
    name = re.search(r"shared/guidance/([\w.-]+\.txt)", standard.source).group(1)
    return normalise((GUIDANCE / name).read_text(encoding="utf-8"))


def test_every_quote_is_verbatim_in_the_guidance_it_names(report):
    sources = {s.version: source_text(s) for s in report.standard}
    quotes = [q for f in report.findings for q in f.quotes]
    assert quotes
    for quote in quotes:
        assert normalise(quote.text) in sources[quote.criteria], quote


def test_the_guidance_words_the_criteria_files_lack_are_in_every_version():
    from evaluator.catalogue import versions
    from evaluator.load import load_criteria
    for info in versions():
        text = source_text(load_criteria(info.path).ast.header)
        for words in GUIDANCE_WORDS:
            assert normalise(words) in text, (info.version, words)
    ep17 = normalise((GUIDANCE / "dchft-ep17-clinical-audit-procedure.txt").read_text(encoding="utf-8"))
    assert EP17_REVIEW in ep17 and EP17_SECOND in ep17


# ---------------------------------------------------------------- the report's forms

def test_json_report_matches_its_published_schema(report):
    path = ROOT / "docs" / "schemas" / "audit.schema.json"
    text = json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == text, f"{path} is out of date (UPDATE_GOLDEN=1 to regenerate)"
    published = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(published)
    jsonschema.validate(json.loads(to_json(report)), published)


def test_json_golden(report):
    check_golden("audit/report.json", to_json(report).replace(str(LOG), "tests/data/audit/log.csv"))


def test_markdown_golden(report):
    check_golden("audit/report.md", markdown(report).replace(str(LOG), "tests/data/audit/log.csv"))


def test_markdown_layout_follows_the_clinical_audit_procedure(report):
    text = markdown(report)
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == ["1. The standard audited against", "2. Method", "3. Results", "4. Action plan", "5. Re-audit"]
    assert text.startswith("# Clinical audit: notification of significant accidental and unintended exposures\n")
    assert "| **Re-audit** | 30 September 2025 |" in text
    for table in markdown_tables(text):
        widths = {len(cells(row)) for row in table}
        assert len(widths) == 1, table  # every row of a table has as many cells as its header


def markdown_tables(text: str) -> list[list[str]]:
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


class Page(HTMLParser):
    """Every element closed in order; the tags, ids, attributes and headings, for the tests."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: dict[str, int] = {}
        self.ids: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs += [(tag, k, v) for k, v in attrs]
        self.ids += [v for k, v in attrs if k == "id"]
        if tag in ("h1", "h2"):
            self._heading = []
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs += [(tag, k, v) for k, v in attrs]
        self.ids += [v for k, v in attrs if k == "id"]

    def handle_endtag(self, tag):
        if tag in ("h1", "h2") and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            return
        self.stack.pop()

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def parsed(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def test_html_is_well_formed_and_self_contained(report):
    page = html(report)
    tree = parsed(page)
    assert tree.problems == [] and tree.stack == []
    assert tree.headings == ["Clinical audit: notification of significant accidental and unintended exposures",
                             "1. The standard audited against", "2. Method", "3. Results", "4. Action plan",
                             "5. Re-audit"]
    assert len(tree.ids) == len(set(tree.ids)), "an id is used twice"
    assert not re.search(r"https?://(?!www\.w3\.org/)", page)  # the SVG namespaces are names, not fetched
    assert "script" not in tree.tags and "link" not in tree.tags and "img" not in tree.tags
    assert all(v.startswith("#") for tag, k, v in tree.attrs if k in ("href", "xlink:href") and tag == "a")
    assert "@import" not in page


def test_html_charts_are_inline_svg_drawn_by_matplotlib(report):
    page = html(report)
    assert page.count("<svg ") == 3
    for name in ("findings", "modalities", "months"):
        assert f'id="{name}-figure_1"' in page  # each chart's ids prefixed, so that they are unique
    assert page.count('role="img" aria-label="Bar chart') == 2 and page.count('aria-label="Line chart') == 1
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_html_lists_each_finding_with_its_quotes_and_the_action_plan(report):
    page = html(report)
    for kind in PLANTED:
        assert f'id="finding-{kind}"' in page and f'href="#finding-{kind}"' in page
    assert "<blockquote><p>A theme has been identified over a number of incidents.</p>" in page
    assert "for judgement, not asserted" in page
    assert page.count("<tr><td class=\"number\">") >= len(PLANTED)


def test_html_in_a_headless_browser(tmp_path):
    """The README's example, drawn by chromium; its screenshot is docs/images/audit-report.png."""
    example = audit_table(read_log(ROOT / "examples" / "incident-log.csv"), Options(as_of=AS_OF),
                          source="examples/incident-log.csv")
    width, height = 1280, 2400
    data = screenshot(html(example), tmp_path, width, height)
    colours = page_colours(data, width, height)
    # The charts are drawn: this period's bars (#0969da), the findings' (#cf222e), the theme's (#9a6700).
    assert {b"\x09\x69\xda", b"\xcf\x22\x2e", b"\x9a\x67\x00"} <= colours
    if os.environ.get("UPDATE_GOLDEN"):
        (ROOT / "docs" / "images" / "audit-report.png").write_bytes(data)


# ---------------------------------------------------------------- the command

def test_cli_writes_each_format(tmp_path):
    runner = CliRunner()
    for name in ("report.html", "report.md", "report.json"):
        target = tmp_path / name
        result = runner.invoke(main, ["audit", str(LOG), "--as-of", "2025-03-31", "-o", str(target)])
        assert result.exit_code == 1, result.output  # findings
        assert target.exists() and target.stat().st_size > 2000
        assert result.stderr.startswith("irmer: audited 28 incidents of ")
        assert "3 not notified, 1 late notification, 2 late report" in result.stderr
    assert json.loads((tmp_path / "report.json").read_text())["audited_on"] == "2025-03-31"


def test_cli_exit_status_0_without_findings(tmp_path):
    rows = [r for r in log_rows() if r["id"].startswith("OK-")]
    path = tmp_path / "clean.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(main, ["audit", str(path), "--as-of", "2025-03-31", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["findings"] == []


@pytest.mark.parametrize("args, message", [
    (["no-such-log.csv"], "irmer audit: no such file: no-such-log.csv"),
    ([str(LOG), "-o", "report.txt"], "the report's format is chosen by its extension"),
    ([str(LOG), "--since", "2026-01-01", "--as-of", "2025-03-31"], "after the audit date"),
    ([str(LOG), "--theme-by", "ward"], "--theme-by ward: the log has no column ward"),
    ([str(LOG), "--theme-by", ","], "--theme-by names at least one column"),
    ([str(LOG), "--as-of", "31/03/2025"], "'31/03/2025' does not match the format '%Y-%m-%d'"),
    ([str(LOG), "--criteria", "1999"], "no criteria `1999`"),
    ([str(LOG), "--theme-min", "1"], "1 is not in the range x>=2"),
])
def test_cli_refuses_what_it_cannot_audit(args, message):
    result = CliRunner().invoke(main, ["audit", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr


def test_columns_named_like_the_audits_own_are_kept_apart():
    rows = log_rows()
    for n, row in enumerate(rows):
        row.update(_row="x", period="p", scope="s", day="d", problem="q", message="m", notified=str(n))
    assert found(audited(rows)) == PLANTED


def test_a_broken_json_line_is_a_record_that_cannot_be_read(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "A", "jurisdiction": "Wales", "exposure": "accidental", "discovered_on": "2025-01-06"}\n'
                    '{"id": "B", broken\n'
                    '{"id": "C", "jurisdiction": "Wales", "exposure": "accidental", "discovered_on": "2025-01-06", '
                    '"notified_on": "2025-01-07"}\n', encoding="utf-8")
    out = audit(str(path), Options(as_of=AS_OF))
    assert found(out) == {"not_notified": ["A"], "unreadable": ["row 2"]}
    assert out.findings[1].items[0].detail.startswith("incident: line 2: ")


def test_an_empty_log_has_nothing_to_find(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("id,jurisdiction,notified_on\n", encoding="utf-8")
    out = audit(str(path), Options(as_of=AS_OF))
    assert (out.summary.audited, out.findings, out.standard) == (0, [], [])
    assert parsed(html(out)).problems == []


def test_a_bad_log_is_an_error_not_a_traceback(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("id,codes\nA,1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["audit", str(path)])
    assert result.exit_code == 2 and "the log already has a column named codes" in result.stderr
    with pytest.raises(LogError):
        audit(str(path), Options(as_of=AS_OF))


def test_the_example_in_the_readme_runs(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "irmer audit examples/incident-log.csv --as-of 2025-03-31 -o report.html" in readme
    target = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["audit", str(ROOT / "examples" / "incident-log.csv"), "--as-of",
                                       "2025-03-31", "-o", str(target)])
    assert result.exit_code == 1, result.output
    assert "Possible themes, for judgement" in target.read_text(encoding="utf-8")
