"""Every notification code of both shipped versions, at its boundaries.

Each table row is one realistic incident (jurisdiction, exposure and modality
given, enough facts that the result is decided) with the exact outcome the
guidance gives: `notifiable`, the exact `codes` list, and where it matters the
`outcome` of a criterion in `result.explanation`. Thresholds are tested on both
sides: the exact boundary value and the value just past it.

Versions: "both" rows run under 2023-04-19 and 2024-08-28; rows that differ
between the versions are written once per version.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import pytest

from conftest import explained

BOTH = ("2023", "2024")
V2023 = ("2023",)
V2024 = ("2024",)


@pytest.fixture(scope="session")
def by_version(g2023, g2024):
    return {"2023": g2023, "2024": g2024}


class Case(NamedTuple):
    id: str
    facts: dict[str, Any]
    notifiable: bool | None
    codes: list[str]
    outcomes: dict[Any, str] = {}  # code or (code, label) -> explanation outcome
    versions: tuple[str, ...] = BOTH


def params(cases: list[Case]) -> list[Any]:
    """One pytest param per case and version, with a readable id."""
    out = []
    for case in cases:
        for version in case.versions:
            out.append(pytest.param(version, case, id=f"{version}-{case.id}"))
    return out


def incident(jurisdiction="England", exposure="unintended", modality="diagnostic", **facts) -> dict[str, Any]:
    return {"jurisdiction": jurisdiction, "exposure": exposure, "modality": modality, **facts}


def outcomes_of(result, code: str, label: str | None = None) -> list[str]:
    return [e.outcome for e in result.explanation if e.code == code and (label is None or e.label == label)]


def check(guidance, case: Case):
    result = explained(guidance, case.facts)
    assert result.error is None, result.error
    assert result.notifiable is case.notifiable, (result.notifiable, result.codes, result.missing)
    assert result.codes == case.codes
    for key, outcome in case.outcomes.items():
        code, label = key if isinstance(key, tuple) else (key, None)
        found = outcomes_of(result, code, label)
        assert found, f"no explanation entry for {key}"
        assert found == [outcome] * len(found), (key, found)
    if case.notifiable is not None:
        assert result.missing == []
    return result


# Therapy doses that meet neither 8.1 nor 8.2: radiotherapy delivered as planned.
AS_PLANNED = {"ptv_intended_dose": "60 Gy", "ptv_delivered_dose": "60 Gy",
              "oar_intended_dose": "40 Gy", "oar_delivered_dose": "40 Gy",
              "fraction_intended_dose": "2 Gy", "fraction_delivered_dose": "2 Gy"}


def rt(**changes) -> dict[str, Any]:
    return incident(modality="radiotherapy", **{**AS_PLANNED, **changes})


def nmt(nm_therapy: str, prescribed: str, delivered: str, **facts) -> dict[str, Any]:
    return incident(modality="nuclear_medicine_therapy", nm_therapy=nm_therapy, prescribed_activity=prescribed,
                    delivered_activity=delivered, **facts)


# A nuclear medicine therapy whose target received its planned absorbed dose: 8.2, which reaches nuclear
# medicine therapy too (interpretation under_exposure_radiotherapeutic), is then out of the way of 10.1/10.2.
TARGET_AS_PLANNED = {"ptv_intended_dose": "120 Gy", "ptv_delivered_dose": "120 Gy"}


ENG = ("1", "England only")
NSW = ("1", "Northern Ireland, Scotland & Wales")

# ------------------------------------------------------------------ code 1

CODE_1 = [
    Case("england-adult-exactly-3mSv-as-3000uSv",
         incident(exposure="accidental", age=50, total_dose="3000 uSv"), True, ["1"], {ENG: "met", NSW: "out of scope"}),
    Case("england-adult-2.999mSv",
         incident(exposure="accidental", age=50, total_dose="2.999 mSv"), False, [], {ENG: "not met"}),
    Case("england-age17-is-child-exactly-1mSv",
         incident(exposure="accidental", age=17, total_dose="1 mSv"), True, ["1"], {ENG: "met"}),
    Case("england-age17-child-0.999mSv",
         incident(exposure="accidental", age=17, total_dose="0.999 mSv"), False, [], {ENG: "not met"}),
    Case("england-age18-is-adult-1mSv",
         incident(exposure="accidental", age=18, total_dose="1 mSv"), False, [], {ENG: "not met"}),
    Case("england-age18-adult-2.999mSv",
         incident(exposure="accidental", age=18, total_dose="2.999 mSv"), False, [], {ENG: "not met"}),
    Case("england-age18-adult-3mSv",
         incident(exposure="accidental", age=18, total_dose="3 mSv"), True, ["1"], {ENG: "met"}),
    Case("england-child-of-5-2mSv",
         incident(exposure="accidental", modality="nuclear_medicine", age=5, total_dose="2 mSv"), True, ["1"]),
    Case("england-therapy-modality-adult-7mSv",
         incident(exposure="accidental", modality="radiotherapy", age=62, total_dose="7 mSv"), True, ["1"]),
    # Outside England: always notifiable, whatever the dose or age.
    Case("wales-no-dose", incident("Wales", "accidental"), True, ["1"], {NSW: "met", ENG: "out of scope"}),
    Case("scotland-no-dose", incident("Scotland", "accidental"), True, ["1"], {NSW: "met", ENG: "out of scope"}),
    Case("northern-ireland-no-dose", incident("Northern Ireland", "accidental"), True, ["1"], {NSW: "met"}),
    Case("scotland-adult-tiny-dose",
         incident("Scotland", "accidental", age=40, total_dose="0.001 mSv"), True, ["1"], {NSW: "met"}),
    Case("wales-adult-2.999mSv-still-notifiable",
         incident("Wales", "accidental", age=40, total_dose="2.999 mSv"), True, ["1"], {NSW: "met"}),
    Case("northern-ireland-age-17-0.5mSv",
         incident("Northern Ireland", "accidental", age=17, total_dose="0.5 mSv"), True, ["1"]),
    # The same small dose in England is not notifiable: the England row applies, not the "regardless" one.
    Case("england-adult-0.5mSv-not-regardless-of-dose",
         incident(exposure="accidental", age=40, total_dose="0.5 mSv"), False, [],
         {ENG: "not met", NSW: "out of scope"}),
]


@pytest.mark.parametrize("version, case", params(CODE_1))
def test_code_1(by_version, version, case):
    check(by_version[version], case)


# ------------------------------------------------------------ codes 2.1-2.4

CODE_2 = [
    # 2.1: intended dose below 0.3 mSv; 3 mSv adult, 1 mSv child.
    Case("2.1-adult-exactly-3mSv", incident(age=40, intended_dose="0.299 mSv", total_dose="3 mSv"),
         True, ["2.1"], {"2.1": "met", "2.2": "out of scope"}),
    Case("2.1-adult-2.999mSv", incident(age=40, intended_dose="0.299 mSv", total_dose="2.999 mSv"),
         False, [], {"2.1": "not met"}),
    Case("2.1-england-age17-child-exactly-1mSv", incident(age=17, intended_dose="0.1 mSv", total_dose="1 mSv"),
         True, ["2.1"], {"2.1": "met"}),
    Case("2.1-england-age17-child-0.999mSv", incident(age=17, intended_dose="0.1 mSv", total_dose="0.999 mSv"),
         False, [], {"2.1": "not met"}),
    Case("2.1-england-age17-child-2mSv", incident(age=17, intended_dose="0.1 mSv", total_dose="2 mSv"),
         True, ["2.1"]),
    Case("2.1-england-age18-adult-2mSv", incident(age=18, intended_dose="0.1 mSv", total_dose="2 mSv"),
         False, [], {"2.1": "not met"}),
    Case("2.1-wales-age17-child-1mSv", incident("Wales", age=17, intended_dose="0.1 mSv", total_dose="1 mSv"),
         True, ["2.1"]),
    Case("2.1-northern-ireland-age17-child-1mSv",
         incident("Northern Ireland", age=17, intended_dose="0.1 mSv", total_dose="1 mSv"), True, ["2.1"]),
    Case("2.1-scotland-age17-adult-2mSv", incident("Scotland", age=17, intended_dose="0.1 mSv", total_dose="2 mSv"),
         False, [], {"2.1": "not met"}),
    Case("2.1-scotland-age16-adult-1mSv", incident("Scotland", age=16, intended_dose="0.1 mSv", total_dose="1 mSv"),
         False, [], {"2.1": "not met"}),
    Case("2.1-scotland-age16-adult-exactly-3mSv",
         incident("Scotland", age=16, intended_dose="0.1 mSv", total_dose="3 mSv"), True, ["2.1"]),
    Case("2.1-scotland-age15-child-exactly-1mSv",
         incident("Scotland", age=15, intended_dose="0.1 mSv", total_dose="1 mSv"), True, ["2.1"], {"2.1": "met"}),
    Case("2.1-scotland-age15-child-0.999mSv",
         incident("Scotland", age=15, intended_dose="0.1 mSv", total_dose="0.999 mSv"), False, []),
    Case("2.1-nuclear-medicine-imaging", incident(modality="nuclear_medicine", age=30, intended_dose="0.2 mSv",
                                                  total_dose="3 mSv"), True, ["2.1"]),
    Case("2.1-radiotherapy-imaging", incident(modality="radiotherapy_imaging", age=30, intended_dose="0.2 mSv",
                                              total_dose="3 mSv"), True, ["2.1"]),
    # 2.2: 0.3 mSv <= intended < 2.5 mSv; 10 or more times the intended dose, whatever the age.
    Case("2.2-intended-exactly-0.3mSv-factor-exactly-10", incident(age=40, intended_dose="0.3 mSv", total_dose="3 mSv"),
         True, ["2.2"], {"2.1": "out of scope", "2.2": "met"}),
    Case("2.2-intended-0.3mSv-2.999mSv", incident(age=40, intended_dose="0.3 mSv", total_dose="2.999 mSv"),
         False, [], {"2.2": "not met"}),
    Case("2.2-intended-0.3mSv-child-2.9mSv-no-child-threshold",
         incident(age=8, intended_dose="0.3 mSv", total_dose="2.9 mSv"), False, [], {"2.1": "out of scope"}),
    Case("2.2-1mSv-factor-exactly-10", incident(age=40, intended_dose="1 mSv", total_dose="10 mSv"), True, ["2.2"]),
    Case("2.2-1mSv-factor-9.999", incident(age=40, intended_dose="1 mSv", total_dose="9.999 mSv"), False, []),
    Case("2.2-0.7mSv-7mSv-exact-division", incident(age=40, intended_dose="0.7 mSv", total_dose="7 mSv"),
         True, ["2.2"]),
    Case("2.2-0.7mSv-in-uSv-6999uSv", incident(age=40, intended_dose="700 uSv", total_dose="6999 uSv"), False, []),
    Case("2.2-intended-2.499mSv-24.99mSv", incident(age=40, intended_dose="2.499 mSv", total_dose="24.99 mSv"),
         True, ["2.2"], {"2.2": "met", "2.3": "out of scope"}),
    Case("2.2-intended-2.499mSv-24.989mSv", incident(age=40, intended_dose="2.499 mSv", total_dose="24.989 mSv"),
         False, []),
    # 2.3: 2.5 mSv <= intended <= 10 mSv; 25 mSv or above.
    Case("2.3-intended-exactly-2.5mSv-25mSv", incident(age=40, intended_dose="2.5 mSv", total_dose="25 mSv"),
         True, ["2.3"], {"2.2": "out of scope", "2.3": "met"}),
    Case("2.3-intended-2.5mSv-24.999mSv", incident(age=40, intended_dose="2.5 mSv", total_dose="24.999 mSv"),
         False, [], {"2.3": "not met"}),
    Case("2.3-intended-5mSv-25mSv", incident(age=40, intended_dose="5 mSv", total_dose="25 mSv"), True, ["2.3"]),
    Case("2.3-intended-exactly-10mSv-25mSv", incident(age=40, intended_dose="10 mSv", total_dose="25 mSv"),
         True, ["2.3"], {"2.3": "met", "2.4": "out of scope"}),
    Case("2.3-intended-10mSv-24.999mSv", incident(age=40, intended_dose="10 mSv", total_dose="24.999 mSv"),
         False, [], {"2.3": "not met", "2.4": "out of scope"}),
    # 2.4: intended above 10 mSv; 2.5 or more times the intended dose.
    Case("2.4-intended-10.1mSv-factor-exactly-2.5", incident(age=40, intended_dose="10.1 mSv", total_dose="25.25 mSv"),
         True, ["2.4"], {"2.3": "out of scope", "2.4": "met"}),
    Case("2.4-intended-10.1mSv-25.249mSv", incident(age=40, intended_dose="10.1 mSv", total_dose="25.249 mSv"),
         False, [], {"2.4": "not met"}),
    Case("2.4-intended-just-above-10mSv", incident(age=40, intended_dose="10.001 mSv", total_dose="25.0025 mSv"),
         True, ["2.4"]),
    Case("2.4-intended-20mSv-50mSv", incident(modality="interventional", age=40, intended_dose="20 mSv",
                                              total_dose="50 mSv"), True, ["2.4"]),
    Case("2.4-intended-20mSv-49.999mSv", incident(modality="interventional", age=40, intended_dose="20 mSv",
                                                  total_dose="49.999 mSv"), False, []),
    Case("2.4-intended-12mSv-30mSv-nuclear-medicine", incident(modality="nuclear_medicine", age=40,
                                                               intended_dose="12 mSv", total_dose="30 mSv"),
         True, ["2.4"]),
]


@pytest.mark.parametrize("version, case", params(CODE_2))
def test_codes_2(by_version, version, case):
    check(by_version[version], case)


# ------------------------------------------------------------------ code 3

THREE_DOSES = {"intended_dose": "8 mSv", "total_dose": "9 mSv", "age": 60}

CODE_3 = [
    Case("other-reaction-with-procedural-failure",
         incident(modality="interventional", tissue_reaction="other", procedural_failure=True, **THREE_DOSES),
         True, ["3"], {"3": "met"}),
    Case("other-reaction-no-procedural-failure",
         incident(modality="interventional", tissue_reaction="other", procedural_failure=False, **THREE_DOSES),
         True, ["3"], {"3": "met"}),
    Case("no-reaction", incident(modality="interventional", tissue_reaction="none", procedural_failure=True,
                                 **THREE_DOSES), False, [], {"3": "not met"}),
    # Transient erythema in 2023: excluded after a procedural failure (the first bullet), not without one (the
    # second bullet carries no exclusion: interpretation transient_erythema_2023). Notifiable either way in 2024.
    Case("transient-erythema-procedural-failure-2023",
         incident(modality="interventional", tissue_reaction="transient_erythema", procedural_failure=True,
                  **THREE_DOSES), False, [], {"3": "not met"}, V2023),
    Case("transient-erythema-no-procedural-failure-2023",
         incident(modality="interventional", tissue_reaction="transient_erythema", **THREE_DOSES),
         True, ["3"], {"3": "met"}, V2023),
    Case("transient-erythema-procedural-failure-stated-no-2023",
         incident(modality="interventional", tissue_reaction="transient_erythema", procedural_failure=False,
                  **THREE_DOSES), True, ["3"], {"3": "met"}, V2023),
    Case("transient-erythema-procedural-failure-2024",
         incident(modality="interventional", tissue_reaction="transient_erythema", procedural_failure=True,
                  **THREE_DOSES), True, ["3"], {"3": "met"}, V2024),
    Case("transient-erythema-no-procedural-failure-2024",
         incident(modality="interventional", tissue_reaction="transient_erythema", **THREE_DOSES),
         True, ["3"], {"3": "met"}, V2024),
    # The 2024 repeat exclusion does not touch code 3.
    Case("other-reaction-no-error-2024",
         incident(modality="interventional", tissue_reaction="other", error_involved=False, **THREE_DOSES),
         True, ["3"], {"3": "met"}, V2024),
    Case("interventional-with-equipment-fault", incident(modality="interventional", tissue_reaction="other",
                                                         equipment_fault=True), True, ["3", "E3"]),
]


@pytest.mark.parametrize("version, case", params(CODE_3))
def test_code_3(by_version, version, case):
    check(by_version[version], case)


# ------------------------------------------------------------- codes 4.1-4.2c

RTI_DOSES = {"intended_dose": "2 mSv", "total_dose": "4 mSv"}


def rti(**facts) -> dict[str, Any]:
    return incident(modality="radiotherapy_imaging", **{**RTI_DOSES, **facts})


CODE_4 = [
    # 4.1: 3 planning scans in total.
    Case("4.1-exactly-3-scans", rti(planning_scans=3), True, ["4.1"], {"4.1": "met"}),
    Case("4.1-2-scans", rti(planning_scans=2), False, [], {"4.1": "not met"}),
    Case("4.1-3-scans-no-error-2023", rti(planning_scans=3, error_involved=False), True, ["4.1"], {}, V2023),
    Case("4.1-3-scans-no-error-2024", rti(planning_scans=3, error_involved=False), False, [],
         {"4.1": "not met"}, V2024),
    Case("4.1-3-scans-error-stated-2024", rti(planning_scans=3, error_involved=True), True, ["4.1"], {}, V2024),
    # 4.2a: 3 or more images in a single fraction after a set-up error (2024: or hardware/software failure).
    Case("4.2a-set-up-error-exactly-3-images", rti(imaging_cause="set_up_error", fraction_images=3),
         True, ["4.2a"], {"4.2a": "met"}),
    Case("4.2a-set-up-error-2-images", rti(imaging_cause="set_up_error", fraction_images=2),
         False, [], {"4.2a": "not met"}),
    Case("4.2a-hardware-3-images-2023", rti(imaging_cause="hardware_software_failure", fraction_images=3),
         False, [], {"4.2a": "not met"}, V2023),
    Case("4.2a-hardware-3-images-2024", rti(imaging_cause="hardware_software_failure", fraction_images=3),
         True, ["4.2a"], {"4.2a": "met"}, V2024),
    Case("4.2a-hardware-2-images-2024", rti(imaging_cause="hardware_software_failure", fraction_images=2),
         False, [], {"4.2a": "not met"}, V2024),
    Case("4.2a-protocol-failure-3-images", rti(imaging_cause="protocol_failure", fraction_images=3),
         False, [], {"4.2a": "not met"}),
    # 4.2a-c name their error: with error_involved no the facts contradict each other (conflict
    # error_cause_without_error), refused, not evaluated (tests/test_derive.py).
    # 4.2b: additional images >= 50% of intended, after a protocol failure.
    Case("4.2b-4-intended-2-additional-exactly-50pc",
         rti(imaging_cause="protocol_failure", intended_images=4, additional_images=2), True, ["4.2b"],
         {"4.2b": "met"}),
    Case("4.2b-4-intended-1-additional-25pc",
         rti(imaging_cause="protocol_failure", intended_images=4, additional_images=1), False, [],
         {"4.2b": "not met"}),
    Case("4.2b-5-intended-3-additional", rti(imaging_cause="protocol_failure", intended_images=5,
                                             additional_images=3), True, ["4.2b"]),
    Case("4.2b-5-intended-2-additional-40pc", rti(imaging_cause="protocol_failure", intended_images=5,
                                                  additional_images=2), False, []),
    Case("4.2b-set-up-error-not-protocol", rti(imaging_cause="set_up_error", intended_images=4,
                                               additional_images=2), False, [], {"4.2b": "not met"}),
    # (An imaging cause with error_involved no contradicts itself: refused, tests/test_derive.py.)
    # 4.2c: the same, after a thematic hardware or software failure.
    Case("4.2c-theme-4-intended-2-additional",
         rti(imaging_cause="hardware_software_failure", theme=True, intended_images=4, additional_images=2),
         True, ["4.2c"], {"4.2c": "met"}),
    Case("4.2c-theme-4-intended-1-additional",
         rti(imaging_cause="hardware_software_failure", theme=True, intended_images=4, additional_images=1),
         False, [], {"4.2c": "not met"}),
    Case("4.2c-not-a-theme",
         rti(imaging_cause="hardware_software_failure", theme=False, intended_images=4, additional_images=2),
         False, [], {"4.2c": "not met"}),
    Case("4.2c-protocol-failure-theme",
         rti(imaging_cause="protocol_failure", theme=True, intended_images=4, additional_images=1),
         False, [], {"4.2c": "not met", "4.2b": "not met"}),
    Case("4.2c-three-patients-equipment-fault",
         rti(imaging_cause="hardware_software_failure", theme=True, intended_images=5, additional_images=3,
             individuals=3, equipment_fault=True), True, ["4.2c", "M4.2c", "E4.2c"]),
]


@pytest.mark.parametrize("version, case", params(CODE_4))
def test_codes_4(by_version, version, case):
    check(by_version[version], case)


# ------------------------------------------------------------- codes 5, 6, 7

FOETAL = {"foetal_exposure_unintended": True, "intended_dose": "2 mSv", "total_dose": "3 mSv", "age": 30}
NM_DOSES = {"intended_dose": "3 mSv", "total_dose": "3 mSv", "age": 30}

CODES_5_6_7 = [
    Case("5-exactly-10mGy", incident(foetal_dose="10 mGy", **FOETAL), True, ["5"], {"5": "met"}),
    Case("5-9.999mGy", incident(foetal_dose="9.999 mGy", **FOETAL), False, [], {"5": "not met"}),
    Case("5-exactly-1cGy", incident(foetal_dose="1 cGy", **FOETAL), True, ["5"]),
    Case("5-accidental-exposure-of-pregnant-patient",
         incident("Wales", "accidental", foetal_dose="10 mGy", **FOETAL), True, ["1", "5"]),
    Case("5-foetal-exposure-intended", incident(foetal_dose="12 mGy", **{**FOETAL, "foetal_exposure_unintended": False}),
         False, [], {"5": "out of scope"}),
    Case("5-no-error-still-notifiable", incident(foetal_dose="12 mGy", error_involved=False, **FOETAL),
         True, ["5"], {"5": "met"}),
    Case("5-no-error-with-multiple-patients-2023",
         incident(foetal_dose="12 mGy", error_involved=False, individuals=2, **FOETAL), True, ["5", "M5"], {}, V2023),
    Case("5-no-error-with-multiple-patients-2024-M-excluded",
         incident(foetal_dose="12 mGy", error_involved=False, individuals=2, **FOETAL), True, ["5"],
         {"M": "not met"}, V2024),
    # 6: breast-feeding infant, nuclear medicine only, failure in procedure AND 1 mSv or more.
    Case("6-exactly-1mSv", incident(modality="nuclear_medicine", procedural_failure=True, infant_dose="1 mSv",
                                    **NM_DOSES), True, ["6"], {"6": "met"}),
    Case("6-0.999mSv", incident(modality="nuclear_medicine", procedural_failure=True, infant_dose="0.999 mSv",
                                **NM_DOSES), False, [], {"6": "not met"}),
    Case("6-1000uSv-therapy", incident(modality="nuclear_medicine_therapy", procedural_failure=True,
                                       infant_dose="1000 uSv", nm_therapy="other", prescribed_activity="5.6 GBq",
                                       delivered_activity="5.6 GBq"), True, ["6"]),
    Case("6-no-procedural-failure", incident(modality="nuclear_medicine", procedural_failure=False,
                                             infant_dose="5 mSv", **NM_DOSES), False, [], {"6": "not met"}),
    Case("6-diagnostic-x-ray-out-of-scope", incident(procedural_failure=True, infant_dose="5 mSv", **NM_DOSES),
         False, [], {"6": "out of scope"}),
    # 7: incorrect radiopharmaceutical, regardless of dose.
    Case("7-tiny-dose", incident(modality="nuclear_medicine", wrong_radiopharmaceutical=True,
                                 intended_dose="0.01 mSv", total_dose="0.01 mSv", age=50), True, ["7"], {"7": "met"}),
    Case("7-therapy", incident(modality="nuclear_medicine_therapy", wrong_radiopharmaceutical=True,
                               nm_therapy="other", prescribed_activity="5.6 GBq", delivered_activity="5.6 GBq"),
         True, ["7"]),
    Case("7-correct-radiopharmaceutical", incident(modality="nuclear_medicine", wrong_radiopharmaceutical=False,
                                                   **NM_DOSES), False, [], {"7": "out of scope"}),
    Case("7-no-error-stated-2024", incident(modality="nuclear_medicine", wrong_radiopharmaceutical=True,
                                            error_involved=False, **NM_DOSES), True, ["7"], {}, V2024),
]


@pytest.mark.parametrize("version, case", params(CODES_5_6_7))
def test_codes_5_6_7(by_version, version, case):
    check(by_version[version], case)


# --------------------------------------------------------------- codes 8, 9

CODES_8_9 = [
    # 8.1: whole course 1.1 times (PTV or OAR), any fraction 1.2 times.
    Case("8.1-ptv-exactly-66-of-60Gy", rt(ptv_delivered_dose="66 Gy"), True, ["8.1"], {"8.1": "met"}),
    Case("8.1-ptv-65.99-of-60Gy", rt(ptv_delivered_dose="65.99 Gy"), False, [], {"8.1": "not met"}),
    Case("8.1-ptv-6600cGy-of-60Gy", rt(ptv_delivered_dose="6600 cGy"), True, ["8.1"]),
    Case("8.1-ptv-65999mGy-of-60Gy", rt(ptv_delivered_dose="65999 mGy"), False, []),
    Case("8.1-oar-exactly-44-of-40Gy", rt(oar_delivered_dose="44 Gy"), True, ["8.1"], {"8.1": "met"}),
    Case("8.1-oar-43.99-of-40Gy", rt(oar_delivered_dose="43.99 Gy"), False, [], {"8.1": "not met"}),
    Case("8.1-fraction-exactly-2.4-of-2Gy", rt(fraction_delivered_dose="2.4 Gy"), True, ["8.1"], {"8.1": "met"}),
    Case("8.1-fraction-2.39-of-2Gy", rt(fraction_delivered_dose="2.39 Gy"), False, [], {"8.1": "not met"}),
    Case("8.1-fraction-1.1-times-is-not-enough", rt(fraction_delivered_dose="2.2 Gy"), False, []),
    Case("8.1-brachytherapy-fraction-8.4-of-7Gy", rt(fraction_intended_dose="7 Gy", fraction_delivered_dose="8.4 Gy"),
         True, ["8.1"]),
    Case("8.1-as-planned-out-of-band", rt(), False, [], {"8.1": "out of scope", "8.2": "out of scope"}),
    # 8.2: PTV whole course 0.9 times or less, unless there was a geographical miss.
    Case("8.2-exactly-54-of-60Gy", rt(ptv_delivered_dose="54 Gy"), True, ["8.2"], {"8.2": "met"}),
    Case("8.2-54.01-of-60Gy", rt(ptv_delivered_dose="54.01 Gy"), False, [], {"8.2": "not met"}),
    Case("8.2-5400cGy-of-6000cGy", rt(ptv_intended_dose="6000 cGy", ptv_delivered_dose="5400 cGy"), True, ["8.2"]),
    Case("8.2-excluded-by-partial-miss-that-misses-9.2",
         rt(ptv_delivered_dose="54 Gy", geographical_miss="partial", miss_displacement="5 mm", error_margin="4 mm"),
         False, [], {"8.2": "not met", "9.2": "not met"}),
    Case("8.2-excluded-by-total-miss", rt(ptv_delivered_dose="50 Gy", geographical_miss="total"),
         True, ["9.1"], {"8.2": "not met", "9.1": "met"}),
    # 9.1: every total geographical miss.
    Case("9.1-total-miss-as-planned-dose", rt(geographical_miss="total"), True, ["9.1"], {"9.1": "met"}),
    Case("9.1-partial-is-not-total", rt(geographical_miss="partial", miss_displacement="5 mm", error_margin="4 mm"),
         False, [], {"9.1": "out of scope", "9.2": "not met"}),
    Case("9.1-no-miss", rt(geographical_miss="none"), False, [], {"9.1": "out of scope", "9.2": "out of scope"}),
    # 9.2: partial miss > 2.5 x margin AND a dose factor of 8.1 or 8.2.
    Case("9.2-10.1mm-of-4mm-underdose", rt(ptv_delivered_dose="54 Gy", geographical_miss="partial",
                                          miss_displacement="10.1 mm", error_margin="4 mm"),
         True, ["9.2"], {"9.2": "met", "8.2": "not met"}),
    Case("9.2-exactly-2.5-times-margin-underdose", rt(ptv_delivered_dose="53 Gy", geographical_miss="partial",
                                                     miss_displacement="10 mm", error_margin="4 mm"),
         False, [], {"9.2": "not met"}),
    Case("9.2-12mm-of-4mm-no-dose-factor", rt(ptv_delivered_dose="57 Gy", geographical_miss="partial",
                                             miss_displacement="12 mm", error_margin="4 mm"),
         False, [], {"9.2": "not met", "8.2": "not met"}),
    Case("9.2-12mm-of-4mm-underdose-54.01Gy", rt(ptv_delivered_dose="54.01 Gy", geographical_miss="partial",
                                                miss_displacement="12 mm", error_margin="4 mm"),
         False, [], {"9.2": "not met"}),
    Case("9.2-1.2cm-of-4mm-overdose-ptv", rt(ptv_delivered_dose="66 Gy", geographical_miss="partial",
                                            miss_displacement="1.2 cm", error_margin="4 mm"),
         True, ["8.1", "9.2"], {"8.1": "met", "9.2": "met"}),
    Case("9.2-oar-overdose", rt(oar_delivered_dose="44 Gy", geographical_miss="partial",
                               miss_displacement="10.1 mm", error_margin="4 mm"), True, ["8.1", "9.2"]),
    Case("9.2-oar-overdose-exactly-2.5-margin", rt(oar_delivered_dose="44 Gy", geographical_miss="partial",
                                                  miss_displacement="1 cm", error_margin="0.4 cm"),
         True, ["8.1"], {"9.2": "not met"}),
]


@pytest.mark.parametrize("version, case", params(CODES_8_9))
def test_codes_8_9(by_version, version, case):
    check(by_version[version], case)


def test_8_2_exclusion_is_reported(g2024):
    result = explained(g2024, rt(ptv_delivered_dose="54 Gy", geographical_miss="partial", miss_displacement="5 mm",
                               error_margin="4 mm"))
    [entry] = [e for e in result.explanation if e.code == "8.2"]
    assert entry.outcome == "not met"
    assert entry.excluded_by is not None and "geographical_miss" in entry.excluded_by


# ------------------------------------------------------------------ code 10

CODE_10 = [
    # 10.1 SIRT: outside +/-20% of the prescribed activity. Where 10.1 is not met, the target's absorbed dose
    # is given as planned, so that 8.2 does not decide (see CODE_8_NM_THERAPY).
    Case("10.1-low-exactly-minus-20pc", nmt("sirt", "1.5 GBq", "1.2 GBq", **TARGET_AS_PLANNED), False, [],
         {"10.1": "not met", "8.2": "out of scope"}),
    Case("10.1-low-just-outside", nmt("sirt", "1.5 GBq", "1199 MBq"), True, ["10.1"], {"10.1": "met"}),
    Case("10.1-low-1.19GBq", nmt("sirt", "1.5 GBq", "1190 MBq"), True, ["10.1"]),
    Case("10.1-high-exactly-plus-20pc", nmt("sirt", "1.5 GBq", "1.8 GBq", **TARGET_AS_PLANNED), False, [],
         {"10.1": "not met"}),
    Case("10.1-high-just-outside", nmt("sirt", "1.5 GBq", "1801 MBq"), True, ["10.1"], {"10.1": "met"}),
    Case("10.1-as-prescribed", nmt("sirt", "1500 MBq", "1.5 GBq", **TARGET_AS_PLANNED), False, []),
    Case("10.1-12pc-over-is-within-20pc", nmt("sirt", "1.5 GBq", "1.68 GBq", **TARGET_AS_PLANNED), False, [],
         {"10.1": "not met", "10.2": "out of scope"}),
    # 10.2 other therapies: outside +/-10%.
    Case("10.2-high-exactly-plus-10pc", nmt("other", "5.6 GBq", "6.16 GBq", **TARGET_AS_PLANNED), False, [],
         {"10.2": "not met"}),
    Case("10.2-high-just-outside", nmt("other", "5.6 GBq", "6161 MBq"), True, ["10.2"], {"10.2": "met"}),
    Case("10.2-low-exactly-minus-10pc", nmt("other", "5.6 GBq", "5.04 GBq", **TARGET_AS_PLANNED), False, [],
         {"10.2": "not met"}),
    Case("10.2-low-just-outside", nmt("other", "5.6 GBq", "5039 MBq"), True, ["10.2"], {"10.2": "met"}),
    Case("10.2-12pc-over", nmt("other", "1.5 GBq", "1.68 GBq"), True, ["10.2"], {"10.1": "out of scope"}),
]


@pytest.mark.parametrize("version, case", params(CODE_10))
def test_code_10(by_version, version, case):
    check(by_version[version], case)


# ------------------------------------------------ codes 8.2, 9 in nuclear medicine therapy

# "Regulation 8(4)(b) requires employers to make notifications of radiotherapeutic exposures that are
# significantly lower than intended, as set out in the criteria in the table (codes 8.1 and 8.2). This includes:
# nuclear medicine therapy, ...": 8.2 and the misses it leaves to 9.1 and 9.2 reach nuclear medicine therapy
# (interpretations under_exposure_radiotherapeutic, miss_radiotherapeutic); 8.1 does not (over_exposure_radiotherapy).
# Before, all of 8 and 9 were radiotherapy only, and none of these could be notifiable.
def target(intended: str, delivered: str) -> dict[str, str]:
    return {"ptv_intended_dose": intended, "ptv_delivered_dose": delivered}


CODE_8_NM_THERAPY = [
    Case("8.2-sirt-activity-exactly-minus-20pc-dose-0.8", nmt("sirt", "1.5 GBq", "1.2 GBq", **target("120 Gy", "96 Gy")),
         True, ["8.2"], {"8.2": "met", "10.1": "not met"}),
    Case("8.2-exactly-0.9-times", nmt("sirt", "1.5 GBq", "1.5 GBq", **target("120 Gy", "108 Gy")), True, ["8.2"],
         {"8.2": "met"}),
    Case("8.2-just-above-0.9-times", nmt("sirt", "1.5 GBq", "1.5 GBq", **target("120 Gy", "108.001 Gy")), False, [],
         {"8.2": "not met"}),
    Case("8.2-radioiodine-contrast-a-third", nmt("other", "1.1 GBq", "1.1 GBq", **target("300 Gy", "100 Gy")),
         True, ["8.2"], {"8.2": "met", "10.2": "not met"}),
    Case("8.2-and-10.2-both-reported", nmt("other", "5.55 GBq", "1.85 GBq", **target("300 Gy", "100 Gy")),
         True, ["8.2", "10.2"], {"8.2": "met", "10.2": "met"}),
    Case("8.1-does-not-reach-nm-therapy", nmt("other", "5.6 GBq", "6.16 GBq", **target("300 Gy", "330 Gy")),
         False, [], {"8.1": "out of scope", "8.2": "out of scope", "10.2": "not met"}),
    Case("9.1-nm-therapy-total-miss", nmt("sirt", "1.5 GBq", "1.5 GBq", geographical_miss="total"), True, ["9.1"],
         {"9.1": "met"}),
    Case("9.2-nm-therapy-partial-miss-underdose",
         nmt("sirt", "1.5 GBq", "1.5 GBq", geographical_miss="partial", miss_displacement="12 mm", error_margin="4 mm",
             **target("120 Gy", "100 Gy")), True, ["9.2"], {"9.2": "met", "8.2": "not met"}),
    Case("9.2-nm-therapy-partial-miss-within-margin",
         nmt("sirt", "1.5 GBq", "1.5 GBq", geographical_miss="partial", miss_displacement="10 mm", error_margin="4 mm",
             **target("120 Gy", "100 Gy")), False, [], {"9.2": "not met", "8.2": "not met"}),
    Case("8.2-m-code-suffix", nmt("other", "1.1 GBq", "1.1 GBq", individuals=2, **target("300 Gy", "100 Gy")),
         True, ["8.2", "M8.2"]),
]


@pytest.mark.parametrize("version, case", params(CODE_8_NM_THERAPY))
def test_code_8_2_and_9_in_nuclear_medicine_therapy(by_version, version, case):
    check(by_version[version], case)


def test_nm_therapy_within_activity_tolerance_needs_the_target_dose(guidance):
    """10.1 not met, and nothing says whether the target was under-dosed: undetermined, asking for the doses."""
    result = explained(guidance, nmt("sirt", "1.5 GBq", "1.2 GBq"))
    assert result.notifiable is None
    assert result.missing == ["ptv_delivered_dose", "ptv_intended_dose"]
    assert outcomes_of(result, "8.2") == ["undetermined"] and outcomes_of(result, "10.1") == ["not met"]


# ---------------------------------------------------------------- scope

SCOPE = [
    # (facts, code, label, expected notifiable, expected codes)
    pytest.param(incident("Wales", "accidental"), "1", "England only", True, ["1"], id="1-england-row-in-wales"),
    pytest.param(incident("England", "accidental", age=40, total_dose="1 mSv"), "1",
                 "Northern Ireland, Scotland & Wales", False, [], id="1-regardless-row-in-england"),
    pytest.param(incident("Scotland", "unintended", age=40, intended_dose="1 mSv", total_dose="2 mSv"), "1",
                 "Northern Ireland, Scotland & Wales", False, [], id="1-unintended-exposure-in-scotland"),
    pytest.param(incident("England", "unintended", age=40, intended_dose="1 mSv", total_dose="50 mSv"), "1",
                 "England only", True, ["2.2"], id="1-unintended-exposure-in-england"),
    pytest.param(incident(exposure="accidental", age=40, intended_dose="0.1 mSv", total_dose="2 mSv"), "2.1",
                 None, False, [], id="2.1-accidental-exposure"),
    pytest.param(incident(modality="nuclear_medicine_therapy", age=40, intended_dose="0.1 mSv", total_dose="5 mSv",
                          nm_therapy="other", prescribed_activity="5.6 GBq", delivered_activity="5.6 GBq",
                          **TARGET_AS_PLANNED), "2.1", None, False, [], id="2.1-nuclear-medicine-therapy"),
    pytest.param(rt(age=40, intended_dose="1 mSv", total_dose="50 mSv"), "2.2", None, False, [],
                 id="2.2-radiotherapy-delivery"),
    pytest.param(rt(age=40, intended_dose="5 mSv", total_dose="50 mSv"), "2.3", None, False, [],
                 id="2.3-radiotherapy-delivery"),
    pytest.param(rt(age=40, intended_dose="20 mSv", total_dose="80 mSv"), "2.4", None, False, [],
                 id="2.4-radiotherapy-delivery"),
    pytest.param(incident(exposure="accidental", modality="interventional", tissue_reaction="other", age=40,
                          total_dose="2 mSv"), "3", None, False, [], id="3-accidental-exposure"),
    pytest.param(incident(tissue_reaction="other", age=40, intended_dose="1 mSv", total_dose="2 mSv"), "3",
                 None, False, [], id="3-diagnostic-modality"),
    pytest.param(incident(planning_scans=3, age=40, intended_dose="1 mSv", total_dose="2 mSv"), "4.1", None,
                 False, [], id="4.1-diagnostic-modality"),
    pytest.param(rt(planning_scans=3), "4.1", None, False, [], id="4.1-radiotherapy-delivery"),
    pytest.param(rt(imaging_cause="set_up_error", fraction_images=3), "4.2a", None, False, [],
                 id="4.2a-radiotherapy-delivery"),
    pytest.param(incident(modality="interventional", imaging_cause="protocol_failure", intended_images=4,
                          additional_images=2, age=40, intended_dose="5 mSv", total_dose="6 mSv"), "4.2b", None,
                 False, [], id="4.2b-interventional"),
    pytest.param(incident(exposure="accidental", modality="radiotherapy_imaging",
                          imaging_cause="hardware_software_failure", theme=True, intended_images=4,
                          additional_images=2, age=40, total_dose="2 mSv"), "4.2c", None, False, [],
                 id="4.2c-accidental-exposure"),
    pytest.param(incident(procedural_failure=True, infant_dose="2 mSv", age=30, intended_dose="1 mSv",
                          total_dose="1 mSv"), "6", None, False, [], id="6-diagnostic-x-ray"),
    pytest.param(incident("England", "accidental", modality="nuclear_medicine", procedural_failure=True,
                          infant_dose="2 mSv", age=30, total_dose="1 mSv"), "6", None, False, [],
                 id="6-accidental-exposure"),
    pytest.param(incident(modality="radiotherapy_imaging", wrong_radiopharmaceutical=True, age=30,
                          intended_dose="1 mSv", total_dose="1 mSv"), "7", None, False, [],
                 id="7-radiotherapy-imaging"),
    pytest.param(incident(modality="nuclear_medicine_therapy", nm_therapy="other", prescribed_activity="5.6 GBq",
                          delivered_activity="5.6 GBq", **{k: v for k, v in AS_PLANNED.items()},
                          ) | {"ptv_delivered_dose": "70 Gy"}, "8.1", None, False, [],
                 id="8.1-nuclear-medicine-therapy"),
    pytest.param(rt(ptv_delivered_dose="70 Gy") | {"exposure": "accidental", "age": 40, "total_dose": "1 mSv"},
                 "8.1", None, False, [], id="8.1-accidental-exposure"),
    pytest.param(incident(modality="radiotherapy_imaging", age=40, intended_dose="1 mSv", total_dose="1 mSv",
                          ptv_intended_dose="60 Gy", ptv_delivered_dose="50 Gy"), "8.2", None, False, [],
                 id="8.2-radiotherapy-imaging"),
    pytest.param(incident(modality="radiotherapy_imaging", geographical_miss="total", age=40, intended_dose="1 mSv",
                          total_dose="1 mSv"), "9.1", None, False, [], id="9.1-radiotherapy-imaging"),
    pytest.param(rt(geographical_miss="total") | {"exposure": "accidental", "age": 40, "total_dose": "1 mSv"},
                 "9.1", None, False, [], id="9.1-accidental-exposure"),
    pytest.param(incident(modality="interventional", geographical_miss="partial", miss_displacement="20 mm",
                          error_margin="4 mm", age=40, intended_dose="5 mSv", total_dose="6 mSv"), "9.2", None,
                 False, [], id="9.2-interventional"),
    pytest.param(rt(nm_therapy="sirt", prescribed_activity="1.5 GBq", delivered_activity="1 GBq"), "10.1", None,
                 False, [], id="10.1-radiotherapy"),
    pytest.param(nmt("sirt", "1.5 GBq", "1 GBq") | {"exposure": "accidental", "age": 40, "total_dose": "1 mSv"},
                 "10.1", None, False, [], id="10.1-accidental-exposure"),
    pytest.param(nmt("sirt", "5.6 GBq", "6.2 GBq", **TARGET_AS_PLANNED), "10.2", None, False, [],
                 id="10.2-sirt-is-not-other"),
    # "You do not need to make a notification of exposures lower than intended for non-radiotherapeutic modalities."
    pytest.param(incident(modality="nuclear_medicine", age=40, intended_dose="1 mSv", total_dose="1 mSv",
                          **target("120 Gy", "60 Gy")), "8.2", None, False, [], id="8.2-diagnostic-nuclear-medicine"),
    pytest.param(incident(modality="nuclear_medicine", age=40, intended_dose="1 mSv", total_dose="1 mSv",
                          geographical_miss="total"), "9.1", None, False, [], id="9.1-diagnostic-nuclear-medicine"),
    pytest.param(nmt("other", "1.5 GBq", "1 GBq"), "10.1", None, True, ["10.2"], id="10.1-other-is-not-sirt"),
]


@pytest.mark.parametrize("facts, code, label, notifiable, codes", SCOPE)
def test_out_of_scope(guidance, facts, code, label, notifiable, codes):
    result = explained(guidance, facts)
    assert result.error is None, result.error
    assert outcomes_of(result, code, label) == ["out of scope"]
    assert result.notifiable is notifiable
    assert result.codes == codes


# -------------------------------------------------------- complementary codes

GFR = incident(modality="nuclear_medicine", individuals=6, age=50, intended_dose="0.01 mSv", total_dose="0.02 mSv")
DIAG_MET = {"age": 40, "intended_dose": "1 mSv", "total_dose": "10 mSv"}      # meets 2.2 exactly
DIAG_NOT_MET = {"age": 40, "intended_dose": "1 mSv", "total_dose": "9.999 mSv"}  # just misses 2.2
DIAG_REPEAT = {"age": 40, "intended_dose": "2 mSv", "total_dose": "22 mSv"}    # 11 times: meets 2.2

COMPLEMENTARY = [
    # M: statutory, more than one individual; suffix of the met code, else of the category.
    Case("M-with-2.2-met", incident(individuals=2, **DIAG_MET), True, ["2.2", "M2.2"], {"M": "met"}),
    Case("M-one-individual", incident(individuals=1, **DIAG_MET), True, ["2.2"], {"M": "not met"}),
    Case("M-no-code-met-takes-category-2.2", incident(individuals=2, **DIAG_NOT_MET), True, ["M2.2"]),
    Case("M-gfr-multi-patient-tiny-doses-M2.1", GFR, True, ["M2.1"], {"M": "met", "2.1": "not met"}),
    Case("M-theme-of-detector-errors", incident(theme=True, individuals=4, age=50, intended_dose="0.001 mSv",
                                                total_dose="0.002 mSv"), True, ["M2.1"]),
    Case("M-accidental-england-below-threshold", incident(exposure="accidental", individuals=3, age=40,
                                                          total_dose="2 mSv"), True, ["M1"]),
    Case("M-accidental-wales", incident("Wales", "accidental", individuals=3), True, ["1", "M1"]),
    Case("M-couch-theme-underdose-below-8.2",
         rt(ptv_delivered_dose="57 Gy", oar_delivered_dose="38 Gy", fraction_delivered_dose="1.9 Gy", theme=True,
            individuals=40, equipment_fault=True), True, ["M8.2", "E8.2"]),
    Case("M-no-error-2023", incident(individuals=3, error_involved=False, **DIAG_NOT_MET), True, ["M2.2"], {}, V2023),
    Case("M-no-error-2024-excluded", incident(individuals=3, error_involved=False, **DIAG_NOT_MET), False, [],
         {"M": "not met"}, V2024),
    # E: a tag, only when the incident is notifiable.
    Case("E-with-2.2-met", incident(equipment_fault=True, **DIAG_MET), True, ["2.2", "E2.2"], {"E": "met"}),
    Case("E-not-notifiable-no-E", incident(equipment_fault=True, **DIAG_NOT_MET), False, []),
    Case("E-with-M-and-code", incident(equipment_fault=True, individuals=2, **DIAG_MET), True,
         ["2.2", "M2.2", "E2.2"]),
    Case("E-with-code-1-wales", incident("Wales", "accidental", equipment_fault=True), True, ["1", "E1"]),
    # V: voluntary, only when the incident is not notifiable.
    Case("V-not-notifiable", incident(voluntary=True, **DIAG_NOT_MET), False, ["V2.2"], {"V": "met"}),
    Case("V-notifiable-no-V", incident(voluntary=True, **DIAG_MET), True, ["2.2"]),
    Case("V-accidental-england-below-threshold", incident(exposure="accidental", voluntary=True, age=40,
                                                          total_dose="2 mSv"), False, ["V1"]),
    Case("V-radiotherapy-8.1-category", rt(voluntary=True, ptv_intended_dose="20 Gy", ptv_delivered_dose="21 Gy",
                                           oar_intended_dose="10 Gy", oar_delivered_dose="10 Gy",
                                           fraction_intended_dose="4 Gy", fraction_delivered_dose="4.2 Gy"),
         False, ["V8.1"]),
    # C: statutory on its own.
    Case("C-alone-statutory", incident(clinically_significant=True, **DIAG_NOT_MET), True, ["C2.2"], {"C": "met"}),
    Case("C-with-code", incident(clinically_significant=True, **DIAG_MET), True, ["2.2", "C2.2"]),
    Case("C-with-two-codes", rt(clinically_significant=True, ptv_delivered_dose="66 Gy", geographical_miss="partial",
                                miss_displacement="11 mm", error_margin="4 mm"), True, ["8.1", "9.2", "C8.1", "C9.2"]),
    Case("C-no-error-2024-not-excluded", incident(clinically_significant=True, error_involved=False, **DIAG_REPEAT),
         True, ["C2.2"], {"2.2": "not met", "C": "met"}, V2024),
    Case("C-no-error-2023", incident(clinically_significant=True, error_involved=False, **DIAG_REPEAT),
         True, ["2.2", "C2.2"], {}, V2023),
    Case("C-and-V-both-given-C-makes-it-notifiable", incident(clinically_significant=True, voluntary=True,
                                                             **DIAG_NOT_MET), True, ["C2.2"]),
    # The 2024 general exclusion of repeats without an error: 2.x only; 2023 has none.
    Case("repeat-without-error-2024", incident(error_involved=False, **DIAG_REPEAT), False, [],
         {"2.2": "not met"}, V2024),
    Case("repeat-without-error-2023", incident(error_involved=False, **DIAG_REPEAT), True, ["2.2"], {}, V2023),
    Case("repeat-after-error-2024", incident(**DIAG_REPEAT), True, ["2.2"], {}, V2024),
    Case("repeat-without-error-2.1-2024", incident(error_involved=False, age=40, intended_dose="0.1 mSv",
                                                   total_dose="5 mSv"), False, [], {"2.1": "not met"}, V2024),
    Case("repeat-without-error-2.3-2024", incident(error_involved=False, age=40, intended_dose="5 mSv",
                                                   total_dose="25 mSv"), False, [], {"2.3": "not met"}, V2024),
    Case("repeat-without-error-2.4-2024", incident(error_involved=False, age=40, intended_dose="12 mSv",
                                                   total_dose="30 mSv"), False, [], {"2.4": "not met"}, V2024),
]


@pytest.mark.parametrize("version, case", params(COMPLEMENTARY))
def test_complementary_codes(by_version, version, case):
    check(by_version[version], case)


def test_repeat_exclusion_is_named(g2024):
    result = explained(g2024, incident(error_involved=False, **DIAG_REPEAT))
    [entry] = [e for e in result.explanation if e.code == "2.2"]
    assert entry.excluded_by == "repeats_without_error"


@pytest.mark.parametrize("version, facts, codes, flagged", [
    pytest.param("2023", nmt("sirt", "1.5 GBq", "1.19 GBq", equipment_fault=True), ["10.1", "E10.1"], "E10.1",
                 id="2023-E10.1"),
    pytest.param("2024", nmt("sirt", "1.5 GBq", "1.19 GBq", equipment_fault=True), ["10.1", "E10.1"], "E10.1",
                 id="2024-E10.1"),
    pytest.param("2023", nmt("other", "5.6 GBq", "6.2 GBq", individuals=2), ["10.2", "M10.2"], "M10.2",
                 id="2023-M10.2-M-range-1-to-9"),
    pytest.param("2024", nmt("sirt", "1.5 GBq", "1.2 GBq", clinically_significant=True), ["C10.1"], "C10.1",
                 id="2024-C10.1"),
    pytest.param("2024", nmt("sirt", "1.5 GBq", "1.2 GBq", voluntary=True, **TARGET_AS_PLANNED), ["V10.1"], "V10.1",
                 id="2024-V10.1"),
])
def test_suffix_outside_range_is_reported_with_a_note(by_version, version, facts, codes, flagged):
    result = explained(by_version[version], facts)
    assert result.codes == codes
    assert [n for n in result.notes if n.startswith(flagged + ":")], result.notes
    assert any("1 to 9" in n for n in result.notes)


def test_M10_is_in_range_in_2024(g2024):
    result = explained(g2024, nmt("other", "5.6 GBq", "6.2 GBq", individuals=2))
    assert result.notifiable is True
    assert result.codes == ["10.2", "M10.2"]
    assert result.complementary == ["M"]
    assert result.notes == []


def test_E_with_suffix_in_range_has_no_note(guidance):
    result = explained(guidance, incident(equipment_fault=True, **DIAG_MET))
    assert result.codes == ["2.2", "E2.2"]
    assert result.complementary == ["E"]
    assert result.notes == []


# ------------------------------------------------- authority, deadlines, advice

AUTHORITIES = [
    pytest.param("England", "Care Quality Commission (CQC)", id="England"),
    pytest.param("Wales", "Healthcare Inspectorate Wales (HIW)", id="Wales"),
    pytest.param("Scotland", "Healthcare Improvement Scotland (HIS)", id="Scotland"),
    pytest.param("Northern Ireland", "The Regulation and Quality Improvement Authority (RQIA)", id="Northern-Ireland"),
]


@pytest.mark.parametrize("jurisdiction, name", AUTHORITIES)
def test_authority_per_jurisdiction(guidance, jurisdiction, name):
    result = explained(guidance, incident(jurisdiction, "accidental", age=40, total_dose="5 mSv"))
    assert result.notifiable is True
    assert result.authority is not None
    assert result.authority.jurisdiction == jurisdiction
    assert result.authority.name == name


@pytest.mark.parametrize("discovered, notify_by, report_by", [
    pytest.param("2024-11-04", dt.date(2024, 11, 18), dt.date(2025, 1, 27), id="annual-report-example"),
    pytest.param("2024-02-20", dt.date(2024, 3, 5), dt.date(2024, 5, 14), id="across-29-february"),
    pytest.param("2023-12-25", dt.date(2024, 1, 8), dt.date(2024, 3, 18), id="across-new-year"),
    pytest.param("2023-06-01", dt.date(2023, 6, 15), dt.date(2023, 8, 24), id="2023-example"),
])
def test_deadlines(guidance, discovered, notify_by, report_by):
    result = explained(guidance, incident("Northern Ireland", "accidental", discovered_on=discovered))
    assert result.notifiable is True
    assert result.notify_by == notify_by == dt.date.fromisoformat(discovered) + dt.timedelta(days=14)
    assert result.report_by == report_by == dt.date.fromisoformat(discovered) + dt.timedelta(days=84)


def test_no_deadlines_when_not_notifiable(guidance):
    result = explained(guidance, incident(exposure="accidental", age=40, total_dose="1 mSv", discovered_on="2024-11-04"))
    assert result.notifiable is False
    assert (result.notify_by, result.report_by) == (None, None)


def test_no_deadlines_without_discovery_date(guidance):
    result = explained(guidance, incident("Wales", "accidental"))
    assert result.notifiable is True
    assert (result.notify_by, result.report_by) == (None, None)


MHRA = "Medicines and Healthcare products Regulatory Agency (MHRA)"
NIAIC = "Northern Ireland Adverse Incident Centre"


@pytest.mark.parametrize("version, jurisdiction, to", [
    pytest.param("2023", "England", MHRA, id="2023-England"),
    pytest.param("2024", "England", MHRA, id="2024-England"),
    pytest.param("2023", "Wales", MHRA, id="2023-Wales"),
    pytest.param("2024", "Wales", MHRA, id="2024-Wales"),
    pytest.param("2023", "Scotland", "Health Facilities Scotland", id="2023-Scotland"),
    pytest.param("2024", "Scotland", "Health Facilities Scotland Incident Reporting and Investigating Centre (IRIC), "
                                     "email nss.irc@nhs.scot", id="2024-Scotland-IRIC"),
    pytest.param("2023", "Northern Ireland", NIAIC, id="2023-Northern-Ireland"),
    pytest.param("2024", "Northern Ireland", NIAIC, id="2024-Northern-Ireland"),
])
def test_equipment_fault_route(by_version, version, jurisdiction, to):
    """The medical-device reporting body of the jurisdiction is a route (said once: not also advice)."""
    result = explained(by_version[version], incident(jurisdiction, "accidental", age=40, total_dose="5 mSv",
                                                   equipment_fault=True))
    assert [(r.name, r.to) for r in result.routes if r.name == "device_report"] == [("device_report", to)]
    assert result.advice == []
    assert result.codes == ["1", "E1"]


def test_no_device_route_without_equipment_fault(guidance):
    result = explained(guidance, incident("Scotland", "accidental", age=40, total_dose="5 mSv"))
    assert result.advice == [] and "device_report" not in [r.name for r in result.routes]


def test_duty_of_candour_advice(guidance):
    result = explained(guidance, incident(clinically_significant=True, **DIAG_NOT_MET))
    assert [a.name for a in result.advice] == ["duty_of_candour"]
    assert result.codes == ["C2.2"]


THEMATIC_MLC = dict(modality="radiotherapy_imaging", imaging_cause="hardware_software_failure", theme=True,
                    intended_images=5, additional_images=3)


@pytest.mark.parametrize("individuals, advice, codes", [
    pytest.param(None, ["theme_count"], ["4.2c"], id="theme-no-count"),
    pytest.param(1, ["theme_count"], ["4.2c"], id="theme-one-person"),
    pytest.param(2, [], ["4.2c", "M4.2c"], id="theme-two-people"),
])
def test_a_theme_without_a_count_of_individuals_is_said(guidance, individuals, advice, codes):
    """A theme with no count of individuals leaves M to the default of one person: the result says so
    (interpretation theme_without_count) and still decides what the facts decide (the guidance's own
    thematic example of 4.2c gives no count)."""
    facts = dict(THEMATIC_MLC) if individuals is None else dict(THEMATIC_MLC, individuals=individuals)
    result = explained(guidance, incident(**facts))
    assert [a.name for a in result.advice] == advice
    assert result.codes == codes
    if advice:
        assert "individuals" in result.advice[0].text and "M applies" in result.advice[0].text


def test_no_theme_no_count_advice(guidance):
    result = explained(guidance, incident(**dict(THEMATIC_MLC, theme=False)))
    assert "theme_count" not in [a.name for a in result.advice]


def test_no_theme_count_advice_when_the_theme_is_not_known(guidance):
    """theme unknown: the advice's condition is not true, and the compiled engine knows it without its
    three-valued side (compiled.table.required)."""
    facts = {k: v for k, v in THEMATIC_MLC.items() if k != "theme"}
    result = explained(guidance, incident(**facts))
    assert "theme_count" not in [a.name for a in result.advice] and "theme" in result.missing
