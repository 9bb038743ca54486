"""The parse driver (evaluator/language/lalr.py) builds exactly Lark's tree, or gives the text back to Lark.

Compared node by node: rule names, tokens with every position, and each
node's meta (positions, container positions, empty), on every shipped file
and on mutants of them (lines dropped, repeated, swapped, cut, characters
changed; 40 a file in `make test`, 1,600 in `make fuzz`), which parse, fail,
or parse to other trees.
"""

from __future__ import annotations

import random

import pytest
from lark import Token, Tree

from evaluator.language.lalr import Driver
from evaluator.language.parse import driver, parse_text, parser

from conftest import ROOT
from fuzz import examples

FILES = sorted((ROOT / "criteria").glob("*.irmer")) + sorted((ROOT / "tests").rglob("*.irmer"))
META = ("empty", "line", "column", "start_pos", "end_line", "end_column", "end_pos", "container_line",
        "container_column", "container_start_pos", "container_end_line", "container_end_column", "container_end_pos")
TOKEN = ("type", "value", "start_pos", "line", "column", "end_line", "end_column", "end_pos")


def dump(node: object) -> list:
    """Every node of a tree in order, with everything Lark records about it."""
    out: list = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Tree):
            meta = item.meta
            out.append((type(item), str(item.data), len(item.children),
                        tuple(getattr(meta, name, None) for name in META), sorted(vars(meta))))
            stack.extend(reversed(item.children))
        else:
            assert type(item) is Token
            out.append(tuple(getattr(item, name) for name in TOKEN))
    return out


def lark_tree(text: str) -> Tree | None:
    try:
        return parser().parse(text)
    except Exception:  # noqa: BLE001 - any error of Lark's: the driver must give up too
        return None


def mutants(text: str, count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = text.split("\n")
    out = []
    for _ in range(count):
        new = list(lines)
        i, j = rng.randrange(len(new)), rng.randrange(len(new))
        how = rng.choice(["drop", "repeat", "swap", "cut", "char", "indent"])
        if how == "drop":
            del new[i]
        elif how == "repeat":
            new.insert(i, new[j])
        elif how == "swap":
            new[i], new[j] = new[j], new[i]
        elif how == "cut":
            new = new[:i]
        elif how == "char" and new[i]:
            k = rng.randrange(len(new[i]))
            new[i] = new[i][:k] + rng.choice('()"#%±<=,:x1 \t') + new[i][k + 1:]
        else:
            new[i] = "  " + new[i]
        out.append("\n".join(new) + "\n")
    return out


def test_the_driver_runs_on_our_grammar():
    assert driver().ok


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_same_tree_as_lark_on_every_shipped_file(path):
    text = path.read_text(encoding="utf-8")
    mine = driver().parse(text)
    assert mine is not None
    assert dump(mine) == dump(parser().parse(text))


@pytest.mark.parametrize("path", FILES[:3], ids=lambda p: p.name)
def test_mutants_parse_to_lark_tree_or_fall_back(path):
    text = path.read_text(encoding="utf-8")
    outcomes = set()
    # 40 mutants a file in `make test`, forty times as many in `make fuzz` (the hypothesis profile's budget).
    for mutant in mutants(text, examples(40), seed=len(text)):
        theirs = lark_tree(mutant)
        mine = driver().parse(mutant)
        if theirs is None:
            assert mine is None, mutant
        else:
            assert mine is not None and dump(mine) == dump(theirs)
        outcomes.add(theirs is None)
    assert outcomes == {True, False}  # both kinds were tried


@pytest.mark.parametrize("text", [
    'vocabulary "v"\nfact age: duration\n',
    'vocabulary "v"\n\n# a comment\nfact age: duration  # another\n  unit years\n',
    'guidance "g"\ndefine d\n  as (age < 3 years\n    and (age > 1 years))\n',
])
def test_small_texts(text):
    assert dump(driver().parse(text)) == dump(parser().parse(text))


def test_a_syntax_error_is_lark_s():
    text = 'vocabulary "v"\nfact age duration\n'
    assert driver().parse(text) is None
    with pytest.raises(Exception) as error:
        parse_text(text, "v.irmer")
    assert "v.irmer:2" in str(error.value.diagnostics[0].span)


def test_a_new_driver_over_the_same_parser_agrees():
    text = FILES[0].read_text(encoding="utf-8")
    assert dump(Driver(parser()).parse(text)) == dump(driver().parse(text))
