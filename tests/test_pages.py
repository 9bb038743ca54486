"""The pages people read come from templates, with one stylesheet (evaluator/pages).

- No module under evaluator/ builds HTML in Python strings: the pages are
  Jinja2 templates in evaluator/pages/templates, which escape every value.
- The templates of the criteria and diff pages mark nothing safe: text from a
  criteria file or an incident is always escaped.
- The one stylesheet keeps its base rules first, then a section per page, and
  every rule of a page's section is scoped by the class on that page's <body>,
  so that one page's class names never style another page.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest
import tinycss2

from evaluator import load_criteria
from evaluator.pages import HERE, environment, render, stylesheet
from evaluator.tools import render_criteria, render_diff
from evaluator.tools.diff import DiffReport
from evaluator.tools.markup import code_spans

from conftest import ROOT

PACKAGE = ROOT / "evaluator"
TEMPLATES = HERE / "templates"

# ------------------------------------------------------------ no HTML in Python strings

# Elements of a page. Not <br>: the markdown renderers write it in table cells, where markdown has no
# other line break. Not SVG: the audit's charts are images matplotlib draws.
TAGS = ("html head body title meta link style script noscript template div span p a em strong small b i u s sub sup "
        "code pre kbd samp var blockquote q abbr cite mark del ins hr img figure figcaption picture video audio "
        "iframe object embed table caption colgroup col thead tbody tfoot tr td th section article aside nav header "
        "footer main h1 h2 h3 h4 h5 h6 ul ol li dl dt dd details summary form fieldset legend label input button "
        "select option optgroup textarea output progress meter dialog").split()
# Markup is being built when a string closes an element or opens one with an attribute, the tag's name written
# or taken from a value. A bare "<name>" is not flagged: that is how messages and defaults name a placeholder
# ("<label>", "<stdin>"), and markdown a link ("<{url}>"); code that builds markup closes what it opens.
_NAME = rf"(?:{'|'.join(TAGS)}|\{{[A-Za-z_][\w.]*\}})"
MARKUP = re.compile(rf"</\s*{_NAME}\s*>|<{_NAME}\s+[a-z][\w:-]*\s*=", re.I)


def string_pieces(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal of a module; the literal parts of f-strings included."""
    middle = getattr(tokenize, "FSTRING_MIDDLE", None)  # Python 3.12 splits f-strings into tokens
    return [(token.start[0], token.string) for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type == tokenize.STRING or token.type == middle]


def markup_in(source: str) -> list[tuple[int, str]]:
    """The strings of a module that build HTML."""
    return [(line, text) for line, text in string_pieces(source) if MARKUP.search(text)]


@pytest.mark.parametrize("source, flagged", [
    ('x = f"<td>{cell}</td>"', True),
    ("x = '<table class=\"data\">'", True),
    ('x = "<div id=x>"', True),
    ('x = "<div id=\'x\'>" + body + "</div>"', True),
    ("x = '</section>'", True),
    ('x = f"<{tag}>{text}</{tag}>"', True),
    ('x = """\n<ul>\n  <li>a</li>\n</ul>\n"""', True),
    ('x = "<SPAN CLASS=\'a\'>"', True),
    ('x = "a <br> b"', False),  # markdown's line break in a table cell
    ('hint = f\'write row {code} "<label>"\'', False),  # a placeholder in a message
    ('source = "<table>"', False),  # a placeholder name, like "<stdin>"
    ('x = 1 < 2 and 3 > 2', False),
    ('# a comment about <td class="x"></td>\nx = 1', False),  # comments are not strings
    ('x = "a < b, c > d, e <= f"', False),
    ('x = "[bold]code[/]"', False),  # rich markup
    ('x = f"  [bold]{label:<{WIDTH}}[/]{value}"', False),  # a format spec
    ("x = f'<{tag} class=\"c\">'", True),
    ('x = f"<{tag}>{text}</{tag}>"', True),
    ('x = f"<{url}>"', False),  # a markdown link destination
])
def test_the_scan_flags_html_built_in_strings(source, flagged):
    assert bool(markup_in(source)) is flagged


def modules() -> list[Path]:
    """Every Python module of the package except the pages' own (evaluator/pages)."""
    return [p for p in sorted(PACKAGE.rglob("*.py"))
            if HERE not in p.parents and "__pycache__" not in p.parts]


def test_no_module_builds_html_in_python_strings():
    found = modules()
    assert PACKAGE / "tools" / "render_criteria.py" in found and PACKAGE / "cli.py" in found
    offences = [f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}"
                for path in found for line, text in markup_in(path.read_text(encoding="utf-8"))]
    assert offences == [], ("HTML belongs in a template in evaluator/pages/templates, not in a Python string:\n"
                            + "\n".join(offences))


# --------------------------------------------------------------------------- escaping

OURS = ("base.html", "macros.html", "criteria.html", "diff.html")


@pytest.mark.parametrize("name", OURS)
def test_our_templates_mark_no_text_safe(name):
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    assert not re.search(r"\{%-?\s*autoescape", source) and "Markup" not in source
    marked = re.findall(r"\{\{([^}]*)\|\s*safe\b", source)
    # Only the stylesheet, which is our file, not text from a criteria file or an incident.
    assert [m.strip() for m in marked] == (["stylesheet"] if name == "base.html" else [])


def test_autoescape_is_on_for_the_pages():
    env = environment()
    assert env.autoescape("criteria.html") and env.autoescape("diff.html")
    out = env.from_string('{% import "macros.html" as m %}{{ x }}|{{ m.paragraphs([x], "c") }}').render(
        x="<b>&'\"")
    assert out == "&lt;b&gt;&amp;&#39;&#34;|<p class=\"c\">&lt;b&gt;&amp;&#39;&#34;</p>"


@pytest.mark.parametrize("text, pieces, html", [
    ("plain", [(False, "plain")], "plain"),
    ("use `a >= 1` here", [(False, "use "), (True, "a >= 1"), (False, " here")], "use <code>a &gt;= 1</code> here"),
    ("`x`", [(True, "x")], "<code>x</code>"),
    ("a `` b", [(False, "a "), (True, ""), (False, " b")], "a <code></code> b"),
    ("odd ` tick", [(False, "odd ` tick")], "odd ` tick"),  # unbalanced: all prose
    ("<i>`<b>`</i>", [(False, "<i>"), (True, "<b>"), (False, "</i>")], "&lt;i&gt;<code>&lt;b&gt;</code>&lt;/i&gt;"),
    ("", [], ""),
])
def test_prose_sets_code_spans_in_code_and_escapes_both(text, pieces, html):
    assert code_spans(text) == pieces
    out = environment().from_string('{% import "macros.html" as m %}{{ m.prose(x) }}').render(x=text)
    assert out == html


@pytest.mark.parametrize("numeric, corner, html", [
    ((), False, '<thead><tr><th scope="col">A</th><th scope="col">B &amp; C</th></tr></thead>'),
    ((1,), True, '<thead><tr><td></td><th scope="col">A</th><th scope="col" class="num">B &amp; C</th></tr></thead>'),
])
def test_thead(numeric, corner, html):
    out = environment().from_string('{% import "macros.html" as m %}{{ m.thead(c, corner=k, numeric=n) }}').render(
        c=["A", "B & C"], k=corner, n=numeric)
    assert out == html


# ------------------------------------------------------------------------- the stylesheet

SECTION = re.compile(r"=+ .*\(body\.([\w-]+)\)")


def sections() -> dict[str, list[str]]:
    """The selectors of each section of the stylesheet: 'base', then each page's body class."""
    out: dict[str, list[str]] = {"base": []}
    current = "base"

    def walk(rules):
        nonlocal current
        for rule in rules:
            if rule.type == "comment":
                header = SECTION.search(rule.value)
                if header:
                    current = header.group(1)
                    assert current not in out, f"two sections for body.{current}"
                    out[current] = []
            elif rule.type == "qualified-rule":
                out[current] += [s.strip() for s in tinycss2.serialize(rule.prelude).split(",")]
            elif rule.type == "at-rule" and rule.content is not None and rule.lower_at_keyword == "media":
                walk(tinycss2.parse_blocks_contents(rule.content, skip_whitespace=True))
            elif rule.type == "error":
                raise AssertionError(f"the stylesheet does not parse: {rule.message} at line {rule.source_line}")
    walk(tinycss2.parse_stylesheet(stylesheet(), skip_comments=False, skip_whitespace=True))
    return out


def test_the_stylesheet_is_base_rules_then_a_section_per_page():
    found = sections()
    assert list(found)[0] == "base" and {"diff-page", "criteria-page"} <= set(found)
    for page, selectors in found.items():
        assert selectors, page
        if page == "base":
            stray = [s for s in selectors if re.search(r"\.[\w-]+-page\b", s)]
            assert stray == [], f"base rules that name a page: {stray}"
        else:
            unscoped = [s for s in selectors if not re.match(rf"(body)?\.{re.escape(page)}(?![\w-])", s)]
            assert unscoped == [], f"rules of body.{page} that could style another page: {unscoped}"


def test_a_selector_outside_its_section_is_caught(monkeypatch):
    # The test above can fail: a rule of the criteria page that is not scoped.
    stray = stylesheet() + "\n/* ==== the x page (body.x-page) */\n.x-page p { margin: 0; }\ntd.mark { color: red; }\n"
    monkeypatch.setitem(globals(), "stylesheet", lambda: stray)
    with pytest.raises(AssertionError, match="td.mark"):
        test_the_stylesheet_is_base_rules_then_a_section_per_page()


@pytest.fixture(scope="module")
def both_pages() -> dict[str, str]:
    report = DiffReport.model_validate_json((ROOT / "tests" / "data" / "diff-2023-2024.json").read_text("utf-8"))
    return {"criteria-page": render_criteria.html(load_criteria("2024")), "diff-page": render_diff.html(report)}


@pytest.mark.parametrize("page", ["criteria-page", "diff-page"])
def test_each_page_carries_its_class_and_the_one_stylesheet(both_pages, page):
    html = both_pages[page]
    assert f'<body class="{page}">' in html
    assert html.count(stylesheet()) == 1 and html.count("<style>") == 1
    assert page in sections()


def test_render_is_the_pages_template_with_the_stylesheet():
    page = render("base.html", title="T & U", page="x-page")
    assert "<title>T &amp; U</title>" in page and '<body class="x-page">' in page and stylesheet() in page
