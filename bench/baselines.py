"""Hand-written baselines the benches measure against, in the same run.

Each is what a careful engineer would write by hand for one version of the
table, without our language: the floor that a general engine is held to.

- ``exact_2024(incident)``: the whole 2024 table (codes 1 to 10.2, M, E, V, C),
  exact: doses are read from the same dict (strings with units, as in the
  incident JSON) into scaled integers (picosievert, microgray, millibecquerel,
  days) and compared as integers. It decides incidents whose facts are all
  given (it answers None when a fact it needs is missing: a hand-written table
  has no three-valued logic).
- ``float_2_4(incident)``: a float if/elif of codes 1 to 2.4, the kind of code
  that is fast and wrong at the boundaries (0.1 + 0.2 > 0.3).

>>> exact_2024({"jurisdiction": "England", "exposure": "unintended", "modality": "diagnostic", "age": 40,
...             "intended_dose": "2 mSv", "total_dose": "20 mSv"})["codes"]
['2.2']
>>> exact_2024({"jurisdiction": "England", "exposure": "unintended", "modality": "diagnostic", "age": 40,
...             "intended_dose": "2 mSv", "total_dose": "19.999 mSv"})["notifiable"]
False
"""

from __future__ import annotations

import datetime as dt
import re

# Scaled integer units: the number of the smallest unit in each accepted spelling.
_SCALE = {
    "Sv": 10**12, "mSv": 10**9, "uSv": 10**6, "µSv": 10**6,  # picosievert
    "Gy": 10**6, "cGy": 10**4, "mGy": 10**3, "uGy": 1, "µGy": 1,  # microgray
    "Bq": 10**3, "kBq": 10**6, "MBq": 10**9, "GBq": 10**12,  # millibecquerel
    "Ci": 37 * 10**12, "mCi": 37 * 10**9, "uCi": 37 * 10**6,
    "mm": 1, "cm": 10, "m": 1000,  # millimetre
}


_QUANTITY = re.compile(r"\s*([0-9]+)(?:\.([0-9]*))?\s*([a-zA-Zµ]+)\s*")


def _q(text: str, units: frozenset[str]) -> int:
    """'22.5 mSv' -> 22500000000 (picosievert), exactly; refuses other forms and units of another kind."""
    match = _QUANTITY.fullmatch(text)
    if match is None or match[3] not in units:
        raise ValueError(f"not a quantity: {text!r}")
    whole, decimals, unit = match.groups()
    decimals = decimals or ""
    scaled = int(whole + decimals) * _SCALE[unit]
    divisor = 10 ** len(decimals)
    if scaled % divisor:
        raise ValueError(f"{text} is finer than the scale")
    return scaled // divisor


SV = frozenset({"Sv", "mSv", "uSv", "µSv"})
GY = frozenset({"Gy", "cGy", "mGy", "uGy", "µGy"})
BQ = frozenset({"Bq", "kBq", "MBq", "GBq", "Ci", "mCi", "uCi"})
MM = frozenset({"mm", "cm", "m"})
# Every field the incident may carry, and the values of the named ones: a careful hand-written
# reader refuses what it does not know, as the engine does.
FIELDS = frozenset({
    "id", "description", "jurisdiction", "exposure", "modality", "age", "discovered_on", "intended_dose",
    "total_dose", "tissue_reaction", "procedural_failure", "error_involved", "planning_scans", "fraction_images",
    "intended_images", "additional_images", "imaging_cause", "theme", "foetal_exposure_unintended", "foetal_dose",
    "infant_dose", "wrong_radiopharmaceutical", "ptv_intended_dose", "ptv_delivered_dose", "oar_intended_dose",
    "oar_delivered_dose", "fraction_intended_dose", "fraction_delivered_dose", "geographical_miss",
    "miss_displacement", "error_margin", "nm_therapy", "prescribed_activity", "delivered_activity",
    "individuals", "equipment_fault", "clinically_significant", "voluntary"})
ENUMS = {
    "jurisdiction": frozenset({"England", "Wales", "Scotland", "Northern Ireland"}),
    "exposure": frozenset({"accidental", "unintended"}),
    "imaging_cause": frozenset({"set_up_error", "protocol_failure", "hardware_software_failure"}),
    "tissue_reaction": frozenset({"none", "transient_erythema", "other"}),
    "geographical_miss": frozenset({"none", "partial", "total"}),
    "nm_therapy": frozenset({"sirt", "other"}),
}
MODALITIES = frozenset({"diagnostic", "interventional", "nuclear_medicine", "nuclear_medicine_therapy",
                        "radiotherapy_imaging", "radiotherapy"})
AUTHORITIES = {"England": "Care Quality Commission (CQC)", "Wales": "Healthcare Inspectorate Wales (HIW)",
               "Scotland": "Healthcare Improvement Scotland (HIS)",
               "Northern Ireland": "The Regulation and Quality Improvement Authority (RQIA)"}
TWO_WEEKS, TWELVE_WEEKS = dt.timedelta(days=14), dt.timedelta(days=84)


PSV_03, PSV_1, PSV_25, PSV_3, PSV_10, PSV_25_ = (300_000_000, 1_000_000_000, 2_500_000_000, 3_000_000_000,
                                                  10_000_000_000, 25_000_000_000)
IMAGING = {"diagnostic", "interventional", "nuclear_medicine", "radiotherapy_imaging"}


def exact_2024(d: dict) -> dict | None:
    """The whole 2024 table, by hand, with scaled integers: the result's verdict, codes, authority and dates.

    Every field is checked for its form (unknown fields, named values, quantities with units of the
    right kind); None when a needed fact is missing (a hand-written table has no three-valued logic).
    """
    unknown = d.keys() - FIELDS
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    get = d.get
    for name, allowed in ENUMS.items():
        value = get(name)
        if value is not None and value not in allowed:
            raise ValueError(f"{name}: {value!r}")
    jurisdiction, exposure, modality = get("jurisdiction"), get("exposure"), get("modality")
    if jurisdiction is None or exposure is None or modality is None:
        return None
    modalities = {modality} if isinstance(modality, str) else set(modality)
    if not modalities <= MODALITIES:
        raise ValueError(f"modality: {modality!r}")
    age = get("age")
    child = None if age is None else age < (16 if jurisdiction == "Scotland" else 18)
    error = get("error_involved", True)
    codes: list[str] = []
    band = None  # the exposure category the incident is in, for a complementary code's suffix
    if exposure == "accidental":
        if jurisdiction == "England":
            total = get("total_dose")
            if total is None or child is None:
                return None
            if _q(total, SV) >= (PSV_1 if child else PSV_3):
                codes.append("1")
        else:
            codes.append("1")
    else:
        if modalities & IMAGING:
            intended, total = get("intended_dose"), get("total_dose")
            if intended is not None and total is not None:
                i, t = _q(intended, SV), _q(total, SV)
                if i < PSV_03:
                    if child is None:
                        return None
                    met, band = t >= (PSV_1 if child else PSV_3), "2.1"
                elif i < PSV_25:
                    met, band = t >= 10 * i, "2.2"
                elif i <= PSV_10:
                    met, band = t >= PSV_25_, "2.3"
                else:
                    met, band = 2 * t >= 5 * i, "2.4"
                if met and error:
                    codes.append(band)
        if "interventional" in modalities and get("tissue_reaction", "none") != "none":
            codes.append("3")
        if "radiotherapy_imaging" in modalities:
            if error and get("planning_scans", 1) >= 3:
                codes.append("4.1")
            cause = get("imaging_cause")
            if cause in ("set_up_error", "hardware_software_failure") and get("fraction_images", 1) >= 3:
                codes.append("4.2a")
            additional, intended_images = get("additional_images", 0), get("intended_images")
            if cause in ("protocol_failure", "hardware_software_failure") and intended_images is not None:
                over = 2 * additional >= intended_images
                if cause == "protocol_failure" and over:
                    codes.append("4.2b")
                if cause == "hardware_software_failure" and get("theme", False) and over:
                    codes.append("4.2c")
        if modalities & {"nuclear_medicine", "nuclear_medicine_therapy"}:
            infant = get("infant_dose")
            if get("procedural_failure", False) and infant is not None and _q(infant, SV) >= PSV_1:
                codes.append("6")
            if get("wrong_radiopharmaceutical", False):
                codes.append("7")
        if "radiotherapy" in modalities:
            pi, pd = get("ptv_intended_dose"), get("ptv_delivered_dose")
            ptv = (_q(pi, GY), _q(pd, GY)) if pi and pd else None
            oi, od = get("oar_intended_dose"), get("oar_delivered_dose")
            oar = (_q(oi, GY), _q(od, GY)) if oi and od else None
            fi, fd = get("fraction_intended_dose"), get("fraction_delivered_dose")
            fraction = (_q(fi, GY), _q(fd, GY)) if fi and fd else None
            over = ((ptv and 10 * ptv[1] >= 11 * ptv[0]) or (oar and 10 * oar[1] >= 11 * oar[0])
                    or (fraction and 10 * fraction[1] >= 12 * fraction[0]))
            under = ptv is not None and 10 * ptv[1] <= 9 * ptv[0]
            miss = get("geographical_miss", "none")
            if over:
                codes.append("8.1")
            if under and miss == "none":
                codes.append("8.2")
            if miss == "total":
                codes.append("9.1")
            elif miss == "partial":
                shift, margin = get("miss_displacement"), get("error_margin")
                if shift and margin and 2 * _q(shift, MM) > 5 * _q(margin, MM) and (over or under):
                    codes.append("9.2")
        if "nuclear_medicine_therapy" in modalities:
            prescribed, delivered = get("prescribed_activity"), get("delivered_activity")
            therapy = get("nm_therapy")
            if prescribed and delivered and therapy:
                p, a = _q(prescribed, BQ), _q(delivered, BQ)
                tolerance = 20 if therapy == "sirt" else 10
                if 100 * a < (100 - tolerance) * p or 100 * a > (100 + tolerance) * p:
                    codes.append("10.1" if therapy == "sirt" else "10.2")
    if get("foetal_exposure_unintended", False):
        foetal = get("foetal_dose")
        if foetal is not None and _q(foetal, GY) >= 10_000:
            codes.append("5")
    statutory = get("individuals", 1) > 1 and (error or exposure == "accidental")
    clinically_significant = get("clinically_significant", False)
    notifiable = bool(codes) or statutory or clinically_significant
    suffixes = codes or ([band] if band else [])
    out = list(codes)
    if statutory:
        out += ["M" + c for c in suffixes]
    if clinically_significant:
        out += ["C" + c for c in suffixes]
    if notifiable and get("equipment_fault", False):
        out += ["E" + c for c in suffixes]
    discovered = get("discovered_on")
    day = dt.date.fromisoformat(discovered) if discovered else None
    return {"notifiable": notifiable, "codes": out, "authority": AUTHORITIES[jurisdiction],
            "notify_by": day + TWO_WEEKS if day and notifiable else None,
            "report_by": day + TWELVE_WEEKS if day and notifiable else None}


def float_2_4(d: dict) -> list[str]:
    """Codes 1 to 2.4 with floats and if/elif: fast, and wrong at the boundaries."""
    units = {"Sv": 1000.0, "mSv": 1.0, "uSv": 0.001}
    def dose(text):
        number, unit = text.split()
        return float(number) * units[unit]
    if d["exposure"] == "accidental":
        if d["jurisdiction"] != "England":
            return ["1"]
        return ["1"] if dose(d["total_dose"]) >= (1.0 if d["age"] < 18 else 3.0) else []
    intended, total = dose(d["intended_dose"]), dose(d["total_dose"])
    if intended < 0.3:
        return ["2.1"] if total >= (1.0 if d["age"] < 18 else 3.0) else []
    elif intended < 2.5:
        return ["2.2"] if total / intended >= 10 else []
    elif intended <= 10:
        return ["2.3"] if total >= 25 else []
    return ["2.4"] if total / intended >= 2.5 else []
