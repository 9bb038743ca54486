"""Reading an incident: the public incident vocabulary, checked field by field.

An incident is a JSON object. Its facts are those of the vocabulary
(criteria/incident-vocabulary.irmer); besides them it may carry ``id`` and
``description`` (copied, never read by a rule), and ``date_of_birth`` with
``exposure_date`` instead of ``age``. Unknown fields are refused, naming the
field. Absent facts take the vocabulary's ``absent means`` value, or stay
unknown.

>>> from evaluator import load_vocabulary
>>> facts = load_vocabulary().facts
>>> incident = read_incident({"id": "INC-1", "total_dose": "3000 uSv", "age": 17}, facts)
>>> incident.values["total_dose"].value, incident.values["age"].value, incident.values["voluntary"]
(Fraction(3, 1000), Fraction(17, 1), False)
>>> read_incident({"total_dose": "3 mSv", "totl_dose": "1 mSv"}, facts)
Traceback (most recent call last):
...
evaluator.language.incident.IncidentError: totl_dose: unknown field; did you mean total_dose?
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic_core import PydanticCustomError
from rapidfuzz.distance import OSA

from .limits import LIMITS, MAX_FIELDS
from .units import BOOL, ENUM, KINDS, SET
from .altunits import PAIR, accepted_forms, schema_pattern
from .values import Alternative, FactInfo, Measure, ValueProblem, id_text, read_date, read_value, show_text

# Fields an incident may carry besides the facts of the vocabulary.
ENVELOPE: dict[str, str] = {
    "id": "the incident's reference, copied to its result unchanged",
    "description": "free text for people; no rule reads it",
    "date_of_birth": "the patient's date of birth (with exposure_date, instead of age)",
    "exposure_date": "the date of the exposure (with date_of_birth, instead of age)",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an incident: the field, and what is wrong with it."""

    field: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = self.message if self.message.startswith(self.field) else f"{self.field}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


class IncidentError(ValueError):
    """An incident that cannot be read; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass
class IncidentFacts:
    """An incident read against the vocabulary: the known value of each fact, exact."""

    id: str | None
    description: str | None
    values: dict[str, Any]  # fact -> value; unknown facts are absent
    given: frozenset[str] = field(default_factory=frozenset)  # facts the reporter gave
    notes: list[str] = field(default_factory=list)
    # intended_dose and total_dose, both given in one alternative quantity (language/altunits.py): not values of
    # their facts, which stay unknown; the engines decide from their ratio (engines/alternative.py).
    alternative: dict[str, Alternative] = field(default_factory=dict)


class DuplicateKeyError(ValueError):
    """A JSON object that gives one key twice: which value was meant cannot be told."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(f"the key {json.dumps(key, ensure_ascii=False)} is given twice in one object; "
                         "which value was meant cannot be told")


def strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A ``json.loads`` ``object_pairs_hook`` that refuses a key given twice.

    The standard reader keeps the last of two values silently (3 mSv, then 30
    mSv, is read as 30 mSv); an incident must not be evaluated on a guess.

    >>> json.loads('{"total_dose": "3 mSv"}', object_pairs_hook=strict_object)
    {'total_dose': '3 mSv'}
    >>> json.loads('{"total_dose": "3 mSv", "total_dose": "30 mSv"}', object_pairs_hook=strict_object)
    Traceback (most recent call last):
    ...
    evaluator.language.incident.DuplicateKeyError: the key "total_dose" is given twice in one object; which value was meant cannot be told
    """
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def read_incident(data: Mapping[str, Any], facts: Mapping[str, FactInfo]) -> IncidentFacts:
    """Read an incident; raise IncidentError naming each bad field."""
    if not isinstance(data, Mapping):
        raise IncidentError([Problem("incident", f"an incident is a JSON object, not {type(data).__name__}")])
    if len(data) > MAX_FIELDS:
        raise IncidentError([Problem("incident", f"has {len(data):,} fields: {LIMITS['fields']}")])
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    given: set[str] = set()
    alternative: dict[str, Alternative] = {}
    for key, raw in data.items():
        if not isinstance(key, str):
            problems.append(Problem(show_text(repr(key)), f"a field name is text, not {type(key).__name__}"))
            continue
        if raw is None or key in ENVELOPE:
            continue
        info = facts.get(key)
        if info is None:
            close = field_typo(key, list(facts) + list(ENVELOPE))
            if close:
                problems.append(Problem(show_text(key), f"unknown field; did you mean {close}?"))
            else:
                problems.append(Problem(show_text(key), "unknown field",
                                        "the fields of an incident are listed by `irmer schema`"))
            continue
        try:
            value = read_value(info, raw)
        except ValueProblem as problem:
            problems.append(Problem(key, problem.message, problem.hint))
            continue
        if isinstance(value, Alternative):
            alternative[key] = value
        else:
            values[key] = value
            given.add(key)
    ident = data.get("id")
    if ident is not None and (isinstance(ident, bool) or not isinstance(ident, (str, int))):
        problems.append(Problem("id", "must be text or a whole number"))
    elif isinstance(ident, int) and abs(ident) >= 10 ** 30:
        problems.append(Problem("id", "is a whole number of more than 30 digits", "give a long id as text"))
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(Problem("description", "must be text"))
    notes: list[str] = []
    _age_from_dates(data, facts, values, given, problems, notes)
    if alternative:
        _alternative_pair(alternative, values, given, problems, notes)
    if problems:
        raise IncidentError(problems)
    for name, info in facts.items():
        if name not in values and info.has_default:
            values[name] = info.default
    return IncidentFacts(id=None if ident is None else id_text(ident), description=description, values=values,
                         given=frozenset(given), notes=notes, alternative=alternative)


def _alternative_pair(alternative: dict[str, Alternative], values: dict[str, Any], given: set[str],
                      problems: list[Problem], notes: list[str]) -> None:
    """Doses in an alternative quantity: both of one kind, or one alone (unknown as an effective dose).

    Both in one quantity stay in `alternative` for the engines to decide from their ratio; a zero intended
    dose is 0 mSv whatever the quantity (a conversion to effective dose is a factor), so the pair is then
    read as effective doses where it can be. Anything else is an error naming both facts.
    """
    intended_name, total_name = PAIR
    doses = {name: alternative.get(name, values.get(name)) for name in PAIR}
    kinds = {name: (dose.quantity if isinstance(dose, Alternative) else "an effective dose")
             for name, dose in doses.items() if dose is not None}
    if len(kinds) == 2 and len(set(kinds.values())) == 2:
        shown = {name: f"{doses[name].text} ({_article(kinds[name])})" for name in PAIR}
        alt = next(q for q in kinds.values() if q != "an effective dose") if "an effective dose" in kinds.values() \
            else kinds[total_name]
        problems.append(Problem(total_name if isinstance(doses[total_name], Alternative) else intended_name,
                                f"{intended_name} {shown[intended_name]} and {total_name} {shown[total_name]} are "
                                f"not of one kind: a total dose divided by an intended dose needs both in one "
                                f"quantity",
                                f"give both as effective doses (mSv), or both as {alt}s"))
        alternative.clear()
        return
    if len(alternative) == 1:
        (name, dose), = alternative.items()
        alternative.clear()
        notes.append(f"{name} {dose.text} is a {dose.quantity}, not an effective dose: it is unknown here, and "
                     f"the dose bands in mSv need an estimate of the effective dose (give {name} in mSv)")
        return
    intended, total = alternative[intended_name], alternative[total_name]
    if intended.value == 0:
        # Zero in any quantity is zero effective dose; the total is then unknown unless it is zero too.
        alternative.clear()
        values[intended_name] = Measure(value=Fraction(0), kind="effective dose", text=intended.text, unit="mSv")
        given.add(intended_name)
        if total.value == 0:
            values[total_name] = Measure(value=Fraction(0), kind="effective dose", text=total.text, unit="mSv")
            given.add(total_name)
            notes.append(f"{intended_name} {intended.text} and {total_name} {total.text}: no dose, 0 mSv each")
        else:
            notes.append(f"{intended_name} {intended.text} is no dose (0 mSv); {total_name} {total.text} is a "
                         f"{total.quantity}, not an effective dose: it is unknown here (give {total_name} in mSv)")


def _article(quantity: str) -> str:
    return quantity if quantity.startswith("an ") else f"a {quantity}"


def _age_from_dates(data: Mapping[str, Any], facts: Mapping[str, FactInfo], values: dict[str, Any],
                    given: set[str], problems: list[Problem], notes: list[str]) -> None:
    born, exposed = data.get("date_of_birth"), data.get("exposure_date")
    if born is None and exposed is None:
        return
    dates: dict[str, dt.date] = {}
    for name, raw in (("date_of_birth", born), ("exposure_date", exposed)):
        if raw is None:
            continue
        try:
            dates[name] = read_date(name, raw)
        except ValueProblem as problem:
            problems.append(Problem(name, problem.message, problem.hint))
    if born is None or "age" not in facts:
        return
    if exposed is None:
        problems.append(Problem("date_of_birth", "needs exposure_date to work out the age",
                                "give exposure_date too, or give age instead"))
        return
    if len(dates) < 2:
        return
    if dates["exposure_date"] < dates["date_of_birth"]:
        problems.append(Problem("exposure_date", "is before date_of_birth"))
        return
    age = age_on(dates["date_of_birth"], dates["exposure_date"])
    # Exact words, never a rounded number: "16.00 years < 16 years: yes" the day before a
    # 16th birthday would contradict itself.
    text = f"{age_words(dates['date_of_birth'], dates['exposure_date'])} (from date_of_birth and exposure_date)"
    derived = Measure(value=age, kind="duration", text=text, unit="years")
    if "age" in values:
        stated = values["age"].value
        if int(stated) != int(age):
            problems.append(Problem("age", f"is {values['age'].text}, but date_of_birth and exposure_date give "
                                           f"{int(age)} years"))
        return
    values["age"] = derived
    given.add("age")
    notes.append(f"age {int(age)} worked out from date_of_birth and exposure_date")


def age_on(born: dt.date, on: dt.date) -> Fraction:
    """Age in years, exact at birthdays: completed years plus the part of the current year.

    `age < 18 years` holds exactly until the 18th birthday.

    >>> age_on(dt.date(2006, 5, 1), dt.date(2024, 4, 30)) < 18
    True
    >>> age_on(dt.date(2006, 5, 1), dt.date(2024, 5, 1))
    Fraction(18, 1)
    """
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    last = _anniversary(born, born.year + years)
    following = _anniversary(born, born.year + years + 1)
    return years + Fraction((on - last).days, (following - last).days)


def age_words(born: dt.date, on: dt.date) -> str:
    """The age in completed years and days since the last birthday, exactly.

    >>> age_words(dt.date(2008, 10, 8), dt.date(2024, 10, 7))
    '15 years 365 days'
    >>> age_words(dt.date(2008, 10, 8), dt.date(2024, 10, 8))
    '16 years'
    >>> age_words(dt.date(2024, 1, 1), dt.date(2024, 1, 2))
    '0 years 1 day'
    """
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    days = (on - _anniversary(born, born.year + years)).days
    text = f"{years} year{'' if years == 1 else 's'}"
    return f"{text} {days} day{'' if days == 1 else 's'}" if days else text


def field_typo(name: str, candidates: list[str]) -> str | None:
    """The field a mistyped name near certainly meant, or None.

    Capitals, spaces and hyphens do not count (`Total Dose` is `total_dose`);
    beyond that, one slip of a key in a short name or two in a long one, and
    only when one field is that close: `totl_dose` is `total_dose`, but
    `patient_name` is no field's typo.

    >>> field_typo("totl_dose", ["total_dose", "age"]), field_typo("patient_name", ["fraction_images"])
    ('total_dose', None)
    """
    wanted = _fold_name(name)
    allowed = 1 if len(wanted) <= 6 else 2
    scored = [(OSA.distance(wanted, _fold_name(c), score_cutoff=allowed + 1), c) for c in candidates]
    close = [c for d, c in scored if d <= allowed]
    best = min((d for d, _ in scored), default=None)
    nearest = [c for d, c in scored if d == best]
    return nearest[0] if close and len(nearest) == 1 else None


def _fold_name(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _anniversary(born: dt.date, year: int) -> dt.date:
    try:
        return born.replace(year=year)
    except ValueError:  # 29 February in a year that has none: the birthday is 1 March
        return dt.date(year, 3, 1)


# ------------------------------------------------------------------ JSON Schema

_QUANTITY_PATTERN = r"^\s*(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*({units})\s*$"


def field_schema(info: FactInfo) -> dict[str, Any]:
    """The JSON Schema of one fact, from its kind (the kinds table drives it)."""
    description = "; ".join(info.notes) or None
    if info.kind == BOOL:
        schema: dict[str, Any] = {"type": "boolean"}
    elif info.kind == ENUM:
        schema = {"enum": list(info.values)}
    elif info.kind == SET:
        schema = {"anyOf": [{"enum": list(info.values)},
                            {"type": "array", "items": {"enum": list(info.values)}, "minItems": 1,
                             "uniqueItems": True}]}
    elif info.kind == "date":
        schema = {"type": "string", "format": "date"}
    elif info.kind == "text":
        schema = {"type": "string"}
    elif info.kind == "count":
        schema = {"type": "integer", "minimum": int(info.minimum or 0)}
    elif info.kind == "ratio":
        schema = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%?\s*$"}]}
    else:
        kind = KINDS[info.kind]
        spellings = set(kind.units) | {u.replace("µ", "μ") for u in kind.units}
        units = "|".join(sorted(spellings, key=lambda u: (-len(u), u)))  # longest first, then a fixed order
        text = {"type": "string", "pattern": _QUANTITY_PATTERN.format(units=units),
                "examples": [f"6 {kind.units[1] if len(kind.units) > 1 else kind.units[0]}"]}
        schema = {"anyOf": [text, {"type": "number", "minimum": 0}]} if info.unit else text
        if info.name in PAIR:
            # Or a recognised alternative quantity (language/altunits.py), both doses in one.
            schema = {"anyOf": [text, {"type": "string", "pattern": schema_pattern(), "examples": ["50 Gy cm2"]}]}
            description = ("or a recognised alternative quantity, with intended_dose and total_dose in one: "
                           f"{accepted_forms()}" + (f"; {description}" if description else ""))
        description = f"{kind.description} with a unit ({', '.join(kind.units)})" + (
            f"; a bare number means {info.unit}" if info.unit else "") + (f"; {description}" if description else "")
    if description:
        schema["description"] = description
    if info.has_default:
        schema["default"] = _default_json(info.default)
    return schema


def _default_json(value: Any) -> Any:
    if isinstance(value, Measure):
        return int(value.value) if value.kind == "count" else value.text
    return value


def incident_schema(facts: Mapping[str, FactInfo]) -> dict[str, Any]:
    """The JSON Schema of an incident."""
    properties: dict[str, Any] = {
        "id": {"type": ["string", "integer"], "description": ENVELOPE["id"]},
        "description": {"type": "string", "description": ENVELOPE["description"]},
        "date_of_birth": {"type": "string", "format": "date", "description": ENVELOPE["date_of_birth"]},
        "exposure_date": {"type": "string", "format": "date", "description": ENVELOPE["exposure_date"]},
    }
    for name, info in facts.items():
        properties[name] = field_schema(info)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://irmer.example/schemas/incident.schema.json",
        "title": "IR(ME)R incident",
        "description": "An incident to evaluate against the IR(ME)R notification criteria. Quantities are "
                       "strings with a unit; absent facts are unknown unless the vocabulary says otherwise.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "dependentRequired": {"date_of_birth": ["exposure_date"]},
    }


# --------------------------------------------------------------- pydantic model

class IncidentBase(BaseModel):
    """Base of the generated :class:`Incident` model: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    id: Any = Field(None, description=ENVELOPE["id"])
    description: Any = Field(None, description=ENVELOPE["description"])
    date_of_birth: Any = Field(None, description=ENVELOPE["date_of_birth"])
    exposure_date: Any = Field(None, description=ENVELOPE["exposure_date"])

    @model_validator(mode="after")
    def _read(self) -> "IncidentBase":
        # The same reader as for JSON: one place decides what a valid value is.
        try:
            read_incident(self.model_dump(exclude_none=True), type(self).__facts__)
        except IncidentError as error:
            problem = error.problems[0]
            raise PydanticCustomError("incident", "{message}", {"message": str(problem)}) from None
        return self


def incident_model(facts: Mapping[str, FactInfo]) -> type[IncidentBase]:
    """A pydantic model of an incident, with a field for each fact of the vocabulary.

    >>> from evaluator import load_vocabulary
    >>> Incident = incident_model(load_vocabulary().facts)
    >>> Incident(jurisdiction="England", total_dose="8 mSv").total_dose
    '8 mSv'
    """
    # Fields take JSON values as they are; the reader above decides what is valid, so a
    # dict and a model accept exactly the same incidents. Each field's schema is the
    # published one (field_schema).
    fields: dict[str, Any] = {
        name: (Any, Field(None, json_schema_extra=field_schema(info))) for name, info in facts.items()
    }
    model = create_model("Incident", __base__=IncidentBase, __doc__="An incident in the public IR(ME)R vocabulary.",
                         **fields)
    model.__facts__ = dict(facts)
    return model
