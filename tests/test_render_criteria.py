"""`irmer render`: a criteria file as the regulator's table, each row with its rule and examples.

The goldens pin the whole page (HTML and markdown) of both shipped versions,
the HTML without the stylesheet all the pages share.
The content tests say what must stay true whatever the layout: every code and
every line of the regulator's words is on the page, verbatim; every
interpretation is flagged and links to the heading that explains it; every
example is run and marked; the page is self-contained; a file that does not
check gives a located error and exit status 1; and a browser draws the page.
The page comes from evaluator/pages/templates/criteria.html, so text is escaped
as Jinja2's autoescape escapes it (markupsafe).
"""

from __future__ import annotations

import html as _html
import re

import pytest
from markupsafe import escape

from evaluator.language import ast
from evaluator.load import compile_text
from evaluator.language.printer import expression
from evaluator.tools.render_criteria import build, github_anchor, html, markdown
from evaluator.resources import criteria_dir

from conftest import ROOT, check_golden
from browser import page_colours, screenshot
from test_render_diff import cells, markup_of, md_html, md_tables, parse

DOCS = ROOT / "docs" / "interpretations.md"


def stem(guidance) -> str:
    return guidance.version.removeprefix("irmer-")


@pytest.fixture(scope="module")
def pages(guidance):
    return html(guidance), markdown(guidance)


def regulator_words(criteria: ast.Criteria) -> list[str]:
    """Every `says` line of a file, the categories, and the advice texts: the regulator's words."""
    words = [node.text for node in criteria.walk() if isinstance(node, ast.Text)]
    words += [text.text for advice in criteria.advice for text in advice.texts]
    return [w for w in dict.fromkeys(words) if w.strip()]


def interpretations(criteria: ast.Criteria) -> list[ast.Interpretation]:
    return [node for node in criteria.walk() if isinstance(node, ast.Interpretation)]


def text_of(page: str) -> str:
    """The text a reader sees, white space folded."""
    return " ".join("".join(parse(page).text).split())


def escaped(text: str) -> str:
    """Text as the page's template writes it."""
    return str(escape(text))


def row_html(page: str, anchor: str) -> str:
    """A row of the HTML page, its words and everything beneath it."""
    return re.split(r"</div>\s*</td>\s*</tr>\s*</tbody>", page.split(f'id="{anchor}"', 1)[1], maxsplit=1)[0]


def with_source(guidance, old: str, new: str):
    """The guidance compiled from its source with one edit."""
    assert old in guidance.source, old
    return compile_text(guidance.source.replace(old, new, 1), guidance.name, criteria_dir())


# ----------------------------------------------------------------- goldens

def test_html_golden(guidance, pages):
    check_golden(f"render/criteria-{stem(guidance)}.html", markup_of(pages[0]))


def test_markdown_golden(guidance, pages):
    check_golden(f"render/criteria-{stem(guidance)}.md", pages[1])


# -------------------------------------------------------------------- html

def test_html_is_well_formed_and_accessible(guidance, pages):
    page = pages[0]
    assert page.lower().startswith('<!doctype html>\n<html lang="en">')
    parsed = parse(page)
    assert parsed.problems == [] and parsed.stack == []
    assert parsed.title == f"{guidance.header.title} ({guidance.version})"
    assert parsed.tags["h1"] == 1
    for tag in ("header", "main", "footer", "nav", "h2", "h3", "table", "caption", "thead"):
        assert parsed.tags.get(tag), tag
    # Every table has column headers, and every header cell says what it heads.
    assert page.count("<table") == page.count("<thead>")
    assert all(v in ("col", "row") for tag, k, v in parsed.attrs if k == "scope")
    assert not re.search(r"<th(?=[\s>])(?![^>]*scope=)[^>]*>", page)
    # Anchors are unique.
    ids = [v for tag, k, v in parsed.attrs if k == "id"]
    assert len(ids) == len(set(ids))
    # In-page links land on something.
    for tag, k, v in parsed.attrs:
        if k == "href" and v.startswith("#"):
            assert v[1:] in ids, v


def test_html_is_self_contained(pages):
    page = pages[0]
    parsed = parse(page)
    assert not re.search(r"https?://", page)
    for tag in ("script", "link", "iframe", "img", "object", "embed"):
        assert tag not in parsed.tags, tag
    assert not [a for a in parsed.attrs if a[1] in ("src", "srcset") or a[1].startswith("on")]
    assert all(re.fullmatch(r"#[\w-]+|docs/interpretations\.md(#[\w-]+)?", v)
               for tag, k, v in parsed.attrs if k == "href")
    assert "@import" not in page and "url(" not in page


def test_html_is_laid_out_like_the_guidance_table(guidance, pages):
    page = pages[0]
    head = ('<thead><tr><th scope="col">Notification code</th><th scope="col">Exposure category</th>'
            '<th scope="col">Criteria for notification</th></tr></thead>')
    assert page.count(head) == len(guidance.ast.tables)
    # The tables in the guidance's order, each under its heading.
    positions = [page.index(f">{escaped(t.title)}</h3>") for t in guidance.ast.tables]
    assert positions == sorted(positions)
    for key in ("Version", "Publisher", "Published", "In force", "Supersedes", "Source"):
        assert f"<dt>{key}</dt>" in page
    assert f"<dd>{guidance.version}</dd>" in page
    # Then the other sections, in order.
    order = ["Notification codes, categories and criteria", "Complementary codes", "General exclusions",
             "Definitions", "Deadlines", "Enforcing authorities", "Advice"]
    found = [page.index(f'-h">{title}</h2>') for title in order if f'-h">{title}</h2>' in page]
    assert found == sorted(found) and len(found) >= 6


def test_every_code_appears(guidance, pages):
    page, md = pages
    for row in guidance.ast.rows:
        label = f' <span class="row-label">({escaped(row.label)})</span>' if row.label else ""
        assert f'<span class="code">{row.code}</span>{label}' in page, row.name
        assert f"#### {row.name}" in md, row.name
    for item in guidance.ast.complementary:
        assert f'<th scope="row" id="code-{item.code.lower()}"><span class="code">{item.code}</span>' in page
        assert f"### {item.code}" in md


def test_every_line_of_the_regulators_words_appears_verbatim(guidance, pages):
    page, md = pages
    words = regulator_words(guidance.ast)
    assert len(words) > 40
    for text in words:
        assert escaped(text) in page, text
    drawn = text_of(md_html(md))
    for text in words:
        assert " ".join(text.split()) in drawn, text


def test_each_row_says_one_paragraph_per_line(g2024):
    page = html(g2024)
    row = next(r for r in g2024.ast.rows if r.code == "4.2a")
    cell = "".join(f'<p class="says">{escaped(t.text)}</p>' for t in row.says)
    assert f'<td class="criteria">{cell}</td>' in page
    assert len(row.says) == 2


def test_every_interpretation_is_flagged_and_linked(guidance, pages):
    page, md = pages
    anchors = {github_anchor(line.lstrip("#")) for line in DOCS.read_text(encoding="utf-8").splitlines()
               if line.startswith("#")}
    found = interpretations(guidance.ast)
    assert found
    for item in found:
        match = re.search(rf'<aside class="interp" id="[^"]*-{item.id}"[^>]*>.*?</aside>', page, re.S)
        assert match, item.id
        aside = match.group(0)
        assert "⚑" in aside and "Interpretation" in aside
        assert " ".join(item.text.replace("`", "").split()) in text_of(aside)
        link = re.search(r'href="docs/interpretations\.md#([^"]+)"', aside)
        assert link and link.group(1) in anchors, (item.id, link and link.group(1))
        assert f"[`{item.id}`](docs/interpretations.md#{link.group(1)})" in md
    # The code of a row with an interpretation carries the flag too.
    flagged = [r for r in guidance.ast.rows if r.interpretations]
    assert page.count('class="flag-mark"') == len(flagged) + sum(
        1 for c in guidance.ast.complementary if c.interpretations)


def test_rows_show_their_rule_as_the_language_writes_it(g2024):
    page = html(g2024)
    section = row_html(page, "code-8-2")
    rule = re.search(r'<pre class="rule"><code>(.*?)</code></pre>', section, re.S).group(1)
    assert _html.unescape(rule).splitlines() == [
        "exposure   unintended  # from the table",
        "modalities radiotherapy, nuclear_medicine_therapy",
        "band       ptv_delivered_dose < ptv_intended_dose",
        "when       ptv_delivered_dose <= 0.9 times ptv_intended_dose",
        "unless     geographical_miss is not none"]
    # A long `or` is broken before each operand, as the files write it.
    section = row_html(page, "code-1-england-only")
    assert ("when       (adult and total_dose &gt;= 3 mSv)\n        or (child and total_dose &gt;= 1 mSv)"
            in section)
    assert 'in         England' in section
    # A row the general exclusion covers shows it; one it does not, does not.
    two = row_html(page, "code-2-2")
    assert "repeats_without_error</code></a> applies" in two
    assert "when not error_involved and exposure is unintended" in two
    three = row_html(page, "code-3")
    assert "repeats_without_error" not in three


def test_the_printed_rules_are_the_language(guidance):
    # Put back into a criteria file in place of each row's own lines, the rules the page prints
    # check to the same rows: the page shows the language, not a paraphrase of it.
    page = build(guidance)
    source = guidance.source
    lines = [source[:source.index('\ntable "')]]
    for table in guidance.ast.tables:
        lines.append(f'table "{table.title}"')
        lines.append(f"  exposure {', '.join(table.exposure)}")
        for row in table.rows:
            lines.append(f"  row {row.code}" + (f' "{row.label}"' if row.label else ""))
            lines.append(f'    category "{row.category.text}"')
            lines += [f'    says "{t.text}"' for t in row.says]
            lines += ["    " + line for line in page.item(row).rule]
    lines.append(source[source.index("\ncomplementary "):])
    again = compile_text("\n".join(lines), guidance.name, criteria_dir())
    assert len(again.ast.rows) == len(guidance.ast.rows)
    for old, new in zip(guidance.ast.rows, again.ast.rows):
        for name in ("exposure", "modalities", "jurisdictions", "band", "when", "unless"):
            assert getattr(new, name) == getattr(old, name), (old.name, name)
    for item in guidance.ast.complementary:
        assert page.item(item).rule[-1].split(None, 1)[1] == expression(item.when)


def test_examples_are_run_and_marked(guidance, pages):
    page, md = pages
    examples = guidance.ast.examples
    for example in examples:
        assert escaped(example.title) in page, example.title
    assert '<td class="mark fail">' not in page
    marks = page.count('<td class="mark pass"><span aria-hidden="true">✓</span> pass</td>')
    assert marks >= len(examples)  # an example can be shown under more than one code
    assert md.count("| ✓ pass |") == marks
    assert f"{len(examples)} examples, all pass" in page


def test_examples_go_under_their_rows(g2024):
    page = html(g2024)

    def under(anchor: str) -> str:
        return row_html(page, anchor)
    assert "Accidental exposure in Wales, no dose given" in under("code-1-northern-ireland-scotland-wales")
    assert "Accidental exposure in Wales, no dose given" not in under("code-1-england-only")
    assert "CT repeated after an operator error" in under("code-2-2")
    # An example that expects no code is not under a row; it is listed at the end.
    assert "Unintended exposure, 1 mSv intended, 9.9 mSv given" not in under("code-2-2")
    rest = page.split('id="other-examples"', 1)[1]
    assert "Unintended exposure, 1 mSv intended, 9.9 mSv given" in rest
    assert "CT repeated after an operator error" not in rest
    # Complementary codes show the examples that give them.
    assert "GFR tests of several patients" in under("code-m")
    given = under("code-2-2").split("CT repeated after an operator error", 1)[1]
    assert "<code>intended_dose 2 mSv</code> <code>total_dose 22 mSv</code>" in given


def test_a_failing_example_is_marked(g2024):
    broken = with_source(g2024, "when     total_dose >= 25 mSv", "when     total_dose >= 26 mSv")
    page, md = html(broken), markdown(broken)
    assert page.count('<td class="mark fail">') == 1
    assert "expected notifiable, got not notifiable" in page
    assert "got: not notifiable" in page
    assert f"{len(g2024.ast.examples)} examples, 1 FAIL" in page
    assert "**✗ FAIL**" in md


def test_text_that_means_something_is_escaped(g2024):
    bad = "<script>alert(1)</script> a | b *c* `d` _e_ & [f](g)"
    other = with_source(g2024, 'says     "25mSv or above"', f'says     "{bad}"')
    page = html(other)
    parsed = parse(page)
    assert parsed.problems == [] and parsed.stack == []
    assert "script" not in parsed.tags
    assert escaped(bad) in page
    md = markdown(other)
    for table in md_tables(md):
        assert len({len(cells(line)) for line in table}) == 1, table
    drawn = md_html(md)
    assert "<script>" not in drawn
    assert bad.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in drawn


# ---------------------------------------------------------------- markdown

def test_markdown_tables_are_well_formed(guidance, pages):
    md = pages[1]
    tables = md_tables(md)
    assert len(tables) > 20
    for table in tables:
        assert len({len(cells(line)) for line in table}) == 1, table
        assert re.fullmatch(r"\|(---\|)+", table[1]), table
    assert md.count("| Notification code | Exposure category | Criteria for notification |") == len(
        guidance.ast.rows)
    assert md_html(md).count("<table>") == len(tables)


def test_markdown_rules_are_fenced(g2024):
    md = markdown(g2024)
    assert ("```\nexposure   unintended  # from the table\nmodalities radiotherapy, nuclear_medicine_therapy\n"
            "band       geographical_miss is total\nwhen       always\n```") in md
    assert "## Complementary codes" in md and "## General exclusions" in md and "## Enforcing authorities" in md


# --------------------------------------------------------------------- cli

def test_cli_writes_a_page_that_links_to_the_docs(cli, tmp_path):
    target = tmp_path / "out" / "criteria.html"
    target.parent.mkdir()
    result = cli("render", str(ROOT / "criteria" / "irmer-2024-08-28.irmer"), "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    page = target.read_text(encoding="utf-8")
    links = set(re.findall(r'href="([^"#]+interpretations\.md)#', page))
    assert len(links) == 1
    assert (target.parent / links.pop()).resolve() == DOCS.resolve()


def test_cli_markdown_to_stdout(cli):
    result = cli("render", "criteria/irmer-2023-04-19.irmer", "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("# IR(ME)R: notification codes, categories and criteria\n")
    assert "\n| 4.2b ⚑ | Radiotherapy treatment verification images |" in result.stdout


def test_a_broken_file_gives_a_located_error(cli, tmp_path):
    source = (ROOT / "criteria" / "irmer-2024-08-28.irmer").read_text(encoding="utf-8")
    bad = tmp_path / "broken.irmer"
    bad.write_text(source.replace("when     planning_scans >= 3", "when     planning_scan >= 3"), encoding="utf-8")
    (tmp_path / "incident-vocabulary.irmer").write_text(
        (ROOT / "criteria" / "incident-vocabulary.irmer").read_text(encoding="utf-8"), encoding="utf-8")
    line = next(n for n, text in enumerate(source.splitlines(), 1) if "planning_scans >= 3" in text)
    for shape in ("html", "markdown"):
        result = cli("render", str(bad), "--format", shape, "-o", str(tmp_path / "page"))
        assert result.exit_code == 1
        assert result.stdout == ""
        assert re.search(rf"broken\.irmer:{line}:14: error: unknown name `planning_scan`", result.stderr), result.stderr
        assert "^^^^" in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "page").exists()


def test_a_missing_file(cli, tmp_path):
    result = cli("render", str(tmp_path / "nothing.irmer"))
    assert result.exit_code == 1
    assert "no such criteria file" in result.stderr and "Traceback" not in result.stderr


# ----------------------------------------------------------------- browser

def test_html_in_a_headless_browser(g2024, tmp_path):
    data = screenshot(html(g2024), tmp_path, 1280, 2400)
    colours = page_colours(data, 1280, 2400)
    # The table header (#e8ecf1), the secondary rows under each row (#f6f8fa) and the pass marks (#dafbe1).
    for colour in (b"\xe8\xec\xf1", b"\xf6\xf8\xfa", b"\xda\xfb\xe1"):
        assert colour in colours, colour.hex()
