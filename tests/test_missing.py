"""Three-valued results: what is decided without every fact, and what is not.

A fact that is absent is unknown unless the vocabulary says what its absence
means. `notifiable` is True or False when every value the unknown facts could
take gives the same answer, and None otherwise, with `missing` naming the facts
that would decide it.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import pytest

from conftest import explained


def incident(jurisdiction="England", exposure="unintended", modality="diagnostic", **facts) -> dict[str, Any]:
    out = {"jurisdiction": jurisdiction, "exposure": exposure, "modality": modality, **facts}
    return {k: v for k, v in out.items() if v is not None}


def outcomes(result, code: str) -> list[str]:
    return [e.outcome for e in result.explanation if e.code == code]


def evaluated(guidance, facts):
    result = explained(guidance, facts)
    assert result.error is None, result.error
    return result


CASES = [
    # (facts, notifiable, codes, missing)
    # Outside England an accidental exposure is notifiable whatever the dose: none is needed.
    pytest.param(incident("Wales", "accidental"), True, ["1"], [], id="wales-accidental-no-dose"),
    pytest.param(incident("Scotland", "accidental", modality="nuclear_medicine"), True, ["1"], [],
                 id="scotland-accidental-no-dose"),
    pytest.param(incident("Northern Ireland", "accidental", modality="radiotherapy"), True, ["1"], [],
                 id="northern-ireland-accidental-no-dose"),
    # England: the age decides only between 1 and 3 mSv.
    pytest.param(incident(exposure="accidental", total_dose="8 mSv"), True, ["1"], [], id="england-8mSv-no-age"),
    pytest.param(incident(exposure="accidental", total_dose="3 mSv"), True, ["1"], [], id="england-exactly-3mSv-no-age"),
    pytest.param(incident(exposure="accidental", total_dose="2.999 mSv"), None, [], ["age"],
                 id="england-2.999mSv-no-age"),
    pytest.param(incident(exposure="accidental", total_dose="2 mSv"), None, [], ["age"], id="england-2mSv-no-age"),
    pytest.param(incident(exposure="accidental", total_dose="1 mSv"), None, [], ["age"],
                 id="england-exactly-1mSv-no-age"),
    pytest.param(incident(exposure="accidental", total_dose="0.999 mSv"), False, [], [],
                 id="england-0.999mSv-no-age"),
    pytest.param(incident(exposure="accidental", total_dose="0.5 mSv"), False, [], [], id="england-0.5mSv-no-age"),
    pytest.param(incident(exposure="accidental", age=40), None, [], ["total_dose"], id="england-adult-no-dose"),
    pytest.param(incident(exposure="accidental"), None, [], ["age", "total_dose"], id="england-no-dose-no-age"),
    # Unintended exposures: the band needs the intended dose.
    pytest.param(incident(), None, [], ["age", "intended_dose", "total_dose"], id="unintended-diagnostic-no-doses"),
    pytest.param(incident(age=40), None, [], ["intended_dose", "total_dose"], id="unintended-adult-no-doses"),
    pytest.param(incident(age=40, total_dose="26 mSv"), None, [], ["intended_dose"],
                 id="unintended-26mSv-intended-unknown"),
    pytest.param(incident(age=40, intended_dose="1 mSv"), None, [], ["total_dose"], id="unintended-no-total"),
    pytest.param(incident(intended_dose="0.1 mSv", total_dose="3 mSv"), True, ["2.1"], [],
                 id="2.1-3mSv-meets-adult-and-child"),
    pytest.param(incident(intended_dose="0.1 mSv", total_dose="2 mSv"), None, [], ["age"],
                 id="2.1-2mSv-needs-age"),
    pytest.param(incident(intended_dose="1 mSv", total_dose="10 mSv"), True, ["2.2"], [],
                 id="2.2-needs-no-age"),
    # A decided True while another row stays undetermined: missing is empty.
    pytest.param(incident(age=40, intended_dose="1 mSv", total_dose="10 mSv", foetal_exposure_unintended=True),
                 True, ["2.2"], [], id="2.2-met-foetal-dose-unknown"),
    # Jurisdiction unknown: a case split on it.
    pytest.param(incident(None, "accidental", total_dose="8 mSv"), True, ["1"], [],
                 id="jurisdiction-unknown-accidental-8mSv"),
    pytest.param(incident(None, "accidental", total_dose="2 mSv", age=17), True, ["1"], [],
                 id="jurisdiction-unknown-accidental-2mSv-age-17"),
    pytest.param(incident(None, "accidental", total_dose="2 mSv", age=40), None, [], ["jurisdiction"],
                 id="jurisdiction-unknown-accidental-2mSv-adult"),
    pytest.param(incident(None, "unintended", age=40, intended_dose="1 mSv", total_dose="10 mSv"), True, ["2.2"], [],
                 id="jurisdiction-unknown-unintended-2.2"),
    pytest.param(incident(None, "unintended", age=40, intended_dose="1 mSv", total_dose="9 mSv"), False, [], [],
                 id="jurisdiction-unknown-unintended-not-met"),
    pytest.param(incident(None, "unintended", age=17, intended_dose="0.1 mSv", total_dose="2 mSv"), None, [],
                 ["jurisdiction"], id="jurisdiction-unknown-17-year-old-child-or-adult"),
    # Exposure unknown: a case split on it.
    pytest.param(incident("Wales", None, age=40, intended_dose="1 mSv", total_dose="2 mSv"), None, [], ["exposure"],
                 id="exposure-unknown-wales"),
    pytest.param(incident("England", None, age=40, intended_dose="1 mSv", total_dose="2 mSv"), False, [], [],
                 id="exposure-unknown-england-below-both"),
    pytest.param(incident("England", None, age=40, intended_dose="1 mSv", total_dose="2 mSv",
                          foetal_exposure_unintended=True, foetal_dose="12 mGy"), True, ["5"], [],
                 id="exposure-unknown-foetal-code-5"),
    # Modality unknown.
    pytest.param(incident("England", "unintended", None, age=40, intended_dose="1 mSv", total_dose="2 mSv"),
                 None, [], ["modality", "nm_therapy", "prescribed_activity", "delivered_activity", "ptv_delivered_dose",
                            "ptv_intended_dose", "oar_delivered_dose", "oar_intended_dose", "fraction_delivered_dose",
                            "fraction_intended_dose"],
                 id="modality-unknown"),
    # Radiotherapy imaging: counts with defaults and a count of at least 1.
    pytest.param(incident(modality="radiotherapy_imaging", imaging_cause="protocol_failure", age=40,
                          intended_dose="1 mSv", total_dose="2 mSv"), False, [], [],
                 id="4.2b-no-additional-images-intended-unknown"),
    pytest.param(incident(modality="radiotherapy_imaging", imaging_cause="protocol_failure", additional_images=0,
                          age=40, intended_dose="1 mSv", total_dose="2 mSv"), False, [], [],
                 id="4.2b-zero-additional-images-intended-unknown"),
    pytest.param(incident(modality="radiotherapy_imaging", imaging_cause="protocol_failure", additional_images=1,
                          age=40, intended_dose="1 mSv", total_dose="2 mSv"), None, [], ["intended_images"],
                 id="4.2b-one-additional-image-intended-unknown"),
    pytest.param(incident(modality="radiotherapy_imaging", fraction_images=3, age=40, intended_dose="1 mSv",
                          total_dose="2 mSv"), None, [], ["imaging_cause"], id="4.2a-cause-unknown"),
    # Radiotherapy: 9.2 needs the displacement and the margin.
    pytest.param(incident(modality="radiotherapy", ptv_intended_dose="60 Gy", ptv_delivered_dose="54 Gy",
                          geographical_miss="partial", oar_intended_dose="40 Gy", oar_delivered_dose="40 Gy",
                          fraction_intended_dose="2 Gy", fraction_delivered_dose="2 Gy"),
                 None, [], ["error_margin", "miss_displacement"], id="9.2-partial-miss-without-distances"),
    pytest.param(incident(modality="radiotherapy", ptv_intended_dose="60 Gy", ptv_delivered_dose="54 Gy",
                          geographical_miss="partial"), None, [],
                 ["error_margin", "miss_displacement", "oar_intended_dose", "oar_delivered_dose",
                  "fraction_intended_dose", "fraction_delivered_dose"],
                 id="9.2-partial-miss-without-distances-or-8.1-doses"),
    pytest.param(incident(modality="radiotherapy", ptv_intended_dose="60 Gy", ptv_delivered_dose="57 Gy",
                          geographical_miss="partial", oar_intended_dose="40 Gy", oar_delivered_dose="40 Gy",
                          fraction_intended_dose="2 Gy", fraction_delivered_dose="2 Gy"), False, [], [],
                 id="9.2-no-dose-factor-distances-do-not-matter"),
    pytest.param(incident(modality="radiotherapy", geographical_miss="total"), True, ["9.1"], [],
                 id="9.1-total-miss-no-doses"),
    pytest.param(incident(modality="nuclear_medicine_therapy", nm_therapy="sirt", prescribed_activity="1.5 GBq",
                          ptv_intended_dose="120 Gy", ptv_delivered_dose="120 Gy"),
                 None, [], ["delivered_activity"], id="10.1-delivered-unknown"),
    # 8.2 reaches nuclear medicine therapy: within the activity's tolerance, the target's dose decides.
    pytest.param(incident(modality="nuclear_medicine_therapy", nm_therapy="sirt", prescribed_activity="1.5 GBq",
                          delivered_activity="1.5 GBq"),
                 None, [], ["ptv_delivered_dose", "ptv_intended_dose"], id="8.2-nm-therapy-target-dose-unknown"),
]


@pytest.mark.parametrize("facts, notifiable, codes, missing", CASES)
def test_three_valued(guidance, facts, notifiable, codes, missing):
    result = evaluated(guidance, facts)
    assert result.notifiable is notifiable, (result.notifiable, result.missing)
    assert result.codes == codes
    assert sorted(result.missing) == sorted(missing)


def test_undetermined_diagnostic_names_the_doses(guidance):
    result = evaluated(guidance, incident())
    assert result.notifiable is None
    assert {"intended_dose", "total_dose"} <= set(result.missing)
    assert result.codes == []
    assert set(outcomes(result, "2.1")) == {"undetermined"}


def test_true_with_an_undetermined_row(guidance):
    result = evaluated(guidance, incident(age=40, intended_dose="1 mSv", total_dose="10 mSv",
                                          foetal_exposure_unintended=True))
    assert result.notifiable is True
    assert outcomes(result, "2.2") == ["met"]
    assert outcomes(result, "5") == ["undetermined"]
    [foetal] = [e for e in result.explanation if e.code == "5"]
    assert foetal.missing == ["foetal_dose"]
    assert result.missing == []


def test_split_on_age_is_explained(guidance):
    result = evaluated(guidance, incident(exposure="accidental", total_dose="8 mSv"))
    [england] = [e for e in result.explanation if e.code == "1" and e.label == "England only"]
    assert england.outcome == "met"
    assert any("whatever the unknown facts" in reason for reason in england.reasons)


def test_no_additional_images_never_meets_4_2b(guidance):
    result = evaluated(guidance, incident(modality="radiotherapy_imaging", imaging_cause="protocol_failure",
                                          age=40, intended_dose="1 mSv", total_dose="2 mSv"))
    assert outcomes(result, "4.2b") == ["not met"]


def test_deadlines_given_when_undetermined(guidance):
    result = evaluated(guidance, incident(exposure="accidental", total_dose="2 mSv", discovered_on="2024-11-04"))
    assert result.notifiable is None
    assert result.notify_by == dt.date(2024, 11, 18)
    assert result.report_by == dt.date(2025, 1, 27)
    assert "the deadlines apply if the incident turns out to be notifiable" in result.notes


def test_authority_unknown_without_jurisdiction(guidance):
    result = evaluated(guidance, incident(None, "accidental", total_dose="8 mSv"))
    assert result.notifiable is True
    assert result.authority is None


# ------------------------------------------------------ decided across cases

def test_code_met_by_jurisdiction_split_is_explained(guidance):
    # Each row of code 1 is undetermined alone; the code is met whichever applies.
    result = evaluated(guidance, incident(None, "accidental", total_dose="8 mSv"))
    assert result.codes == ["1"]
    entries = [e for e in result.explanation if e.code == "1"]
    assert {e.outcome for e in entries} == {"undetermined"}
    assert all(any("code 1 is met whichever of its rows applies" in r for r in e.reasons) for e in entries)


def test_notifiable_names_the_candidate_codes_when_exposure_is_unknown(guidance):
    result = evaluated(guidance, incident("England", None, age=40, intended_dose="1 mSv", total_dose="50 mSv"))
    assert result.notifiable is True
    assert result.codes == []
    assert result.notes == ["notifiable whatever exposure is, but the code depends on it: one of 1, 2.2"]


def test_notifiable_names_the_candidate_codes_when_imaging_cause_is_unknown(g2024):
    result = evaluated(g2024, incident(modality="radiotherapy_imaging", fraction_images=3, theme=True,
                                       intended_images=4, additional_images=2, age=40, intended_dose="1 mSv",
                                       total_dose="2 mSv"))
    assert result.notifiable is True
    assert result.codes == []
    assert result.notes == ["notifiable whatever imaging_cause is, but the code depends on it: one of 4.2a, 4.2b, "
                            "4.2c"]


@pytest.mark.parametrize("total", ["2.9 mSv", "0.01 mSv"])
def test_adult_below_3mSv_is_not_notifiable_whatever_the_intended_dose(guidance, total):
    # 2.1 needs 3 mSv; 2.2 needs 10 x at least 0.3 mSv = 3 mSv; 2.3 and 2.4 need 25 mSv:
    # deciding this needs the intended dose split into bands and the ratio bounded in each.
    result = evaluated(guidance, incident(age=40, total_dose=total))
    assert result.notifiable is False
    assert result.missing == []


def test_adult_at_30mSv_with_no_intended_dose_stays_undetermined(guidance):
    # Notifiable for any intended dose up to 12 mSv (2.4 needs 2.5 times it), not above.
    result = evaluated(guidance, incident(age=40, total_dose="30 mSv"))
    assert result.notifiable is None
    assert result.missing == ["intended_dose"]
    assert evaluated(guidance, incident(age=40, total_dose="30 mSv", intended_dose="12 mSv")).notifiable is True
    assert evaluated(guidance, incident(age=40, total_dose="30 mSv", intended_dose="12.1 mSv")).notifiable is False


# --------------------------------------------------------------- defaults

DEFAULTS = [
    pytest.param("tissue_reaction", "none", id="tissue_reaction-none"),
    pytest.param("procedural_failure", False, id="procedural_failure-false"),
    pytest.param("error_involved", True, id="error_involved-true"),
    pytest.param("foetal_exposure_unintended", False, id="foetal_exposure_unintended-false"),
    pytest.param("wrong_radiopharmaceutical", False, id="wrong_radiopharmaceutical-false"),
    pytest.param("geographical_miss", "none", id="geographical_miss-none"),
    pytest.param("equipment_fault", False, id="equipment_fault-false"),
    pytest.param("clinically_significant", False, id="clinically_significant-false"),
    pytest.param("voluntary", False, id="voluntary-false"),
]


@pytest.mark.parametrize("fact, value", DEFAULTS)
def test_absent_means(guidance, fact, value):
    assert guidance.read({}).values[fact] == value
    assert guidance.read({fact: not value if isinstance(value, bool) else "other" if fact == "tissue_reaction"
                          else "total"}).values[fact] != value


@pytest.mark.parametrize("fact, count", [
    pytest.param("planning_scans", 1, id="planning_scans-1"),
    pytest.param("fraction_images", 1, id="fraction_images-1"),
    pytest.param("additional_images", 0, id="additional_images-0"),
    pytest.param("individuals", 1, id="individuals-1"),
])
def test_absent_counts(guidance, fact, count):
    assert guidance.read({}).values[fact].value == Fraction(count)


@pytest.mark.parametrize("fact", ["jurisdiction", "exposure", "modality", "age", "intended_dose", "total_dose",
                                  "intended_images", "imaging_cause", "foetal_dose", "nm_therapy",
                                  "miss_displacement", "discovered_on", "theme"])
def test_absent_without_default_is_unknown(guidance, fact):
    assert fact not in guidance.read({}).values


BEHAVIOUR_OF_DEFAULTS = [
    # (version or None for both, facts, notifiable, codes, code, outcome)
    pytest.param("2024", incident(age=40, intended_dose="2 mSv", total_dose="22 mSv"), True, ["2.2"], "2.2", "met",
                 id="error_involved-absent-means-error-2024"),
    pytest.param("2024", incident(age=40, intended_dose="2 mSv", total_dose="22 mSv", error_involved=True), True,
                 ["2.2"], "2.2", "met", id="error_involved-true-2024"),
    pytest.param("2024", incident(age=40, intended_dose="2 mSv", total_dose="22 mSv", error_involved=False), False,
                 [], "2.2", "not met", id="error_involved-false-excludes-2024"),
    pytest.param("2023", incident(age=40, intended_dose="2 mSv", total_dose="22 mSv", error_involved=False), True,
                 ["2.2"], "2.2", "met", id="error_involved-false-2023-no-exclusion"),
    pytest.param(None, incident(modality="radiotherapy_imaging", age=40, intended_dose="1 mSv", total_dose="2 mSv"),
                 False, [], "4.1", "not met", id="planning_scans-absent-is-1"),
    pytest.param(None, incident(modality="radiotherapy_imaging", imaging_cause="set_up_error", age=40,
                                intended_dose="1 mSv", total_dose="2 mSv"), False, [], "4.2a", "not met",
                 id="fraction_images-absent-is-1"),
    pytest.param(None, incident(modality="radiotherapy_imaging", imaging_cause="hardware_software_failure",
                                theme=True, intended_images=2, age=40, intended_dose="1 mSv", total_dose="2 mSv"),
                 False, [], "4.2c", "not met", id="additional_images-absent-is-0"),
    pytest.param(None, incident(age=40, intended_dose="1 mSv", total_dose="2 mSv"), False, [], "M", "not met",
                 id="individuals-absent-is-1"),
    pytest.param(None, incident(modality="interventional", age=40, intended_dose="5 mSv", total_dose="6 mSv"),
                 False, [], "3", "not met", id="tissue_reaction-absent-is-none"),
    pytest.param(None, incident(modality="radiotherapy", ptv_intended_dose="60 Gy", ptv_delivered_dose="54 Gy"),
                 True, ["8.2"], "8.2", "met", id="geographical_miss-absent-is-none-8.2-not-excluded"),
    pytest.param(None, incident(modality="radiotherapy", ptv_intended_dose="60 Gy", ptv_delivered_dose="54 Gy"),
                 True, ["8.2"], "9.1", "out of scope", id="geographical_miss-absent-is-none-9.1-out-of-band"),
    pytest.param(None, incident(modality="nuclear_medicine", infant_dose="2 mSv", age=30, intended_dose="1 mSv",
                                total_dose="1 mSv"), False, [], "6", "not met", id="procedural_failure-absent-is-false"),
    pytest.param(None, incident(modality="nuclear_medicine", age=30, intended_dose="1 mSv", total_dose="1 mSv"),
                 False, [], "7", "out of scope", id="wrong_radiopharmaceutical-absent-is-false"),
    pytest.param(None, incident(foetal_dose="20 mGy", age=30, intended_dose="1 mSv", total_dose="1 mSv"),
                 False, [], "5", "out of scope", id="foetal_exposure_unintended-absent-is-false"),
    pytest.param(None, incident(age=40, intended_dose="1 mSv", total_dose="10 mSv"), True, ["2.2"], "E", "not met",
                 id="equipment_fault-absent-is-false"),
    pytest.param(None, incident(age=40, intended_dose="1 mSv", total_dose="2 mSv"), False, [], "C", "not met",
                 id="clinically_significant-absent-is-false"),
    pytest.param(None, incident(age=40, intended_dose="1 mSv", total_dose="2 mSv"), False, [], "V", "not met",
                 id="voluntary-absent-is-false"),
]


def test_theme_absent_is_asked_for(guidance):
    """A theme is the employer's judgement and the guidance sets no norm (docs/interpretations.md,
    judgement_defaults): when it decides 4.2c it is asked for, and only then."""
    thematic = incident(modality="radiotherapy_imaging", imaging_cause="hardware_software_failure",
                        intended_images=2, additional_images=1, age=40, intended_dose="1 mSv", total_dose="2 mSv")
    result = evaluated(guidance, thematic)
    assert (result.notifiable, result.missing, outcomes(result, "4.2c")) == (None, ["theme"], ["undetermined"])
    below = evaluated(guidance, {**thematic, "additional_images": 0})
    assert (below.notifiable, below.missing, outcomes(below, "4.2c")) == (False, [], ["not met"])


@pytest.mark.parametrize("version, facts, notifiable, codes, code, outcome", BEHAVIOUR_OF_DEFAULTS)
def test_defaults_decide(g2023, g2024, version, facts, notifiable, codes, code, outcome):
    for guidance in {"2023": [g2023], "2024": [g2024], None: [g2023, g2024]}[version]:
        result = evaluated(guidance, facts)
        assert result.notifiable is notifiable, guidance.version
        assert result.codes == codes, guidance.version
        assert result.missing == []
        assert outcomes(result, code) == [outcome], guidance.version


# ------------------------------------------------------ judgements taken by default

ASSUMED = [
    # (version or None for both, facts, the `assumed` entries as text)
    pytest.param(None, incident(modality="nuclear_medicine", infant_dose="2 mSv", age=30, intended_dose="1 mSv",
                                total_dose="1 mSv"),
                 ["procedural_failure is taken as no (not given); if it is yes: notifiable, 6"],
                 id="procedural_failure-decides-6"),
    pytest.param(None, incident(modality="nuclear_medicine", infant_dose="0.9 mSv", age=30, intended_dose="1 mSv",
                                total_dose="1 mSv"), [], id="procedural_failure-below-threshold-decides-nothing"),
    pytest.param(None, incident(modality="nuclear_medicine", procedural_failure=False, infant_dose="2 mSv", age=30,
                                intended_dose="1 mSv", total_dose="1 mSv"), [], id="procedural_failure-given"),
    pytest.param("2024", incident(age=40, intended_dose="2 mSv", total_dose="22 mSv"),
                 ["error_involved is taken as yes (not given); if it is no: not notifiable"],
                 id="error_involved-decides-2.2-2024"),
    pytest.param("2024", incident(age=40, intended_dose="2 mSv", total_dose="2.5 mSv"), [],
                 id="error_involved-not-notifiable-anyway-2024"),
    pytest.param("2023", incident(age=40, intended_dose="2 mSv", total_dose="22 mSv"), [],
                 id="error_involved-no-exclusion-2023"),
    pytest.param("2024", incident(age=40, intended_dose="2 mSv", total_dose="22 mSv", error_involved=True), [],
                 id="error_involved-given-2024"),
    pytest.param("2024", incident(age=40, intended_dose="2 mSv", total_dose="22 mSv", individuals=3),
                 ["error_involved is taken as yes (not given); if it is no: not notifiable"],
                 id="error_involved-decides-2.2-and-M-2024"),
    pytest.param("2024", incident(age=None, intended_dose="2 mSv", total_dose="22 mSv"),
                 ["error_involved is taken as yes (not given); if it is no: not notifiable"],
                 id="error_involved-decides-with-age-unknown-2024"),
]


@pytest.mark.parametrize("version, facts, texts", ASSUMED)
def test_assumed_reports_the_judgements_that_decide(g2023, g2024, version, facts, texts):
    """A judgement default (`absent assumes`) is reported when, and only when, its other value changes the
    verdict or the codes; both engines say the same (tests/test_compiled.py compares them at random)."""
    for guidance in {"2023": [g2023], "2024": [g2024], None: [g2023, g2024]}[version]:
        for result in (guidance.evaluate(facts), guidance.evaluate(facts, explain=True), guidance.interpret(facts)):
            assert [a.text for a in result.assumed] == texts, guidance.version
