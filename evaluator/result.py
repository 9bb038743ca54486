"""The result of evaluating one incident: a public contract, with a JSON Schema.

``irmer schema --result`` prints the schema; docs/embedding.md explains each field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["met", "not met", "undetermined", "out of scope"]


class AuthorityInfo(BaseModel):
    """The enforcing authority to notify (a value: results share one per jurisdiction)."""

    model_config = ConfigDict(frozen=True)

    jurisdiction: str
    name: str
    contact: str | None = None


class AdviceInfo(BaseModel):
    """Advice the guidance gives for incidents like this one (a value: results share it)."""

    model_config = ConfigDict(frozen=True)

    name: str
    text: str
    jurisdictions: list[str] = Field(default_factory=list, description="where this text applies")
    says: list[str] = Field(default_factory=list, description="the guidance's own words")


class RouteInfo(BaseModel):
    """Where the incident also goes besides the enforcing authority, and why (a value: results share it)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="the route's name in the criteria file: hse_over_exposure, local_investigation")
    to: str = Field(description="where the incident goes, as the criteria file names it")
    jurisdictions: list[str] = Field(default_factory=list,
                                     description="where this destination applies; empty: everywhere")
    why: str | None = Field(None, description="why the incident goes there, in plain words")
    says: list[str] = Field(default_factory=list, description="the guidance's own words")


class CriterionResult(BaseModel):
    """How one criterion (a row of the table, or a complementary code) came out."""

    code: str
    label: str | None = Field(None, description="tells apart rows that share a code, such as 'England only'")
    table: str | None = None
    category: str | None = Field(None, description="the exposure category, in the regulator's words")
    says: list[str] = Field(default_factory=list, description="the criteria for notification, in the regulator's words")
    outcome: Outcome
    rule: str | None = Field(None, description="the formal rule, as written in the criteria file")
    band: str | None = Field(None, description="when the incident is in this row's category")
    reasons: list[str] = Field(default_factory=list, description="each value and threshold the rule compared")
    missing: list[str] = Field(default_factory=list, description="unknown facts that would decide this criterion")
    excluded_by: str | None = Field(None, description="the exclusion that stopped this criterion, if any")
    role: str | None = Field(None, description="for complementary codes: statutory, tag or voluntary")
    interpretations: list[str] = Field(default_factory=list, description="ids in docs/interpretations.md")


class AssumedInfo(BaseModel):
    """A judgement the incident did not give, taken by default, that decides its outcome.

    The fact is one the vocabulary marks `absent assumes` (left to the employer's judgement); the outcome
    given with the other value is computed by evaluating the incident again.
    """

    fact: str
    value: bool | str = Field(description="the value taken, as the incident would give it")
    otherwise: bool | str = Field(description="another value the fact may take")
    notifiable: bool | None = Field(description="the verdict if the fact has the other value")
    codes: list[str] = Field(default_factory=list, description="the codes if the fact has the other value")
    text: str = Field(description="the same, in words: 'error_involved is taken as yes (not given); if it is no: "
                                  "not notifiable'")


class ErrorInfo(BaseModel):
    """Why an incident could not be evaluated: the field and the problem."""

    field: str
    message: str
    hint: str | None = None


class Result(BaseModel):
    """Is an incident notifiable, under which codes, to whom, by when, and why."""

    model_config = ConfigDict(json_schema_extra={"title": "IR(ME)R evaluation result"})

    id: str | None = Field(None, description="the incident's id, unchanged")
    notifiable: bool | None = Field(None, description="true, false, or null when undetermined (see missing)")
    codes: list[str] = Field(default_factory=list, description="full codes: '2.2', 'M2.1', 'E3'")
    complementary: list[str] = Field(default_factory=list, description="complementary letters among the codes")
    missing: list[str] = Field(default_factory=list, description="when undetermined: the facts that would decide it")
    assumed: list[AssumedInfo] = Field(default_factory=list, description=(
        "judgements the incident did not give, taken by default, that decide the verdict or the codes: each with "
        "what the other value would give"))
    authority: AuthorityInfo | None = None
    notify_by: dt.date | None = Field(None, description="notify no later than this (when discovered_on is given)")
    report_by: dt.date | None = Field(None, description="send the report no later than this")
    advice: list[AdviceInfo] = Field(default_factory=list)
    routes: list[RouteInfo] = Field(default_factory=list, description="where the incident also goes, and why: the "
                                    "HSE, the ARSAC Support Unit, a local investigation, a device reporting body")
    criteria: str | None = Field(None, description="the version id of the criteria used")
    explanation: list[CriterionResult] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list, description="things a reader should know about this result")
    error: ErrorInfo | None = Field(None, description="set when the incident could not be read")
    errors: list[ErrorInfo] = Field(default_factory=list, description="every problem with the incident")


_AUTHORITIES: dict[tuple, AuthorityInfo] = {}


def shared_entries(engine: Any) -> dict[int, tuple[dict, BaseModel]]:
    """The authorities, advice and route entries a compiled engine shows, each with its model, by the
    entry's id: the engine gives the same dicts to every result, so `from_document` validates each once
    (the entry is kept beside its model, so its id cannot be another dict's while the map lives)."""
    table = engine.table
    out: dict[int, tuple[dict, BaseModel]] = {id(item): (item, AuthorityInfo(**item))
                                              for item in table.authorities.values()}
    for model, places in [(AdviceInfo, [by_place for _, by_place, _ in table.advice]),
                          (RouteInfo, [route.by_place for route in table.routes])]:
        for by_place in places:
            for entries in by_place.values():
                for item in entries:
                    out[id(item)] = (item, model(**item))
    return out


def from_document(document: dict, shared: dict[int, tuple[dict, BaseModel]] | None = None) -> Result:
    """The Result of an engine's result dict (the compiled engine's), its authority a shared value, and its
    advice and routes too when the engine's entries are given (`shared_entries`).

    >>> from_document({"id": "A", "notifiable": True, "codes": ["1"],
    ...                "authority": {"jurisdiction": "Wales", "name": "HIW", "contact": None}}).authority.name
    'HIW'
    """
    return own_document(dict(document), shared)


def own_document(document: dict, shared: dict[int, tuple[dict, BaseModel]] | None = None) -> Result:
    """from_document, for a document no one else holds: its values are replaced by their models in place."""
    if shared:
        for name in ("advice", "routes"):
            items = document.get(name)
            if items:
                document[name] = [_shared(shared, item) for item in items]
    authority = document.get("authority")
    if isinstance(authority, dict):
        hit = shared.get(id(authority)) if shared else None
        if hit is not None and hit[0] is authority:
            document["authority"] = hit[1]
        else:
            key = (authority.get("jurisdiction"), authority.get("name"), authority.get("contact"))
            found = _AUTHORITIES.get(key)
            if found is None:
                found = _AUTHORITIES[key] = AuthorityInfo(**authority)
            document["authority"] = found
    return _VALIDATE(document)


def engine_result(d: dict, shared: dict[int, tuple[dict, BaseModel]]) -> Result:
    """The Result of a document the compiled engine made for one incident (engines/compiled/engine.py,
    `_document`), which no one else holds, with the engine's `shared_entries`.

    Its values are of the Result's types by construction: the authority, advice and route entries are the
    engine's own (their models made once, in `shared`), an `assumed` entry is a dict of its own with the
    model's fields in order (engines/assumed.py), dates are dates. Validating it would only copy it, so the
    Result is made as pydantic's model_construct makes one, with the fields set as validation would set
    them. A document with an error, or with an entry not the engine's, is validated (own_document).
    tests/test_compiled.py holds this to validation, field for field, on random incidents.

    >>> from evaluator import load_criteria
    >>> engine = load_criteria("2024").compiled
    >>> result = engine_result(engine.evaluate({"jurisdiction": "Wales", "exposure": "accidental"}),
    ...                        shared_entries(engine))
    >>> result.codes, result.authority.name, result == Result.model_validate(result.model_dump())
    (['1'], 'Healthcare Inspectorate Wales (HIW)', True)
    """
    if d["error"] is not None:
        return own_document(d, shared)
    # `shared` holds every entry it maps (by id), so an id found there is that entry's: no other live
    # object has it.
    try:
        authority = d["authority"]
        if authority is not None:
            authority = shared[id(authority)][1]
        advice, routes, assumed = d["advice"], d["routes"], d["assumed"]
        if advice:
            advice = [shared[id(item)][1] for item in advice]
        if routes:
            routes = [shared[id(item)][1] for item in routes]
    except KeyError:  # an entry that is not the engine's
        return own_document(d, shared)
    if assumed:  # each a dict of its own, its fields in the model's order (engines/assumed.py)
        assumed = [constructed(AssumedInfo, entry, set(_ENTRY_FIELDS)) for entry in assumed]
    return constructed(Result, {
        "id": d["id"], "notifiable": d["notifiable"], "codes": d["codes"], "complementary": d["complementary"],
        "missing": d["missing"], "assumed": assumed, "authority": authority, "notify_by": d["notify_by"],
        "report_by": d["report_by"], "advice": advice, "routes": routes, "criteria": d["criteria"],
        "explanation": [], "notes": d["notes"], "error": None, "errors": d["errors"]}, set(_ENGINE_FIELDS))


# The fields of the compiled engine's document (engines/compiled/engine.py FIELDS): every Result field but
# the explanation.
_ENGINE_FIELDS = frozenset(Result.model_fields) - {"explanation"}
_ENTRY_FIELDS = frozenset(AssumedInfo.model_fields)
_new, _set = object.__new__, object.__setattr__


def constructed(cls: type, fields: dict[str, Any], given: set[str]) -> Any:
    """A model of `fields` already of its fields' types (our own values, every field in its declared order),
    made as pydantic's model_construct makes one, without validating: `given` are the fields validation
    would count as set (a set of the model's own, which pydantic adds to when a field is assigned).

    >>> made = constructed(ErrorInfo, {"field": "f", "message": "m", "hint": None}, {"field", "message"})
    >>> made == ErrorInfo(field="f", message="m"), made.model_fields_set == {"field", "message"}
    (True, True)
    """
    model = _new(cls)
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", given)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def _shared(shared: dict[int, tuple[dict, BaseModel]], item: Any) -> Any:
    hit = shared.get(id(item))
    return hit[1] if hit is not None and hit[0] is item else item


_VALIDATE = Result.__pydantic_validator__.validate_python
