"""The user documentation cannot silently fall behind the code and the criteria.

- docs/embedding.md: every `>>>` example runs, with the output shown;
- docs/incidents.md: every fact of the vocabulary is documented, with its kind
  and what absent means;
- docs/language.md: every keyword of the grammar appears in its code, and every
  line of its `irmer` code blocks (excerpts of the shipped files) is still in a
  shipped file.
"""

from __future__ import annotations

import doctest
import re

import pytest

from evaluator import load_vocabulary
from evaluator.load import shipped_files
from evaluator.language.values import Measure

from conftest import ROOT

DOCS = ROOT / "docs"
GRAMMAR = ROOT / "grammar" / "irmer.lark"
VOCABULARY = ROOT / "criteria" / "incident-vocabulary.irmer"


def code_text(markdown: str) -> str:
    """Everything in a markdown text that is code: fenced blocks and `inline` spans."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.M | re.S)
    rest = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.M | re.S)
    inline = re.findall(r"`([^`\n]+)`", rest)
    return "\n".join(fenced + inline)


def fenced_blocks(markdown: str, info: str) -> list[str]:
    """The contents of the fenced code blocks with the given info string."""
    return re.findall(rf"^```{re.escape(info)}[ \t]*\n(.*?)^```", markdown, flags=re.M | re.S)


def folded(line: str) -> str:
    return " ".join(line.split())


# ------------------------------------------------------------- embedding.md

def test_embedding_examples_run():
    path = DOCS / "embedding.md"
    failed, attempted = doctest.testfile(
        str(path), module_relative=False, encoding="utf-8",
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0, "docs/embedding.md has no >>> examples"
    assert failed == 0, f"{failed} of the {attempted} examples in docs/embedding.md failed (see the output above)"


# ------------------------------------------------------------- incidents.md

@pytest.fixture(scope="module")
def facts():
    return load_vocabulary(VOCABULARY).facts


def test_incidents_names_every_fact(facts):
    text = (DOCS / "incidents.md").read_text(encoding="utf-8")
    undocumented = [name for name in facts if f"`{name}`" not in text]
    assert not undocumented, f"docs/incidents.md does not mention: {', '.join(undocumented)}"


def test_incidents_names_every_envelope_field():
    from evaluator.language.incident import ENVELOPE
    text = (DOCS / "incidents.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in text for name in ENVELOPE)


def _absent_text(info) -> str:
    if not info.has_default:
        return "unknown"
    value = info.default
    # A judgement default (`absent assumes`) is marked so in the table.
    mark = " (assumed)" if info.assumed else ""
    if isinstance(value, bool):
        return ("`true`" if value else "`false`") + mark
    if isinstance(value, Measure):
        return f"`{value.text}`" + mark
    return f"`{value}`" + mark


def test_incidents_table_matches_vocabulary(facts):
    """The table of facts gives each fact's kind and what absent means, as the vocabulary does."""
    text = (DOCS / "incidents.md").read_text(encoding="utf-8")
    wrong = []
    for name, info in facts.items():
        rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
        if len(rows) != 1:
            wrong.append(f"`{name}`: needs exactly one row in the table of facts, has {len(rows)}")
            continue
        cells = [cell.strip() for cell in rows[0].strip().strip("|").split("|")]
        if cells[1] != info.kind:
            wrong.append(f"`{name}`: the vocabulary says {info.kind!r}, the table {cells[1]!r}")
        if cells[3] != _absent_text(info):
            wrong.append(f"`{name}`: absent means {_absent_text(info)} in the vocabulary, {cells[3]} in the table")
    assert not wrong, "docs/incidents.md is out of date:\n" + "\n".join(wrong)


# -------------------------------------------------------------- language.md

def grammar_keywords() -> list[str]:
    """The keywords of the grammar: every quoted literal that is a word."""
    lines = [line for line in GRAMMAR.read_text(encoding="utf-8").splitlines()
             if not line.lstrip().startswith("//")]
    return sorted(set(re.findall(r'"([A-Za-z]+)"', "\n".join(lines))))


def test_grammar_has_keywords():
    assert {"guidance", "row", "when", "complementary", "fact"} <= set(grammar_keywords())


def test_language_shows_every_keyword():
    code = code_text((DOCS / "language.md").read_text(encoding="utf-8"))
    absent = [word for word in grammar_keywords() if not re.search(rf"\b{word}\b", code)]
    assert not absent, f"docs/language.md shows no code with the keywords: {', '.join(absent)}"


def test_language_shows_in_force():
    # `in force` is a header key written with a regular expression, not a quoted word.
    assert "in force" in code_text((DOCS / "language.md").read_text(encoding="utf-8"))


def test_language_excerpts_are_in_the_shipped_files():
    """Blocks marked ```irmer are copied from the shipped files: each line must still be in one."""
    shipped: set[str] = set()
    for path in shipped_files() + [VOCABULARY]:
        shipped |= {folded(line) for line in path.read_text(encoding="utf-8").splitlines()}
    blocks = fenced_blocks((DOCS / "language.md").read_text(encoding="utf-8"), "irmer")
    assert blocks, "docs/language.md has no ```irmer blocks"
    stale = [line.strip() for block in blocks for line in block.splitlines()
             if line.strip() and folded(line) not in shipped]
    assert not stale, "lines of docs/language.md no longer in the shipped files:\n" + "\n".join(stale)
