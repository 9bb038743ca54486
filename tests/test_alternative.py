"""Doses in an alternative quantity (issue 9; language/altunits.py, engines/alternative.py).

"Where the exposure is not easily estimated in mSv or the dose unit is not
specified, you may apply an alternative recognised unit and specify this in
the notification." intended_dose and total_dose take a dose-area product, a
dose-length product, a CTDIvol or an air kerma; both in one quantity decide
from their ratio, region by region of the effective intended dose E. Every
evaluation here runs both engines (conftest.explained), and a few run the
columnar engine too.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from conftest import explained
from evaluator.engines.alternative import DoseUses, Outcome, decide, regions, uses
from evaluator.language.altunits import alternative_unit
from evaluator.language.values import Alternative

ADULT = {"jurisdiction": "England", "exposure": "unintended", "modality": "interventional", "age": 63}


def dap(intended: str, total: str, **facts) -> dict:
    return {**ADULT, "intended_dose": intended, "total_dose": total, **facts}


# ------------------------------------------------------------------ spellings

@pytest.mark.parametrize("text, quantity, value", [
    ("50 Gy cm2", "dose-area product", Fraction(50)),
    ("50 Gy·cm²", "dose-area product", Fraction(50)),
    ("50 Gy.cm2", "dose-area product", Fraction(50)),
    ("50000 mGy cm2", "dose-area product", Fraction(50)),
    ("5000 cGy cm2", "dose-area product", Fraction(50)),
    ("5000 µGy m2", "dose-area product", Fraction(50)),
    ("5000 μGy m^2", "dose-area product", Fraction(50)),
    ("5000 uGy m²", "dose-area product", Fraction(50)),
    ("0.005 Gy m2", "dose-area product", Fraction(50)),
    ("800 mGy cm", "dose-length product", Fraction(800)),
    ("800 mGy·cm", "dose-length product", Fraction(800)),
    ("8000 mGy mm", "dose-length product", Fraction(800)),
    ("12 mGy CTDIvol", "CTDIvol", Fraction(12)),
    ("12 mGy CTDI vol", "CTDIvol", Fraction(12)),
    ("0.3 Gy air kerma", "air kerma", Fraction(300)),
    ("300 mGy Air Kerma", "air kerma", Fraction(300)),
    ("1e3 mGy cm", "dose-length product", Fraction(1000)),
])
def test_spellings_read_exactly(g2024, text, quantity, value):
    read = g2024.read(dap("1 mSv", "2 mSv") | {"intended_dose": text, "total_dose": text})
    assert set(read.alternative) == {"intended_dose", "total_dose"}
    dose = read.alternative["total_dose"]
    assert (dose.quantity, dose.value) == (quantity, value)
    assert "total_dose" not in read.values and "intended_dose" not in read.values  # unknown as effective doses


@pytest.mark.parametrize("unit", ["mGy", "Gycm2", "MGy cm2", "mGy cm3", "mGy CTDI", "Sv cm2", "mGy kerma"])
def test_not_an_alternative_unit(unit):
    assert alternative_unit(unit) is None


# ------------------------------------------------------------------ refusals

@pytest.mark.parametrize("facts, field, words", [
    pytest.param({"total_dose": "12 mGy"}, "total_dose", ['"12 mGy CTDIvol"', '"300 mGy air kerma"'],
                 id="bare-mGy-names-the-qualified-forms"),
    pytest.param({"foetal_exposure_unintended": True, "foetal_dose": "50 Gy cm2"}, "foetal_dose",
                 ["is a dose-area product", "only intended_dose and total_dose"], id="foetal-dose-in-DAP"),
    pytest.param({"infant_dose": "12 mGy CTDIvol"}, "infant_dose", ["is a CTDIvol"], id="infant-dose-in-CTDIvol"),
    pytest.param({"intended_dose": "5 mSv", "total_dose": "60 Gy cm2"}, "total_dose",
                 ["intended_dose 5 mSv (an effective dose)", "total_dose 60 Gy cm2 (a dose-area product)"],
                 id="DAP-with-mSv"),
    pytest.param({"intended_dose": "50 Gy cm2", "total_dose": "900 mGy cm"}, "total_dose",
                 ["(a dose-area product)", "(a dose-length product)"], id="DAP-with-DLP"),
    pytest.param({"intended_dose": "50 Gy cm2", "total_dose": "-60 Gy cm2"}, "total_dose", ["cannot be negative"],
                 id="negative"),
    pytest.param({"intended_dose": "50 Gy cm2", "total_dose": "1e31 Gy cm2"}, "total_dose", ["too large"],
                 id="beyond-the-size-bound"),
    pytest.param({"intended_dose": "50 Gy cm2", "total_dose": "1" * 31 + " Gy cm2"}, "total_dose",
                 ["significant digits"], id="beyond-the-digits-bound"),
])
def test_refused_with_a_message(guidance, facts, field, words):
    incident = {**ADULT, **facts}
    for result in (guidance.evaluate(incident), guidance.evaluate(incident, explain=True)):
        assert result.error is not None and result.error.field == field, result.error
        text = f"{result.error.message} {result.error.hint or ''}"
        for word in words:
            assert word in text, text


# ------------------------------------------------------------------ deciding from the ratio

# (intended, total, age, notifiable, codes, missing) under both versions: adult thresholds 3/25 mSv, factors 10/2.5.
RATIOS = [
    pytest.param("50 Gy cm2", "60 Gy cm2", 63, False, [], [], id="G-22-ratio-1.2"),
    pytest.param("50 Gy cm2", "600 Gy cm2", 63, None, [], ["intended_dose", "total_dose"], id="ratio-12"),
    pytest.param("50 Gy cm2", "500 Gy cm2", 63, None, [], ["intended_dose", "total_dose"], id="ratio-exactly-10"),
    pytest.param("50 Gy cm2", "499.99 Gy cm2", 63, None, [], ["intended_dose", "total_dose"],
                 id="ratio-just-under-10"),
    pytest.param("50 Gy cm2", "125 Gy cm2", 63, None, [], ["intended_dose", "total_dose"], id="ratio-exactly-2.5"),
    pytest.param("50 Gy cm2", "124.99 Gy cm2", 63, False, [], [], id="ratio-just-under-2.5"),
    pytest.param("50 Gy cm2", "50 Gy cm2", 63, False, [], [], id="ratio-1"),
    pytest.param("50 Gy cm2", "0 Gy cm2", 63, False, [], [], id="ratio-0"),
    pytest.param("400 mGy cm", "4 Gy cm", 63, None, [], ["intended_dose", "total_dose"], id="DLP-ratio-10"),
    pytest.param("10 mGy CTDIvol", "11 mGy CTDIvol", 63, False, [], [], id="CTDIvol-ratio-1.1"),
    pytest.param("50 Gy cm2", "60 Gy cm2", None, False, [], [], id="ratio-1.2-age-unknown"),
    pytest.param("50 Gy cm2", "600 Gy cm2", None, None, [], ["age", "intended_dose", "total_dose"],
                 id="ratio-12-age-unknown"),
    pytest.param("5 Gy cm2", "6000 mGy cm2", 63, False, [], [], id="ratio-1.2-units-mixed"),
]


@pytest.mark.parametrize("intended, total, age, notifiable, codes, missing", RATIOS)
def test_decided_from_the_ratio(guidance, intended, total, age, notifiable, codes, missing):
    facts = dap(intended, total, age=age)
    facts = {k: v for k, v in facts.items() if v is not None}
    result = explained(guidance, facts)
    assert result.error is None, result.error
    assert (result.notifiable, result.codes, result.missing) == (notifiable, codes, missing)
    assert any("not effective doses" in note for note in result.notes)
    if notifiable is None:
        assert any("would decide it" in note for note in result.notes)


# The table a result's notes give: each range of the effective intended dose, at each boundary on both sides.
TABLES = [
    pytest.param("600 Gy cm2", [
        "E < 0.25 mSv (total < 3 mSv): not notifiable",
        "0.25 mSv ≤ E < 0.3 mSv (3 mSv ≤ total < 3.6 mSv): notifiable, 2.1",
        "0.3 mSv ≤ E < 2.5 mSv (3.6 mSv ≤ total < 30 mSv): notifiable, 2.2",
        "2.5 mSv ≤ E ≤ 10 mSv (30 mSv ≤ total ≤ 120 mSv): notifiable, 2.3",
        "E > 10 mSv (total > 120 mSv): notifiable, 2.4"], id="ratio-12"),
    pytest.param("500 Gy cm2", [
        "E < 0.3 mSv (total < 3 mSv): not notifiable",
        "0.3 mSv ≤ E < 2.5 mSv (3 mSv ≤ total < 25 mSv): notifiable, 2.2",
        "2.5 mSv ≤ E ≤ 10 mSv (25 mSv ≤ total ≤ 100 mSv): notifiable, 2.3",
        "E > 10 mSv (total > 100 mSv): notifiable, 2.4"], id="ratio-exactly-10"),
    pytest.param("499.99 Gy cm2", [
        "E < 125000/49999 mSv (≈2.5 mSv) (total < 25 mSv): not notifiable",
        "125000/49999 mSv (≈2.5 mSv) ≤ E ≤ 10 mSv (25 mSv ≤ total ≤ 99.998 mSv): notifiable, 2.3",
        "E > 10 mSv (total > 99.998 mSv): notifiable, 2.4"], id="ratio-just-under-10"),
    pytest.param("125 Gy cm2", [
        "E < 10 mSv (total < 25 mSv): not notifiable",
        "E = 10 mSv (total = 25 mSv): notifiable, 2.3",  # the point of its own: 2.3 there, 2.4 above
        "E > 10 mSv (total > 25 mSv): notifiable, 2.4"],
        id="ratio-exactly-2.5"),
    pytest.param("124.99 Gy cm2", ["every E: not notifiable"], id="ratio-just-under-2.5"),
]


@pytest.mark.parametrize("total, lines", TABLES)
def test_the_regions_in_the_notes(g2024, total, lines):
    result = explained(g2024, dap("50 Gy cm2", total))
    start = next(i for i, note in enumerate(result.notes) if "not effective doses" in note)
    assert result.notes[start + 1:start + 1 + len(lines)] == lines
    assert not any("Gy cm2" in note and "mSv" in note for note in result.notes[start + 1:]), \
        "a region never shows a dose-area product as an effective dose"


def test_a_child_has_its_own_thresholds(g2024):
    # 2.1 for a child: 1 mSv; with r = 12, E < 1/12 mSv is not notifiable, and the note says so exactly.
    result = explained(g2024, dap("50 Gy cm2", "600 Gy cm2", age=10))
    assert "E < 1/12 mSv (≈0.08333 mSv) (total < 1 mSv): not notifiable" in result.notes


def test_one_dose_alone_is_unknown(g2024):
    result = explained(g2024, {**ADULT, "total_dose": "60 Gy cm2"})
    assert result.error is None
    assert result.notifiable is None and "total_dose" in result.missing
    assert any("total_dose 60 Gy cm2 is a dose-area product, not an effective dose" in n for n in result.notes)


def test_accidental_with_a_dose_area_product_asks_for_an_effective_dose(g2024):
    result = explained(g2024, {"jurisdiction": "England", "exposure": "accidental", "age": 40,
                               "total_dose": "60 Gy cm2"})
    assert (result.notifiable, result.missing) == (None, ["total_dose"])


@pytest.mark.parametrize("intended, total, notifiable, codes", [
    pytest.param("0 Gy cm2", "0 Gy cm2", False, [], id="no-dose-at-all"),
    pytest.param("0 Gy cm2", "60 Gy cm2", None, [], id="total-unknown"),
])
def test_a_zero_intended_dose_is_zero_mSv(g2024, intended, total, notifiable, codes):
    # As for "0 mSv": a conversion to effective dose is a factor, so zero is zero in any quantity.
    result = explained(g2024, dap(intended, total))
    assert (result.error, result.notifiable, result.codes) == (None, notifiable, codes)


def test_the_explanation_never_shows_a_made_up_dose(g2024):
    result = g2024.evaluate(dap("50 Gy cm2", "600 Gy cm2"), explain=True)
    # The rows read the doses as they are, unknown as effective doses, and say where the verdict comes from.
    row = next(c for c in result.explanation if c.code == "2.2")
    assert row.outcome == "undetermined"
    assert "0.3 mSv ≤ intended_dose unknown < 2.5 mSv: unknown" in row.reasons
    assert row.reasons[-1].startswith("intended_dose and total_dose are dose-area products: the verdict is worked")


def test_the_columnar_engine_agrees(g2024):
    incidents = [dap("50 Gy cm2", t) | {"id": t} for t in ("60 Gy cm2", "600 Gy cm2", "124.99 Gy cm2")]
    answer = g2024.evaluate_table(incidents)
    got = list(zip(answer.column("notifiable").to_pylist(), answer.column("missing").to_pylist()))
    want = [(r.notifiable, r.missing) for r in map(g2024.evaluate, incidents)]
    assert got == want


# ------------------------------------------------------------------ the module, on its own

def test_every_criteria_file_compares_the_doses_only_with_constants(guidance):
    found = uses(guidance.checked)
    assert found.refusal is None
    assert {fact for fact, _ in found.points} == {"intended_dose", "total_dose"}


def test_regions_cover_every_dose():
    found = DoseUses(points=(("intended_dose", Fraction(1)), ("total_dose", Fraction(3))))
    pieces = regions(found, Fraction(2))  # edges 1 and 3/2
    assert [(r.lo, r.hi) for r in pieces] == [(0, 1), (1, 1), (1, Fraction(3, 2)), (Fraction(3, 2), Fraction(3, 2)),
                                             (Fraction(3, 2), None)]
    assert all(r.lo <= r.at and (r.hi is None or r.at <= r.hi) for r in pieces)
    assert [r.at for r in pieces if r.point] == [1, Fraction(3, 2)]


def test_notifiable_whatever_the_dose_but_the_code_open():
    found = DoseUses(points=(("intended_dose", Fraction(1)),))
    outcomes = {True: Outcome(True, ("2.2",), (), ()), False: Outcome(True, ("2.4",), (), ())}
    composed = decide(found, Alternative(Fraction(1), "dose-area product", "1 Gy cm2"),
                      Alternative(Fraction(3), "dose-area product", "3 Gy cm2"), "dose-area product",
                      lambda e, t: outcomes[e < 1], lambda outcome, notes: (outcome, notes), [])
    outcome, notes = composed
    assert (outcome.notifiable, outcome.codes, outcome.missing) == (True, (), ())
    assert "notifiable whatever the effective dose, but the code depends on it: one of 2.2, 2.4" in notes
