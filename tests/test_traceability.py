"""Every rule is traceable to the guidance: the regulator's words are verbatim.

`says` and `category` lines must appear, word for word, in the source text the
file's header names (examples may quote the CQC annual report too); every
`interpretation` must be listed in docs/interpretations.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evaluator import load_vocabulary
from evaluator.load import parse_file, shipped_files

from conftest import GUIDANCE, ROOT

CRITERIA = shipped_files()


def normalise(text: str) -> str:
    """The text as a reader sees it: no markdown emphasis, links, escapes or <p> tags; folded spaces."""
    text = text.replace("**", "")
    text = re.sub(r"\[([^\]]*)\]\(#\)", r"\1", text)
    text = text.replace("\\(", "(").replace("\\)", ")")
    text = re.sub(r"</?p>", " ", text)
    return " ".join(text.split())


def source_of(criteria) -> Path:
    match = re.search(r"shared/guidance/([\w.-]+\.txt)", criteria.header.source or "")
    assert match, f"{criteria.header.version}: the header's source must name a file in shared/guidance"
    return GUIDANCE / match.group(1)


@pytest.fixture(scope="module")
def all_sources() -> str:
    return " ".join(normalise(p.read_text(encoding="utf-8")) for p in sorted(GUIDANCE.glob("*.txt")))


def test_shared_guidance_is_present():
    assert (GUIDANCE / "cqc-saue-guidance-2024-08-28.txt").exists(), (
        f"the traceability tests need the guidance texts in {GUIDANCE}: "
        f"../shared/guidance beside the project, or set IRMER_GUIDANCE_DIR")


@pytest.mark.parametrize("path", CRITERIA, ids=lambda p: p.name)
def test_the_regulators_words_are_verbatim(path: Path):
    criteria, _ = parse_file(path)
    source = normalise(source_of(criteria).read_text(encoding="utf-8"))
    quoted = []
    for table in criteria.tables:
        quoted += [(f"table {table.title}", t) for t in table.says]
        for row in table.rows:
            quoted += [(f"row {row.name}", t) for t in row.says]
            quoted += [(f"row {row.name} category", row.category)]
    for item in criteria.complementary:
        quoted += [(f"complementary {item.code}", t) for t in item.says + (item.category,)]
    for group in (criteria.definitions, criteria.exclusions, criteria.deadlines, criteria.authorities,
                  criteria.advice, criteria.routes):
        for node in group:
            quoted += [(type(node).__name__, t) for t in node.says]
    not_found = [f"{where} (line {text.span.line}): {text.text!r}" for where, text in quoted
                 if normalise(text.text) not in source]
    assert not not_found, "not verbatim in " + source_of(criteria).name + ":\n" + "\n".join(not_found)


@pytest.mark.parametrize("path", CRITERIA, ids=lambda p: p.name)
def test_examples_quote_a_source(path: Path, all_sources: str):
    criteria, _ = parse_file(path)
    not_found = [f"{e.title!r}: {t.text!r}" for e in criteria.examples for t in e.says
                 if normalise(t.text) not in all_sources]
    assert not not_found, "\n".join(not_found)


def test_vocabulary_quotes_a_source(all_sources: str):
    vocabulary = load_vocabulary().ast
    quoted = list(vocabulary.says) + [t for fact in vocabulary.facts for t in fact.says]
    assert [t.text for t in quoted if normalise(t.text) not in all_sources] == []


def test_every_row_has_the_regulators_words():
    for path in CRITERIA:
        criteria, _ = parse_file(path)
        for row in criteria.rows:
            assert row.says and row.category, f"{path.name}: row {row.name}"


@pytest.mark.parametrize("path", CRITERIA, ids=lambda p: p.name)
def test_every_interpretation_is_listed(path: Path):
    criteria, _ = parse_file(path)
    listed = (ROOT / "docs" / "interpretations.md").read_text(encoding="utf-8")
    ids = {node.id for node in criteria.walk() if type(node).__name__ == "Interpretation"}
    assert ids, "the shipped files record their interpretations"
    missing = sorted(i for i in ids if f"`{i}`" not in listed)
    assert missing == [], f"add these to docs/interpretations.md: {missing}"


def test_the_normalisation_is_not_vacuous():
    # A quote that is not in the source must be caught.
    source = normalise((GUIDANCE / "cqc-saue-guidance-2024-08-28.txt").read_text(encoding="utf-8"))
    assert normalise("25mSv or above") in source
    assert normalise("26mSv or above") not in source
    assert normalise("Delivered activity is outside +/- 20% of the prescribed activity.") in source
