"""Editor support: the TextMate grammar in editors/ and the VS Code extension that ships it.

The grammar is read by VS Code (vscode-textmate with Oniguruma), Sublime Text
(after conversion to a plist), JetBrains IDEs and others. It keeps to
single-line `match` rules and to regex constructs that Oniguruma and Python's
`re` read alike, so this test can run it with a small matcher of its own that
follows the TextMate rules: at each position the rule whose match starts
first wins, the earlier rule on a tie; `captures` scope the groups, and a
capture with `patterns` is tokenised again with them.
"""

from __future__ import annotations

import json
import re
import warnings
from functools import lru_cache

import pytest

from conftest import ROOT

EDITORS = ROOT / "editors"
GRAMMAR_FILE = EDITORS / "irmer.tmLanguage.json"
VSCODE = EDITORS / "vscode"
LARK = ROOT / "grammar" / "irmer.lark"
SHIPPED = sorted((ROOT / "criteria").glob("*.irmer"))

# Scopes that mark a word as part of the language rather than a name or a value.
KEYWORD_SCOPES = ("keyword.control.", "keyword.other.clause.", "keyword.other.header.", "keyword.other.irmer",
                  "keyword.other.expectation.", "keyword.operator.", "constant.language.")


@lru_cache(maxsize=1)
def grammar() -> dict:
    return json.loads(GRAMMAR_FILE.read_text(encoding="utf-8"))


def all_rules(node=None):
    """Every rule object of the grammar (anything with `match`, `begin` or `include`), wherever it is."""
    node = grammar() if node is None else node
    if isinstance(node, dict):
        if any(key in node for key in ("match", "begin", "include")):
            yield node
        for value in node.values():
            yield from all_rules(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_rules(value)


def regexes():
    for rule in all_rules():
        for key in ("match", "begin", "end", "while"):
            if key in rule:
                yield rule[key]


# ------------------------------------------------------------------ a tiny TextMate matcher

def flatten(patterns: list[dict]) -> list[dict]:
    """Resolve `include`s: `#name` from the repository, `$self` for the top-level patterns."""
    out: list[dict] = []
    for rule in patterns:
        if "include" in rule:
            target = rule["include"]
            if target in ("$self", "$base"):
                out += flatten(grammar()["patterns"])
                continue
            assert target.startswith("#"), f"cannot include {target}"
            entry = grammar()["repository"][target[1:]]
            out += flatten(entry["patterns"]) if "patterns" in entry else [entry]
        else:
            out.append(rule)
    return out


@lru_cache(maxsize=None)
def compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def tokenise(line: str, patterns: list[dict] | None = None) -> list[list[str]]:
    """The scopes of each character of a line (outermost first)."""
    scopes: list[list[str]] = [[] for _ in line]
    _tokenise(line, len(line), 0, flatten(grammar()["patterns"] if patterns is None else patterns), scopes)
    return scopes


def _tokenise(line: str, stop: int, pos: int, rules: list[dict], scopes: list[list[str]]) -> None:
    text = line[:stop]
    while pos <= stop:
        best = None
        for rule in rules:
            match = compiled(rule["match"]).search(text, pos)
            if match and (best is None or match.start() < best[0].start()):
                best = (match, rule)
        if best is None:
            return
        match, rule = best
        if match.end() == match.start():  # an empty match: step over a character
            pos = match.end() + 1
            continue
        if "name" in rule:
            for i in range(match.start(), match.end()):
                scopes[i].append(rule["name"])
        for group, capture in sorted(rule.get("captures", {}).items(), key=lambda kv: int(kv[0])):
            start, end = match.span(int(group))
            if start < 0 or start == end:
                continue
            if "name" in capture:
                for i in range(start, end):
                    scopes[i].append(capture["name"])
            if "patterns" in capture:
                _tokenise(line, end, start, flatten(capture["patterns"]), scopes)
        pos = match.end()


def scopes_at(line: str, word: str, occurrence: int = 0) -> list[str]:
    """The scopes of the first character of the n-th whole-word occurrence of `word` in `line`."""
    before = r"(?<![\w.])" if re.match(r"\w", word) else ""
    after = r"(?![\w.])" if re.search(r"\w$", word) else ""
    starts = [m.start() for m in re.finditer(before + re.escape(word) + after, line)]
    assert len(starts) > occurrence, f"{word!r} is not in {line!r}"
    return tokenise(line)[starts[occurrence]]


def innermost(line: str, word: str, occurrence: int = 0) -> str:
    found = scopes_at(line, word, occurrence)
    return found[-1] if found else ""


# ------------------------------------------------------------------------ structure

def test_grammar_is_json_with_the_expected_structure():
    g = grammar()
    assert g["scopeName"] == "source.irmer"
    assert "irmer" in g["fileTypes"]
    assert isinstance(g["patterns"], list) and g["patterns"]
    assert isinstance(g["repository"], dict)
    for rule in all_rules():
        if "include" in rule:
            target = rule["include"]
            assert target in ("$self", "$base") or target[1:] in g["repository"], f"unknown include {target}"
        else:
            # Single-line rules only: the matcher above runs the whole grammar, and a typo cannot
            # leave the rest of a file inside an unclosed begin/end region.
            assert "match" in rule and "begin" not in rule, rule
            assert "name" in rule or "captures" in rule, f"a rule that scopes nothing: {rule['match']}"
    for name, entry in g["repository"].items():
        assert "patterns" in entry or "match" in entry, name


def test_every_scope_ends_with_the_language_name():
    names = [rule["name"] for rule in all_rules() if "name" in rule]
    names += [capture["name"] for rule in all_rules() for capture in rule.get("captures", {}).values()
              if "name" in capture]
    assert names
    assert all(name.endswith(".irmer") for name in names), [n for n in names if not n.endswith(".irmer")]


def test_every_regex_compiles_with_python_re():
    patterns = list(regexes())
    assert len(patterns) > 20
    for pattern in patterns:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. `[[:alpha:]]`, which Python reads as a nested set
            re.compile(pattern)
        # Constructs that compile in both engines but mean different things, or only in one.
        assert "[:" not in pattern, f"POSIX bracket in {pattern}"
        assert "(?<" not in pattern.replace("(?<=", "").replace("(?<!", ""), f"named group in {pattern}"
        assert not re.search(r"\\[GhHzAK]", pattern), f"an Oniguruma-only escape in {pattern}"


def test_the_vscode_extension_ships_the_same_grammar():
    copy = VSCODE / "syntaxes" / "irmer.tmLanguage.json"
    assert copy.read_text(encoding="utf-8") == GRAMMAR_FILE.read_text(encoding="utf-8"), \
        "editors/vscode/syntaxes/irmer.tmLanguage.json differs from editors/irmer.tmLanguage.json: copy it over"


def test_vscode_package_declares_the_language_and_grammar():
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    assert package["engines"]["vscode"]
    (language,) = package["contributes"]["languages"]
    assert language["id"] == "irmer"
    assert ".irmer" in language["extensions"]
    assert (VSCODE / language["configuration"]).is_file()
    (entry,) = package["contributes"]["grammars"]
    assert entry["language"] == "irmer" and entry["scopeName"] == "source.irmer"
    assert (VSCODE / entry["path"]).resolve() == (VSCODE / "syntaxes" / "irmer.tmLanguage.json").resolve()
    config = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["(", ")"] in config["brackets"]
    assert any(pair["open"] == '"' and pair["close"] == '"' for pair in config["autoClosingPairs"])
    assert (VSCODE / "README.md").is_file()


# ---------------------------------------------------------------------------- scopes

@pytest.mark.parametrize("line, word, scope", [
    ('guidance "irmer-2024-08-28"', "guidance", "keyword.control.block.irmer"),
    ('guidance "irmer-2024-08-28"', '"irmer-2024-08-28"', "string.quoted.double.irmer"),
    ("  in force    2024-08-28", "in", "keyword.other.header.irmer"),
    ("  in force    2024-08-28", "2024-08-28", "constant.numeric.date.irmer"),
    ("  row 4.2b", "row", "keyword.control.block.irmer"),
    ("  row 4.2b", "4.2b", "constant.other.code.irmer"),
    ('  row 1 "England only"', "1", "constant.other.code.irmer"),
    ('  row 1 "England only"', '"England only"', "string.quoted.double.irmer"),
    ("complementary M", "M", "constant.other.code.irmer"),
    ('    says     "10 or more times than intended"', "says", "keyword.other.clause.irmer"),
    ('    says     "10 or more times than intended"', '"10', "string.quoted.double.says.irmer"),
    ('    category "Foetal All modalities"', '"Foetal', "string.quoted.double.category.irmer"),
    ('    note "a # in text is not a comment"', "#", "string.quoted.double.irmer"),
    ("    when     foetal_dose >= 10 mGy  # the threshold", "when", "keyword.other.clause.irmer"),
    ("    when     foetal_dose >= 10 mGy  # the threshold", "foetal_dose", "variable.other.irmer"),
    ("    when     foetal_dose >= 10 mGy  # the threshold", ">=", "keyword.operator.comparison.irmer"),
    ("    when     foetal_dose >= 10 mGy  # the threshold", "10", "constant.numeric.irmer"),
    ("    when     foetal_dose >= 10 mGy  # the threshold", "mGy", "keyword.other.unit.irmer"),
    ("    when     foetal_dose >= 10 mGy  # the threshold", "threshold", "comment.line.number-sign.irmer"),
    ("    band     0.3 mSv <= intended_dose < 2.5 mSv", "2.5", "constant.numeric.irmer"),
    ("    when     ptv_delivered_dose >= 1.1 times ptv_intended_dose", "1.1", "constant.numeric.irmer"),
    ("    when     ptv_delivered_dose >= 1.1 times ptv_intended_dose", "times", "keyword.operator.word.irmer"),
    ("  suffix   1 to 9", "to", "keyword.other.irmer"),
    ("         and additional_images >= 50% of intended_images", "50", "constant.numeric.percentage.irmer"),
    ("         and additional_images >= 50% of intended_images", "and", "keyword.operator.logical.irmer"),
    ("         and additional_images >= 50% of intended_images", "of", "keyword.operator.word.irmer"),
    ("    when     delivered_activity outside ±20% of prescribed_activity", "outside",
     "keyword.operator.word.irmer"),
    ("    when     delivered_activity outside ±20% of prescribed_activity", "±",
     "keyword.operator.tolerance.irmer"),
    ("    when     delivered_activity within +/-10% of prescribed_activity", "within",
     "keyword.operator.word.irmer"),
    ("         and (criteria of 8.1 or criteria of 8.2)", "criteria", "keyword.operator.word.irmer"),
    ("         and (criteria of 8.1 or criteria of 8.2)", "8.2", "constant.other.code.irmer"),
    ("    unless   geographical_miss is not none", "not", "keyword.operator.logical.irmer"),
    ("    unless   geographical_miss is not none", "none", "constant.other.value.irmer"),
    ("    when     imaging_cause is one of set_up_error, hardware_software_failure", "hardware_software_failure",
     "constant.other.value.irmer"),
    ('    in       "Northern Ireland", Scotland, Wales', "Scotland", "constant.other.value.irmer"),
    ("  codes 2.1, 2.2, 2.3, 2.4, 4.1, M", "4.1", "constant.other.code.irmer"),
    ("  codes 2.1, 2.2, 2.3, 2.4, 4.1, M", "M", "constant.other.code.irmer"),
    ("  expect codes 4.2c, M4.2c, E4.2c", "E4.2c", "constant.other.code.irmer"),
    ("  expect not notifiable", "notifiable", "keyword.other.expectation.irmer"),
    ("  expect notify_by 2024-11-18", "2024-11-18", "constant.numeric.date.irmer"),
    ("deadline notify_by: 2 weeks after discovered_on", "weeks", "keyword.other.unit.irmer"),
    ("deadline notify_by: 2 weeks after discovered_on", "after", "keyword.other.irmer"),
    ("deadline notify_by: 2 weeks after discovered_on", "notify_by", "entity.name.function.irmer"),
    ("define multiplication_factor", "multiplication_factor", "entity.name.function.irmer"),
    ("  as age < 16 years if jurisdiction is Scotland", "years", "keyword.other.unit.irmer"),
    ("  as age < 16 years if jurisdiction is Scotland", "if", "keyword.other.irmer"),
    ("    when     always", "always", "constant.language.irmer"),
    ("    total_dose 7 mSv", "mSv", "keyword.other.unit.irmer"),
    ("    jurisdiction England", "jurisdiction", "variable.other.fact.irmer"),
    ("fact foetal_dose: absorbed dose", "foetal_dose", "variable.other.fact.declaration.irmer"),
    ("fact foetal_dose: absorbed dose", "absorbed", "storage.type.kind.irmer"),
    ("fact theme: yes or no", "yes", "constant.language.boolean.irmer"),
    ("fact modality: one or more of diagnostic, radiotherapy", "more", "keyword.operator.word.irmer"),
    ("fact modality: one or more of diagnostic, radiotherapy", "diagnostic", "constant.other.value.irmer"),
    ("  at least 1", "at", "keyword.other.clause.irmer"),
    ("  unit years", "years", "keyword.other.unit.irmer"),
    ('    says "an unclosed text', '"an', "invalid.illegal.unclosed-string.irmer"),
])
def test_scopes(line, word, scope):
    assert innermost(line, word) == scope, f"{word!r} in {line!r}: {scopes_at(line, word)}"


def test_keyword_inside_a_string_or_comment_is_not_a_keyword():
    line = '    note "when and row are words here"  # and so is when'
    for occurrence in range(2):
        assert not any(s.startswith("keyword") for s in scopes_at(line, "when", occurrence))


# -------------------------------------------------------------- coverage of the language

def grammar_keywords() -> list[str]:
    """Every double-quoted word of grammar/irmer.lark (as tests/test_docs.py reads them)."""
    lines = [line for line in LARK.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("//")]
    return sorted(set(re.findall(r'"([A-Za-z]+)"', "\n".join(lines))))


def sample_lines() -> list[str]:
    """Lines of the language as written: the shipped files and the code in docs/language.md."""
    lines = [line for path in SHIPPED for line in path.read_text(encoding="utf-8").splitlines()]
    markdown = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    for block in re.findall(r"^```(?:irmer|text)[ \t]*\n(.*?)^```", markdown, flags=re.M | re.S):
        lines += block.splitlines()
    rest = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.M | re.S)
    lines += re.findall(r"`([^`\n]+)`", rest)
    return lines


def test_every_keyword_of_the_grammar_is_highlighted_as_a_keyword():
    keywords = grammar_keywords()
    assert {"guidance", "row", "when", "says", "outside", "within", "includes", "times"} <= set(keywords)
    lines = sample_lines()
    missing = []
    for word in keywords:
        highlighted = False
        for line in lines:
            for match in re.finditer(rf"(?<![\w.]){word}(?![\w.])", line):
                if any(s.startswith(KEYWORD_SCOPES) for s in tokenise(line)[match.start()]):
                    highlighted = True
                    break
            if highlighted:
                break
        if not highlighted:
            missing.append(word)
    assert not missing, f"keywords never highlighted as keywords in the shipped files or docs: {missing}"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_have_every_word_scoped(path):
    """Every non-blank character of a shipped file gets a scope, and none is marked invalid."""
    unscoped, invalid = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        scopes = tokenise(line)
        for i, char in enumerate(line):
            if char.isspace():
                continue
            if not scopes[i]:
                unscoped.append(f"{number}:{i + 1} {char!r} in {line.strip()!r}")
            if any(s.startswith("invalid") for s in scopes[i]):
                invalid.append(f"{number}:{i + 1} in {line.strip()!r}")
    assert not invalid, "\n".join(invalid[:20])
    assert not unscoped, "\n".join(unscoped[:20])


def test_units_exclude_the_same_keywords_as_the_grammar():
    """A word after a number is a unit unless it is a keyword: the same list as the UNIT terminal."""
    lark = next(line for line in LARK.read_text(encoding="utf-8").splitlines() if line.startswith("UNIT:"))
    expected = set(re.search(r"\(\?!\(\?:([a-z|]+)\)", lark).group(1).split("|"))
    (rule,) = [r for r in all_rules() if "keyword.other.unit.irmer" in str(r.get("captures", {}))
               and "constant.numeric.irmer" in str(r.get("captures", {}))]
    found = set(re.search(r"\(\?!\(\?:([a-z|]+)\)", rule["match"]).group(1).split("|"))
    assert found == expected
