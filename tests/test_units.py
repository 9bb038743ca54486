"""Reading an incident: units, exact numbers, refused inputs, age from dates.

Every quantity is converted exactly to its kind's base unit when the incident
is read, so the same dose in any spelling gives the same result at the
threshold and just past it. Inputs that cannot be read give `result.error`
naming the field, with a message a reporter can act on.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

MICRO_SIGN = "\u00b5"  # µ
GREEK_MU = "\u03bc"  # μ


def incident(jurisdiction="England", exposure="unintended", modality="diagnostic", **facts) -> dict[str, Any]:
    return {"jurisdiction": jurisdiction, "exposure": exposure, "modality": modality, **facts}


def value_of(guidance, fact: str, raw: Any) -> Fraction:
    return guidance.read({fact: raw}).values[fact].value


def evaluated(guidance, facts):
    result = explained(guidance, facts)
    assert result.error is None, result.error
    return result


# --------------------------------------------------------- effective dose

EXACTLY_3_MSV = ["3000 uSv", f"3000 {MICRO_SIGN}Sv", f"3000 {GREEK_MU}Sv", "3 mSv", "0.003 Sv", "3e-3 Sv",
                 "3mSv", "  3   mSv  ", "3.000 mSv"]
JUST_BELOW_3_MSV = ["2999 uSv", f"2999 {MICRO_SIGN}Sv", f"2999 {GREEK_MU}Sv", "2.999 mSv", "0.002999 Sv",
                    "2999.999 uSv"]


@pytest.mark.parametrize("dose", EXACTLY_3_MSV, ids=EXACTLY_3_MSV)
def test_effective_dose_exactly_3_mSv(guidance, dose):
    assert value_of(guidance, "total_dose", dose) == Fraction(3, 1000)  # sievert
    result = evaluated(guidance, incident(exposure="accidental", age=40, total_dose=dose))
    assert (result.notifiable, result.codes) == (True, ["1"])


@pytest.mark.parametrize("dose", JUST_BELOW_3_MSV, ids=JUST_BELOW_3_MSV)
def test_effective_dose_just_below_3_mSv(guidance, dose):
    assert value_of(guidance, "total_dose", dose) < Fraction(3, 1000)
    result = evaluated(guidance, incident(exposure="accidental", age=40, total_dose=dose))
    assert (result.notifiable, result.codes) == (False, [])


@pytest.mark.parametrize("intended, total, notifiable, codes", [
    pytest.param("300 uSv", "0.003 Sv", True, ["2.2"], id="0.3mSv-in-uSv-exactly-10x-in-Sv"),
    pytest.param("0.0003 Sv", "2999 uSv", False, [], id="0.3mSv-in-Sv-just-under-10x-in-uSv"),
    pytest.param("299 uSv", "3 mSv", True, ["2.1"], id="just-below-0.3mSv-band-2.1"),
    pytest.param("2500 uSv", "0.025 Sv", True, ["2.3"], id="2.5mSv-in-uSv-band-2.3"),
    pytest.param("0.01 Sv", "25000 uSv", True, ["2.3"], id="10mSv-in-Sv-band-2.3"),
    pytest.param("10001 uSv", "25.0025 mSv", True, ["2.4"], id="just-above-10mSv-band-2.4"),
])
def test_effective_dose_units_at_band_edges(guidance, intended, total, notifiable, codes):
    result = evaluated(guidance, incident(age=40, intended_dose=intended, total_dose=total))
    assert (result.notifiable, result.codes) == (notifiable, codes)


@pytest.mark.parametrize("dose, expected", [
    pytest.param("1 mSv", Fraction(1, 1000), id="mSv"),
    pytest.param("1000 uSv", Fraction(1, 1000), id="uSv"),
    pytest.param("1 Sv", Fraction(1), id="Sv"),
    pytest.param("0.1 mSv", Fraction(1, 10000), id="decimal-read-exactly"),
    pytest.param("1e1 mSv", Fraction(1, 100), id="exponent"),
])
def test_effective_dose_values(guidance, dose, expected):
    assert value_of(guidance, "infant_dose", dose) == expected


# ----------------------------------------------------------- absorbed dose

RT_PLANNED = {"ptv_intended_dose": "60 Gy", "oar_intended_dose": "40 Gy", "oar_delivered_dose": "40 Gy",
              "fraction_intended_dose": "2 Gy", "fraction_delivered_dose": "2 Gy"}


@pytest.mark.parametrize("intended, delivered, codes", [
    pytest.param("60 Gy", "66 Gy", ["8.1"], id="Gy-exactly-1.1x"),
    pytest.param("60 Gy", "6600 cGy", ["8.1"], id="cGy-exactly-1.1x"),
    pytest.param("60 Gy", "66000 mGy", ["8.1"], id="mGy-exactly-1.1x"),
    pytest.param("6000 cGy", "66 Gy", ["8.1"], id="intended-in-cGy"),
    pytest.param("60 Gy", "6599 cGy", [], id="cGy-just-below-1.1x"),
    pytest.param("60 Gy", "65999 mGy", [], id="mGy-just-below-1.1x"),
    pytest.param("60000 mGy", "5400 cGy", ["8.2"], id="mixed-exactly-0.9x"),
    pytest.param("60000 mGy", "5401 cGy", [], id="mixed-just-above-0.9x"),
])
def test_absorbed_dose_units(guidance, intended, delivered, codes):
    facts = {**RT_PLANNED, "ptv_intended_dose": intended, "ptv_delivered_dose": delivered}
    result = evaluated(guidance, incident(modality="radiotherapy", **facts))
    assert (result.notifiable, result.codes) == (bool(codes), codes)


@pytest.mark.parametrize("dose, met", [
    pytest.param("10 mGy", True, id="10mGy"),
    pytest.param("1 cGy", True, id="1cGy"),
    pytest.param("0.01 Gy", True, id="0.01Gy"),
    pytest.param("10000 uGy", True, id="10000uGy"),
    pytest.param(f"10000 {MICRO_SIGN}Gy", True, id="10000-micro-sign-Gy"),
    pytest.param("0.999 cGy", False, id="0.999cGy"),
    pytest.param("9999 uGy", False, id="9999uGy"),
    pytest.param("0.00999 Gy", False, id="0.00999Gy"),
])
def test_foetal_dose_units(guidance, dose, met):
    result = evaluated(guidance, incident(foetal_exposure_unintended=True, foetal_dose=dose, age=30,
                                          intended_dose="2 mSv", total_dose="3 mSv"))
    assert (result.notifiable, result.codes) == (met, ["5"] if met else [])


# ----------------------------------------------------------------- activity

@pytest.mark.parametrize("therapy, prescribed, delivered, codes", [
    pytest.param("sirt", "1.5 GBq", "1200 MBq", [], id="GBq-MBq-exactly-minus-20pc"),
    pytest.param("sirt", "1500 MBq", "1199999 kBq", ["10.1"], id="MBq-kBq-just-outside-minus-20pc"),
    pytest.param("sirt", "1500000 kBq", "1.2 GBq", [], id="kBq-GBq-exactly-minus-20pc"),
    pytest.param("sirt", "1500000000 Bq", "1.8 GBq", [], id="Bq-exactly-plus-20pc"),
    pytest.param("sirt", "1.5 GBq", "1800001 kBq", ["10.1"], id="kBq-just-outside-plus-20pc"),
    pytest.param("other", "100 mCi", "3.33 GBq", [], id="mCi-exactly-minus-10pc"),
    pytest.param("other", "100 mCi", "3329 MBq", ["10.2"], id="mCi-just-outside-minus-10pc"),
    pytest.param("other", "0.1 Ci", "110 mCi", [], id="Ci-exactly-plus-10pc"),
    pytest.param("other", "0.1 Ci", "110.1 mCi", ["10.2"], id="Ci-just-outside-plus-10pc"),
    pytest.param("other", "3.7 GBq", "4.07 GBq", [], id="GBq-equivalent-of-Ci-case"),
])
def test_activity_units(guidance, therapy, prescribed, delivered, codes):
    # The target's absorbed dose as planned: 8.2 reaches nuclear medicine therapy too, and would otherwise
    # leave an activity within tolerance undetermined.
    result = evaluated(guidance, incident(modality="nuclear_medicine_therapy", nm_therapy=therapy,
                                          prescribed_activity=prescribed, delivered_activity=delivered,
                                          ptv_intended_dose="120 Gy", ptv_delivered_dose="120 Gy"))
    assert (result.notifiable, result.codes) == (bool(codes), codes)


@pytest.mark.parametrize("activity, megabecquerel", [
    pytest.param("1 mCi", 37, id="mCi-is-37MBq"),
    pytest.param("1 Ci", 37000, id="Ci-is-37GBq"),
    pytest.param("1 GBq", 1000, id="GBq"),
    pytest.param("1000 kBq", 1, id="kBq"),
    pytest.param("1 uCi", Fraction(37, 1000), id="uCi"),
])
def test_activity_values(guidance, activity, megabecquerel):
    assert value_of(guidance, "prescribed_activity", activity) == Fraction(megabecquerel) * 10**6


# ------------------------------------------------------------------- length

@pytest.mark.parametrize("displacement, margin, codes", [
    pytest.param("10 mm", "4 mm", ["8.1"], id="mm-exactly-2.5x"),
    pytest.param("1 cm", "4 mm", ["8.1"], id="cm-mm-exactly-2.5x"),
    pytest.param("0.01 m", "0.4 cm", ["8.1"], id="m-cm-exactly-2.5x"),
    pytest.param("10.1 mm", "4 mm", ["8.1", "9.2"], id="mm-just-above-2.5x"),
    pytest.param("1.01 cm", "0.004 m", ["8.1", "9.2"], id="cm-m-just-above-2.5x"),
    pytest.param("0.0101 m", "4 mm", ["8.1", "9.2"], id="m-mm-just-above-2.5x"),
])
def test_length_units(guidance, displacement, margin, codes):
    facts = {**RT_PLANNED, "ptv_delivered_dose": "66 Gy", "geographical_miss": "partial",
             "miss_displacement": displacement, "error_margin": margin}
    result = evaluated(guidance, incident(modality="radiotherapy", **facts))
    assert (result.notifiable, result.codes) == (True, codes)


# ----------------------------------------------------------------- duration

ACCIDENTAL_2MSV = {"exposure": "accidental", "total_dose": "2 mSv"}


@pytest.mark.parametrize("age, years, child", [
    pytest.param(17, Fraction(17), True, id="bare-int-is-years"),
    pytest.param("17", Fraction(17), True, id="bare-string-is-years"),
    pytest.param(17.0, Fraction(17), True, id="json-float"),
    pytest.param(Decimal("17"), Fraction(17), True, id="decimal"),
    pytest.param("17 years", Fraction(17), True, id="years"),
    pytest.param(18, Fraction(18), False, id="bare-18"),
    pytest.param("18 years", Fraction(18), False, id="18-years"),
    pytest.param(17.999, Fraction(17999, 1000), True, id="json-float-read-as-written"),
    pytest.param(Decimal("17.99999999999999999999"), Fraction("17.99999999999999999999"), True,
                 id="decimal-beyond-float-precision"),
    pytest.param("6574.5 days", Fraction(18), False, id="days-exactly-18-years"),
    pytest.param("6574 days", Fraction(6574 * 4, 1461), True, id="days-just-under-18"),
    pytest.param("939 weeks", Fraction(939 * 7 * 4, 1461), True, id="weeks-under-18"),
    pytest.param("940 weeks", Fraction(940 * 7 * 4, 1461), False, id="weeks-over-18"),
])
def test_age_units(guidance, age, years, child):
    assert value_of(guidance, "age", age) == years
    result = evaluated(guidance, incident(age=age, **ACCIDENTAL_2MSV))
    assert (result.notifiable, result.codes) == (child, ["1"] if child else [])


# ---------------------------------------------------- exact JSON numbers

@pytest.mark.parametrize("fact, raw, expected", [
    pytest.param("age", 0.3, Fraction(3, 10), id="float-0.3-not-binary"),
    pytest.param("age", 0.1, Fraction(1, 10), id="float-0.1-not-binary"),
    pytest.param("age", Decimal("17.5"), Fraction(35, 2), id="decimal-age"),
    pytest.param("age", 17, Fraction(17), id="int-age"),
    pytest.param("planning_scans", 3, Fraction(3), id="int-count"),
    pytest.param("planning_scans", 3.0, Fraction(3), id="float-whole-count"),
    pytest.param("planning_scans", Decimal("3"), Fraction(3), id="decimal-count"),
    pytest.param("individuals", "12", Fraction(12), id="string-count"),
])
def test_json_numbers_read_exactly(guidance, fact, raw, expected):
    value = value_of(guidance, fact, raw)
    assert isinstance(value, Fraction)
    assert value == expected


def test_json_document_floats_read_exactly(guidance):
    # 15.999999999999998 would round to 16 in a careless reader and make a Scottish child an adult.
    document = json.loads('{"jurisdiction": "Scotland", "exposure": "unintended", "modality": "diagnostic", '
                          '"age": 15.999999999999998, "intended_dose": "0.1 mSv", "total_dose": "1 mSv"}')
    result = evaluated(guidance, document)
    assert (result.notifiable, result.codes) == (True, ["2.1"])


# ----------------------------------------------------------- refused input

REFUSED = [
    # (facts, field, words the message must contain, words the hint must contain or None)
    pytest.param({"foetal_dose": "12 mSv", "foetal_exposure_unintended": True}, "foetal_dose",
                 ["absorbed dose", "effective dose"], "Gy", id="effective-dose-unit-for-foetal-dose"),
    pytest.param({"total_dose": "3 Gy"}, "total_dose", ["effective dose", "absorbed dose"], "mSv",
                 id="Gy-for-total-dose"),
    pytest.param({"total_dose": "3 mGy"}, "total_dose", ["effective dose"], "mSv", id="mGy-for-total-dose"),
    pytest.param({"ptv_delivered_dose": "66 Sv"}, "ptv_delivered_dose", ["absorbed dose"], "Gy",
                 id="Sv-for-ptv-dose"),
    pytest.param({"prescribed_activity": "5 mSv"}, "prescribed_activity", ["activity"], "Bq",
                 id="dose-for-activity"),
    pytest.param({"total_dose": 3}, "total_dose", ["needs a unit"], "mSv", id="bare-int-total-dose"),
    pytest.param({"total_dose": "3"}, "total_dose", ["needs a unit"], "mSv", id="bare-string-total-dose"),
    pytest.param({"total_dose": Decimal("3")}, "total_dose", ["needs a unit"], None, id="bare-decimal-total-dose"),
    pytest.param({"miss_displacement": "3"}, "miss_displacement", ["needs a unit"], None, id="bare-length"),
    pytest.param({"total_dose": "3 mSV"}, "total_dose", ["unknown unit", "`mSV`"], "did you mean mSv?",
                 id="unknown-unit-mSV"),
    pytest.param({"total_dose": "3 msv"}, "total_dose", ["unknown unit", "`msv`"], "did you mean mSv?",
                 id="unknown-unit-msv"),
    # MSv is not accepted (megasievert is a typo), but no hint names mSv: the prefix is a factor of 10^9.
    pytest.param({"total_dose": "3 MSv"}, "total_dose", ["unknown unit", "`MSv`"], "use Sv, mSv, uSv, µSv",
                 id="megasievert-is-refused-without-a-guess"),
    pytest.param({"foetal_dose": "10 mgy", "foetal_exposure_unintended": True}, "foetal_dose", ["unknown unit"],
                 "did you mean mGy?", id="unknown-unit-mgy"),
    pytest.param({"total_dose": "-3 mSv"}, "total_dose", ["cannot be negative"], None, id="negative-dose"),
    pytest.param({"age": -1}, "age", ["cannot be negative"], None, id="negative-age"),
    pytest.param({"total_dose": "three mSv"}, "total_dose", ["number with a unit"], None, id="words-for-number"),
    pytest.param({"total_dose": True}, "total_dose", ["effective dose"], None, id="boolean-for-dose"),
    pytest.param({"planning_scans": 2.5}, "planning_scans", ["whole number"], None, id="non-integer-count"),
    pytest.param({"fraction_images": "2.5"}, "fraction_images", ["whole number"], None, id="non-integer-count-text"),
    pytest.param({"planning_scans": 0}, "planning_scans", ["at least 1"], None, id="count-below-minimum"),
    pytest.param({"additional_images": -1}, "additional_images", ["negative"], None, id="negative-count"),
    pytest.param({"individuals": True}, "individuals", ["count"], "whole number", id="boolean-for-count"),
    pytest.param({"imaging_cause": "setup_error"}, "imaging_cause",
                 ["must be one of", "set_up_error", "setup_error"], "did you mean 'set_up_error'?",
                 id="unknown-enum-with-suggestion"),
    pytest.param({"jurisdiction": "Englnd"}, "jurisdiction", ["must be one of"], "did you mean 'England'?",
                 id="misspelt-jurisdiction"),
    pytest.param({"modality": "CT"}, "modality", ["must be one of"], None, id="unknown-modality"),
    pytest.param({"modality": []}, "modality", ["at least one value"], "diagnostic", id="empty-modality-list"),
    pytest.param({"theme": "maybe"}, "theme", ["yes or no"], "true or false", id="not-yes-or-no"),
    pytest.param({"totl_dose": "3 mSv"}, "totl_dose", ["unknown field", "did you mean total_dose?"], None,
                 id="unknown-field-with-suggestion"),
    pytest.param({"patient_weight": "70 kg"}, "patient_weight", ["unknown field"], None, id="unknown-field"),
    pytest.param({"discovered_on": "2024-02-30"}, "discovered_on", ["2024-02-30 does not exist",
                                                                    "February 2024 has 29 days"], None,
                 id="impossible-date"),
    pytest.param({"discovered_on": "2023-13-01"}, "discovered_on", ["does not exist", "no month 13"], None,
                 id="impossible-month"),
    pytest.param({"discovered_on": "2024-1-7"}, "discovered_on", ["YYYY-MM-DD"], None, id="date-not-YYYY-MM-DD"),
]


@pytest.mark.parametrize("facts, field, words, hint", REFUSED)
def test_refused_input(guidance, facts, field, words, hint):
    result = explained(guidance, {**incident(exposure="accidental"), **facts, "id": "INC-7"})
    assert result.error is not None
    assert result.error.field == field
    for word in words:
        assert word in result.error.message, result.error.message
    if hint is not None:
        assert result.error.hint is not None and hint in result.error.hint, result.error.hint
    assert (result.notifiable, result.codes, result.explanation) == (None, [], [])
    assert result.id == "INC-7"
    assert result.errors[0] == result.error


def test_every_problem_is_reported(guidance):
    result = explained(guidance, incident(total_dose="3 Gy", planning_scans=2.5, totl_dose="1 mSv"))
    assert {e.field for e in result.errors} == {"total_dose", "planning_scans", "totl_dose"}


def test_foetal_dose_message_names_absorbed_dose(g2024):
    result = explained(g2024, incident(foetal_exposure_unintended=True, foetal_dose="12 mSv"))
    assert result.error.field == "foetal_dose"
    assert result.error.message == 'foetal_dose is an absorbed dose in Gy, but "12 mSv" is an effective dose'


def test_unknown_unit_message(g2024):
    result = explained(g2024, incident(total_dose="3 mSV"))
    assert result.error.message == "total_dose: unknown unit `mSV`"
    assert result.error.hint == "did you mean mSv?"


# Not-a-number and infinite values are refused like any other bad value, never
# escaping from evaluate() as an exception (json.loads accepts NaN and Infinity).
NON_FINITE = [
    pytest.param("age", float("nan"), "finite number", id="age-float-nan"),
    pytest.param("age", float("inf"), "finite number", id="age-float-inf"),
    pytest.param("age", Decimal("NaN"), "finite number", id="age-decimal-nan"),
    pytest.param("age", Decimal("Infinity"), "finite number", id="age-decimal-infinity"),
    pytest.param("age", Decimal("-Infinity"), "finite number", id="age-decimal-minus-infinity"),
    pytest.param("individuals", Decimal("Infinity"), "count", id="count-decimal-infinity"),
    pytest.param("individuals", float("nan"), "count", id="count-float-nan"),
    pytest.param("individuals", float("inf"), "count", id="count-float-inf"),
    pytest.param("individuals", Decimal("NaN"), "count", id="count-decimal-nan"),
    pytest.param("age", "nan years", "number with a unit", id="age-text-nan"),
    pytest.param("total_dose", "inf mSv", "number with a unit", id="dose-text-inf"),
]


@pytest.mark.parametrize("fact, raw, words", NON_FINITE)
def test_non_finite_numbers_are_refused(guidance, fact, raw, words):
    result = explained(guidance, {**incident(exposure="accidental", total_dose="2 mSv"), fact: raw})
    assert result.error is not None
    assert result.error.field == fact
    assert words in result.error.message, result.error.message
    assert result.notifiable is None


def test_json_nan_age_is_refused(g2024):
    document = json.loads('{"jurisdiction": "England", "exposure": "accidental", "modality": "diagnostic", '
                          '"total_dose": "2 mSv", "age": NaN}')
    result = explained(g2024, document)
    assert result.error is not None and result.error.field == "age"
    assert result.error.message == "age must be a finite number, not nan"


# ------------------------------------------------------- age from dates

def test_age_from_dates_value(g2024):
    facts = g2024.read({"date_of_birth": "2006-05-01", "exposure_date": "2024-04-30"})
    assert Fraction(17) < facts.values["age"].value < Fraction(18)
    facts = g2024.read({"date_of_birth": "2006-05-01", "exposure_date": "2024-05-01"})
    assert facts.values["age"].value == Fraction(18)


AGE_FROM_DATES = [
    # (jurisdiction, date_of_birth, exposure_date, child)
    pytest.param("England", "2006-05-01", "2024-04-30", True, id="england-day-before-18th-birthday"),
    pytest.param("England", "2006-05-01", "2024-05-01", False, id="england-18th-birthday"),
    pytest.param("England", "2006-05-01", "2024-05-02", False, id="england-day-after-18th-birthday"),
    pytest.param("Wales", "2006-05-01", "2024-04-30", True, id="wales-day-before-18th-birthday"),
    pytest.param("Northern Ireland", "2006-05-01", "2024-05-01", False, id="ni-18th-birthday"),
    pytest.param("Scotland", "2008-05-01", "2024-04-30", True, id="scotland-day-before-16th-birthday"),
    pytest.param("Scotland", "2008-05-01", "2024-05-01", False, id="scotland-16th-birthday"),
    pytest.param("Scotland", "2007-05-01", "2024-04-30", False, id="scotland-17-is-adult"),
    # 29 February birthdays: in a common year the birthday is 1 March.
    pytest.param("England", "2008-02-29", "2026-02-28", True, id="england-leapling-28-feb-common-year"),
    pytest.param("England", "2008-02-29", "2026-03-01", False, id="england-leapling-1-march-common-year"),
    pytest.param("England", "2004-02-29", "2022-02-28", True, id="england-leapling-2004-28-feb"),
    pytest.param("England", "2004-02-29", "2022-03-01", False, id="england-leapling-2004-1-march"),
    pytest.param("Scotland", "2008-02-29", "2024-02-28", True, id="scotland-leapling-day-before-16"),
    pytest.param("Scotland", "2008-02-29", "2024-02-29", False, id="scotland-leapling-16th-birthday-leap-year"),
    pytest.param("England", "2006-02-28", "2024-02-28", False, id="england-28-feb-birthday-in-leap-year"),
    pytest.param("England", "2006-03-01", "2024-02-29", True, id="england-29-feb-is-day-before-1-march"),
]


@pytest.mark.parametrize("jurisdiction, born, exposed, child", AGE_FROM_DATES)
def test_child_from_dates(guidance, jurisdiction, born, exposed, child):
    # 0.1 mSv intended, 1 mSv given: code 2.1 for a child (1 mSv) but not an adult (3 mSv), in every jurisdiction.
    result = evaluated(guidance, incident(jurisdiction, date_of_birth=born, exposure_date=exposed,
                                          intended_dose="0.1 mSv", total_dose="1 mSv"))
    assert (result.notifiable, result.codes) == (child, ["2.1"] if child else [])
    assert any("worked out from date_of_birth and exposure_date" in note for note in result.notes)


@pytest.mark.parametrize("facts, field, words", [
    pytest.param({"age": 18, "date_of_birth": "2006-05-01", "exposure_date": "2024-04-30"}, "age",
                 ["18", "17"], id="age-18-but-dates-give-17"),
    pytest.param({"age": 17, "date_of_birth": "2006-05-01", "exposure_date": "2024-05-01"}, "age",
                 ["17", "18"], id="age-17-but-dates-give-18"),
    pytest.param({"age": 40, "date_of_birth": "2006-05-01", "exposure_date": "2024-05-01"}, "age",
                 ["40"], id="age-40-but-dates-give-18"),
    pytest.param({"date_of_birth": "2006-05-01"}, "date_of_birth", ["needs exposure_date"],
                 id="date-of-birth-without-exposure-date"),
    pytest.param({"age": 17, "date_of_birth": "2006-05-01"}, "date_of_birth", ["needs exposure_date"],
                 id="date-of-birth-and-age-without-exposure-date"),
    pytest.param({"date_of_birth": "2024-05-01", "exposure_date": "2024-04-30"}, "exposure_date",
                 ["before date_of_birth"], id="exposure-before-birth"),
    pytest.param({"date_of_birth": "01/05/2006", "exposure_date": "2024-04-30"}, "date_of_birth",
                 ["YYYY-MM-DD"], id="date-of-birth-wrong-format"),
])
def test_inconsistent_or_incomplete_dates_refused(guidance, facts, field, words):
    result = explained(guidance, incident(exposure="accidental", total_dose="2 mSv", **facts))
    assert result.error is not None
    assert result.error.field == field
    for word in words:
        assert word in result.error.message, result.error.message
    assert result.notifiable is None


def test_consistent_age_and_dates_accepted(guidance):
    result = evaluated(guidance, incident(exposure="accidental", total_dose="2 mSv", age=17,
                                          date_of_birth="2006-05-01", exposure_date="2024-04-30"))
    assert (result.notifiable, result.codes) == (True, ["1"])


# ------------------------------------------------ hints that never change a value

from evaluator.language.incident import field_typo  # noqa: E402
from evaluator.language.units import suggest_unit  # noqa: E402

from conftest import explained

UNIT_HINTS = [
    # (typed, the kind the fact wants or None, the suggestion or None)
    ("mSV", None, "mSv"), ("msv", None, "mSv"), ("MSV", None, None), ("SV", None, "Sv"), ("sv", None, "Sv"),
    ("\uff4dSv", None, "mSv"),             # full-width m: the same unit in other letters
    ("mSvv", None, "mSv"), ("Gyy", None, "Gy"), ("yaers", None, "years"), ("dyas", None, "days"),
    ("mgy", "absorbed dose", "mGy"), ("GBQ", None, "GBq"), ("kbq", None, "kBq"),
    # A different prefix is a different value: never suggested.
    ("cSv", None, None), ("nSv", None, None), ("kSv", None, None), ("MSv", None, None),
    ("mBq", None, None), ("Mm", None, None), ("CM", None, None), ("pGy", None, None),
    # Another kind, or no near unit.
    ("mrem", None, None), ("rem", None, None), ("mGy", "effective dose", None), ("mGY", "effective dose", None),
    ("kg", None, None), (",5 mSv", None, None),
    # Two units equally near: neither.
    ("mG", None, None),
]


@pytest.mark.parametrize("typed, kind, suggestion", UNIT_HINTS, ids=[f"{t}->{s}" for t, _, s in UNIT_HINTS])
def test_unit_hints_only_for_near_certain_typos(typed, kind, suggestion):
    assert suggest_unit(typed, kind) == suggestion


@pytest.mark.parametrize("dose, hint", [
    ("3 cSv", "use Sv, mSv, uSv, µSv"), ("3 kSv", "use Sv, mSv, uSv, µSv"), ("3 nSv", "use Sv, mSv, uSv, µSv"),
    ("3 \uff4dSv", "did you mean mSv?"), ("3 mGY", "use Sv, mSv, uSv, µSv"),
])
def test_unit_hint_in_a_result(g2024, dose, hint):
    result = explained(g2024, incident(total_dose=dose))
    assert result.error.hint == hint


def test_length_unit_hint_is_not_a_dose_unit(g2024):
    result = explained(g2024, incident(modality="radiotherapy", miss_displacement="3 mrem"))
    assert (result.error.field, result.error.hint) == ("miss_displacement", "use mm, cm, m")


@pytest.mark.parametrize("dose, words, hint", [
    ("3,5 mSv", "has a decimal comma", 'write "3.5 mSv"'),
    ("0,25mSv", "has a decimal comma", 'write "0.25mSv"'),
    ("3,500 mSv", "has a comma in its number",
     'write "3.500 mSv" if the comma is a decimal comma, or "3500 mSv" if it separates thousands'),
])
def test_a_decimal_comma_is_named(g2024, dose, words, hint):
    result = explained(g2024, incident(total_dose=dose))
    assert words in result.error.message and "unknown unit" not in result.error.message
    assert result.error.hint == hint


FIELD_HINTS = [
    ("totl_dose", "total_dose"), ("Total Dose", "total_dose"), ("total-dose", "total_dose"),
    ("totaldose", "total_dose"), ("discoverd_on", "discovered_on"), ("modalty", "modality"),
    ("ptv_deliverd_dose", "ptv_delivered_dose"),
    ("patient_name", None), ("dose", None), ("weight", None), ("ptv_dose", None), ("name", None),
]


@pytest.mark.parametrize("typed, meant", FIELD_HINTS, ids=[t for t, _ in FIELD_HINTS])
def test_field_hints_only_for_near_certain_typos(g2024, typed, meant):
    names = list(g2024.vocabulary.facts) + ["id", "description", "date_of_birth", "exposure_date"]
    assert field_typo(typed, names) == meant
    result = explained(g2024, incident(**{typed: "1"}))
    message = result.errors[-1].message if result.errors[-1].field == typed else result.error.message
    assert ("did you mean" in message) == (meant is not None), message


@pytest.mark.parametrize("born, exposed, words", [
    ("2008-10-08", "2024-10-07", "age 15 years 365 days (from date_of_birth and exposure_date) < 16 years: yes"),
    ("2008-10-08", "2024-10-08", "age 16 years (from date_of_birth and exposure_date) < 16 years: no"),
    ("2008-10-08", "2024-10-09", "age 16 years 1 day (from date_of_birth and exposure_date) < 16 years: no"),
])
def test_an_age_from_dates_is_shown_exactly(g2024, born, exposed, words):
    """Not `age 16.00 years < 16 years: yes` the day before the 16th birthday."""
    result = evaluated(g2024, incident("Scotland", date_of_birth=born, exposure_date=exposed,
                                       intended_dose="0.1 mSv", total_dose="2 mSv"))
    reasons = [reason for criterion in result.explanation for reason in criterion.reasons]
    assert words in reasons, [r for r in reasons if r.startswith("age")]


# --------------------------------------------------------- the kept readings

# A short text or a whole number is read once per fact and value (language/values.py read_value) and the
# reading kept: the same value for another fact, kind, list of values, unit or minimum must be read again,
# True is not 1, and a refused value stays refused.
KEPT_READINGS = [
    # (fact info, raw value, the reading (a quantity's value in the kind's base unit), or the start of the
    # message when refused)
    (("total_dose", "effective dose", None, None, ()), "3 mSv", Fraction(3, 1000)),
    (("total_dose", "effective dose", None, Fraction(1, 100), ()), "3 mSv", "total_dose must be at least"),
    (("ptv_delivered_dose", "absorbed dose", None, None, ()), "3 mSv", "ptv_delivered_dose is an absorbed dose"),
    (("total_dose", "effective dose", "mSv", None, ()), "3", Fraction(3, 1000)),
    (("total_dose", "effective dose", None, None, ()), "3", "total_dose needs a unit"),
    (("total_dose", "effective dose", None, None, ()), "3 mSvv", "total_dose: unknown unit"),
    (("total_dose", "effective dose", "mSv", None, ()), 3, Fraction(3, 1000)),
    (("total_dose", "effective dose", None, None, ()), 3, "total_dose needs a unit"),
    (("exposure", "one of", None, None, ("accidental", "unintended")), "Accidental", "accidental"),
    (("exposure", "one of", None, None, ("Accidental", "unintended")), "Accidental", "Accidental"),
    (("exposure", "one of", None, None, ("unintended",)), "accidental", "exposure must be one of"),
    (("individuals", "count", None, None, ()), 1, Fraction(1)),
    (("individuals", "count", None, Fraction(2), ()), 1, "individuals must be at least"),
    (("individuals", "count", None, None, ()), True, "individuals is a count"),
    (("theme", "yes or no", None, None, ()), "yes", True),
    (("theme", "yes or no", None, None, ()), 1, "theme is yes or no"),
]


@pytest.mark.parametrize("rounds", [1, 2])
def test_a_kept_reading_is_never_another_facts(rounds):
    from evaluator.language.values import FactInfo, Measure, ValueProblem, read_value
    for _ in range(rounds):  # the second round reads every value from what was kept
        for (name, kind, unit, minimum, values), raw, want in KEPT_READINGS:
            info = FactInfo(name=name, kind=kind, unit=unit, minimum=minimum, values=values)
            if isinstance(want, (Fraction, bool)) or want in values:
                got = read_value(info, raw)
                assert (got.value if isinstance(got, Measure) else got) == want, (info, raw, got)
            else:
                with pytest.raises(ValueProblem) as refused:
                    read_value(info, raw)
                assert refused.value.message.startswith(want), refused.value.message
