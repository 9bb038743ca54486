"""`irmer fmt`: the canonical layout of criteria files (evaluator/language/fmt.py).

- the shipped files: the round trip (parse -> print -> parse gives an equal
  AST), idempotence, every comment and every string literal kept byte for byte;
- generated files (hypothesis): random but valid criteria and vocabulary ASTs
  are printed and parsed back equal; their canonical text is a fixed point; with
  random line breaks, indentation and blank lines they format to the same text;
  with random comments as well every comment is kept and formatting is
  idempotent; evaluator.language.printer's expressions parse back equal;
- a badly laid out file formats to the canonical layout (golden);
- the command: `--check` exit codes and diff (golden), rewriting in place, and an
  invalid file left untouched with a located error (golden).
"""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, check_golden
from evaluator.language import ast
from evaluator.language.diagnostics import CriteriaError
from evaluator.language.fmt import LIMIT, Source, format_text, print_file
from evaluator.language.parse import parse_text
from evaluator.language.printer import expression, reserved_words
from evaluator.language.transform import to_ast

# The profile's budget (tests/conftest.py): 100 examples a property in `make test`, more under a longer profile.
SETTINGS = settings(max_examples=settings().max_examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SHIPPED = sorted((ROOT / "criteria").glob("*.irmer"))
MESSY = "tests/data/fmt-messy.irmer"


def parse(text: str, name: str = "t.irmer"):
    return to_ast(parse_text(text, name), name, text)


def comments(text: str) -> Counter:
    """The comments of a text (what follows `#` outside strings), as written."""
    return Counter(comment.text for comment in Source(text).comments)


def strings(text: str) -> Counter:
    """The string literals of a text, as written (quotes and escapes included)."""
    return Counter(raw for found in Source(text).strings.values() for _, _, raw in found)


# ---------------------------------------------------------------- shipped files

@pytest.fixture(params=SHIPPED, ids=lambda p: p.name, scope="module")
def shipped(request) -> tuple[str, str]:
    text = request.param.read_text(encoding="utf-8")
    return text, format_text(text, request.param.name)


def test_shipped_round_trip(shipped):
    text, formatted = shipped
    original = parse(text)
    assert parse(print_file(original)) == original
    assert parse(formatted) == original


def test_shipped_idempotent(shipped):
    _, formatted = shipped
    assert format_text(formatted) == formatted


def test_shipped_keeps_every_comment(shipped):
    text, formatted = shipped
    assert comments(formatted) == comments(text)
    kept = {line.strip() for line in formatted.splitlines()}
    for line in text.splitlines():  # every comment line comes out whole, on a line of its own
        if line.lstrip().startswith("#"):
            assert line.strip() in kept, line


def test_shipped_keeps_every_string(shipped):
    text, formatted = shipped
    assert strings(formatted) == strings(text)


def test_shipped_files_are_canonical(shipped):
    """The shipped files are laid out exactly as `irmer fmt` lays them out (`make test` runs `irmer fmt --check`)."""
    text, formatted = shipped
    assert text == formatted


def test_print_file_has_no_comments():
    text = (ROOT / "criteria" / "incident-vocabulary.irmer").read_text(encoding="utf-8")
    printed = print_file(parse(text))
    assert not comments(printed)
    assert printed.startswith('vocabulary "')
    assert format_text(text).endswith("\n\n" + printed)  # the file's opening comment stands on its own


# ------------------------------------------------------------ generated files

KEYWORDS = reserved_words()
IDENT = st.one_of(
    st.sampled_from(["total_dose", "age", "child", "England", "x", "_tmp", "a1", "modality"]),
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
).filter(lambda s: s not in KEYWORDS)
UNITS = st.sampled_from(["mSv", "uSv", "µSv", "Gy", "mGy", "GBq", "MBq", "mm", "cm", "years", "weeks", "days"])
NUMBERS = st.one_of(st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3})?", fullmatch=True),
                    st.sampled_from(["3e-3", "1E6", "0.30", "1190"]))
PERCENTS = st.from_regex(r"[0-9]{1,2}(\.[0-9])?", fullmatch=True)
CODES = st.one_of(st.from_regex(r"[A-Z]?[1-9][0-9]?(\.[0-9])?[a-c]?", fullmatch=True), st.sampled_from("MECV"))
DATES = st.dates(min_value=__import__("datetime").date(2000, 1, 1),
                 max_value=__import__("datetime").date(2099, 12, 31))
# Any text on one line: quotes, backslashes, `#`, non-ASCII letters included.
TEXT = st.text(alphabet=st.one_of(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                                  st.sampled_from(['"', "\\", "#", " ", "n"])), max_size=24)
VALUE = st.one_of(IDENT, IDENT, TEXT, st.sampled_from(["Northern Ireland", "not", "one", "3a", "é", 'say "hi"']))
VALUES = st.lists(VALUE, min_size=1, max_size=3).map(tuple)


def small(strategy, most: int = 2):
    return st.lists(strategy, max_size=most).map(tuple)


# Expressions, shaped as the grammar builds them: sums inside comparisons, atoms after `times`.
ATOM = st.one_of(st.builds(ast.Ref, name=IDENT),
                 st.builds(ast.Number, text=NUMBERS, unit=st.none() | UNITS),
                 st.builds(ast.Percent, text=PERCENTS))
PRODUCT = st.one_of(ATOM,
                    st.builds(ast.Scale, factor=NUMBERS, percent=st.just(False), operand=ATOM),
                    st.builds(ast.Scale, factor=PERCENTS, percent=st.just(True), operand=ATOM))
SUM = st.one_of(PRODUCT, st.builds(ast.Ratio, numerator=PRODUCT, denominator=PRODUCT))
OPS = st.sampled_from([">=", "<=", ">", "<", "=", "!="])


@st.composite
def compares(draw):
    count = draw(st.integers(1, 2))
    return ast.Compare(operands=tuple(draw(SUM) for _ in range(count + 1)),
                       ops=tuple(draw(OPS) for _ in range(count)))


@st.composite
def is_values(draw):
    one_of = draw(st.booleans())
    values = draw(VALUES) if one_of else (draw(VALUE),)
    return ast.IsValue(fact=draw(IDENT), values=values, negated=draw(st.booleans()), one_of=one_of)


PREDICATE = st.one_of(
    compares(), is_values(),
    st.builds(ast.Includes, fact=IDENT, values=VALUES),
    st.builds(ast.Tolerance, value=SUM, reference=SUM, percent=PERCENTS, outside=st.booleans()),
    st.builds(ast.CriteriaOf, code=CODES),
    st.builds(ast.Constant, value=st.booleans()),
    st.builds(ast.Ref, name=IDENT),
    SUM,
)


def _extend(inner):
    chain = st.lists(inner, min_size=2, max_size=4).map(tuple)
    return st.one_of(st.builds(ast.Not, operand=inner),
                     chain.map(lambda ops: ast.And(operands=ops)),
                     chain.map(lambda ops: ast.Or(operands=ops)))


EXPR = st.recursive(PREDICATE, _extend, max_leaves=12)
CASE = st.builds(ast.Case, branches=st.lists(st.builds(ast.CaseBranch, value=EXPR, condition=EXPR),
                                              min_size=1, max_size=3).map(tuple), otherwise=EXPR)
OPTIONAL_EXPR = st.none() | EXPR

TEXTS = small(st.builds(ast.Text, text=TEXT))
INTERPRETATIONS = small(st.builds(ast.Interpretation, id=IDENT, text=TEXT))
ALLOWS = small(st.builds(ast.Allow, rule=IDENT, reason=TEXT))
DOCUMENTED = dict(says=TEXTS, notes=TEXTS, interpretations=INTERPRETATIONS, allows=ALLOWS)

SCALAR_LITERAL = st.one_of(
    st.builds(ast.Literal_, form=st.just("name"), text=IDENT | st.sampled_from(["yes", "no"])),
    st.builds(ast.Literal_, form=st.just("string"), text=TEXT),
    st.builds(ast.Literal_, form=st.just("number"), text=NUMBERS, unit=st.none() | UNITS),
    st.builds(ast.Literal_, form=st.just("percent"), text=PERCENTS),
    st.builds(ast.Literal_, form=st.just("date"), text=DATES.map(lambda d: d.isoformat())),
)
LITERAL = st.one_of(SCALAR_LITERAL, st.builds(ast.Literal_, form=st.just("list"),
                                              items=st.lists(SCALAR_LITERAL, min_size=2, max_size=3).map(tuple)))
EXPECTATION = st.one_of(
    st.builds(ast.Expectation, what=st.sampled_from(["notifiable", "not notifiable", "undetermined"])),
    st.builds(ast.Expectation, what=st.just("codes"), items=small(CODES, 3)),
    st.builds(ast.Expectation, what=st.just("missing"), items=st.lists(IDENT, min_size=1, max_size=3).map(tuple)),
    st.builds(ast.Expectation, what=st.just("date"), field=IDENT, items=DATES.map(lambda d: (d.isoformat(),))),
    st.builds(ast.Expectation, what=st.just("authority"), items=TEXT.map(lambda t: (t,))),
)


@st.composite
def tables(draw):
    title = draw(TEXT)
    exposure = draw(small(VALUE))
    rows = []
    for _ in range(draw(st.integers(0, 3))):
        own = draw(small(VALUE))
        rows.append(ast.Row(
            code=draw(CODES), label=draw(st.none() | TEXT), table=title,
            category=draw(st.none() | st.builds(ast.Text, text=TEXT)), exposure=own or exposure,
            modalities=draw(small(VALUE)), jurisdictions=draw(small(VALUE)),
            band=draw(OPTIONAL_EXPR), when=draw(OPTIONAL_EXPR), unless=draw(OPTIONAL_EXPR),
            **{k: draw(v) for k, v in DOCUMENTED.items()}))
    return ast.Table(title=title, exposure=exposure, rows=tuple(rows), **{k: draw(v) for k, v in DOCUMENTED.items()})


@st.composite
def complementaries(draw):
    suffix = draw(st.none() | st.tuples(st.integers(0, 99), st.integers(0, 99)))
    return ast.Complementary(code=draw(CODES), category=draw(st.none() | st.builds(ast.Text, text=TEXT)),
                             suffix_from=suffix[0] if suffix else None, suffix_to=suffix[1] if suffix else None,
                             role=draw(st.none() | IDENT), when=draw(OPTIONAL_EXPR),
                             **{k: draw(v) for k, v in DOCUMENTED.items()})


HEADER = st.builds(ast.Header, version=TEXT, title=st.none() | TEXT, publisher=st.none() | TEXT,
                   published=st.none() | DATES, in_force=st.none() | DATES, supersedes=st.none() | TEXT,
                   source=st.none() | TEXT, vocabulary=st.none() | TEXT)
CRITERIA = st.builds(
    ast.Criteria, header=HEADER, allows=ALLOWS,
    definitions=small(st.builds(ast.Definition, name=IDENT, body=EXPR | CASE, **DOCUMENTED)),
    tables=small(tables()),
    complementary=small(complementaries()),
    exclusions=small(st.builds(ast.Exclusion, name=IDENT, codes=small(CODES, 3), when=OPTIONAL_EXPR, **DOCUMENTED)),
    deadlines=small(st.builds(ast.Deadline, name=IDENT, after=IDENT, amount=st.builds(
        ast.Number, text=st.from_regex(r"[1-9][0-9]?", fullmatch=True), unit=st.sampled_from(["days", "weeks"])),
        **DOCUMENTED)),
    authorities=small(st.builds(ast.Authority, jurisdiction=VALUE, name=st.none() | TEXT,
                                contact=st.none() | TEXT, says=TEXTS, notes=TEXTS)),
    advice=small(st.builds(ast.Advice, name=IDENT, when=OPTIONAL_EXPR, says=TEXTS, notes=TEXTS,
                           texts=small(st.builds(ast.AdviceText, jurisdictions=VALUES, text=TEXT)))),
    examples=small(st.builds(ast.Example, title=TEXT, says=TEXTS, notes=TEXTS, allows=ALLOWS,
                             given=small(st.builds(ast.Given, name=IDENT, value=LITERAL), 4),
                             expects=small(EXPECTATION, 3))),
)
KIND = st.one_of(
    st.builds(ast.KindSpec, name=st.sampled_from(["one of", "one or more of"]), values=VALUES),
    st.just(ast.KindSpec(name="yes or no")),
    st.lists(IDENT, min_size=1, max_size=2).map(lambda words: ast.KindSpec(name=" ".join(words))),
)
VOCABULARY = st.builds(
    ast.Vocabulary, title=TEXT, says=TEXTS, notes=TEXTS,
    facts=small(st.builds(ast.Fact, name=IDENT, kind=KIND, absent=st.none() | SCALAR_LITERAL,
                          minimum=st.none() | st.builds(ast.Number, text=NUMBERS, unit=st.none() | UNITS),
                          unit=st.none() | UNITS, says=TEXTS, notes=TEXTS), 4),
)
FILES = st.one_of(CRITERIA, CRITERIA, VOCABULARY)
COMMENT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs")),
                  max_size=12).map(lambda t: "#" + t) | st.sampled_from(["#", "# and or", '# "a # b"', "# )"])


PIECES = re.compile(r'("(?:[^"\\\n]|\\.)*")')  # a line split into code and strings (at odd places)
BREAKS = re.compile(r"(, | and | or |\(|\))")


def scrambled(text: str, rng: random.Random) -> list[str]:
    """The lines of a text broken where the language allows a new line (after `,` and `(`, before `)`,
    `and` and `or`), and continuation lines joined to the line above; comment lines are left alone."""
    lines: list[str] = []
    for line in text.split("\n")[:-1]:
        if lines and line.lstrip().startswith(("and ", "or ")) and rng.random() < 0.3:
            lines[-1] += " " + line.strip()
            continue
        lines.append("")
        if line.lstrip().startswith("#"):
            lines[-1] = line
            continue
        for index, piece in enumerate(PIECES.split(line)):
            for part in ([piece] if index % 2 else BREAKS.split(piece)):
                if not BREAKS.fullmatch(part) or index % 2 or rng.random() > 0.3:
                    lines[-1] += part
                elif part in (", ", "("):
                    lines[-1] += part.rstrip()
                    lines.append(" " * rng.randrange(12))
                else:
                    lines.append(" " * rng.randrange(12) + part.lstrip())
    return lines


def relaid(text: str, seed: int, pool: list[str] | None = None) -> str:
    """The same file with random line breaks, indentation and blank lines, and with comments from `pool` if given."""
    rng = random.Random(seed)
    out = []
    for line in scrambled(text, rng):
        if pool and rng.random() < 0.15:
            out.append(" " * rng.randrange(8) + rng.choice(pool))
        if rng.random() < 0.1:
            out.append(" " * rng.randrange(3))
        body = line.strip()
        if pool and body and rng.random() < 0.15:
            body += " " * rng.randrange(1, 4) + rng.choice(pool)
        out.append(" " * rng.randrange(8) + body)
    if pool and rng.random() < 0.5:
        out.append(rng.choice(pool))
    return "\n".join(out) + "\n"


@SETTINGS
@given(node=FILES)
def test_generated_round_trip(node):
    text = print_file(node)
    assert parse(text) == node, text
    assert format_text(text) == text  # the canonical text is a fixed point


@SETTINGS
@given(node=EXPR)
def test_printer_expression_round_trip(node):
    """evaluator.language.printer (used by the diff) prints what parses back equal, values that need quotes included."""
    body = parse(f'guidance "v"\ndefine d\n  as {expression(node)}\n').definitions[0].body
    assert body == node


@SETTINGS
@given(node=FILES, seed=st.integers(0, 2**32))
def test_generated_layout_does_not_matter(node, seed):
    text = print_file(node)
    assert format_text(relaid(text, seed)) == text


@SETTINGS
@given(node=FILES, seed=st.integers(0, 2**32), pool=st.lists(COMMENT, min_size=1, max_size=4))
def test_generated_comments_are_kept(node, seed, pool):
    text = relaid(print_file(node), seed, pool)
    formatted = format_text(text)
    assert parse(formatted) == node
    assert comments(formatted) == Counter(c.rstrip() for c in comments(text).elements())
    assert format_text(formatted) == formatted, text


@pytest.mark.parametrize("seed", range(5))
def test_shipped_files_scrambled_with_comments(shipped, seed):
    """The shipped files with random line breaks, indentation, blank lines and comments."""
    text, _ = shipped
    noisy = relaid(text, seed, ["# one", '# "two" # three', "#", "# and or ("])
    result = format_text(noisy)
    assert parse(result) == parse(text)
    assert comments(result) == comments(noisy)
    assert format_text(result) == result


# ------------------------------------------------------------------- examples

def test_comments_attach_to_what_follows_and_move_with_it():
    text = ('guidance "v"\n'
            'table "T"\n'
            '  row 1\n'
            '    when a  # after a\n'
            '      # before b\n'
            '      or b\n'
            '    # about the category\n'
            '    category "c"\n')
    assert format_text(text) == ('guidance "v"\n'
                                 '\n\n'
                                 'table "T"\n'
                                 '\n'
                                 '  row 1\n'
                                 '    # about the category\n'
                                 '    category "c"\n'
                                 '    when     a  # after a\n'
                                 '          # before b\n'
                                 '          or b\n')


def test_strings_are_kept_as_written():
    text = 'vocabulary "a \\"b\\" \\n \\\\ # c"\nfact f: one of "x\\ty", "England"\n'
    formatted = format_text(text)
    assert formatted == 'vocabulary "a \\"b\\" \\n \\\\ # c"\n\nfact f: one of "x\\ty", England\n'
    assert parse(formatted) == parse(text)


def test_long_bracketed_chain_is_broken_inside_its_brackets():
    names = [f"fact_number_{i} >= {i} mSv" for i in range(6)]
    text = f'guidance "v"\ndefine d\n  as x or ({" and ".join(names)})\n'
    formatted = format_text(text)
    assert max(len(line) for line in formatted.splitlines()) <= LIMIT
    assert "  or (fact_number_0 >= 0 mSv\n" in formatted
    assert "\n      and fact_number_5 >= 5 mSv)\n" in formatted  # under the first operand, inside the bracket
    assert parse(formatted) == parse(text)


def test_messy_file_formats_to_the_canonical_layout():
    text = (ROOT / MESSY).read_text(encoding="utf-8")
    formatted = format_text(text, MESSY)
    check_golden("fmt/messy.irmer", formatted)
    assert parse(formatted) == parse(text)
    assert comments(formatted) == comments(text)
    assert format_text(formatted) == formatted


def test_invalid_text_raises_a_located_error():
    with pytest.raises(CriteriaError) as error:
        format_text('guidance "v"\ndefine d\n  as (a or b\n', "bad.irmer")
    assert error.value.render().startswith("bad.irmer:3:6: error: this bracket is never closed")


# -------------------------------------------------------------------- command

@pytest.fixture
def irmer(cli, monkeypatch):
    monkeypatch.chdir(ROOT)

    def run(*args: str):
        result = cli(*args)
        assert "Traceback" not in result.stdout + result.stderr
        return result
    return run


def test_check_passes_on_a_canonical_file(irmer, tmp_path):
    path = tmp_path / "vocabulary.irmer"
    shutil.copy(ROOT / "criteria" / "incident-vocabulary.irmer", path)
    result = irmer("fmt", "--check", str(path))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "1 file already formatted" in result.stderr


def test_check_shows_the_diff_and_changes_nothing(irmer):
    before = (ROOT / MESSY).read_bytes()
    result = irmer("fmt", "--check", MESSY)
    assert result.exit_code == 1
    assert (ROOT / MESSY).read_bytes() == before
    check_golden("fmt/check-messy.diff", result.stdout)
    assert result.stderr == f"would reformat {MESSY}\n1 file would be reformatted\n"


def test_fmt_rewrites_in_place(irmer, tmp_path):
    path = tmp_path / "messy.irmer"
    shutil.copy(ROOT / MESSY, path)
    result = irmer("fmt", str(path))
    assert result.exit_code == 0
    assert path.read_text(encoding="utf-8") == format_text((ROOT / MESSY).read_text(encoding="utf-8"))
    assert irmer("fmt", "--check", str(path)).exit_code == 0
    again = irmer("fmt", str(path))
    assert again.exit_code == 0 and "1 file already formatted" in again.stderr


def test_invalid_file_is_left_untouched(irmer, tmp_path):
    path = tmp_path / "bad.irmer"
    text = 'guidance "v"\n\ndefine d\n  as  (a or b\n\n  # a comment\n'
    path.write_text(text, encoding="utf-8")
    other = tmp_path / "messy.irmer"
    shutil.copy(ROOT / MESSY, other)
    result = irmer("fmt", "--check", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    check_golden("fmt/invalid.txt", result.stderr.replace(str(tmp_path), "<tmp>"))
    result = irmer("fmt", str(path), str(other))
    assert result.exit_code == 2
    assert path.read_text(encoding="utf-8") == text
    # The valid file beside it was still formatted.
    assert other.read_text(encoding="utf-8") == format_text((ROOT / MESSY).read_text(encoding="utf-8"))


def test_check_with_an_invalid_file_exits_2(irmer, tmp_path):
    path = tmp_path / "bad.irmer"
    path.write_text('guidance "v"\ndefine\n', encoding="utf-8")
    result = irmer("fmt", "--check", MESSY, str(path))
    assert result.exit_code == 2
    assert result.stdout.startswith(f"--- {MESSY}\toriginal\n+++ {MESSY}\tformatted\n")
    assert f"{path.name}:2:7: error:" in result.stderr


def test_unreadable_file(irmer, tmp_path):
    result = irmer("fmt", str(tmp_path / "missing.irmer"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr and "missing.irmer" in result.stderr


def test_shipped_files_under_check(irmer):
    """Report, not a requirement: which shipped files `irmer fmt --check` accepts."""
    result = irmer("fmt", "--check", *[str(p.relative_to(ROOT)) for p in SHIPPED])
    assert result.exit_code in (0, 1)
    changed = [line for line in result.stdout.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    # Only clause order differs: every line removed is added back elsewhere.
    assert Counter(line[1:] for line in changed if line[0] == "-") == \
        Counter(line[1:] for line in changed if line[0] == "+")
