"""The three renderings of `irmer diff`: text, markdown and one HTML page.

The goldens come from the fixed report in tests/data/diff-2023-2024.json, so
they do not move when z3 picks other witnesses. The content tests say what
must stay true whatever the layout: the verdicts of codes 3, 4.2a and M, the
redlines, escaping, a well-formed self-contained page, and a page a browser
draws (the headless-browser test).
"""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from evaluator.pages import stylesheet
from evaluator.tools.diff import Change, CodeChange, DiffReport, NoWitness, RedlinePart, SectionChange, redline
from evaluator.tools.impact import Group, Refused
from evaluator.tools.render_diff import html, markdown, text

from browser import page_colours, screenshot
from conftest import ROOT, check_golden

FIXTURE = ROOT / "tests" / "data" / "diff-2023-2024.json"


@pytest.fixture(scope="module")
def report() -> DiffReport:
    return DiffReport.model_validate_json(FIXTURE.read_text(encoding="utf-8"))


def plain(markup: str) -> str:
    """Markup as evaluator/cli.py's console() prints it when the output is not a terminal."""
    console = Console(file=io.StringIO(), force_terminal=False, width=200, highlight=False, soft_wrap=True,
                      emoji=False)
    console.print(markup)
    return console.file.getvalue()


def coloured(markup: str) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=200,
                      highlight=False, soft_wrap=True, emoji=False)
    console.print(markup)
    return console.file.getvalue()


def md_html(source: str) -> str:
    """Markdown as GitHub draws it (tables and ~~strikethrough~~)."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(source)


def md_tables(source: str) -> list[list[str]]:
    """Each table of a markdown text, as its lines."""
    tables, current = [], []
    for line in source.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def cells(row: str) -> list[str]:
    """The cells of a markdown table row, splitting on pipes that are not escaped."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


class Balance(HTMLParser):
    """Checks that every element is closed, in order, and collects what the tests look at."""

    VOID = {"meta", "col", "br", "hr", "img", "input", "link", "wbr", "source", "area", "base"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: dict[str, int] = {}
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs += [(tag, k, v) for k, v in attrs]
        if tag == "title":
            self._in_title = True
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self._in_title:
            self.title += data


def parse(page: str) -> Balance:
    parser = Balance()
    parser.feed(page)
    parser.close()
    return parser


def markup_of(page: str) -> str:
    """A page with the stylesheet every page carries taken out: a golden pins the page's markup, and does not
    change when another page's rules do (tests/test_pages.py checks the stylesheet, the browser tests its look)."""
    assert page.count(stylesheet()) == 1
    return page.replace(stylesheet(), "/* evaluator/pages/static/style.css */")


# ----------------------------------------------------------------- goldens

def test_text_golden(report):
    check_golden("diff/report.txt", plain(text(report)))


def test_markdown_golden(report):
    check_golden("diff/report.md", markdown(report))


def test_html_golden(report):
    check_golden("diff/report.html", markup_of(html(report)))


# -------------------------------------------------------------------- text

def test_text_summary_and_unchanged_codes(report):
    out = plain(text(report))
    lines = out.splitlines()
    assert lines[0] == "irmer diff  irmer-2023-04-19 (19 April 2023) -> irmer-2024-08-28 (28 August 2024)"
    assert lines[1].startswith("9 of 23 codes changed (6 narrowed, 2 broadened, 1 equivalent).")
    assert "Incidents can flip" in lines[1]
    assert "unchanged: 4.2b, 4.2c, 5, 6, 7, 8.1, 8.2, 9.1, 9.2, 10.1, 10.2, E, V, C" in lines
    # Unchanged codes get no section of their own; changed codes do, with their verdicts.
    assert not any(line.startswith("5  ") for line in lines)
    for head in ("3  Interventional/cardiology  changed  broadened",
                 "4.2a  Radiotherapy treatment verification images  changed  broadened",
                 "1  All modalities including therapy  changed  equivalent  wording only"):
        assert head in lines
    assert any(line.startswith("M  Multiple patients") and line.endswith("changed  narrowed") for line in lines)
    assert "Notifiable under any code  both" in lines


def test_text_redlines_survive_without_colour(report):
    out = plain(text(report))
    assert "Set-up error {+and/or hardware or software failure+} leads to" in out
    assert "[-Note: In" in out
    assert "(plus relevant suffix code 1 to [-9)-]{+10)+}" in out
    # A rewritten text is shown whole, old then new.
    assert re.search(r"criteria rewritten\n\s+was  Where there has been a procedural failure", out)
    assert re.search(r"\n\s+now  Any unintended exposure resulting in observable tissue", out)


def test_text_witnesses_side_by_side(report):
    out = plain(text(report))
    assert ("irmer-2023-04-19: not notifiable (no code)  ->  irmer-2024-08-28: NOTIFIABLE (code 3)" in out)
    assert "incident jurisdiction England · exposure unintended · modality interventional" in out
    assert "tissue_reaction transient_erythema" in out


def test_text_population_and_assumptions(report):
    out = plain(text(report))
    assert "Impact on examples/incidents.json  7 incidents, 7 evaluated, 0 refused" in out
    assert re.search(r"undetermined -> notifiable\s+1\s+IR-0007", out)
    assert re.search(r"\(none\) -> 3\s+1\s+IR-0007", out)
    assert "no change: diagnostic (3), nuclear_medicine (1)" in out
    assert "Assumptions:" in out and "z3 SMT solver" in out


def test_text_lines_are_reasonable(report):
    # Long texts of the guidance are wrapped too; only a long title or proof may pass 120 characters.
    long = [line for line in plain(text(report)).splitlines() if len(line) > 130]
    assert long == [], long


def test_text_colours(report):
    markup = text(report)
    for verdict, colour in (("narrowed", "yellow"), ("broadened", "red"), ("both", "magenta"),
                            ("equivalent", "green")):
        if verdict == "both":  # no code of the fixture is both ways; the overall verdict is
            assert "[bold]Notifiable under any code[/]  [bold magenta]both[/]" in markup
            continue
        assert f"[bold {colour}]{verdict}[/]" in markup
    assert "[red strike][-" in markup and "[green]{+" in markup
    ansi = coloured(markup)
    assert re.search(r"\x1b\[(?:[0-9]+;)*9(?:;[0-9]+)*m\[-", ansi)  # strike-through reaches the terminal


# ---------------------------------------------------------------- markdown

def test_markdown_summary_table(report):
    out = markdown(report)
    rows = {cells(line)[0]: cells(line) for table in md_tables(out) for line in table
            if len(cells(line)) == 4 and cells(line)[0] not in ("Code", "---")}
    assert rows["3"] == ["3", "Interventional/cardiology", "changed", "**broadened**"]
    assert rows["4.2a"] == ["4.2a", "Radiotherapy treatment verification images", "changed", "**broadened**"]
    assert rows["M"][2:] == ["changed", "**narrowed**"]
    assert rows["5"][2:] == ["unchanged", "equivalent"]
    assert "### 3 — Interventional/cardiology" in out
    assert "### 4.2a — Radiotherapy treatment verification images" in out
    assert "### M — Multiple patients exposed" in out


def test_markdown_redlines(report):
    out = markdown(report)
    assert "Set-up error **and/or hardware or software failure** leads to" in out
    assert "~~Note: In England, Wales and Northern Ireland" in out
    assert "(plus relevant suffix code 1 to ~~9\\)~~**10\\)**" in out  # "9)" escaped: never an ordered list
    drawn = md_html(out)
    assert "<s>Note: In England" in drawn or "<del>Note: In England" in drawn
    assert "<strong>and/or hardware or software failure</strong>" in drawn
    assert re.search(r"<(s|del)>9\)</\1><strong>10\)</strong>", drawn)


def test_markdown_tables_are_well_formed(report):
    out = markdown(report)
    tables = md_tables(out)
    assert len(tables) > 20
    for table in tables:
        widths = {len(cells(line)) for line in table}
        assert len(widths) == 1, table
        assert re.fullmatch(r"\|(-+|-+:|:-+|-+-:)(\|(-+|-+:|:-+|-+-:))*\|", table[1].replace("--:", "-:")), table
    # Every witness has its results side by side.
    assert out.count("|  | Old: irmer-2023-04-19 | New: irmer-2024-08-28 |") == 10
    assert md_html(out).count("<table>") == len(tables)


def test_markdown_sections_population_assumptions(report):
    out = markdown(report)
    assert "### Definition `child`: changed (wording only)" in out
    assert "### General exclusion `repeats_without_error`: added" in out
    assert "to **the** Health Facilities ~~Scotland.~~**Scotland Incident Reporting" in out
    assert "## Impact on `examples/incidents.json`" in out
    assert "| undetermined | notifiable | 1 | IR-0007 |" in out
    assert "| interventional | 1 | undetermined → notifiable: 1 (IR-0007) | (none) → 3: 1 (IR-0007) |" in out
    assert "## Assumptions" in out and "1. Verdicts are about every complete incident" in out


# -------------------------------------------------------------------- html

def test_html_is_well_formed(report):
    page = html(report)
    assert page.lower().startswith("<!doctype html>\n<html lang=\"en\">")
    parsed = parse(page)
    assert parsed.problems == []
    assert parsed.stack == []
    assert parsed.title == "irmer diff: irmer-2023-04-19 → irmer-2024-08-28"
    for tag in ("html", "head", "body", "main", "header", "footer", "h1", "h2", "h3", "table", "del", "ins"):
        assert parsed.tags.get(tag), tag
    assert parsed.tags["h1"] == 1
    # Every table has column or row headers.
    assert page.count("<table") == page.count("<thead>")


def test_html_is_self_contained(report):
    page = html(report)
    parsed = parse(page)
    assert not re.search(r"https?://", page)
    assert "script" not in parsed.tags and "link" not in parsed.tags and "iframe" not in parsed.tags
    assert not [a for a in parsed.attrs if a[1] in ("src", "srcset")]
    assert all(v.startswith("#") for tag, k, v in parsed.attrs if k == "href")
    assert "@import" not in page and "url(" not in page


def test_html_side_by_side(report):
    page = html(report)
    # Each changed code: its verdict badge, and old and new columns.
    for code, verdict in (("3", "broadened"), ("4-2a", "broadened"), ("M", "narrowed")):
        section = page.split(f'<section class="code" id="code-{code}"', 1)[1].split("</section>", 1)[0]
        assert f'<span class="badge {verdict}">{verdict}</span>' in section
        assert "<th scope=\"col\">Old: irmer-2023-04-19</th><th scope=\"col\">New: irmer-2024-08-28</th>" in section
    assert "Set-up error<ins> and/or hardware or software failure</ins> leads" in page
    assert "(plus relevant suffix code 1 to <del>9)</del></td>" in page
    assert "(plus relevant suffix code 1 to <ins>10)</ins></td>" in page
    assert '<del class="whole">Where there has been a procedural failure' in page
    assert "<td><code>tissue_reaction is other</code></td><td><code>tissue_reaction is not none</code></td>" in page
    assert page.count('<div class="witness ') == 10
    assert "Unchanged</strong> (the same wording and rule, proved equivalent): 4.2b, 4.2c, 5, 6, 7, 8.1" in page


# ---------------------------------------------------------------- escaping

@pytest.fixture(scope="module")
def hostile(report) -> DiffReport:
    """The report with text that means something in rich markup, markdown and HTML."""
    bad = "<script>alert('x')</script> [bold]not bold[/] a | b *c* ~~d~~ `e` _f_ & [link]"
    out = report.model_copy(deep=True)
    code = next(c for c in out.codes if c.code == "3")
    code.title = bad
    code.says = redline("Old words " + bad, "New words " + bad + " more")
    code.changes.append(Change(what="threshold", message=f"threshold: {bad}", old="a < 1", new="a <= 1"))
    code.witnesses[0].incident["note|x"] = bad
    code.witnesses[0].boundary.append("total_dose 25 mSv is exactly the threshold of `total_dose >= 25 mSv | x`")
    out.population.refused.append(Refused(row=9, id="<b>", field="age", reason=bad))
    return out


def test_text_escapes_markup(hostile):
    out = plain(text(hostile))
    assert "[bold]not bold[/]" in out
    assert "<script>alert('x')</script>" in out


def test_markdown_escapes(hostile):
    out = markdown(hostile)
    for table in md_tables(out):
        assert len({len(cells(line)) for line in table}) == 1, table
    drawn = md_html(out)
    assert "<script>" not in drawn
    assert "<code>total_dose &gt;= 25 mSv | x</code>" in drawn


def test_html_escapes(hostile):
    page = html(hostile)
    parsed = parse(page)
    assert parsed.problems == [] and parsed.stack == []
    assert "script" not in parsed.tags and "b" not in parsed.tags
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page  # as Jinja2's autoescape writes it


# ------------------------------------------------------------- other shapes

def test_a_report_with_nothing_changed(report):
    quiet = report.model_copy(deep=True)
    for code in quiet.codes:
        code.status, code.verdict, code.changes, code.witnesses = "unchanged", "equivalent", [], []
        code.category = code.says = None
    quiet.notifiable.verdict, quiet.notifiable.witnesses = "equivalent", []
    quiet.sections, quiet.population, quiet.can_flip = [], None, False
    out = plain(text(quiet))
    assert "None of the 23 codes changed. No incident can flip" in out
    assert "Impact on" not in out
    assert "None of the 23 codes changed." in markdown(quiet)
    assert "## Changed codes" not in markdown(quiet)
    parsed = parse(html(quiet))
    assert parsed.problems == [] and parsed.stack == []


def test_added_removed_and_renamed_codes(report):
    other = report.model_copy(deep=True)
    other.codes.append(CodeChange(code="11", status="added", title="A new row", verdict="broadened",
                                  proof="broadened: ..."))
    other.codes.append(CodeChange(code="9.3", status="removed", title="An old row", verdict="narrowed"))
    other.codes.append(CodeChange(code="9.2", old_code="9.3", status="changed", title="Renamed", verdict="equivalent",
                                  changes=[Change(what="scope", message="modalities: now also x", old="a",
                                                  new="a, x")]))
    other.sections.append(SectionChange(section="deadline", name="notify_by", status="removed"))
    out = plain(text(other))
    assert "11  A new row  added  broadened" in out
    assert "9.3  An old row  removed  narrowed" in out
    assert "9.2 (was 9.3)  Renamed  changed  equivalent" in out
    assert "was  a" in out and "now  a, x" in out
    assert "deadline notify_by  removed" in out
    md = markdown(other)
    assert "| 9.2 (was 9.3) | Renamed | changed | **equivalent** |" in md
    assert "(was `a`; now `a, x`)" in md
    page = html(other)
    parsed = parse(page)
    assert parsed.problems == [] and parsed.stack == []
    assert '<section class="code" id="code-11"' in page and "(not in this version)" in page


def test_redline_without_old_or_new_text(report):
    other = report.model_copy(deep=True)
    code = next(c for c in other.codes if c.code == "2.1")
    code.says = redline("", "Brand new words.")
    code.category = redline("Old category.", "")
    out = plain(text(other))
    assert "new text  Brand new words." in out
    assert "category removed  Old category." in out
    md = markdown(other)
    assert "**Criteria** (new text): **Brand new words.**" in md
    assert "**Category** (removed): ~~Old category.~~" in md


def test_redline_parts_are_all_shown(report):
    # Whatever a redline holds, every word of it reaches each output once.
    line = redline("alpha beta gamma delta epsilon", "alpha BETA gamma DELTA epsilon zeta")
    assert [p.op for p in line.parts].count("removed") == 2
    other = report.model_copy(deep=True)
    code = next(c for c in other.codes if c.code == "2.1")
    code.says = line
    out = plain(text(other))
    assert "alpha [-beta-]{+BETA+} gamma [-delta-]{+DELTA+} epsilon {+zeta+}" in out
    assert "alpha ~~beta~~**BETA** gamma ~~delta~~**DELTA** epsilon **zeta**" in markdown(other)
    page = html(other)
    assert "<td>alpha <del>beta</del> gamma <del>delta</del> epsilon</td>" in page
    assert "<td>alpha <ins>BETA</ins> gamma <ins>DELTA</ins> epsilon<ins> zeta</ins></td>" in page
    assert RedlinePart(op="same", text="alpha ") in line.parts


def test_the_live_report_renders(diff_2023_2024):
    # Whatever witnesses z3 picks today, the three outputs render them.
    live = diff_2023_2024
    assert "4.2a  Radiotherapy treatment verification images  changed  broadened" in plain(text(live))
    assert "| 4.2a | Radiotherapy treatment verification images | changed | **broadened** |" in markdown(live)
    parsed = parse(html(live))
    assert parsed.problems == [] and parsed.stack == []


# ----------------------------------------------------------------- browser

def test_html_in_a_headless_browser(report, tmp_path):
    data = screenshot(html(report), tmp_path, 1280, 2000)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    colours = page_colours(data, 1280, 2000)
    # The redline colours are there: removed text on pink (#ffebe9) near the top, in code 1.
    assert b"\xff\xeb\xe9" in colours


# ------------------------------------------------- what a reader might misread

def test_a_direction_without_a_witness_says_why(report):
    """A direction proved but shown without a witness keeps its proof and says, in every output, why."""
    out = report.model_copy(deep=True)
    code = next(c for c in out.codes if c.code == "4.2a")
    code.witnesses = []
    reason = "z3 proves such incidents exist, but none it found could be written with exact values that the " \
             "evaluator confirms; the verdict above stands on the proof alone"
    code.no_witness = [NoWitness(direction="broadened", reason=reason)]
    shown = plain(text(out))
    block = shown[shown.index("4.2a  Radiotherapy"):shown.index("\n\n", shown.index("4.2a  Radiotherapy"))]
    words = " ".join(block.split())
    assert "proof broadened: some incidents" in words and "witness broadened none shown why z3 proves" in words
    assert words.endswith("the verdict above stands on the proof alone")
    assert f"**No witness shown, broadened:** {reason}." in markdown(out)
    page = html(out)
    assert parse(page).problems == []
    assert "No witness shown: <span class=\"badge broadened\">broadened</span>" in page and reason in page


def test_groups_say_an_incident_can_sit_in_several(report):
    """The groups' counts add up to more than the incidents when one is in two groups: every output says so."""
    out = report.model_copy(deep=True)
    population = out.population
    population.by_modality.append(Group(key="radiotherapy", count=1))  # one incident of two modalities
    population.in_several_modalities = 1
    total = sum(g.count for g in population.by_modality)
    assert total == population.evaluated + 1
    said = (f"an incident with several modalities is counted under each: 1 incident here, so the groups count "
            f"{total} for {population.evaluated} incidents")
    assert f"by modality  ({said})" in plain(text(out))
    assert said[0].upper() + said[1:] + "." in markdown(out)
    assert f"By modality: {said}." in html(out)
    none = "an incident notifiable under several codes in the old version is counted under each; none is here"
    assert none in plain(text(out)) and none[0].upper() + none[1:] in markdown(out) and none in html(out)


def test_a_tables_words_and_a_change_through_a_definition(report):
    """A table's own words (a section of its own) and a code changed through what it reads reach every output."""
    out = report.model_copy(deep=True)
    out.sections.insert(0, SectionChange(
        section="table", name="Unintended exposure", status="changed",
        changes=[Change(what="note", message="note reworded", old="Our old note.", new="Our new note.")],
        says=redline("All modalities including nuclear medicine", "All modalities including nuclear medicine therapy")))
    code = next(c for c in out.codes if c.code == "2.1")
    code.changes.append(Change(what="through", message="changes through the definition `child`",
                               old="age < 18 years", new="age < 17 years"))
    shown = plain(text(out))
    assert "table Unintended exposure  changed" in shown
    assert "All modalities including nuclear medicine {+therapy+}" in shown
    assert "Our [-old-]{+new+} note." in shown
    assert "changes through the definition `child`" in shown and "now  age < 17 years" in shown
    md = markdown(out)
    assert "### Table `Unintended exposure`: changed" in md
    assert "All modalities including nuclear medicine **therapy**" in md
    assert "- changes through the definition `child` (was `age < 18 years`; now `age < 17 years`)" in md.replace(
        "\\`", "`")
    page = html(out)
    assert parse(page).problems == []
    assert "Unintended exposure" in page and "<ins>therapy</ins>" in page.replace("<ins> therapy</ins>",
                                                                                  "<ins>therapy</ins>")
    assert "changes through the definition" in page
