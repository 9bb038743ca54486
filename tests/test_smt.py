"""The z3 encoding is honest: on complete incidents it agrees with the evaluator.

The diff proves things about every incident with the z3 formulas of
evaluator/engines/smt.py; this test checks those formulas against the evaluator itself
on thousands of random complete incidents, for every code, complementary code
and the overall verdict, in both shipped versions.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
import z3

from evaluator.language.incident import IncidentError

from evaluator import compile_text, load_criteria
from evaluator.engines.smt import Encoded, Space, rational
from evaluator.language.units import BOOL, ENUM, KINDS, SET

from conftest import ROOT, explained

# Values around every threshold the shipped criteria use, in each kind's units.
NEAR = {
    "effective dose": ["0.001 mSv", "0.2 mSv", "0.29 mSv", "0.3 mSv", "0.5 mSv", "0.99 mSv", "1 mSv", "2.5 mSv",
                       "2.9 mSv", "3 mSv", "3000 uSv", "8 mSv", "10 mSv", "10.01 mSv", "12 mSv", "24.9 mSv",
                       "25 mSv", "30 mSv", "100 mSv"],
    "absorbed dose": ["1.8 Gy", "2 Gy", "2.2 Gy", "2.4 Gy", "9 mGy", "10 mGy", "54 Gy", "54.1 Gy", "60 Gy", "65.9 Gy",
                      "66 Gy", "6600 cGy"],
    "activity": ["1.19 GBq", "1.2 GBq", "1.5 GBq", "1.8 GBq", "1.81 GBq", "5.04 GBq", "5.6 GBq", "6.16 GBq",
                 "150 mCi", "700 MBq"],
    "length": ["4 mm", "9.9 mm", "10 mm", "1 cm", "12 mm"],
    "duration": ["5 years", "15 years", "16 years", "17 years", "18 years", "40 years"],
    "ratio": ["1", "2.5", "10"],
}


def random_incident(rng: random.Random, facts) -> dict:
    incident = {}
    for name, info in facts.items():
        if info.kind == BOOL:
            incident[name] = rng.random() < 0.5
        elif info.kind == ENUM:
            incident[name] = rng.choice(info.values)
        elif info.kind == SET:
            incident[name] = rng.sample(info.values, rng.choice([1, 1, 1, 2]))
        elif info.kind == "count":
            incident[name] = rng.randint(int(info.minimum or 0), 8)
        elif info.kind == "date":
            incident[name] = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        elif info.kind in NEAR:
            incident[name] = rng.choice(NEAR[info.kind])
    # What happened derives the exposure (and near_miss, wrong_radiopharmaceutical): drawn consistent with them,
    # an exposure, never a near miss (which has no exposure to substitute).
    if "event" in incident:
        incident["event"] = rng.choice([v for v in facts["event"].values if v != "near_miss"])
        for derived in ("exposure", "near_miss"):
            incident.pop(derived, None)
        if incident["event"] == "wrong_radiopharmaceutical":
            incident["wrong_radiopharmaceutical"] = True
    return incident


def substitution(space: Space, read) -> list[tuple]:
    pairs = []
    for name, info in space.facts.items():
        var = space.vars.get(name)
        if var is None:
            continue
        value = read.values[name]
        if info.kind == BOOL:
            pairs.append((var, z3.BoolVal(value)))
        elif info.kind == ENUM:
            pairs.append((var, z3.IntVal(info.values.index(value))))
        elif info.kind == SET:
            pairs += [(member, z3.BoolVal(v in value)) for v, member in var.items()]
        elif info.kind == "count":
            pairs.append((var, z3.IntVal(int(value.value))))
        elif info.kind in KINDS and KINDS[info.kind].numeric:
            pairs.append((var, rational(value.value)))
    return pairs


def truths(formulas: list, pairs: list[tuple]) -> list[bool]:
    """Each formula with the incident's values put in for its variables, simplified: true or false.

    This is z3.substitute, whose Python checks of the pairs' sorts, made again for each formula,
    were nine tenths of this test's time: here they are made once for all the formulas.
    """
    assert all(z3.is_expr(a) and z3.is_expr(b) and a.sort().eq(b.sort()) for a, b in pairs)
    size = len(pairs)
    before = (z3.Ast * size)(*[a.as_ast() for a, _ in pairs])
    after = (z3.Ast * size)(*[b.as_ast() for _, b in pairs])
    out = []
    for formula in formulas:
        ctx = formula.ctx
        result = z3.simplify(z3.BoolRef(z3.Z3_substitute(ctx.ref(), formula.as_ast(), size, before, after), ctx))
        assert z3.is_true(result) or z3.is_false(result), result
        out.append(z3.is_true(result))
    return out


def holds(formula, pairs) -> bool:
    return truths([formula], pairs)[0]


def test_truths_is_substitute():
    x, y, b = z3.Int("x"), z3.Real("y"), z3.Bool("b")
    formulas = [x > 2, z3.And(b, y <= x), z3.Or(z3.Not(b), y * 2 == 3)]
    for values in [(3, "3/2", True), (2, "3/2", True), (3, 4, False), (1, 0, False)]:
        pairs = [(x, z3.IntVal(values[0])), (y, z3.RealVal(values[1])), (b, z3.BoolVal(values[2]))]
        assert truths(formulas, pairs) == [z3.is_true(z3.simplify(z3.substitute(f, *pairs))) for f in formulas]
    with pytest.raises(AssertionError):  # a variable left without a value
        truths([x > y], [(x, z3.IntVal(1))])
    with pytest.raises(AssertionError):  # a value of another sort
        truths([x > 2], [(x, z3.BoolVal(True))])


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_encoding_agrees_with_the_evaluator(version):
    guidance = load_criteria(version)
    space = Space(guidance.vocabulary.facts)
    encoded = Encoded(guidance, space)
    formulas = {code: encoded.code_met(code) for code in encoded.codes()}
    notifiable = encoded.notifiable()
    domain = z3.And(space.domain(), encoded.consistent())
    rng = random.Random(f"smt-{version}")
    counts = {code: [0, 0] for code in formulas}
    for _ in range(1000):
        incident = random_incident(rng, guidance.vocabulary.facts)
        try:
            read = guidance.read(incident)
        except IncidentError:
            continue  # contradictory facts (a `conflict` of the file): refused, outside the diff's input space
        pairs = substitution(space, read)
        if not holds(domain, pairs):
            continue  # outside the diff's input space (an intended dose of 0)
        result = explained(guidance, incident)
        assert result.notifiable is not None, (incident, result.missing)
        verdict, *met = truths([notifiable, *formulas.values()], pairs)
        assert verdict == result.notifiable, incident
        outcomes = {e.code: e.outcome for e in result.explanation if e.role is not None}
        for code, expected in zip(formulas, met):
            if code in outcomes:
                assert expected == (outcomes[code] == "met"), (code, incident)
            else:
                assert expected == (code in result.codes), (code, incident)
            counts[code][expected] += 1
    # The random incidents reach both outcomes of every code: the check is not vacuous.
    assert {code for code, (no, yes) in counts.items() if not (no and yes)} == set()


def test_domain_requires_a_positive_intended_dose():
    guidance = load_criteria("2024")
    space = Space(guidance.vocabulary.facts)
    Encoded(guidance, space)
    assert "intended_dose" in space.positive
    solver = z3.Solver()
    solver.add(space.domain(), space.vars["intended_dose"] == 0)
    assert solver.check() == z3.unsat


def test_formulas_are_built_once_per_file_and_never_shared():
    """Encoded memoises each formula (lint asks hundreds of questions of the same rows): asked again, the
    same term; but the memo is the file's own, so an edited file, encoded over the same space after it,
    gets its own formulas, not the ones the first file built for the same code and row."""
    shipped = load_criteria("2024")
    edited = compile_text(shipped.source.replace("band     0.3 mSv <= intended_dose < 2.5 mSv",
                                                 "band     0.3 mSv <= intended_dose < 2 mSv"),
                          "edited.irmer", ROOT / "criteria")
    space = Space(shipped.vocabulary.facts)
    first, second = Encoded(shipped, space), Encoded(edited, space)
    assert first.code_met("2.2") is first.code_met("2.2")
    (row,) = first.rows_by_code["2.2"]
    assert first.row_met(row) is first.row_met(row) and first.cond(row.band) is first.cond(row.band)
    (edited_row,) = second.rows_by_code["2.2"]
    for old, new in ((first.code_met("2.2"), second.code_met("2.2")), (first.row_met(row), second.row_met(edited_row)),
                     (first.cond(row.band), second.cond(edited_row.band)),
                     (first.in_category("2.2"), second.in_category("2.2")), (first.notifiable(), second.notifiable())):
        solver = z3.Solver()
        solver.add(space.domain(), old != new, space.vars["intended_dose"] == rational(Fraction(9, 4000)))
        assert solver.check() == z3.sat  # 2.25 mSv: in the shipped band of 2.2, not in the edited one
